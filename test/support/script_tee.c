#include "script_tee.h"

#include "otrp/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static otrp_status script_get_name(void *ctx, const otrp_tee_call *call, otrp_buf *name)
{
    (void)call;
    script_tee *s = ctx;
    s->name_calls++;
    if (s->name_fails)
        return OTRP_ERR_TEE_FAIL;
    return otrp_buf_append_str(name, s->name);
}

static otrp_status script_process(void *ctx, const otrp_tee_call *call, const char *msg,
                                  size_t len, otrp_buf *out)
{
    script_tee *s = ctx;
    s->process_calls++;
    s->last_thread = pthread_self();
    if (s->delay_ms > 0)
        sleep_ms(s->delay_ms);
    s->last_msg = msg;
    s->last_len = len;
    s->last_deadline_ms = call->deadline_ms;
    s->last_max_output = call->max_output;
    if (s->busy_times > 0) {
        s->busy_times--;
        return OTRP_ERR_TEE_BUSY;
    }
    switch (s->mode) {
    case SCRIPT_NO_DATA:
        return OTRP_OK;
    case SCRIPT_FAIL:
        if (s->cancel_agent != NULL) /* as another thread would, while the call runs */
            otrp_agent_cancel(s->cancel_agent);
        return s->fail_status;
    case SCRIPT_HANG: {
        uint64_t now = otrp_monotonic_ms();
        if (call->deadline_ms > now)
            sleep_ms((unsigned)(call->deadline_ms - now) + s->hang_ms);
        return otrp_buf_append_str(out, s->answer != NULL ? s->answer : "{}");
    }
    case SCRIPT_GARBAGE:
        return otrp_buf_append(out, "\x01\xfe garbage \x00 bytes", 19);
    case SCRIPT_HUGE: {
        char chunk[4096];
        memset(chunk, 'x', sizeof chunk);
        for (;;) {
            otrp_status st = otrp_buf_append(out, chunk, sizeof chunk);
            if (st != OTRP_OK)
                return st;
        }
    }
    case SCRIPT_ANSWER:
    default:
        return otrp_buf_append_str(out, s->answer != NULL ? s->answer : "");
    }
}

static otrp_status script_describe(void *ctx, const otrp_tee_call *call, otrp_buf *json)
{
    (void)call;
    script_tee *s = ctx;
    char text[160];
    (void)snprintf(text, sizeof text, "{\"name\":\"%s\",\"scripted\":true}", s->name);
    return otrp_buf_append_str(json, text);
}

static otrp_status script_first(script_tee *s, const char *taid, const char *hint,
                                otrp_buf *tam_uri, otrp_buf *msg)
{
    s->first_calls++;
    s->last_thread = pthread_self();
    (void)snprintf(s->last_taid, sizeof s->last_taid, "%s", taid != NULL ? taid : "");
    (void)snprintf(s->last_hint, sizeof s->last_hint, "%s", hint != NULL ? hint : "");
    if (s->first_status != OTRP_OK)
        return s->first_status;
    otrp_status st = OTRP_OK;
    if (s->first_uri != NULL)
        st = otrp_buf_append(tam_uri, s->first_uri,
                             s->first_uri_len != 0 ? s->first_uri_len : strlen(s->first_uri));
    if (st == OTRP_OK && s->first_msg != NULL)
        st = otrp_buf_append_str(msg, s->first_msg);
    return st;
}

static otrp_status script_request_ta(void *ctx, const otrp_tee_call *call, const char *taid,
                                     const char *hint, otrp_buf *tam_uri, otrp_buf *msg)
{
    (void)call;
    return script_first(ctx, taid, hint, tam_uri, msg);
}

static otrp_status script_policy_check(void *ctx, const otrp_tee_call *call, const char *hint,
                                       otrp_buf *tam_uri, otrp_buf *msg)
{
    (void)call;
    return script_first(ctx, NULL, hint, tam_uri, msg);
}

static otrp_status script_process_error(void *ctx, const otrp_tee_call *call)
{
    (void)call;
    script_tee *s = ctx;
    s->process_error_calls++;
    return OTRP_OK;
}

static otrp_status script_ta_information(void *ctx, const otrp_tee_call *call,
                                         const char *spid, const char *taid, otrp_buf *out)
{
    (void)call;
    (void)spid;
    script_tee *s = ctx;
    if (s->known_taid != NULL && strcmp(taid, s->known_taid) == 0)
        return otrp_buf_append_str(out, s->info_answer);
    return s->info_status != OTRP_OK ? s->info_status : OTRP_ERR_NOT_FOUND;
}

static const char *script_last_error(void *ctx)
{
    const script_tee *s = ctx;
    return s->error_text != NULL ? s->error_text : "";
}

static void script_destroy(void *ctx)
{
    script_tee *s = ctx;
    if (s->destroyed_flag != NULL)
        *s->destroyed_flag = 1;
    free(s);
}

static const struct otrp_tee_ops SCRIPT_OPS = {
    .struct_size = sizeof(struct otrp_tee_ops),
    .kind = "script",
    .get_name = script_get_name,
    .process_message = script_process,
    .request_ta = script_request_ta,
    .unrequest_ta = script_request_ta,
    .policy_check = script_policy_check,
    .process_error = script_process_error,
    .ta_information = script_ta_information,
    .describe = script_describe,
    .destroy = script_destroy,
    .last_error = script_last_error,
};

static const struct otrp_tee_ops SCRIPT_OPS_NO_DESCRIBE = {
    .struct_size = sizeof(struct otrp_tee_ops),
    .kind = "script",
    .get_name = script_get_name,
    .process_message = script_process,
    .destroy = script_destroy,
};

otrp_tee *script_tee_new_ex(const char *name, int with_describe, script_tee **script)
{
    script_tee *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    (void)snprintf(s->name, sizeof s->name, "%s", name);
    s->mode = SCRIPT_ANSWER;
    otrp_tee *tee = NULL;
    if (otrp_tee_new(with_describe ? &SCRIPT_OPS : &SCRIPT_OPS_NO_DESCRIBE, s, &tee) != OTRP_OK)
        return NULL;
    *script = s;
    return tee;
}

otrp_tee *script_tee_new(const char *name, script_tee **script)
{
    return script_tee_new_ex(name, 1, script);
}
