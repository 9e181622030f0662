/* libFuzzer target: strict base64/base64url decoding (lib/util/base64) as lib/jose
 * uses it. Whatever decodes must re-encode to the same text (one encoding per value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    uint8_t *out = malloc(otrp__b64_decoded_max(size) + 1);
    char *again = malloc(otrp__b64_encoded_len(size, OTRP__B64_STD) + 8);
    if (out == NULL || again == NULL)
        abort();
    const otrp__b64_mode modes[] = {OTRP__B64_URL, OTRP__B64_STD, OTRP__B64_FIELD};
    for (size_t m = 0; m < 3; m++) {
        size_t n = 0;
        if (otrp__b64_decode(in, size, out, &n, modes[m]) != OTRP_OK)
            continue;
        if (modes[m] == OTRP__B64_FIELD)
            continue; /* FIELD accepts several spellings of one value */
        otrp__b64_encode(out, n, again, modes[m]);
        if (strlen(again) != size || memcmp(again, in, size) != 0)
            abort();
    }
    size_t n = 0;
    if (size % 4 == 0)
        (void)otrp__b64url_decode_chunk(in, size, out, &n, 0);
    (void)otrp__b64url_decode_chunk(in, size, out, &n, 1);
    free(out);
    free(again);
    return 0;
}
