/* Process-wide counters, gauges and one histogram, exposed in the
 * Prometheus text format (0.0.4) by admin_http.
 *
 * Recording is one relaxed atomic add: no lock, no allocation, callable
 * from any thread. The only exception is the first sight of an AWS error
 * code, which takes a small mutex to claim a slot in a fixed table
 * (METRICS_MAX_ERROR_CODES); codes seen after the table is full count as
 * "other", so a misbehaving endpoint cannot grow the label set.
 *
 * Values that already live elsewhere (credentials state) are not copied
 * here: the caller reads them at scrape time and passes them to
 * metrics_render().
 *
 * Ownership: everything is static storage; nothing to free.
 */
#ifndef SESRELAY_METRICS_H
#define SESRELAY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics_queue.h"

struct buf;

#define METRICS_MAX_ERROR_CODES 64

/* Connections (smtp_session.c): opened/closed pair up; refused ones were
 * opened too. `reason` is the smtp.reject reason as logged
 * ("max_connections", "max_connections_per_ip", "network",
 * "shutting_down"); anything else is ignored. */
void metrics_connection_opened(void);
void metrics_connection_closed(void);
void metrics_connection_refused(const char *reason);

/* One finished mail transaction (the reply to the end of data). A 2xx
 * also counts a message sent with its size and recipients. */
void metrics_smtp_txn(int code, uint64_t size, size_t nrcpt);

/* One SES HTTP request (each attempt), and one failed send by the AWS
 * (or relay-side) error code it ended with. */
void metrics_ses_request(double seconds);
void metrics_ses_error(const char *code);
/* One failed shared-account credential refresh (STS, base credentials or
 * the account rule), by its code: sesrelay_sts_errors_total. */
void metrics_sts_error(const char *code);

/* One configuration reload (SIGHUP): applied (also sets the timestamp of
 * the last success), or refused and the running configuration kept. */
void metrics_reload(bool ok);
/* One rebuild of the shared-account identity on reload: proven and
 * switched to, or failed. */
void metrics_identity_reload(bool ok);

/* One request of the API front, answered: api ("ses", "sesv2",
 * "pinpoint"), action ("SendEmail", ..., "unknown") and outcome ("sent",
 * "refused", "failed", "unknown") must be string literals (kept by
 * pointer); series past METRICS_MAX_API_SERIES count as "other". seconds:
 * from the request head to the answer. */
#define METRICS_MAX_API_SERIES 96
void metrics_api_request(const char *api, const char *action, const char *outcome,
	double seconds);

/* State read at scrape time. */
struct metrics_scrape {
	bool have_creds;		/* backend ses: the creds_* series exist */
	bool creds_ready;
	double creds_seconds_left;	/* until the held set expires; 0 if none */
	unsigned long sts_refresh_ok;
	unsigned long sts_refresh_failed;
	struct metrics_queue_scrape queue;	/* queue and governor (metrics_queue.h) */
	char identity_account[16];	/* proven account of the held set; "": none */
	char identity_role_arn[256];
};

/* Append the whole exposition to out. 0 or -ENOMEM. */
int metrics_render(struct buf *out, const struct metrics_scrape *x);

/* Map an error code to its label value: [A-Za-z0-9_.-] kept, anything
 * else '_', at most 63 bytes, "" -> "unknown". Pure; for tests. */
void metrics_sanitize_code(const char *in, char *out, size_t outlen);

/* Zero every counter (unit tests only: not safe while others record). */
void metrics_reset(void);

#endif
