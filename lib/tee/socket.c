/*
 * The agent-side socket backend: each operation is one request/answer exchange of
 * otrp/ta_protocol.h frames on a fresh Unix stream connection.
 */
#include "tee/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tee/frame.h"
#include "util/detail.h"

/* An answer frame carries, besides outputs of at most call->max_output bytes each, its
 * header, the field lengths and the short second output of request_ta / policy_check
 * (a TAM URI): room for those on top of max_output. */
#define ANSWER_OVERHEAD 4096u

struct socket_tee {
    struct sockaddr_un addr;
    int cancel;          /* set by cancel() from another thread: __atomic only */
    otrp_buf frame;      /* the last request/answer frame, reused */
    char detail[256];    /* the daemon's explanation of the last failure (ops->last_error) */
};

otrp_status otrp__socket_open(const char *path, void **ctx)
{
    *ctx = NULL;
    size_t len = strlen(path);
    struct socket_tee *t = calloc(1, sizeof *t);
    if (t == NULL)
        return OTRP_ERR_NO_MEMORY;
    if (len == 0 || len >= sizeof t->addr.sun_path) {
        free(t);
        return OTRP_ERR_INVALID_ARG;
    }
    t->addr.sun_family = AF_UNIX;
    memcpy(t->addr.sun_path, path, len + 1);
    *ctx = t;
    return OTRP_OK;
}

static otrp_status connect_daemon(struct socket_tee *t, int *fd_out)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return OTRP_ERR_TEE_UNAVAILABLE;
    /* A Unix stream connect completes or fails at once (a full backlog gives EAGAIN on
     * a non-blocking socket: reported as busy). */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        close(fd);
        return OTRP_ERR_IO;
    }
    if (connect(fd, (const struct sockaddr *)&t->addr, sizeof t->addr) != 0) {
        int err = errno;
        close(fd);
        if (err == EAGAIN)
            return OTRP_ERR_TEE_BUSY;
        return OTRP_ERR_TEE_UNAVAILABLE;
    }
    *fd_out = fd;
    return OTRP_OK;
}

/* The status a daemon may put in an answer: one of ours, never OK with a detail. */
static int status_valid(uint32_t status)
{
    return status <= 0xFFFFu && strcmp(otrp_status_name((otrp_status)status), "UNKNOWN") != 0;
}

/* Keep the detail text of a failure answer, quoted (it is the peer's text and ends up
 * in the agent's detail string), cut to the buffer. */
static void keep_detail(struct socket_tee *t, const unsigned char *text, size_t len)
{
    otrp__quote(t->detail, sizeof t->detail, (const char *)text, len);
}

/* Send the request and read the answer; outputs are copied into out[]. */
static otrp_status exchange(struct socket_tee *t, const otrp_tee_call *call, unsigned command,
                            unsigned nin, const void *const *in, const size_t *in_len,
                            otrp_buf *out0, otrp_buf *out1)
{
    __atomic_store_n(&t->cancel, 0, __ATOMIC_RELEASE);
    t->detail[0] = '\0';
    const volatile int *cancelled = call != NULL ? call->cancelled : NULL;
    uint64_t deadline = call != NULL ? call->deadline_ms : 0;
    /* 0 lets otrp__ta_frame_read() apply OTRP_TA_MAX_FRAME, which also caps a larger
     * limit: max_output is the caller's (the agent's limit, or anything up to SIZE_MAX
     * from a direct caller), so the sum is only made where it cannot wrap. */
    size_t max = 0;
    if (call != NULL && call->max_output != 0 &&
        call->max_output < OTRP_TA_MAX_FRAME - ANSWER_OVERHEAD)
        max = call->max_output + ANSWER_OVERHEAD;
    otrp_status st = otrp__ta_frame_encode(&t->frame, command, 0, nin, in, in_len);
    if (st != OTRP_OK)
        return st;
    int fd = -1;
    st = connect_daemon(t, &fd);
    if (st != OTRP_OK)
        return st;
    st = otrp__ta_write_all(fd, t->frame.data, t->frame.len, deadline, cancelled, &t->cancel);
    otrp__ta_frame answer;
    int eof = 0;
    if (st == OTRP_OK)
        st = otrp__ta_frame_read(fd, &t->frame, max, deadline, cancelled, &t->cancel, &answer,
                                 &eof);
    close(fd);
    if (st == OTRP_ERR_IO)
        return OTRP_ERR_TEE_FAIL;
    if (st != OTRP_OK)
        return st;
    if (answer.command != (command | OTRP_TA_ANSWER_BIT) || !status_valid(answer.status))
        return OTRP_ERR_TEE_PROTOCOL;
    if (answer.status != OTRP_OK) {
        if (answer.nfields != 1)
            return OTRP_ERR_TEE_PROTOCOL;
        keep_detail(t, answer.field[0], answer.field_len[0]);
        return (otrp_status)answer.status;
    }
    if (answer.nfields != otrp__ta_outputs(command))
        return OTRP_ERR_TEE_PROTOCOL;
    otrp_buf *outs[2] = {out0, out1};
    for (unsigned i = 0; i < answer.nfields; i++) {
        if (outs[i] == NULL)
            continue;
        otrp_buf_reset(outs[i]);
        st = otrp_buf_append(outs[i], answer.field[i], answer.field_len[i]);
        if (st != OTRP_OK)
            return st;
    }
    return OTRP_OK;
}

