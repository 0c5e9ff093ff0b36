/* Command lines come straight from unauthenticated clients: the splitter
 * and the MAIL/RCPT/EHLO/BDAT/AUTH parsers must never crash, and whatever
 * they accept must respect the RFC 5321 bounds and be ASCII (SES takes
 * nothing else: UTF-8 domains come out as A-labels). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addr(const char *a)
{
	size_t n = strnlen(a, SMTP_MAX_PATH);
	const char *at = strrchr(a, '@');

	if (n + 2 > SMTP_MAX_PATH)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c < 0x20 || c >= 0x7f)
			abort();
	}
	if (n && at == NULL && strcasecmp(a, "postmaster") != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const struct smtp_reply *e = NULL;
	struct smtp_cmd c;
	struct smtp_mail m;
	struct smtp_rcpt r;
	uint64_t bsize;
	bool last;
	char mech[32];
	const char *ir;
	size_t irlen;

	if (smtp_cmd_split(in, size, &c, &e) == 0) {
		if (c.argslen > 0 && (c.args < in || c.args + c.argslen > in + size))
			abort();
	} else if (e == NULL || e->code < 400) {
		abort();
	}
	e = NULL;
	if (smtp_parse_mail(in, size, &m, &e) == 0)
		check_addr(m.addr);
	else if (e == NULL || e->code < 500)
		abort();
	e = NULL;
	if (smtp_parse_rcpt(in, size, &r, &e) == 0) {
		check_addr(r.addr);
		if (r.addr[0] == '\0')
			abort();	/* <> is never a recipient */
	} else if (e == NULL || e->code < 500) {
		abort();
	}
	smtp_parse_helo(in, size, &e);
	smtp_parse_bdat(in, size, &bsize, &last, &e);
	if (smtp_parse_auth(in, size, mech, sizeof(mech), &ir, &irlen, &e) == 0) {
		if (strlen(mech) >= sizeof(mech) || (ir && (ir < in || ir + irlen > in + size)))
			abort();
	}
	if (size > 0 && memchr(in, '\0', size) == NULL) {
		char *s = strndup(in, size);
		if (s) {
			smtp_sender_matches(s, "@example.com");
			smtp_sender_matches(s, s);
			free(s);
		}
	}
	return 0;
}
