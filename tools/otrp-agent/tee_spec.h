/* otrp-agent: turning a --tee KIND:ARG argument into a TEE handle. */
#ifndef OTRP_AGENT_CLI_TEE_SPEC_H
#define OTRP_AGENT_CLI_TEE_SPEC_H

#include <stddef.h>

#include "otrp/otrp.h"

/* Open the backend that spec names ("mock:DIR", "socket:PATH", "teec:UUID").
 * On failure detail (detail_cap bytes) says why. */
otrp_status cli_open_tee(const char *spec, otrp_tee **out, char *detail, size_t detail_cap);

#endif
