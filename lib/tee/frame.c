#include "tee/frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/buf.h"

/* Waiting is done in slices this long so that cancellation is noticed promptly. */
#define POLL_SLICE_MS 50

struct cmd_shape {
    unsigned char inputs;
    unsigned char outputs;
};

static const struct cmd_shape CMD_SHAPES[OTRP_TA_CMD_END] = {
    [OTRP_TA_CMD_GET_NAME] = {0, 1},
    [OTRP_TA_CMD_PROCESS_MESSAGE] = {1, 1},
    [OTRP_TA_CMD_REQUEST_TA] = {2, 2},
    [OTRP_TA_CMD_UNREQUEST_TA] = {2, 2},
    [OTRP_TA_CMD_POLICY_CHECK] = {1, 2},
    [OTRP_TA_CMD_PROCESS_ERROR] = {0, 0},
    [OTRP_TA_CMD_TA_INFORMATION] = {2, 1},
    [OTRP_TA_CMD_DESCRIBE] = {0, 1},
};

static int command_known(unsigned command)
{
    return command >= OTRP_TA_CMD_GET_NAME && command < OTRP_TA_CMD_END;
}

unsigned otrp__ta_inputs(unsigned command)
{
    return command_known(command) ? CMD_SHAPES[command].inputs : 0;
}

unsigned otrp__ta_outputs(unsigned command)
{
    return command_known(command) ? CMD_SHAPES[command].outputs : 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_u16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

otrp_status otrp__ta_frame_encode(otrp_buf *out, unsigned command, uint32_t status,
                                  unsigned nfields, const void *const *field,
                                  const size_t *field_len)
{
    if (nfields > OTRP_TA_MAX_FIELDS)
        return OTRP_ERR_INVALID_ARG;
    size_t total = OTRP_TA_HEADER_SIZE;
    for (unsigned i = 0; i < nfields; i++) {
        if (field_len[i] > OTRP_TA_MAX_FRAME)
            return OTRP_ERR_TOO_LARGE;
        total += 4 + field_len[i];
    }
    if (total > OTRP_TA_MAX_FRAME)
        return OTRP_ERR_TOO_LARGE;
    otrp_buf_reset(out);
    unsigned char header[OTRP_TA_HEADER_SIZE];
    put_u32(header, OTRP_TA_MAGIC);
    put_u16(header + 4, OTRP_TA_VERSION);
    put_u16(header + 6, command);
    put_u32(header + 8, status);
    put_u32(header + 12, nfields);
    otrp_status st = otrp_buf_append(out, header, sizeof header);
    for (unsigned i = 0; i < nfields && st == OTRP_OK; i++) {
        unsigned char len[4];
        put_u32(len, (uint32_t)field_len[i]);
        st = otrp_buf_append(out, len, sizeof len);
        if (st == OTRP_OK && field_len[i] > 0)
            st = otrp_buf_append(out, field[i], field_len[i]);
    }
    return st;
}

/* The flags are written by other threads (otrp_agent_cancel(), ops->cancel) or by a
 * signal handler: an atomic load, as otrp/tee.h promises, never a plain read. */
static int flag_set(const volatile int *flag)
{
    return flag != NULL && __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0;
}

static int cancelled(const volatile int *c1, const volatile int *c2)
{
    return flag_set(c1) || flag_set(c2);
}

/* Wait until fd is ready for events; OTRP_OK, _TIMEOUT, _CANCELLED or _IO. */
static otrp_status wait_fd(int fd, short events, uint64_t deadline_ms,
                           const volatile int *c1, const volatile int *c2)
{
    for (;;) {
        if (cancelled(c1, c2))
            return OTRP_ERR_CANCELLED;
        int slice = POLL_SLICE_MS;
        if (deadline_ms != 0) {
            uint64_t now = otrp_monotonic_ms();
            if (now >= deadline_ms)
                return OTRP_ERR_TIMEOUT;
            if (deadline_ms - now < (uint64_t)slice)
                slice = (int)(deadline_ms - now);
        }
        struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
        int n = poll(&pfd, 1, slice);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return OTRP_ERR_IO;
        }
        if (n > 0)
            return OTRP_OK; /* readable, writable, or an error the next call reports */
    }
}

/* Read exactly len bytes. *got counts what arrived (to tell a clean EOF). */
static otrp_status read_exact(int fd, unsigned char *dst, size_t len, uint64_t deadline_ms,
                              const volatile int *c1, const volatile int *c2, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        otrp_status st = wait_fd(fd, POLLIN, deadline_ms, c1, c2);
        if (st != OTRP_OK)
            return st;
        ssize_t n = recv(fd, dst + done, len - done, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return OTRP_ERR_IO;
        }
        if (n == 0)
            return OTRP_ERR_IO;
        done += (size_t)n;
        if (got != NULL)
            *got = done;
    }
    return OTRP_OK;
}

