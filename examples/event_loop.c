/*
 * event_loop: serve several TA requests at once from one thread, on a poll() loop.
 *
 * Each TEE (here: TEE daemons on Unix sockets, the socket backend) gets its own
 * non-blocking session (otrp/session.h); the one loop waits on what all sessions wait
 * on and never blocks in the agent. An app's main loop or a middleware daemon does the
 * same with its own loop (GLib, libuv: include/otrp/adapters/).
 *
 * Build against an installed libotrp:
 *     cc event_loop.c $(pkg-config --cflags --libs otrp) -o event_loop
 * Run (one TEE daemon per socket, e.g. otrp-tee-sim serve DIR --listen unix:SOCK):
 *     ./event_loop [--cacert CA.pem] https://tam.example/tam ta1 /run/tee0.sock ...
 * Exit status 0 when every request succeeded.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <otrp/otrp.h>

#define MAX_REQUESTS OTRP_MAX_TEES
/* Room for every descriptor a wait set can hold (see otrp_agent_wait_set()). */
#define MAX_FDS (OTRP_MAX_TEES * OTRP_MAX_QUEUED_SESSIONS * 4 + 1)

typedef struct request {
    const char *socket;
    otrp_session *session;
    otrp_status result;
    int ended;
} request;

static void on_done(void *user, otrp_session *session, otrp_status result)
{
    request *r = user;
    r->result = result;
    r->ended = 1;
    printf("%s: %s%s%s\n", r->socket, otrp_status_name(result), result ? ": " : "",
           result ? otrp_session_last_error(session) : "");
}

int main(int argc, char **argv)
{
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    if (argc > 2 && strcmp(argv[1], "--cacert") == 0) {
        cfg.ca_file = argv[2]; /* the TAM's CA instead of the system store */
        argc -= 2;
        argv += 2;
    }
    if (argc < 4 || argc - 3 > MAX_REQUESTS) {
        fprintf(stderr, "usage: event_loop [--cacert FILE] TAM_URI TAID SOCKET... (1 to %d "
                        "TEE sockets)\n", MAX_REQUESTS);
        return 2;
    }
    const char *tam_uri = argv[1], *taid = argv[2];
    size_t n = (size_t)(argc - 3);
    otrp_agent *agent = NULL;
    otrp_status st = otrp_agent_new(&cfg, &agent);
    for (size_t i = 0; st == OTRP_OK && i < n; i++) {
        otrp_tee *tee = NULL;
        st = otrp_tee_socket_new(argv[3 + i], &tee);
        if (st == OTRP_OK)
            st = otrp_agent_add_tee(agent, tee);
    }
    if (st != OTRP_OK) {
        fprintf(stderr, "setup: %s: %s\n", otrp_status_name(st),
                agent != NULL ? otrp_agent_last_error(agent) : "");
        otrp_agent_free(agent);
        return 1;
    }
    request req[MAX_REQUESTS];
    memset(req, 0, sizeof req);
    size_t running = 0;
    for (size_t i = 0; i < n; i++) {
        otrp_session_params p;
        otrp_session_params_init(&p);
        p.operation = OTRP_OP_REQUEST_TA;
        p.taid = taid;
        p.tam_uri = tam_uri;
        p.tee_index = (int)i; /* one session per TEE: they run side by side */
        p.done = on_done;
        p.user = &req[i];
        req[i].socket = argv[3 + i];
        st = otrp_session_start(agent, &p, &req[i].session);
        if (st != OTRP_OK) {
            req[i].ended = 1;
            req[i].result = st;
            fprintf(stderr, "%s: %s: %s\n", req[i].socket, otrp_status_name(st),
                    otrp_agent_last_error(agent));
            continue;
        }
        running++;
    }
    /* The loop: ask what to wait for, wait, tell the agent what happened. */
    struct pollfd fds[MAX_FDS];
    while (otrp_agent_sessions_running(agent) > 0 || running > 0) {
        size_t count = 0;
        int timeout = -1;
        if (otrp_agent_wait_set(agent, fds, MAX_FDS, &count, &timeout) != OTRP_OK)
            break; /* cannot happen: MAX_FDS holds every wait set */
        if (poll(fds, (nfds_t)count, timeout) < 0)
            perror("poll");
        otrp_agent_perform(agent, fds, count);
        running = 0;
        for (size_t i = 0; i < n; i++)
            running += !req[i].ended;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        failed |= req[i].result != OTRP_OK;
        otrp_session_free(req[i].session);
    }
    otrp_agent_free(agent);
    return failed;
}
