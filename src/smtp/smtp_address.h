/* Envelope addresses in the form Amazon SES takes (pure: no I/O, no clock).
 *
 * SES has no SMTPUTF8 (RFC 6531): every address it is given must be 7-bit
 * ASCII, with an internationalized domain written as A-labels (Punycode).
 * A domain given as U-labels is converted here (IDNA2008 with the UTS #46
 * non-transitional mapping, by libidn2), once, when MAIL or RCPT is
 * parsed, so the back end, the allow lists and the logs all see the same
 * ASCII address. A local part cannot be converted: it is refused.
 */
#ifndef SESRELAY_SMTP_ADDRESS_H
#define SESRELAY_SMTP_ADDRESS_H

#include <stddef.h>

/* The two ways an address cannot be made ASCII. */
enum {
	SMTP_ADDRESS_UTF8_LOCAL = -1,	/* non-ASCII local part */
	SMTP_ADDRESS_BAD_DOMAIN = -2,	/* not a valid IDNA2008 name, or too long once converted */
};

/* Convert mailbox `addr` ("local@domain", "" or "Postmaster", already
 * parsed as RFC 5321/6531 syntax) in place to ASCII. `cap` is the size
 * of the array holding it and the longest path allowed, "<" and ">"
 * included (SMTP_MAX_PATH). ASCII domains and address literals are left
 * exactly as they are. Returns 0 or one of the codes above. */
int smtp_address_to_ascii(char *addr, size_t cap);

#endif
