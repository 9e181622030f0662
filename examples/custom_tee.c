/*
 * custom_tee: how an app plugs its own TEE transport into libotrp and relays a TAM
 * message through it.
 *
 * A real backend would pass the message to the TEE (an ioctl, a socket, the GP TEE
 * Client API); this one stands in for a TEE that answers every GetDeviceState request
 * with a fixed GetDeviceTEEStateResponse, so the example runs anywhere.
 *
 * Build against an installed libotrp:
 *     cc custom_tee.c $(pkg-config --cflags --libs otrp) -o custom_tee
 */
#include <stdio.h>
#include <string.h>

#include <otrp/otrp.h>

/* The TEE's answer (a real TEE signs it and encrypts the device state to the TAM). */
static const char TEE_ANSWER[] =
    "{\"GetDeviceTEEStateResponse\":{\"payload\":"
    "\"eyJHZXREZXZpY2VURUVTdGF0ZVRCU1Jlc3BvbnNlIjp7InZlciI6IjEuMCIsInN0YXR1cyI6InBhc3MifX0\","
    "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2lnbmF0dXJl\"}}";

/* A GetDeviceStateRequest as a TAM sends it. Payload:
 * {"GetDeviceStateTBSRequest":{"ver":"1.0","rid":"1","tid":"2","ocspdat":[]}} */
static const char TAM_MESSAGE[] =
    "{\"GetDeviceStateRequest\":{\"payload\":"
    "\"eyJHZXREZXZpY2VTdGF0ZVRCU1JlcXVlc3QiOnsidmVyIjoiMS4wIiwicmlkIjoiMSIsInRpZCI6IjIiLCJvY3NwZGF0IjpbXX19\","
    "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"header\":{\"x5c\":[]},\"signature\":\"c2lnbmF0dXJl\"}}";

struct my_tee {
    unsigned messages; /* whatever state your transport needs */
};

static otrp_status my_get_name(void *ctx, const otrp_tee_call *call, otrp_buf *name)
{
    (void)ctx;
    (void)call;
    return otrp_buf_append_str(name, "Example TEE"); /* the DSI tee.name */
}

static otrp_status my_process(void *ctx, const otrp_tee_call *call, const char *msg,
                              size_t len, otrp_buf *out)
{
    struct my_tee *tee = ctx;
    (void)call; /* call->deadline_ms tells when to give up */
    (void)msg;
    (void)len;
    tee->messages++;
    return otrp_buf_append(out, TEE_ANSWER, sizeof TEE_ANSWER - 1);
}

static void my_destroy(void *ctx)
{
    struct my_tee *tee = ctx;
    printf("backend: handled %u message(s), closing\n", tee->messages);
}

static const struct otrp_tee_ops MY_TEE_OPS = {
    .struct_size = sizeof(struct otrp_tee_ops),
    .kind = "example",
    .get_name = my_get_name,
    .process_message = my_process,
    .destroy = my_destroy,
};

int main(void)
{
    static struct my_tee state;
    otrp_agent *agent = NULL;
    otrp_tee *tee = NULL;
    otrp_status st = otrp_agent_new(NULL, &agent);
    if (st == OTRP_OK)
        st = otrp_tee_new(&MY_TEE_OPS, &state, &tee);
    if (st == OTRP_OK)
        st = otrp_agent_add_tee(agent, tee); /* the agent owns tee now */
    if (st != OTRP_OK) {
        fprintf(stderr, "setup failed: %s\n", otrp_strerror(st));
        otrp_agent_free(agent);
        return 1;
    }

    char *answer = NULL;
    size_t answer_len = 0;
    st = otrp_agent_process(agent, TAM_MESSAGE, sizeof TAM_MESSAGE - 1, &answer, &answer_len);
    if (st != OTRP_OK) {
        fprintf(stderr, "relay failed: %s (%s): %s\n", otrp_status_name(st), otrp_strerror(st),
                otrp_agent_last_error(agent));
        if (answer != NULL) /* an OTrPBrokerError the TAM should still receive */
            printf("for the TAM: %s\n", answer);
        otrp_free(answer);
        otrp_agent_free(agent);
        return 1;
    }
    printf("libotrp %s relayed GetDeviceStateRequest; answer for the TAM (%zu bytes):\n%s\n",
           otrp_version(), answer_len, answer);
    otrp_free(answer);

    char *state_json = NULL;
    size_t state_len = 0;
    if (otrp_get_device_state(agent, &state_json, &state_len) == OTRP_OK)
        printf("device state: %s\n", state_json);
    otrp_free(state_json);
    otrp_agent_free(agent);
    return 0;
}
