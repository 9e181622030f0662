#include "util/json_scan.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Objects whose member names are compared for duplicates hold at most this many
 * members; OTrP objects read this way (JWS objects, headers) have a handful. */
#define MAX_TRACKED_MEMBERS 128

void otrp__jc_fail(otrp__json_cursor *c, const char *what)
{
    if (c->detail != NULL && c->detail_cap > 0)
        (void)snprintf(c->detail, c->detail_cap, "%s at byte %zu", what, c->pos);
}

static otrp_status fail(otrp__json_cursor *c, otrp_status st, const char *what)
{
    otrp__jc_fail(c, what);
    return st;
}

static void skip_ws(otrp__json_cursor *c)
{
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        c->pos++;
    }
}

int otrp__jc_peek(otrp__json_cursor *c)
{
    skip_ws(c);
    return c->pos < c->len ? (unsigned char)c->s[c->pos] : -1;
}

otrp_status otrp__jc_expect(otrp__json_cursor *c, char ch)
{
    if (otrp__jc_peek(c) != (unsigned char)ch) {
        char what[32];
        (void)snprintf(what, sizeof what, "expected '%c'", ch);
        return fail(c, OTRP_ERR_JSON, c->pos < c->len ? what : "unexpected end");
    }
    c->pos++;
    return OTRP_OK;
}

/* Bytes of a 64-bit word at a time (SWAR): a byte of x is zero, below n (n <= 128), or
 * equal to v. The well-known bit tricks: no false negatives; false positives only in
 * bytes after a true one, which the byte loop below then looks at anyway. */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & HIGHS)
#define HAS_LESS(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)
#define HAS_BYTE(x, v) HAS_ZERO((x) ^ (ONES * (v)))

size_t otrp__jc_scan_plain(const char *s, size_t from, size_t len)
{
    size_t i = from;
#ifdef __SSE2__
    /* Sixteen bytes per step where SSE2 is there (every x86-64): one compare per kind
     * of stop byte, and the mask gives the exact position. A control byte is one that
     * the unsigned maximum with 0x1F leaves at 0x1F. */
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i ctl_max = _mm_set1_epi8(0x1F);
    while (len - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                                 _mm_cmpeq_epi8(x, backslash)),
                                    _mm_cmpeq_epi8(_mm_max_epu8(x, ctl_max), ctl_max));
        unsigned mask = (unsigned)_mm_movemask_epi8(stop);
        if (mask != 0)
            return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#endif
    /* Long strings (certificates, ciphertext) dominate: skip 8 plain bytes at a time. */
    while (len - i >= 8) {
        uint64_t x;
        memcpy(&x, s + i, sizeof x);
        if (HAS_BYTE(x, '"') | HAS_BYTE(x, '\\') | HAS_LESS(x, 0x20))
            break;
        i += 8;
    }
    while (i < len) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\' || ch < 0x20)
            break;
        i++;
    }
    return i;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Read 4 hex digits at c->pos; -1 when malformed. */
