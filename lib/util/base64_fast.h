/*
 * Base64 decoding for long inputs (TA ciphertext of megabytes): the same contract and
 * the same strictness as otrp__b64_decode(), four characters per step through shifted
 * lookup tables with the output index kept in a register.
 */
#ifndef OTRP_UTIL_BASE64_FAST_H
#define OTRP_UTIL_BASE64_FAST_H

#include "util/base64.h"

/* Exactly otrp__b64_decode(): same modes, same accepted strings, same bytes, same
 * statuses; out needs otrp__b64_decoded_max(n) bytes. */
otrp_status otrp__b64_decode_fast(const char *in, size_t n, uint8_t *out, size_t *out_len,
                                  otrp__b64_mode mode);

#endif
