/**
 * \file otrp/adapters/libuv.h
 * \brief Run the non-blocking sessions of an agent (otrp/session.h) on a libuv loop.
 *
 * Header only: include it after <uv.h> and link libuv yourself (`pkg-config --cflags
 * --libs libuv`); libotrp does not depend on libuv.
 *
 *     otrp_uv *u = otrp_uv_new(uv_default_loop(), agent);
 *     ... otrp_session_start(agent, ...); otrp_uv_update(u); ... uv_run(loop, UV_RUN_DEFAULT);
 *     otrp_uv_close(u);       // before otrp_agent_free(); u is freed by the loop
 *
 * After every otrp_agent_perform() the adapter asks otrp_agent_wait_set() again and
 * watches exactly those descriptors (one uv_poll_t each) and that timeout (a uv_timer_t).
 * The watchers are made afresh for every wait set: a descriptor libcurl closed inside
 * otrp_agent_perform() may come back with the same number for another connection, and
 * libuv must never watch a closed descriptor. Call otrp_uv_update() after starting
 * sessions outside a callback of the adapter. The loop runs while sessions do (the
 * watchers are unreferenced when none runs). Done, progress and log callbacks run in the
 * loop's thread.
 */
#ifndef OTRP_ADAPTERS_LIBUV_H
#define OTRP_ADAPTERS_LIBUV_H

#include <poll.h>
#include <stdlib.h>
#include <uv.h>

#include "otrp/session.h"

#define OTRP_UV_MAX_FDS (OTRP_MAX_TEES * OTRP_MAX_QUEUED_SESSIONS * 4 + 1)

typedef struct otrp_uv otrp_uv;

typedef struct otrp_uv__poll {
    uv_poll_t handle;
    otrp_uv *owner;
    size_t index;  /* in owner->set */
} otrp_uv__poll;

struct otrp_uv {
    uv_loop_t *loop;
    otrp_agent *agent;
    uv_timer_t timer;
    int closing;
    size_t count;
    struct pollfd set[OTRP_UV_MAX_FDS];
    otrp_uv__poll *polls[OTRP_UV_MAX_FDS];
};

static inline void otrp_uv__free_poll(uv_handle_t *h)
{
    free(h->data);
}

static inline void otrp_uv__drop_polls(otrp_uv *u)
{
    for (size_t i = 0; i < u->count; i++) {
        if (u->polls[i] == NULL)
            continue;
        uv_poll_stop(&u->polls[i]->handle);
        uv_close((uv_handle_t *)&u->polls[i]->handle, otrp_uv__free_poll);
        u->polls[i] = NULL;
    }
    u->count = 0;
}

static inline void otrp_uv__perform(otrp_uv *u);

static inline void otrp_uv__on_poll(uv_poll_t *h, int status, int events)
{
    otrp_uv__poll *p = (otrp_uv__poll *)h->data;
    otrp_uv *u = p->owner;
    u->set[p->index].revents = (short)(status < 0 ? POLLERR
                                                  : ((events & UV_READABLE) ? POLLIN : 0) |
                                                        ((events & UV_WRITABLE) ? POLLOUT : 0));
    otrp_uv__perform(u);
}

static inline void otrp_uv__on_timer(uv_timer_t *t)
{
    otrp_uv__perform((otrp_uv *)t->data);
}

/** Watch what agent waits for now. Call after starting sessions outside the loop's
 *  callbacks; the adapter calls it after every perform. */
static inline void otrp_uv_update(otrp_uv *u)
{
    if (u->closing)
        return;
    otrp_uv__drop_polls(u);
    size_t n = 0;
    int ms = -1;
    if (otrp_agent_wait_set(u->agent, u->set, OTRP_UV_MAX_FDS, &n, &ms) != 0)
        n = OTRP_UV_MAX_FDS;
    int running = otrp_agent_sessions_running(u->agent) > 0;
    for (size_t i = 0; i < n; i++) {
        otrp_uv__poll *p = (otrp_uv__poll *)calloc(1, sizeof *p);
        if (p == NULL || uv_poll_init(u->loop, &p->handle, u->set[i].fd) != 0) {
            free(p);
            continue; /* the timeout below still brings the next perform */
        }
        p->owner = u;
        p->index = i;
        p->handle.data = p;
        u->polls[i] = p;
        int ev = ((u->set[i].events & POLLIN) ? UV_READABLE : 0) |
                 ((u->set[i].events & POLLOUT) ? UV_WRITABLE : 0);
        uv_poll_start(&p->handle, ev, otrp_uv__on_poll);
        if (!running)
            uv_unref((uv_handle_t *)&p->handle);
    }
    u->count = n;
    if (ms >= 0)
        uv_timer_start(&u->timer, otrp_uv__on_timer, (uint64_t)ms, 0);
    else
        uv_timer_stop(&u->timer);
    if (running)
        uv_ref((uv_handle_t *)&u->timer);
    else
        uv_unref((uv_handle_t *)&u->timer);
}

static inline void otrp_uv__perform(otrp_uv *u)
{
    otrp_agent_perform(u->agent, u->set, u->count);
    for (size_t i = 0; i < u->count; i++)
        u->set[i].revents = 0;
    otrp_uv_update(u);
}

/** An adapter driving agent's sessions on loop; NULL when out of memory. */
static inline otrp_uv *otrp_uv_new(uv_loop_t *loop, otrp_agent *agent)
{
    otrp_uv *u = (otrp_uv *)calloc(1, sizeof *u);
    if (u == NULL)
        return NULL;
    u->loop = loop;
    u->agent = agent;
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    otrp_uv_update(u);
    return u;
}

static inline void otrp_uv__free_adapter(uv_handle_t *h)
{
    free(h->data);
}

/** Stop watching; the adapter's memory goes once the loop ran its close callbacks. */
static inline void otrp_uv_close(otrp_uv *u)
{
    u->closing = 1;
    otrp_uv__drop_polls(u);
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, otrp_uv__free_adapter);
}

#endif /* OTRP_ADAPTERS_LIBUV_H */
