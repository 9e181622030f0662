/*
 * Reading an OTrP message the way the agent needs it: the outer structure strictly,
 * and from the unverified JWS payload only the fields routing needs.
 *
 * The outer message is {"<Name>": <JWS>} with a flattened JWS (payload, protected,
 * header?, signature) or a general one with exactly one signature. The payload is
 * decoded piecewise and read only until rid, tid and tee (requests) or rid, tid and
 * status (TEE answers) are known; the rest of a large payload is not decoded by the
 * agent (the TEE, which checks the signature over it, does). The outer structure is
 * still read whole and strictly: the payload's end is found with memchr (a base64url
 * string holds no quote), and every member after it is read as a full read would.
 *
 * Names are read as the text they spell, escapes resolved and up to a \u0000 as
 * strcmp reads them: the message name, the JWS members and the routing fields are
 * matched that way, and duplicates found that way (util/json_scan.h), so an escaped
 * spelling ("\u0070rotected") is the same name to every check and to the TEE.
 */
#ifndef OTRP_AGENT_ROUTE_H
#define OTRP_AGENT_ROUTE_H

#include <stddef.h>

#include "agent/tbs_scan.h"
#include "otrp/status.h"

typedef enum otrp__direction {
    OTRP__TAM_REQUEST,  /* a TAM request handed to otrp_agent_process */
    OTRP__TEE_ANSWER    /* one TEE answer ({"...Response": JWS}) */
} otrp__direction;

typedef struct otrp__route {
    const char *name;       /* outer name, e.g. "InstallTARequest" */
    const char *tbs_name;   /* signed name, e.g. "InstallTATBSRequest" */
    int get_device_state;   /* GetDeviceStateRequest / GetDeviceTEEStateResponse */
    otrp__tbs_fields fields;
    size_t payload_bytes_read; /* decoded payload bytes the agent looked at */
} otrp__route;

/* Read msg; on failure the status names the defect and detail says where. */
otrp_status otrp__route_read(const char *msg, size_t len, otrp__direction dir,
                             otrp__route *route, char *detail, size_t detail_cap);

#endif
