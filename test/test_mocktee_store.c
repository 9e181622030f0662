/*
 * The mock TEE's configuration, persistent state, locking and provisioning, the framing
 * of otrp/ta_protocol.h, the socket backend's failure handling and otrp-tee-sim's
 * process behaviour (lock, SIGTERM).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mocktee/mocktee.h"
#include "mocktee/provision.h"
#include "support/mock_fixture.h"
#include "support/tam_builder.h"
#include "tee/frame.h"
#include "tee/socket.h"
#include "util/json_strict.h"

#define PKI TEST_PKI_DIR "/"

static pid_t start_daemon(const char *dir, const char *sock)
{
    fx_daemon = fx_daemon_start(dir, sock);
    return fx_daemon;
}

static int stop_daemon(pid_t pid, int sig)
{
    fx_daemon = -1;
    return fx_daemon_stop(pid, sig);
}

static otrp_status open_dir(const char *dir, otrp__mock **tee, char *detail, size_t cap)
{
    otrp_mock_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.verify_time = TEST_PKI_TIME;
    return otrp__mock_open(dir, &o, tee, detail, cap);
}

static void expect_open(const char *dir, otrp_status want, const char *detail_part)
{
    otrp__mock *tee = NULL;
    char detail[512] = "";
    otrp_status st = open_dir(dir, &tee, detail, sizeof detail);
    if (st != want || (detail_part != NULL && strstr(detail, detail_part) == NULL))
        fprintf(stderr, "open: %s \"%s\"\n", otrp_status_name(st), detail);
    assert_int_equal(st, want);
    if (detail_part != NULL)
        assert_non_null(strstr(detail, detail_part));
    otrp__mock_close(tee);
}

/* ---- configuration ---------------------------------------------------------------------- */

static void test_mocktee_config_rejects_bad_tee_json(void **state)
{
    (void)state;
    struct {
        const char *json;
        const char *detail;
    } cases[] = {
        {"{\"name\":\"t\",\"colour\":\"blue\"}", "unknown key 'colour'"},
        {"{\"version\":\"1\"}", "'name' is required"},
        {"{\"name\":\" leading space\"}", "'name' must be"},
        {"{\"name\":\"tab\\tin name\"}", "'name' must be"},
        {"{\"name\":\"t\",\"jwe_alg\":\"dir\"}", "'jwe_alg'"},
        {"{\"name\":\"t\",\"sign_alg\":\"ES256\"}", "'sign_alg'"},
        {"{\"name\":\"t\",\"require_ocsp\":\"yes\"}", "'require_ocsp'"},
        {"{\"name\":\"t\",\"quota_bytes\":-1}", "'quota_bytes'"},
        {"{\"name\":\"t\",\"quota_bytes\":1.5}", "'quota_bytes'"},
        {"{\"name\":\"t\",\"quota_bytes\":-1e300}", "'quota_bytes'"},
        {"{\"name\":\"t\",\"quota_bytes\":1e300}", "'quota_bytes'"},
        {"{\"name\":\"t\",\"quota_bytes\":1e999}", "'quota_bytes'"},
        {"{\"name\":\"t\",\"quota_bytes\":-1e999}", "'quota_bytes'"},
        {"{\"name\":\"t\",\"name\":\"u\"}", "duplicate"},
        {"[]", "JSON object"},
        {"{\"name\":", "tee.json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        otrp__mock_config cfg;
        char detail[256] = "";
        otrp_status st = otrp__mock_parse_config(cases[i].json, strlen(cases[i].json), &cfg, detail,
                                                 sizeof detail);
        if (st != OTRP_ERR_CONFIG || strstr(detail, cases[i].detail) == NULL)
            fprintf(stderr, "case %zu: %s \"%s\"\n", i, otrp_status_name(st), detail);
        assert_int_equal(st, OTRP_ERR_CONFIG);
        assert_non_null(strstr(detail, cases[i].detail));
    }
    otrp__mock_config cfg;
    const char *ok = "{\"name\":\"t\",\"quota_bytes\":0,\"jwe_alg\":\"RSA-OAEP-256\"}";
    assert_int_equal(otrp__mock_parse_config(ok, strlen(ok), &cfg, NULL, 0), OTRP_OK);
    assert_string_equal(cfg.version, "1.0");
    assert_int_equal(cfg.jwe_alg, OTRP__JOSE_ALG_RSA_OAEP_256);
}

static void test_mocktee_config_identity_and_trust(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    expect_open(dir, OTRP_OK, NULL);
    /* a certificate that is not the key's */
    otrp_buf b = {0};
    assert_int_equal(test_read_file(PKI "tam1.pem", &b), OTRP_OK);
    assert_int_equal(fx_write(dir, "identity/cert.pem", b.data, b.len), 0);
    expect_open(dir, OTRP_ERR_CONFIG, "does not certify");
    assert_int_equal(test_read_file(PKI "tee.pem", &b), OTRP_OK);
    assert_int_equal(fx_write(dir, "identity/cert.pem", b.data, b.len), 0);
    /* an EC key is no TEE identity (P3) */
    assert_int_equal(test_read_file(PKI "sp1-key.pem", &b), OTRP_OK);
    assert_int_equal(fx_write(dir, "identity/key.pem", b.data, b.len), 0);
    expect_open(dir, OTRP_ERR_CONFIG, "RSA private key");
    assert_int_equal(fx_write(dir, "identity/key.pem", "junk", 4), 0);
    expect_open(dir, OTRP_ERR_CONFIG, "identity/key.pem");
    assert_int_equal(test_read_file(PKI "tee-key.pem", &b), OTRP_OK);
    assert_int_equal(fx_write(dir, "identity/key.pem", b.data, b.len), 0);
    /* no trust anchor */
    char path[600];
    (void)snprintf(path, sizeof path, "%s/trust/tam-root.pem", dir);
    assert_int_equal(unlink(path), 0);
    expect_open(dir, OTRP_ERR_CONFIG, "no *.pem trust anchor");
    assert_int_equal(fx_write(dir, "trust/bad.pem", "junk", 4), 0);
    expect_open(dir, OTRP_ERR_CONFIG, "trust/bad.pem");
    (void)snprintf(path, sizeof path, "%s/tee.json", dir);
    assert_int_equal(unlink(path), 0);
    expect_open(dir, OTRP_ERR_CONFIG, "tee.json is missing");
    otrp_buf_free(&b);
    fx_rm_rf(dir);
}

/* ---- state ------------------------------------------------------------------------------ */

/* A TEE with one SD and one TA (made through the protocol). */
static void populate(const char *dir)
{
    otrp__mock *tee = NULL;
    assert_int_equal(open_dir(dir, &tee, NULL, 0), OTRP_OK);
    test_tam *tam = NULL;
    assert_int_equal(test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &tam), OTRP_OK);
    otrp_buf msg = {0}, out = {0};
    test_tam_answer a;
    assert_int_equal(test_tam_get_device_state(tam, NULL, &msg), OTRP_OK);
    assert_int_equal(otrp__mock_process(tee, (char *)msg.data, msg.len, &out), OTRP_OK);
    assert_int_equal(test_tam_read(tam, "GetDeviceState", (char *)out.data, out.len, &a), OTRP_OK);
    test_tam_answer_free(&a);
    char *cert = test_cert_b64(PKI "sp1.pem");
    char content[4096];
    (void)snprintf(content, sizeof content, "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"spcert\":\"%s\"}",
                   cert);
    free(cert);
    cJSON *c = cJSON_Parse(content);
    assert_int_equal(test_tam_request(tam, "CreateSD", c, NULL, NULL, &msg), OTRP_OK);
    cJSON_Delete(c);
    assert_int_equal(otrp__mock_process(tee, (char *)msg.data, msg.len, &out), OTRP_OK);
    assert_int_equal(test_tam_read(tam, "CreateSD", (char *)out.data, out.len, &a), OTRP_OK);
    assert_string_equal(a.status, "pass");
    char *spaik = strdup(otrp__json_string(a.content, "teespaik"));
    test_tam_answer_free(&a);
    otrp__jose_key *sp = NULL;
    otrp_buf image = {0};
    assert_int_equal(test_load_key(PKI "sp1-key.pem", &sp), OTRP_OK);
    /* a binary stored as a blob, personalization data inline in the state */
    size_t n = OTRP__MOCK_INLINE_MAX + 1;
    char *bin = malloc(n);
    assert_non_null(bin);
    memset(bin, 'b', n);
    assert_int_equal(test_tam_sign_ta(sp, bin, n, &image), OTRP_OK);
    free(bin);
    cJSON *eta = NULL;
    assert_int_equal(test_tam_encrypt_ta(spaik, image.data, image.len, "pd", 2, 0, &eta), OTRP_OK);
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddItemToObject(extra, "encrypted_ta", eta);
    c = cJSON_Parse("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta1\"}");
    assert_int_equal(test_tam_request(tam, "InstallTA", c, extra, NULL, &msg), OTRP_OK);
    assert_int_equal(otrp__mock_process(tee, (char *)msg.data, msg.len, &out), OTRP_OK);
    assert_int_equal(test_tam_read(tam, "InstallTA", (char *)out.data, out.len, &a), OTRP_OK);
    assert_string_equal(a.status, "pass");
    test_tam_answer_free(&a);
    cJSON_Delete(c);
    cJSON_Delete(extra);
    free(spaik);
    otrp__jose_key_free(sp);
    otrp_buf_free(&image);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    test_tam_free(tam);
    otrp__mock_close(tee);
}

