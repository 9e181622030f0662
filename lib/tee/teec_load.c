/* Loading libteec at run time, and the names of its results for details.
 *
 * Why dlopen: libteec exists only on devices with a GP TEE (and in Debian only for arm64
 * and armhf). Linking it would make every application that links libotrp fail to start
 * where it is missing; loaded here, its absence is OTRP_ERR_TEE_UNAVAILABLE from the
 * constructor, and the same build serves devices with and without a TEE. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "tee/teec_internal.h"

/* Tried in order when the caller names no library: OP-TEE 4.x, OP-TEE 3.x (Debian 12),
 * and the unversioned name of Android vendor images. */
static const char *const default_libraries[] = {"libteec.so.2", "libteec.so.1", "libteec.so"};

/* POSIX guarantees that dlsym's void * converts to a function pointer; ISO C does not
 * allow the cast, so the pointer is copied. */
#define LOAD_SYMBOL(api, field, name)                                              \
    do {                                                                           \
        void *sym_ = dlsym((api)->handle, name);                                   \
        _Static_assert(sizeof sym_ == sizeof (api)->field, "function pointer size"); \
        if (sym_ == NULL) {                                                        \
            missing = name;                                                        \
            break;                                                                 \
        }                                                                          \
        memcpy(&(api)->field, &sym_, sizeof sym_);                                 \
    } while (0)

static const char *resolve(otrp__teec_api *api)
{
    const char *missing = NULL;
    LOAD_SYMBOL(api, initialize_context, "TEEC_InitializeContext");
    LOAD_SYMBOL(api, finalize_context, "TEEC_FinalizeContext");
    LOAD_SYMBOL(api, open_session, "TEEC_OpenSession");
    LOAD_SYMBOL(api, close_session, "TEEC_CloseSession");
    LOAD_SYMBOL(api, invoke_command, "TEEC_InvokeCommand");
    LOAD_SYMBOL(api, request_cancellation, "TEEC_RequestCancellation");
    return missing;
}

otrp_status otrp__teec_load(otrp__teec_api *api, const char *library, char *why, size_t why_cap)
{
    memset(api, 0, sizeof *api);
    const char *const *names = library != NULL ? &library : default_libraries;
    size_t count = library != NULL ? 1 : sizeof default_libraries / sizeof default_libraries[0];
    char first_error[160] = "";
    for (size_t i = 0; i < count && api->handle == NULL; i++) {
        (void)dlerror();
        api->handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (api->handle != NULL) {
            (void)snprintf(api->library, sizeof api->library, "%s", names[i]);
        } else if (first_error[0] == '\0') {
            const char *e = dlerror();
            (void)snprintf(first_error, sizeof first_error, "%s", e != NULL ? e : "not found");
        }
    }
    if (api->handle == NULL) {
        if (library != NULL)
            (void)snprintf(why, why_cap, "cannot load %s (%s)", library,
                           first_error);
        else
            (void)snprintf(why, why_cap, "no GlobalPlatform TEE Client "
                           "library (libteec.so.2, libteec.so.1, libteec.so) on this device");
        return OTRP_ERR_TEE_UNAVAILABLE;
    }
    const char *missing = resolve(api);
    if (missing != NULL) {
        (void)snprintf(why, why_cap, "%s has no %s", api->library, missing);
        otrp__teec_unload(api);
        return OTRP_ERR_TEE_UNAVAILABLE;
    }
    return OTRP_OK;
}

void otrp__teec_unload(otrp__teec_api *api)
{
    if (api->handle != NULL)
        (void)dlclose(api->handle);
    memset(api, 0, sizeof *api);
}

const char *otrp__teec_result_name(otrp__teec_result result)
{
    switch (result) {
    case OTRP__TEEC_SUCCESS: return "TEEC_SUCCESS";
    case OTRP__TEEC_ERROR_GENERIC: return "TEEC_ERROR_GENERIC";
    case OTRP__TEEC_ERROR_ACCESS_DENIED: return "TEEC_ERROR_ACCESS_DENIED";
    case OTRP__TEEC_ERROR_CANCEL: return "TEEC_ERROR_CANCEL";
    case OTRP__TEEC_ERROR_ACCESS_CONFLICT: return "TEEC_ERROR_ACCESS_CONFLICT";
    case OTRP__TEEC_ERROR_EXCESS_DATA: return "TEEC_ERROR_EXCESS_DATA";
    case OTRP__TEEC_ERROR_BAD_FORMAT: return "TEEC_ERROR_BAD_FORMAT";
    case OTRP__TEEC_ERROR_BAD_PARAMETERS: return "TEEC_ERROR_BAD_PARAMETERS";
    case OTRP__TEEC_ERROR_BAD_STATE: return "TEEC_ERROR_BAD_STATE";
    case OTRP__TEEC_ERROR_ITEM_NOT_FOUND: return "TEEC_ERROR_ITEM_NOT_FOUND";
    case OTRP__TEEC_ERROR_NOT_IMPLEMENTED: return "TEEC_ERROR_NOT_IMPLEMENTED";
    case OTRP__TEEC_ERROR_NOT_SUPPORTED: return "TEEC_ERROR_NOT_SUPPORTED";
    case OTRP__TEEC_ERROR_NO_DATA: return "TEEC_ERROR_NO_DATA";
    case OTRP__TEEC_ERROR_OUT_OF_MEMORY: return "TEEC_ERROR_OUT_OF_MEMORY";
    case OTRP__TEEC_ERROR_BUSY: return "TEEC_ERROR_BUSY";
    case OTRP__TEEC_ERROR_COMMUNICATION: return "TEEC_ERROR_COMMUNICATION";
    case OTRP__TEEC_ERROR_SECURITY: return "TEEC_ERROR_SECURITY";
    case OTRP__TEEC_ERROR_SHORT_BUFFER: return "TEEC_ERROR_SHORT_BUFFER";
    case OTRP__TEEC_ERROR_TARGET_DEAD: return "TEEC_ERROR_TARGET_DEAD";
    default: return "an unknown TEEC result";
    }
}

const char *otrp__teec_origin_name(uint32_t origin)
{
    switch (origin) {
    case OTRP__TEEC_ORIGIN_API: return "API";
    case OTRP__TEEC_ORIGIN_COMMS: return "COMMS";
    case OTRP__TEEC_ORIGIN_TEE: return "TEE";
    case OTRP__TEEC_ORIGIN_TRUSTED_APP: return "TRUSTED_APP";
    default: return "unknown";
    }
}
