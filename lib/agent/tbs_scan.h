/*
 * A streaming reader of the signed JSON inside a JWS payload ({"<Name>TBS...": {...}}).
 * It is fed decoded payload bytes piece by piece, keeps no copy of them, validates the
 * JSON grammar as far as it reads, checks the signed message name, and captures the few
 * top-level fields the agent routes on. It can stop as soon as those fields are known,
 * so routing a 16 MiB InstallTA does not read the TA.
 */
#ifndef OTRP_AGENT_TBS_SCAN_H
#define OTRP_AGENT_TBS_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "otrp/status.h"

/* The longest rid, tid, tee or status value the agent reads (longer is malformed). */
#define OTRP__FIELD_MAX 256
/* Deep enough for any OTrP message; the bit stack below holds one bit per level. */
#define OTRP__TBS_MAX_DEPTH 64

typedef enum otrp__field {
    OTRP__FIELD_RID,
    OTRP__FIELD_TID,
    OTRP__FIELD_TEE,
    OTRP__FIELD_STATUS,
    OTRP__FIELD_COUNT
} otrp__field;

#define OTRP__FIELD_BIT(f) (1u << (f))

typedef struct otrp__tbs_fields {
    char value[OTRP__FIELD_COUNT][OTRP__FIELD_MAX + 1];
    unsigned present; /* OTRP__FIELD_BIT() set */
} otrp__tbs_fields;

typedef struct otrp__tbs_scanner {
    /* set by otrp__tbs_init */
    const char *expected_name; /* the signed name, e.g. "InstallTATBSRequest" */
    unsigned wanted;           /* stop early once all these fields are present */
    otrp__tbs_fields *fields;
    char *detail;
    size_t detail_cap;
    /* results */
    int satisfied;             /* every wanted field was found: reading may stop */
    int complete;              /* the whole signed JSON was read and is well-formed */
    /* private state */
    int state;
    int depth;
    uint64_t stack;            /* bit d set: the container at depth d+1 is an object */
    int depth1_members;
    int pending_field;         /* field whose value comes next, or -1 */
    int capture_field;         /* field being captured, or -1 */
    size_t capture_len;
    int capture_bad;
    int string_is_key;
    char key[48];
    size_t key_len;
    int num_state;
    const char *literal;
    size_t literal_pos;
    int u_digits;
    unsigned long u_value;
    unsigned long u_high;
    size_t offset;             /* decoded bytes consumed, for messages */
} otrp__tbs_scanner;

void otrp__tbs_init(otrp__tbs_scanner *sc, const char *expected_name, unsigned wanted,
                    otrp__tbs_fields *fields, char *detail, size_t detail_cap);

/* Feed n decoded bytes. Returns OTRP_OK (read more unless sc->satisfied) or the
 * status of the first defect: OTRP_ERR_MSG_PAYLOAD, OTRP_ERR_MSG_NAME_MISMATCH,
 * OTRP_ERR_MSG_FIELD, OTRP_ERR_MSG_DUPLICATE, OTRP_ERR_MSG_DEPTH. */
otrp_status otrp__tbs_feed(otrp__tbs_scanner *sc, const char *data, size_t n);

/* The payload ended: OTRP_OK when the signed JSON was complete. */
otrp_status otrp__tbs_finish(otrp__tbs_scanner *sc);

#endif
