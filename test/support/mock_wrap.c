/* The counting, timing wrapper around the mock TEE; see mock_wrap.h. */
#include <stdlib.h>
#include <time.h>

#include "mock_wrap.h"
#include "mocktee/mocktee.h"

struct wrap {
    mock_wrap counters;
    otrp__mock *tee;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static otrp_status w_get_name(void *ctx, const otrp_tee_call *call, otrp_buf *name)
{
    struct wrap *w = ctx;
    return otrp__mock_ops.get_name(w->tee, call, name);
}

static otrp_status w_process(void *ctx, const otrp_tee_call *call, const char *msg, size_t len,
                             otrp_buf *out)
{
    struct wrap *w = ctx;
    uint64_t t0 = now_ns();
    otrp_status st = otrp__mock_ops.process_message(w->tee, call, msg, len, out);
    w->counters.process_ns += now_ns() - t0;
    w->counters.process_calls++;
    return st;
}

static otrp_status w_request_ta(void *ctx, const otrp_tee_call *call, const char *taid,
                                const char *hint, otrp_buf *uri, otrp_buf *msg)
{
    struct wrap *w = ctx;
    w->counters.first_calls++;
    return otrp__mock_ops.request_ta(w->tee, call, taid, hint, uri, msg);
}

static otrp_status w_unrequest_ta(void *ctx, const otrp_tee_call *call, const char *taid,
                                  const char *hint, otrp_buf *uri, otrp_buf *msg)
{
    struct wrap *w = ctx;
    w->counters.first_calls++;
    return otrp__mock_ops.unrequest_ta(w->tee, call, taid, hint, uri, msg);
}

static otrp_status w_policy_check(void *ctx, const otrp_tee_call *call, const char *hint,
                                  otrp_buf *uri, otrp_buf *msg)
{
    struct wrap *w = ctx;
    w->counters.first_calls++;
    return otrp__mock_ops.policy_check(w->tee, call, hint, uri, msg);
}

static otrp_status w_process_error(void *ctx, const otrp_tee_call *call)
{
    struct wrap *w = ctx;
    w->counters.process_error_calls++;
    return otrp__mock_ops.process_error(w->tee, call);
}

static otrp_status w_ta_information(void *ctx, const otrp_tee_call *call, const char *spid,
                                    const char *taid, otrp_buf *out)
{
    struct wrap *w = ctx;
    return otrp__mock_ops.ta_information(w->tee, call, spid, taid, out);
}

static otrp_status w_describe(void *ctx, const otrp_tee_call *call, otrp_buf *json)
{
    struct wrap *w = ctx;
    return otrp__mock_ops.describe(w->tee, call, json);
}

static const char *w_last_error(void *ctx)
{
    struct wrap *w = ctx;
    return otrp__mock_ops.last_error(w->tee);
}

static void w_destroy(void *ctx)
{
    struct wrap *w = ctx;
    otrp__mock_ops.destroy(w->tee);
    free(w);
}

static const struct otrp_tee_ops wrap_ops = {
    .struct_size = sizeof(struct otrp_tee_ops),
    .kind = "mock",
    .get_name = w_get_name,
    .process_message = w_process,
    .request_ta = w_request_ta,
    .unrequest_ta = w_unrequest_ta,
    .policy_check = w_policy_check,
    .process_error = w_process_error,
    .ta_information = w_ta_information,
    .describe = w_describe,
    .cancel = NULL,
    .destroy = w_destroy,
    .last_error = w_last_error,
};

otrp_status mock_wrap_new(const char *dir, int64_t verify_time, otrp_tee **out,
                          mock_wrap **counters)
{
    *out = NULL;
    struct wrap *w = calloc(1, sizeof *w);
    if (w == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_mock_options o = {0};
    o.struct_size = sizeof o;
    o.verify_time = verify_time;
    otrp_status st = otrp__mock_open(dir, &o, &w->tee, NULL, 0);
    if (st != OTRP_OK) {
        free(w);
        return st;
    }
    *counters = &w->counters;
    return otrp_tee_new(&wrap_ops, w, out); /* the handle owns w (also on failure) */
}
