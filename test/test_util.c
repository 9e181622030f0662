/* Unit tests of lib/util: status table, buffers, strict base64, strict JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "otrp/otrp.h"
#include "util/base64.h"
#include "util/detail.h"
#include "util/json_lift.h"
#include "util/json_scan.h"
#include "util/json_strict.h"
#include "util/mem.h"

static void test_status_names_and_messages(void **state)
{
    (void)state;
    assert_string_equal(otrp_status_name(OTRP_OK), "OK");
    assert_string_equal(otrp_status_name(OTRP_ERR_TEE_BUSY), "ERR_TEE_BUSY");
    assert_string_equal(otrp_strerror(OTRP_ERR_TEE_BUSY), "TEE busy");
    assert_string_equal(otrp_status_name((otrp_status)9999), "UNKNOWN");
    assert_string_equal(otrp_strerror((otrp_status)9999), "unknown status");
    assert_int_equal(OTRP_ERR_MSG_EMPTY, 10);
    assert_string_equal(otrp_version(), OTRP_VERSION_STRING);
}

static void test_buf_limit_and_termination(void **state)
{
    (void)state;
    otrp_buf b = {0};
    b.max = 8;
    assert_int_equal(otrp_buf_append_str(&b, "abcd"), OTRP_OK);
    assert_string_equal((char *)b.data, "abcd");
    assert_int_equal(otrp_buf_append_str(&b, "efghi"), OTRP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 4); /* unchanged by the refused append */
    assert_int_equal(otrp_buf_append_str(&b, "efgh"), OTRP_OK);
    assert_int_equal(b.len, 8);
    otrp_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal((char *)b.data, "");
    otrp_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.max, 8);
}

struct b64_case {
    const char *text;
    otrp__b64_mode mode;
    const char *decoded; /* NULL: must be rejected */
};

static const struct b64_case B64_CASES[] = {
    /* RFC 4648 section 10 vectors */
    {"", OTRP__B64_STD, ""},
    {"Zg==", OTRP__B64_STD, "f"},
    {"Zm8=", OTRP__B64_STD, "fo"},
    {"Zm9v", OTRP__B64_STD, "foo"},
    {"Zm9vYg==", OTRP__B64_STD, "foob"},
    {"Zm9vYmE=", OTRP__B64_STD, "fooba"},
    {"Zm9vYmFy", OTRP__B64_STD, "foobar"},
    {"Zg", OTRP__B64_URL, "f"},
    {"Zm8", OTRP__B64_URL, "fo"},
    {"Zm9vYmFy", OTRP__B64_URL, "foobar"},
    {"_-8", OTRP__B64_URL, "\xff\xef"},
    {"/+8=", OTRP__B64_STD, "\xff\xef"},
    /* rejected */
    {"Zg", OTRP__B64_STD, NULL},       /* standard needs padding */
    {"Zg=", OTRP__B64_STD, NULL},      /* wrong padding */
    {"Zg===", OTRP__B64_STD, NULL},
    {"Zh==", OTRP__B64_STD, NULL},     /* non-zero trailing bits */
    {"Zm9=", OTRP__B64_STD, NULL},     /* non-zero trailing bits */
    {"Z", OTRP__B64_URL, NULL},        /* impossible length */
    {"Zg==", OTRP__B64_URL, NULL},     /* JOSE: no padding */
    {"Zm9v!", OTRP__B64_URL, NULL},
    {"Zm 9v", OTRP__B64_STD, NULL},
    {"_-8=", OTRP__B64_STD, NULL},     /* url alphabet in standard */
    {"/+8", OTRP__B64_URL, NULL},      /* standard alphabet in url */
    {"Z=g=", OTRP__B64_STD, NULL},     /* padding inside */
    /* binary OTrP fields (PROFILE P2) */
    {"/+8=", OTRP__B64_FIELD, "\xff\xef"},
    {"_-8", OTRP__B64_FIELD, "\xff\xef"},
    {"_-8=", OTRP__B64_FIELD, "\xff\xef"},
    {"Zm8", OTRP__B64_FIELD, "fo"},
    {"/+8", OTRP__B64_FIELD, NULL},    /* standard without padding */
    {"/-8=", OTRP__B64_FIELD, NULL},   /* mixed alphabets */
};

