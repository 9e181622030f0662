/*
 * The socket backend (lib/tee/socket.c) and otrp-tee-sim serve under the conditions an
 * adversarial review named: otrp_agent_cancel() from another thread while a call waits
 * (the ThreadSanitizer leg runs this program), a message limit near SIZE_MAX, and a
 * client that keeps a daemon connection busy with pings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "otrp/otrp.h"
#include "support/mock_fixture.h"
#include "tee/frame.h"
#include "tee/socket.h"

/* How long a cancelled or answered call may take at most (a loaded 2-core machine). */
#define PROMPT_MS 1500u

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static void unix_addr(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    assert_true(strlen(path) < sizeof a->sun_path);
    memcpy(a->sun_path, path, strlen(path) + 1);
}

/* ---- a scripted TEE daemon in a thread: it answers every request with one frame, or
 * (answer.len == 0) reads and never answers ---- */

struct fake_daemon {
    char path[600];
    int lfd;
    otrp_buf answer;
    int stop; /* __atomic */
    pthread_t th;
};

static void *fake_daemon_main(void *arg)
{
    struct fake_daemon *d = arg;
    while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
        int c = accept(d->lfd, NULL, NULL);
        if (c < 0)
            continue; /* the listener is non-blocking: poll the stop flag */
        otrp_buf in = {0};
        otrp__ta_frame req;
        int eof = 0;
        if (otrp__ta_frame_read(c, &in, 0, otrp_monotonic_ms() + 5000, &d->stop, NULL, &req,
                                &eof) == OTRP_OK) {
            if (d->answer.len > 0)
                (void)otrp__ta_write_all(c, d->answer.data, d->answer.len, 0, NULL, NULL);
            else
                while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE))
                    sleep_ms(10);
        }
        otrp_buf_free(&in);
        close(c);
    }
    return NULL;
}

static void fake_daemon_start(struct fake_daemon *d, const char *tag)
{
    char dir[512];
    assert_int_equal(fx_tempdir(dir, sizeof dir, tag), 0);
    (void)snprintf(d->path, sizeof d->path, "%s/s", dir);
    struct sockaddr_un a;
    unix_addr(&a, d->path);
    d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(d->lfd >= 0);
    assert_int_equal(bind(d->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(d->lfd, 4), 0);
    d->stop = 0;
    assert_int_equal(pthread_create(&d->th, NULL, fake_daemon_main, d), 0);
}

static void fake_daemon_stop(struct fake_daemon *d)
{
    __atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
    pthread_join(d->th, NULL);
    close(d->lfd);
    char *slash = strrchr(d->path, '/');
    unlink(d->path);
    *slash = '\0';
    fx_rm_rf(d->path);
    otrp_buf_free(&d->answer);
}

/* ---- cancel from another thread ---- */

struct agent_canceller {
    otrp_agent *agent;
};

static void *cancel_agent_later(void *arg)
{
    struct agent_canceller *c = arg;
    sleep_ms(150);
    otrp_agent_cancel(c->agent);
    return NULL;
}

/* otrp_agent_cancel() on another thread reaches a socket call that waits for a daemon
 * that never answers: both the agent's flag (otrp_tee_call.cancelled) and the backend's
 * own (ops->cancel) are written there and read here, atomically (ThreadSanitizer). */
static void test_socket_agent_cancel_from_another_thread(void **state)
{
    (void)state;
    struct fake_daemon d;
    memset(&d, 0, sizeof d);
    fake_daemon_start(&d, "sockcancel");
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK);
    otrp_tee *tee = NULL;
    assert_int_equal(otrp_tee_socket_new(d.path, &tee), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, tee), OTRP_OK);
    for (int round = 0; round < 2; round++) { /* a cancel does not outlive its operation */
        struct agent_canceller c = {agent};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, cancel_agent_later, &c), 0);
        uint64_t t0 = otrp_monotonic_ms();
        assert_int_equal(otrp_agent_request_ta(agent, "ta-1", "https://tam.example/otrp"),
                         OTRP_ERR_CANCELLED);
        assert_true(otrp_monotonic_ms() - t0 < PROMPT_MS);
        pthread_join(th, NULL);
    }
    otrp_agent_free(agent);
    fake_daemon_stop(&d);
}

/* ---- limits ---- */

/* A call's max_output of SIZE_MAX (no limit worth the name) must not wrap the frame
 * limit the backend reads the answer with: an 8 KiB answer is read whole. */
