/* The teec backend: the operations of struct otrp_tee_ops as TEEC_InvokeCommand calls
 * on an OTrP TA, with the command table and parameter layout of otrp/ta_protocol.h.
 * libteec is loaded at run time (lib/tee/teec_load.c); nothing here includes its header. */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otrp/ta_protocol.h"
#include "otrp/teec.h"
#include "tee/teec_internal.h"
#include "util/mem.h"

/* First size of an output buffer: names and URIs fit; an OTrP answer (a few KiB) costs
 * one SHORT_BUFFER round the first time, after which the grown buffer is kept, so later
 * answers of that size need one invocation. */
#define TEEC_FIRST_OUTPUT 1024u
/* A TA that keeps answering SHORT_BUFFER after this many rounds is not growing towards
 * an answer (each round must ask for more than the last). */
#define TEEC_MAX_SHORT_ROUNDS 8
/* The detail text a failing TA may return in params[2] (OTRP_TA_MAX_DETAIL). */
#define TEEC_DETAIL_MAX OTRP_TA_MAX_DETAIL
/* Output limit when the agent passes none. */
#define TEEC_DEFAULT_LIMIT ((size_t)16 * 1024 * 1024)

/* A zero-length input still points somewhere: some libteec versions refuse NULL. */
static const unsigned char empty_field[1];

typedef struct field_in {
    const void *data;
    size_t len;
} field_in;

/* One command: its inputs and where its outputs go. */
typedef struct exchange {
    uint32_t command;
    field_in in[OTRP_TA_MAX_FIELDS];
    size_t n_in;
    otrp_buf *out[OTRP_TA_MAX_FIELDS];
    size_t n_out;
} exchange;

