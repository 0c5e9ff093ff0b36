/* The message a sendmail caller (PHP's mail(), git send-email, cron) pipes
 * in, made ready for SMTP DATA. Pure: no I/O, no clock; the caller passes
 * the Date value and the fallback sender.
 *
 * What happens to the input, in order:
 *   - a leading mbox "From " line is dropped;
 *   - without `dot_is_data` (sendmail -i/-oi) a line holding only "."
 *     ends the message;
 *   - every line ends in CRLF (a lone LF becomes CRLF; a lone CR stays
 *     and the relay judges it), and the last line gets one if missing;
 *   - Bcc: and Resent-Bcc: fields are removed, with or without -t;
 *   - with `extract` (-t), addresses of To:, Cc: and Bcc: are added to the
 *     recipients;
 *   - a missing From: is added as `From: [full_name ]<sender>` and a
 *     missing Date: as `Date: <date>`, in front of the caller's fields, so
 *     the caller's bytes follow unchanged.
 * The envelope sender is `env_from` (-f) when given, else the first
 * address of From:, else `fallback_from` (login@host).
 *
 * Ownership: struct sendmail_msg owns data, rcpts and every string in
 * them; sendmail_msg_free() releases them. Options are borrowed.
 */
#ifndef SESRELAY_SENDMAIL_MSG_H
#define SESRELAY_SENDMAIL_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

struct sendmail_opts {
	bool dot_is_data;		/* -i / -oi */
	bool extract;			/* -t */
	const char *env_from;		/* -f ADDR, or NULL */
	const char *full_name;		/* -F NAME, or NULL */
	const char *fallback_from;	/* login@host */
	const char *date;		/* RFC 5322 date-time for a missing Date: */
};

struct sendmail_msg {
	struct buf data;		/* the message as DATA sends it (not dot-stuffed) */
	struct strlist rcpts;		/* recipients from -t, in header order */
	char *env_from;			/* envelope sender */
};

/* 0, -EINVAL (message in err: a header field that cannot be parsed) or
 * -ENOMEM. On error *m holds nothing to free. */
int sendmail_msg_build(const char *in, size_t len, const struct sendmail_opts *o,
	struct sendmail_msg *m, char *err, size_t errlen);
void sendmail_msg_free(struct sendmail_msg *m);

/* Addresses (addr-spec, without display names, comments, angle brackets
 * or group names) of an RFC 5322 address-list header value, which may be
 * folded, appended to *out. 0, -EINVAL (unbalanced quote, comment or
 * angle bracket), -ENOMEM. */
int sendmail_addr_list(const char *v, size_t len, struct strlist *out);

/* Append a copy of s[0..n) to a list. 0 or -ENOMEM. */
int sendmail_strlist_add(struct strlist *l, const char *s, size_t n);

#endif
