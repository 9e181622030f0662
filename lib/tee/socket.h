/* The socket backend's internals, for tests that run it without an agent. */
#ifndef OTRP_TEE_SOCKET_H
#define OTRP_TEE_SOCKET_H

#include "otrp/tee.h"

extern const struct otrp_tee_ops otrp__socket_ops;

/* Make the backend context for path (see otrp_tee_socket_new for the statuses). */
otrp_status otrp__socket_open(const char *path, void **ctx);

#endif
