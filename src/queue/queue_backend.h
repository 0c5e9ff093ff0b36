/* The `delivery queue` front: a delivery back end (delivery.h) that makes
 * each SMTP transaction a queue file and answers `250 2.0.0 Ok queued as
 * ID` once that file is durable (written, fsynced, renamed, directory
 * fsynced, on the libuv thread pool). Nothing is accepted that cannot be
 * stored: the queue's limits and a write that fails for lack of space
 * answer `452 4.3.1`.
 *
 * Ownership: the main back end (queue_backend_new) owns the queue and the
 * inner back end; a worker's (ops->new_worker) borrows the main one's
 * queue. ops->ready adds the queue's limits to the inner back end's
 * readiness, ops->metrics the queue's figures to its metrics.
 * Transactions own their copy of the envelope and the message.
 */
#ifndef SESRELAY_QUEUE_BACKEND_H
#define SESRELAY_QUEUE_BACKEND_H

#include <stddef.h>

#include <uv.h>

#include "config.h"
#include "delivery.h"
#include "queue.h"

/* The main back end: opens the queue (queue_new), which builds the back
 * end it sends through with inner_new. Workers' come from ops->new_worker. */
int queue_backend_new(const struct config *cfg, uv_loop_t *loop, queue_inner_new_fn inner_new,
	struct backend **out, char *err, size_t errlen);

#endif
