#include "agent/tbs_scan.h"

#include <stdio.h>
#include <string.h>

#include "util/detail.h"
#include "util/json_scan.h"

enum {
    S_VALUE,        /* a value comes next */
    S_ARRAY_FIRST,  /* after '[': a value or ']' */
    S_KEY_OR_END,   /* after '{': a key or '}' */
    S_KEY,          /* after ',' in an object: a key */
    S_COLON,        /* after a key */
    S_AFTER_VALUE,  /* ',' or the closing bracket */
    S_STRING,
    S_ESCAPE,
    S_UNICODE,      /* reading the hex digits of \u */
    S_LOW_BACKSLASH,/* a high surrogate was read: '\' of the low one comes next */
    S_LOW_U,
    S_NUMBER,
    S_LITERAL,
    S_END           /* the top-level value is complete: only white space may follow */
};

enum { N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };

/* The routing fields, with their lengths: a member name (a C string, as strcmp would
 * read it) whose byte at that length is not its end is passed over at once. */
#define FIELD(name) {name, sizeof name - 1}
static const struct field_name {
    const char *name;
    size_t len;
} FIELDS[OTRP__FIELD_COUNT] = {FIELD("rid"), FIELD("tid"), FIELD("tee"), FIELD("status")};

void otrp__tbs_init(otrp__tbs_scanner *sc, const char *expected_name, unsigned wanted,
                    otrp__tbs_fields *fields, char *detail, size_t detail_cap)
{
    memset(sc, 0, sizeof *sc);
    sc->expected_name = expected_name;
    sc->wanted = wanted;
    sc->fields = fields;
    sc->detail = detail;
    sc->detail_cap = detail_cap;
    sc->state = S_VALUE;
    sc->pending_field = -1;
    sc->capture_field = -1;
    fields->present = 0;
}

static otrp_status fail(otrp__tbs_scanner *sc, otrp_status st, const char *what,
                        const char *name)
{
    if (sc->detail != NULL && sc->detail_cap > 0) {
        if (name != NULL)
            (void)snprintf(sc->detail, sc->detail_cap, "signed payload: %s '%s' (byte %zu)",
                           what, name, sc->offset);
        else
            (void)snprintf(sc->detail, sc->detail_cap, "signed payload: %s (byte %zu)", what,
                           sc->offset);
    }
    return st;
}

static int top_is_object(const otrp__tbs_scanner *sc)
{
    return (sc->stack >> (sc->depth - 1)) & 1u;
}

static otrp_status push(otrp__tbs_scanner *sc, int is_object)
{
    if (sc->depth >= OTRP__TBS_MAX_DEPTH)
        return fail(sc, OTRP_ERR_MSG_DEPTH, "JSON nested too deeply", NULL);
    if (is_object)
        sc->stack |= (uint64_t)1 << sc->depth;
    else
        sc->stack &= ~((uint64_t)1 << sc->depth);
    sc->depth++;
    return OTRP_OK;
}

/* A value (scalar or container) has ended. */
static void value_done(otrp__tbs_scanner *sc)
{
    sc->state = sc->depth == 0 ? S_END : S_AFTER_VALUE;
    if (sc->depth == 0)
        sc->complete = 1;
    if (sc->wanted != 0 && (sc->fields->present & sc->wanted) == sc->wanted)
        sc->satisfied = 1;
}

static otrp_status capture_byte(otrp__tbs_scanner *sc, char ch)
{
    if (sc->capture_field < 0)
        return OTRP_OK;
    if (sc->capture_len >= OTRP__FIELD_MAX)
        return fail(sc, OTRP_ERR_MSG_FIELD, "value too long:", FIELDS[sc->capture_field].name);
    sc->fields->value[sc->capture_field][sc->capture_len++] = ch;
    return OTRP_OK;
}

/* Bytes of the string being read: part of a member name, of a captured field value, or
 * of a string nobody reads (dropped). Taken a run at a time, not byte by byte. */
static otrp_status collect(otrp__tbs_scanner *sc, const char *bytes, size_t n)
{
    if (sc->string_is_key) {
        size_t room = sizeof sc->key - 1;
        if (sc->key_len < room)
            memcpy(sc->key + sc->key_len, bytes, n < room - sc->key_len ? n : room - sc->key_len);
        sc->key_len += n; /* counts on past the buffer: a long key matches nothing */
        return OTRP_OK;
    }
    if (sc->capture_field < 0)
        return OTRP_OK;
    if (n > OTRP__FIELD_MAX - sc->capture_len)
        return fail(sc, OTRP_ERR_MSG_FIELD, "value too long:", FIELDS[sc->capture_field].name);
    memcpy(sc->fields->value[sc->capture_field] + sc->capture_len, bytes, n);
    sc->capture_len += n;
    return OTRP_OK;
}