static void describe(const char *dir, otrp_buf *out)
{
    otrp__mock *tee = NULL;
    assert_int_equal(open_dir(dir, &tee, NULL, 0), OTRP_OK);
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    assert_int_equal(otrp__mock_ops.describe(tee, &tc, out), OTRP_OK);
    otrp__mock_close(tee);
}

static void test_mocktee_state_persists_and_collects_garbage(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    populate(dir);
    otrp_buf d1 = {0}, d2 = {0};
    describe(dir, &d1);
    assert_non_null(strstr((char *)d1.data, "\"taid\":\"ta1\""));
    /* leftovers of an interrupted operation */
    assert_int_equal(fx_write(dir, "state/.tmp-1-state.json", "{", 1), 0);
    assert_int_equal(fx_write(dir, "state/blobs/"
                                   "00000000000000000000000000000000000000000000000000000000000000aa",
                              "orphan", 6),
                     0);
    describe(dir, &d2);
    assert_string_equal((char *)d1.data, (char *)d2.data);
    char path[700];
    struct stat sb;
    (void)snprintf(path, sizeof path, "%s/state/.tmp-1-state.json", dir);
    assert_int_not_equal(stat(path, &sb), 0);
    (void)snprintf(path, sizeof path,
                   "%s/state/blobs/00000000000000000000000000000000000000000000000000000000000000aa",
                   dir);
    assert_int_not_equal(stat(path, &sb), 0);
    otrp_buf_free(&d1);
    otrp_buf_free(&d2);
    fx_rm_rf(dir);
}

static void test_mocktee_state_corrupt_or_foreign(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    populate(dir);
    char path[700];
    (void)snprintf(path, sizeof path, "%s/state/state.json", dir);
    otrp_buf good = {0};
    assert_int_equal(test_read_file(path, &good), OTRP_OK);
    struct {
        const char *text;
        const char *detail;
    } cases[] = {
        {"garbage", "not valid JSON"},
        {"{\"format\":\"something-else\"}", "not a mock TEE state document"},
        {"[]", "not a JSON object"},
    };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fx_write(dir, "state/state.json", cases[i].text, strlen(cases[i].text)), 0);
        expect_open(dir, OTRP_ERR_STATE_CORRUPT, cases[i].detail);
    }
    /* truncated at every 97th byte: never a crash, always a clear error */
    for (size_t n = 1; n < good.len; n += 97) {
        assert_int_equal(fx_write(dir, "state/state.json", good.data, n), 0);
        expect_open(dir, OTRP_ERR_STATE_CORRUPT, "state.json");
    }
    /* another identity's state */
    char *text = strdup((char *)good.data);
    char *tee = strstr(text, "\"tee\":\"");
    assert_non_null(tee);
    tee[7] = tee[7] == 'A' ? 'B' : 'A';
    assert_int_equal(fx_write(dir, "state/state.json", text, strlen(text)), 0);
    expect_open(dir, OTRP_ERR_STATE_CORRUPT, "another TEE identity");
    free(text);
    /* inline data ("pd" is cGQ=) that does not decode, or not to its recorded length,
     * or beside a blob */
    static const char *const bad_inline[][2] = {
        {"\"pdata_inline\":\"cGQ=\"", "\"pdata_inline\":\"cG!=\""},
        {"\"pdata_inline\":\"cGQ=\"", "\"pdata_inline\":\"cGRk\""},
        {"\"pdata_inline\":\"cGQ=\"", "\"pdata_inline\":\"cGQ=\",\"pdata\":\"00\""},
    };
    for (size_t i = 0; i < 3; i++) {
        otrp_buf t = {0};
        char *at = strstr((char *)good.data, bad_inline[i][0]);
        assert_non_null(at);
        size_t head = (size_t)(at - (char *)good.data);
        assert_int_equal(otrp_buf_append(&t, good.data, head), OTRP_OK);
        assert_int_equal(otrp_buf_append_str(&t, bad_inline[i][1]), OTRP_OK);
        assert_int_equal(otrp_buf_append_str(&t, at + strlen(bad_inline[i][0])), OTRP_OK);
        assert_int_equal(fx_write(dir, "state/state.json", t.data, t.len), 0);
        expect_open(dir, OTRP_ERR_STATE_CORRUPT, i < 2 ? "inline data" : "both");
        otrp_buf_free(&t);
    }
    /* a referenced blob is missing */
    assert_int_equal(fx_write(dir, "state/state.json", good.data, good.len), 0);
    expect_open(dir, OTRP_OK, NULL);
    char *bin = strstr((char *)good.data, "\"bin\":\"");
    assert_non_null(bin);
    char blob[700];
    (void)snprintf(blob, sizeof blob, "%s/state/blobs/%.64s", dir, bin + 7);
    assert_int_equal(unlink(blob), 0);
    expect_open(dir, OTRP_ERR_STATE_CORRUPT, "missing blob");
    otrp_buf_free(&good);
    fx_rm_rf(dir);
}

