/* Durable file system steps shared by the back ends that store mail
 * (outbox, queue): a rename or an unlink survives a crash only once the
 * directory holding it has been fsynced. Blocking: call from the thread
 * pool or at start-up. */
#ifndef SESRELAY_DURABLE_H
#define SESRELAY_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

/* fsync(2) the directory itself. 0 or -errno. */
int durable_fsync_dir(const char *dir);

/* Group commit of one directory: threads that changed its entries at
 * about the same time share one fsync. A caller returns only after an
 * fsync that started after its own change completed, so each change is as
 * durable as with its own durable_fsync_dir(): while one fsync runs, the
 * changes made meanwhile wait and are covered by the next one, which one
 * of them runs for all. A failed fsync is returned to the thread that ran
 * it; the others it would have covered run their own.
 *
 * Ownership: struct durable_group owns a copy of the path and its mutex
 * and condition; durable_group_free() releases them (no thread may be in
 * durable_group_sync() then). */
struct durable_group {
	char *dir;
	uv_mutex_t lock;
	uv_cond_t done;
	uint64_t changed;	/* changes announced so far */
	uint64_t synced;	/* every change up to this one is durable */
	bool running;		/* an fsync is in progress */
	uint64_t rounds;	/* fsyncs that succeeded */
};

int durable_group_init(struct durable_group *g, const char *dir);
void durable_group_free(struct durable_group *g);
/* Call after the rename/unlink/link in g's directory has returned. 0 once
 * an fsync of the directory that began after it succeeded, or -errno. */
int durable_group_sync(struct durable_group *g);

#endif
