/* One SMTP submission over a blocking socket: EHLO, STARTTLS (verified),
 * AUTH PLAIN, MAIL, RCPT..., DATA, QUIT. Used by `sesrelay sendmail`, a
 * one-shot command, so plain blocking I/O with socket timeouts is enough.
 *
 * Every reply but the last QUIT's is checked; the first one that is not
 * what the step needs ends the submission and is returned in *rep.
 * Ownership: everything in struct submission is borrowed; struct
 * submit_reply is filled in place (no heap).
 */
#ifndef SESRELAY_SMTP_SUBMIT_H
#define SESRELAY_SMTP_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"
#include "config.h"

struct submission {
	struct sockaddr_storage addr;	/* the relay */
	const char *helo;		/* EHLO name */
	/* STARTTLS is used, and required, when tls is set: the server's
	 * certificate must verify against tls_ca (a PEM file; NULL: the
	 * system store). With tls_pinned, tls_ca is the relay's own
	 * certificate and the host name is not checked; otherwise it must
	 * match tls_host (a name or an IP literal). */
	bool tls;
	const char *tls_ca;
	bool tls_pinned;
	const char *tls_host;
	const char *auth_user;		/* AUTH PLAIN when set */
	const char *auth_password;
	unsigned timeout;		/* seconds per read or write */
	const char *env_from;
	const struct strlist *rcpts;
	const struct buf *data;		/* CRLF lines, not dot-stuffed */
};

struct submit_reply {
	const char *step;		/* "connect", "greeting", "EHLO", "STARTTLS", ... */
	int code;			/* the reply's code; 0 when none was read */
	char text[2048];		/* reply lines (joined by "\n") or the local error */
};

/* 0 when the message was accepted (rep holds the 250 reply). Otherwise:
 * -EPROTO with rep->code set (the server refused a step), -EBADMSG (a
 * malformed reply), -ETIMEDOUT, -ECONNREFUSED and other socket errors,
 * -EACCES (TLS not offered or the certificate did not verify), -ENOMEM;
 * rep->text says what happened. */
int smtp_submit(const struct submission *s, struct submit_reply *rep);

#endif