static void test_mocktee_state_lock(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    otrp__mock *a = NULL;
    assert_int_equal(open_dir(dir, &a, NULL, 0), OTRP_OK);
    expect_open(dir, OTRP_ERR_LOCKED, "in use");
    otrp__mock_close(a);
    expect_open(dir, OTRP_OK, NULL);
    fx_rm_rf(dir);
}

static void test_mocktee_atomic_write_replaces(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(fx_tempdir(dir, sizeof dir, "atomic"), 0);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_int_equal(otrp__mock_atomic_write(fd, "f", "old", 3, 0600), OTRP_OK);
    assert_int_equal(otrp__mock_atomic_write(fd, "f", "new!", 4, 0600), OTRP_OK);
    otrp_buf b = {0};
    assert_int_equal(otrp__mock_read_file(fd, "f", 100, &b), OTRP_OK);
    assert_string_equal((char *)b.data, "new!");
    assert_int_equal(otrp__mock_read_file(fd, "f", 2, &b), OTRP_ERR_TOO_LARGE);
    assert_int_equal(otrp__mock_read_file(fd, "none", 2, &b), OTRP_ERR_NOT_FOUND);
    otrp_buf_free(&b);
    close(fd);
    fx_rm_rf(dir);
}

/* ---- provisioning ------------------------------------------------------------------------ */

static void test_mocktee_provision_self_signed_and_ca(void **state)
{
    (void)state;
    char base[512], dir[600];
    assert_int_equal(fx_tempdir(base, sizeof base, "prov"), 0);
    (void)snprintf(dir, sizeof dir, "%s/self", base);
    otrp__mock_provision_opts o;
    memset(&o, 0, sizeof o);
    o.name = "prov-tee";
    o.trust = PKI "tam-root.pem";
    o.tam_uri = "https://tam.example/";
    char detail[256] = "";
    assert_int_equal(otrp__mock_provision(dir, &o, detail, sizeof detail), OTRP_OK);
    otrp__mock *tee = NULL;
    assert_int_equal(otrp__mock_open(dir, NULL, &tee, detail, sizeof detail), OTRP_OK);
    assert_string_equal(tee->cfg.name, "prov-tee");
    assert_int_equal(otrp__x509_certs_count(tee->certs), 1);
    otrp__mock_close(tee);
    /* a second init of the same directory is refused */
    assert_int_equal(otrp__mock_provision(dir, &o, detail, sizeof detail), OTRP_ERR_CONFIG);
    assert_non_null(strstr(detail, "provisioned already"));
    /* issued by a CA: the chain is in cert.pem */
    (void)snprintf(dir, sizeof dir, "%s/ca", base);
    o.ca_cert = PKI "tam-root.pem";
    o.ca_key = PKI "tam-root-key.pem";
    assert_int_equal(otrp__mock_provision(dir, &o, detail, sizeof detail), OTRP_OK);
    assert_int_equal(otrp__mock_open(dir, NULL, &tee, detail, sizeof detail), OTRP_OK);
    assert_int_equal(otrp__x509_certs_count(tee->certs), 2);
    otrp__mock_close(tee);
    o.key_bits = 1024;
    (void)snprintf(dir, sizeof dir, "%s/weak", base);
    assert_int_equal(otrp__mock_provision(dir, &o, detail, sizeof detail), OTRP_ERR_CONFIG);
    fx_rm_rf(base);
}

/* ---- the state directory against another local user ------------------------------------ */

static mode_t mode_of(const char *dir, const char *rel)
{
    char path[700];
    struct stat sb;
    (void)snprintf(path, sizeof path, "%s%s%s", dir, rel[0] != '\0' ? "/" : "", rel);
    assert_int_equal(lstat(path, &sb), 0);
    return sb.st_mode & 07777;
}

