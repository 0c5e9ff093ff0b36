/* The request head parser of the admin endpoint (RFC 9112, strictly: CRLF
 * line ends only, single spaces in the request line, no obs-fold, no
 * bodies). Pure: everything it needs is in the arguments. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "admin_http.h"

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		(c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* field-value octets: VCHAR, SP, HTAB, obs-text */
static bool is_vchar_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static const char *find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

/* A line may be incomplete; its bytes so far must still be valid ones:
 * no NUL, no bare LF, and a CR only as the last byte seen. */
static bool partial_line_ok(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (*p == '\n' || *p == '\0')
			return false;
		if (*p == '\r' && p + 1 < end)
			return false;
	}
	return true;
}

static int parse_request_line(const char *p, const char *end, struct admin_request *req)
{
	const char *sp1, *sp2, *v;
	size_t mlen, tlen, plen;

	for (sp1 = p; sp1 < end && is_tchar((unsigned char)*sp1); sp1++)
		;
	mlen = (size_t)(sp1 - p);
	if (mlen == 0 || mlen > 32 || sp1 == end || *sp1 != ' ')
		return -400;
	if (mlen == 3 && memcmp(p, "GET", 3) == 0)
		req->method = ADMIN_GET;
	else if (mlen == 4 && memcmp(p, "HEAD", 4) == 0)
		req->method = ADMIN_HEAD;
	else
		req->method = ADMIN_OTHER;
	/* origin-form only: the endpoint is not a proxy */
	if (sp1 + 1 >= end || sp1[1] != '/')
		return -400;
	for (sp2 = sp1 + 1; sp2 < end && *sp2 != ' '; sp2++)
		if ((unsigned char)*sp2 < 0x21 || (unsigned char)*sp2 > 0x7e || *sp2 == '#')
			return -400;
	tlen = (size_t)(sp2 - sp1 - 1);
	if (tlen > ADMIN_HTTP_MAX_TARGET)
		return -414;
	if (sp2 == end)
		return -400;
	v = sp2 + 1;
	if (end - v != 8 || memcmp(v, "HTTP/", 5) != 0)
		return -400;
	if (v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
		return -400;
	if (v[5] != '1')
		return -505;
	{
		const char *q = memchr(sp1 + 1, '?', tlen);
		plen = q ? (size_t)(q - sp1 - 1) : tlen;
	}
	memcpy(req->path, sp1 + 1, plen);
	req->path[plen] = '\0';
	return v[7] == '0' ? 10 : 11;
}

struct head_state {
	unsigned hosts;
	bool have_length;
	unsigned long long length;
};

static bool name_is(const char *p, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(p, want, n) == 0;
}

static int parse_field(const char *p, const char *end, struct head_state *st)
{
	const char *colon = p, *v, *ve;

	while (colon < end && is_tchar((unsigned char)*colon))
		colon++;
	/* no name, whitespace before the colon (RFC 9112 §5.1), or obs-fold */
	if (colon == p || colon == end || *colon != ':')
		return -400;
	for (v = colon + 1; v < end; v++)
		if (!is_vchar_ws((unsigned char)*v))
			return -400;
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	ve = end;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	if (name_is(p, (size_t)(colon - p), "host")) {
		st->hosts++;
	} else if (name_is(p, (size_t)(colon - p), "content-length")) {
		unsigned long long n = 0;
		if (v == ve || ve - v > 18)
			return v == ve ? -400 : -413;
		for (const char *d = v; d < ve; d++) {
			if (*d < '0' || *d > '9')
				return -400;
			n = n * 10 + (unsigned)(*d - '0');
		}
		if (st->have_length && st->length != n)
			return -400;
		st->have_length = true;
		st->length = n;
	} else if (name_is(p, (size_t)(colon - p), "transfer-encoding")) {
		return -413;	/* a body follows; none is accepted */
	}
	return 0;
}

int admin_http_parse_request(const char *buf, size_t len, struct admin_request *req)
{
	const char *end = buf + len, *p = buf, *eol;
	struct head_state st = { 0 };
	unsigned fields = 0;
	int version, r;

	memset(req, 0, sizeof(*req));
	req->method = ADMIN_OTHER;
	eol = find_crlf(p, end);
	if (eol == NULL) {
		if (!partial_line_ok(p, end))
			return -400;
		/* The start of the request line can already be judged. */
		for (const char *q = p; q < end && *q != ' '; q++)
			if (!is_tchar((unsigned char)*q) || q - p > 32)
				return -400;
		return len >= ADMIN_HTTP_MAX_HEAD ? -414 : 0;
	}
	if (eol - buf + 2 > ADMIN_HTTP_MAX_HEAD)
		return -414;
	if (!partial_line_ok(p, eol))
		return -400;
	version = parse_request_line(p, eol, req);
	if (version < 0)
		return version;
	p = eol + 2;
	for (;;) {
		eol = find_crlf(p, end);
		if (eol == NULL) {
			if (!partial_line_ok(p, end))
				return -400;
			if (p < end && (*p == ' ' || *p == '\t'))
				return -400;
			for (const char *q = p; q < end; q++)
				if (!is_vchar_ws((unsigned char)*q) && !(*q == '\r' && q + 1 == end))
					return -400;
			return len >= ADMIN_HTTP_MAX_HEAD ? -431 : 0;
		}
		if (eol - buf + 2 > ADMIN_HTTP_MAX_HEAD)
			return -431;
		if (eol == p)
			break;
		if (!partial_line_ok(p, eol))
			return -400;
		if (++fields > ADMIN_HTTP_MAX_FIELDS)
			return -431;
		r = parse_field(p, eol, &st);
		if (r)
			return r;
		p = eol + 2;
	}
	/* RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in 1.0 */
	if (st.hosts > 1 || (version == 11 && st.hosts == 0))
		return -400;
	if (st.have_length && st.length > 0)
		return -413;
	return (int)(eol + 2 - buf);
}
