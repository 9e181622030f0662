#include "connect_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections served at once (a test makes a few). */
#define PROXY_MAX_CONNS 16
/* The longest request head read, and how long a client may take to send it. */
#define PROXY_HEAD_MAX 4096
#define PROXY_HEAD_TIMEOUT_MS 5000
/* Every wait lasts at most this long, so that connect_proxy_stop() is prompt. */
#define PROXY_SLICE_MS 50

struct proxy_conn {
    connect_proxy *proxy;
    pthread_t th;
    int fd;
    int used;
};

struct connect_proxy {
    int lfd;
    int stop; /* __atomic */
    unsigned connections, tunnels; /* __atomic */
    pthread_t acceptor;
    struct proxy_conn conns[PROXY_MAX_CONNS];
    char url[64];
};

static int stopping(connect_proxy *p)
{
    return __atomic_load_n(&p->stop, __ATOMIC_ACQUIRE);
}

/* Wait for fd to be readable for up to PROXY_SLICE_MS: 1 readable, 0 not yet, -1 error. */
static int readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
    int n = poll(&pfd, 1, PROXY_SLICE_MS);
    return n < 0 ? -1 : n > 0;
}

/* Read the request head (through the blank line) into head; its length, or -1. */
static int read_head(connect_proxy *p, int fd, char *head, size_t cap)
{
    size_t len = 0;
    for (int waited = 0; waited < PROXY_HEAD_TIMEOUT_MS && !stopping(p);) {
        int r = readable(fd);
        if (r < 0)
            return -1;
        if (r == 0) {
            waited += PROXY_SLICE_MS;
            continue;
        }
        ssize_t n = recv(fd, head + len, cap - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        head[len] = '\0';
        if (strstr(head, "\r\n\r\n") != NULL)
            return (int)len;
        if (len == cap - 1)
            return -1;
    }
    return -1;
}

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* "CONNECT 127.0.0.1:PORT HTTP/1.1": the port, or 0 for any other request. */
static unsigned short connect_target(const char *head)
{
    unsigned port = 0;
    char version[16];
    if (sscanf(head, "CONNECT 127.0.0.1:%5u HTTP/%15s", &port, version) != 2 || port == 0 ||
        port > 65535)
        return 0;
    return (unsigned short)port;
}

static int dial(unsigned short port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Copy bytes both ways until one side closes or the proxy stops. */
static void relay(connect_proxy *p, int a, int b)
{
    char buf[16384];
    while (!stopping(p)) {
        struct pollfd pfd[2] = {{.fd = a, .events = POLLIN, .revents = 0},
                                {.fd = b, .events = POLLIN, .revents = 0}};
        int n = poll(pfd, 2, PROXY_SLICE_MS);
        if (n < 0)
            return;
        for (int i = 0; i < 2; i++) {
            if (pfd[i].revents == 0)
                continue;
            ssize_t got = recv(pfd[i].fd, buf, sizeof buf, 0);
            if (got <= 0 || send_all(pfd[1 - i].fd, buf, (size_t)got) != 0)
                return;
        }
    }
}

static void *conn_main(void *arg)
{
    struct proxy_conn *c = arg;
    connect_proxy *p = c->proxy;
    char head[PROXY_HEAD_MAX];
    if (read_head(p, c->fd, head, sizeof head) < 0)
        return NULL;
    unsigned short port = connect_target(head);
    int target = port != 0 ? dial(port) : -1;
    if (target < 0) {
        static const char refused[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        (void)send_all(c->fd, refused, sizeof refused - 1);
        return NULL;
    }
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (send_all(c->fd, ok, sizeof ok - 1) == 0) {
        __atomic_add_fetch(&p->tunnels, 1, __ATOMIC_ACQ_REL);
        relay(p, c->fd, target);
    }
    close(target);
    return NULL;
}

static void *accept_main(void *arg)
{
    connect_proxy *p = arg;
    size_t next = 0;
    while (!stopping(p) && next < PROXY_MAX_CONNS) {
        if (readable(p->lfd) <= 0)
            continue;
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        __atomic_add_fetch(&p->connections, 1, __ATOMIC_ACQ_REL);
        struct proxy_conn *c = &p->conns[next];
        c->proxy = p;
        c->fd = fd;
        if (pthread_create(&c->th, NULL, conn_main, c) != 0) {
            close(fd);
            continue;
        }
        c->used = 1;
        next++;
    }
    return NULL;
}

connect_proxy *connect_proxy_start(void)
{
    connect_proxy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(p->lfd, PROXY_MAX_CONNS) != 0 ||
        getsockname(p->lfd, (struct sockaddr *)&a, &alen) != 0 ||
        pthread_create(&p->acceptor, NULL, accept_main, p) != 0) {
        if (p->lfd >= 0)
            close(p->lfd);
        free(p);
        return NULL;
    }
    (void)snprintf(p->url, sizeof p->url, "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    return p;
}

const char *connect_proxy_url(const connect_proxy *p)
{
    return p->url;
}

unsigned connect_proxy_connections(connect_proxy *p)
{
    return __atomic_load_n(&p->connections, __ATOMIC_ACQUIRE);
}

unsigned connect_proxy_tunnels(connect_proxy *p)
{
    return __atomic_load_n(&p->tunnels, __ATOMIC_ACQUIRE);
}

void connect_proxy_stop(connect_proxy *p)
{
    if (p == NULL)
        return;
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
    pthread_join(p->acceptor, NULL);
    for (size_t i = 0; i < PROXY_MAX_CONNS; i++) {
        if (!p->conns[i].used)
            continue;
        pthread_join(p->conns[i].th, NULL);
        close(p->conns[i].fd);
    }
    close(p->lfd);
    free(p);
}
