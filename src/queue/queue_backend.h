/* The `delivery queue` front: a delivery back end (delivery.h) that makes
 * each SMTP transaction a queue file and answers `250 2.0.0 Ok queued as
 * ID` once that file is durable (written, fsynced, renamed, directory
 * fsynced, on the libuv thread pool). Nothing is accepted that cannot be
 * stored: the queue's limits and a write that fails for lack of space
 * answer `452 4.3.1`.
 *
 * Ownership: the main back end (queue_backend_new) owns the queue and
 * borrows the inner back end (which must outlive it); a worker's
 * (queue_backend_new_worker) borrows the main one's queue. Transactions
 * own their copy of the envelope and the message.
 */
#ifndef SESRELAY_QUEUE_BACKEND_H
#define SESRELAY_QUEUE_BACKEND_H

#include <stddef.h>

#include <uv.h>

#include "config.h"
#include "delivery.h"
#include "queue.h"

int queue_backend_new(const struct config *cfg, uv_loop_t *loop, struct backend *inner,
	struct backend **out, char *err, size_t errlen);
int queue_backend_new_worker(struct backend *main, uv_loop_t *loop, struct backend **out);
/* NULL when be is not a queue back end. */
struct queue *queue_backend_queue(struct backend *be);
/* The inner back end of a main queue back end (NULL for a worker's). */
struct backend *queue_backend_inner(struct backend *be);
void queue_backend_free(struct backend *be);

#endif
