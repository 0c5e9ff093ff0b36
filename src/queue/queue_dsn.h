/* Delivery status notifications (RFC 3464 multipart/report) for queued
 * messages that failed permanently or expired. Pure: the caller gives the
 * time, the ids and the reasons.
 *
 * The DSN goes from `bounce_from` (an address verified in the shared
 * account, so SES sends it) to the failed message's envelope sender, with
 * the null reverse path: it is queued with MAIL FROM <>, so a DSN that
 * fails itself never causes another. Its parts: a human-readable
 * explanation, message/delivery-status with one block per failed
 * recipient, and the original header (text/rfc822-headers), never the
 * original body.
 */
#ifndef SESRELAY_QUEUE_DSN_H
#define SESRELAY_QUEUE_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "queue_file.h"

struct queue_dsn {
	const struct queue_file *qf;	/* the failed message; batches in state F failed */
	const char *body;		/* its message (header and body) */
	size_t body_len;
	const char *const *batch_error;	/* qf->nbatch reasons ("550 5.7.1 ..."), NULL entries: qf->error */
	const char *bounce_from;
	const char *reporting_mta;	/* host name */
	int64_t now;
	const char *dsn_id;		/* for Message-ID and the boundary */
};

/* Append the whole DSN message (CRLF line ends) to out. 0 or -ENOMEM. */
int queue_dsn_build(struct buf *out, const struct queue_dsn *d);

/* "5.7.1" from a reason like "550 5.7.1 text"; "5.0.0" when there is none.
 * out must hold 12 bytes. */
void queue_dsn_status(const char *reason, char *out);

#endif
