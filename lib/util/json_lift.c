#include "util/json_lift.h"

#include <stdlib.h>
#include <string.h>

#include "util/json_scan.h"
#include "util/json_strict.h"

/* OTrP documents carry one or two long strings (a JWS payload, a TA ciphertext and its
 * personalization data); further long strings simply go through cJSON. */
#define MAX_LIFTED 8

struct lifted {
    size_t start;   /* first byte of the string's contents */
    size_t len;     /* its length (no escapes: raw = decoded) */
    size_t ordinal; /* index among the document's string values, in text order */
};

struct lift_plan {
    struct lifted l[MAX_LIFTED];
    size_t count;
    size_t bytes;  /* total lifted */
    size_t values; /* string values in the text */
};

/* White space as cJSON skips it (every byte up to 0x20, not only the four of RFC 8259),
 * so that a string is taken for a member name exactly when cJSON takes it for one. */
static int is_cjson_ws(char c)
{
    return (unsigned char)c <= 0x20;
}

/* The end of the string whose contents start at start: the index of its closing quote,
 * or len when it is unterminated. *plain is cleared when it holds an escape. Long strings
 * are crossed with memchr (the bulk of a message carrying a TA). */
static size_t string_end(const char *text, size_t start, size_t len, int *plain)
{
    size_t from = start;
    for (;;) {
        const char *q = memchr(text + from, '"', len - from);
        if (q == NULL)
            return len;
        size_t quote = (size_t)(q - text);
        const char *bs = memchr(text + from, '\\', quote - from);
        if (bs == NULL)
            return quote;
        *plain = 0;
        from = (size_t)(bs - text) + 2; /* the escaped byte cannot end the string */
        if (from >= len)
            return len;
    }
}

/* One pass over the text: every string, whether it is a member name (a ':' follows) or
 * a value, and whether it can be copied as it stands: no escape and no control byte
 * (which the plain parse refuses inside strings; otrp__jc_scan_plain stops at both).
 * Only the lexing of strings matters here; the grammar is checked by
 * parsing the reduced text, a text that is not JSON is parsed again the plain way, and
 * the tree must hold as many string values as counted here. */
static void plan_lift(const char *text, size_t len, size_t lift_min, struct lift_plan *p)
{
    size_t ordinal = 0;
    size_t i = 0;
    memset(p, 0, sizeof *p);
    while (i < len) {
        const char *q = memchr(text + i, '"', len - i);
        if (q == NULL)
            break;
        size_t start = (size_t)(q - text) + 1;
        int plain = 1;
        size_t end = string_end(text, start, len, &plain);
        if (end >= len)
            break; /* unterminated: the parse will say so */
        size_t j = end + 1;
        while (j < len && is_cjson_ws(text[j]))
            j++;
        int is_name = j < len && text[j] == ':';
        if (!is_name) {
            if (plain && end - start >= lift_min && p->count < MAX_LIFTED &&
                otrp__jc_scan_plain(text, start, end) == end) {
                p->l[p->count].start = start;
                p->l[p->count].len = end - start;
                p->l[p->count].ordinal = ordinal;
                p->bytes += end - start;
                p->count++;
            }
            ordinal++;
        }
        i = end + 1;
    }
    p->values = ordinal;
}

/* The text with the lifted strings emptied ("" in their place). */
static char *reduce(const char *text, size_t len, const struct lift_plan *p, size_t *out_len)
{
    size_t n = len - p->bytes;
    char *r = malloc(n + 1);
    if (r == NULL)
        return NULL;
    size_t from = 0, o = 0;
    for (size_t k = 0; k < p->count; k++) {
        memcpy(r + o, text + from, p->l[k].start - from);
        o += p->l[k].start - from;
        from = p->l[k].start + p->l[k].len;
    }
    memcpy(r + o, text + from, len - from);
    o += len - from;
    r[o] = '\0';
    *out_len = o;
    return r;
}

struct patcher {
    const char *text;
    const struct lift_plan *p;
    size_t ordinal; /* string values seen */
    size_t next;    /* next lifted string to place */
};

/* Put the lifted strings back, walking the tree in text order (pre-order visits the
 * values in the order they are written). 0, or -1 on a mismatch or no memory. */
static int patch(cJSON *item, struct patcher *w)
{
    for (; item != NULL; item = item->next) {
        if (cJSON_IsString(item)) {
            if (w->next < w->p->count && w->p->l[w->next].ordinal == w->ordinal) {
                const struct lifted *l = &w->p->l[w->next];
                if (item->valuestring == NULL || item->valuestring[0] != '\0')
                    return -1;
                char *s = cJSON_malloc(l->len + 1);
                if (s == NULL)
                    return -1;
                memcpy(s, w->text + l->start, l->len);
                s[l->len] = '\0';
                cJSON_free(item->valuestring);
                item->valuestring = s;
                w->next++;
            }
            w->ordinal++;
        } else if ((cJSON_IsObject(item) || cJSON_IsArray(item)) && patch(item->child, w) != 0) {
            return -1;
        }
    }
    return 0;
}

otrp_status otrp__json_parse_lifted(const char *text, size_t len, int max_depth,
                                    size_t lift_min, cJSON **out, char *detail,
                                    size_t detail_cap)
{
    *out = NULL;
    if (text == NULL || lift_min == 0 || len < lift_min)
        return otrp__json_parse(text, len, max_depth, out, detail, detail_cap);
    struct lift_plan plan;
    plan_lift(text, len, lift_min, &plan);
    if (plan.count == 0)
        return otrp__json_parse(text, len, max_depth, out, detail, detail_cap);
    size_t rlen = 0;
    char *reduced = reduce(text, len, &plan, &rlen);
    if (reduced == NULL)
        return OTRP_ERR_NO_MEMORY;
    cJSON *root = NULL;
    otrp_status st = otrp__json_parse(reduced, rlen, max_depth, &root, NULL, 0);
    free(reduced);
    if (st == OTRP_OK) {
        struct patcher w = {text, &plan, 0, 0};
        if (patch(root, &w) == 0 && w.next == plan.count && w.ordinal == plan.values) {
            *out = root;
            return OTRP_OK;
        }
        cJSON_Delete(root);
    }
    /* Not accepted (or no memory): the plain parse gives the exact verdict. */
    return otrp__json_parse(text, len, max_depth, out, detail, detail_cap);
}