static void test_base64_strict_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof B64_CASES / sizeof B64_CASES[0]; i++) {
        const struct b64_case *c = &B64_CASES[i];
        uint8_t out[64];
        size_t out_len = 0;
        otrp_status st = otrp__b64_decode(c->text, strlen(c->text), out, &out_len, c->mode);
        if (c->decoded == NULL) {
            if (st != OTRP_ERR_BASE64)
                fail_msg("case %zu '%s' accepted", i, c->text);
        } else {
            if (st != OTRP_OK)
                fail_msg("case %zu '%s' rejected", i, c->text);
            assert_int_equal(out_len, strlen(c->decoded));
            assert_memory_equal(out, c->decoded, out_len);
        }
    }
}

static void test_base64_round_trip_all_lengths(void **state)
{
    (void)state;
    uint8_t in[64], out[64];
    char text[100];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        for (int m = 0; m < 2; m++) {
            otrp__b64_mode mode = m ? OTRP__B64_URL : OTRP__B64_STD;
            otrp__b64_encode(in, n, text, mode);
            assert_int_equal(strlen(text), otrp__b64_encoded_len(n, mode));
            size_t out_len = 0;
            assert_int_equal(otrp__b64_decode(text, strlen(text), out, &out_len, mode), OTRP_OK);
            assert_int_equal(out_len, n);
            assert_memory_equal(out, in, n);
        }
    }
}

/* An independent decoder, written for clarity rather than speed, to check the table
 * decoder against: the rules of each mode spelled out, bits accumulated one sextet at a
 * time. */
static int ref_sextet(char c, int url)
{
    const char *alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                               : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c != '\0' ? strchr(alphabet, c) : NULL;
    return p != NULL ? (int)(p - alphabet) : -1;
}

static otrp_status ref_decode(const char *in, size_t n, uint8_t *out, size_t *out_len,
                              otrp__b64_mode mode)
{
    *out_len = 0;
    int has_std = memchr(in, '+', n) != NULL || memchr(in, '/', n) != NULL;
    int has_url = memchr(in, '-', n) != NULL || memchr(in, '_', n) != NULL;
    int url = mode == OTRP__B64_URL || (mode == OTRP__B64_FIELD && !has_std);
    if (mode == OTRP__B64_FIELD && has_std && has_url)
        return OTRP_ERR_BASE64;
    size_t pad = 0;
    while (pad < n && in[n - 1 - pad] == '=')
        pad++;
    if (mode == OTRP__B64_URL && pad > 0)
        return OTRP_ERR_BASE64;
    if (pad > 2 || (pad > 0 && n % 4 != 0) || (!url && n % 4 != 0))
        return OTRP_ERR_BASE64;
    size_t len = n - pad;
    if (len % 4 == 1)
        return OTRP_ERR_BASE64;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = ref_sextet(in[i], url);
        if (v < 0)
            return OTRP_ERR_BASE64;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* the unused trailing bits */
        return OTRP_ERR_BASE64;
    *out_len = o;
    return OTRP_OK;
}

/* The table decoder agrees with the reference: same status, length and bytes for every
 * mode on valid encodings, on strings drawn from both alphabets, '=' and bad bytes, and
 * on long inputs with one defect anywhere. */
static void check_same_decode(const char *in, size_t n)
{
    static const otrp__b64_mode modes[] = {OTRP__B64_STD, OTRP__B64_URL, OTRP__B64_FIELD};
    uint8_t a[256], b[256];
    assert_true(otrp__b64_decoded_max(n) <= sizeof a);
    for (size_t m = 0; m < 3; m++) {
        size_t la = 99, lb = 77;
        otrp_status sa = otrp__b64_decode(in, n, a, &la, modes[m]);
        otrp_status sb = ref_decode(in, n, b, &lb, modes[m]);
        if (sb != OTRP_OK)
            lb = 0;
        if (sa != sb || la != lb || (sa == OTRP_OK && memcmp(a, b, la) != 0))
            fail_msg("mode %zu, \"%.*s\": %d/%zu vs reference %d/%zu", m, (int)n, in, sa, la,
                     sb, lb);
    }
}

