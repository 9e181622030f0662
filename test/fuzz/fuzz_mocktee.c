/*
 * libFuzzer target: the mock TEE's request handling with valid keys and mutated
 * messages. The first input byte selects what the mutations reach:
 *   0: the raw message (outer structure, JWS members, headers, x5c, signature);
 *   1: the signed payload (a TBS document), which the harness signs with a trusted TAM
 *      key, so the TBS fields (ver, tee, dsihash, nextdsi, encrypted_ta, ...) are reached;
 *   2: the content plaintext of request kind input[1] % 6, which the harness encrypts to
 *      the TEE and signs, so every operation's content handling is reached.
 * The TEE's state is fixed: GetDeviceState, CreateSD and InstallTA run once at start;
 * afterwards every commit is refused (OTRP__MOCK_FAULT_COMMIT_ALWAYS), so each input
 * runs against the same state and dsihash.
 * OTRP_FUZZ_SEEDS=DIR writes a seed corpus of valid inputs of all three modes to DIR.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/mock_fixture.h"
#include "../support/tam_builder.h"
#include "mocktee/mocktee.h"
#include "util/base64.h"
#include "util/json_strict.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PKI TEST_PKI_DIR "/"

static otrp__mock *g_tee;
static test_tam *g_tam;
static cJSON *g_install_extra; /* a valid encrypted_ta for InstallTA ta2 */
static cJSON *g_update_extra;  /* and for UpdateTA ta1 */
static char g_dir[512];

static const char *const KINDS[] = {"CreateSD", "UpdateSD", "DeleteSD", "InstallTA", "UpdateTA",
                                    "DeleteTA"};
static const char *const CONTENTS[] = {
    "{\"spid\":\"sp1\",\"sdname\":\"sd2\",\"spcert\":\"%s\"}",
    ("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"changes\":{\"newsdname\":\"sd3\",\"spcert\":[\"%s\"],"
     "\"renewteespaik\":false,\"deloldspcert\":[]}}"),
    "{\"sdname\":\"sd1\",\"deleteta\":true}",
    "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta2\"}",
    "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta1\"}",
    "{\"sdname\":\"sd1\",\"taid\":\"ta1\"}",
};

/* The content template with tamid and did added and its "%s" replaced by the SP
 * certificate (content_text is sent as is). */
static void fill(char *dst, size_t cap, const char *template, const char *spcert)
{
    char head[256];
    (void)snprintf(head, sizeof head, "{\"tamid\":\"%s\",\"did\":\"%s\",", test_tam_id(g_tam),
                   test_tam_did(g_tam));
    const char *hole = strstr(template, "%s");
    if (hole == NULL)
        (void)snprintf(dst, cap, "%s%s", head, template + 1);
    else
        (void)snprintf(dst, cap, "%s%.*s%s%s", head, (int)(hole - template - 1), template + 1, spcert,
                       hole + 2);
}

static void cleanup(void)
{
    otrp__mock_close(g_tee);
    if (g_dir[0] != '\0')
        (void)fx_rm_rf(g_dir);
}

/* Placeholders of mode 1 inputs, replaced before signing. */
#define DSIHASH_MARK "@DSIHASH@"
#define ETA_MARK "@ETA@"

/* Replace the first `"mark"` (a JSON string) in text[len] by with; malloc'ed result. */
static char *replace_mark(const char *text, size_t len, const char *mark, const char *with,
                          size_t *out_len)
{
    char quoted[32];
    (void)snprintf(quoted, sizeof quoted, "\"%s\"", mark);
    size_t m = strlen(quoted), w = strlen(with);
    for (size_t i = 0; i + m <= len; i++) {
        if (memcmp(text + i, quoted, m) == 0) {
            char *out = malloc(len - m + w + 1);
            memcpy(out, text, i);
            memcpy(out + i, with, w);
            memcpy(out + i + w, text + i + m, len - i - m);
            *out_len = len - m + w;
            out[*out_len] = '\0';
            return out;
        }
    }
    char *out = malloc(len + 1);
    memcpy(out, text, len);
    out[len] = '\0';
    *out_len = len;
    return out;
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_mocktee: setup failed: %s\n", what);
    exit(1);
}

