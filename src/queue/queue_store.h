/* The queue directory on disk: blocking file operations, each durable
 * before it returns, run on the libuv thread pool (or at start-up).
 *
 *	<queue_dir>/<id>		queued messages (queue_file.h)
 *	<queue_dir>/tmp/		files being written; cleared at start
 *	<queue_dir>/quarantine/		files that could not be read
 *
 * A message exists only once its file was written to tmp/, fsynced,
 * renamed into place and the directory fsynced: only then may the relay
 * answer 250. State changes rewrite the header's mutable region in place
 * and fdatasync it. Nothing here keeps state; every function takes the
 * directory.
 */
#ifndef SESRELAY_QUEUE_STORE_H
#define SESRELAY_QUEUE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Create the directories, take the directory's lock (<dir>/.lock, an
 * flock held through *lock_fd until the process exits: two relays
 * delivering one queue would send everything twice) and clear tmp/.
 * 0, -EWOULDBLOCK when another process holds the lock, or -errno. */
int queue_store_open(const char *dir, int *lock_fd);
/* tmp write + fsync + rename + directory fsync. 0 or -errno (the
 * temporary file removed). */
int queue_store_write(const char *dir, const char *id, const void *head, size_t head_len,
	const void *body, size_t body_len);
/* The whole file into out (reset first), at most max octets. */
int queue_store_read(const char *dir, const char *id, struct buf *out, size_t max);
/* The first octets of a file (at least want, if it has them). */
int queue_store_read_head(const char *dir, const char *id, struct buf *out, size_t want);
/* pwrite(off) + fdatasync. */
int queue_store_update(const char *dir, const char *id, size_t off, const void *p, size_t n);
/* unlink + directory fsync; a missing file is not an error. */
int queue_store_remove(const char *dir, const char *id);
/* Move into quarantine/ (both directories fsynced). */
int queue_store_quarantine(const char *dir, const char *name);
/* Octets a non-root writer may still use on the file system. */
int queue_store_free_bytes(const char *dir, uint64_t *out);
/* Every regular file name directly in dir (no tmp/quarantine), calling
 * cb for each; a non-zero return from cb stops and is returned. */
int queue_store_scan(const char *dir, int (*cb)(void *arg, const char *name), void *arg);

#endif
