#include "mocktee/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jose/jose.h"
#include "util/clock.h"
#include "util/detail.h"
#include "util/mem.h"

#define STATE_FILE "state.json"
#define LOCK_FILE "lock"
/* Temporary files start with this; a crash may leave them, gc removes them. */
#define TMP_PREFIX ".tmp-"
/* Random bytes in a temporary file's name: 128 bits, so that another user cannot plant
 * a file at the name before the write (it is created with O_EXCL besides). */
#define TMP_RANDOM_BYTES 16
/* Fresh names tried before a write gives up: a file already at a random name was
 * planted there (or the generator is broken), never a chance collision. */
#define TMP_ATTEMPTS 4

static void set_detail(char *detail, size_t cap, const char *what, const char *path, int err)
{
    if (detail != NULL && cap > 0)
        (void)snprintf(detail, cap, "%s %s: %s", what, path, strerror(err));
}

otrp_status otrp__mock_private_dir(int at, const char *path, int create, int *fd_out,
                                   char *detail, size_t cap)
{
    *fd_out = -1;
    if (create && mkdirat(at, path, 0700) != 0 && errno != EEXIST)
        return otrp__fail(detail, cap, OTRP_ERR_IO, "cannot create directory %s: %s", path,
                          strerror(errno));
    int fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return otrp__fail(detail, cap, OTRP_ERR_IO, "cannot open directory %s: %s", path,
                          strerror(err));
    }
    /* Whoever else can write here (or owns the directory, and so can chmod it) can
     * replace state.json, a blob or a key, or plant a link where the TEE writes: such a
     * directory is refused, never repaired or kept. */
    if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        close(fd);
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG,
                          "%s is group- or world-writable (mode %04o): another user could "
                          "replace the TEE's files; make it private (chmod go-w)",
                          path, (unsigned)(sb.st_mode & 07777));
    }
    if (sb.st_uid != geteuid() && sb.st_uid != 0) {
        close(fd);
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG,
                          "%s is owned by user %lu, not by this user or root", path,
                          (unsigned long)sb.st_uid);
    }
    *fd_out = fd;
    return OTRP_OK;
}

otrp_status otrp__mock_store_open(otrp__mock_store *store, const char *teedir, char *detail,
                                  size_t detail_cap)
{
    store->dirfd = store->blobfd = store->lockfd = -1;
    store->crash_countdown = 0;
    char path[4096], blobs[4096 + 8];
    if (snprintf(path, sizeof path, "%s/state", teedir) >= (int)sizeof path) {
        set_detail(detail, detail_cap, "path too long:", teedir, ENAMETOOLONG);
        return OTRP_ERR_CONFIG;
    }
    (void)snprintf(blobs, sizeof blobs, "%s/blobs", path);
    /* TEEDIR itself too: whoever can write there can rename state/ away. */
    int topfd = -1;
    otrp_status st = otrp__mock_private_dir(AT_FDCWD, teedir, 0, &topfd, detail, detail_cap);
    if (st != OTRP_OK)
        return st;
    close(topfd);
    st = otrp__mock_private_dir(AT_FDCWD, path, 1, &store->dirfd, detail, detail_cap);
    if (st != OTRP_OK)
        return st;
    store->lockfd = openat(store->dirfd, LOCK_FILE,
                           O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (store->lockfd < 0) {
        set_detail(detail, detail_cap, "cannot open lock file in", path, errno);
        otrp__mock_store_close(store);
        return OTRP_ERR_IO;
    }
    if (flock(store->lockfd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            if (detail != NULL && detail_cap > 0)
                (void)snprintf(detail, detail_cap,
                               "%s is in use by another TEE instance (lock file held)", path);
            otrp__mock_store_close(store);
            return OTRP_ERR_LOCKED;
        }
        set_detail(detail, detail_cap, "cannot lock", path, err);
        otrp__mock_store_close(store);
        return OTRP_ERR_IO;
    }
    st = otrp__mock_private_dir(AT_FDCWD, blobs, 1, &store->blobfd, detail, detail_cap);
    if (st != OTRP_OK) {
        otrp__mock_store_close(store);
        return st;
    }
    /* The new directories must survive a crash too. */
    (void)fsync(store->dirfd);
    return OTRP_OK;
}

void otrp__mock_store_close(otrp__mock_store *store)
{
    if (store->blobfd >= 0)
        close(store->blobfd);
    if (store->lockfd >= 0)
        close(store->lockfd); /* releases the flock */
    if (store->dirfd >= 0)
        close(store->dirfd);
    store->dirfd = store->blobfd = store->lockfd = -1;
}

static otrp_status write_fully(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return OTRP_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return OTRP_OK;
}

/* Crash simulation (tests): count the steps of atomic writes and stop dead at one. */
static int crash_here(unsigned *countdown)
{
    return countdown != NULL && *countdown != 0 && --*countdown == 0;
}

/* The durability calls, counted and timed when stats is not NULL. */
static int timed_fsync(int fd, uint64_t *count, otrp__mock_sync_stats *stats)
{
    uint64_t t0 = stats != NULL ? otrp__monotonic_ns() : 0;
    int rc = fsync(fd);
    if (stats != NULL) {
        (*count)++;
        stats->ns += otrp__monotonic_ns() - t0;
    }
    return rc;
}

static int timed_rename(int dirfd, const char *from, const char *to,
                        otrp__mock_sync_stats *stats)
{
    uint64_t t0 = stats != NULL ? otrp__monotonic_ns() : 0;
    int rc = renameat(dirfd, from, dirfd, to);
    if (stats != NULL) {
        stats->renames++;
        stats->ns += otrp__monotonic_ns() - t0;
    }
    return rc;
}

/* Where an atomic write reports to: the crash hook and the statistics (both may be
 * NULL), and whether it syncs the directory itself (sync_dir) or leaves that to a later
 * otrp__mock_store_sync_blobs(). */
struct write_ctx {
    unsigned *crash_countdown;
    otrp__mock_sync_stats *stats;
    int sync_dir;
};

/* The name of a temporary file: TMP_PREFIX, then the random bytes in hex. */
#define TMP_NAME_CAP (sizeof TMP_PREFIX + 2 * TMP_RANDOM_BYTES)

/* Create a temporary file for a write into dirfd under a fresh random name (into tmp).
 * O_EXCL and O_NOFOLLOW: a file or link another user planted at the name is never
 * opened, the next name is tried instead. OTRP_ERR_IO, OTRP_ERR_RANDOM. */
static otrp_status create_temp(int dirfd, unsigned mode, char tmp[TMP_NAME_CAP], int *fd)
{
    static const char hex[] = "0123456789abcdef";
    for (int attempt = 0; attempt < TMP_ATTEMPTS; attempt++) {
        uint8_t r[TMP_RANDOM_BYTES];
        otrp_status st = otrp__jose_random(r, sizeof r);
        if (st != OTRP_OK)
            return st;
        char *p = tmp + strlen(TMP_PREFIX);
        memcpy(tmp, TMP_PREFIX, strlen(TMP_PREFIX));
        for (size_t i = 0; i < sizeof r; i++) {
            *p++ = hex[r[i] >> 4];
            *p++ = hex[r[i] & 15];
        }
        *p = '\0';
        *fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     (mode_t)mode);
        if (*fd >= 0)
            return OTRP_OK;
        if (errno != EEXIST)
            return OTRP_ERR_IO;
    }
    return OTRP_ERR_IO;
}

