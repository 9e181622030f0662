/* otrp_get_ta_information(): OTrP GetTAInformation, answered by the TEE that has the TA. */
#include <string.h>

#include "agent/agent_internal.h"

/* PROFILE P7: TA and SP ids are 1..128 characters. */
#define ID_MAX 128

struct info_args {
    const char *spid;
    const char *taid;
    otrp_buf *out;
};

static otrp_status invoke_info(const struct otrp_tee_ops *ops, void *ctx,
                               const otrp_tee_call *call, void *args)
{
    struct info_args *a = args;
    otrp_buf_reset(a->out);
    return ops->ta_information(ctx, call, a->spid, a->taid, a->out);
}

otrp_status otrp_get_ta_information(otrp_agent *agent, const char *spid, const char *taid,
                                    char **info, size_t *len)
{
    *info = NULL;
    *len = 0;
    otrp_status running = otrp__op_begin(agent);
    if (running != OTRP_OK)
        return running;
    size_t spid_len = strlen(spid), taid_len = strlen(taid);
    if (spid_len == 0 || spid_len > ID_MAX || taid_len == 0 || taid_len > ID_MAX)
        return otrp__agent_fail(agent, OTRP_ERR_INVALID_ARG,
                                "SP id and TA id must have 1 to %d characters", ID_MAX);
    if (agent->tee_count == 0)
        return otrp__agent_fail(agent, OTRP_ERR_NO_TEE, "no TEE registered");
    otrp_buf out = {0};
    out.max = agent->config.max_message_size;
    struct info_args args = {spid, taid, &out};
    size_t asked = 0;
    otrp_status failure = OTRP_OK;
    for (size_t i = 0; i < agent->tee_count; i++) {
        otrp_tee *tee = agent->tees[i];
        if (tee->ops->ta_information == NULL)
            continue;
        asked++;
        otrp_status st = otrp__tee_invoke(agent, tee, invoke_info, &args);
        if (st == OTRP_OK && out.len > 0) {
            *info = (char *)out.data; /* handed over; otrp_free() releases it */
            *len = out.len;
            agent->error[0] = '\0';
            return OTRP_OK;
        }
        if (st == OTRP_OK || st == OTRP_ERR_NOT_FOUND)
            continue; /* this TEE does not have it */
        if (failure == OTRP_OK)
            failure = otrp__tee_failure(agent, tee, st);
    }
    otrp_buf_free(&out);
    if (asked == 0)
        return otrp__agent_fail(agent, OTRP_ERR_UNSUPPORTED, "no registered TEE offers TAInformation");
    if (failure != OTRP_OK)
        return failure;
    return otrp__agent_fail(agent, OTRP_ERR_NOT_FOUND, "no TEE has TA '%s' of SP '%s'", taid, spid);
}
