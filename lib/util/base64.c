#include "util/base64.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const char STD_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decoding tables: sextet + 1, so that 0 marks a character outside the alphabet.
 * Constant, so concurrent first use needs no initialisation. */
static const uint8_t url_table[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

static const uint8_t std_table[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

static const uint8_t *table_for(int url)
{
    return url ? url_table : std_table;
}

/* For decoding whole quads: per alphabet, four tables giving each character's sextet
 * already shifted to its place in the 24-bit group (or QUAD_BAD), so that a quad is four
 * loads OR-ed together and one test. They are 8 KiB, so they are not shipped in the
 * library file: a constructor derives them from the byte tables above when the library
 * is loaded (before main() or dlopen() returns, so before any thread can decode), and
 * nothing writes them after that. */
#define QUAD_BAD 0x80000000u

typedef struct quad_tables {
    uint32_t t[4][256];
} quad_tables;

static quad_tables STD_QUADS;
static quad_tables URL_QUADS;

static void fill_quads(quad_tables *q, const uint8_t *table)
{
    for (unsigned c = 0; c < 256; c++) {
        uint32_t sextet = (uint32_t)table[c] - 1u;
        for (unsigned k = 0; k < 4; k++)
            q->t[k][c] = table[c] == 0 ? QUAD_BAD : sextet << (18 - 6 * k);
    }
}

__attribute__((constructor)) static void build_quad_tables(void)
{
    fill_quads(&STD_QUADS, std_table);
    fill_quads(&URL_QUADS, url_table);
}

/* The sextet of c, or a value with bits above 63 set when c is not in the table. */
static inline uint32_t sextet(const uint8_t *table, char c)
{
    return (uint32_t)table[(unsigned char)c] - 1u;
}

int otrp__b64url_char(unsigned char c)
{
    return table_for(1)[c] != 0;
}

static unsigned hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (unsigned)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (unsigned)(c - 'A' + 10);
    return 16u;
}

int otrp__hex_decode(const char *text, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned hi = hex_digit(text[2 * i]);
        unsigned lo = hex_digit(text[2 * i + 1]);
        if (hi > 15 || lo > 15)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

size_t otrp__b64url_span(const char *s, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    /* Sixteen characters per step where SSE2 is there (every x86-64). A byte b is in
     * [lo, lo + w] when the 8-bit difference b - lo, unsigned, is at most w; letters of
     * both cases are one range once 0x20 is set (only they land in 'a'..'z' so). */
    const __m128i lower = _mm_set1_epi8('a'), letters = _mm_set1_epi8('z' - 'a');
    const __m128i zero = _mm_set1_epi8('0'), digits = _mm_set1_epi8('9' - '0');
    const __m128i case_bit = _mm_set1_epi8(0x20);
    const __m128i dash = _mm_set1_epi8('-'), underscore = _mm_set1_epi8('_');
    for (; n - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i l = _mm_sub_epi8(_mm_or_si128(x, case_bit), lower);
        __m128i d = _mm_sub_epi8(x, zero);
        __m128i ok = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(l, letters), l),
                         _mm_cmpeq_epi8(_mm_min_epu8(d, digits), d)),
            _mm_or_si128(_mm_cmpeq_epi8(x, dash), _mm_cmpeq_epi8(x, underscore)));
        unsigned bad = ~(unsigned)_mm_movemask_epi8(ok) & 0xFFFFu;
        if (bad != 0)
            return i + (size_t)__builtin_ctz(bad);
    }
#endif
    /* Eight characters per branch: long runs (a skipped payload) are the common case;
     * the byte loop below finds the exact end. */
    for (; n - i >= 8; i += 8) {
        const char *p = s + i;
        uint32_t bad = sextet(url_table, p[0]) | sextet(url_table, p[1]) |
                       sextet(url_table, p[2]) | sextet(url_table, p[3]) |
                       sextet(url_table, p[4]) | sextet(url_table, p[5]) |
                       sextet(url_table, p[6]) | sextet(url_table, p[7]);
        if (bad & 0xC0)
            break;
    }
    while (i < n && url_table[(unsigned char)s[i]] != 0)
        i++;
    return i;
}

size_t otrp__b64_encoded_len(size_t n, otrp__b64_mode mode)
{
    if (mode == OTRP__B64_URL)
        return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
    return (n + 2) / 3 * 4;
}

size_t otrp__b64_decoded_max(size_t n)
{
    return n / 4 * 3 + 3;
}

void otrp__b64_encode(const uint8_t *in, size_t n, char *out, otrp__b64_mode mode)
{
    const char *alphabet = mode == OTRP__B64_URL ? URL_ALPHABET : STD_ALPHABET;
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (mode != OTRP__B64_URL) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        if (mode != OTRP__B64_URL)
            out[o++] = '=';
    }
    out[o] = '\0';
}

