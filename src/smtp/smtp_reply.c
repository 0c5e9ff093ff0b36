#include "smtp_reply.h"

#include <errno.h>
#include <string.h>

/* "class.subject.detail": class one digit, subject and detail 1-3 digits. */
static bool enhanced_valid(const char *e)
{
	const char *p = e + 1;

	if (e[0] < '2' || e[0] > '5' || e[0] == '3')
		return false;
	for (int part = 0; part < 2; part++) {
		int n = 0;
		if (*p++ != '.')
			return false;
		while (*p >= '0' && *p <= '9') {
			p++;
			n++;
		}
		if (n < 1 || n > 3)
			return false;
	}
	return *p == '\0';
}

bool smtp_reply_enhanced_applies(int code, const char *enhanced, bool exempt)
{
	int cls = code / 100;

	if (enhanced == NULL || enhanced[0] == '\0' || cls == 3)
		return false;
	if (exempt && cls == 2)
		return false;
	return enhanced_valid(enhanced) && enhanced[0] == '0' + cls;
}

int smtp_reply_format(struct buf *out, int code, const char *enhanced, bool exempt,
	const char *text)
{
	bool with = smtp_reply_enhanced_applies(code, enhanced, exempt);
	const char *p = text ? text : "";
	int r = 0;

	if (code < 200 || code > 599)
		return -EINVAL;
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char head[24];

		head[0] = (char)('0' + code / 100);
		head[1] = (char)('0' + code / 10 % 10);
		head[2] = (char)('0' + code % 10);
		head[3] = nl ? '-' : ' ';
		head[4] = '\0';
		r |= buf_puts(out, head);
		if (with) {
			r |= buf_puts(out, enhanced);
			r |= buf_puts(out, " ");
		}
		for (const char *q = p; n > 0; ) {
			const char *cr = memchr(q, '\r', n);
			size_t k = cr ? (size_t)(cr - q) : n;
			r |= buf_append(out, q, k);
			k += cr != NULL;
			q += k;
			n -= k;
		}
		r |= buf_puts(out, "\r\n");
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return r ? -ENOMEM : 0;
}
