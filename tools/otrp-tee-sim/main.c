/*
 * otrp-tee-sim: the mock TEE as a daemon.
 *   otrp-tee-sim init DIR [--name N] [--key-bits 2048|3072|4096] [--ca-cert F --ca-key F]
 *                         [--tam-uri URI] [--trust F] [--quota BYTES]
 *   otrp-tee-sim serve DIR --listen unix:PATH [--verify-time UNIX_SECONDS]
 *                         [--max-connections N] [--idle-timeout MS]
 *                         [--connection-lifetime MS]
 * serve answers the frames of otrp/ta_protocol.h on up to --max-connections connections
 * at once, one thread each; the TEE operations themselves run one at a time (one lock:
 * the mock TEE's state, and the dsihash protocol, want them serialized). A connection is
 * closed when it idles longer than --idle-timeout between requests or has lived longer
 * than --connection-lifetime (checked between requests, never during one), so that no
 * client, however busy it keeps its connection, holds a slot for long. It stops cleanly
 * on SIGTERM/SIGINT (the requests in progress are finished) and refuses to run when
 * another TEE instance holds DIR (exit status 3).
 */
#include <errno.h>
#include <pthread.h>
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
/* A client gets this long to send a whole request frame once it started one, and to
 * take the whole answer. */
#define FRAME_TIMEOUT_MS 30000u
/* Defaults of the connection limits (serve options). Idle: an agent makes a fresh
 * connection per operation, so a connection idle between requests is of no use to it.
 * Lifetime: a whole session's worth of requests on one connection, yet short enough that
 * the next client waits little when every slot is taken. */
#define DEFAULT_IDLE_TIMEOUT_MS 2000u
#define DEFAULT_LIFETIME_MS 60000u
#define DEFAULT_MAX_CONNECTIONS 8u
/* Bounds of the options: a day, and more threads than a test device should run. */
#define MAX_TIMEOUT_MS 86400000u
#define MAX_CONNECTIONS 64u
/* How often waiting loops look at the stop flag. */
#define STOP_POLL_MS 200
/* The largest TEE answer (the agent's default message limit). */
#define MAX_ANSWER ((size_t)16 * 1024 * 1024)

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    /* Read by every connection thread (through the frame functions' cancel flag). */
    __atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
}

static int stopping(void)
{
    return __atomic_load_n(&g_stop, __ATOMIC_ACQUIRE) != 0;
}