static void chmod_rel(const char *dir, const char *rel, mode_t mode)
{
    char path[700];
    (void)snprintf(path, sizeof path, "%s%s%s", dir, rel[0] != '\0' ? "/" : "", rel);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_mocktee_provision_private_dirs(void **state)
{
    (void)state;
    char base[512], dir[600];
    assert_int_equal(fx_tempdir(base, sizeof base, "modes"), 0);
    otrp__mock_provision_opts o;
    memset(&o, 0, sizeof o);
    o.trust = PKI "tam-root.pem";
    char detail[512] = "";
    /* every directory init and the first open create is 0700 */
    (void)snprintf(dir, sizeof dir, "%s/fresh", base);
    assert_int_equal(otrp__mock_provision(dir, &o, detail, sizeof detail), OTRP_OK);
    otrp__mock *tee = NULL;
    assert_int_equal(otrp__mock_open(dir, NULL, &tee, detail, sizeof detail), OTRP_OK);
    otrp__mock_close(tee);
    const char *subs[] = {"", "identity", "trust", "state", "state/blobs"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        assert_int_equal(mode_of(dir, subs[i]), 0700);
    /* a pre-existing directory (or subdirectory) another user can write to is refused,
     * not kept, and nothing is written into it */
    const char *open_subs[] = {"", "identity", "trust", "state"};
    for (size_t i = 0; i < sizeof open_subs / sizeof open_subs[0]; i++) {
        (void)snprintf(dir, sizeof dir, "%s/open%zu", base, i);
        assert_int_equal(mkdir(dir, 0700), 0);
        if (open_subs[i][0] != '\0') {
            char sub[700];
            (void)snprintf(sub, sizeof sub, "%s/%s", dir, open_subs[i]);
            assert_int_equal(mkdir(sub, 0700), 0);
        }
        chmod_rel(dir, open_subs[i], i % 2 ? 0770 : 0777);
        detail[0] = '\0';
        otrp_status st = otrp__mock_provision(dir, &o, detail, sizeof detail);
        if (st != OTRP_ERR_CONFIG || strstr(detail, "writable") == NULL)
            fprintf(stderr, "case %zu: %s \"%s\"\n", i, otrp_status_name(st), detail);
        assert_int_equal(st, OTRP_ERR_CONFIG);
        assert_non_null(strstr(detail, "group- or world-writable"));
        assert_int_equal(mode_of(dir, open_subs[i]), i % 2 ? 0770 : 0777);
        char conf[700];
        struct stat sb;
        (void)snprintf(conf, sizeof conf, "%s/tee.json", dir);
        assert_int_not_equal(stat(conf, &sb), 0);
        (void)snprintf(conf, sizeof conf, "%s/identity/key.pem", dir);
        assert_int_not_equal(stat(conf, &sb), 0);
    }
    fx_rm_rf(base);
}

static void test_mocktee_state_dir_writable_refused(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    expect_open(dir, OTRP_OK, NULL);
    const char *subs[] = {"", "state", "state/blobs"};
    const mode_t modes[] = {0777, 0770, 0707, 0720};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            chmod_rel(dir, subs[i], modes[m]);
            expect_open(dir, OTRP_ERR_CONFIG, "group- or world-writable");
        }
        chmod_rel(dir, subs[i], 0700);
        expect_open(dir, OTRP_OK, NULL);
    }
    /* read and search bits for others are no risk to the state */
    chmod_rel(dir, "state", 0755);
    expect_open(dir, OTRP_OK, NULL);
    /* a directory another user owns (that user can chmod it at will); only root can
     * give one away to test it */
    if (geteuid() == 0) {
        char path[700];
        (void)snprintf(path, sizeof path, "%s/state", dir);
        assert_int_equal(chown(path, 65534, 65534), 0);
        expect_open(dir, OTRP_ERR_CONFIG, "is owned by user 65534");
        assert_int_equal(chown(path, 0, 0), 0);
        expect_open(dir, OTRP_OK, NULL);
    }
    fx_rm_rf(dir);
}

/* The temporary-file names of the writes into dir while fn(user) runs (inotify). */
static size_t tmp_names_created(const char *dir, void (*fn)(void *), void *user,
                                char names[][128], size_t max)
{
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(in >= 0);
    assert_true(inotify_add_watch(in, dir, IN_CREATE) >= 0);
    fn(user);
    size_t n = 0;
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t got;
    while ((got = read(in, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + got;) {
            const struct inotify_event *e = (const struct inotify_event *)(void *)p;
            if (e->len > 0 && strncmp(e->name, ".tmp-", 5) == 0 && n < max)
                (void)snprintf(names[n++], 128, "%s", e->name);
            p += sizeof *e + e->len;
        }
    }
    close(in);
    return n;
}

struct two_writes {
    int fd;
};

static void write_twice(void *user)
{
    struct two_writes *w = user;
    assert_int_equal(otrp__mock_atomic_write(w->fd, "f", "one", 3, 0600), OTRP_OK);
    assert_int_equal(otrp__mock_atomic_write(w->fd, "f", "two", 3, 0600), OTRP_OK);
}

static void test_mocktee_state_temp_file_symlink(void **state)
{
    (void)state;
    char dir[512], victim[700], link_path[800];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    (void)snprintf(victim, sizeof victim, "%s/victim", dir);
    assert_int_equal(fx_write(dir, "victim", "precious", 8), 0);
    /* links planted (while the TEE runs: opening collects stale temporary files) at the
     * names a write of this process would have used */
    otrp__mock *tee = NULL;
    assert_int_equal(open_dir(dir, &tee, NULL, 0), OTRP_OK);
    const char *planted[] = {"state.json", "f", ""};
    for (size_t i = 0; i < sizeof planted / sizeof planted[0]; i++) {
        char rel[128];
        (void)snprintf(rel, sizeof rel, "state/.tmp-%ld-%s", (long)getpid(), planted[i]);
        (void)snprintf(link_path, sizeof link_path, "%s/%s", dir, rel);
        assert_int_equal(symlink(victim, link_path), 0);
    }
    /* a commit of the TEE state (RequestTA) still succeeds, into state.json */
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    otrp_buf uri = {0}, msg = {0}, b = {0};
    assert_int_equal(otrp__mock_ops.request_ta(tee, &tc, "ta-x", NULL, &uri, &msg), OTRP_OK);
    otrp__mock_close(tee);
    assert_int_equal(test_read_file(victim, &b), OTRP_OK);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "precious", 8);
    char path[700];
    (void)snprintf(path, sizeof path, "%s/state/state.json", dir);
    assert_int_equal(mode_of(dir, "state/state.json") & 0077, 0);
    assert_int_equal(test_read_file(path, &b), OTRP_OK);
    assert_non_null(strstr((char *)b.data, "\"requested\":[{\"taid\":\"ta-x\""));
    /* names are not predictable: two writes use two names, neither the pid's */
    (void)snprintf(path, sizeof path, "%s/state", dir);
    struct two_writes w = {open(path, O_RDONLY | O_DIRECTORY)};
    assert_true(w.fd >= 0);
    char names[4][128];
    assert_int_equal(tmp_names_created(path, write_twice, &w, names, 4), 2);
    assert_string_not_equal(names[0], names[1]);
    char pid_name[128];
    (void)snprintf(pid_name, sizeof pid_name, ".tmp-%ld-f", (long)getpid());
    assert_string_not_equal(names[0], pid_name);
    assert_int_equal(otrp__mock_read_file(w.fd, "f", 100, &b), OTRP_OK);
    assert_string_equal((char *)b.data, "two");
    close(w.fd);
    assert_int_equal(test_read_file(victim, &b), OTRP_OK);
    assert_memory_equal(b.data, "precious", 8);
    otrp_buf_free(&uri);
    otrp_buf_free(&msg);
    otrp_buf_free(&b);
    fx_rm_rf(dir);
}

