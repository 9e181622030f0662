/*
 * Strict base64 (RFC 4648 section 4) and base64url (section 5).
 *
 * Decoding rejects characters outside the alphabet, misplaced or wrong padding,
 * impossible lengths and non-zero trailing bits, so every accepted string has exactly
 * one byte sequence (JOSE compares and hashes these strings).
 */
#ifndef OTRP_UTIL_BASE64_H
#define OTRP_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "otrp/status.h"

typedef enum otrp__b64_mode {
    OTRP__B64_STD,    /* standard alphabet, '=' padding required */
    OTRP__B64_URL,    /* url alphabet, no padding (JOSE members) */
    /* A binary OTrP field (PROFILE P2): standard with padding, or url alphabet with or
     * without padding. Standard without padding and mixed alphabets are rejected. */
    OTRP__B64_FIELD
} otrp__b64_mode;

/* Characters that encoding n bytes produces (padding included for STD). */
size_t otrp__b64_encoded_len(size_t n, otrp__b64_mode mode);

/* An upper bound of the bytes that decoding n characters yields. */
size_t otrp__b64_decoded_max(size_t n);

/* Encode; out needs otrp__b64_encoded_len() + 1 bytes (it is NUL-terminated).
 * FIELD encodes as STD. */
void otrp__b64_encode(const uint8_t *in, size_t n, char *out, otrp__b64_mode mode);

/* Decode; out needs otrp__b64_decoded_max(n) bytes. OTRP_ERR_BASE64 on any defect. */
otrp_status otrp__b64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len,
                             otrp__b64_mode mode);

/*
 * Incremental base64url decoding for long inputs that are read piecewise: n must be a
 * multiple of 4 unless final is set. Writes at most n / 4 * 3 bytes to out.
 */
otrp_status otrp__b64url_decode_chunk(const char *in, size_t n, uint8_t *out,
                                      size_t *out_len, int final);

/* 1 when c belongs to the base64url alphabet. */
int otrp__b64url_char(unsigned char c);

/* Decode exactly 2 * n hex digits (either case) from text into n bytes at out.
 * 0 on success, -1 when a character is not a hex digit. */
int otrp__hex_decode(const char *text, size_t n, uint8_t *out);

/* The length of the longest prefix of s[0..n) made of base64url characters. */
size_t otrp__b64url_span(const char *s, size_t n);

#endif
