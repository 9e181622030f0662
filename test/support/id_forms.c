#include "id_forms.h"

#include <string.h>

/* The agent reads rid/tid values up to this many bytes (lib/agent/tbs_scan.h
 * OTRP__FIELD_MAX); the TEE echoes as many (OTRP__MOCK_MAX_RID). */
#define ID_MAX 256

/* ID_MAX digits, one more; a JSON string of ID_MAX characters (and its text), one more */
static char digits_max[ID_MAX + 1], digits_over[ID_MAX + 2];
static char string_max[ID_MAX + 3], string_text[ID_MAX + 1], string_over[ID_MAX + 4];

static test_id_form forms[] = {
    {"\"r-1\"", "r-1"},
    {"\"\"", ""},
    {"0", "0"},
    {"5", "5"},
    {"42", "42"},
    /* beyond a double's exact integers: echoed digit for digit */
    {"9007199254740993", "9007199254740993"},
    {"123456789012345678901234567890", "123456789012345678901234567890"},
    {digits_max, digits_max},
    {string_max, string_text},
    {"-5", NULL},
    {"-0", NULL},
    {"1.0", NULL},
    {"0.5", NULL},
    {"1e3", NULL},
    {"1E3", NULL},
    {"2e-1", NULL},
    {"05", NULL},
    {digits_over, NULL},
    {string_over, NULL},
    {"true", NULL},
    {"null", NULL},
    {"[1]", NULL},
    {"{}", NULL},
};

static void build(void)
{
    if (digits_max[0] != '\0')
        return;
    memset(digits_max, '7', ID_MAX);
    memset(digits_over, '7', ID_MAX + 1);
    memset(string_text, 's', ID_MAX);
    string_max[0] = '"';
    memcpy(string_max + 1, string_text, ID_MAX);
    string_max[ID_MAX + 1] = '"';
    string_over[0] = '"';
    memset(string_over + 1, 's', ID_MAX + 1);
    string_over[ID_MAX + 2] = '"';
}

size_t test_id_form_count(void)
{
    return sizeof forms / sizeof forms[0];
}

const test_id_form *test_id_form_at(size_t i)
{
    build();
    return i < test_id_form_count() ? &forms[i] : NULL;
}
