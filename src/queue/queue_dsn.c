#include "queue_dsn.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void queue_dsn_status(const char *reason, char *out)
{
	const char *p = reason ? strchr(reason, ' ') : NULL;
	size_t n = 0;

	/* "CODE X.Y.Z ...": the class must be 4 or 5 and the rest digits. */
	if (p && (p[1] == '4' || p[1] == '5') && p[2] == '.') {
		const char *s = p + 1;
		int dots = 0;
		while (n < 11 && (isdigit((unsigned char)s[n]) || s[n] == '.')) {
			dots += s[n] == '.';
			n++;
		}
		if (dots == 2 && s[n - 1] != '.' && (s[n] == ' ' || s[n] == '\0')) {
			memcpy(out, s, n);
			out[n] = '\0';
			/* DSNs report final failures: a temporary reason that ran out of
			 * time becomes permanent (RFC 3463: 4.x.x -> 5.x.x). */
			out[0] = '5';
			return;
		}
	}
	strcpy(out, "5.0.0");
}

/* The original header: everything up to the first empty line. */
static size_t header_len(const char *m, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (m[i] == '\n' && m[i + 1] == '\n')
			return i + 1;
		if (i + 3 < n && memcmp(m + i, "\r\n\r\n", 4) == 0)
			return i + 2;
	}
	return n;
}

/* Printable ASCII only, never a line end: reasons come from the network. */
static int put_clean(struct buf *out, const char *s)
{
	int r = 0;

	for (; s && *s && r == 0; s++)
		r = buf_putc(out, (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?');
	return r;
}

static int put_addr(struct buf *out, const char *a)
{
	return put_clean(out, a);
}

int queue_dsn_build(struct buf *out, const struct queue_dsn *d)
{
	const struct queue_file *qf = d->qf;
	char date[64], arrival[64];
	time_t now = (time_t)d->now, created = (time_t)qf->created;
	struct tm tm;
	size_t hl;
	int r = 0;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	gmtime_r(&created, &tm);
	strftime(arrival, sizeof(arrival), "%a, %d %b %Y %H:%M:%S +0000", &tm);

	r |= buf_puts(out, "From: Mail Delivery System <");
	r |= put_addr(out, d->bounce_from);
	r |= buf_puts(out, ">\r\nTo: <");
	r |= put_addr(out, qf->mail_from);
	r |= buf_printf(out, ">\r\nSubject: Undelivered Mail Returned to Sender\r\n"
		"Date: %s\r\nMessage-ID: <%s.dsn@", date, d->dsn_id);
	r |= put_clean(out, d->reporting_mta);
	r |= buf_printf(out, ">\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/report; report-type=delivery-status;\r\n"
		"\tboundary=\"%s/dsn\"\r\n\r\n"
		"This is a MIME-encapsulated message.\r\n\r\n"
		"--%s/dsn\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
		"Your message (queue id %s) could not be delivered to the recipients\r\n"
		"listed below. The relay ", d->dsn_id, d->dsn_id, qf->id);
	r |= put_clean(out, d->reporting_mta);
	r |= buf_puts(out, " has given up on it.\r\n\r\n");
	for (size_t b = 0; b < qf->nbatch; b++) {
		const char *why = d->batch_error && d->batch_error[b] ? d->batch_error[b] : qf->error;
		if (qf->state[b] != QB_FAILED)
			continue;
		for (size_t i = queue_batch_first(qf, b); i < queue_batch_first(qf, b) +
		     queue_batch_count(qf, b); i++) {
			r |= buf_puts(out, "<");
			r |= put_addr(out, qf->rcpts[i]);
			r |= buf_puts(out, ">: ");
			r |= put_clean(out, why);
			r |= buf_puts(out, "\r\n");
		}
	}
	r |= buf_printf(out, "\r\n--%s/dsn\r\nContent-Type: message/delivery-status\r\n\r\n"
		"Reporting-MTA: dns; ", d->dsn_id);
	r |= put_clean(out, d->reporting_mta);
	r |= buf_printf(out, "\r\nX-Sesrelay-Queue-ID: %s\r\nArrival-Date: %s\r\n", qf->id, arrival);
	for (size_t b = 0; b < qf->nbatch; b++) {
		const char *why = d->batch_error && d->batch_error[b] ? d->batch_error[b] : qf->error;
		char status[12];
		if (qf->state[b] != QB_FAILED)
			continue;
		queue_dsn_status(why, status);
		for (size_t i = queue_batch_first(qf, b); i < queue_batch_first(qf, b) +
		     queue_batch_count(qf, b); i++) {
			r |= buf_puts(out, "\r\nFinal-Recipient: ");
			r |= buf_puts(out, qf->smtputf8 ? "utf-8; " : "rfc822; ");
			r |= put_addr(out, qf->rcpts[i]);
			r |= buf_printf(out, "\r\nAction: failed\r\nStatus: %s\r\n"
				"Diagnostic-Code: smtp; ", status);
			r |= put_clean(out, why && *why ? why : "delivery failed");
			r |= buf_printf(out, "\r\nLast-Attempt-Date: %s\r\n", date);
		}
	}
	hl = header_len(d->body, d->body_len);
	r |= buf_printf(out, "\r\n--%s/dsn\r\nContent-Type: text/rfc822-headers\r\n\r\n", d->dsn_id);
	r |= buf_append(out, d->body, hl);
	if (hl > 0 && d->body[hl - 1] != '\n')
		r |= buf_puts(out, "\r\n");
	r |= buf_printf(out, "\r\n--%s/dsn--\r\n", d->dsn_id);
	return r ? -ENOMEM : 0;
}
