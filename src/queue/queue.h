/* The message queue of `delivery queue`: one per process, shared by every
 * worker, with one scheduler on the main loop that delivers the queued
 * messages through an inner back end (the SES back end: signing, the
 * error table and the rate governor stay in one place).
 *
 * Workers (any thread) admit and add messages: queue_admit() applies the
 * limits (queue_max_messages, queue_max_bytes, queue_min_free) before a
 * message is taken, queue_add() indexes a message whose file is durable
 * and wakes the scheduler. The scheduler (main loop only) sends each due
 * message in batches of at most QUEUE_MAX_BATCH recipients, records each
 * batch's outcome in the file before going on, retries temporary failures
 * with exponential backoff and jitter up to queue_retry_max until
 * queue_lifetime has passed, and turns permanent failures and expiry into
 * a delivery status notification (queue_dsn.h) queued like any message.
 *
 * Ownership: struct queue owns its index and its uv handles; the inner
 * back end it built is the caller's and must outlive it. queue_shutdown() stops taking new work, lets the
 * deliveries in flight finish (their state is written), then closes the
 * handles and shuts the inner back end down; queue_free() after the loop
 * has run releases the rest. The index is guarded by one mutex.
 */
#ifndef SESRELAY_QUEUE_H
#define SESRELAY_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "config.h"
#include "delivery.h"

struct queue;

/* How the queue builds the back end it sends through. */
typedef int (*queue_inner_new_fn)(const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen);

/* Open cfg->queue_dir (taking its lock), index what is there (unreadable
 * files go to quarantine/), open the control socket, then build the inner
 * back end with inner_new (*inner_out, owned by the caller, which frees it
 * after the queue) and start the scheduler on loop. Nothing of cfg is
 * kept. */
int queue_new(const struct config *cfg, uv_loop_t *loop, queue_inner_new_fn inner_new,
	struct queue **out, struct backend **inner_out, char *err, size_t errlen);
void queue_shutdown(struct queue *q);
void queue_free(struct queue *q);

/* Any thread. Reserve room for one message of at least `size` octets (0:
 * not known yet). 0, or -ENOSPC with *res = 452 4.3.1 naming the limit. */
int queue_admit(struct queue *q, uint64_t size, struct delivery_result *res);
/* Give back what queue_admit() reserved. */
void queue_unadmit(struct queue *q, uint64_t size);
/* Turn a reservation (of `reserved` octets) into a message whose file is durable. */
void queue_add(struct queue *q, uint64_t reserved, const char *id, uint64_t file_size,
	const char *mail_from, size_t nrcpt, int64_t created);
const char *queue_dir(const struct queue *q);

/* Why new mail is refused now ("" when it is not), for /readyz. */
bool queue_is_full(struct queue *q, char *why, size_t n);

/* For /metrics: depth, octets, age of the oldest message. */
struct queue_stats {
	uint64_t messages, bytes, held;
	double oldest_seconds;
};
void queue_stats(struct queue *q, struct queue_stats *st);

/* Operator commands (main loop): `queue list|show|flush|delete|hold|release`.
 * list/show append JSON to out. 0, or -ENOENT for an unknown id. */
int queue_cmd_list(struct queue *q, struct buf *out);
int queue_cmd_show(struct queue *q, const char *id, struct buf *out);
int queue_cmd_flush(struct queue *q, const char *id);	/* NULL: every message */
int queue_cmd_delete(struct queue *q, const char *id);
int queue_cmd_hold(struct queue *q, const char *id, bool hold);

#endif