static otrp_status sock_get_name(void *ctx, const otrp_tee_call *call, otrp_buf *name)
{
    return exchange(ctx, call, OTRP_TA_CMD_GET_NAME, 0, NULL, NULL, name, NULL);
}

static otrp_status sock_process_message(void *ctx, const otrp_tee_call *call, const char *msg,
                                        size_t len, otrp_buf *out)
{
    const void *in[1] = {msg};
    size_t in_len[1] = {len};
    return exchange(ctx, call, OTRP_TA_CMD_PROCESS_MESSAGE, 1, in, in_len, out, NULL);
}

static otrp_status request_common(void *ctx, const otrp_tee_call *call, unsigned command,
                                  const char *taid, const char *hint, otrp_buf *tam_uri,
                                  otrp_buf *msg)
{
    if (taid == NULL)
        return OTRP_ERR_INVALID_ARG;
    const char *h = hint != NULL ? hint : "";
    const void *in[2] = {taid, h};
    size_t in_len[2] = {strlen(taid), strlen(h)};
    return exchange(ctx, call, command, 2, in, in_len, tam_uri, msg);
}

static otrp_status sock_request_ta(void *ctx, const otrp_tee_call *call, const char *taid,
                                   const char *hint, otrp_buf *tam_uri, otrp_buf *msg)
{
    return request_common(ctx, call, OTRP_TA_CMD_REQUEST_TA, taid, hint, tam_uri, msg);
}

static otrp_status sock_unrequest_ta(void *ctx, const otrp_tee_call *call, const char *taid,
                                     const char *hint, otrp_buf *tam_uri, otrp_buf *msg)
{
    return request_common(ctx, call, OTRP_TA_CMD_UNREQUEST_TA, taid, hint, tam_uri, msg);
}

static otrp_status sock_policy_check(void *ctx, const otrp_tee_call *call, const char *hint,
                                     otrp_buf *tam_uri, otrp_buf *msg)
{
    const char *h = hint != NULL ? hint : "";
    const void *in[1] = {h};
    size_t in_len[1] = {strlen(h)};
    return exchange(ctx, call, OTRP_TA_CMD_POLICY_CHECK, 1, in, in_len, tam_uri, msg);
}

static otrp_status sock_process_error(void *ctx, const otrp_tee_call *call)
{
    return exchange(ctx, call, OTRP_TA_CMD_PROCESS_ERROR, 0, NULL, NULL, NULL, NULL);
}

static otrp_status sock_ta_information(void *ctx, const otrp_tee_call *call, const char *spid,
                                       const char *taid, otrp_buf *out)
{
    if (spid == NULL || taid == NULL)
        return OTRP_ERR_INVALID_ARG;
    const void *in[2] = {spid, taid};
    size_t in_len[2] = {strlen(spid), strlen(taid)};
    return exchange(ctx, call, OTRP_TA_CMD_TA_INFORMATION, 2, in, in_len, out, NULL);
}

static otrp_status sock_describe(void *ctx, const otrp_tee_call *call, otrp_buf *json)
{
    return exchange(ctx, call, OTRP_TA_CMD_DESCRIBE, 0, NULL, NULL, json, NULL);
}

static void sock_cancel(void *ctx)
{
    struct socket_tee *t = ctx;
    __atomic_store_n(&t->cancel, 1, __ATOMIC_RELEASE);
}

static const char *sock_last_error(void *ctx)
{
    const struct socket_tee *t = ctx;
    return t->detail;
}

static void sock_destroy(void *ctx)
{
    struct socket_tee *t = ctx;
    if (t == NULL)
        return;
    otrp_buf_free(&t->frame);
    free(t);
}

const struct otrp_tee_ops otrp__socket_ops = {
    .struct_size = sizeof(struct otrp_tee_ops),
    .kind = "socket",
    .get_name = sock_get_name,
    .process_message = sock_process_message,
    .request_ta = sock_request_ta,
    .unrequest_ta = sock_unrequest_ta,
    .policy_check = sock_policy_check,
    .process_error = sock_process_error,
    .ta_information = sock_ta_information,
    .describe = sock_describe,
    .cancel = sock_cancel,
    .destroy = sock_destroy,
    .last_error = sock_last_error,
};