static void test_base64_decode_equals_reference(void **state)
{
    (void)state;
    static const char chars[] = "ABYZabyz0189+/-_=\0 .\x80\xff";
    uint32_t seed = 12345;
    char text[200];
    for (size_t n = 0; n <= 24; n++)
        for (int k = 0; k < 400; k++) {
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                text[i] = chars[(seed >> 16) % (sizeof chars - 1)];
            }
            check_same_decode(text, n);
        }
    uint8_t bin[120];
    for (size_t n = 0; n < sizeof bin; n++) {
        for (size_t i = 0; i < n; i++)
            bin[i] = (uint8_t)(i * 37u + n);
        otrp__b64_encode(bin, n, text, OTRP__B64_STD);
        check_same_decode(text, strlen(text));
        otrp__b64_encode(bin, n, text, OTRP__B64_URL);
        check_same_decode(text, strlen(text));
        size_t len = strlen(text);
        for (size_t pos = 0; pos < len; pos += 3) {
            char saved = text[pos];
            text[pos] = pos % 2 ? '=' : '.';
            check_same_decode(text, len);
            text[pos] = saved;
        }
    }
}

static void test_base64url_chunks_match_whole(void **state)
{
    (void)state;
    const char *text = "eyJJbnN0YWxsVEFUQlNSZXF1ZXN0Ijp7InRlZSI6IlByaW1hcnkgVEVFIn19";
    uint8_t whole[64], part[64];
    size_t whole_len = 0, a = 0, b = 0;
    assert_int_equal(otrp__b64_decode(text, strlen(text), whole, &whole_len, OTRP__B64_URL), OTRP_OK);
    assert_int_equal(otrp__b64url_decode_chunk(text, 40, part, &a, 0), OTRP_OK);
    assert_int_equal(otrp__b64url_decode_chunk(text + 40, strlen(text) - 40, part + a, &b, 1), OTRP_OK);
    assert_int_equal(a + b, whole_len);
    assert_memory_equal(part, whole, whole_len);
    assert_int_equal(otrp__b64url_decode_chunk(text, 6, part, &a, 0), OTRP_ERR_INVALID_ARG);
}

static void test_json_strict_rejects(void **state)
{
    (void)state;
    cJSON *root = NULL;
    char detail[128];
    assert_int_equal(otrp__json_parse("{\"a\":1,\"a\":2}", 13, 8, &root, detail, sizeof detail),
                     OTRP_ERR_MSG_DUPLICATE);
    assert_non_null(strstr(detail, "'a'"));
    assert_int_equal(otrp__json_parse("[[[[1]]]]", 9, 3, &root, NULL, 0), OTRP_ERR_MSG_DEPTH);
    assert_int_equal(otrp__json_parse("{} x", 4, 8, &root, NULL, 0), OTRP_ERR_JSON);
    assert_int_equal(otrp__json_parse("{\"a\":\"\0\"}", 9, 8, &root, NULL, 0), OTRP_ERR_JSON);
    assert_int_equal(otrp__json_parse("", 0, 8, &root, NULL, 0), OTRP_ERR_JSON);
    /* RFC 8259, where cJSON is lax: control bytes inside strings must be escaped, and
     * white space is space, tab, CR and LF only. */
    static const char *const lax[] = {"{\"a\":\"x\ty\"}", "{\"a\":\"x\ny\"}",
                                      "{\"a\":\"\x1f\"}", "{\"a\":\x01\"b\"}",
                                      "{\"a\"\x0b:1}", "\x0c[1]"};
    for (size_t i = 0; i < sizeof lax / sizeof lax[0]; i++) {
        detail[0] = '\0';
        assert_int_equal(otrp__json_parse(lax[i], strlen(lax[i]), 8, &root, detail, sizeof detail),
                         OTRP_ERR_JSON);
        assert_non_null(strstr(detail, "control character"));
    }
    const char *escaped = "{\"a\":\"x\\ty\\n\\u001f\"}";
    assert_int_equal(otrp__json_parse(escaped, strlen(escaped), 8, &root, NULL, 0), OTRP_OK);
    assert_string_equal(otrp__json_string(root, "a"), "x\ty\n\x1f");
    cJSON_Delete(root);
    root = NULL;
    assert_null(root);
    assert_int_equal(otrp__json_parse(" {\"a\":{\"b\":[1,2]}} \n", 20, 8, &root, NULL, 0), OTRP_OK);
    assert_string_equal(otrp__json_member(root, "a")->child->string, "b");
    assert_null(otrp__json_string(root, "a"));
    cJSON_Delete(root);
}

