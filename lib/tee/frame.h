/*
 * The socket framing of otrp/ta_protocol.h: encoding, bounded reading with deadlines,
 * and the server-side dispatch of one request frame onto a struct otrp_tee_ops.
 * Shared by the agent's socket backend and by otrp-tee-sim.
 */
#ifndef OTRP_TEE_FRAME_H
#define OTRP_TEE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "otrp/ta_protocol.h"
#include "otrp/tee.h"

/* A decoded frame; the fields point into the buffer it was read into. */
typedef struct otrp__ta_frame {
    uint16_t command;
    uint32_t status;
    uint32_t nfields;
    const unsigned char *field[OTRP_TA_MAX_FIELDS];
    size_t field_len[OTRP_TA_MAX_FIELDS];
} otrp__ta_frame;

/* Inputs and outputs per command (ta_protocol.h table); 0 for unknown commands. */
unsigned otrp__ta_inputs(unsigned command);
unsigned otrp__ta_outputs(unsigned command);

/* Append one frame to out (which is reset first). OTRP_ERR_TOO_LARGE beyond the limit. */
otrp_status otrp__ta_frame_encode(otrp_buf *out, unsigned command, uint32_t status,
                                  unsigned nfields, const void *const *field,
                                  const size_t *field_len);

/*
 * Read one frame from fd into buf (reset first) and decode it into *frame.
 * max bounds the whole frame. deadline_ms (otrp_monotonic_ms clock, 0 = none) bounds
 * the whole read. cancel1/cancel2 (may be NULL) are polled with atomic loads (their writers, often other threads or a signal
 * handler, store with __atomic_store_n).
 * OTRP_ERR_IO: the peer closed or a read failed; OTRP_ERR_TIMEOUT; OTRP_ERR_CANCELLED;
 * OTRP_ERR_TEE_PROTOCOL: bad magic, version, field count; OTRP_ERR_TOO_LARGE.
 * *eof is set when the peer closed cleanly before the first byte.
 */
otrp_status otrp__ta_frame_read(int fd, otrp_buf *buf, size_t max, uint64_t deadline_ms,
                                const volatile int *cancel1, const volatile int *cancel2,
                                otrp__ta_frame *frame, int *eof);

/* Write all bytes before the deadline (0 = none). OTRP_ERR_IO, _TIMEOUT, _CANCELLED. */
otrp_status otrp__ta_write_all(int fd, const void *data, size_t len, uint64_t deadline_ms,
                               const volatile int *cancel1, const volatile int *cancel2);

/*
 * Server side: run the request frame against ops/ctx and encode the answer frame into
 * answer. A request that does not fit the command table gets an OTRP_ERR_TEE_PROTOCOL
 * answer. detail (may be NULL) gives the text for a failure answer. max_output bounds the operation's outputs. Returns the status of encoding.
 */
typedef const char *(*otrp__ta_detail_fn)(void *ctx);
otrp_status otrp__ta_serve(const struct otrp_tee_ops *ops, void *ctx,
                           otrp__ta_detail_fn detail, const otrp__ta_frame *request,
                           size_t max_output, otrp_buf *answer);

/* Encode a failure answer with a detail text. */
otrp_status otrp__ta_encode_failure(otrp_buf *answer, unsigned command, otrp_status status,
                                    const char *detail);

#endif
