#include "metrics_queue.h"

#include <errno.h>
#include <stdatomic.h>

#include "buf.h"

static atomic_ulong counters[MQ_NCOUNTERS];

void metrics_queue_count(enum mq_counter c)
{
	if (c < MQ_NCOUNTERS)
		atomic_fetch_add_explicit(&counters[c], 1, memory_order_relaxed);
}

static unsigned long get(enum mq_counter c)
{
	return atomic_load_explicit(&counters[c], memory_order_relaxed);
}

static int counter(struct buf *out, const char *name, const char *help, enum mq_counter c)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %lu\n", name, help, name,
		name, get(c));
}

static int gauge(struct buf *out, const char *name, const char *help, double v)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name,
		name, v);
}

int metrics_queue_render(struct buf *out, const struct metrics_queue_scrape *x)
{
	int r = 0;

	if (x->have_queue) {
		r |= gauge(out, "sesrelay_queue_messages", "Messages in the queue.", (double)x->messages);
		r |= gauge(out, "sesrelay_queue_bytes", "Octets of queued message files.", (double)x->bytes);
		r |= gauge(out, "sesrelay_queue_held_messages", "Queued messages on hold.", (double)x->held);
		r |= gauge(out, "sesrelay_queue_oldest_seconds", "Age of the oldest queued message.",
			x->oldest_seconds);
		r |= gauge(out, "sesrelay_queue_full", "1 while new mail is refused (452 4.3.1).",
			x->full ? 1 : 0);
		r |= counter(out, "sesrelay_queue_accepted_total", "Messages accepted into the queue.", MQ_QUEUED);
		r |= counter(out, "sesrelay_queue_refused_total", "Messages refused with 452 4.3.1.", MQ_REFUSED);
		r |= counter(out, "sesrelay_queue_delivered_total", "Queued messages SES accepted for every recipient.", MQ_DELIVERED);
		r |= counter(out, "sesrelay_queue_batches_sent_total", "SES calls of queued messages accepted.", MQ_BATCHES_SENT);
		r |= counter(out, "sesrelay_queue_deferrals_total", "Delivery rounds that left batches to retry.", MQ_DEFERRALS);
		r |= counter(out, "sesrelay_queue_failed_total", "Messages failed permanently or expired.", MQ_FAILED);
		r |= counter(out, "sesrelay_queue_expired_total", "Messages ended by queue_lifetime.", MQ_EXPIRED);
		r |= counter(out, "sesrelay_queue_bounces_total", "Delivery status notifications queued.", MQ_BOUNCES);
		r |= counter(out, "sesrelay_queue_bounces_suppressed_total", "Failures without a DSN (null sender, bounces off).", MQ_BOUNCES_SUPPRESSED);
		r |= counter(out, "sesrelay_queue_quarantined_total", "Unreadable queue files moved to quarantine.", MQ_QUARANTINED);
		r |= counter(out, "sesrelay_queue_deleted_total", "Messages deleted by the operator.", MQ_DELETED);
	}
	if (x->have_governor) {
		r |= gauge(out, "sesrelay_send_rate", "Recipients per second the governor allows now.", x->rate);
		r |= gauge(out, "sesrelay_send_tokens", "Recipients that may be sent at once now.", x->tokens);
		r |= gauge(out, "sesrelay_send_paused", "1 while the daily quota pauses sending.", x->paused ? 1 : 0);
		r |= buf_printf(out, "# HELP sesrelay_send_throttles_total Throttling answers from SES.\n"
			"# TYPE sesrelay_send_throttles_total counter\nsesrelay_send_throttles_total %llu\n",
			(unsigned long long)x->throttles);
	}
	return r ? -ENOMEM : 0;
}
