#include "tee_spec.h"

#include <stdio.h>
#include <string.h>

#include "otrp/backends.h"
#include "otrp/mocktee.h"

otrp_status cli_open_tee(const char *spec, otrp_tee **out, char *detail, size_t detail_cap)
{
    *out = NULL;
    detail[0] = '\0';
    const char *colon = strchr(spec, ':');
    if (colon == NULL || colon[1] == '\0') {
        (void)snprintf(detail, detail_cap, "--tee wants KIND:ARG (mock:DIR, socket:PATH), not '%s'",
                       spec);
        return OTRP_ERR_INVALID_ARG;
    }
    const char *arg = colon + 1;
    size_t kind_len = (size_t)(colon - spec);
    if (kind_len == 4 && strncmp(spec, "mock", 4) == 0) {
        otrp_mock_options opts;
        memset(&opts, 0, sizeof opts);
        opts.struct_size = sizeof opts;
        opts.detail = detail;
        opts.detail_cap = detail_cap;
        return otrp_tee_mock_new_opts(arg, &opts, out);
    }
    if (kind_len == 6 && strncmp(spec, "socket", 6) == 0) {
        otrp_status st = otrp_tee_socket_new(arg, out);
        if (st != OTRP_OK)
            (void)snprintf(detail, detail_cap, "socket path '%s' is not usable", arg);
        return st;
    }
    (void)snprintf(detail, detail_cap, "unknown TEE kind '%.*s' (mock, socket)", (int)kind_len, spec);
    return OTRP_ERR_INVALID_ARG;
}