static void finish_capture(otrp__tbs_scanner *sc)
{
    if (sc->capture_field < 0)
        return;
    sc->fields->value[sc->capture_field][sc->capture_len] = '\0';
    sc->fields->present |= OTRP__FIELD_BIT(sc->capture_field);
    sc->capture_field = -1;
}

static otrp_status key_done(otrp__tbs_scanner *sc)
{
    int fits = sc->key_len < sizeof sc->key;
    sc->key[fits ? sc->key_len : sizeof sc->key - 1] = '\0';
    sc->state = S_COLON;
    if (sc->depth == 1) {
        if (sc->depth1_members++ > 0)
            return fail(sc, OTRP_ERR_MSG_PAYLOAD, "more than one top-level member", NULL);
        if (!fits || strcmp(sc->key, sc->expected_name) != 0) {
            char q[OTRP__QUOTE_MAX + 1];
            otrp__quote(q, sizeof q, sc->key, fits ? sc->key_len : sizeof sc->key - 1);
            if (sc->detail != NULL && sc->detail_cap > 0)
                (void)snprintf(sc->detail, sc->detail_cap,
                               "signed payload names '%s', expected '%s'", q, sc->expected_name);
            return OTRP_ERR_MSG_NAME_MISMATCH;
        }
    } else if (sc->depth == 2 && fits) {
        for (int f = 0; f < OTRP__FIELD_COUNT; f++) {
            const struct field_name *fn = &FIELDS[f];
            if (sc->key[fn->len] == '\0' && memcmp(sc->key, fn->name, fn->len) == 0) {
                if (sc->fields->present & OTRP__FIELD_BIT(f))
                    return fail(sc, OTRP_ERR_MSG_DUPLICATE, "member appears twice:",
                                FIELDS[f].name);
                sc->pending_field = f;
            }
        }
    }
    return OTRP_OK;
}

static otrp_status string_done(otrp__tbs_scanner *sc)
{
    if (sc->string_is_key)
        return key_done(sc);
    /* JSON is UTF-8 (RFC 8259 section 8.1); a field's bytes go on into details, the
     * device state and the OTrPBrokerError, which must stay UTF-8 themselves. */
    if (sc->capture_field >= 0 &&
        !otrp__utf8_valid(sc->fields->value[sc->capture_field], sc->capture_len))
        return fail(sc, OTRP_ERR_MSG_FIELD, "not UTF-8:", FIELDS[sc->capture_field].name);
    finish_capture(sc);
    value_done(sc);
    return OTRP_OK;
}

/* A value starts with ch: check what the position allows, then enter its state. */
static otrp_status begin_value(otrp__tbs_scanner *sc, char ch)
{
    int field = -1;
    if (sc->depth == 2) {
        field = sc->pending_field;
        sc->pending_field = -1;
    }
    if (sc->depth < 2 && ch != '{') {
        if (sc->depth == 0)
            return fail(sc, OTRP_ERR_MSG_PAYLOAD, "not a JSON object", NULL);
        return fail(sc, OTRP_ERR_MSG_PAYLOAD, "signed message is not an object", NULL);
    }
    int is_number = ch == '-' || (ch >= '0' && ch <= '9');
    if (field >= 0) {
        int id_field = field == OTRP__FIELD_RID || field == OTRP__FIELD_TID;
        if (ch != '"' && !(id_field && is_number))
            return fail(sc, OTRP_ERR_MSG_FIELD,
                        id_field ? "not a string or an integer:" : "not a string:",
                        FIELDS[field].name);
        sc->capture_field = field;
        sc->capture_len = 0;
        sc->capture_bad = 0;
    }
    switch (ch) {
    case '{':
        sc->state = S_KEY_OR_END;
        return push(sc, 1);
    case '[':
        sc->state = S_ARRAY_FIRST;
        return push(sc, 0);
    case '"':
        sc->state = S_STRING;
        sc->string_is_key = 0;
        return OTRP_OK;
    case 't':
    case 'f':
    case 'n':
        sc->literal = ch == 't' ? "true" : ch == 'f' ? "false" : "null";
        sc->literal_pos = 1;
        sc->state = S_LITERAL;
        return OTRP_OK;
    default:
        if (!is_number)
            return fail(sc, OTRP_ERR_MSG_PAYLOAD, "unexpected character", NULL);
        sc->state = S_NUMBER;
        sc->num_state = ch == '-' ? N_MINUS : ch == '0' ? N_ZERO : N_INT;
        if (ch == '-')
            sc->capture_bad = 1; /* ids are non-negative integers */
        return capture_byte(sc, ch);
    }
}

