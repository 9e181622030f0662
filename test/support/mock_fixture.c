#include "mock_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tam_builder.h"

int fx_tempdir(char *dir, size_t cap, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    if (snprintf(dir, cap, "%s/otrp-%s-XXXXXX", tmp, tag) >= (int)cap)
        return -1;
    return mkdtemp(dir) != NULL ? 0 : -1;
}

int fx_write(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[1024];
    (void)snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int copy_file(const char *src, const char *dir, const char *rel)
{
    otrp_buf b = {0};
    int rc = test_read_file(src, &b) == OTRP_OK ? fx_write(dir, rel, b.data, b.len) : -1;
    otrp_buf_free(&b);
    return rc;
}

int fx_teedir(char *dir, size_t cap, const char *tee_json)
{
    if (fx_tempdir(dir, cap, "tee") != 0)
        return -1;
    char path[1024];
    const char *subs[] = {"identity", "trust", "state"};
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
        if (mkdir(path, 0700) != 0)
            return -1;
    }
    const char *json = tee_json != NULL ? tee_json : FX_TEE_JSON;
    if (fx_write(dir, "tee.json", json, strlen(json)) != 0 ||
        copy_file(TEST_PKI_DIR "/tee-key.pem", dir, "identity/key.pem") != 0 ||
        copy_file(TEST_PKI_DIR "/tee.pem", dir, "identity/cert.pem") != 0 ||
        copy_file(TEST_PKI_DIR "/tam-root.pem", dir, "trust/tam-root.pem") != 0)
        return -1;
    return 0;
}

static int run(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int fx_rm_rf(const char *dir)
{
    char *argv[] = {"rm", "-rf", (char *)(uintptr_t)dir, NULL};
    return run(argv);
}

int fx_copy_dir(const char *src, const char *dst)
{
    char *argv[] = {"cp", "-a", (char *)(uintptr_t)src, (char *)(uintptr_t)dst, NULL};
    return run(argv);
}

static char g_sim[1024] = "build/bin/otrp-tee-sim";

void fx_set_argv0(const char *argv0)
{
    /* build/test/test_x -> build/bin/otrp-tee-sim (and build/asan/... alike) */
    const char *slash = strrchr(argv0, '/');
    if (slash == NULL)
        return;
    (void)snprintf(g_sim, sizeof g_sim, "%.*s/../bin/otrp-tee-sim", (int)(slash - argv0), argv0);
}

const char *fx_tee_sim(void)
{
    return g_sim;
}

static int can_connect(const char *sock)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    (void)snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* The most options a test adds to the serve command line. */
#define FX_DAEMON_EXTRA_MAX 8

pid_t fx_daemon_start(const char *dir, const char *sock)
{
    return fx_daemon_start_args(dir, sock, NULL);
}

pid_t fx_daemon_start_args(const char *dir, const char *sock, const char *const *extra)
{
    char listen[600], when[32];
    (void)snprintf(listen, sizeof listen, "unix:%s", sock);
    (void)snprintf(when, sizeof when, "%lld", (long long)TEST_PKI_TIME);
    const char *argv[7 + FX_DAEMON_EXTRA_MAX + 1] = {g_sim, "serve", dir, "--listen", listen,
                                                     "--verify-time", when};
    size_t argc = 7;
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (i == FX_DAEMON_EXTRA_MAX)
            return -1;
        argv[argc++] = extra[i];
    }
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0 && getenv("FX_DAEMON_VERBOSE") == NULL)
            dup2(null, 2);
        execv(g_sim, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return -1; /* exited: refused to start */
        if (can_connect(sock))
            return pid;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

int fx_daemon_stop(pid_t pid, int sig)
{
    int status = 0;
    kill(pid, sig);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

pid_t fx_daemon = -1;

int fx_kill_daemon(void **state)
{
    (void)state;
    if (fx_daemon > 0)
        (void)fx_daemon_stop(fx_daemon, SIGKILL);
    fx_daemon = -1;
    return 0;
}

pid_t fx_teedir_daemon(char *dir, size_t dir_cap, char *sock, size_t sock_cap)
{
    if (fx_teedir(dir, dir_cap, NULL) != 0 ||
        snprintf(sock, sock_cap, "%s/tee.sock", dir) >= (int)sock_cap)
        return -1;
    return fx_daemon_start(dir, sock);
}
