/*
 * One table of rid/tid value forms (PROFILE P5: strings, and integers echoed as their
 * decimal digits) that the agent and the mock TEE must accept or refuse alike: the
 * agent routes on them, the TEE echoes them, and a form one side takes and the other
 * refuses loses the answer's correlation.
 */
#ifndef TEST_ID_FORMS_H
#define TEST_ID_FORMS_H

#include <stddef.h>

typedef struct test_id_form {
    const char *json; /* the value as JSON text, e.g. "42", "\"r-1\"", "1e3" */
    const char *echo; /* what the answer carries; NULL: refused */
} test_id_form;

/* The number of forms, and form i (0-based; the long ones are built on first use). */
size_t test_id_form_count(void);
const test_id_form *test_id_form_at(size_t i);

#endif
