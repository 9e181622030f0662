/* The public constructors of the mock TEE backend (apart from backend.c so that programs
 * using the internal ops do not need the agent's otrp_tee_new). */
#include "mocktee/mocktee.h"

otrp_status otrp_tee_mock_new_opts(const char *dir, const otrp_mock_options *opts,
                                   otrp_tee **out)
{
    *out = NULL;
    otrp__mock *tee = NULL;
    char *detail = opts != NULL && opts->struct_size >= sizeof *opts ? opts->detail : NULL;
    size_t cap = detail != NULL ? opts->detail_cap : 0;
    otrp_status st = otrp__mock_open(dir, opts, &tee, detail, cap);
    if (st != OTRP_OK)
        return st;
    return otrp_tee_new(&otrp__mock_ops, tee, out);
}

otrp_status otrp_tee_mock_new(const char *dir, otrp_tee **out)
{
    return otrp_tee_mock_new_opts(dir, NULL, out);
}