/* The lifted parse is the plain parse: same status, same detail, same tree, on documents
 * whose long strings (8 bytes and more here) are lifted, and on hostile ones. */
static void test_json_lifted_parse_equals_plain(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        int depth;
        otrp_status want;
    } cases[] = {
        {"{\"a\":\"xxxxxxxx\",\"b\":[1,\"yyyyyyyyy\",{\"c\":\"zzzzzzzzzz\"}],\"d\":\"short\"}", 0, 8, OTRP_OK},
        {"\"xxxxxxxxxxxx\"", 0, 8, OTRP_OK},
        {" [ \"xxxxxxxxxx\" , \"yyyyyyyyyy\" ] \n", 0, 8, OTRP_OK},
        {"{\"long-member-name\":\"xxxxxxxxxx\"}", 0, 8, OTRP_OK},
        {"{\"long-member-name\" :\"xxxx\\nxxxx\",\"b\":\"\\u0061aaaaaaaaa\"}", 0, 8, OTRP_OK},
        {"{\"a\":\"xx\\\"xxxxxxx\",\"b\":\"xxxxxxxx\\\\\"}", 0, 8, OTRP_OK},
        {"{\"a\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xff\"}", 0, 8, OTRP_OK},
        /* a duplicate long member, the same and different values */
        {"{\"a\":\"xxxxxxxx\",\"a\":\"xxxxxxxx\"}", 0, 8, OTRP_ERR_MSG_DUPLICATE},
        {"{\"p\":{\"a\":\"xxxxxxxx\",\"b\":1,\"a\":\"yyyyyyyy\"}}", 0, 8, OTRP_ERR_MSG_DUPLICATE},
        {"{\"a\":\"xxxxxxxx\",\"\\u0061\":\"yyyyyyyy\"}", 0, 8, OTRP_ERR_MSG_DUPLICATE},
        /* truncated: after the long string, inside it, before its colon */
        {"{\"a\":\"xxxxxxxx\"", 0, 8, OTRP_ERR_JSON},
        {"{\"a\":\"xxxxxxxxxxxx", 0, 8, OTRP_ERR_JSON},
        {"{\"a\":\"xxxxxxxx\",\"b\"", 0, 8, OTRP_ERR_JSON},
        {"{\"a\":\"xxxxxxxx\\", 0, 8, OTRP_ERR_JSON},
        /* not JSON around the long strings */
        {"[\"xxxxxxxx\" \"yyyyyyyy\"]", 0, 8, OTRP_ERR_JSON},
        {"{\"xxxxxxxx\" \"yyyyyyyy\"}", 0, 8, OTRP_ERR_JSON},
        {"{\"a\":\"xxxxxxxx\"} x", 0, 8, OTRP_ERR_JSON},
        {"{\"a\":\"xxxxxxxx\"}\"yyyyyyyy\"", 0, 8, OTRP_ERR_JSON},
        /* a raw control byte in a long string: not lifted, and refused (RFC 8259) */
        {"{\"a\":\"xxxx\x01xxxx\"}", 0, 8, OTRP_ERR_JSON},
        {"{\"a\":\"xxxx\0xxxxxx\"}", 19, 8, OTRP_ERR_JSON},
        {"{\"a\":xxxxxxxx\"}", 0, 8, OTRP_ERR_JSON},
        /* too deep, with and without long strings inside */
        {"[[[[\"xxxxxxxxxx\"]]]]", 0, 3, OTRP_ERR_MSG_DEPTH},
        {"[\"xxxxxxxxxx\",[[[1]]]]", 0, 3, OTRP_ERR_MSG_DEPTH},
        {"[\"[[[[[[[[[[[[\"]", 0, 3, OTRP_OK},
        /* cJSON takes any byte up to 0x20 for white space, also before a colon; JSON
         * does not, and neither do we, lifted or not */
        {"{\"a\"\r\x0f\r:\"xxxxxxxx\",\"b\":[],\"d\":\"\"}", 0, 8, OTRP_ERR_JSON},
        {"{\"a\":\"xxxxxxxx\"\x01,\"b\"\x1f:\"\"}", 0, 8, OTRP_ERR_JSON},
        {"{\"a\"\r\t \n:\"xxxxxxxx\",\"b\":[],\"d\":\"\"}", 0, 8, OTRP_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = cases[i].text;
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(t);
        cJSON *plain = NULL, *lifted = NULL;
        char d1[128] = "", d2[128] = "";
        otrp_status s1 = otrp__json_parse(t, len, cases[i].depth, &plain, d1, sizeof d1);
        otrp_status s2 = otrp__json_parse_lifted(t, len, cases[i].depth, 8, &lifted, d2,
                                                 sizeof d2);
        if (s1 != cases[i].want || s2 != s1 || strcmp(d1, d2) != 0)
            fail_msg("case %zu: plain %d (%s), lifted %d (%s), want %d", i, s1, d1, s2, d2,
                     cases[i].want);
        if (s1 == OTRP_OK && !cJSON_Compare(plain, lifted, 1))
            fail_msg("case %zu: trees differ", i);
        if (s1 != OTRP_OK)
            assert_null(lifted);
        cJSON_Delete(plain);
        cJSON_Delete(lifted);
    }
}

