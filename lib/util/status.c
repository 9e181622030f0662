#include "otrp/status.h"

const char *otrp_strerror(otrp_status status)
{
    switch (status) {
#define OTRP__STATUS_MSG(name, value, msg) case OTRP_##name: return msg;
        OTRP_STATUS_MAP(OTRP__STATUS_MSG)
#undef OTRP__STATUS_MSG
    case OTRP__STATUS_END_:
        break;
    }
    return "unknown status";
}

const char *otrp_status_name(otrp_status status)
{
    switch (status) {
#define OTRP__STATUS_NAME(name, value, msg) case OTRP_##name: return #name;
        OTRP_STATUS_MAP(OTRP__STATUS_NAME)
#undef OTRP__STATUS_NAME
    case OTRP__STATUS_END_:
        break;
    }
    return "UNKNOWN";
}