static void test_socket_max_output_near_size_max(void **state)
{
    (void)state;
    enum { NAME_LEN = 8192 };
    struct fake_daemon d;
    memset(&d, 0, sizeof d);
    char *name = malloc(NAME_LEN);
    assert_non_null(name);
    memset(name, 'n', NAME_LEN);
    const void *field[1] = {name};
    size_t field_len[1] = {NAME_LEN};
    assert_int_equal(otrp__ta_frame_encode(&d.answer, OTRP_TA_CMD_GET_NAME | OTRP_TA_ANSWER_BIT,
                                           0, 1, field, field_len),
                     OTRP_OK);
    fake_daemon_start(&d, "sockmax");
    void *ctx = NULL;
    assert_int_equal(otrp__socket_open(d.path, &ctx), OTRP_OK);
    otrp_buf out = {0};
    otrp_tee_call tc = {sizeof tc, otrp_monotonic_ms() + 5000, SIZE_MAX, NULL};
    assert_int_equal(otrp__socket_ops.get_name(ctx, &tc, &out), OTRP_OK);
    assert_int_equal(out.len, NAME_LEN);
    otrp__socket_ops.destroy(ctx);
    otrp_buf_free(&out);
    free(name);
    fake_daemon_stop(&d);
}

/* ---- otrp-tee-sim serve and a client that never lets go ---- */

/* Pings of the pinger below: more often than the daemon's idle limit (2 s). */
#define PING_INTERVAL_MS 300u

struct pinger {
    const char *sock;
    int stop;             /* __atomic, set by the test */
    int answers;          /* __atomic: answers received */
    uint64_t started_ms;  /* when it connected */
    uint64_t closed_ms;   /* __atomic: when the daemon closed its connection; 0 before */
    pthread_t th;
};

/* One connection, a GET_NAME every PING_INTERVAL_MS, until stopped or cut off. */
static void *pinger_main(void *arg)
{
    struct pinger *p = arg;
    struct sockaddr_un a;
    unix_addr(&a, p->sock);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        __atomic_store_n(&p->closed_ms, otrp_monotonic_ms(), __ATOMIC_RELEASE);
        return NULL;
    }
    p->started_ms = otrp_monotonic_ms();
    otrp_buf req = {0}, in = {0};
    while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
        otrp__ta_frame answer;
        int eof = 0;
        uint64_t deadline = otrp_monotonic_ms() + 5000;
        if (otrp__ta_frame_encode(&req, OTRP_TA_CMD_GET_NAME, 0, 0, NULL, NULL) != OTRP_OK ||
            otrp__ta_write_all(fd, req.data, req.len, deadline, &p->stop, NULL) != OTRP_OK ||
            otrp__ta_frame_read(fd, &in, 0, deadline, &p->stop, NULL, &answer, &eof) != OTRP_OK) {
            if (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
                __atomic_store_n(&p->closed_ms, otrp_monotonic_ms(), __ATOMIC_RELEASE);
            break;
        }
        __atomic_add_fetch(&p->answers, 1, __ATOMIC_ACQ_REL);
        for (unsigned waited = 0; waited < PING_INTERVAL_MS &&
                                  !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE);
             waited += 10)
            sleep_ms(10);
    }
    otrp_buf_free(&req);
    otrp_buf_free(&in);
    close(fd);
    return NULL;
}

/* Start a pinger and wait for its first answer (it holds a connection from then on). */
static void pinger_start(struct pinger *p, const char *sock)
{
    memset(p, 0, sizeof *p);
    p->sock = sock;
    assert_int_equal(pthread_create(&p->th, NULL, pinger_main, p), 0);
    for (int i = 0; i < 500 && __atomic_load_n(&p->answers, __ATOMIC_ACQUIRE) == 0; i++)
        sleep_ms(10);
    assert_true(__atomic_load_n(&p->answers, __ATOMIC_ACQUIRE) > 0);
}

static void pinger_stop(struct pinger *p)
{
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
    pthread_join(p->th, NULL);
}

