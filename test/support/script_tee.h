/* A scripted in-process TEE backend for tests: it answers what the test tells it to,
 * fails, is busy N times, hangs past the deadline or returns garbage, and records how
 * it was called. Not shipped. */
#ifndef TEST_SCRIPT_TEE_H
#define TEST_SCRIPT_TEE_H

#include <pthread.h>
#include <stddef.h>

#include "otrp/tee.h"

typedef enum script_mode {
    SCRIPT_ANSWER,   /* answer the configured text */
    SCRIPT_NO_DATA,  /* answer nothing */
    SCRIPT_FAIL,     /* return fail_status */
    SCRIPT_HANG,     /* sleep until hang_ms past the deadline, then answer */
    SCRIPT_GARBAGE,  /* answer bytes that are not JSON */
    SCRIPT_HUGE      /* try to answer more than the agent allows */
} script_mode;

typedef struct script_tee {
    /* set by the test */
    char name[64];
    script_mode mode;
    const char *answer;        /* for SCRIPT_ANSWER (not copied) */
    otrp_status fail_status;   /* for SCRIPT_FAIL */
    struct otrp_agent *cancel_agent; /* SCRIPT_FAIL: otrp_agent_cancel() it first (NULL: no) */
    unsigned busy_times;       /* answer OTRP_ERR_TEE_BUSY this many times first */
    unsigned hang_ms;          /* for SCRIPT_HANG */
    unsigned delay_ms;         /* process_message sleeps this long first (a slow TEE) */
    int name_fails;            /* get_name returns OTRP_ERR_TEE_FAIL */
    const char *error_text;    /* what last_error() returns after a failure (NULL: "") */
    /* session entry points (RequestTA, UnrequestTA, RequestPolicyCheck) */
    const char *first_uri;     /* TAM URI they return (NULL: none) */
    size_t first_uri_len;      /* its length, for bytes with a NUL (0: strlen) */
    const char *first_msg;     /* first message they return (NULL: none) */
    otrp_status first_status;  /* their status */
    /* recorded */
    unsigned process_calls;
    unsigned name_calls;
    pthread_t last_thread;     /* the thread of the last session call (first or process) */
    const char *last_msg;      /* the pointer the agent passed (zero-copy check) */
    size_t last_len;
    unsigned long long last_deadline_ms;
    size_t last_max_output;
    const char *known_taid;    /* ta_information answers info_answer for this TA */
    const char *info_answer;
    otrp_status info_status;   /* ta_information's status for other TAs (NOT_FOUND) */
    unsigned first_calls;
    unsigned process_error_calls;
    char last_taid[64];
    char last_hint[256];
    int *destroyed_flag;       /* set to 1 when the agent destroys the TEE */
} script_tee;

/* A TEE handle around a new script_tee named name; *script lets the test steer it
 * (owned by the handle; valid until the agent frees the TEE). */
otrp_tee *script_tee_new(const char *name, script_tee **script);

/* The same, with or without the optional describe() operation. */
otrp_tee *script_tee_new_ex(const char *name, int with_describe, script_tee **script);

#endif
