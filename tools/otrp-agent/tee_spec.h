/* otrp-agent: turning a --tee KIND:ARG argument into a TEE handle. Which kinds there
 * are is decided at build time: mock only with OTRP_AGENT_WITH_MOCKTEE (make
 * WITH_MOCKTEE=1, the default), socket and teec always. */
#ifndef OTRP_AGENT_CLI_TEE_SPEC_H
#define OTRP_AGENT_CLI_TEE_SPEC_H

#include <stddef.h>
#include <stdio.h>

#include "otrp/otrp.h"

/* Open the backend that spec names ("mock:DIR", "socket:PATH", "teec:UUID").
 * On failure detail (detail_cap bytes) says why. */
otrp_status cli_open_tee(const char *spec, otrp_tee **out, char *detail, size_t detail_cap);

/* The --help lines of the kinds this binary has, one per kind. */
void cli_print_tee_kinds(FILE *out);

#endif
