/*
 * libFuzzer target: the lifted JSON parse (lib/util/json_lift.c) against the plain strict
 * parse it stands in for. Every input must give the same status, the same detail and,
 * when accepted, the same tree; strings from 4 bytes on are lifted. The first byte picks
 * the depth limit (1..16).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_lift.h"
#include "util/json_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Same tree: types, names, strings and number bits (cJSON_Compare calls inf != inf). */
static int same(const cJSON *a, const cJSON *b)
{
    for (; a != NULL && b != NULL; a = a->next, b = b->next) {
        if (a->type != b->type || (a->string == NULL) != (b->string == NULL) ||
            (a->string != NULL && strcmp(a->string, b->string) != 0))
            return 0;
        if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring) != 0)
            return 0;
        if (cJSON_IsNumber(a) && memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) != 0)
            return 0;
        if (!same(a->child, b->child))
            return 0;
    }
    return a == NULL && b == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int depth = 1 + data[0] % 16;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    cJSON *plain = NULL, *lifted = NULL;
    char d1[128] = "", d2[128] = "";
    otrp_status s1 = otrp__json_parse(text, len, depth, &plain, d1, sizeof d1);
    otrp_status s2 = otrp__json_parse_lifted(text, len, depth, 4, &lifted, d2, sizeof d2);
    if (s1 != s2 || strcmp(d1, d2) != 0 || (s1 == OTRP_OK && !same(plain, lifted)) ||
        (s1 != OTRP_OK && lifted != NULL))
        abort();
    cJSON_Delete(plain);
    cJSON_Delete(lifted);
    return 0;
}