otrp_status otrp__ta_write_all(int fd, const void *data, size_t len, uint64_t deadline_ms,
                               const volatile int *cancel1, const volatile int *cancel2)
{
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        otrp_status st = wait_fd(fd, POLLOUT, deadline_ms, cancel1, cancel2);
        if (st != OTRP_OK)
            return st;
        ssize_t n = send(fd, p + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return OTRP_ERR_IO;
        }
        done += (size_t)n;
    }
    return OTRP_OK;
}

static otrp_status check_header(const unsigned char *h, otrp__ta_frame *frame)
{
    if (get_u32(h) != OTRP_TA_MAGIC || get_u16(h + 4) != OTRP_TA_VERSION)
        return OTRP_ERR_TEE_PROTOCOL;
    frame->command = get_u16(h + 6);
    frame->status = get_u32(h + 8);
    frame->nfields = get_u32(h + 12);
    if (frame->nfields > OTRP_TA_MAX_FIELDS)
        return OTRP_ERR_TEE_PROTOCOL;
    return OTRP_OK;
}

otrp_status otrp__ta_frame_read(int fd, otrp_buf *buf, size_t max, uint64_t deadline_ms,
                                const volatile int *cancel1, const volatile int *cancel2,
                                otrp__ta_frame *frame, int *eof)
{
    memset(frame, 0, sizeof *frame);
    *eof = 0;
    otrp_buf_reset(buf);
    if (max == 0 || max > OTRP_TA_MAX_FRAME)
        max = OTRP_TA_MAX_FRAME;
    unsigned char header[OTRP_TA_HEADER_SIZE];
    size_t got = 0;
    otrp_status st = read_exact(fd, header, sizeof header, deadline_ms, cancel1, cancel2, &got);
    if (st == OTRP_ERR_IO && got == 0)
        *eof = 1;
    if (st != OTRP_OK)
        return st;
    st = check_header(header, frame);
    if (st != OTRP_OK)
        return st;
    size_t total = OTRP_TA_HEADER_SIZE;
    size_t offset[OTRP_TA_MAX_FIELDS] = {0};
    for (uint32_t i = 0; i < frame->nfields; i++) {
        unsigned char lenbuf[4];
        st = read_exact(fd, lenbuf, sizeof lenbuf, deadline_ms, cancel1, cancel2, NULL);
        if (st != OTRP_OK)
            return st;
        uint32_t len = get_u32(lenbuf);
        total += 4;
        if (len > max || total + len > max)
            return OTRP_ERR_TOO_LARGE;
        total += len;
        offset[i] = buf->len;
        frame->field_len[i] = len;
        size_t old = buf->len;
        /* Grow once, then read in place. */
        st = otrp__buf_extend(buf, len);
        if (st == OTRP_OK && len > 0)
            st = read_exact(fd, buf->data + old, len, deadline_ms, cancel1, cancel2, NULL);
        if (st != OTRP_OK)
            return st;
    }
    for (uint32_t i = 0; i < frame->nfields; i++)
        frame->field[i] = buf->data != NULL ? buf->data + offset[i] : (const unsigned char *)"";
    return OTRP_OK;
}

otrp_status otrp__ta_encode_failure(otrp_buf *answer, unsigned command, otrp_status status,
                                    const char *detail)
{
    const char *text = detail != NULL ? detail : "";
    size_t len = strnlen(text, OTRP_TA_MAX_DETAIL);
    const void *field[1] = {text};
    size_t field_len[1] = {len};
    return otrp__ta_frame_encode(answer, command | OTRP_TA_ANSWER_BIT, (uint32_t)status, 1,
                                 field, field_len);
}

/* A request's text input as a NUL-terminated copy in *dst (bounded by the frame). */
static otrp_status field_string(const otrp__ta_frame *req, unsigned i, char **dst)
{
    *dst = NULL;
    if (memchr(req->field[i], '\0', req->field_len[i]) != NULL)
        return OTRP_ERR_TEE_PROTOCOL;
    char *s = malloc(req->field_len[i] + 1);
    if (s == NULL)
        return OTRP_ERR_NO_MEMORY;
    if (req->field_len[i] > 0)
        memcpy(s, req->field[i], req->field_len[i]);
    s[req->field_len[i]] = '\0';
    *dst = s;
    return OTRP_OK;
}