/* Decode whole quads of unpadded text; returns the index of the first bad quad or n.
 * The output index is a local: through a pointer, every byte stored to out (which may
 * alias anything) would force a reload and a store of the count. */
static size_t decode_quads(int url, const char *in, size_t n, uint8_t *out, size_t *o)
{
    const quad_tables *tb = url ? &URL_QUADS : &STD_QUADS;
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    size_t k = *o;
    for (; i + 4 <= n; i += 4) {
        uint32_t v = tb->t[0][s[i]] | tb->t[1][s[i + 1]] | tb->t[2][s[i + 2]] |
                     tb->t[3][s[i + 3]];
        if (v & QUAD_BAD)
            break;
        out[k] = (uint8_t)(v >> 16);
        out[k + 1] = (uint8_t)(v >> 8);
        out[k + 2] = (uint8_t)v;
        k += 3;
    }
    *o = k;
    return i;
}

/* Decode 2 or 3 trailing characters (no padding); trailing bits must be zero. */
static otrp_status decode_tail(const uint8_t *table, const char *in, size_t rest,
                               uint8_t *out, size_t *o)
{
    if (rest == 0)
        return OTRP_OK;
    if (rest == 1)
        return OTRP_ERR_BASE64;
    uint32_t a = sextet(table, in[0]);
    uint32_t b = sextet(table, in[1]);
    uint32_t c = rest == 3 ? sextet(table, in[2]) : 0;
    if ((a | b | c) & 0xC0)
        return OTRP_ERR_BASE64;
    uint32_t v = a << 18 | b << 12 | c << 6;
    if (rest == 2 && (v & 0xFFFF) != 0)
        return OTRP_ERR_BASE64;
    if (rest == 3 && (v & 0xFF) != 0)
        return OTRP_ERR_BASE64;
    out[(*o)++] = (uint8_t)(v >> 16);
    if (rest == 3)
        out[(*o)++] = (uint8_t)(v >> 8);
    return OTRP_OK;
}

static otrp_status decode_with(int url, const char *in, size_t n, uint8_t *out,
                               size_t *out_len)
{
    size_t o = 0;
    size_t whole = n - n % 4;
    if (decode_quads(url, in, whole, out, &o) != whole)
        return OTRP_ERR_BASE64;
    otrp_status st = decode_tail(table_for(url), in + whole, n % 4, out, &o);
    if (st != OTRP_OK)
        return st;
    *out_len = o;
    return OTRP_OK;
}

/* Strip correct '=' padding: the padded length is a multiple of 4 and at most two
 * '=' end it. Returns the unpadded length, or SIZE_MAX when the padding is wrong. */
static size_t strip_padding(const char *in, size_t n, int required)
{
    size_t pad = 0;
    while (pad < n && pad < 3 && in[n - 1 - pad] == '=')
        pad++;
    if (pad == 0)
        return (required && n % 4 != 0) ? SIZE_MAX : n;
    if (pad > 2 || n % 4 != 0)
        return SIZE_MAX;
    return n - pad;
}

otrp_status otrp__b64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len,
                             otrp__b64_mode mode)
{
    *out_len = 0;
    if (n > 0 && in == NULL)
        return OTRP_ERR_INVALID_ARG;
    int url;
    int padding_required;
    switch (mode) {
    case OTRP__B64_URL:
        url = 1;
        padding_required = 0;
        if (memchr(in, '=', n) != NULL)
            return OTRP_ERR_BASE64;
        break;
    case OTRP__B64_STD:
        url = 0;
        padding_required = 1;
        break;
    case OTRP__B64_FIELD:
    default: {
        int has_std = memchr(in, '+', n) != NULL || memchr(in, '/', n) != NULL;
        int has_url = memchr(in, '-', n) != NULL || memchr(in, '_', n) != NULL;
        if (has_std && has_url)
            return OTRP_ERR_BASE64;
        url = !has_std;
        padding_required = has_std;
        break;
    }
    }
    size_t unpadded = strip_padding(in, n, padding_required);
    if (unpadded == SIZE_MAX)
        return OTRP_ERR_BASE64;
    return decode_with(url, in, unpadded, out, out_len);
}

otrp_status otrp__b64url_decode_chunk(const char *in, size_t n, uint8_t *out,
                                      size_t *out_len, int final)
{
    size_t o = 0;
    size_t whole = n - n % 4;
    *out_len = 0;
    if (!final && whole != n)
        return OTRP_ERR_INVALID_ARG;
    if (decode_quads(1, in, whole, out, &o) != whole)
        return OTRP_ERR_BASE64;
    otrp_status st = decode_tail(table_for(1), in + whole, n % 4, out, &o);
    if (st != OTRP_OK)
        return st;
    *out_len = o;
    return OTRP_OK;
}
