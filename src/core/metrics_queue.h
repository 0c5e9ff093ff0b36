/* Counters of the queue (delivery queue) and the send-rate governor, in
 * the same Prometheus exposition as metrics.h. Recording is one relaxed
 * atomic add, from any thread.
 *
 * Ownership: static storage only.
 */
#ifndef SESRELAY_METRICS_QUEUE_H
#define SESRELAY_METRICS_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

struct buf;

enum mq_counter {
	MQ_QUEUED,		/* messages accepted into the queue */
	MQ_REFUSED,		/* messages refused with 452 4.3.1 (limits, disk) */
	MQ_DELIVERED,		/* messages whose every batch SES accepted */
	MQ_BATCHES_SENT,	/* SES calls accepted */
	MQ_DEFERRALS,		/* delivery rounds that left batches to retry */
	MQ_FAILED,		/* messages with a permanently failed batch or expired */
	MQ_EXPIRED,		/* of those, ended by queue_lifetime */
	MQ_BOUNCES,		/* DSNs queued */
	MQ_BOUNCES_SUPPRESSED,	/* DSNs not sent: null sender, or bounces off */
	MQ_QUARANTINED,		/* unreadable queue files moved aside */
	MQ_DELETED,		/* removed by the operator */
	MQ_NCOUNTERS
};

void metrics_queue_count(enum mq_counter c);

/* Read at scrape time from the queue and the governor. */
struct metrics_queue_scrape {
	bool have_queue;
	uint64_t messages, bytes, held;
	double oldest_seconds;
	bool full;
	bool have_governor;
	double rate;			/* recipients per second allowed now */
	double tokens;
	uint64_t throttles;		/* Throttling answers seen */
	bool paused;			/* daily quota reached */
};

int metrics_queue_render(struct buf *out, const struct metrics_queue_scrape *x);

#endif
