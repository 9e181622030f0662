/*
 * The mock TEE behind a counting, timing wrapper: the same TEE as otrp_tee_mock_new(),
 * with every call the agent makes counted and the time spent in ProcessOTrPMessage
 * summed (end-to-end tests check "no TEE call was made"; bench/session splits the time).
 */
#ifndef TEST_MOCK_WRAP_H
#define TEST_MOCK_WRAP_H

#include <stdint.h>

#include "otrp/tee.h"

typedef struct mock_wrap {
    unsigned first_calls;        /* RequestTA, UnrequestTA, RequestPolicyCheck */
    unsigned process_calls;      /* ProcessOTrPMessage */
    unsigned process_error_calls;
    uint64_t process_ns;         /* time inside ProcessOTrPMessage */
} mock_wrap;

/* Open the mock TEE of dir (verify_time as otrp_mock_options; 0: now). *counters stays
 * valid until the agent frees the TEE; read it only from the thread using the agent. */
otrp_status mock_wrap_new(const char *dir, int64_t verify_time, otrp_tee **out,
                          mock_wrap **counters);

#endif