/* An open of dir in a thread, so that a test sees a blocked open instead of hanging. */
struct timed_open {
    const char *dir;
    otrp_status st;
    char detail[512];
    int done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *timed_open_thread(void *arg)
{
    struct timed_open *t = arg;
    otrp__mock *tee = NULL;
    otrp_status st = open_dir(t->dir, &tee, t->detail, sizeof t->detail);
    otrp__mock_close(tee);
    pthread_mutex_lock(&t->mu);
    t->st = st;
    t->done = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* Open dir with a FIFO at rel: it ends within 1 s with want and detail_part. A blocked
 * open is released (a writer opens the FIFO) and the test fails. */
static void expect_open_fifo(const char *dir, const char *rel, otrp_status want,
                             const char *detail_part)
{
    char fifo[700];
    (void)snprintf(fifo, sizeof fifo, "%s/%s", dir, rel);
    (void)unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct timed_open t = {dir, OTRP_OK, "", 0, PTHREAD_MUTEX_INITIALIZER,
                           PTHREAD_COND_INITIALIZER};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, timed_open_thread, &t), 0);
    struct timespec deadline;
    (void)clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 1;
    pthread_mutex_lock(&t.mu);
    while (!t.done && pthread_cond_timedwait(&t.cv, &t.mu, &deadline) == 0)
        ;
    int in_time = t.done;
    pthread_mutex_unlock(&t.mu);
    for (int released = in_time; !released;) {
        int fd = open(fifo, O_WRONLY | O_NONBLOCK);
        if (fd >= 0)
            close(fd);
        pthread_mutex_lock(&t.mu);
        released = t.done;
        pthread_mutex_unlock(&t.mu);
        (void)usleep(10000);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    if (!in_time || t.st != want || strstr(t.detail, detail_part) == NULL)
        fprintf(stderr, "FIFO at %s: %s \"%s\"%s\n", rel, otrp_status_name(t.st), t.detail,
                in_time ? "" : " (blocked for more than 1 s)");
    assert_true(in_time);
    assert_int_equal(t.st, want);
    assert_non_null(strstr(t.detail, detail_part));
    assert_int_equal(unlink(fifo), 0);
}

static void test_mocktee_state_fifo_does_not_block(void **state)
{
    (void)state;
    char dir[512], path[700];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    expect_open_fifo(dir, "state/state.json", OTRP_ERR_IO, "state.json is not a regular file");
    /* the files of the provisioning directory are read the same way */
    const char *files[] = {"tee.json", "identity/key.pem", "identity/cert.pem",
                           "trust/tam-root.pem"};
    otrp_buf keep = {0};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        (void)snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        assert_int_equal(test_read_file(path, &keep), OTRP_OK);
        char want[128];
        (void)snprintf(want, sizeof want, "%s is not a regular file", files[i]);
        expect_open_fifo(dir, files[i], OTRP_ERR_CONFIG, want);
        assert_int_equal(fx_write(dir, files[i], keep.data, keep.len), 0);
    }
    expect_open(dir, OTRP_OK, NULL);
    otrp_buf_free(&keep);
    fx_rm_rf(dir);
}

/* out = text with the cut bytes at at replaced by insert. */
static void splice(const otrp_buf *text, const char *at, size_t cut, const char *insert,
                   otrp_buf *out)
{
    const char *s = (const char *)text->data;
    otrp_buf_reset(out);
    assert_int_equal(otrp_buf_append(out, s, (size_t)(at - s)), OTRP_OK);
    assert_int_equal(otrp_buf_append_str(out, insert), OTRP_OK);
    assert_int_equal(otrp_buf_append_str(out, at + cut), OTRP_OK);
}

/* text with the number after "key": replaced by value (the first occurrence). */
static void replace_number(const otrp_buf *text, const char *key, const char *value, otrp_buf *out)
{
    char member[64];
    (void)snprintf(member, sizeof member, "\"%s\":", key);
    const char *at = strstr((const char *)text->data, member);
    assert_non_null(at);
    at += strlen(member);
    size_t end = strspn(at, "-+.0123456789eE");
    assert_true(end > 0);
    splice(text, at, end, value, out);
}

/* A populated TEE directory (dir[512]) and its state.json (good). */
static void populated_state(char *dir, otrp_buf *good)
{
    char path[700];
    assert_int_equal(fx_teedir(dir, 512, NULL), 0);
    populate(dir);
    (void)snprintf(path, sizeof path, "%s/state/state.json", dir);
    assert_int_equal(test_read_file(path, good), OTRP_OK);
}

/* state.json = text is corrupt, and the detail names member. */
static void expect_corrupt_state(const char *dir, const otrp_buf *text, const char *member)
{
    assert_int_equal(fx_write(dir, "state/state.json", text->data, text->len), 0);
    otrp__mock *tee = NULL;
    char detail[512] = "", want[64];
    (void)snprintf(want, sizeof want, "'%s'", member);
    otrp_status st = open_dir(dir, &tee, detail, sizeof detail);
    /* what an install computes from the state: never undefined behaviour */
    if (st == OTRP_OK)
        (void)otrp__mock_storage_used(tee->state);
    otrp__mock_close(tee);
    if (st != OTRP_ERR_STATE_CORRUPT || strstr(detail, want) == NULL)
        fprintf(stderr, "%.*s: %s \"%s\"\n", (int)text->len, (const char *)text->data,
                otrp_status_name(st), detail);
    assert_int_equal(st, OTRP_ERR_STATE_CORRUPT);
    assert_non_null(strstr(detail, want));
}

/* The case first: "pdata_len": -1e300 where the TA has no personalization data
 * passed validation and reached a float-to-integer conversion out of range. */
static void test_mocktee_state_length_without_data(void **state)
{
    (void)state;
    char dir[512];
    otrp_buf good = {0}, t = {0}, stray = {0};
    populated_state(dir, &good);
    /* a length without its data (the record has no personalization data) */
    static const char pdata[] = "\"pdata_inline\":\"cGQ=\",";
    const char *at = strstr((char *)good.data, pdata);
    assert_non_null(at);
    splice(&good, at, strlen(pdata), "", &t);
    replace_number(&t, "pdata_len", "-1e300", &stray);
    expect_corrupt_state(dir, &stray, "pdata_len");
    expect_corrupt_state(dir, &t, "pdata_len");
    /* data without its length */
    static const char bin_len[] = "\"bin_len\":";
    at = strstr((char *)good.data, bin_len);
    assert_non_null(at);
    splice(&good, at, strlen(bin_len) + strspn(at + strlen(bin_len), "0123456789") + 1, "", &t);
    expect_corrupt_state(dir, &t, "bin_len");
    otrp_buf_free(&good);
    otrp_buf_free(&t);
    otrp_buf_free(&stray);
    fx_rm_rf(dir);
}

