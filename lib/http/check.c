/*
 * The checks of the TAM transport settings that need no network (http.h): what
 * otrp_agent_new() refuses at once, rather than at the first session. Each failure
 * names the configuration field; configuration text is never echoed (a proxy URL may
 * carry a password).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http/http.h"
#include "util/base64.h"
#include "util/detail.h"

/* A pin: this prefix, then the standard base64 with padding of a SHA-256 hash. libcurl
 * compares the text as it is and splits the list on ";sha256//", so any other spelling
 * of the 32 bytes (or a space after the ';') could never match: refused here. */
#define PIN_PREFIX "sha256//"
#define PIN_PREFIX_LEN (sizeof PIN_PREFIX - 1)
#define SHA256_LEN 32u
#define PIN_B64_LEN 44u /* 4 * ceil(32 / 3) */

/* The proxy schemes libcurl 7.88 tunnels an HTTP(S) request through. */
static const char *const PROXY_SCHEMES[] = {"http",   "https",  "socks4",
                                            "socks4a", "socks5", "socks5h"};

static otrp_status check_pins(const char *pins, char *detail, size_t size)
{
    const char *p = pins;
    for (unsigned n = 1;; n++) {
        if (n > OTRP_MAX_PINS)
            return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                              "pinned_keys holds more than %d pins", OTRP_MAX_PINS);
        if (strncmp(p, PIN_PREFIX, PIN_PREFIX_LEN) != 0)
            return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                              "pinned_keys: pin #%u does not start with \"" PIN_PREFIX "\"", n);
        const char *hash = p + PIN_PREFIX_LEN;
        size_t len = strcspn(hash, ";");
        uint8_t raw[PIN_B64_LEN / 4 * 3];
        size_t raw_len = 0;
        if (len != PIN_B64_LEN ||
            otrp__b64_decode(hash, len, raw, &raw_len, OTRP__B64_STD) != OTRP_OK ||
            raw_len != SHA256_LEN)
            return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                              "pinned_keys: pin #%u is not \"" PIN_PREFIX
                              "\" and the base64 (with padding) of a %u-byte SHA-256 hash",
                              n, SHA256_LEN);
        p = hash + len;
        if (*p == '\0')
            return OTRP_OK;
        p++; /* the ';' */
    }
}

/* 1 when text is at most OTRP_MAX_PROXY_LEN bytes of printable ASCII (space_ok: spaces
 * too). */
static int printable(const char *text, int space_ok)
{
    size_t n = strnlen(text, OTRP_MAX_PROXY_LEN + 1);
    if (n > OTRP_MAX_PROXY_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c > 0x7e || (c == ' ' && !space_ok))
            return 0;
    }
    return 1;
}

static int proxy_scheme_known(const char *scheme)
{
    for (size_t i = 0; i < sizeof PROXY_SCHEMES / sizeof PROXY_SCHEMES[0]; i++)
        if (strcmp(scheme, PROXY_SCHEMES[i]) == 0)
            return 1;
    return 0;
}

static otrp_status check_proxy(const char *proxy, char *detail, size_t size)
{
    if (proxy[0] == '\0')
        return OTRP_OK; /* no proxy */
    if (!printable(proxy, 0))
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                          "proxy is longer than %d bytes or has a space, control or "
                          "non-ASCII byte", OTRP_MAX_PROXY_LEN);
    /* The scheme is required: libcurl would take "host:port" as http, and a typo in
     * "socks5h" as http too. */
    if (strstr(proxy, "://") == NULL)
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                          "proxy has no scheme (\"http://host:port\", \"socks5h://host:port\", ...)");
    CURLU *u = curl_url();
    if (u == NULL)
        return otrp__fail(detail, size, OTRP_ERR_NO_MEMORY, "out of memory");
    otrp_status st = OTRP_OK;
    char *scheme = NULL, *host = NULL;
    if (curl_url_set(u, CURLUPART_URL, proxy, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        st = otrp__fail(detail, size, OTRP_ERR_INVALID_ARG, "proxy is not a URL");
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             !proxy_scheme_known(scheme))
        st = otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                        "proxy scheme is none of http, https, socks4, socks4a, socks5, socks5h");
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        st = otrp__fail(detail, size, OTRP_ERR_INVALID_ARG, "proxy URL has no host");
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return st;
}

static otrp_status check_ca(const otrp__http_settings *s, char *detail, size_t size)
{
    if (s->ca_blob != NULL && s->ca_blob_len == 0)
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG, "ca_blob is set but ca_blob_len is 0");
    if (s->ca_blob == NULL && s->ca_blob_len != 0)
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                          "ca_blob_len is %zu but ca_blob is NULL", s->ca_blob_len);
    if (s->ca_blob_len > OTRP_MAX_CA_BLOB)
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                          "ca_blob_len %zu exceeds the limit of %zu bytes", s->ca_blob_len,
                          OTRP_MAX_CA_BLOB);
    if (s->ca_file != NULL && s->ca_file[0] == '\0')
        return otrp__fail(detail, size, OTRP_ERR_INVALID_ARG,
                          "ca_file is empty (NULL selects the system store)");
    return OTRP_OK;
}

otrp_status otrp__http_settings_check(const otrp__http_settings *s, char *detail,
                                      size_t detail_size)
{
    otrp__set_detail(detail, detail_size, "%s", "");
    if (!otrp__http_user_agent_ok(s->user_agent))
        return otrp__fail(detail, detail_size, OTRP_ERR_INVALID_ARG,
                          "user_agent is not up to %d printable ASCII bytes",
                          OTRP__HTTP_USER_AGENT_MAX);
    otrp_status st = check_ca(s, detail, detail_size);
    if (st == OTRP_OK && s->pinned_keys != NULL)
        st = check_pins(s->pinned_keys, detail, detail_size);
    if (st == OTRP_OK && s->proxy != NULL)
        st = check_proxy(s->proxy, detail, detail_size);
    if (st == OTRP_OK && s->noproxy != NULL && !printable(s->noproxy, 1))
        st = otrp__fail(detail, detail_size, OTRP_ERR_INVALID_ARG,
                        "noproxy is longer than %d bytes or has a control or non-ASCII byte",
                        OTRP_MAX_PROXY_LEN);
    return st;
}

otrp_status otrp__http_keylog_check(int allow_keylog, char *detail, size_t detail_size)
{
    /* Read per session: the variable may be set after the agent was made. libcurl reads
     * it once, when it is initialised, and cannot be told to ignore it per handle. */
    const char *keylog = getenv("SSLKEYLOGFILE");
    if (allow_keylog || keylog == NULL || keylog[0] == '\0')
        return OTRP_OK;
    return otrp__fail(detail, detail_size, OTRP_ERR_TLS_KEYLOG,
                      "SSLKEYLOGFILE is set in the environment: libcurl would write this "
                      "session's TLS secrets to that file (allow_keylog is not set)");
}