/* The word-at-a-time scan stops exactly where the byte loop would, at every offset. */
static void test_json_scan_plain_stops_at_every_special_byte(void **state)
{
    (void)state;
    static const unsigned char stops[] = {'"', '\\', 0x00, 0x01, 0x1f};
    static const unsigned char plain[] = {' ', 'A', '~', 0x7f, 0x80, 0xc3, 0xff, 0x21, 0x5b};
    char text[48];
    for (size_t k = 0; k < sizeof plain; k++) {
        memset(text, (char)plain[k], sizeof text);
        assert_int_equal(otrp__jc_scan_plain(text, 0, sizeof text), sizeof text);
        for (size_t from = 0; from < 9; from++)
            assert_int_equal(otrp__jc_scan_plain(text, from, sizeof text), sizeof text);
        for (size_t pos = 0; pos < sizeof text; pos++) {
            for (size_t j = 0; j < sizeof stops; j++) {
                text[pos] = (char)stops[j];
                size_t from = pos % 5;
                size_t want = from <= pos ? pos : sizeof text;
                if (otrp__jc_scan_plain(text, from, sizeof text) != want)
                    fail_msg("plain 0x%02x, stop 0x%02x at %zu", plain[k], stops[j], pos);
                text[pos] = (char)plain[k];
            }
        }
    }
}

/* Member names are compared as the text they spell (RFC 8259), cut at a \u0000 the way
 * cJSON and strcmp read them: every spelling of one name is a duplicate. */