/* Explain the failure of the running operation (ops->last_error). */
static void say(otrp__teec *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(otrp__teec *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(t->detail, sizeof t->detail, fmt, ap);
    va_end(ap);
}

/* ---- scratch buffers ---- */

static otrp_status scratch_reserve(otrp__teec *t, size_t index, size_t size)
{
    if (size <= t->scratch_cap[index])
        return OTRP_OK;
    unsigned char *p = malloc(size);
    if (p == NULL)
        return OTRP_ERR_NO_MEMORY;
    if (t->scratch[index] != NULL) {
        otrp__memzero(t->scratch[index], t->scratch_cap[index]);
        free(t->scratch[index]);
    }
    t->scratch[index] = p;
    t->scratch_cap[index] = size;
    return OTRP_OK;
}

/* ---- session ---- */

static otrp_status open_session(otrp__teec *t)
{
    uint32_t origin = 0;
    otrp__teec_operation op;
    memset(&op, 0, sizeof op);
    op.param_types = OTRP__TEEC_PARAM_TYPES(OTRP__TEEC_NONE, OTRP__TEEC_NONE, OTRP__TEEC_NONE,
                                            OTRP__TEEC_NONE);
    memset(&t->session, 0, sizeof t->session);
    otrp__teec_result r = t->api.open_session(&t->context, &t->session, &t->uuid,
                                              OTRP__TEEC_LOGIN_PUBLIC, NULL, &op, &origin);
    if (r == OTRP__TEEC_SUCCESS) {
        t->have_session = 1;
        return OTRP_OK;
    }
    otrp_status st = OTRP_ERR_TEE_FAIL;
    const char *why = "the TEE refused the session";
    if (r == OTRP__TEEC_ERROR_ITEM_NOT_FOUND) {
        st = OTRP_ERR_TEE_UNAVAILABLE;
        why = "the OTrP TA is not installed in this TEE";
    } else if (r == OTRP__TEEC_ERROR_BUSY) {
        st = OTRP_ERR_TEE_BUSY;
        why = "the TEE is busy";
    }
    say(t, "%s (TA %s; TEEC_OpenSession: %s 0x%08x, origin %s)", why, t->uuid_text,
        otrp__teec_result_name(r), (unsigned)r, otrp__teec_origin_name(origin));
    return st;
}

static void close_session(otrp__teec *t)
{
    if (t->have_session) {
        t->api.close_session(&t->session);
        t->have_session = 0;
    }
}

/* ---- one invocation ---- */

/* Run TEEC_InvokeCommand with op, visible to the cancel hook and the deadline watch
 * while it runs. The cancel flag is read after op is published: either the hook sees op
 * and cancels it, or this thread sees the flag and does not start (the hook sets the
 * flag first). *timed_out: the watch cancelled it because the deadline passed. */
static otrp__teec_result invoke_once(otrp__teec *t, const otrp_tee_call *call, uint32_t command,
                                     otrp__teec_operation *op, uint32_t *origin, int *timed_out)
{
    *origin = OTRP__TEEC_ORIGIN_API;
    op->started = 0; /* GP: lets TEEC_RequestCancellation reach an operation not yet started */
    if (call->deadline_ms != 0)
        otrp__teec_watch_start(t);
    pthread_mutex_lock(&t->cancel_lock);
    t->running = op;
    t->running_deadline = call->deadline_ms;
    t->timed_out = 0;
    t->cancel_wanted = 0;
    if (call->deadline_ms != 0)
        pthread_cond_signal(&t->watch_wake);
    pthread_mutex_unlock(&t->cancel_lock);
    otrp__teec_result r = OTRP__TEEC_ERROR_CANCEL;
    if (!otrp_tee_call_cancelled(call))
        r = t->api.invoke_command(&t->session, command, op, origin);
    pthread_mutex_lock(&t->cancel_lock);
    t->running = NULL;
    *timed_out = t->timed_out;
    pthread_mutex_unlock(&t->cancel_lock);
    return r;
}

/* Fill op for x; each output offers its buffer, but never more than limit, so an answer
 * above the limit comes back as SHORT_BUFFER with its size instead of being written. */
static void setup_operation(otrp__teec *t, const exchange *x, size_t limit,
                            otrp__teec_operation *op)
{
    memset(op, 0, sizeof *op);
    uint32_t types[OTRP__TEEC_PARAMS] = {OTRP__TEEC_NONE, OTRP__TEEC_NONE, OTRP__TEEC_NONE,
                                         OTRP__TEEC_NONE};
    for (size_t i = 0; i < x->n_in; i++) {
        types[i] = OTRP__TEEC_MEMREF_TEMP_INPUT;
        /* TEEC takes void * for inputs too and does not write them. */
        op->params[i].tmpref.buffer =
            (void *)(uintptr_t)(x->in[i].len > 0 ? x->in[i].data : empty_field);
        op->params[i].tmpref.size = x->in[i].len;
    }
    for (size_t i = 0; i < x->n_out; i++) {
        types[2 + i] = OTRP__TEEC_MEMREF_TEMP_OUTPUT;
        t->offered[i] = t->scratch_cap[i] < limit ? t->scratch_cap[i] : limit;
        op->params[2 + i].tmpref.buffer = t->scratch[i];
        op->params[2 + i].tmpref.size = t->offered[i];
    }
    op->param_types = OTRP__TEEC_PARAM_TYPES(types[0], types[1], types[2], types[3]);
}

/* A TA failure: its status, and the detail text it may have put in params[2]. */
static otrp_status ta_failure(otrp__teec *t, otrp__teec_result r,
                              const otrp__teec_operation *op, size_t n_out)
{
    uint32_t value = OTRP_TA_TEEC_STATUS(r);
    otrp_status st = (otrp_status)value;
    if (value == 0 || strcmp(otrp_status_name(st), "UNKNOWN") == 0) {
        say(t, "the TA answered result 0x%08x, which carries no known status", (unsigned)r);
        return OTRP_ERR_TEE_PROTOCOL;
    }
    size_t len = 0;
    if (n_out > 0) {
        len = op->params[2].tmpref.size;
        if (len > t->offered[0])
            len = 0; /* a detail that does not fit is no detail */
        if (len > TEEC_DETAIL_MAX)
            len = TEEC_DETAIL_MAX;
    }
    char text[TEEC_DETAIL_MAX + 1];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = t->scratch[0][i];
        text[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?'; /* one printable line */
    }
    text[len] = '\0';
    say(t, "the TA reported %s%s%s", otrp_status_name(st), len > 0 ? ": " : "", text);
    return st;
}

/* After SHORT_BUFFER: grow each output the TA asked more room for. */
static otrp_status grow_outputs(otrp__teec *t, const otrp__teec_operation *op, size_t n_out,
                                size_t limit)
{
    int grown = 0;
    for (size_t i = 0; i < n_out; i++) {
        size_t needed = op->params[2 + i].tmpref.size;
        if (needed <= t->offered[i])
            continue;
        if (needed > limit) {
            say(t, "the TA needs %zu bytes for output %zu; the limit is %zu", needed, i + 1,
                limit);
            return OTRP_ERR_TOO_LARGE;
        }
        otrp_status st = scratch_reserve(t, i, needed);
        if (st != OTRP_OK)
            return st;
        grown = 1;
    }
    if (!grown) {
        say(t, "the TA answered SHORT_BUFFER without asking for a larger buffer");
        return OTRP_ERR_TEE_PROTOCOL;
    }
    return OTRP_OK;
}

/* Copy the outputs of a successful invocation into the caller's buffers. */
static otrp_status take_outputs(otrp__teec *t, const exchange *x,
                                const otrp__teec_operation *op)
{
    for (size_t i = 0; i < x->n_out; i++) {
        size_t len = op->params[2 + i].tmpref.size;
        if (len > t->offered[i]) {
            say(t, "the TA reported %zu bytes in output %zu of %zu bytes", len, i + 1,
                t->offered[i]);
            return OTRP_ERR_TEE_PROTOCOL;
        }
        otrp_buf_reset(x->out[i]);
        otrp_status st = otrp_buf_append(x->out[i], t->scratch[i], len);
        if (st == OTRP_ERR_TOO_LARGE)
            say(t, "output %zu of %zu bytes exceeds the caller's limit", i + 1, len);
        if (st != OTRP_OK)
            return st;
    }
    return OTRP_OK;
}

static otrp_status map_result(otrp__teec *t, otrp__teec_result r, uint32_t origin)
{
    otrp_status st = OTRP_ERR_TEE_FAIL;
    if (r == OTRP__TEEC_ERROR_BUSY)
        st = OTRP_ERR_TEE_BUSY;
    else if (r == OTRP__TEEC_ERROR_CANCEL)
        st = OTRP_ERR_CANCELLED;
    else if (r == OTRP__TEEC_ERROR_BAD_PARAMETERS && origin == OTRP__TEEC_ORIGIN_TRUSTED_APP)
        st = OTRP_ERR_TEE_PROTOCOL; /* the TA does not speak ta_protocol.h */
    say(t, "TEEC_InvokeCommand: %s 0x%08x, origin %s (TA %s)", otrp__teec_result_name(r),
        (unsigned)r, otrp__teec_origin_name(origin), t->uuid_text);
    return st;
}

static size_t output_limit(const otrp_tee_call *call, const exchange *x)
{
    size_t limit = call->max_output != 0 ? call->max_output : TEEC_DEFAULT_LIMIT;
    for (size_t i = 0; i < x->n_out; i++)
        if (x->out[i]->max != 0 && x->out[i]->max < limit)
            limit = x->out[i]->max;
    return limit;
}

static otrp_status run(otrp__teec *t, const otrp_tee_call *call, const exchange *x)
{
    size_t limit = output_limit(call, x);
    for (size_t i = 0; i < x->n_out; i++) {
        size_t first = limit < TEEC_FIRST_OUTPUT ? limit : TEEC_FIRST_OUTPUT;
        otrp_status st = scratch_reserve(t, i, first > 0 ? first : 1);
        if (st != OTRP_OK)
            return st;
    }
    int reopened = 0;
    int short_rounds = 0;
    for (;;) {
        if (otrp_tee_call_cancelled(call))
            return OTRP_ERR_CANCELLED;
        if (call->deadline_ms != 0 && otrp_monotonic_ms() > call->deadline_ms) {
            say(t, "the deadline passed before the command could be sent");
            return OTRP_ERR_TIMEOUT;
        }
        if (!t->have_session) {
            otrp_status st = open_session(t);
            if (st != OTRP_OK)
                return st;
        }
        otrp__teec_operation op;
        setup_operation(t, x, limit, &op);
        uint32_t origin = 0;
        int timed_out = 0;
        otrp__teec_result r = invoke_once(t, call, x->command, &op, &origin, &timed_out);
        if (r == OTRP__TEEC_ERROR_CANCEL && timed_out && !otrp_tee_call_cancelled(call)) {
            say(t, "no answer by the deadline; the command was cancelled (TA %s)", t->uuid_text);
            return OTRP_ERR_TIMEOUT;
        }
        if (r == OTRP__TEEC_SUCCESS)
            return take_outputs(t, x, &op);
        if (OTRP_TA_TEEC_IS_STATUS(r) && origin == OTRP__TEEC_ORIGIN_TRUSTED_APP)
            return ta_failure(t, r, &op, x->n_out);
        if (r == OTRP__TEEC_ERROR_SHORT_BUFFER) {
            if (x->n_out == 0) {
                say(t, "the TA answered SHORT_BUFFER to a command without outputs");
                return OTRP_ERR_TEE_PROTOCOL;
            }
            if (++short_rounds > TEEC_MAX_SHORT_ROUNDS) {
                say(t, "the TA keeps answering SHORT_BUFFER (%d rounds)", short_rounds);
                return OTRP_ERR_TEE_PROTOCOL;
            }
            otrp_status st = grow_outputs(t, &op, x->n_out, limit);
            if (st != OTRP_OK)
                return st;
            continue;
        }
        if (r == OTRP__TEEC_ERROR_TARGET_DEAD) {
            close_session(t);
            if (!reopened) {
                reopened = 1; /* the TA crashed or was restarted: one new session */
                continue;
            }
            say(t, "the TA died again after its session was reopened (TA %s, origin %s)",
                t->uuid_text, otrp__teec_origin_name(origin));
            return OTRP_ERR_TEE_FAIL;
        }
        if (r == OTRP__TEEC_ERROR_CANCEL && !otrp_tee_call_cancelled(call)) {
            say(t, "the TEE cancelled the command by itself (origin %s)",
                otrp__teec_origin_name(origin));
            return OTRP_ERR_TEE_FAIL;
        }
        return map_result(t, r, origin);
    }
}

static otrp_status exchange_run(void *ctx, const otrp_tee_call *call, const exchange *x)
{
    otrp__teec *t = ctx;
    t->detail[0] = '\0';
    return run(t, call, x);
}

/* ---- the operations ---- */

static field_in text_field(const char *s)
{
    field_in f = {s, s != NULL ? strlen(s) : 0};
    return f;
}

static otrp_status op_get_name(void *ctx, const otrp_tee_call *call, otrp_buf *name)
{
    exchange x = {.command = OTRP_TA_CMD_GET_NAME, .out = {name}, .n_out = 1};
    return exchange_run(ctx, call, &x);
}

static otrp_status op_process_message(void *ctx, const otrp_tee_call *call, const char *msg,
                                      size_t len, otrp_buf *out)
{
    exchange x = {.command = OTRP_TA_CMD_PROCESS_MESSAGE,
                  .in = {{msg, len}},
                  .n_in = 1,
                  .out = {out},
                  .n_out = 1};
    return exchange_run(ctx, call, &x);
}

static otrp_status first_message(void *ctx, const otrp_tee_call *call, uint32_t command,
                                 const char *taid, const char *hint, otrp_buf *tam_uri,
                                 otrp_buf *msg)
{
    exchange x = {.command = command,
                  .in = {text_field(taid), text_field(hint)},
                  .n_in = 2,
                  .out = {tam_uri, msg},
                  .n_out = 2};
    return exchange_run(ctx, call, &x);
}

static otrp_status op_request_ta(void *ctx, const otrp_tee_call *call, const char *taid,
                                 const char *hint, otrp_buf *tam_uri, otrp_buf *msg)
{
    return first_message(ctx, call, OTRP_TA_CMD_REQUEST_TA, taid, hint, tam_uri, msg);
}

static otrp_status op_unrequest_ta(void *ctx, const otrp_tee_call *call, const char *taid,
                                   const char *hint, otrp_buf *tam_uri, otrp_buf *msg)
{
    return first_message(ctx, call, OTRP_TA_CMD_UNREQUEST_TA, taid, hint, tam_uri, msg);
}

static otrp_status op_policy_check(void *ctx, const otrp_tee_call *call, const char *hint,
                                   otrp_buf *tam_uri, otrp_buf *msg)
{
    exchange x = {.command = OTRP_TA_CMD_POLICY_CHECK,
                  .in = {text_field(hint)},
                  .n_in = 1,
                  .out = {tam_uri, msg},
                  .n_out = 2};
    return exchange_run(ctx, call, &x);
}

static otrp_status op_process_error(void *ctx, const otrp_tee_call *call)
{
    exchange x = {.command = OTRP_TA_CMD_PROCESS_ERROR};
    return exchange_run(ctx, call, &x);
}

static otrp_status op_ta_information(void *ctx, const otrp_tee_call *call, const char *spid,
                                     const char *taid, otrp_buf *out)
{
    exchange x = {.command = OTRP_TA_CMD_TA_INFORMATION,
                  .in = {text_field(spid), text_field(taid)},
                  .n_in = 2,
                  .out = {out},
                  .n_out = 1};
    return exchange_run(ctx, call, &x);
}

static otrp_status op_describe(void *ctx, const otrp_tee_call *call, otrp_buf *json)
{
    exchange x = {.command = OTRP_TA_CMD_DESCRIBE, .out = {json}, .n_out = 1};
    return exchange_run(ctx, call, &x);
}

/* From another thread, after the agent set the call's cancel flag: stop the running
 * command (the next one does not start, see invoke_once). */
static void op_cancel(void *ctx)
{
    otrp__teec *t = ctx;
    pthread_mutex_lock(&t->cancel_lock);
    if (t->running != NULL) {
        t->api.request_cancellation(t->running);
        t->cancel_wanted = 1; /* the watch, when running, repeats the request */
        pthread_cond_signal(&t->watch_wake);
    }
    pthread_mutex_unlock(&t->cancel_lock);
}

static const char *op_last_error(void *ctx)
{
    const otrp__teec *t = ctx;
    return t->detail;
}

static void op_destroy(void *ctx)
{
    otrp__teec *t = ctx;
    close_session(t);
    if (t->have_context)
        t->api.finalize_context(&t->context);
    for (size_t i = 0; i < OTRP_TA_MAX_FIELDS; i++) {
        if (t->scratch[i] != NULL)
            otrp__memzero(t->scratch[i], t->scratch_cap[i]);
        free(t->scratch[i]);
    }
    otrp__teec_watch_end(t);
    otrp__teec_unload(&t->api);
    pthread_mutex_destroy(&t->cancel_lock);
    free(t->tee_name);
    free(t);
}

static const struct otrp_tee_ops teec_ops = {
    .struct_size = sizeof(struct otrp_tee_ops),
    .kind = "teec",
    .get_name = op_get_name,
    .process_message = op_process_message,
    .request_ta = op_request_ta,
    .unrequest_ta = op_unrequest_ta,
    .policy_check = op_policy_check,
    .process_error = op_process_error,
    .ta_information = op_ta_information,
    .describe = op_describe,
    .cancel = op_cancel,
    .destroy = op_destroy,
    .last_error = op_last_error,
};

/* ---- construction ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int otrp__teec_parse_uuid(const char *text, otrp__teec_uuid *uuid)
{
    static const size_t dashes[] = {8, 13, 18, 23};
    uint8_t bytes[16];
    size_t n = 0;
    if (strlen(text) != 36)
        return -1;
    for (size_t i = 0; i < 36;) {
        if (i == dashes[0] || i == dashes[1] || i == dashes[2] || i == dashes[3]) {
            if (text[i] != '-')
                return -1;
            i++;
            continue;
        }
        int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        bytes[n++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    uuid->time_low = (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 |
                     (uint32_t)bytes[2] << 8 | bytes[3];
    uuid->time_mid = (uint16_t)(bytes[4] << 8 | bytes[5]);
    uuid->time_hi_and_version = (uint16_t)(bytes[6] << 8 | bytes[7]);
    memcpy(uuid->clock_seq_and_node, bytes + 8, 8);
    return 0;
}

/* 1 when the caller's options (of its struct_size) have the field. */
#define OPTS_HAVE(opts, field)                                                     \
    ((opts) != NULL && (opts)->struct_size >= offsetof(otrp_teec_options, field) + \
                           sizeof (opts)->field)

static void tell(const otrp_teec_options *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void tell(const otrp_teec_options *opts, const char *fmt, ...)
{
    if (!OPTS_HAVE(opts, detail_cap) || opts->detail == NULL || opts->detail_cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(opts->detail, opts->detail_cap, fmt, ap);
    va_end(ap);
}

/* Open the context and session of a loaded backend; say why not into opts. */
static otrp_status connect_tee(otrp__teec *t, const otrp_teec_options *opts)
{
    otrp__teec_result r = t->api.initialize_context(t->tee_name, &t->context);
    if (r != OTRP__TEEC_SUCCESS) {
        tell(opts, "no TEE reachable through %s (TEEC_InitializeContext: %s "
             "0x%08x; is there a /dev/tee0?)", t->api.library, otrp__teec_result_name(r),
             (unsigned)r);
        return OTRP_ERR_TEE_UNAVAILABLE;
    }
    t->have_context = 1;
    otrp_status st = open_session(t);
    if (st != OTRP_OK)
        tell(opts, "%s", t->detail);
    return st;
}

otrp_status otrp_tee_teec_new_opts(const char *uuid, const otrp_teec_options *opts,
                                   otrp_tee **out)
{
    *out = NULL;
    tell(opts, "%s", "");
    if (opts != NULL && opts->struct_size == 0)
        return OTRP_ERR_INVALID_ARG;
    otrp__teec *t = calloc(1, sizeof *t);
    if (t == NULL)
        return OTRP_ERR_NO_MEMORY;
    if (otrp__teec_parse_uuid(uuid, &t->uuid) != 0) {
        tell(opts, "'%.64s' is not a TA UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", uuid);
        free(t);
        return OTRP_ERR_INVALID_ARG;
    }
    (void)snprintf(t->uuid_text, sizeof t->uuid_text, "%s", uuid);
    if (pthread_mutex_init(&t->cancel_lock, NULL) != 0) {
        free(t);
        return OTRP_ERR_NO_MEMORY;
    }
    if (otrp__teec_watch_init(t) != 0) {
        pthread_mutex_destroy(&t->cancel_lock);
        free(t);
        return OTRP_ERR_NO_MEMORY;
    }
    const char *library = OPTS_HAVE(opts, library) ? opts->library : NULL;
    const char *tee_name = OPTS_HAVE(opts, tee_name) ? opts->tee_name : NULL;
    char why[256] = "";
    otrp_status st = otrp__teec_load(&t->api, library, why, sizeof why);
    if (st != OTRP_OK) {
        tell(opts, "%s", why);
        otrp__teec_watch_end(t);
        pthread_mutex_destroy(&t->cancel_lock);
        free(t);
        return st;
    }
    if (tee_name != NULL && (t->tee_name = otrp__strndup(tee_name, strlen(tee_name))) == NULL)
        st = OTRP_ERR_NO_MEMORY;
    if (st == OTRP_OK)
        st = connect_tee(t, opts);
    if (st != OTRP_OK) {
        op_destroy(t);
        return st;
    }
    return otrp_tee_new(&teec_ops, t, out);
}

otrp_status otrp_tee_teec_new(const char *uuid, otrp_tee **out)
{
    return otrp_tee_teec_new_opts(uuid, NULL, out);
}
