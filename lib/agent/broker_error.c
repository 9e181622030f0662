/* The agent's own message to the TAM when no TEE could answer (PROFILE P8). */
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/agent_internal.h"

otrp_status otrp__broker_error(const char *errcode, const char *rid, const char *tid,
                               char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *body = cJSON_AddObjectToObject(root, "OTrPBrokerError");
    if (body == NULL || cJSON_AddStringToObject(body, "ver", "1.0") == NULL ||
        cJSON_AddStringToObject(body, "rid", rid != NULL ? rid : "") == NULL ||
        cJSON_AddStringToObject(body, "tid", tid != NULL ? tid : "") == NULL ||
        cJSON_AddStringToObject(body, "errcode", errcode) == NULL) {
        cJSON_Delete(root);
        return OTRP_ERR_NO_MEMORY;
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    *out = text;
    *out_len = strlen(text);
    return OTRP_OK;
}