static void test_mocktee_state_corrupt_numbers(void **state)
{
    (void)state;
    char dir[512];
    otrp_buf good = {0}, t = {0};
    populated_state(dir, &good);
    /* -1e999 and 1e999 parse as infinities (JSON has no NaN); 16777217 is one byte
     * more than a TA may have. */
    const char *values[] = {"-1e300", "1e300", "-1e999", "1e999", "1.5", "-1", "-0.5",
                            "16777217", "\"2\"", "true", "null"};
    const char *fields[] = {"bin_len", "pdata_len"};
    for (size_t f = 0; f < 2; f++) {
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            replace_number(&good, fields[f], values[v], &t);
            expect_corrupt_state(dir, &t, fields[f]);
        }
    }
    /* inline data longer than inline data may be */
    replace_number(&good, "pdata_len", "4097", &t);
    expect_corrupt_state(dir, &t, "pdata_len");
    /* the good document still opens */
    assert_int_equal(fx_write(dir, "state/state.json", good.data, good.len), 0);
    expect_open(dir, OTRP_OK, NULL);
    otrp_buf_free(&good);
    otrp_buf_free(&t);
    fx_rm_rf(dir);
}

/* ---- framing and the socket backend ----------------------------------------------------- */

static void test_mocktee_frame_roundtrip_and_table(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    otrp_buf f = {0}, in = {0};
    const void *fields[2] = {"ta1", ""};
    size_t lens[2] = {3, 0};
    assert_int_equal(otrp__ta_frame_encode(&f, OTRP_TA_CMD_REQUEST_TA, 0, 2, fields, lens), OTRP_OK);
    assert_int_equal(f.len, OTRP_TA_HEADER_SIZE + 4 + 3 + 4);
    assert_int_equal(otrp__ta_write_all(sv[0], f.data, f.len, 0, NULL, NULL), OTRP_OK);
    otrp__ta_frame fr;
    int eof = 0;
    assert_int_equal(otrp__ta_frame_read(sv[1], &in, 0, otrp_monotonic_ms() + 1000, NULL, NULL, &fr, &eof),
                     OTRP_OK);
    assert_int_equal(fr.command, OTRP_TA_CMD_REQUEST_TA);
    assert_int_equal(fr.nfields, 2);
    assert_memory_equal(fr.field[0], "ta1", 3);
    assert_int_equal(fr.field_len[1], 0);
    /* bad magic; too many fields; a length above the limit */
    unsigned char bad[OTRP_TA_HEADER_SIZE + 4] = {'X', 'T', 'R', 'P', 0, 1, 0, 1};
    assert_int_equal(write(sv[0], bad, OTRP_TA_HEADER_SIZE), (ssize_t)OTRP_TA_HEADER_SIZE);
    assert_int_equal(otrp__ta_frame_read(sv[1], &in, 0, otrp_monotonic_ms() + 1000, NULL, NULL, &fr, &eof),
                     OTRP_ERR_TEE_PROTOCOL);
    unsigned char many[OTRP_TA_HEADER_SIZE] = {'O', 'T', 'R', 'P', 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3};
    assert_int_equal(write(sv[0], many, sizeof many), (ssize_t)sizeof many);
    assert_int_equal(otrp__ta_frame_read(sv[1], &in, 0, otrp_monotonic_ms() + 1000, NULL, NULL, &fr, &eof),
                     OTRP_ERR_TEE_PROTOCOL);
    unsigned char huge[OTRP_TA_HEADER_SIZE + 4] = {'O', 'T', 'R', 'P', 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1,
                                                   0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(write(sv[0], huge, sizeof huge), (ssize_t)sizeof huge);
    assert_int_equal(otrp__ta_frame_read(sv[1], &in, 1024, otrp_monotonic_ms() + 1000, NULL, NULL, &fr, &eof),
                     OTRP_ERR_TOO_LARGE);
    /* nothing arrives: timeout; cancelled */
    uint64_t t0 = otrp_monotonic_ms();
    assert_int_equal(otrp__ta_frame_read(sv[1], &in, 0, otrp_monotonic_ms() + 100, NULL, NULL, &fr, &eof),
                     OTRP_ERR_TIMEOUT);
    assert_true(otrp_monotonic_ms() - t0 >= 90);
    volatile int cancel = 1;
    assert_int_equal(otrp__ta_frame_read(sv[1], &in, 0, 0, &cancel, NULL, &fr, &eof), OTRP_ERR_CANCELLED);
    close(sv[0]);
    assert_int_equal(otrp__ta_frame_read(sv[1], &in, 0, 0, NULL, NULL, &fr, &eof), OTRP_ERR_IO);
    assert_int_equal(eof, 1);
    close(sv[1]);
    /* the server refuses a request that does not fit the command table */
    otrp__ta_frame wrong;
    memset(&wrong, 0, sizeof wrong);
    wrong.command = OTRP_TA_CMD_PROCESS_MESSAGE;
    wrong.nfields = 0;
    assert_int_equal(otrp__ta_serve(&otrp__socket_ops, NULL, NULL, &wrong, 1024, &f), OTRP_OK);
    assert_int_equal(f.data[11], OTRP_ERR_TEE_PROTOCOL);
    otrp_buf_free(&f);
    otrp_buf_free(&in);
}

/* A server that accepts one connection and misbehaves: mode 0 never answers, 1 answers
 * garbage, 2 announces an oversize answer, 3 closes at once. */
static pid_t bad_server(const char *path, int mode)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    assert_true(strlen(path) < sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int c = accept(lfd, NULL, NULL);
        unsigned char buf[256];
        if (mode != 3)
            (void)!read(c, buf, sizeof buf);
        if (mode == 1)
            (void)!write(c, "HTTP/1.1 200 OK\r\n\r\nhello", 24);
        if (mode == 2) {
            unsigned char h[OTRP_TA_HEADER_SIZE + 4] = {'O', 'T', 'R', 'P', 0, 1, 0x80, 1, 0, 0, 0, 0,
                                                        0, 0, 0, 1, 0x40, 0, 0, 0};
            (void)!write(c, h, sizeof h);
        }
        if (mode == 4) { /* a failure answer whose detail holds control bytes */
            otrp_buf f = {0};
            if (otrp__ta_encode_failure(&f, OTRP_TA_CMD_GET_NAME, OTRP_ERR_NOT_FOUND,
                                        "no such\x1b[2Jname\n") == OTRP_OK)
                (void)!write(c, f.data, f.len);
        }
        if (mode == 0)
            sleep(5);
        _exit(0);
    }
    close(lfd);
    return pid;
}