static void run(const otrp_buf *msg, otrp_buf *out)
{
    otrp_buf_reset(out);
    (void)otrp__mock_process(g_tee, (const char *)msg->data, msg->len, out);
}

static char *spaik_of_answer(const otrp_buf *out, const char *name)
{
    test_tam_answer a;
    if (test_tam_read(g_tam, name, (const char *)out->data, out->len, &a) != OTRP_OK)
        die(name);
    if (strcmp(a.status, "pass") != 0) {
        fprintf(stderr, "fuzz_mocktee: %s: %s %s\n", name, a.error_code, a.error_message);
        die(name);
    }
    const char *k = otrp__json_string(a.content, "teespaik");
    char *spaik = k != NULL ? strdup(k) : NULL;
    test_tam_answer_free(&a);
    return spaik;
}

static cJSON *encrypted_ta(const char *spaik, int update)
{
    otrp__jose_key *sp = NULL;
    otrp_buf image = {0};
    cJSON *eta = NULL;
    if (test_load_key(PKI "sp1-key.pem", &sp) != OTRP_OK ||
        test_tam_sign_ta(sp, "fuzz TA", 7, &image) != OTRP_OK ||
        test_tam_encrypt_ta(spaik, image.data, image.len, "pd", 2, update, &eta) != OTRP_OK)
        die("encrypted_ta");
    otrp__jose_key_free(sp);
    otrp_buf_free(&image);
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddItemToObject(extra, "encrypted_ta", eta);
    return extra;
}

static void request(int kind, const char *content_text, otrp_buf *msg)
{
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.content_text = content_text;
    const cJSON *extra = kind == 3 ? g_install_extra : kind == 4 ? g_update_extra : NULL;
    cJSON *empty = cJSON_CreateObject();
    (void)test_tam_request(g_tam, KINDS[kind], empty, extra, &o, msg);
    cJSON_Delete(empty);
}

static void write_seed(const char *dir, const char *name, unsigned char mode, unsigned char kind,
                       const void *data, size_t len)
{
    char path[1024];
    (void)snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return;
    fputc(mode, f);
    if (mode == 2)
        fputc(kind, f);
    fwrite(data, 1, len, f);
    fclose(f);
}