static long read_hex4(otrp__json_cursor *c)
{
    if (c->len - c->pos < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(c->s[c->pos + (size_t)i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    c->pos += 4;
    return v;
}

static void emit(char *out, size_t cap, size_t *n, const char *bytes, size_t len)
{
    if (out != NULL && *n < cap) {
        size_t room = cap - *n;
        memcpy(out + *n, bytes, len < room ? len : room);
    }
    *n += len;
}

size_t otrp__utf8_encode(unsigned long cp, char *b)
{
    if (cp < 0x80) {
        b[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One escape sequence after the backslash; appends its UTF-8 to out. */
static otrp_status read_escape(otrp__json_cursor *c, char *out, size_t cap, size_t *n,
                               int *has_nul)
{
    if (c->pos >= c->len)
        return fail(c, OTRP_ERR_JSON, "unterminated string");
    char e = c->s[c->pos++];
    char simple;
    switch (e) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': {
        long hi = read_hex4(c);
        if (hi < 0)
            return fail(c, OTRP_ERR_JSON, "bad \\u escape");
        unsigned long cp = (unsigned long)hi;
        if (hi >= 0xD800 && hi <= 0xDBFF) {
            if (c->len - c->pos < 2 || c->s[c->pos] != '\\' || c->s[c->pos + 1] != 'u')
                return fail(c, OTRP_ERR_JSON, "unpaired surrogate");
            c->pos += 2;
            long lo = read_hex4(c);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(c, OTRP_ERR_JSON, "unpaired surrogate");
            cp = 0x10000 + (((unsigned long)hi - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
        } else if (hi >= 0xDC00 && hi <= 0xDFFF) {
            return fail(c, OTRP_ERR_JSON, "unpaired surrogate");
        }
        if (cp == 0 && has_nul != NULL)
            *has_nul = 1;
        char b[4];
        size_t b_len = otrp__utf8_encode(cp, b);
        emit(out, cap, n, b, b_len);
        return OTRP_OK;
    }
    default:
        return fail(c, OTRP_ERR_JSON, "bad escape");
    }
    emit(out, cap, n, &simple, 1);
    return OTRP_OK;
}

otrp_status otrp__jc_string(otrp__json_cursor *c, char *out, size_t cap,
                            size_t *decoded_len, int *has_nul, size_t *start, size_t *end)
{
    if (otrp__jc_peek(c) != '"')
        return fail(c, OTRP_ERR_JSON, c->pos < c->len ? "expected a string" : "unexpected end");
    if (start != NULL)
        *start = c->pos;
    c->pos++;
    size_t n = 0;
    for (;;) {
        size_t stop = otrp__jc_scan_plain(c->s, c->pos, c->len);
        emit(out, cap, &n, c->s + c->pos, stop - c->pos);
        c->pos = stop;
        if (c->pos >= c->len)
            return fail(c, OTRP_ERR_JSON, "unterminated string");
        char ch = c->s[c->pos++];
        if (ch == '"')
            break;
        if (ch != '\\')
            return fail(c, OTRP_ERR_JSON, "control character in string");
        otrp_status st = read_escape(c, out, cap, &n, has_nul);
        if (st != OTRP_OK)
            return st;
    }
    if (out != NULL && n < cap)
        out[n] = '\0';
    if (decoded_len != NULL)
        *decoded_len = n;
    if (end != NULL)
        *end = c->pos;
    return OTRP_OK;
}

static otrp_status skip_number(otrp__json_cursor *c)
{
    const char *s = c->s;
    size_t p = c->pos;
    if (p < c->len && s[p] == '-')
        p++;
    if (p >= c->len || s[p] < '0' || s[p] > '9')
        return fail(c, OTRP_ERR_JSON, "bad number");
    if (s[p] == '0') {
        p++;
    } else {
        while (p < c->len && s[p] >= '0' && s[p] <= '9')
            p++;
    }
    if (p < c->len && s[p] == '.') {
        p++;
        if (p >= c->len || s[p] < '0' || s[p] > '9')
            return fail(c, OTRP_ERR_JSON, "bad number");
        while (p < c->len && s[p] >= '0' && s[p] <= '9')
            p++;
    }
    if (p < c->len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < c->len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= c->len || s[p] < '0' || s[p] > '9')
            return fail(c, OTRP_ERR_JSON, "bad number");
        while (p < c->len && s[p] >= '0' && s[p] <= '9')
            p++;
    }
    c->pos = p;
    return OTRP_OK;
}

static otrp_status skip_literal(otrp__json_cursor *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->pos < n || memcmp(c->s + c->pos, word, n) != 0)
        return fail(c, OTRP_ERR_JSON, "invalid literal");
    c->pos += n;
    return OTRP_OK;
}

/* A member name: its span as written (quotes included), its decoded length, whether it
 * holds an escape (every escape is shorter decoded than written) and a \u0000. */
struct name {
    size_t start, end;
    size_t decoded_len;
    int escaped, has_nul;
};

/* The decoded bytes of a name already validated by otrp__jc_string, one at a time. */
struct name_reader {
    otrp__json_cursor c;
    char pending[4]; /* the UTF-8 of the escape read last */
    size_t pending_len, next;
};

/* The next decoded byte, or -1 at the end of the name or at a NUL (see skip_object). */
static int name_byte(struct name_reader *r)
{
    if (r->next == r->pending_len) {
        char ch = r->c.s[r->c.pos];
        if (ch == '"')
            return -1;
        r->c.pos++;
        if (ch != '\\')
            return (unsigned char)ch;
        r->pending_len = r->next = 0;
        (void)read_escape(&r->c, r->pending, sizeof r->pending, &r->pending_len, NULL);
    }
    int b = (unsigned char)r->pending[r->next++];
    return b == 0 ? -1 : b;
}

static int same_name(const char *s, size_t len, const struct name *a, const struct name *b)
{
    if (!a->escaped && !b->escaped) /* the common case: compare as written */
        return a->end - a->start == b->end - b->start &&
               memcmp(s + a->start, s + b->start, a->end - a->start) == 0;
    struct name_reader ra = {{s, len, a->start + 1, NULL, 0}, {0}, 0, 0};
    struct name_reader rb = {{s, len, b->start + 1, NULL, 0}, {0}, 0, 0};
    for (;;) {
        int x = name_byte(&ra), y = name_byte(&rb);
        if (x != y)
            return 0;
        if (x < 0)
            return 1;
    }
}

/*
 * Duplicate names are compared by the text they spell, escapes resolved (RFC 8259:
 * "\u0070rotected" is "protected", "\u001b" is "\u001B"), and that text is read up to
 * a \u0000 the way strcmp and cJSON read it: whatever spelling an attacker picks, the
 * agent sees the same duplicates a C reader of the message (the TEE) would. The agent's
 * name matching (route.c, tbs_scan.c) reads decoded names up to a NUL as well.
 */
static otrp_status skip_object(otrp__json_cursor *c, int depth_left)
{
    struct name names[MAX_TRACKED_MEMBERS];
    size_t count = 0;
    c->pos++; /* '{' */
    if (otrp__jc_peek(c) == '}') {
        c->pos++;
        return OTRP_OK;
    }
    for (;;) {
        struct name n = {0, 0, 0, 0, 0};
        otrp_status st = otrp__jc_string(c, NULL, 0, &n.decoded_len, &n.has_nul, &n.start, &n.end);
        if (st != OTRP_OK)
            return st;
        if (count == MAX_TRACKED_MEMBERS)
            return fail(c, OTRP_ERR_JSON, "object has too many members");
        n.escaped = n.decoded_len != n.end - n.start - 2;
        for (size_t i = 0; i < count; i++) {
            /* names of different lengths differ, unless a NUL cuts one short */
            const struct name *m = &names[i];
            if ((m->decoded_len == n.decoded_len || m->has_nul || n.has_nul) &&
                same_name(c->s, c->len, m, &n))
                return fail(c, OTRP_ERR_MSG_DUPLICATE, "duplicate member name");
        }
        names[count++] = n;
        if ((st = otrp__jc_expect(c, ':')) != OTRP_OK)
            return st;
        if ((st = otrp__jc_skip_value(c, depth_left - 1)) != OTRP_OK)
            return st;
        int next = otrp__jc_peek(c);
        c->pos++;
        if (next == '}')
            return OTRP_OK;
        if (next != ',') {
            c->pos--;
            return fail(c, OTRP_ERR_JSON, next < 0 ? "unexpected end" : "expected ',' or '}'");
        }
    }
}

static otrp_status skip_array(otrp__json_cursor *c, int depth_left)
{
    c->pos++; /* '[' */
    if (otrp__jc_peek(c) == ']') {
        c->pos++;
        return OTRP_OK;
    }
    for (;;) {
        otrp_status st = otrp__jc_skip_value(c, depth_left - 1);
        if (st != OTRP_OK)
            return st;
        int next = otrp__jc_peek(c);
        c->pos++;
        if (next == ']')
            return OTRP_OK;
        if (next != ',') {
            c->pos--;
            return fail(c, OTRP_ERR_JSON, next < 0 ? "unexpected end" : "expected ',' or ']'");
        }
    }
}

otrp_status otrp__jc_skip_value(otrp__json_cursor *c, int depth_left)
{
    int ch = otrp__jc_peek(c);
    switch (ch) {
    case '{':
    case '[':
        if (depth_left <= 0)
            return fail(c, OTRP_ERR_MSG_DEPTH, "JSON nested too deeply");
        return ch == '{' ? skip_object(c, depth_left) : skip_array(c, depth_left);
    case '"':
        return otrp__jc_string(c, NULL, 0, NULL, NULL, NULL, NULL);
    case 't':
        return skip_literal(c, "true");
    case 'f':
        return skip_literal(c, "false");
    case 'n':
        return skip_literal(c, "null");
    case -1:
        return fail(c, OTRP_ERR_JSON, "unexpected end");
    default:
        if (ch == '-' || (ch >= '0' && ch <= '9'))
            return skip_number(c);
        return fail(c, OTRP_ERR_JSON, "unexpected character");
    }
}
