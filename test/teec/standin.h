/* A project-written stand-in for libteec (built as libteec.so.2) for the teec backend's
 * tests: the TEEC_* functions the backend uses, with the parameter marshalling of a real
 * implementation (input memrefs copied in, outputs copied out only when they fit,
 * TEEC_ERROR_SHORT_BUFFER with the needed size otherwise), routing each command to a TA
 * that the test installs, plus fault injection. Not shipped. */
#ifndef TEST_TEEC_STANDIN_H
#define TEST_TEEC_STANDIN_H

#include <stddef.h>
#include <stdint.h>

/* Exported from the stand-in (built with -fvisibility=hidden like everything else). */
#define STANDIN_API __attribute__((visibility("default")))

typedef struct standin_field {
    const unsigned char *data; /* the stand-in's copy of an input memref */
    size_t len;
} standin_field;

/* What the TA answers: status 0 (OTRP_OK) with outputs, or an otrp_status with an
 * optional detail in out[0]. Buffers are malloc'd by the TA and freed by the stand-in. */
typedef struct standin_answer {
    uint32_t status;
    unsigned char *out[2];
    size_t out_len[2];
} standin_answer;

typedef void (*standin_ta_fn)(void *user, uint32_t command, const standin_field *in,
                              size_t n_in, standin_answer *answer);

/* Faults, each for the next `count` calls of the kind. */
typedef enum standin_fault {
    STANDIN_FAULT_NONE,
    STANDIN_FAULT_RESULT,        /* invoke returns fault_result/fault_origin, TA not called */
    STANDIN_FAULT_KILL_TA,       /* the TA dies in the invoke: TARGET_DEAD until reopened */
    STANDIN_FAULT_SHORT_NO_GROW, /* SHORT_BUFFER without asking for a larger size */
    STANDIN_FAULT_SHORT_HUGE,    /* SHORT_BUFFER asking for SIZE_MAX / 2 bytes */
    STANDIN_FAULT_SHORT_CREEP,   /* SHORT_BUFFER asking for one byte more each time */
    STANDIN_FAULT_OVERSIZE,      /* success with an output size larger than the buffer */
    STANDIN_FAULT_BLOCK,         /* wait until TEEC_RequestCancellation, then CANCEL */
    STANDIN_FAULT_BLOCK_DEAF,    /* the same, but the first request is lost */
    STANDIN_FAULT_BAD_STATUS     /* a TA-range result with no known otrp_status */
} standin_fault;

typedef struct standin_stats {
    unsigned contexts_open, sessions_open; /* now open */
    unsigned context_inits, session_opens, invokes, ta_calls, cancellations;
    uint32_t last_command, last_param_types;
    uint32_t last_login;
    size_t last_out_size[2];                /* output buffer sizes the client offered */
    uint8_t last_uuid[16];
} standin_stats;

/* Install the TA (NULL: every command fails with TEEC_ERROR_ITEM_NOT_FOUND). Resets
 * faults, results and statistics. */
STANDIN_API void standin_reset(standin_ta_fn ta, void *user);
/* What TEEC_InitializeContext and TEEC_OpenSession return (default TEEC_SUCCESS). */
STANDIN_API void standin_set_init_result(uint32_t result);
STANDIN_API void standin_set_open_result(uint32_t result, uint32_t origin);
/* Inject a fault into the next count invocations. */
STANDIN_API void standin_inject(standin_fault fault, unsigned count, uint32_t result, uint32_t origin);
/* Wait until an invocation blocks (STANDIN_FAULT_BLOCK); 0 when it did within ms. */
STANDIN_API int standin_wait_blocked(unsigned ms);
STANDIN_API standin_stats standin_get_stats(void);

#endif