static int is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* One number character; returns 0 when ch does not continue the number. */
static int number_step(otrp__tbs_scanner *sc, char ch)
{
    int d = is_digit(ch);
    switch (sc->num_state) {
    case N_MINUS: if (!d) return 0; sc->num_state = ch == '0' ? N_ZERO : N_INT; return 1;
    case N_ZERO:
    case N_INT:
        if (d && sc->num_state == N_INT) return 1;
        if (ch == '.') { sc->num_state = N_DOT; return 1; }
        if (ch == 'e' || ch == 'E') { sc->num_state = N_E; return 1; }
        return 0;
    case N_DOT: if (!d) return 0; sc->num_state = N_FRAC; return 1;
    case N_FRAC:
        if (d) return 1;
        if (ch == 'e' || ch == 'E') { sc->num_state = N_E; return 1; }
        return 0;
    case N_E:
        if (ch == '+' || ch == '-') { sc->num_state = N_ESIGN; return 1; }
        if (!d) return 0;
        sc->num_state = N_EXP;
        return 1;
    case N_ESIGN: if (!d) return 0; sc->num_state = N_EXP; return 1;
    default: return d;
    }
}

static otrp_status number_done(otrp__tbs_scanner *sc)
{
    if (sc->num_state != N_ZERO && sc->num_state != N_INT && sc->num_state != N_FRAC &&
        sc->num_state != N_EXP)
        return fail(sc, OTRP_ERR_MSG_PAYLOAD, "malformed number", NULL);
    if (sc->capture_field >= 0) {
        if (sc->capture_bad || (sc->num_state != N_ZERO && sc->num_state != N_INT))
            return fail(sc, OTRP_ERR_MSG_FIELD, "not a string or a non-negative integer:",
                        FIELDS[sc->capture_field].name);
        finish_capture(sc);
    }
    value_done(sc);
    return OTRP_OK;
}

static int hex_digit(char ch)
{
    if (is_digit(ch)) return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static otrp_status emit_code_point(otrp__tbs_scanner *sc, unsigned long cp)
{
    if (cp == 0 && sc->capture_field >= 0)
        return fail(sc, OTRP_ERR_MSG_FIELD, "contains a NUL character:",
                    FIELDS[sc->capture_field].name);
    char b[4];
    size_t n = otrp__utf8_encode(cp, b);
    return collect(sc, b, n);
}

static otrp_status unicode_done(otrp__tbs_scanner *sc)
{
    unsigned long v = sc->u_value;
    if (sc->u_high != 0) {
        if (v < 0xDC00 || v > 0xDFFF)
            return fail(sc, OTRP_ERR_MSG_PAYLOAD, "unpaired surrogate", NULL);
        unsigned long cp = 0x10000 + ((sc->u_high - 0xD800) << 10) + (v - 0xDC00);
        sc->u_high = 0;
        sc->state = S_STRING;
        return emit_code_point(sc, cp);
    }
    if (v >= 0xD800 && v <= 0xDBFF) {
        sc->u_high = v;
        sc->state = S_LOW_BACKSLASH;
        return OTRP_OK;
    }
    if (v >= 0xDC00 && v <= 0xDFFF)
        return fail(sc, OTRP_ERR_MSG_PAYLOAD, "unpaired surrogate", NULL);
    sc->state = S_STRING;
    return emit_code_point(sc, v);
}

static otrp_status escape_step(otrp__tbs_scanner *sc, char ch)
{
    char out;
    switch (ch) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u':
        sc->state = S_UNICODE;
        sc->u_digits = 0;
        sc->u_value = 0;
        return OTRP_OK;
    default:
        return fail(sc, OTRP_ERR_MSG_PAYLOAD, "bad escape in string", NULL);
    }
    sc->state = S_STRING;
    return collect(sc, &out, 1);
}