static int usage_to(FILE *out, int status)
{
    fprintf(out,
            "usage: otrp-tee-sim init DIR [--name N] [--key-bits 2048|3072|4096]\n"
            "                             [--ca-cert F --ca-key F] [--tam-uri URI] [--trust F]\n"
            "                             [--quota BYTES]\n"
            "       otrp-tee-sim serve DIR --listen unix:PATH [--verify-time UNIX_SECONDS]\n"
            "                              [--max-connections N] [--idle-timeout MS]\n"
            "                              [--connection-lifetime MS]\n"
            "serve: up to N connections at once (default %u), TEE operations one at a\n"
            "time; a connection idle MS between requests (default %u) or older than MS\n"
            "(default %u, checked between requests) is closed.\n",
            DEFAULT_MAX_CONNECTIONS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_LIFETIME_MS);
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
static int wait_readable(int fd, uint64_t ms)
{
    uint64_t end = otrp_monotonic_ms() + ms;
    while (!stopping()) {
        uint64_t now = otrp_monotonic_ms();
        if (now >= end)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        uint64_t left = end - now;
        int n = poll(&pfd, 1, left < STOP_POLL_MS ? (int)left : STOP_POLL_MS);
        if (n > 0)
            return 1;
    }
    return 0;
}

struct serve_limits {
    unsigned max_connections;
    unsigned idle_timeout_ms;
    unsigned lifetime_ms;
};

/* What the connection threads share. */
struct server {
    otrp__mock *tee;
    pthread_mutex_t tee_lock; /* held for every TEE operation */
    struct serve_limits limits;
};

struct connection {
    struct server *srv;
    int fd;
    int used;     /* a thread was started and not joined yet (main thread only) */
    int finished; /* __atomic: the thread is done with fd */
    pthread_t th;
};

/* Run one request frame on the TEE, under the lock (one operation at a time). */
static otrp_status serve_request(struct server *srv, const otrp__ta_frame *req, otrp_buf *answer)
{
    pthread_mutex_lock(&srv->tee_lock);
    otrp_status st = otrp__ta_serve(&otrp__mock_ops, srv->tee, otrp__mock_last_detail, req,
                                    MAX_ANSWER, answer);
    pthread_mutex_unlock(&srv->tee_lock);
    return st;
}

/* Serve one connection until the client closes it, idles, errs, outlives its lifetime
 * or we are stopped. */
static void serve_connection(struct server *srv, int fd)
{
    const struct serve_limits *lim = &srv->limits;
    otrp_buf in = {0}, answer = {0};
    uint64_t end_of_life = otrp_monotonic_ms() + lim->lifetime_ms;
    for (;;) {
        uint64_t now = otrp_monotonic_ms();
        if (now >= end_of_life)
            break;
        uint64_t idle = end_of_life - now < lim->idle_timeout_ms ? end_of_life - now
                                                                  : lim->idle_timeout_ms;
        if (!wait_readable(fd, idle))
            break;
        otrp__ta_frame req;
        int eof = 0;
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
        if (serve_request(srv, &req, &answer) != OTRP_OK)
            break;
        if (otrp__ta_write_all(fd, answer.data, answer.len, otrp_monotonic_ms() + FRAME_TIMEOUT_MS,
                               NULL, NULL) != OTRP_OK)
            break;
    }
    otrp_buf_free(&in);
    otrp_buf_free(&answer);
}

static void *connection_main(void *arg)
{
    struct connection *c = arg;
    serve_connection(c->srv, c->fd);
    close(c->fd);
    __atomic_store_n(&c->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Join the threads that are done (all of them when wait_all, as at a stop); the
 * number of connections still open. */
static unsigned reap(struct connection *conns, unsigned n, int wait_all)
{
    unsigned open = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!conns[i].used)
            continue;
        if (!wait_all && !__atomic_load_n(&conns[i].finished, __ATOMIC_ACQUIRE)) {
            open++;
            continue;
        }
        pthread_join(conns[i].th, NULL);
        conns[i].used = 0;
    }
    return open;
}

/* Start a thread for a new connection in a free slot; closes fd when there is none. */
static void start_connection(struct server *srv, struct connection *conns, int fd)
{
    for (unsigned i = 0; i < srv->limits.max_connections; i++) {
        struct connection *c = &conns[i];
        if (c->used)
            continue;
        c->srv = srv;
        c->fd = fd;
        c->finished = 0;
        if (pthread_create(&c->th, NULL, connection_main, c) != 0)
            break;
        c->used = 1;
        return;
    }
    close(fd);
}

/* Accept until stopped. A full house is not accepted from: the clients wait in the
 * listen backlog (their own deadlines bound that) until a slot frees. */
static void accept_loop(struct server *srv, int lfd)
{
    struct connection conns[MAX_CONNECTIONS];
    memset(conns, 0, sizeof conns);
    unsigned n = srv->limits.max_connections;
    while (!stopping()) {
        if (reap(conns, n, 0) == n) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd pfd = {.fd = lfd, .events = POLLIN, .revents = 0};
        if (poll(&pfd, 1, STOP_POLL_MS) <= 0)
            continue; /* timeout or EINTR: check the stop flag */
        int cfd = accept(lfd, NULL, NULL);
        if (cfd >= 0)
            start_connection(srv, conns, cfd);
    }
    (void)reap(conns, n, 1);
}

/* A serve option's number within 1..max; -1 when it is not one. */
static int parse_limit(const char *v, uint64_t max, unsigned *out)
{
    uint64_t n = 0;
    if (parse_u64(v, &n) != 0 || n == 0 || n > max)
        return -1;
    *out = (unsigned)n;
    return 0;
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
    struct serve_limits limits = {DEFAULT_MAX_CONNECTIONS, DEFAULT_IDLE_TIMEOUT_MS,
                                  DEFAULT_LIFETIME_MS};
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
        else if (strcmp(argv[i], "--max-connections") == 0 &&
                 parse_limit(v, MAX_CONNECTIONS, &limits.max_connections) == 0)
            ;
        else if (strcmp(argv[i], "--idle-timeout") == 0 &&
                 parse_limit(v, MAX_TIMEOUT_MS, &limits.idle_timeout_ms) == 0)
            ;
        else if (strcmp(argv[i], "--connection-lifetime") == 0 &&
                 parse_limit(v, MAX_TIMEOUT_MS, &limits.lifetime_ms) == 0)
            ;
        else
            return usage();
        i++;
    }
    if (listen_arg == NULL || strncmp(listen_arg, "unix:", 5) != 0)
        return usage();
    const char *path = listen_arg + 5;

    struct server srv;
    memset(&srv, 0, sizeof srv);
    srv.limits = limits;
    char detail[512] = "";
    otrp_status st = otrp__mock_open(dir, &opts, &srv.tee, detail, sizeof detail);
    if (st != OTRP_OK) {
        fprintf(stderr, "otrp-tee-sim: %s: %s (%s)\n", dir, detail, otrp_status_name(st));
        return st == OTRP_ERR_LOCKED ? EXIT_LOCKED : 1;
    }
    int lfd = listen_on(path);
    if (lfd < 0) {
        otrp__mock_close(srv.tee);
        return 1;
    }
    pthread_mutex_init(&srv.tee_lock, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "otrp-tee-sim: TEE \"%s\" serving on %s (%u connections at most)\n",
            srv.tee->cfg.name, path, limits.max_connections);

    accept_loop(&srv, lfd);
    close(lfd);
    (void)unlink(path);
    pthread_mutex_destroy(&srv.tee_lock);
    otrp__mock_close(srv.tee);
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
