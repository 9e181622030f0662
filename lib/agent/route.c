#include "agent/route.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/base64.h"
#include "util/detail.h"
#include "util/json_scan.h"

/* Payload characters decoded per step: multiples of 4. The first step is small because
 * routing fields usually come first; later steps grow to the stack buffer's size. */
#define PAYLOAD_FIRST_CHUNK 256
#define PAYLOAD_CHUNK 4096
/* Nesting allowed inside JWS header objects. */
#define HEADER_MAX_DEPTH 16

struct message_name {
    const char *name;
    const char *tbs_name;
};

static const struct message_name REQUEST_NAMES[] = {
    {"GetDeviceStateRequest", "GetDeviceStateTBSRequest"},
    {"CreateSDRequest", "CreateSDTBSRequest"},
    {"UpdateSDRequest", "UpdateSDTBSRequest"},
    {"DeleteSDRequest", "DeleteSDTBSRequest"},
    {"InstallTARequest", "InstallTATBSRequest"},
    {"UpdateTARequest", "UpdateTATBSRequest"},
    {"DeleteTARequest", "DeleteTATBSRequest"},
};

static const struct message_name ANSWER_NAMES[] = {
    {"GetDeviceTEEStateResponse", "GetDeviceTEEStateTBSResponse"},
    {"CreateSDResponse", "CreateSDTBSResponse"},
    {"UpdateSDResponse", "UpdateSDTBSResponse"},
    {"DeleteSDResponse", "DeleteSDTBSResponse"},
    {"InstallTAResponse", "InstallTATBSResponse"},
    {"UpdateTAResponse", "UpdateTATBSResponse"},
    {"DeleteTAResponse", "DeleteTATBSResponse"},
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

enum jws_member {
    M_PAYLOAD = 1 << 0,
    M_PROTECTED = 1 << 1,
    M_HEADER = 1 << 2,
    M_SIGNATURE = 1 << 3,
    M_SIGNATURES = 1 << 4
};

struct reader {
    otrp__route *route;
    unsigned seen;          /* jws_member bits */
    char *detail;
    size_t detail_cap;
    unsigned wanted_fields;
};

__attribute__((format(printf, 3, 4)))
static otrp_status say(struct reader *r, otrp_status st, const char *fmt, ...)
{
    if (r->detail != NULL && r->detail_cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(r->detail, r->detail_cap, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* Cursor statuses are about JSON in general; here they are about the message. */
static otrp_status message_status(otrp_status st)
{
    return st == OTRP_ERR_JSON ? OTRP_ERR_MSG_NOT_JSON : st;
}

/* The JWS members with their lengths: a name is compared only with those of its length
 * (as a C string: up to a NUL from \u0000, as strcmp would read it). */
#define MEMBER(name, bit) {name, sizeof name - 1, bit}
static const struct jws_member_name {
    const char *name;
    size_t len;
    unsigned bit;
} JWS_MEMBERS[] = {MEMBER("payload", M_PAYLOAD), MEMBER("protected", M_PROTECTED),
                   MEMBER("header", M_HEADER), MEMBER("signature", M_SIGNATURE),
                   MEMBER("signatures", M_SIGNATURES)};

static const struct jws_member_name *known_member(const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < COUNT_OF(JWS_MEMBERS); i++) {
        const struct jws_member_name *m = &JWS_MEMBERS[i];
        if (m->len == len && memcmp(m->name, name, len) == 0)
            return m;
    }
    return NULL;
}

static const char *type_word(int ch)
{
    switch (ch) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    default: return "a number or literal";
    }
}

/* Validate a value whose JSON type must be `want` ('"', '{' or '['). */
static otrp_status typed_value(struct reader *r, otrp__json_cursor *c, const char *name,
                               int want)
{
    int ch = otrp__jc_peek(c);
    int got = (ch == '"' || ch == '{' || ch == '[') ? ch : 0;
    otrp_status st = message_status(otrp__jc_skip_value(c, HEADER_MAX_DEPTH));
    if (st != OTRP_OK)
        return st;
    if (got != want) {
        char what[96];
        (void)snprintf(what, sizeof what, "JWS member '%s' is %s, not %s", name,
                       type_word(got), type_word(want));
        return say(r, OTRP_ERR_MSG_JWS, "%s", what);
    }
    return OTRP_OK;
}

/* The longest JWS member name, NUL included: longer names are unknown at once. */
#define MEMBER_NAME_CAP 16
/* Room for a member name in a detail: a known one, or an unknown one quoted. */
#define MEMBER_TEXT_CAP (MEMBER_NAME_CAP * 4)

/* Read a member name and the ':' after it; *bit is its jws_member bit (0: unknown).
 * The name is matched decoded (escapes resolved), as the duplicate check reads names;
 * text receives it for a detail: as written in JWS_MEMBERS when known, else quoted. */
static otrp_status member_name(otrp__json_cursor *c, char text[MEMBER_TEXT_CAP], unsigned *bit)
{
    char name[MEMBER_NAME_CAP];
    size_t name_len;
    otrp_status st = otrp__jc_string(c, name, sizeof name - 1, &name_len, NULL, NULL, NULL);
    if (st != OTRP_OK)
        return message_status(st);
    size_t held = name_len < sizeof name - 1 ? name_len : sizeof name - 1;
    name[held] = '\0';
    const struct jws_member_name *m = name_len < sizeof name - 1 ? known_member(name) : NULL;
    *bit = m != NULL ? m->bit : 0;
    if (m != NULL)
        (void)snprintf(text, MEMBER_TEXT_CAP, "%s", m->name);
    else
        otrp__quote(text, MEMBER_TEXT_CAP, name, held);
    return message_status(otrp__jc_expect(c, ':'));
}

/* After a member: '}' ends the object (*closed = 1), ',' announces another. */
static otrp_status next_member(otrp__json_cursor *c, int *closed)
{
    int ch = otrp__jc_peek(c);
    if (ch == '}' || ch == ',') {
        c->pos++;
        *closed = ch == '}';
        return OTRP_OK;
    }
    otrp__jc_fail(c, ch < 0 ? "unexpected end" : "expected ',' or '}'");
    return OTRP_ERR_MSG_NOT_JSON;
}

/* One element of "signatures": an object with protected, header?, signature. */
static otrp_status signature_object(struct reader *r, otrp__json_cursor *c)
{
    if (otrp__jc_peek(c) != '{')
        return say(r, OTRP_ERR_MSG_JWS, "%s", "JWS signatures element is not an object");
    c->pos++;
    unsigned seen = 0;
    int closed = otrp__jc_peek(c) == '}';
    if (closed)
        c->pos++;
    while (!closed) {
        char name[MEMBER_TEXT_CAP];
        unsigned bit;
        otrp_status st = member_name(c, name, &bit);
        if (st != OTRP_OK)
            return st;
        if (bit != M_PROTECTED && bit != M_HEADER && bit != M_SIGNATURE)
            return say(r, OTRP_ERR_MSG_JWS, "unknown JWS signature member '%s'", name);
        if (seen & bit)
            return say(r, OTRP_ERR_MSG_DUPLICATE, "JWS signature member '%s' appears twice", name);
        seen |= bit;
        if ((st = typed_value(r, c, name, bit == M_HEADER ? '{' : '"')) != OTRP_OK ||
            (st = next_member(c, &closed)) != OTRP_OK)
            return st;
    }
    if ((seen & (M_PROTECTED | M_SIGNATURE)) != (M_PROTECTED | M_SIGNATURE))
        return say(r, OTRP_ERR_MSG_JWS, "%s", "JWS signature lacks 'protected' or 'signature'");
    return OTRP_OK;
}

/* "signatures": an array of exactly one signature object (PROFILE P2). */
static otrp_status signatures_array(struct reader *r, otrp__json_cursor *c)
{
    if (otrp__jc_peek(c) != '[') {
        size_t at = c->pos;
        otrp_status st = typed_value(r, c, "signatures", '[');
        c->pos = st == OTRP_OK ? c->pos : at;
        return st;
    }
    c->pos++;
    otrp_status st = signature_object(r, c);
    if (st != OTRP_OK)
        return st;
    int ch = otrp__jc_peek(c);
    if (ch == ',')
        return say(r, OTRP_ERR_MSG_JWS, "%s", "JWS has more than one signature");
    return message_status(otrp__jc_expect(c, ']'));
}

/* Decode the payload string (cursor at its opening quote) while the scanner reads it.
 * On return *end_known tells whether the cursor stands after the closing quote, or the
 * scanner was satisfied early and the cursor stands at the first unread character. */
static otrp_status read_payload(struct reader *r, otrp__json_cursor *c, int *end_known)
{
    otrp__route *route = r->route;
    otrp__tbs_scanner sc;
    otrp__tbs_init(&sc, route->tbs_name, r->wanted_fields, &route->fields, r->detail,
                   r->detail_cap);
    size_t p = c->pos + 1;
    char decoded[PAYLOAD_CHUNK / 4 * 3];
    for (size_t chunk = PAYLOAD_FIRST_CHUNK;; chunk = chunk < PAYLOAD_CHUNK ? chunk * 2 : chunk) {
        size_t avail = c->len - p;
        size_t span = avail < chunk ? avail : chunk;
        const char *quote = memchr(c->s + p, '"', span);
        int final = quote != NULL;
        size_t n = final ? (size_t)(quote - (c->s + p)) : span;
        if (!final && span < chunk) {
            c->pos = c->len;
            otrp__jc_fail(c, "payload string not terminated");
            return OTRP_ERR_MSG_NOT_JSON;
        }
        if (final)
            sc.wanted = 0; /* the end is known anyway: read the rest, strictly */
        size_t out_len = 0;
        if (otrp__b64url_decode_chunk(c->s + p, n, (uint8_t *)decoded, &out_len, final) != OTRP_OK) {
            char what[64];
            (void)snprintf(what, sizeof what, "near byte %zu", p);
            return say(r, OTRP_ERR_MSG_PAYLOAD, "JWS payload is not base64url (%s)", what);
        }
        otrp_status st = otrp__tbs_feed(&sc, decoded, out_len);
        route->payload_bytes_read += out_len;
        if (st != OTRP_OK)
            return st;
        p += n;
        if (final) {
            c->pos = p + 1;
            *end_known = 1;
            return otrp__tbs_finish(&sc);
        }
        if (sc.satisfied) {
            c->pos = p;
            *end_known = 0;
            return OTRP_OK;
        }
    }
}

static otrp_status jws_members(struct reader *r, otrp__json_cursor *c, int after_value);

/*
 * The routing fields were found early at c->pos: the rest of the payload is not decoded.
 * Its end is the first '"' after c->pos, found with memchr: a base64url string holds no
 * quote and no escape, so that is the end a full read finds, and the members after it
 * are read strictly from there. Every byte is looked at (no window at the end of the
 * message: one could start inside a later string and pass over a duplicate member or
 * an unclosed object before it). The last quantum is decoded, which also shows the
 * quote is not escaped; the characters between are the TEE's to check, which decodes
 * all of them to verify the signature.
 */
static otrp_status after_early_stop(struct reader *r, otrp__json_cursor *c)
{
    size_t from = c->pos; /* a quantum boundary: read_payload decodes whole quanta */
    const char *quote = memchr(c->s + from, '"', c->len - from);
    if (quote == NULL) {
        c->pos = c->len;
        otrp__jc_fail(c, "payload string not terminated");
        return OTRP_ERR_MSG_NOT_JSON;
    }
    size_t end = (size_t)(quote - c->s);
    size_t last = end > from ? from + (end - from - 1) / 4 * 4 : end;
    uint8_t tail[3];
    size_t tail_len = 0;
    if (otrp__b64url_decode_chunk(c->s + last, end - last, tail, &tail_len, 1) != OTRP_OK)
        return say(r, OTRP_ERR_MSG_PAYLOAD, "JWS payload is not base64url (near byte %zu)",
                   last + otrp__b64url_span(c->s + last, end - last));
    c->pos = end + 1;
    return jws_members(r, c, 1);
}

/* The outer object's end: '}' then nothing but white space. */
static otrp_status outer_end(struct reader *r, otrp__json_cursor *c)
{
    int ch = otrp__jc_peek(c);
    if (ch == ',')
        return say(r, OTRP_ERR_MSG_STRUCTURE, "%s", "message has more than one top-level member");
    otrp_status st = message_status(otrp__jc_expect(c, '}'));
    if (st != OTRP_OK)
        return st;
    if (otrp__jc_peek(c) != -1) {
        otrp__jc_fail(c, "bytes after the message");
        return OTRP_ERR_MSG_NOT_JSON;
    }
    return OTRP_OK;
}

static otrp_status jws_complete(struct reader *r)
{
    unsigned s = r->seen;
    if (!(s & M_PAYLOAD))
        return say(r, OTRP_ERR_MSG_JWS, "%s", "JWS has no 'payload'");
    if (s & M_SIGNATURES) {
        if (s & (M_PROTECTED | M_SIGNATURE | M_HEADER))
            return say(r, OTRP_ERR_MSG_JWS, "%s", "JWS mixes general and flattened members");
        return OTRP_OK;
    }
    if (!(s & M_PROTECTED))
        return say(r, OTRP_ERR_MSG_JWS, "%s", "JWS has no 'protected'");
    if (!(s & M_SIGNATURE))
        return say(r, OTRP_ERR_MSG_JWS, "%s", "JWS has no 'signature'");
    return OTRP_OK;
}

/* The members of the JWS object. after_value: a member was just read. */
static otrp_status jws_members(struct reader *r, otrp__json_cursor *c, int after_value)
{
    for (;;) {
        if (after_value) {
            int closed = 0;
            otrp_status st = next_member(c, &closed);
            if (st != OTRP_OK)
                return st;
            if (closed) {
                st = jws_complete(r);
                return st != OTRP_OK ? st : outer_end(r, c);
            }
        }
        after_value = 1;
        char name[MEMBER_TEXT_CAP];
        unsigned bit;
        otrp_status st = member_name(c, name, &bit);
        if (st != OTRP_OK)
            return st;
        if (bit == 0)
            return say(r, OTRP_ERR_MSG_JWS, "unknown JWS member '%s'", name);
        if (r->seen & bit)
            return say(r, OTRP_ERR_MSG_DUPLICATE, "JWS member '%s' appears twice", name);
        r->seen |= bit;
        switch (bit) {
        case M_PAYLOAD: {
            if (otrp__jc_peek(c) != '"')
                return typed_value(r, c, name, '"');
            int end_known = 0;
            st = read_payload(r, c, &end_known);
            if (st == OTRP_OK && !end_known)
                return after_early_stop(r, c);
            break;
        }
        case M_HEADER:
            st = typed_value(r, c, name, '{');
            break;
        case M_SIGNATURES:
            st = signatures_array(r, c);
            break;
        default:
            st = typed_value(r, c, name, '"');
            break;
        }
        if (st != OTRP_OK)
            return st;
    }
}

static const struct message_name *find_name(const char *name, otrp__direction dir)
{
    const struct message_name *table = dir == OTRP__TAM_REQUEST ? REQUEST_NAMES : ANSWER_NAMES;
    size_t count = dir == OTRP__TAM_REQUEST ? COUNT_OF(REQUEST_NAMES) : COUNT_OF(ANSWER_NAMES);
    for (size_t i = 0; i < count; i++) {
        if (table[i].name[0] == name[0] && strcmp(table[i].name, name) == 0)
            return &table[i];
    }
    return NULL;
}

/* The top level is not an object: is it JSON of another kind, or not JSON at all? */
static otrp_status not_an_object(struct reader *r, otrp__json_cursor *c)
{
    int ch = otrp__jc_peek(c);
    if (ch == -1)
        return say(r, OTRP_ERR_MSG_EMPTY, "%s", "message holds only white space");
    otrp_status st = otrp__jc_skip_value(c, HEADER_MAX_DEPTH);
    if (st == OTRP_OK && otrp__jc_peek(c) == -1)
        return say(r, OTRP_ERR_MSG_STRUCTURE, "message is %s, not an object", type_word(ch));
    if (st == OTRP_OK)
        otrp__jc_fail(c, "bytes after the value");
    return st == OTRP_OK ? OTRP_ERR_MSG_NOT_JSON : message_status(st);
}

otrp_status otrp__route_read(const char *msg, size_t len, otrp__direction dir,
                             otrp__route *route, char *detail, size_t detail_cap)
{
    memset(route, 0, sizeof *route);
    struct reader r = {route, 0, detail, detail_cap,
                       dir == OTRP__TAM_REQUEST
                           ? OTRP__FIELD_BIT(OTRP__FIELD_RID) | OTRP__FIELD_BIT(OTRP__FIELD_TID) |
                                 OTRP__FIELD_BIT(OTRP__FIELD_TEE)
                           : OTRP__FIELD_BIT(OTRP__FIELD_RID) | OTRP__FIELD_BIT(OTRP__FIELD_TID) |
                                 OTRP__FIELD_BIT(OTRP__FIELD_STATUS)};
    otrp__json_cursor c = {msg, len, 0, detail, detail_cap};
    if (detail != NULL && detail_cap > 0)
        detail[0] = '\0';
    if (otrp__jc_peek(&c) != '{')
        return not_an_object(&r, &c);
    c.pos++;
    if (otrp__jc_peek(&c) == '}')
        return say(&r, OTRP_ERR_MSG_STRUCTURE, "%s", "message is an empty object");
    char name[64];
    size_t name_len;
    otrp_status st = otrp__jc_string(&c, name, sizeof name - 1, &name_len, NULL, NULL, NULL);
    if (st != OTRP_OK)
        return message_status(st);
    const struct message_name *known = name_len < sizeof name - 1 ? find_name(name, dir) : NULL;
    if (known == NULL) {
        char q[OTRP__QUOTE_MAX + 1];
        otrp__quote(q, sizeof q, name, name_len < sizeof name - 1 ? name_len : sizeof name - 1);
        return say(&r, OTRP_ERR_MSG_UNKNOWN, "unknown OTrP message '%s'", q);
    }
    route->name = known->name;
    route->tbs_name = known->tbs_name;
    route->get_device_state = strncmp(known->name, "GetDevice", 9) == 0;
    if (route->get_device_state && dir == OTRP__TAM_REQUEST)
        r.wanted_fields &= ~OTRP__FIELD_BIT(OTRP__FIELD_TEE); /* fanned out: no tee to find */
    if ((st = message_status(otrp__jc_expect(&c, ':'))) != OTRP_OK)
        return st;
    if (otrp__jc_peek(&c) != '{') {
        size_t at = c.pos;
        st = message_status(otrp__jc_skip_value(&c, HEADER_MAX_DEPTH));
        if (st != OTRP_OK)
            return st;
        c.pos = at;
        return say(&r, OTRP_ERR_MSG_JWS, "value of '%s' is not a JWS object", known->name);
    }
    c.pos++;
    if (otrp__jc_peek(&c) == '}')
        return say(&r, OTRP_ERR_MSG_JWS, "%s", "JWS object is empty");
    return jws_members(&r, &c, 0);
}
