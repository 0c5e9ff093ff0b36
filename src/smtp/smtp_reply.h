/* SMTP reply formatting (RFC 5321 §4.2) with the ENHANCEDSTATUSCODES rule
 * (RFC 2034 §3, RFC 3463). Pure: no I/O.
 *
 * The rule: an enhanced status code goes on every line of a 2xx, 4xx or
 * 5xx reply, never on a 3xx (354, 334) and never on the 2xx greeting or
 * the 2xx answer to HELO/EHLO ("exempt"). A code whose class is not the
 * reply's first digit, or that is not "class.subject.detail", is left
 * out rather than sent wrong.
 */
#ifndef SESRELAY_SMTP_REPLY_H
#define SESRELAY_SMTP_REPLY_H

#include <stdbool.h>

#include "buf.h"

/* A reply as data: code, enhanced code (NULL: none) and text, borrowed
 * (static refusals of the parser, the decoder and the command table, or a
 * caller's buffer for the one that states the size limit). */
struct smtp_reply {
	int code;
	const char *enhanced;
	const char *text;
};

/* Does a reply with `code` carry `enhanced` (NULL: none)? */
bool smtp_reply_enhanced_applies(int code, const char *enhanced, bool exempt);

/* Append the reply to `out`: each '\n'-separated line of `text` becomes
 * "<code>-[<enhanced> ]line\r\n", the last one "<code> [<enhanced> ]line\r\n";
 * CR in the text is dropped. Returns 0, -EINVAL for a code outside
 * 200..599, or -ENOMEM. */
int smtp_reply_format(struct buf *out, int code, const char *enhanced, bool exempt,
	const char *text);

#endif
