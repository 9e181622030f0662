#include "util/json_strict.h"

#include <stdio.h>
#include <string.h>

#include "util/detail.h"
#include "util/json_scan.h"

static void set_detail(char *detail, size_t cap, const char *text, const char *name)
{
    if (detail == NULL || cap == 0)
        return;
    char q[OTRP__QUOTE_MAX + 1]; /* a member name: the document's text */
    otrp__quote_str(q, sizeof q, name);
    if (name != NULL)
        (void)snprintf(detail, cap, "%s '%s'", text, q);
    else
        (void)snprintf(detail, cap, "%s", text);
}

/* Pairwise comparison is quadratic, so objects with more members than this are
 * refused: no OTrP object comes close. */
#define MAX_OBJECT_MEMBERS 512

static otrp_status check_object(const cJSON *object, char *detail, size_t cap)
{
    size_t count = 0;
    for (const cJSON *a = object->child; a != NULL; a = a->next) {
        if (++count > MAX_OBJECT_MEMBERS) {
            set_detail(detail, cap, "object has too many members", NULL);
            return OTRP_ERR_JSON;
        }
        for (const cJSON *b = a->next; b != NULL; b = b->next) {
            if (a->string != NULL && b->string != NULL && strcmp(a->string, b->string) == 0) {
                set_detail(detail, cap, "duplicate member", a->string);
                return OTRP_ERR_MSG_DUPLICATE;
            }
        }
    }
    return OTRP_OK;
}

static otrp_status check_item(const cJSON *item, int depth, int max_depth, char *detail,
                              size_t cap)
{
    if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
        if (depth >= max_depth) {
            set_detail(detail, cap, "JSON nested too deeply", NULL);
            return OTRP_ERR_MSG_DEPTH;
        }
        if (cJSON_IsObject(item)) {
            otrp_status st = check_object(item, detail, cap);
            if (st != OTRP_OK)
                return st;
        }
        for (const cJSON *child = item->child; child != NULL; child = child->next) {
            otrp_status st = check_item(child, depth + 1, max_depth, detail, cap);
            if (st != OTRP_OK)
                return st;
        }
    }
    return OTRP_OK;
}

otrp_status otrp__json_check_tree(const cJSON *item, int max_depth, char *detail,
                                  size_t detail_cap)
{
    return check_item(item, 0, max_depth, detail, detail_cap);
}

/* What cJSON lets through and RFC 8259 does not, plus the nesting bound, checked in one
 * pass before parsing. cJSON recurses once per nesting level (up to its own limit of
 * 1000), so the depth is bounded before it runs: count the brackets outside strings. It
 * also copies control bytes inside strings as they are and skips every byte up to 0x20
 * as white space; JSON allows neither (control bytes must be escaped, white space is
 * space, tab, CR and LF only). String contents (most of the bytes of a message carrying
 * a TA) are crossed a word at a time. */
static otrp_status prescan(const char *text, size_t len, int max_depth, char *detail,
                           size_t cap)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"') {
            for (i++; i < len; i++) {
                i = otrp__jc_scan_plain(text, i, len);
                if (i >= len || text[i] == '"')
                    break;
                if (text[i] != '\\') {
                    set_detail(detail, cap, "unescaped control character in a JSON string",
                               NULL);
                    return OTRP_ERR_JSON;
                }
                i++; /* the escaped character cannot end the string */
            }
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth) {
                set_detail(detail, cap, "JSON nested too deeply", NULL);
                return OTRP_ERR_MSG_DEPTH;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            set_detail(detail, cap, "control character outside a JSON string", NULL);
            return OTRP_ERR_JSON;
        }
    }
    return OTRP_OK;
}

otrp_status otrp__json_parse(const char *text, size_t len, int max_depth, cJSON **out,
                             char *detail, size_t detail_cap)
{
    *out = NULL;
    if (text == NULL || len == 0) {
        set_detail(detail, detail_cap, "empty JSON text", NULL);
        return OTRP_ERR_JSON;
    }
    if (memchr(text, '\0', len) != NULL) {
        set_detail(detail, detail_cap, "JSON text contains a NUL byte", NULL);
        return OTRP_ERR_JSON;
    }
    otrp_status pre = prescan(text, len, max_depth, detail, detail_cap);
    if (pre != OTRP_OK)
        return pre;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (root == NULL) {
        set_detail(detail, detail_cap, "not valid JSON", NULL);
        return OTRP_ERR_JSON;
    }
    /* cJSON stops after the first value; only white space may follow it. */
    for (const char *p = end; p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(root);
            set_detail(detail, detail_cap, "bytes after the JSON value", NULL);
            return OTRP_ERR_JSON;
        }
    }
    otrp_status st = check_item(root, 0, max_depth, detail, detail_cap);
    if (st != OTRP_OK) {
        cJSON_Delete(root);
        return st;
    }
    *out = root;
    return OTRP_OK;
}

const cJSON *otrp__json_member(const cJSON *object, const char *name)
{
    if (!cJSON_IsObject(object))
        return NULL;
    for (const cJSON *child = object->child; child != NULL; child = child->next) {
        if (child->string != NULL && strcmp(child->string, name) == 0)
            return child;
    }
    return NULL;
}

const char *otrp__json_string(const cJSON *object, const char *name)
{
    const cJSON *item = otrp__json_member(object, name);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

int otrp__json_int_in(const cJSON *item, int64_t lo, int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double d = item->valuedouble;
    /* written so that NaN fails too */
    if (!(d >= (double)lo && d <= (double)hi))
        return 0;
    int64_t v = (int64_t)d;
    if ((double)v != d)
        return 0;
    if (out != NULL)
        *out = v;
    return 1;
}