static otrp_status run_op(const struct otrp_tee_ops *ops, void *ctx, const otrp_tee_call *call,
                          const otrp__ta_frame *req, char **in, otrp_buf *out)
{
    switch (req->command) {
    case OTRP_TA_CMD_GET_NAME:
        return ops->get_name(ctx, call, &out[0]);
    case OTRP_TA_CMD_PROCESS_MESSAGE:
        return ops->process_message(ctx, call, (const char *)req->field[0], req->field_len[0],
                                    &out[0]);
    case OTRP_TA_CMD_REQUEST_TA:
    case OTRP_TA_CMD_UNREQUEST_TA: {
        otrp_status (*fn)(void *, const otrp_tee_call *, const char *, const char *, otrp_buf *,
                          otrp_buf *) =
            req->command == OTRP_TA_CMD_REQUEST_TA ? ops->request_ta : ops->unrequest_ta;
        if (fn == NULL)
            return OTRP_ERR_UNSUPPORTED;
        return fn(ctx, call, in[0], in[1][0] != '\0' ? in[1] : NULL, &out[0], &out[1]);
    }
    case OTRP_TA_CMD_POLICY_CHECK:
        if (ops->policy_check == NULL)
            return OTRP_ERR_UNSUPPORTED;
        return ops->policy_check(ctx, call, in[0][0] != '\0' ? in[0] : NULL, &out[0], &out[1]);
    case OTRP_TA_CMD_PROCESS_ERROR:
        return ops->process_error != NULL ? ops->process_error(ctx, call) : OTRP_OK;
    case OTRP_TA_CMD_TA_INFORMATION:
        if (ops->ta_information == NULL)
            return OTRP_ERR_UNSUPPORTED;
        return ops->ta_information(ctx, call, in[0], in[1], &out[0]);
    case OTRP_TA_CMD_DESCRIBE:
        if (ops->describe == NULL)
            return OTRP_ERR_UNSUPPORTED;
        return ops->describe(ctx, call, &out[0]);
    default:
        return OTRP_ERR_TEE_PROTOCOL;
    }
}

otrp_status otrp__ta_serve(const struct otrp_tee_ops *ops, void *ctx,
                           otrp__ta_detail_fn detail, const otrp__ta_frame *request,
                           size_t max_output, otrp_buf *answer)
{
    unsigned command = request->command;
    if (!command_known(command) || request->status != 0 ||
        request->nfields != otrp__ta_inputs(command))
        return otrp__ta_encode_failure(answer, command & 0x7FFFu, OTRP_ERR_TEE_PROTOCOL,
                                       "request frame does not match the command table");
    char *in[OTRP_TA_MAX_FIELDS] = {NULL, NULL};
    otrp_buf out[OTRP_TA_MAX_FIELDS];
    memset(out, 0, sizeof out);
    otrp_status st = OTRP_OK;
    /* process_message takes bytes; the other inputs are strings. */
    for (unsigned i = 0; i < request->nfields && command != OTRP_TA_CMD_PROCESS_MESSAGE; i++)
        if (st == OTRP_OK)
            st = field_string(request, i, &in[i]);
    if (st == OTRP_OK) {
        for (unsigned i = 0; i < OTRP_TA_MAX_FIELDS; i++)
            out[i].max = max_output;
        otrp_tee_call call = {sizeof call, 0, max_output, NULL};
        st = run_op(ops, ctx, &call, request, in, out);
    }
    otrp_status enc;
    if (st == OTRP_OK) {
        unsigned n = otrp__ta_outputs(command);
        const void *field[OTRP_TA_MAX_FIELDS] = {out[0].data, out[1].data};
        size_t field_len[OTRP_TA_MAX_FIELDS] = {out[0].len, out[1].len};
        enc = otrp__ta_frame_encode(answer, command | OTRP_TA_ANSWER_BIT, 0, n, field,
                                    field_len);
        if (enc == OTRP_ERR_TOO_LARGE)
            enc = otrp__ta_encode_failure(answer, command, OTRP_ERR_TOO_LARGE,
                                          "answer exceeds the frame limit");
    } else {
        const char *text = detail != NULL ? detail(ctx) : NULL;
        enc = otrp__ta_encode_failure(answer, command, st, text != NULL ? text : otrp_strerror(st));
    }
    for (unsigned i = 0; i < OTRP_TA_MAX_FIELDS; i++) {
        free(in[i]);
        otrp_buf_free(&out[i]);
    }
    return enc;
}
