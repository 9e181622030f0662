/*
 * A small HTTP CONNECT proxy for tests, on 127.0.0.1 and an ephemeral port, one thread
 * per connection (its first 16 connections; later ones are not accepted). It tunnels CONNECT requests to 127.0.0.1 targets only, answers any
 * other request (a plain-HTTP proxy request, a CONNECT elsewhere) with 403, and counts
 * what it saw, so that a test can tell whether a session went through it.
 */
#ifndef OTRP_TEST_CONNECT_PROXY_H
#define OTRP_TEST_CONNECT_PROXY_H

typedef struct connect_proxy connect_proxy;

/* Start the proxy; NULL when it cannot listen. */
connect_proxy *connect_proxy_start(void);

/* "http://127.0.0.1:PORT", valid until connect_proxy_stop(). */
const char *connect_proxy_url(const connect_proxy *p);

/* Connections accepted so far, and CONNECT tunnels set up (the target answered). */
unsigned connect_proxy_connections(connect_proxy *p);
unsigned connect_proxy_tunnels(connect_proxy *p);

/* Close the listener and every connection, join every thread, free. NULL is allowed. */
void connect_proxy_stop(connect_proxy *p);

#endif
