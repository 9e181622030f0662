/* otrp_get_device_state(): the agent's view of the device as one JSON document. */
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/agent_internal.h"
#include "otrp/version.h"
#include "util/detail.h"
#include "util/json_strict.h"

/* A backend description is a small document; more is refused. */
#define DESCRIBE_MAX (64 * 1024)

struct describe_args {
    otrp_buf *json;
};

static otrp_status invoke_describe(const struct otrp_tee_ops *ops, void *ctx,
                                   const otrp_tee_call *call, void *args)
{
    struct describe_args *a = args;
    otrp_buf_reset(a->json);
    return ops->describe(ctx, call, a->json);
}

static const char *state_word(otrp_status last)
{
    if (last == OTRP_OK)
        return "ready";
    return last == OTRP_ERR_TEE_BUSY ? "busy" : "unreachable";
}

/* The backend's own description, when it offers one and it is a JSON object. */
static cJSON *describe_tee(otrp_agent *agent, otrp_tee *tee)
{
    if (tee->ops->describe == NULL)
        return NULL;
    otrp_buf json = {0};
    json.max = DESCRIBE_MAX;
    struct describe_args args = {&json};
    cJSON *doc = NULL;
    if (otrp__tee_invoke(agent, tee, invoke_describe, &args) == OTRP_OK && json.len > 0 &&
        (otrp__json_parse((const char *)json.data, json.len, OTRP__JSON_MAX_DEPTH, &doc, NULL, 0) !=
             OTRP_OK ||
         !cJSON_IsObject(doc))) {
        cJSON_Delete(doc);
        doc = NULL;
        tee->last_status = OTRP_ERR_TEE_PROTOCOL;
    }
    otrp_buf_free(&json);
    return doc;
}

static int add_tee(otrp_agent *agent, otrp_tee *tee, cJSON *array)
{
    cJSON *entry = cJSON_CreateObject();
    if (entry == NULL || !cJSON_AddItemToArray(array, entry)) {
        cJSON_Delete(entry);
        return 0;
    }
    const char *name = otrp__tee_name(agent, tee);
    cJSON *backend = describe_tee(agent, tee);
    int ok = (name != NULL ? cJSON_AddStringToObject(entry, "name", name)
                           : cJSON_AddNullToObject(entry, "name")) != NULL &&
             cJSON_AddStringToObject(entry, "kind", tee->ops->kind != NULL ? tee->ops->kind : "") != NULL &&
             cJSON_AddStringToObject(entry, "state", state_word(tee->last_status)) != NULL;
    if (backend != NULL && !(ok && cJSON_AddItemToObject(entry, "backend", backend))) {
        cJSON_Delete(backend);
        ok = 0;
    }
    return ok;
}

static int add_last_session(const otrp__session_stats *s, cJSON *root)
{
    if (!s->valid)
        return cJSON_AddNullToObject(root, "last_session") != NULL;
    cJSON *o = cJSON_AddObjectToObject(root, "last_session");
    return o != NULL && cJSON_AddStringToObject(o, "operation", s->operation) != NULL &&
           cJSON_AddStringToObject(o, "result", otrp_status_name(s->result)) != NULL &&
           cJSON_AddStringToObject(o, "detail", s->result == OTRP_OK ? "" : s->detail) != NULL &&
           cJSON_AddNumberToObject(o, "round_trips", (double)s->round_trips) != NULL &&
           cJSON_AddNumberToObject(o, "bytes_to_tee", (double)s->bytes_to_tee) != NULL &&
           cJSON_AddNumberToObject(o, "bytes_from_tee", (double)s->bytes_from_tee) != NULL &&
           cJSON_AddNumberToObject(o, "bytes_sent", (double)s->bytes_sent) != NULL &&
           cJSON_AddNumberToObject(o, "bytes_received", (double)s->bytes_received) != NULL &&
           cJSON_AddNumberToObject(o, "duration_ms", (double)s->duration_ms) != NULL;
}

otrp_status otrp_get_device_state(otrp_agent *agent, char **json, size_t *len)
{
    *json = NULL;
    *len = 0;
    otrp_status running = otrp__op_begin(agent);
    if (running != OTRP_OK)
        return running;
    cJSON *root = cJSON_CreateObject();
    cJSON *library = cJSON_AddObjectToObject(root, "library");
    cJSON *tees = cJSON_AddArrayToObject(root, "tees");
    int ok = library != NULL && tees != NULL &&
             cJSON_AddStringToObject(library, "name", "libotrp") != NULL &&
             cJSON_AddStringToObject(library, "version", OTRP_VERSION_STRING) != NULL;
    for (size_t i = 0; ok && i < agent->tee_count; i++)
        ok = add_tee(agent, agent->tees[i], tees);
    ok = ok && add_last_session(&agent->last, root);
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL)
        return otrp__agent_fail(agent, OTRP_ERR_NO_MEMORY, "cannot build the device state");
    /* TEE names and descriptions are the TEEs' bytes; cJSON escapes the control bytes
     * among them but prints the others as they are: the document leaves as UTF-8. */
    size_t text_len = strlen(text), repaired_len = 0;
    char *repaired = NULL;
    if (otrp__utf8_repair(text, text_len, &repaired, &repaired_len) != OTRP_OK) {
        cJSON_free(text);
        return otrp__agent_fail(agent, OTRP_ERR_NO_MEMORY, "cannot build the device state");
    }
    if (repaired != NULL) {
        cJSON_free(text);
        text = repaired;
        text_len = repaired_len;
    }
    *json = text;
    *len = text_len;
    return OTRP_OK;
}
