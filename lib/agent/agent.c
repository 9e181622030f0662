/* The agent handle: configuration, TEE registration, error detail, logging, cancel. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "http/http.h"
#include "util/detail.h"

void otrp_agent_config_init(otrp_agent_config *config)
{
    memset(config, 0, sizeof *config);
    config->struct_size = sizeof *config;
    config->max_message_size = OTRP_DEFAULT_MAX_MESSAGE;
    config->tee_busy_retries = 3;
    config->tee_busy_backoff_ms = 20;
    config->tee_timeout_ms = 30000;
    config->log_level = OTRP_LOG_WARN;
    config->connect_timeout_ms = 10000;
    config->http_timeout_ms = 60000;
    config->stall_timeout_ms = 15000;
    config->http_retries = 2;
    config->session_timeout_ms = OTRP_DEFAULT_SESSION_TIMEOUT_MS;
}

/* Upper bounds that keep a typo from becoming an hour-long hang. */
#define MAX_BUSY_RETRIES 100
#define MAX_BACKOFF_MS 60000u

/* The caller's configuration over the defaults: a caller built against an older,
 * smaller struct gets defaults for the fields it does not know. */
static otrp_status merge_config(const otrp_agent_config *config, otrp_agent_config *merged,
                                char *detail, size_t size)
{
    otrp_agent_config_init(merged);
    if (config == NULL)
        return OTRP_OK;
    if (config->struct_size < offsetof(otrp_agent_config, log))
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                          "struct_size %zu is smaller than any version of otrp_agent_config",
                          config->struct_size);
    size_t n = config->struct_size < sizeof *merged ? config->struct_size : sizeof *merged;
    memcpy(merged, config, n);
    merged->struct_size = sizeof *merged;
    return OTRP_OK;
}

static otrp_status check_merged(const otrp_agent_config *c, char *detail, size_t size)
{
    if (c->max_message_size < OTRP_MIN_MESSAGE_SIZE || c->max_message_size > OTRP_MAX_MESSAGE_SIZE)
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                          "max_message_size %zu is outside %zu..%zu bytes", c->max_message_size,
                          OTRP_MIN_MESSAGE_SIZE, OTRP_MAX_MESSAGE_SIZE);
    if (c->tee_busy_retries > MAX_BUSY_RETRIES)
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                          "tee_busy_retries %u exceeds %d", c->tee_busy_retries, MAX_BUSY_RETRIES);
    if (c->tee_busy_backoff_ms > MAX_BACKOFF_MS)
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                          "tee_busy_backoff_ms %u exceeds %u", c->tee_busy_backoff_ms,
                          MAX_BACKOFF_MS);
    if (c->log_level > OTRP_LOG_SILENT)
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG, "log_level %d is unknown",
                          (int)c->log_level);
    otrp__http_settings settings;
    otrp__http_settings_init(&settings);
    otrp__http_settings_from_config(&settings, c);
    return otrp__http_settings_check(&settings, detail, size);
}

otrp_status otrp_agent_config_check(const otrp_agent_config *config, char *detail,
                                    size_t detail_size)
{
    otrp_agent_config merged;
    otrp__set_detail(detail, detail_size, "%s", "");
    otrp_status st = merge_config(config, &merged, detail, detail_size);
    return st != OTRP_OK ? st : check_merged(&merged, detail, detail_size);
}

otrp_status otrp_agent_new(const otrp_agent_config *config, otrp_agent **out)
{
    *out = NULL;
    otrp_agent_config merged;
    char detail[OTRP__DETAIL_MAX] = "";
    otrp_status st = merge_config(config, &merged, detail, sizeof detail);
    if (st == OTRP_OK)
        st = check_merged(&merged, detail, sizeof detail);
    if (st != OTRP_OK) {
        /* No handle to keep the detail on: the caller's log sink gets it (when the
         * struct was big enough to carry one). */
        if (config != NULL && config->struct_size >= offsetof(otrp_agent_config, log_level) +
                                                        sizeof config->log_level &&
            config->log != NULL && config->log_level <= OTRP_LOG_ERROR)
            config->log(config->log_user, OTRP_LOG_ERROR, detail);
        return st;
    }
    otrp_agent *agent = calloc(1, sizeof *agent);
    if (agent == NULL)
        return OTRP_ERR_NO_MEMORY;
    agent->config = merged;
    *out = agent;
    return OTRP_OK;
}