/* How long one GET_NAME of a fresh agent-side connection takes; fails on an error. */
static uint64_t timed_get_name(const char *sock, unsigned deadline_ms)
{
    void *ctx = NULL;
    assert_int_equal(otrp__socket_open(sock, &ctx), OTRP_OK);
    otrp_buf out = {0};
    uint64_t t0 = otrp_monotonic_ms();
    otrp_tee_call tc = {sizeof tc, t0 + deadline_ms, 0, NULL};
    otrp_status st = otrp__socket_ops.get_name(ctx, &tc, &out);
    uint64_t took = otrp_monotonic_ms() - t0;
    otrp__socket_ops.destroy(ctx);
    if (st != OTRP_OK)
        fail_msg("get_name after %llu ms: %s", (unsigned long long)took, otrp_status_name(st));
    assert_string_equal((char *)out.data, "mocktee-test");
    otrp_buf_free(&out);
    return took;
}

/* A client that keeps its connection busy (a GET_NAME every 300 ms, well inside the
 * idle limit) does not keep an agent out: the daemon serves connections side by side. */
static void test_socket_daemon_pinger_does_not_lock_out(void **state)
{
    (void)state;
    char dir[512], sock[600];
    pid_t pid = fx_daemon = fx_teedir_daemon(dir, sizeof dir, sock, sizeof sock);
    assert_true(pid > 0);
    struct pinger p;
    pinger_start(&p, sock);
    for (int i = 0; i < 3; i++)
        assert_true(timed_get_name(sock, 3000) < PROMPT_MS);
    assert_int_equal(__atomic_load_n(&p.closed_ms, __ATOMIC_ACQUIRE), 0); /* still served */
    /* SIGTERM with the pinger still connected: a clean, prompt stop */
    uint64_t t0 = otrp_monotonic_ms();
    fx_daemon = -1;
    assert_int_equal(fx_daemon_stop(pid, SIGTERM), 0);
    assert_true(otrp_monotonic_ms() - t0 < PROMPT_MS);
    pinger_stop(&p);
    fx_rm_rf(dir);
}

/* With every connection slot taken by pingers, a connection's lifetime bounds the wait
 * of the next client: the pinger is closed after --connection-lifetime, between two
 * requests, and the agent's call is served then. */
static void test_socket_daemon_connection_lifetime_bounds_the_wait(void **state)
{
    (void)state;
    enum { LIFETIME_MS = 1000 };
    char dir[512], sock[600];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    (void)snprintf(sock, sizeof sock, "%s/tee.sock", dir);
    static const char *const extra[] = {"--max-connections", "1", "--connection-lifetime",
                                        "1000", NULL};
    pid_t pid = fx_daemon = fx_daemon_start_args(dir, sock, extra);
    assert_true(pid > 0);
    struct pinger p;
    pinger_start(&p, sock);
    uint64_t took = timed_get_name(sock, 5000);
    assert_true(took < LIFETIME_MS + PROMPT_MS);
    /* the pinger notices at its next ping */
    uint64_t closed = 0;
    for (int i = 0; i < 200 && (closed = __atomic_load_n(&p.closed_ms, __ATOMIC_ACQUIRE)) == 0; i++)
        sleep_ms(10);
    assert_true(closed != 0);
    assert_true(closed - p.started_ms >= LIFETIME_MS - 50);
    assert_true(closed - p.started_ms < LIFETIME_MS + PROMPT_MS);
    pinger_stop(&p);
    fx_daemon = -1;
    assert_int_equal(fx_daemon_stop(pid, SIGTERM), 0);
    fx_rm_rf(dir);
}

static void test_socket_daemon_refuses_bad_limits(void **state)
{
    (void)state;
    char dir[512], sock[600];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    (void)snprintf(sock, sizeof sock, "%s/tee.sock", dir);
    static const char *const bad[][3] = {{"--max-connections", "0", NULL},
                                         {"--max-connections", "100000", NULL},
                                         {"--connection-lifetime", "0", NULL},
                                         {"--idle-timeout", "x", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fx_daemon_start_args(dir, sock, bad[i]), -1); /* exits at once */
    fx_rm_rf(dir);
}

int main(int argc, char **argv)
{
    (void)argc;
    fx_set_argv0(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_agent_cancel_from_another_thread),
        cmocka_unit_test(test_socket_max_output_near_size_max),
        cmocka_unit_test_teardown(test_socket_daemon_pinger_does_not_lock_out, fx_kill_daemon),
        cmocka_unit_test_teardown(test_socket_daemon_connection_lifetime_bounds_the_wait,
                                  fx_kill_daemon),
        cmocka_unit_test(test_socket_daemon_refuses_bad_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
