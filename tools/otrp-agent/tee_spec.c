#include "tee_spec.h"

#include <stdio.h>
#include <string.h>

#include "otrp/backends.h"
#include "otrp/teec.h"

#ifndef OTRP_AGENT_WITH_MOCKTEE
#  define OTRP_AGENT_WITH_MOCKTEE 0
#endif
#if OTRP_AGENT_WITH_MOCKTEE
#  include "otrp/mocktee.h"
#endif

/* One --tee KIND this binary can open. */
struct tee_kind {
    const char *name;
    const char *arg;  /* what follows "KIND:" */
    const char *what; /* one line for --help */
    otrp_status (*open)(const char *arg, otrp_tee **out, char *detail, size_t detail_cap);
};

#if OTRP_AGENT_WITH_MOCKTEE
static otrp_status open_mock(const char *arg, otrp_tee **out, char *detail, size_t detail_cap)
{
    otrp_mock_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.detail = detail;
    opts.detail_cap = detail_cap;
    return otrp_tee_mock_new_opts(arg, &opts, out);
}
#endif

static otrp_status open_socket(const char *arg, otrp_tee **out, char *detail, size_t detail_cap)
{
    otrp_status st = otrp_tee_socket_new(arg, out);
    if (st != OTRP_OK)
        (void)snprintf(detail, detail_cap, "socket path '%s' is not usable", arg);
    return st;
}

static otrp_status open_teec(const char *arg, otrp_tee **out, char *detail, size_t detail_cap)
{
    otrp_teec_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.detail = detail;
    opts.detail_cap = detail_cap;
    return otrp_tee_teec_new_opts(arg, &opts, out);
}

static const struct tee_kind KINDS[] = {
#if OTRP_AGENT_WITH_MOCKTEE
    {"mock", "DIR", "the mock TEE of a provisioning directory, in process", open_mock},
#endif
    {"socket", "PATH", "a TEE daemon on a Unix socket (otrp-tee-sim serve)", open_socket},
    {"teec", "UUID", "the OTrP TA UUID through the GP TEE Client API (libteec)", open_teec},
};
#define KIND_COUNT (sizeof KINDS / sizeof KINDS[0])

/* "mock:DIR, socket:PATH, teec:UUID" (with_arg) or "mock, socket, teec". */
static void kind_list(char *out, size_t cap, int with_arg)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < KIND_COUNT && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%s%s%s", i > 0 ? ", " : "", KINDS[i].name,
                         with_arg ? ":" : "", with_arg ? KINDS[i].arg : "");
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

void cli_print_tee_kinds(FILE *out)
{
    for (size_t i = 0; i < KIND_COUNT; i++) {
        char spec[32];
        (void)snprintf(spec, sizeof spec, "%s:%s", KINDS[i].name, KINDS[i].arg);
        fprintf(out, "        %-12s %s\n", spec, KINDS[i].what);
    }
    if (!OTRP_AGENT_WITH_MOCKTEE)
        fputs("        (built without the mock TEE, WITH_MOCKTEE=0: no mock:DIR)\n", out);
}

otrp_status cli_open_tee(const char *spec, otrp_tee **out, char *detail, size_t detail_cap)
{
    *out = NULL;
    detail[0] = '\0';
    char kinds[128];
    const char *colon = strchr(spec, ':');
    if (colon == NULL || colon[1] == '\0') {
        kind_list(kinds, sizeof kinds, 1);
        (void)snprintf(detail, detail_cap, "--tee wants KIND:ARG (%s), not '%s'", kinds, spec);
        return OTRP_ERR_INVALID_ARG;
    }
    size_t kind_len = (size_t)(colon - spec);
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (strlen(KINDS[i].name) == kind_len && strncmp(spec, KINDS[i].name, kind_len) == 0)
            return KINDS[i].open(colon + 1, out, detail, detail_cap);
    }
    kind_list(kinds, sizeof kinds, 0);
    if (kind_len == 4 && strncmp(spec, "mock", 4) == 0)
        (void)snprintf(detail, detail_cap,
                       "this otrp-agent is built without the mock TEE (TEE kinds: %s)", kinds);
    else
        (void)snprintf(detail, detail_cap, "unknown TEE kind '%.*s' (%s)", (int)kind_len, spec,
                       kinds);
    return OTRP_ERR_INVALID_ARG;
}