void otrp_agent_free(otrp_agent *agent)
{
    if (agent == NULL)
        return;
    otrp__async_free(agent); /* its workers call the TEEs: before the TEEs go */
    for (size_t i = 0; i < agent->tee_count; i++)
        otrp_tee_free(agent->tees[i]);
    otrp__http_free(agent->http);
    otrp_buf_free(&agent->response);
    otrp_buf_free(&agent->answer);
    otrp_buf_free(&agent->tee_out);
    free(agent);
}

void otrp__buf_release(otrp_buf *buf)
{
    if (buf->cap > OTRP__RESPONSE_KEEP_MAX)
        otrp_buf_free(buf);
    else
        otrp_buf_reset(buf);
}

otrp_status otrp_agent_add_tee(otrp_agent *agent, otrp_tee *tee)
{
    agent->error[0] = '\0';
    if (tee == NULL)
        return otrp__agent_fail(agent, OTRP_ERR_INVALID_ARG, "TEE handle is NULL");
    if (agent->tee_count == OTRP_MAX_TEES) {
        otrp_tee_free(tee);
        return otrp__agent_fail(agent, OTRP_ERR_TOO_LARGE, "an agent holds at most %d TEEs",
                                OTRP_MAX_TEES);
    }
    agent->tees[agent->tee_count++] = tee;
    otrp__log(agent, OTRP_LOG_INFO, "TEE #%zu (%s) registered", agent->tee_count,
              tee->ops->kind != NULL ? tee->ops->kind : "?");
    return OTRP_OK;
}

const char *otrp_agent_last_error(const otrp_agent *agent)
{
    return agent->error;
}

void otrp_agent_cancel(otrp_agent *agent)
{
    __atomic_store_n(&agent->cancelled, 1, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < agent->tee_count; i++) {
        otrp_tee *tee = agent->tees[i];
        if (tee->ops->cancel != NULL)
            tee->ops->cancel(tee->ctx);
    }
    otrp__async_cancel(agent);
}

int otrp_tee_call_cancelled(const otrp_tee_call *call)
{
    if (call == NULL || call->cancelled == NULL)
        return 0;
    return __atomic_load_n(call->cancelled, __ATOMIC_SEQ_CST) != 0;
}

static void vlog(const otrp_agent *agent, otrp_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vlog(const otrp_agent *agent, otrp_log_level level, const char *fmt, va_list ap)
{
    if (agent->config.log == NULL || level < agent->config.log_level ||
        agent->config.log_level == OTRP_LOG_SILENT)
        return;
    char line[OTRP__DETAIL_MAX];
    (void)vsnprintf(line, sizeof line, fmt, ap);
    agent->config.log(agent->config.log_user, level, line);
}

void otrp__log(const otrp_agent *agent, otrp_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(agent, level, fmt, ap);
    va_end(ap);
}

otrp_status otrp__agent_fail(otrp_agent *agent, otrp_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(agent->error, sizeof agent->error, fmt, ap);
    va_end(ap);
    otrp__log(agent, OTRP_LOG_WARN, "%s: %s", otrp_status_name(status), agent->error);
    return status;
}

otrp_status otrp__op_begin(otrp_agent *agent)
{
    otrp_status running = otrp__async_refuse_blocking(agent);
    if (running != OTRP_OK)
        return running;
    agent->error[0] = '\0';
    agent->deadline_ms = 0;
    agent->deadline_hit = 0;
    /* A cancel made before this point was meant for no operation (otrp/agent.h). */
    __atomic_store_n(&agent->cancelled, 0, __ATOMIC_SEQ_CST);
    return OTRP_OK;
}

otrp_status otrp__stats_begin(otrp_agent *agent, const char *operation)
{
    otrp_status st = otrp__op_begin(agent);
    if (st != OTRP_OK)
        return st;
    memset(&agent->last, 0, sizeof agent->last);
    agent->last.operation = operation;
    agent->last.start_ms = otrp_monotonic_ms();
    return OTRP_OK;
}

void otrp__stats_end(otrp_agent *agent, otrp_status result)
{
    agent->last.valid = 1;
    if (result != OTRP_OK) {
        agent->last.result = result;
        (void)snprintf(agent->last.detail, sizeof agent->last.detail, "%s", agent->error);
    }
    agent->last.duration_ms = otrp_monotonic_ms() - agent->last.start_ms;
}