/* The atomic write, with the crash points a test can stop at: 1 half the data written,
 * 2 temporary file synced, 3 renamed, 4 directory synced (when w->sync_dir). Stopping
 * leaves every file as a crash would (no clean-up) and returns OTRP_ERR_IO. */
static otrp_status atomic_write(int dirfd, const char *name, const void *data, size_t len,
                                unsigned mode, const struct write_ctx *w)
{
    unsigned *crash_countdown = w->crash_countdown;
    uint64_t scratch = 0;
    uint64_t *fsyncs = w->stats != NULL ? &w->stats->fsyncs : &scratch;
    uint64_t *dir_fsyncs = w->stats != NULL ? &w->stats->dir_fsyncs : &scratch;
    char tmp[TMP_NAME_CAP];
    int fd = -1;
    otrp_status st = create_temp(dirfd, mode, tmp, &fd);
    if (st != OTRP_OK)
        return st;
    if (crash_here(crash_countdown)) {
        (void)write_fully(fd, data, len / 2);
        close(fd);
        return OTRP_ERR_IO;
    }
    st = write_fully(fd, data, len);
    if (st == OTRP_OK && timed_fsync(fd, fsyncs, w->stats) != 0)
        st = OTRP_ERR_IO;
    if (close(fd) != 0 && st == OTRP_OK)
        st = OTRP_ERR_IO;
    if (st == OTRP_OK && crash_here(crash_countdown))
        return OTRP_ERR_IO;
    if (st == OTRP_OK && timed_rename(dirfd, tmp, name, w->stats) != 0)
        st = OTRP_ERR_IO;
    if (st != OTRP_OK) {
        (void)unlinkat(dirfd, tmp, 0);
        return st;
    }
    if (crash_here(crash_countdown))
        return OTRP_ERR_IO;
    if (!w->sync_dir)
        return OTRP_OK;
    /* The rename is durable only once the directory is. */
    if (timed_fsync(dirfd, dir_fsyncs, w->stats) != 0)
        return OTRP_ERR_IO;
    return crash_here(crash_countdown) ? OTRP_ERR_IO : OTRP_OK;
}

otrp_status otrp__mock_atomic_write(int dirfd, const char *name, const void *data, size_t len,
                                    unsigned mode)
{
    const struct write_ctx w = {NULL, NULL, 1};
    return atomic_write(dirfd, name, data, len, mode, &w);
}

/* The one way the mock TEE reads a file: opened with O_NONBLOCK (a FIFO or device at
 * the name would otherwise block open() until a writer comes), checked to be a regular
 * file before anything is read, and read up to max bytes. extra_flags: O_NOFOLLOW for
 * the TEE's own files, which are never links. */
