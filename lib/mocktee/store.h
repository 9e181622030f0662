/*
 * Crash-safe storage of the mock TEE under TEEDIR/state/.
 *
 * Layout: state.json (the one state document), blobs/<64 hex> (content-addressed
 * files: TA binaries and personalization data too large to keep in state.json, SP AIK
 * private keys), lock (flock'ed while a TEE instance has the directory open). One
 * operation is one commit: the blobs it needs are written first (each to a temporary
 * file, fsync, rename), the blob directory is synced once for all of them, then
 * state.json is replaced atomically (temporary file, fsync, rename, directory fsync). A
 * crash at any instant therefore leaves the old or the new state.json, every blob the
 * state names is durable before the state naming it is written, and blobs no state
 * references are garbage, removed by otrp__mock_store_gc().
 */
#ifndef OTRP_MOCKTEE_STORE_H
#define OTRP_MOCKTEE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "otrp/status.h"
#include "otrp/tee.h"

/* Blob names are the lowercase hex SHA-256 of their contents. */
#define OTRP__MOCK_BLOB_NAME_LEN 64

/* What the durability calls of a store cost (bench/tee reads it). */
typedef struct otrp__mock_sync_stats {
    uint64_t fsyncs;     /* fsync of a file */
    uint64_t dir_fsyncs; /* fsync of a directory */
    uint64_t renames;
    uint64_t ns;         /* time spent in all of them */
} otrp__mock_sync_stats;

typedef struct otrp__mock_store {
    int dirfd;      /* TEEDIR/state */
    int blobfd;     /* TEEDIR/state/blobs */
    int lockfd;     /* TEEDIR/state/lock, flock'ed exclusively */
    /* Blobs were renamed into blobs/ since the directory was last synced. */
    int blobs_unsynced;
    /* Test hook: when non-zero, the store behaves as if the process died at that many
     * steps of writes from now (see store.c: 3 per blob, 1 for the blob directory, 4 for
     * the state). */
    unsigned crash_countdown;
    otrp__mock_sync_stats stats;
} otrp__mock_store;

/*
 * Open (creating state/ and state/blobs/ when missing) and lock the state directory.
 * TEEDIR, state/ and state/blobs/ must be private (otrp__mock_private_dir).
 * OTRP_ERR_LOCKED: another TEE instance (this or another process) has it open;
 * OTRP_ERR_CONFIG: one of the directories is group- or world-writable or owned by
 * another user; OTRP_ERR_IO: cannot create or open it (detail names the path and the
 * reason).
 */
otrp_status otrp__mock_store_open(otrp__mock_store *store, const char *teedir, char *detail,
                                  size_t detail_cap);
void otrp__mock_store_close(otrp__mock_store *store);

/* Read state.json into out (reset first), as otrp__mock_read_file does, but never
 * through a symbolic link. OTRP_ERR_NOT_FOUND: no state yet (a fresh TEE);
 * OTRP_ERR_TOO_LARGE beyond max bytes; OTRP_ERR_UNSUPPORTED: not a regular file (a
 * FIFO, device, directory or symbolic link); OTRP_ERR_IO. */
otrp_status otrp__mock_store_read_state(otrp__mock_store *store, size_t max, otrp_buf *out);

/* Replace state.json atomically with data, after making the blobs written before it
 * durable (otrp__mock_store_sync_blobs). OTRP_ERR_IO. */
otrp_status otrp__mock_store_write_state(otrp__mock_store *store, const void *data,
                                         size_t len);

/* Write a blob named by the hex SHA-256 name (the caller computed it) unless it
 * exists already: temporary file, fsync, rename. The blob directory is synced later,
 * once for all the blobs of an operation (otrp__mock_store_sync_blobs, which the state
 * write calls). OTRP_ERR_IO. */
otrp_status otrp__mock_store_put_blob(otrp__mock_store *store, const char *name,
                                      const void *data, size_t len);

/* Make the blobs renamed since the last call durable (one directory fsync; nothing when
 * none was). OTRP_ERR_IO. */
otrp_status otrp__mock_store_sync_blobs(otrp__mock_store *store);

/* Read a blob into out (reset first; never through a symbolic link).
 * OTRP_ERR_NOT_FOUND; OTRP_ERR_TOO_LARGE; OTRP_ERR_UNSUPPORTED: not a regular file;
 * OTRP_ERR_IO. */
otrp_status otrp__mock_store_get_blob(otrp__mock_store *store, const char *name, size_t max,
                                      otrp_buf *out);

/* Size of a blob, or OTRP_ERR_NOT_FOUND. */
otrp_status otrp__mock_store_blob_size(otrp__mock_store *store, const char *name,
                                       uint64_t *size);

/*
 * Remove every blob for which keep(name, user) is 0, and stale temporary files of
 * interrupted writes. Errors are ignored (garbage stays until the next collection).
 */
void otrp__mock_store_gc(otrp__mock_store *store, int (*keep)(const char *name, void *user),
                         void *user);

/*
 * Open the directory path (relative to at, or absolute) into *fd_out, first creating it
 * with mode 0700 when create is set and it is missing. A directory that is group- or
 * world-writable, or owned by a user other than this one or root, is refused (*fd_out
 * stays -1): another local user could replace what the TEE reads or redirect what it
 * writes. OTRP_ERR_CONFIG (detail names the path and its mode or owner); OTRP_ERR_IO.
 */
otrp_status otrp__mock_private_dir(int at, const char *path, int create, int *fd_out,
                                   char *detail, size_t cap);

/* 1 when name is 64 lowercase hex digits. */
int otrp__mock_blob_name_valid(const char *name);

/* Write data to dirfd/name atomically (temporary file, fsync, rename, directory fsync)
 * with the given mode. Used for state and blobs, and by provisioning. The temporary
 * file has a random name (".tmp-" and 128 random bits in hex) and is created with O_EXCL
 * and O_NOFOLLOW: nothing planted at a name it may use is ever written through.
 * OTRP_ERR_IO; OTRP_ERR_RANDOM when no random name can be drawn. */
otrp_status otrp__mock_atomic_write(int dirfd, const char *name, const void *data, size_t len,
                                    unsigned mode);

/* Read a whole file (relative to dirfd, or absolute) into out, at most max bytes: the
 * one way the mock TEE reads tee.json, keys, certificates and trust anchors. It is
 * opened without blocking (a FIFO at the name returns at once) and must be a regular
 * file (symbolic links to one are followed: these are the user's files).
 * OTRP_ERR_NOT_FOUND, OTRP_ERR_TOO_LARGE, OTRP_ERR_UNSUPPORTED (not a regular file),
 * OTRP_ERR_IO. */
otrp_status otrp__mock_read_file(int dirfd, const char *name, size_t max, otrp_buf *out);

#endif
