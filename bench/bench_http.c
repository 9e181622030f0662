/*
 * Benchmark of the TAM transport (lib/http) over loopback, as ratios against a floor
 * measured in the same run: the floor is a bare libcurl easy handle doing the same
 * keep-alive POSTs with curl_easy_perform(). Also shows what keep-alive saves: the same
 * POSTs with a new transport (a new TCP and TLS connection) each time. The floor sends
 * the transport's request head (its default User-Agent included); the process runs on
 * one CPU, like bench/session.
 *
 * usage: bench_http [posts per round]   (run from the source tree: it calls
 * scripts/pki-test.sh)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http/http.h"
#include "otrp/otrp.h"
#include "reftam.h"
#include "support/cpu_pin.h"

#define DEFAULT_POSTS 300
#define BODY_SIZE 1024

static char body[BODY_SIZE + 1];
static char answer[BODY_SIZE + 1];

static char *slurp(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *data = calloc(1, 16384);
    if (data != NULL && fread(data, 1, 16383, f) == 0) {
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static size_t sink(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

/* The floor: bare libcurl, one handle, keep-alive, the same headers. */
static double floor_us(const char *url, const char *ca_file, int posts)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "User-Agent: libotrp/" OTRP_VERSION_STRING);
    h = curl_slist_append(h, "Accept: " OTRP__HTTP_MEDIA_TYPE);
    h = curl_slist_append(h, "Content-Type: " OTRP__HTTP_MEDIA_TYPE);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    if (ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    double start = now_us();
    for (int i = 0; i < posts; i++) {
        if (curl_easy_perform(c) != CURLE_OK) {
            fprintf(stderr, "bench: floor POST failed\n");
            exit(1);
        }
    }
    double took = now_us() - start;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return took / posts;
}

/* The transport: one transport for all POSTs (fresh = 0) or one per POST (fresh = 1). */
static double transport_us(const char *url, const char *ca_file, int posts, int fresh)
{
    otrp__http_settings s;
    otrp__http_settings_init(&s);
    s.allow_http = 1;
    s.ca_file = ca_file;
    otrp__http *t = NULL;
    otrp_buf resp = {0};
    double start = now_us();
    for (int i = 0; i < posts; i++) {
        if (t == NULL && otrp__http_new(&s, &t) != OTRP_OK) {
            fprintf(stderr, "bench: cannot make a transport\n");
            exit(1);
        }
        otrp__http_result info;
        if (otrp__http_post(t, url, body, BODY_SIZE, &resp, &info) != OTRP_OK ||
            resp.len != BODY_SIZE) {
            fprintf(stderr, "bench: POST failed: %s\n", info.detail);
            exit(1);
        }
        if (fresh) {
            otrp__http_free(t);
            t = NULL;
        }
    }
    double took = now_us() - start;
    otrp__http_free(t);
    otrp_buf_free(&resp);
    return took / posts;
}

/* Rounds alternate floor and transport so that both see the same machine load (the
 * build machine is shared); each figure is the best round, the least disturbed one. */
#define ROUNDS 7

static double min_d(double a, double b)
{
    return a < b ? a : b;
}

static void run(const char *label, const char *url, const char *ca_file, int posts)
{
    double fl = 1e30, keep = 1e30, fresh = 1e30;
    int fresh_posts = posts / 10 > 0 ? posts / 10 : 1;
    for (int r = 0; r < ROUNDS; r++) {
        fl = min_d(fl, floor_us(url, ca_file, posts));
        keep = min_d(keep, transport_us(url, ca_file, posts, 0));
        fresh = min_d(fresh, transport_us(url, ca_file, fresh_posts, 1));
    }
    printf("%-5s floor (bare libcurl, keep-alive) %8.1f us/POST\n", label, fl);
    printf("%-5s transport, one connection        %8.1f us/POST  ratio %.2f x floor\n", label,
           keep, keep / fl);
    printf("%-5s transport, new connection each   %8.1f us/POST  ratio %.2f x floor\n", label,
           fresh, fresh / fl);
}

int main(int argc, char **argv)
{
    int posts = argc > 1 ? atoi(argv[1]) : DEFAULT_POSTS;
    if (posts <= 0)
        posts = DEFAULT_POSTS;
    (void)bench_pin_to_one_cpu();
    memset(body, '{', BODY_SIZE);
    memset(answer, '}', BODY_SIZE);

    char dir[] = "/tmp/otrp-bench-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sh scripts/pki-test.sh '%s' >/dev/null", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench: scripts/pki-test.sh failed (run from the source tree)\n");
        return 1;
    }
    char ca_path[256];
    snprintf(ca_path, sizeof ca_path, "%s/ca.pem", dir);
    char *cert = slurp(dir, "server.pem");
    char *key = slurp(dir, "server.key");

    reftam_step step = {.status = 200, .content_type = OTRP__HTTP_MEDIA_TYPE, .body = answer};
    reftam_script script = {&step, 1};
    reftam_httpd *plain = NULL, *tls = NULL;
    if (cert == NULL || key == NULL || reftam_script_serve(&script, NULL, NULL, &plain) != 0 ||
        reftam_script_serve(&script, cert, key, &tls) != 0) {
        fprintf(stderr, "bench: cannot start the loopback servers\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("bench_http: best of %d rounds of %d POSTs of %d bytes, %d-byte answers, "
           "loopback\n", ROUNDS, posts, BODY_SIZE, BODY_SIZE);
    run("http", reftam_httpd_url(plain), NULL, posts);
    run("https", reftam_httpd_url(tls), ca_path, posts);
    curl_global_cleanup();

    reftam_httpd_stop(plain);
    reftam_httpd_stop(tls);
    free(cert);
    free(key);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
