#include "util/json_strict.h"

#include <stdio.h>
#include <string.h>

#include "util/json_scan.h"

static void set_detail(char *detail, size_t cap, const char *text, const char *name)
{
    if (detail == NULL || cap == 0)
        return;
    if (name != NULL)
        (void)snprintf(detail, cap, "%s '%.64s'", text, name);
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

/* cJSON recurses once per nesting level (up to its own limit of 1000), so the depth is
 * bounded before parsing: count the brackets outside strings. String contents (most of
 * the bytes of a message carrying a TA) are skipped eight bytes at a time. */
static int nesting_exceeds(const char *text, size_t len, int max_depth)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '"') {
            for (i++; i < len; i++) {
                i = otrp__jc_scan_plain(text, i, len);
                if (i >= len || text[i] == '"')
                    break;
                if (text[i] == '\\')
                    i++; /* the escaped character cannot end the string */
            }
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return 1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
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
    if (nesting_exceeds(text, len, max_depth)) {
        set_detail(detail, detail_cap, "JSON nested too deeply", NULL);
        return OTRP_ERR_MSG_DEPTH;
    }
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
