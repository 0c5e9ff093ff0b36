/* SMTP command-line parsing (RFC 5321 §4.1, RFC 1869 parameters, RFC 6531
 * address syntax, RFC 6152 8BITMIME, RFC 3030 BDAT). Pure: no I/O, no clock.
 *
 * A refusal is a struct smtp_reply (smtp_reply.h) pointing at static
 * text, ready to be sent as "<code> <enhanced> <text>". Parsed addresses
 * are copied into fixed-size arrays inside the result structs (no
 * ownership to track).
 */
#ifndef SESRELAY_SMTP_PARSE_H
#define SESRELAY_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_reply.h"

/* RFC 5321 §4.5.3.1 limits. */
#define SMTP_MAX_LOCAL 64
#define SMTP_MAX_DOMAIN 255
#define SMTP_MAX_PATH 256	/* "<" mailbox ">" */

enum smtp_verb {
	SMTP_UNKNOWN, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
	SMTP_BDAT, SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_HELP, SMTP_VRFY,
	SMTP_EXPN, SMTP_STARTTLS, SMTP_AUTH,
	SMTP_NON_SMTP,		/* HTTP verbs and the like: close at once */
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *args;	/* into the line: after the verb and one SP, "" if none */
	size_t argslen;		/* trailing blanks removed */
};

/* Split a command line (without CRLF). Returns 0, or -EINVAL with *err
 * set (NUL or other control bytes in the line). Unknown verbs are not an
 * error here: verb is SMTP_UNKNOWN. */
int smtp_cmd_split(const char *line, size_t len, struct smtp_cmd *cmd,
	const struct smtp_reply **err);
const char *smtp_verb_name(enum smtp_verb v);

enum smtp_body { SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };

struct smtp_mail {
	char addr[SMTP_MAX_PATH];	/* mailbox without <>; "" for <> */
	bool has_size;
	uint64_t size;
	enum smtp_body body;
};

struct smtp_rcpt {
	char addr[SMTP_MAX_PATH];
};

/* args is what follows "MAIL " / "RCPT ": "FROM:<path> params" /
 * "TO:<path> params". Blanks after the colon are tolerated (common in the
 * wild). Returns 0 or -EINVAL with *err. SMTPUTF8 is not offered (SES has
 * none): the address comes out ASCII, its domain as A-labels
 * (smtp_address.h); a non-ASCII local part is refused 553 5.6.7. */
int smtp_parse_mail(const char *args, size_t len, struct smtp_mail *out,
	const struct smtp_reply **err);
int smtp_parse_rcpt(const char *args, size_t len, struct smtp_rcpt *out,
	const struct smtp_reply **err);

/* HELO/EHLO argument: one token of printable ASCII (a domain or an
 * address literal; not strictly checked, real clients send odd names). */
int smtp_parse_helo(const char *args, size_t len, const struct smtp_reply **err);

/* "BDAT <size> [LAST]". */
int smtp_parse_bdat(const char *args, size_t len, uint64_t *size, bool *last,
	const struct smtp_reply **err);

/* "AUTH <mechanism> [initial-response]". mech is upper-cased into mechbuf;
 * *ir points into args (NULL if absent). */
int smtp_parse_auth(const char *args, size_t len, char *mechbuf, size_t mechlen,
	const char **ir, size_t *irlen, const struct smtp_reply **err);

/* Case-insensitive domain part, exact local part: is `addr` matched by a
 * rule "user@domain" or "@domain"? */
bool smtp_sender_matches(const char *addr, const char *rule);

#endif
