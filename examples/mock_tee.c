/*
 * mock_tee: develop and test an app against libotrp without a TEE.
 *
 * The mock TEE (libotrp-mocktee) is an honest OTrP TEE in software: it is provisioned
 * like a device, holds its own keys, verifies what the TAM signs and signs what it
 * answers. The agent reaches it through the same vtable as a real TEE, so the app code
 * below is what it would be with otrp_tee_teec_new(); only the constructor differs.
 * A device build links libotrp alone (see custom_tee.c) and has no mock TEE.
 *
 * Build against an installed libotrp and libotrp-mocktee:
 *     cc mock_tee.c $(pkg-config --cflags --libs otrp-mocktee) -o mock_tee
 * Provision a TEE that trusts your TAM's root certificate, then run:
 *     otrp-tee-sim init /tmp/tee --name dev-tee --trust tam-root.pem
 *     ./mock_tee /tmp/tee
 */
#include <stdio.h>
#include <string.h>

#include <otrp/mocktee.h>
#include <otrp/otrp.h>

/* A GetDeviceStateRequest whose signature no trusted TAM made (payload:
 * {"GetDeviceStateTBSRequest":{"ver":"1.0","rid":"1","tid":"2","ocspdat":[]}}). The mock
 * TEE refuses it the way a real TEE does: with an answer it signs, carrying an error. */
static const char UNTRUSTED_REQUEST[] =
    "{\"GetDeviceStateRequest\":{\"payload\":"
    "\"eyJHZXREZXZpY2VTdGF0ZVRCU1JlcXVlc3QiOnsidmVyIjoiMS4wIiwicmlkIjoiMSIsInRpZCI6IjIiLCJvY3NwZGF0IjpbXX19\","
    "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"header\":{\"x5c\":[]},\"signature\":\"c2lnbmF0dXJl\"}}";

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TEEDIR   (made by otrp-tee-sim init TEEDIR)\n", argv[0]);
        return 2;
    }
    char why[256] = "";
    otrp_mock_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.detail = why; /* what is wrong with the directory, when opening fails */
    opts.detail_cap = sizeof why;

    otrp_agent *agent = NULL;
    otrp_tee *tee = NULL;
    otrp_status st = otrp_agent_new(NULL, &agent);
    if (st == OTRP_OK) {
        st = otrp_tee_mock_new_opts(argv[1], &opts, &tee);
        if (st != OTRP_OK)
            fprintf(stderr, "mock TEE %s: %s: %s\n", argv[1], otrp_status_name(st), why);
    }
    if (st == OTRP_OK)
        st = otrp_agent_add_tee(agent, tee); /* the agent owns tee now */
    if (st != OTRP_OK) {
        fprintf(stderr, "setup failed: %s\n", otrp_strerror(st));
        otrp_agent_free(agent);
        return 1;
    }

    char *state_json = NULL;
    size_t state_len = 0;
    st = otrp_get_device_state(agent, &state_json, &state_len);
    if (st == OTRP_OK)
        printf("device state: %s\n", state_json);
    otrp_free(state_json);

    char *answer = NULL;
    size_t answer_len = 0;
    if (st == OTRP_OK)
        st = otrp_agent_process(agent, UNTRUSTED_REQUEST, sizeof UNTRUSTED_REQUEST - 1, &answer,
                                &answer_len);
    if (st == OTRP_OK)
        printf("the TEE's signed answer to an untrusted request (%zu bytes): %.60s...\n",
               answer_len, answer);
    else
        fprintf(stderr, "failed: %s: %s\n", otrp_status_name(st), otrp_agent_last_error(agent));
    otrp_free(answer);
    otrp_agent_free(agent);
    return st == OTRP_OK ? 0 : 1;
}