/* Structural characters between tokens. */
static otrp_status structure_step(otrp__tbs_scanner *sc, char ch)
{
    switch (sc->state) {
    case S_VALUE:
        return begin_value(sc, ch);
    case S_ARRAY_FIRST:
        if (ch == ']') {
            sc->depth--;
            value_done(sc);
            return OTRP_OK;
        }
        return begin_value(sc, ch);
    case S_KEY_OR_END:
        if (ch == '}') {
            sc->depth--;
            value_done(sc);
            return OTRP_OK;
        }
        /* fall through */
    case S_KEY:
        if (ch != '"')
            return fail(sc, OTRP_ERR_MSG_PAYLOAD, "expected a member name", NULL);
        sc->state = S_STRING;
        sc->string_is_key = 1;
        sc->key_len = 0;
        return OTRP_OK;
    case S_COLON:
        if (ch != ':')
            return fail(sc, OTRP_ERR_MSG_PAYLOAD, "expected ':'", NULL);
        sc->state = S_VALUE;
        return OTRP_OK;
    case S_AFTER_VALUE:
        if (ch == ',') {
            sc->state = top_is_object(sc) ? S_KEY : S_VALUE;
            return OTRP_OK;
        }
        if ((ch == '}' && top_is_object(sc)) || (ch == ']' && !top_is_object(sc))) {
            sc->depth--;
            value_done(sc);
            return OTRP_OK;
        }
        return fail(sc, OTRP_ERR_MSG_PAYLOAD, "expected ',' or a closing bracket", NULL);
    default: /* S_END */
        return fail(sc, OTRP_ERR_MSG_PAYLOAD, "bytes after the signed JSON", NULL);
    }
}

otrp_status otrp__tbs_feed(otrp__tbs_scanner *sc, const char *data, size_t n)
{
    size_t i = 0;
    otrp_status st = OTRP_OK;
    while (i < n && !sc->satisfied) {
        char ch = data[i];
        switch (sc->state) {
        case S_STRING: {
            /* Plain bytes a run at a time: most payload bytes are inside long strings. */
            size_t stop = otrp__jc_scan_plain(data, i, n);
            if (stop > i) {
                st = collect(sc, data + i, stop - i);
                if (st != OTRP_OK)
                    return st;
                sc->offset += stop - i;
                i = stop;
                if (i == n)
                    return OTRP_OK;
                ch = data[i];
            }
            if (ch == '"')
                st = string_done(sc);
            else if (ch == '\\')
                sc->state = S_ESCAPE;
            else
                st = fail(sc, OTRP_ERR_MSG_PAYLOAD, "control character in string", NULL);
            break;
        }
        case S_ESCAPE:
            st = escape_step(sc, ch);
            break;
        case S_UNICODE: {
            int h = hex_digit(ch);
            if (h < 0) {
                st = fail(sc, OTRP_ERR_MSG_PAYLOAD, "bad \\u escape", NULL);
                break;
            }
            sc->u_value = sc->u_value * 16 + (unsigned long)h;
            if (++sc->u_digits == 4)
                st = unicode_done(sc);
            break;
        }
        case S_LOW_BACKSLASH:
            if (ch != '\\')
                st = fail(sc, OTRP_ERR_MSG_PAYLOAD, "unpaired surrogate", NULL);
            sc->state = S_LOW_U;
            break;
        case S_LOW_U:
            if (ch != 'u')
                st = fail(sc, OTRP_ERR_MSG_PAYLOAD, "unpaired surrogate", NULL);
            sc->state = S_UNICODE;
            sc->u_digits = 0;
            sc->u_value = 0;
            break;
        case S_NUMBER:
            if (number_step(sc, ch)) {
                if (!is_digit(ch))
                    sc->capture_bad = 1;
                st = capture_byte(sc, ch);
                break;
            }
            st = number_done(sc);
            if (st != OTRP_OK)
                return st;
            continue; /* ch belongs to what follows the number: read it again */
        case S_LITERAL:
            if (ch != sc->literal[sc->literal_pos]) {
                st = fail(sc, OTRP_ERR_MSG_PAYLOAD, "invalid literal", NULL);
                break;
            }
            if (sc->literal[++sc->literal_pos] == '\0')
                value_done(sc);
            break;
        default:
            if (!is_ws(ch))
                st = structure_step(sc, ch);
            break;
        }
        if (st != OTRP_OK)
            return st;
        i++;
        sc->offset++;
    }
    return st;
}

otrp_status otrp__tbs_finish(otrp__tbs_scanner *sc)
{
    if (sc->state == S_NUMBER) {
        otrp_status st = number_done(sc);
        if (st != OTRP_OK)
            return st;
    }
    if (sc->offset == 0)
        return fail(sc, OTRP_ERR_MSG_PAYLOAD, "empty", NULL);
    if (!sc->complete || sc->state != S_END)
        return fail(sc, OTRP_ERR_MSG_PAYLOAD, "JSON ends early", NULL);
    if (sc->depth1_members == 0)
        return fail(sc, OTRP_ERR_MSG_PAYLOAD, "no signed message in the object", NULL);
    return OTRP_OK;
}