static void test_json_scan_duplicates_compare_decoded_names(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        otrp_status want;
    } cases[] = {
        {"{\"a\\u001b\":1,\"a\\u001B\":2}", OTRP_ERR_MSG_DUPLICATE}, /* case of hex digits */
        {"{\"\\u0070rotected\":1,\"protected\":2}", OTRP_ERR_MSG_DUPLICATE},
        {"{\"protected\":1,\"x\":0,\"\\u0070rotected\":2}", OTRP_ERR_MSG_DUPLICATE},
        {"{\"a\\/b\":1,\"a/b\":2}", OTRP_ERR_MSG_DUPLICATE},
        {"{\"\\u00e9\":1,\"\xc3\xa9\":2}", OTRP_ERR_MSG_DUPLICATE}, /* U+00E9 both ways */
        {"{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", OTRP_ERR_MSG_DUPLICATE},
        {"{\"x5c\":1,\"x5c\\u0000\":2}", OTRP_ERR_MSG_DUPLICATE}, /* read up to the NUL */
        {"{\"a\\u0000b\":1,\"a\\u0000c\":2}", OTRP_ERR_MSG_DUPLICATE},
        {"{\"h\":{\"k\":1,\"\\u006b\":2}}", OTRP_ERR_MSG_DUPLICATE}, /* nested */
        {"{\"ab\":1,\"a\\u0062c\":2}", OTRP_OK},
        {"{\"\\u0061\":1,\"b\":2,\"\\u0062\\u0063\":3}", OTRP_OK},
        {"{\"a\\u001b\":1,\"a\\u001c\":2}", OTRP_OK},
        {"{\"a\":1,\"b\":{\"a\":2}}", OTRP_OK}, /* one name in two objects */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char detail[96] = "";
        otrp__json_cursor c = {cases[i].text, strlen(cases[i].text), 0, detail, sizeof detail};
        otrp_status st = otrp__jc_skip_value(&c, 8);
        if (st != cases[i].want)
            fail_msg("case %zu: %s (%s), expected %s", i, otrp_status_name(st), detail,
                     otrp_status_name(cases[i].want));
    }
}

/* Peer text in a detail: printable ASCII, the rest as \xNN, cut between characters. */
static void test_quote_makes_peer_text_printable(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        size_t cap;
        const char *want;
    } cases[] = {
        {"Primary TEE", 0, 97, "Primary TEE"},
        {"Evil\x1b[31m\r\n\xff\xc3 \x7f~", 0, 97, "Evil\\x1b[31m\\x0d\\x0a\\xff\\xc3 \\x7f~"},
        {"caf\xc3\xa9", 0, 97, "caf\\xc3\\xa9"},         /* valid UTF-8 is escaped too */
        {"a\0b", 3, 97, "a\\x00b"},                       /* length-delimited text */
        {"back\\x1b", 0, 97, "back\\x1b"},                /* a backslash stays */
        {"abcdefghij", 0, 8, "abcd..."},                  /* cut, marked */
        {"ab\x1b\x1b", 0, 8, "ab..."},                    /* never inside an escape */
        {"abc", 0, 4, "abc"},                             /* exactly fits: no mark */
        {"abcdef", 0, 3, "ab"},                           /* no room for the mark */
        {"", 0, 97, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[97];
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        otrp__quote(out, cases[i].cap, cases[i].text, len);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("case %zu: '%s', expected '%s'", i, out, cases[i].want);
        char again[97];
        otrp__quote_str(again, sizeof again, out); /* idempotent */
        assert_string_equal(again, out);
    }
    char out[8] = "keep";
    otrp__quote(out, 0, "x", 1);
    assert_string_equal(out, "keep");
    otrp__quote_str(out, sizeof out, NULL);
    assert_string_equal(out, "");
}

