/*
 * otrp-tee-sim: the mock TEE as a daemon.
 *   otrp-tee-sim init DIR [--name N] [--key-bits 2048|3072|4096] [--ca-cert F --ca-key F]
 *                         [--tam-uri URI] [--trust F] [--quota BYTES]
 *   otrp-tee-sim serve DIR --listen unix:PATH [--verify-time UNIX_SECONDS]
 * serve answers the frames of otrp/ta_protocol.h, one connection and one request at a
 * time, stops cleanly on SIGTERM/SIGINT (the request in progress is finished) and
 * refuses to run when another TEE instance holds DIR (exit status 3).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include "mocktee/mocktee.h"
#include "mocktee/provision.h"
#include "tee/frame.h"

/* Exit statuses. */
#define EXIT_USAGE 2
#define EXIT_LOCKED 3
/* A client gets this long to send a whole request frame once it started one. */
#define FRAME_TIMEOUT_MS 30000u
/* A connection idle this long between frames is closed: clients queued behind it (one
 * connection is served at a time) must not wait for an idle one. */
#define IDLE_TIMEOUT_MS 2000u
/* The largest TEE answer (the agent's default message limit). */
#define MAX_ANSWER ((size_t)16 * 1024 * 1024)

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int usage_to(FILE *out, int status)
{
    fprintf(out,
            "usage: otrp-tee-sim init DIR [--name N] [--key-bits 2048|3072|4096]\n"
            "                             [--ca-cert F --ca-key F] [--tam-uri URI] [--trust F]\n"
            "                             [--quota BYTES]\n"
            "       otrp-tee-sim serve DIR --listen unix:PATH [--verify-time UNIX_SECONDS]\n");
    return status;
}

static int usage(void)
{
    return usage_to(stderr, EXIT_USAGE);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *dir = argv[0];
    otrp__mock_provision_opts o;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (v == NULL)
            return usage();
        if (strcmp(a, "--name") == 0)
            o.name = v;
        else if (strcmp(a, "--key-bits") == 0 && parse_u64(v, &n) == 0 && n <= 65536)
            o.key_bits = (unsigned)n;
        else if (strcmp(a, "--ca-cert") == 0)
            o.ca_cert = v;
        else if (strcmp(a, "--ca-key") == 0)
            o.ca_key = v;
        else if (strcmp(a, "--tam-uri") == 0)
            o.tam_uri = v;
        else if (strcmp(a, "--trust") == 0)
            o.trust = v;
        else if (strcmp(a, "--quota") == 0 && parse_u64(v, &n) == 0)
            o.quota_bytes = n;
        else
            return usage();
        i++;
    }
    char detail[512] = "";
    otrp_status st = otrp__mock_provision(dir, &o, detail, sizeof detail);
    if (st != OTRP_OK) {
        fprintf(stderr, "otrp-tee-sim: init %s: %s (%s)\n", dir, detail, otrp_status_name(st));
        return 1;
    }
    printf("otrp-tee-sim: provisioned %s\n", dir);
    return 0;
}

/* Bind and listen; refuses a path where a server answers already. */
static int listen_on(const char *path)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) == 0 || strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "otrp-tee-sim: socket path empty or longer than %zu bytes\n",
                sizeof addr.sun_path - 1);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof addr) == 0) {
        close(probe);
        fprintf(stderr, "otrp-tee-sim: another server listens on %s\n", path);
        return -1;
    }
    if (probe >= 0)
        close(probe);
    (void)unlink(path); /* a stale socket of a stopped or killed daemon */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "otrp-tee-sim: cannot listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* 1 when fd has data (or EOF) within ms; 0 on timeout or when stopping. */
static int wait_readable(int fd, unsigned ms)
{
    uint64_t end = otrp_monotonic_ms() + ms;
    while (!g_stop) {
        uint64_t now = otrp_monotonic_ms();
        if (now >= end)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        uint64_t left = end - now;
        int n = poll(&pfd, 1, left < 200 ? (int)left : 200);
        if (n > 0)
            return 1;
    }
    return 0;
}

/* Serve one connection until the client closes it, idles, errs or we are stopped. */
static void serve_connection(otrp__mock *tee, int fd)
{
    otrp_buf in = {0}, answer = {0};
    for (;;) {
        otrp__ta_frame req;
        int eof = 0;
        if (!wait_readable(fd, IDLE_TIMEOUT_MS))
            break;
        uint64_t deadline = otrp_monotonic_ms() + FRAME_TIMEOUT_MS;
        otrp_status st = otrp__ta_frame_read(fd, &in, OTRP_TA_MAX_FRAME, deadline,
                                             (const volatile int *)&g_stop, NULL, &req, &eof);
        if (st == OTRP_ERR_TEE_PROTOCOL || st == OTRP_ERR_TOO_LARGE) {
            if (otrp__ta_encode_failure(&answer, req.command & 0x7FFFu, st,
                                        "malformed or oversize request frame") == OTRP_OK)
                (void)otrp__ta_write_all(fd, answer.data, answer.len, deadline, NULL, NULL);
            break;
        }
        if (st != OTRP_OK)
            break; /* closed, timed out, or stopping */
        st = otrp__ta_serve(&otrp__mock_ops, tee, otrp__mock_last_detail, &req, MAX_ANSWER,
                            &answer);
        if (st != OTRP_OK)
            break;
        if (otrp__ta_write_all(fd, answer.data, answer.len, otrp_monotonic_ms() + FRAME_TIMEOUT_MS,
                               NULL, NULL) != OTRP_OK)
            break;
    }
    otrp_buf_free(&in);
    otrp_buf_free(&answer);
}

static int cmd_serve(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *dir = argv[0];
    const char *listen_arg = NULL;
    otrp_mock_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (v == NULL)
            return usage();
        if (strcmp(argv[i], "--listen") == 0)
            listen_arg = v;
        else if (strcmp(argv[i], "--verify-time") == 0 && parse_u64(v, &n) == 0 &&
                 n < ((uint64_t)1 << 62))
            opts.verify_time = (int64_t)n;
        else
            return usage();
        i++;
    }
    if (listen_arg == NULL || strncmp(listen_arg, "unix:", 5) != 0)
        return usage();
    const char *path = listen_arg + 5;

    otrp__mock *tee = NULL;
    char detail[512] = "";
    otrp_status st = otrp__mock_open(dir, &opts, &tee, detail, sizeof detail);
    if (st != OTRP_OK) {
        fprintf(stderr, "otrp-tee-sim: %s: %s (%s)\n", dir, detail, otrp_status_name(st));
        return st == OTRP_ERR_LOCKED ? EXIT_LOCKED : 1;
    }
    int lfd = listen_on(path);
    if (lfd < 0) {
        otrp__mock_close(tee);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "otrp-tee-sim: TEE \"%s\" serving on %s\n", tee->cfg.name, path);

    while (!g_stop) {
        struct pollfd pfd = {.fd = lfd, .events = POLLIN, .revents = 0};
        int n = poll(&pfd, 1, 200);
        if (n <= 0)
            continue; /* timeout or EINTR: check g_stop */
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0)
            continue;
        serve_connection(tee, cfd);
        close(cfd);
    }
    close(lfd);
    (void)unlink(path);
    otrp__mock_close(tee);
    fprintf(stderr, "otrp-tee-sim: stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return usage_to(stdout, 0);
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(argc - 2, argv + 2);
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 2, argv + 2);
    return usage();
}
