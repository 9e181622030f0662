/*
 * libFuzzer target: otrp_agent_process() on arbitrary bytes, with two scripted TEEs.
 * The first input byte picks how the TEEs behave (answer, garbage, busy, fail, no
 * data, whole GetDeviceStateResponse), the rest is the message. Any crash, leak,
 * undefined behaviour, or an answer that is not what the API promises is a finding:
 * that includes a detail that is not printable ASCII (peer text is quoted) and a device
 * state that is not UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otrp/otrp.h"
#include "support/script_tee.h"
#include "util/detail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ANSWERS[] = {
    "{\"InstallTAResponse\":{\"payload\":\"eyJJbnN0YWxsVEFUQlNSZXNwb25zZSI6eyJzdGF0dXMiOiJwYXNzIn19\","
    "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\"}}",
    "{\"GetDeviceTEEStateResponse\":{\"payload\":\"eyJHZXREZXZpY2VURUVTdGF0ZVRCU1Jlc3BvbnNlIjp7fX0\","
    "\"protected\":\"e30\",\"signature\":\"\"}}",
    "{\"GetDeviceStateResponse\":[{\"GetDeviceTEEStateResponse\":{\"payload\":"
    "\"eyJHZXREZXZpY2VURUVTdGF0ZVRCU1Jlc3BvbnNlIjp7fX0\",\"protected\":\"e30\",\"signature\":\"\"}}]}",
    "{\"GetDeviceStateResponse\":[1,",
};

static void steer(script_tee *s, uint8_t bits)
{
    static const script_mode modes[] = {SCRIPT_ANSWER, SCRIPT_ANSWER, SCRIPT_NO_DATA,
                                        SCRIPT_FAIL, SCRIPT_GARBAGE, SCRIPT_ANSWER};
    s->mode = modes[bits % 6];
    s->fail_status = OTRP_ERR_IO;
    s->busy_times = (bits >> 3) & 1;
    s->answer = ANSWERS[(bits >> 4) & 3];
    s->name_fails = (bits >> 6) & 1;
    s->error_text = (bits >> 7) & 1 ? "\x1b[2J\r\n\xff explained" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.tee_busy_backoff_ms = 0;
    cfg.tee_busy_retries = 1;
    cfg.max_message_size = 1 << 20;
    otrp_agent *agent = NULL;
    if (otrp_agent_new(&cfg, &agent) != OTRP_OK)
        abort();
    script_tee *a, *b;
    if (otrp_agent_add_tee(agent, script_tee_new("Primary TEE", &a)) != OTRP_OK ||
        otrp_agent_add_tee(agent, script_tee_new("Second TEE", &b)) != OTRP_OK)
        abort();
    steer(a, data[0]);
    steer(b, (uint8_t)(data[0] >> 1 | data[0] << 7));

    /* A copy of exactly size-1 bytes, so reading past the end is caught. */
    size_t len = size - 1;
    char *msg = malloc(len ? len : 1);
    if (len)
        memcpy(msg, data + 1, len);
    char *resp = NULL;
    size_t resp_len = 0;
    otrp_status st = otrp_agent_process(agent, msg, len, &resp, &resp_len);
    /* The contract: a response only on success or a TEE-side failure, then non-empty */
    if (resp != NULL && (resp_len == 0 || strlen(resp) != resp_len))
        abort();
    if (st >= OTRP_ERR_MSG_EMPTY && st <= OTRP_ERR_MSG_DEPTH && resp != NULL)
        abort();
    if (st != OTRP_OK && otrp_agent_last_error(agent)[0] == '\0')
        abort();
    for (const char *p = otrp_agent_last_error(agent); *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E)
            abort();
    }
    otrp_free(resp);
    char *state = NULL;
    size_t state_len = 0;
    if (otrp_get_device_state(agent, &state, &state_len) != OTRP_OK ||
        strlen(state) != state_len || !otrp__utf8_valid(state, state_len))
        abort();
    otrp_free(state);
    free(msg);
    otrp_agent_free(agent);
    return 0;
}
