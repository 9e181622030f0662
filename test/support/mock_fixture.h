/*
 * Test fixtures for the mock TEE: provisioning directories made from the fixed test PKI
 * (no key generation), directory helpers, and running otrp-tee-sim as a child process.
 */
#ifndef OTRP_TEST_MOCK_FIXTURE_H
#define OTRP_TEST_MOCK_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>

/* The tee.json of the fixtures (name "mocktee-test", quota 1 MiB). */
#define FX_TEE_JSON                                                                       \
    "{\"name\": \"mocktee-test\", \"version\": \"1.0\", \"tam_uri\": "                    \
    "\"https://tam.example/otrp\", \"jwe_alg\": \"RSA1_5\", \"sign_alg\": \"RS256\", "    \
    "\"require_ocsp\": false, \"quota_bytes\": 1048576}"

/* mkdtemp a directory under TMPDIR (or /tmp) into dir[cap]; 0 or -1. */
int fx_tempdir(char *dir, size_t cap, const char *tag);
/* Make a provisioning directory in a fresh temp dir: tee_json (NULL: FX_TEE_JSON), the
 * test TEE identity and tam-root as trust anchor. 0 or -1. */
int fx_teedir(char *dir, size_t cap, const char *tee_json);
/* Write a file (creating it) with text. 0 or -1. */
int fx_write(const char *dir, const char *rel, const void *data, size_t len);
/* rm -rf dir; cp -a src dst (dst must not exist). 0 or -1. */
int fx_rm_rf(const char *dir);
int fx_copy_dir(const char *src, const char *dst);

/* The otrp-tee-sim binary beside the test binary (argv0 = the test's argv[0]). */
void fx_set_argv0(const char *argv0);
const char *fx_tee_sim(void);
/* Start `otrp-tee-sim serve dir --listen unix:sock --verify-time T` and wait until it
 * accepts connections (up to 10 s). Returns the pid, or -1. */
pid_t fx_daemon_start(const char *dir, const char *sock);
/* The same with more serve options: extra is NULL or a NULL-terminated list of at most
 * 8 arguments (e.g. {"--max-connections", "1", NULL}). */
pid_t fx_daemon_start_args(const char *dir, const char *sock, const char *const *extra);
/* A fresh provisioning directory (fx_teedir with FX_TEE_JSON) served by otrp-tee-sim on
 * dir/tee.sock: dir[dir_cap] and sock[sock_cap] receive the paths. The pid, or -1. */
pid_t fx_teedir_daemon(char *dir, size_t dir_cap, char *sock, size_t sock_cap);
/* Send sig and wait for the child; returns its exit status (128+sig when killed). */
int fx_daemon_stop(pid_t pid, int sig);
/* The daemon the running test started (or -1): a test sets it, and fx_kill_daemon, as a
 * cmocka teardown, kills it when an assertion ended the test before its own stop. */
extern pid_t fx_daemon;
int fx_kill_daemon(void **state);

#endif