static otrp_status read_regular(int dirfd, const char *name, int extra_flags, size_t max,
                                otrp_buf *out)
{
    otrp_buf_reset(out);
    int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | extra_flags);
    if (fd < 0) {
        if (errno == ENOENT)
            return OTRP_ERR_NOT_FOUND;
        return errno == ELOOP && (extra_flags & O_NOFOLLOW) ? OTRP_ERR_UNSUPPORTED : OTRP_ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return OTRP_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return OTRP_ERR_UNSUPPORTED;
    }
    if ((uint64_t)sb.st_size > (uint64_t)max) {
        close(fd);
        return OTRP_ERR_TOO_LARGE;
    }
    otrp_status st = otrp_buf_append(out, NULL, 0);
    unsigned char chunk[16384];
    while (st == OTRP_OK) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = OTRP_ERR_IO;
            break;
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > max) {
            st = OTRP_ERR_TOO_LARGE;
            break;
        }
        st = otrp_buf_append(out, chunk, (size_t)n);
    }
    otrp__memzero(chunk, sizeof chunk); /* blobs include private keys */
    close(fd);
    return st;
}

otrp_status otrp__mock_read_file(int dirfd, const char *name, size_t max, otrp_buf *out)
{
    return read_regular(dirfd, name, 0, max, out);
}

otrp_status otrp__mock_store_read_state(otrp__mock_store *store, size_t max, otrp_buf *out)
{
    return read_regular(store->dirfd, STATE_FILE, O_NOFOLLOW, max, out);
}

otrp_status otrp__mock_store_sync_blobs(otrp__mock_store *store)
{
    if (!store->blobs_unsynced)
        return OTRP_OK;
    if (timed_fsync(store->blobfd, &store->stats.dir_fsyncs, &store->stats) != 0)
        return OTRP_ERR_IO;
    if (crash_here(&store->crash_countdown))
        return OTRP_ERR_IO;
    store->blobs_unsynced = 0;
    return OTRP_OK;
}

otrp_status otrp__mock_store_write_state(otrp__mock_store *store, const void *data,
                                         size_t len)
{
    /* Order is what makes this safe on any POSIX file system: every blob rename is
     * durable (its directory synced) before state.json names the blob. */
    otrp_status st = otrp__mock_store_sync_blobs(store);
    if (st != OTRP_OK)
        return st;
    const struct write_ctx w = {&store->crash_countdown, &store->stats, 1};
    return atomic_write(store->dirfd, STATE_FILE, data, len, 0600, &w);
}

int otrp__mock_blob_name_valid(const char *name)
{
    size_t i = 0;
    for (; name[i] != '\0'; i++) {
        char c = name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return i == OTRP__MOCK_BLOB_NAME_LEN;
}

otrp_status otrp__mock_store_put_blob(otrp__mock_store *store, const char *name,
                                      const void *data, size_t len)
{
    if (!otrp__mock_blob_name_valid(name))
        return OTRP_ERR_INVALID_ARG;
    struct stat sb;
    /* Content-addressed: a complete blob of this name holds these bytes already (blobs
     * only ever appear through an atomic rename). */
    if (fstatat(store->blobfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == (uint64_t)len)
        return OTRP_OK;
    /* The directory is synced once for all the blobs of the operation, before the state
     * that names them (otrp__mock_store_write_state); until then a crash loses the blob
     * and no state names it. */
    const struct write_ctx w = {&store->crash_countdown, &store->stats, 0};
    otrp_status st = atomic_write(store->blobfd, name, data, len, 0600, &w);
    if (st == OTRP_OK || st == OTRP_ERR_IO)
        store->blobs_unsynced = 1; /* an interrupted write may have renamed too */
    return st;
}

otrp_status otrp__mock_store_get_blob(otrp__mock_store *store, const char *name, size_t max,
                                      otrp_buf *out)
{
    if (!otrp__mock_blob_name_valid(name))
        return OTRP_ERR_INVALID_ARG;
    return read_regular(store->blobfd, name, O_NOFOLLOW, max, out);
}

otrp_status otrp__mock_store_blob_size(otrp__mock_store *store, const char *name,
                                       uint64_t *size)
{
    struct stat sb;
    if (!otrp__mock_blob_name_valid(name))
        return OTRP_ERR_INVALID_ARG;
    if (fstatat(store->blobfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? OTRP_ERR_NOT_FOUND : OTRP_ERR_IO;
    *size = (uint64_t)sb.st_size;
    return OTRP_OK;
}

static void gc_dir(int dirfd, int blobs, int (*keep)(const char *, void *), void *user)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    rewinddir(d);
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        int stale_tmp = strncmp(n, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
        int garbage_blob = blobs && otrp__mock_blob_name_valid(n) && !keep(n, user);
        if (stale_tmp || garbage_blob) {
            if (unlinkat(dirfd, n, 0) == 0)
                removed = 1;
        }
    }
    closedir(d);
    if (removed)
        (void)fsync(dirfd);
}

void otrp__mock_store_gc(otrp__mock_store *store, int (*keep)(const char *name, void *user),
                         void *user)
{
    gc_dir(store->dirfd, 0, keep, user);
    gc_dir(store->blobfd, 1, keep, user);
}
