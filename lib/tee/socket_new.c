/* The public constructor of the socket backend (kept apart so that programs using only
 * the internal ops do not need the agent's otrp_tee_new). */
#include "otrp/backends.h"
#include "tee/socket.h"

otrp_status otrp_tee_socket_new(const char *path, otrp_tee **out)
{
    *out = NULL;
    void *ctx = NULL;
    otrp_status st = otrp__socket_open(path, &ctx);
    if (st != OTRP_OK)
        return st;
    return otrp_tee_new(&otrp__socket_ops, ctx, out);
}