/* Text for a JSON document: every byte outside a well-formed UTF-8 sequence is U+FFFD. */
static void test_utf8_repair_replaces_every_bad_byte(void **state)
{
    (void)state;
#define R "\xef\xbf\xbd"
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        const char *want; /* NULL: already valid */
        size_t want_len;  /* 0: strlen */
    } cases[] = {
        {"plain ASCII", 0, NULL, 0},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", 0, NULL, 0},
        {"\xff", 0, R, 0},
        {"a\xc3", 0, "a" R, 0},                   /* cut sequence at the end */
        {"\xe2\x82x", 0, R R "x", 0},             /* cut sequence, byte by byte */
        {"\x80", 0, R, 0},                        /* stray continuation byte */
        {"\xc0\xaf", 0, R R, 0},                  /* overlong '/' */
        {"\xe0\x80\x80", 0, R R R, 0},            /* overlong NUL */
        {"\xed\xa0\x80", 0, R R R, 0},            /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0, R R R R, 0},      /* past U+10FFFF */
        {"\xf5\x80", 0, R R, 0},
        {"a\0\xfe", 3, "a\0" R, 5},               /* length-delimited */
    };
#undef R
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        char *out = (char *)1;
        size_t out_len = 99;
        assert_int_equal(otrp__utf8_repair(cases[i].text, len, &out, &out_len), OTRP_OK);
        if (cases[i].want == NULL) {
            if (out != NULL)
                fail_msg("case %zu: valid text was changed", i);
            assert_int_equal(out_len, 0);
            continue;
        }
        size_t want_len = cases[i].want_len ? cases[i].want_len : strlen(cases[i].want);
        if (out == NULL || out_len != want_len || memcmp(out, cases[i].want, want_len) != 0)
            fail_msg("case %zu: wrong repair", i);
        assert_int_equal(out[out_len], '\0');
        otrp_free(out);
    }
}

/* The eight-at-a-time span check ends exactly where the byte loop would, at every
 * offset, for every byte outside the base64url alphabet. */
static void test_base64url_span_ends_at_every_foreign_byte(void **state)
{
    (void)state;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char text[40];
    for (size_t k = 0; k < sizeof text; k++)
        text[k] = alphabet[(k * 7) % 64];
    assert_int_equal(otrp__b64url_span(text, sizeof text), sizeof text);
    for (unsigned b = 0; b < 256; b++) {
        if (b != 0 && strchr(alphabet, (int)b) != NULL)
            continue;
        for (size_t pos = 0; pos < sizeof text; pos++) {
            char saved = text[pos];
            text[pos] = (char)b;
            if (otrp__b64url_span(text, sizeof text) != pos)
                fail_msg("byte 0x%02x at %zu", b, pos);
            text[pos] = saved;
        }
    }
}

static void test_hex_decode(void **state)
{
    (void)state;
    uint8_t out[3];
    assert_int_equal(otrp__hex_decode("00aFff", 3, out), 0);
    assert_memory_equal(out, "\x00\xaf\xff", 3);
    assert_int_equal(otrp__hex_decode("00ag00", 3, out), -1);
    assert_int_equal(otrp__hex_decode("0 1234", 3, out), -1);
}

static void test_ct_equal_and_memzero(void **state)
{
    (void)state;
    unsigned char a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 5};
    assert_true(otrp__ct_equal(a, a, 4));
    assert_false(otrp__ct_equal(a, b, 4));
    otrp__memzero(a, sizeof a);
    assert_int_equal(a[0] | a[1] | a[2] | a[3], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names_and_messages),
        cmocka_unit_test(test_buf_limit_and_termination),
        cmocka_unit_test(test_base64_strict_table),
        cmocka_unit_test(test_base64_round_trip_all_lengths),
        cmocka_unit_test(test_base64url_chunks_match_whole),
        cmocka_unit_test(test_base64_decode_equals_reference),
        cmocka_unit_test(test_json_strict_rejects),
        cmocka_unit_test(test_json_lifted_parse_equals_plain),
        cmocka_unit_test(test_json_scan_plain_stops_at_every_special_byte),
        cmocka_unit_test(test_json_scan_duplicates_compare_decoded_names),
        cmocka_unit_test(test_quote_makes_peer_text_printable),
        cmocka_unit_test(test_utf8_repair_replaces_every_bad_byte),
        cmocka_unit_test(test_base64url_span_ends_at_every_foreign_byte),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_ct_equal_and_memzero),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
