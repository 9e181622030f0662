/**
 * \file otrp/adapters/glib.h
 * \brief Run the non-blocking sessions of an agent (otrp/session.h) on a GLib main loop.
 *
 * Header only: include it after <glib.h> and link GLib yourself (`pkg-config --cflags
 * --libs glib-2.0`); libotrp does not depend on GLib.
 *
 *     GSource *src = otrp_glib_source_new(agent);
 *     g_source_attach(src, NULL);      // the default main context
 *     ... otrp_session_start(agent, ...) ... g_main_loop_run(loop) ...
 *     g_source_destroy(src); g_source_unref(src);   // before otrp_agent_free()
 *
 * The source asks otrp_agent_wait_set() before each poll of the context (prepare), and
 * calls otrp_agent_perform() when one of its descriptors is ready or its timeout came
 * (dispatch): the done, progress and log callbacks of the sessions run there, on the
 * thread that iterates the context. The agent must outlive the source.
 */
#ifndef OTRP_ADAPTERS_GLIB_H
#define OTRP_ADAPTERS_GLIB_H

#include <poll.h>
#include <glib.h>

#include "otrp/session.h"

/* Descriptors one wait set may hold (see otrp_agent_wait_set()). */
#define OTRP_GLIB_MAX_FDS (OTRP_MAX_TEES * OTRP_MAX_QUEUED_SESSIONS * 4 + 1)

typedef struct otrp_glib_source {
    GSource source;
    otrp_agent *agent;
    size_t count;                        /* entries of set and polls in use */
    struct pollfd set[OTRP_GLIB_MAX_FDS];
    GPollFD polls[OTRP_GLIB_MAX_FDS];
    gint64 expiry_us;                    /* g_source_get_time() of the timeout; -1 none */
} otrp_glib_source;

static inline gboolean otrp_glib__prepare(GSource *source, gint *timeout)
{
    otrp_glib_source *s = (otrp_glib_source *)source;
    for (size_t i = 0; i < s->count; i++)
        g_source_remove_poll(source, &s->polls[i]);
    size_t n = 0;
    int ms = -1;
    if (otrp_agent_wait_set(s->agent, s->set, OTRP_GLIB_MAX_FDS, &n, &ms) != 0)
        n = OTRP_GLIB_MAX_FDS; /* cannot happen (the bound above): wait on what fits */
    s->count = n;
    for (size_t i = 0; i < n; i++) {
        s->polls[i].fd = s->set[i].fd;
        /* GLib's G_IO_IN/OUT/ERR/HUP are the poll() flags on every Unix. */
        s->polls[i].events = (gushort)s->set[i].events;
        s->polls[i].revents = 0;
        g_source_add_poll(source, &s->polls[i]);
    }
    s->expiry_us = ms < 0 ? -1 : g_source_get_time(source) + (gint64)ms * 1000;
    *timeout = ms;
    return ms == 0;
}

static inline gboolean otrp_glib__check(GSource *source)
{
    otrp_glib_source *s = (otrp_glib_source *)source;
    for (size_t i = 0; i < s->count; i++)
        if (s->polls[i].revents != 0)
            return TRUE;
    return s->expiry_us >= 0 && g_source_get_time(source) >= s->expiry_us;
}

static inline gboolean otrp_glib__dispatch(GSource *source, GSourceFunc callback, gpointer user)
{
    (void)callback;
    (void)user;
    otrp_glib_source *s = (otrp_glib_source *)source;
    for (size_t i = 0; i < s->count; i++)
        s->set[i].revents = (short)s->polls[i].revents;
    otrp_agent_perform(s->agent, s->set, s->count);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs otrp_glib__funcs = {otrp_glib__prepare, otrp_glib__check,
                                        otrp_glib__dispatch, NULL, NULL, NULL};

/** A GSource that drives agent's sessions; attach it to a GMainContext. Never NULL. */
static inline GSource *otrp_glib_source_new(otrp_agent *agent)
{
    GSource *source = g_source_new(&otrp_glib__funcs, sizeof(otrp_glib_source));
    otrp_glib_source *s = (otrp_glib_source *)source;
    s->agent = agent;
    s->count = 0;
    s->expiry_us = -1;
    g_source_set_name(source, "otrp-agent");
    return source;
}

#endif /* OTRP_ADAPTERS_GLIB_H */