static void test_mocktee_socket_backend_failures(void **state)
{
    (void)state;
    char dir[512], path[600];
    assert_int_equal(fx_tempdir(dir, sizeof dir, "sock"), 0);
    (void)snprintf(path, sizeof path, "%s/s", dir);
    void *ctx = NULL;
    assert_int_equal(otrp__socket_open("", &ctx), OTRP_ERR_INVALID_ARG);
    char longpath[300];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(otrp__socket_open(longpath, &ctx), OTRP_ERR_INVALID_ARG);
    assert_int_equal(otrp__socket_open(path, &ctx), OTRP_OK);
    otrp_buf out = {0};
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    assert_int_equal(otrp__socket_ops.get_name(ctx, &tc, &out), OTRP_ERR_TEE_UNAVAILABLE);
    struct {
        int mode;
        otrp_status st;
    } cases[] = {{4, OTRP_ERR_NOT_FOUND}, {0, OTRP_ERR_TIMEOUT}, {1, OTRP_ERR_TEE_PROTOCOL},
                 {2, OTRP_ERR_TOO_LARGE}, {3, OTRP_ERR_TEE_FAIL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unlink(path);
        pid_t pid = bad_server(path, cases[i].mode);
        tc.deadline_ms = otrp_monotonic_ms() + 300;
        tc.max_output = 4096;
        assert_int_equal(otrp__socket_ops.get_name(ctx, &tc, &out), cases[i].st);
        /* The daemon's detail reaches ops->last_error quoted; a later failure without
         * one does not repeat it. */
        assert_string_equal(otrp__socket_ops.last_error(ctx),
                            cases[i].mode == 4 ? "no such\\x1b[2Jname\\x0a" : "");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    otrp__socket_ops.destroy(ctx);
    otrp_buf_free(&out);
    fx_rm_rf(dir);
}

struct canceller {
    void *ctx;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    usleep(150 * 1000);
    otrp__socket_ops.cancel(c->ctx);
    return NULL;
}

static void test_mocktee_socket_backend_cancel(void **state)
{
    (void)state;
    char dir[512], path[600];
    assert_int_equal(fx_tempdir(dir, sizeof dir, "cancel"), 0);
    (void)snprintf(path, sizeof path, "%s/s", dir);
    pid_t pid = bad_server(path, 0); /* never answers */
    void *ctx = NULL;
    assert_int_equal(otrp__socket_open(path, &ctx), OTRP_OK);
    struct canceller c = {ctx};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
    otrp_buf out = {0};
    otrp_tee_call tc = {sizeof tc, otrp_monotonic_ms() + 10000, 0, NULL};
    uint64_t t0 = otrp_monotonic_ms();
    assert_int_equal(otrp__socket_ops.get_name(ctx, &tc, &out), OTRP_ERR_CANCELLED);
    assert_true(otrp_monotonic_ms() - t0 < 5000);
    pthread_join(th, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    otrp__socket_ops.destroy(ctx);
    otrp_buf_free(&out);
    fx_rm_rf(dir);
}

/* ---- otrp-tee-sim ------------------------------------------------------------------------- */

static void test_mocktee_daemon_lock_and_sigterm(void **state)
{
    (void)state;
    char dir[512], sock[600], sock2[600];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    (void)snprintf(sock, sizeof sock, "%s/a.sock", dir);
    (void)snprintf(sock2, sizeof sock2, "%s/b.sock", dir);
    pid_t pid = start_daemon(dir, sock);
    assert_true(pid > 0);
    /* a second daemon on the same directory refuses (exit 3, lock) */
    pid_t second = fork();
    if (second == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execl(fx_tee_sim(), fx_tee_sim(), "serve", dir, "--listen", "unix:/tmp/otrp-unused.sock",
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(second, &status, 0), second);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    /* the daemon answers */
    void *ctx = NULL;
    otrp_buf out = {0};
    otrp_tee_call tc = {sizeof tc, otrp_monotonic_ms() + 5000, 0, NULL};
    assert_int_equal(otrp__socket_open(sock, &ctx), OTRP_OK);
    assert_int_equal(otrp__socket_ops.get_name(ctx, &tc, &out), OTRP_OK);
    assert_string_equal((char *)out.data, "mocktee-test");
    /* a failure status travels with the frame */
    assert_int_equal(otrp__socket_ops.process_message(ctx, &tc, "x", 1, &out), OTRP_ERR_MSG_NOT_JSON);
    assert_int_equal(otrp__socket_ops.ta_information(ctx, &tc, "sp", "ta", &out), OTRP_ERR_NOT_FOUND);
    /* SIGTERM: clean stop, socket removed, lock released */
    assert_int_equal(stop_daemon(pid, SIGTERM), 0);
    struct stat sb;
    assert_int_not_equal(stat(sock, &sb), 0);
    assert_int_equal(otrp__socket_ops.get_name(ctx, &tc, &out), OTRP_ERR_TEE_UNAVAILABLE);
    pid = start_daemon(dir, sock2);
    assert_true(pid > 0);
    assert_int_equal(stop_daemon(pid, SIGINT), 0);
    otrp__socket_ops.destroy(ctx);
    otrp_buf_free(&out);
    fx_rm_rf(dir);
}

static int connect_to(const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    assert_true(strlen(path) < sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void test_mocktee_daemon_survives_bad_clients(void **state)
{
    (void)state;
    char dir[512], sock[600];
    pid_t pid = fx_daemon = fx_teedir_daemon(dir, sizeof dir, sock, sizeof sock);
    assert_true(pid > 0);
    /* garbage: an OTRP_ERR_TEE_PROTOCOL answer, then the connection is closed */
    int fd = connect_to(sock);
    assert_int_equal(write(fd, "GET / HTTP/1.0\r\n\r\n", 18), 18);
    otrp_buf in = {0};
    otrp__ta_frame fr;
    int eof = 0;
    assert_int_equal(otrp__ta_frame_read(fd, &in, 0, otrp_monotonic_ms() + 5000, NULL, NULL, &fr, &eof),
                     OTRP_OK);
    assert_int_equal(fr.status, OTRP_ERR_TEE_PROTOCOL);
    assert_int_equal(otrp__ta_frame_read(fd, &in, 0, otrp_monotonic_ms() + 5000, NULL, NULL, &fr, &eof),
                     OTRP_ERR_IO);
    close(fd);
    /* a request for an unknown command, and one with the wrong number of fields */
    otrp_buf f = {0};
    fd = connect_to(sock);
    assert_int_equal(otrp__ta_frame_encode(&f, 99, 0, 0, NULL, NULL), OTRP_OK);
    assert_int_equal(otrp__ta_write_all(fd, f.data, f.len, 0, NULL, NULL), OTRP_OK);
    assert_int_equal(otrp__ta_frame_read(fd, &in, 0, otrp_monotonic_ms() + 5000, NULL, NULL, &fr, &eof),
                     OTRP_OK);
    assert_int_equal(fr.status, OTRP_ERR_TEE_PROTOCOL);
    assert_int_equal(otrp__ta_frame_encode(&f, OTRP_TA_CMD_PROCESS_MESSAGE, 0, 0, NULL, NULL), OTRP_OK);
    assert_int_equal(otrp__ta_write_all(fd, f.data, f.len, 0, NULL, NULL), OTRP_OK);
    assert_int_equal(otrp__ta_frame_read(fd, &in, 0, otrp_monotonic_ms() + 5000, NULL, NULL, &fr, &eof),
                     OTRP_OK);
    assert_int_equal(fr.status, OTRP_ERR_TEE_PROTOCOL);
    close(fd);
    /* a client that connects, sends half a header and goes away */
    fd = connect_to(sock);
    assert_int_equal(write(fd, "OTRP", 4), 4);
    close(fd);
    /* the daemon still serves */
    void *ctx = NULL;
    otrp_buf out = {0};
    otrp_tee_call tc = {sizeof tc, otrp_monotonic_ms() + 5000, 0, NULL};
    assert_int_equal(otrp__socket_open(sock, &ctx), OTRP_OK);
    assert_int_equal(otrp__socket_ops.get_name(ctx, &tc, &out), OTRP_OK);
    assert_string_equal((char *)out.data, "mocktee-test");
    /* an answer larger than the caller's buffer limit is refused */
    out.max = 4;
    assert_int_equal(otrp__socket_ops.describe(ctx, &tc, &out), OTRP_ERR_TOO_LARGE);
    otrp__socket_ops.destroy(ctx);
    assert_int_equal(stop_daemon(pid, SIGTERM), 0);
    otrp_buf_free(&in);
    otrp_buf_free(&f);
    otrp_buf_free(&out);
    fx_rm_rf(dir);
}

struct client_args {
    const char *sock;
    int ok;
};

static void *client_main(void *arg)
{
    struct client_args *a = arg;
    void *ctx = NULL;
    otrp_buf out = {0};
    if (otrp__socket_open(a->sock, &ctx) != OTRP_OK)
        return NULL;
    for (int i = 0; i < 40; i++) {
        otrp_tee_call tc = {sizeof tc, otrp_monotonic_ms() + 10000, 0, NULL};
        if (otrp__socket_ops.get_name(ctx, &tc, &out) == OTRP_OK &&
            strcmp((char *)out.data, "mocktee-test") == 0)
            a->ok++;
    }
    otrp__socket_ops.destroy(ctx);
    otrp_buf_free(&out);
    return NULL;
}

static void test_mocktee_daemon_serializes_clients(void **state)
{
    (void)state;
    char dir[512], sock[600];
    pid_t pid = fx_daemon = fx_teedir_daemon(dir, sizeof dir, sock, sizeof sock);
    assert_true(pid > 0);
    /* an idle connection does not hold the others back for long */
    int idle = connect_to(sock);
    struct client_args args[3] = {{sock, 0}, {sock, 0}, {sock, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, client_main, &args[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 40);
    }
    close(idle);
    assert_int_equal(stop_daemon(pid, SIGTERM), 0);
    fx_rm_rf(dir);
}

static void test_mocktee_daemon_init_command(void **state)
{
    (void)state;
    char base[512], dir[600];
    assert_int_equal(fx_tempdir(base, sizeof base, "init"), 0);
    (void)snprintf(dir, sizeof dir, "%s/t", base);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(fx_tee_sim(), fx_tee_sim(), "init", dir, "--name", "cli-tee", "--key-bits", "2048",
              "--trust", PKI "tam-root.pem", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    otrp__mock *tee = NULL;
    assert_int_equal(otrp__mock_open(dir, NULL, &tee, NULL, 0), OTRP_OK);
    assert_string_equal(tee->cfg.name, "cli-tee");
    assert_int_equal(tee->cfg.quota_bytes, OTRP__MOCK_DEFAULT_QUOTA);
    otrp__mock_close(tee);
    fx_rm_rf(base);
}

int main(int argc, char **argv)
{
    (void)argc;
    fx_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mocktee_config_rejects_bad_tee_json),
        cmocka_unit_test(test_mocktee_config_identity_and_trust),
        cmocka_unit_test(test_mocktee_state_persists_and_collects_garbage),
        cmocka_unit_test(test_mocktee_state_corrupt_or_foreign),
        cmocka_unit_test(test_mocktee_state_lock),
        cmocka_unit_test(test_mocktee_atomic_write_replaces),
        cmocka_unit_test(test_mocktee_provision_self_signed_and_ca),
        cmocka_unit_test(test_mocktee_provision_private_dirs),
        cmocka_unit_test(test_mocktee_state_dir_writable_refused),
        cmocka_unit_test(test_mocktee_state_temp_file_symlink),
        cmocka_unit_test(test_mocktee_state_fifo_does_not_block),
        cmocka_unit_test(test_mocktee_state_length_without_data),
        cmocka_unit_test(test_mocktee_state_corrupt_numbers),
        cmocka_unit_test(test_mocktee_frame_roundtrip_and_table),
        cmocka_unit_test(test_mocktee_socket_backend_failures),
        cmocka_unit_test(test_mocktee_socket_backend_cancel),
        cmocka_unit_test_teardown(test_mocktee_daemon_lock_and_sigterm, fx_kill_daemon),
        cmocka_unit_test_teardown(test_mocktee_daemon_survives_bad_clients, fx_kill_daemon),
        cmocka_unit_test_teardown(test_mocktee_daemon_serializes_clients, fx_kill_daemon),
        cmocka_unit_test(test_mocktee_daemon_init_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
