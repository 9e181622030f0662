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
    if (s1 != s2 || strcmp(d1, d2) != 0 || (s1 == OTRP_OK && !cJSON_Compare(plain, lifted, 1)) ||
        (s1 != OTRP_OK && lifted != NULL))
        abort();
    cJSON_Delete(plain);
    cJSON_Delete(lifted);
    return 0;
}
