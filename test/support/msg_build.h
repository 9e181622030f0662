/* Building OTrP-shaped messages for agent tests (the agent does not check signatures,
 * so the JWS here carries a fixed protected header and a dummy signature). */
#ifndef TEST_MSG_BUILD_H
#define TEST_MSG_BUILD_H

#include <stddef.h>

/* {"<outer>":{"payload":"<b64url(tbs_json)>","protected":"eyJhbGciOiJSUzI1NiJ9",
 *  "signature":"c2lnbmF0dXJl"}} (malloc; free with free()). */
char *msg_make(const char *outer, const char *tbs_json);

/* The same with the JWS members after the payload given as raw JSON text
 * (e.g. "\"protected\":\"x\",\"signature\":\"y\""). */
char *msg_make_with_tail(const char *outer, const char *tbs_json, const char *tail);

/* base64url (no padding) of len bytes (malloc). */
char *b64url(const void *data, size_t len);

#endif
