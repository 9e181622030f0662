/*
 * The teec backend against a real libteec (OP-TEE's, from optee-client-dev) on a machine
 * without a TEE: built and run by the cross leg (make cross-aarch64), under qemu.
 * - At compile time: the backend's own GP declarations (lib/tee/teec_gp.h) agree with
 *   the real tee_client_api.h in every constant, public field and size that matters.
 * - At run time: the real library says "no TEE" (TEEC_ERROR_ITEM_NOT_FOUND), and the
 *   backend turns that into OTRP_ERR_TEE_UNAVAILABLE with a clear detail, both when told
 *   which library to load and with its default search.
 */
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <tee_client_api.h>

#include "otrp/teec.h"
#include "tee/teec_gp.h"

#define SAME(ours, theirs) _Static_assert((ours) == (theirs), #ours " differs from " #theirs)
SAME(OTRP__TEEC_SUCCESS, TEEC_SUCCESS);
SAME(OTRP__TEEC_ERROR_GENERIC, TEEC_ERROR_GENERIC);
SAME(OTRP__TEEC_ERROR_ACCESS_DENIED, TEEC_ERROR_ACCESS_DENIED);
SAME(OTRP__TEEC_ERROR_CANCEL, TEEC_ERROR_CANCEL);
SAME(OTRP__TEEC_ERROR_BAD_PARAMETERS, TEEC_ERROR_BAD_PARAMETERS);
SAME(OTRP__TEEC_ERROR_BAD_STATE, TEEC_ERROR_BAD_STATE);
SAME(OTRP__TEEC_ERROR_ITEM_NOT_FOUND, TEEC_ERROR_ITEM_NOT_FOUND);
SAME(OTRP__TEEC_ERROR_NOT_IMPLEMENTED, TEEC_ERROR_NOT_IMPLEMENTED);
SAME(OTRP__TEEC_ERROR_NOT_SUPPORTED, TEEC_ERROR_NOT_SUPPORTED);
SAME(OTRP__TEEC_ERROR_OUT_OF_MEMORY, TEEC_ERROR_OUT_OF_MEMORY);
SAME(OTRP__TEEC_ERROR_BUSY, TEEC_ERROR_BUSY);
SAME(OTRP__TEEC_ERROR_COMMUNICATION, TEEC_ERROR_COMMUNICATION);
SAME(OTRP__TEEC_ERROR_SECURITY, TEEC_ERROR_SECURITY);
SAME(OTRP__TEEC_ERROR_SHORT_BUFFER, TEEC_ERROR_SHORT_BUFFER);
SAME(OTRP__TEEC_ERROR_TARGET_DEAD, TEEC_ERROR_TARGET_DEAD);
SAME(OTRP__TEEC_ORIGIN_API, TEEC_ORIGIN_API);
SAME(OTRP__TEEC_ORIGIN_COMMS, TEEC_ORIGIN_COMMS);
SAME(OTRP__TEEC_ORIGIN_TEE, TEEC_ORIGIN_TEE);
SAME(OTRP__TEEC_ORIGIN_TRUSTED_APP, TEEC_ORIGIN_TRUSTED_APP);
SAME(OTRP__TEEC_LOGIN_PUBLIC, TEEC_LOGIN_PUBLIC);
SAME(OTRP__TEEC_NONE, TEEC_NONE);
SAME(OTRP__TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_INPUT);
SAME(OTRP__TEEC_MEMREF_TEMP_OUTPUT, TEEC_MEMREF_TEMP_OUTPUT);
SAME(OTRP__TEEC_PARAM_TYPES(5, 6, 0, 7), TEEC_PARAM_TYPES(5, 6, 0, 7));
SAME(OTRP__TEEC_PARAMS, TEEC_CONFIG_PAYLOAD_REF_COUNT);

/* The caller allocates these: ours must be at least as large and as aligned. */
_Static_assert(sizeof(otrp__teec_context) >= sizeof(TEEC_Context), "context room");
_Static_assert(alignof(otrp__teec_context) >= alignof(TEEC_Context), "context alignment");
_Static_assert(sizeof(otrp__teec_session) >= sizeof(TEEC_Session), "session room");
_Static_assert(alignof(otrp__teec_session) >= alignof(TEEC_Session), "session alignment");
_Static_assert(sizeof(otrp__teec_operation) >= sizeof(TEEC_Operation), "operation room");
_Static_assert(alignof(otrp__teec_operation) >= alignof(TEEC_Operation), "operation alignment");
/* What the backend reads and writes must sit where the implementation has it. */
SAME(sizeof(otrp__teec_uuid), sizeof(TEEC_UUID));
SAME(offsetof(otrp__teec_uuid, time_mid), offsetof(TEEC_UUID, timeMid));
SAME(offsetof(otrp__teec_uuid, time_hi_and_version), offsetof(TEEC_UUID, timeHiAndVersion));
SAME(offsetof(otrp__teec_uuid, clock_seq_and_node), offsetof(TEEC_UUID, clockSeqAndNode));
SAME(sizeof(otrp__teec_parameter), sizeof(TEEC_Parameter));
SAME(offsetof(otrp__teec_tmpref, size), offsetof(TEEC_TempMemoryReference, size));
SAME(offsetof(otrp__teec_operation, started), offsetof(TEEC_Operation, started));
SAME(offsetof(otrp__teec_operation, param_types), offsetof(TEEC_Operation, paramTypes));
SAME(offsetof(otrp__teec_operation, params), offsetof(TEEC_Operation, params));

#define UUID "8aaaf200-2450-11e4-abe2-0002a5d5c51b"

static void test_teec_real_libteec_reports_no_tee(void **state)
{
    (void)state;
    TEEC_Context ctx;
    memset(&ctx, 0, sizeof ctx);
    /* The environment: a real libteec, and no /dev/tee0. */
    assert_int_equal(TEEC_InitializeContext(NULL, &ctx), TEEC_ERROR_ITEM_NOT_FOUND);
}

static otrp_status open_with(const char *library, char *detail, size_t cap, otrp_tee **tee)
{
    otrp_teec_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.library = library;
    o.detail = detail;
    o.detail_cap = cap;
    return otrp_tee_teec_new_opts(UUID, &o, tee);
}

static void test_teec_real_no_tee_is_tee_unavailable(void **state)
{
    (void)state;
    char detail[256];
    otrp_tee *tee = NULL;
    assert_int_equal(open_with("libteec.so.1", detail, sizeof detail, &tee),
                     OTRP_ERR_TEE_UNAVAILABLE);
    assert_null(tee);
    assert_non_null(strstr(detail, "no TEE reachable"));
    assert_non_null(strstr(detail, "TEEC_InitializeContext"));
    assert_non_null(strstr(detail, "ITEM_NOT_FOUND"));
    /* The default search (libteec.so.2 is not there, libteec.so.1 is) ends the same way. */
    assert_int_equal(open_with(NULL, detail, sizeof detail, &tee), OTRP_ERR_TEE_UNAVAILABLE);
    assert_non_null(strstr(detail, "ITEM_NOT_FOUND"));
    assert_int_equal(otrp_tee_teec_new(UUID, &tee), OTRP_ERR_TEE_UNAVAILABLE);
    assert_null(tee);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_teec_real_libteec_reports_no_tee),
        cmocka_unit_test(test_teec_real_no_tee_is_tee_unavailable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
