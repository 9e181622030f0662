#include "util/base64_fast.h"

#include <string.h>

/* A character outside the alphabet sets this bit in every table. */
#define BAD 0x80000000u

#define SEXTET_COMMON(c)                                                                  \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                               \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                          \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                          \
                                : -1)
#define SEXTET_STD(c) ((c) == '+' ? 62 : (c) == '/' ? 63 : SEXTET_COMMON(c))
#define SEXTET_URL(c) ((c) == '-' ? 62 : (c) == '_' ? 63 : SEXTET_COMMON(c))
/* Table entries: the sextet shifted to its place in the 24-bit group, or BAD. */
#define E_STD(c, sh) (SEXTET_STD(c) < 0 ? BAD : (uint32_t)SEXTET_STD(c) << (sh))
#define E_URL(c, sh) (SEXTET_URL(c) < 0 ? BAD : (uint32_t)SEXTET_URL(c) << (sh))
#define ROW(E, b, sh)                                                                     \
    E((b) + 0, sh), E((b) + 1, sh), E((b) + 2, sh), E((b) + 3, sh), E((b) + 4, sh),       \
        E((b) + 5, sh), E((b) + 6, sh), E((b) + 7, sh), E((b) + 8, sh), E((b) + 9, sh),   \
        E((b) + 10, sh), E((b) + 11, sh), E((b) + 12, sh), E((b) + 13, sh),               \
        E((b) + 14, sh), E((b) + 15, sh)
#define TABLE(E, sh)                                                                      \
    {                                                                                     \
        ROW(E, 0, sh), ROW(E, 16, sh), ROW(E, 32, sh), ROW(E, 48, sh), ROW(E, 64, sh),    \
            ROW(E, 80, sh), ROW(E, 96, sh), ROW(E, 112, sh), ROW(E, 128, sh),             \
            ROW(E, 144, sh), ROW(E, 160, sh), ROW(E, 176, sh), ROW(E, 192, sh),           \
            ROW(E, 208, sh), ROW(E, 224, sh), ROW(E, 240, sh)                             \
    }

struct tables {
    uint32_t t[4][256];
};

/* Constant, so concurrent first use needs no initialisation. */
static const struct tables STD = {{TABLE(E_STD, 18), TABLE(E_STD, 12), TABLE(E_STD, 6),
                                   TABLE(E_STD, 0)}};
static const struct tables URL = {{TABLE(E_URL, 18), TABLE(E_URL, 12), TABLE(E_URL, 6),
                                   TABLE(E_URL, 0)}};

/* Decode n characters (a multiple of 4, no padding); -1 at the first bad quad. */
static int quads(const struct tables *tb, const unsigned char *s, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4, o += 3) {
        uint32_t v = tb->t[0][s[i]] | tb->t[1][s[i + 1]] | tb->t[2][s[i + 2]] |
                     tb->t[3][s[i + 3]];
        if (v & BAD)
            return -1;
        out[o] = (uint8_t)(v >> 16);
        out[o + 1] = (uint8_t)(v >> 8);
        out[o + 2] = (uint8_t)v;
    }
    return 0;
}

/* 2 or 3 trailing characters (no padding): 1 or 2 bytes, the unused bits zero. */
static int tail(const struct tables *tb, const unsigned char *s, size_t rest, uint8_t *out,
                size_t *o)
{
    if (rest == 0)
        return 0;
    if (rest == 1)
        return -1;
    uint32_t v = tb->t[0][s[0]] | tb->t[1][s[1]] | (rest == 3 ? tb->t[2][s[2]] : 0);
    if ((v & BAD) || (rest == 2 && (v & 0xFFFF) != 0) || (rest == 3 && (v & 0xFF) != 0))
        return -1;
    out[(*o)++] = (uint8_t)(v >> 16);
    if (rest == 3)
        out[(*o)++] = (uint8_t)(v >> 8);
    return 0;
}

otrp_status otrp__b64_decode_fast(const char *in, size_t n, uint8_t *out, size_t *out_len,
                                  otrp__b64_mode mode)
{
    *out_len = 0;
    if (n > 0 && in == NULL)
        return OTRP_ERR_INVALID_ARG;
    int url, padding_required;
    /* The alphabet and padding rules of otrp__b64_decode(), mode by mode. */
    if (mode == OTRP__B64_URL) {
        url = 1;
        padding_required = 0;
        if (memchr(in, '=', n) != NULL)
            return OTRP_ERR_BASE64;
    } else if (mode == OTRP__B64_STD) {
        url = 0;
        padding_required = 1;
    } else {
        int has_std = memchr(in, '+', n) != NULL || memchr(in, '/', n) != NULL;
        int has_url = memchr(in, '-', n) != NULL || memchr(in, '_', n) != NULL;
        if (has_std && has_url)
            return OTRP_ERR_BASE64;
        url = !has_std;
        padding_required = has_std;
    }
    size_t pad = 0;
    while (pad < n && pad < 3 && in[n - 1 - pad] == '=')
        pad++;
    if (pad == 0 ? (padding_required && n % 4 != 0) : (pad > 2 || n % 4 != 0))
        return OTRP_ERR_BASE64;
    size_t unpadded = n - pad;
    const struct tables *tb = url ? &URL : &STD;
    const unsigned char *s = (const unsigned char *)in;
    size_t whole = unpadded - unpadded % 4;
    if (quads(tb, s, whole, out) != 0)
        return OTRP_ERR_BASE64;
    size_t o = whole / 4 * 3;
    if (tail(tb, s + whole, unpadded % 4, out, &o) != 0)
        return OTRP_ERR_BASE64;
    *out_len = o;
    return OTRP_OK;
}