static void seeds(const char *dir, const char *spcert)
{
    otrp_buf msg = {0};
    char name[64], content[4096];
    (void)test_tam_get_device_state(g_tam, NULL, &msg);
    write_seed(dir, "raw-gds", 0, 0, msg.data, msg.len);
    for (int k = 0; k < 6; k++) {
        fill(content, sizeof content, CONTENTS[k], spcert);
        request(k, content, &msg);
        (void)snprintf(name, sizeof name, "raw-%s", KINDS[k]);
        write_seed(dir, name, 0, 0, msg.data, msg.len);
        (void)snprintf(name, sizeof name, "content-%s", KINDS[k]);
        write_seed(dir, name, 2, (unsigned char)k, content, strlen(content));
        /* the TBS of the same request */
        cJSON *root = cJSON_Parse((const char *)msg.data);
        const char *payload = otrp__json_string(root->child, "payload");
        size_t n = strlen(payload);
        uint8_t *tbs = malloc(n);
        size_t tlen = 0;
        if (otrp__b64_decode(payload, n, tbs, &tlen, OTRP__B64_URL) == OTRP_OK) {
            /* what changes from run to run (the SP AIK is fresh) becomes a placeholder */
            cJSON *doc = cJSON_ParseWithLength((const char *)tbs, tlen);
            cJSON *in = doc != NULL ? doc->child : NULL;
            if (in != NULL) {
                cJSON_ReplaceItemInObjectCaseSensitive(in, "dsihash", cJSON_CreateString(DSIHASH_MARK));
                if (otrp__json_member(in, "encrypted_ta") != NULL)
                    cJSON_ReplaceItemInObjectCaseSensitive(in, "encrypted_ta",
                                                           cJSON_CreateString(ETA_MARK));
                char *text = cJSON_PrintUnformatted(doc);
                (void)snprintf(name, sizeof name, "tbs-%s", KINDS[k]);
                write_seed(dir, name, 1, 0, text, strlen(text));
                cJSON_free(text);
            }
            cJSON_Delete(doc);
        }
        free(tbs);
        cJSON_Delete(root);
    }
    otrp_buf_free(&msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (fx_teedir(g_dir, sizeof g_dir, NULL) != 0)
        die("TEE directory (run from the source tree)");
    atexit(cleanup);
    otrp_mock_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.verify_time = TEST_PKI_TIME;
    if (otrp__mock_open(g_dir, &o, &g_tee, NULL, 0) != OTRP_OK ||
        test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &g_tam) != OTRP_OK)
        die("open");
    char *spcert = test_cert_b64(PKI "sp1.pem");
    otrp_buf msg = {0}, out = {0};
    char content[4096];
    /* GetDeviceState, CreateSD sd1, InstallTA ta1 with nextdsi: the fixed state. */
    (void)test_tam_get_device_state(g_tam, NULL, &msg);
    run(&msg, &out);
    test_tam_answer a;
    if (test_tam_read(g_tam, "GetDeviceState", (char *)out.data, out.len, &a) != OTRP_OK)
        die("GetDeviceState");
    test_tam_answer_free(&a);
    fill(content, sizeof content, CONTENTS[0], spcert);
    char *sd1 = strstr(content, "sd2");
    sd1[2] = '1';
    request(0, content, &msg);
    run(&msg, &out);
    char *spaik = spaik_of_answer(&out, "CreateSD");
    cJSON *first = encrypted_ta(spaik, 0);
    cJSON *ta1 = cJSON_Parse("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta1\"}");
    (void)test_tam_request(g_tam, "InstallTA", ta1, first, NULL, &msg);
    cJSON_Delete(ta1);
    cJSON_Delete(first);
    run(&msg, &out);
    free(spaik_of_answer(&out, "InstallTA"));
    g_install_extra = encrypted_ta(spaik, 0);
    g_update_extra = encrypted_ta(spaik, 1);
    free(spaik);
    g_tee->fault = OTRP__MOCK_FAULT_COMMIT_ALWAYS;
    const char *seed_dir = getenv("OTRP_FUZZ_SEEDS");
    if (seed_dir != NULL)
        seeds(seed_dir, spcert);
    free(spcert);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    return 0;
}

static int contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256u * 1024u)
        return 0;
    otrp_buf msg = {0}, out = {0};
    unsigned mode = data[0] % 3;
    if (mode == 0) {
        (void)otrp_buf_append(&msg, data + 1, size - 1);
    } else if (mode == 1) {
        /* the outer name follows the inner one when the TBS names a known request */
        static const char *const NAMES[] = {"GetDeviceState", "CreateSD", "UpdateSD", "DeleteSD",
                                            "InstallTA", "UpdateTA", "DeleteTA"};
        char outer[48] = "CreateSDRequest";
        for (size_t k = 0; k < sizeof NAMES / sizeof NAMES[0]; k++) {
            char inner[48];
            (void)snprintf(inner, sizeof inner, "\"%sTBSRequest\"", NAMES[k]);
            if (contains(data + 1, size - 1, inner))
                (void)snprintf(outer, sizeof outer, "%sRequest", NAMES[k]);
        }
        char hash[64];
        (void)snprintf(hash, sizeof hash, "\"%s\"", test_tam_dsihash(g_tam));
        size_t l1 = 0, l2 = 0;
        char *t1 = replace_mark((const char *)data + 1, size - 1, DSIHASH_MARK, hash, &l1);
        int update = contains((const uint8_t *)t1, l1, "UpdateTATBSRequest");
        char *eta = cJSON_PrintUnformatted(otrp__json_member(update ? g_update_extra : g_install_extra,
                                                              "encrypted_ta"));
        char *t2 = replace_mark(t1, l1, ETA_MARK, eta, &l2);
        (void)test_tam_sign_payload(g_tam, outer, t2, l2, &msg);
        cJSON_free(eta);
        free(t1);
        free(t2);
    } else if (size >= 2) {
        char *text = malloc(size - 1);
        memcpy(text, data + 2, size - 2);
        text[size - 2] = '\0';
        request(data[1] % 6, text, &msg);
        free(text);
    }
    if (msg.len > 0)
        run(&msg, &out);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    return 0;
}
