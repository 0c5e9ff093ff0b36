/* HTTP/1.1 request heads, strictly (see http_parse.h). */
#include "http_parse.h"

#include <string.h>
#include <strings.h>

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

static int parse_request_line(const char *p, const char *end, const struct http_limits *lim,
	struct http_request *req)
{
	const char *sp1, *sp2, *v, *q;
	size_t mlen, tlen;

	for (sp1 = p; sp1 < end && is_tchar((unsigned char)*sp1); sp1++)
		;
	mlen = (size_t)(sp1 - p);
	if (mlen == 0 || mlen > HTTP_MAX_METHOD || sp1 == end || *sp1 != ' ')
		return -400;
	memcpy(req->method, p, mlen);
	req->method[mlen] = '\0';
	/* origin-form only: no proxy, no absolute-form to confuse routing */
	if (sp1 + 1 >= end || sp1[1] != '/')
		return -400;
	for (sp2 = sp1 + 1; sp2 < end && *sp2 != ' '; sp2++)
		if ((unsigned char)*sp2 < 0x21 || (unsigned char)*sp2 > 0x7e || *sp2 == '#')
			return -400;
	tlen = (size_t)(sp2 - sp1 - 1);
	if (tlen > lim->max_target)
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
	req->target = sp1 + 1;
	req->target_len = tlen;
	q = memchr(req->target, '?', tlen);
	req->path_len = q ? (size_t)(q - req->target) : tlen;
	req->version = v[7] == '0' ? 10 : 11;
	return 0;
}

struct head_state {
	unsigned hosts;
	bool have_length;
	bool conn_close, conn_keep_alive;
};

static bool name_is(const char *p, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(p, want, n) == 0;
}

/* Connection: a comma list of tokens (RFC 9110 §7.6.1). */
static void connection_tokens(const char *v, const char *ve, struct head_state *st)
{
	while (v < ve) {
		const char *t = v, *te;
		while (v < ve && *v != ',')
			v++;
		te = v;
		while (t < te && (*t == ' ' || *t == '\t'))
			t++;
		while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if (name_is(t, (size_t)(te - t), "close"))
			st->conn_close = true;
		else if (name_is(t, (size_t)(te - t), "keep-alive"))
			st->conn_keep_alive = true;
		if (v < ve)
			v++;
	}
}

static int parse_field(const char *p, const char *end, const struct http_limits *lim,
	struct head_state *st, struct http_request *req)
{
	const char *colon = p, *v, *ve;
	size_t nlen;

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
	nlen = (size_t)(colon - p);
	if (name_is(p, nlen, "host")) {
		st->hosts++;
	} else if (name_is(p, nlen, "content-length")) {
		unsigned long long n = 0;
		if (v == ve)
			return -400;
		if (ve - v > 18)
			return -413;
		for (const char *d = v; d < ve; d++) {
			if (*d < '0' || *d > '9')
				return -400;
			n = n * 10 + (unsigned)(*d - '0');
		}
		/* RFC 9112 §6.3: differing lengths are an unrecoverable error */
		if (st->have_length && req->content_length != n)
			return -400;
		if (n > lim->max_body)
			return -413;
		st->have_length = true;
		req->content_length = n;
	} else if (name_is(p, nlen, "transfer-encoding")) {
		return lim->max_body ? -501 : -413;
	} else if (name_is(p, nlen, "connection")) {
		connection_tokens(v, ve, st);
	} else if (name_is(p, nlen, "expect")) {
		if (!name_is(v, (size_t)(ve - v), "100-continue"))
			return -417;
		req->expect_continue = true;
	}
	req->fields[req->nfields].name = p;
	req->fields[req->nfields].name_len = nlen;
	req->fields[req->nfields].value = v;
	req->fields[req->nfields].value_len = (size_t)(ve - v);
	req->nfields++;
	return 0;
}

/* The bytes after the last complete line, while the head is incomplete. */
static int partial_verdict(const char *p, const char *end, bool in_line, size_t len,
	const struct http_limits *lim)
{
	if (!partial_line_ok(p, end))
		return -400;
	if (in_line) {
		/* The start of the request line can already be judged. */
		for (const char *q = p; q < end && *q != ' '; q++)
			if (!is_tchar((unsigned char)*q) || q - p >= HTTP_MAX_METHOD)
				return -400;
		return len >= lim->max_head ? -414 : 0;
	}
	if (p < end && (*p == ' ' || *p == '\t'))
		return -400;	/* obs-fold */
	for (const char *q = p; q < end; q++)
		if (!is_vchar_ws((unsigned char)*q) && !(*q == '\r' && q + 1 == end))
			return -400;
	return len >= lim->max_head ? -431 : 0;
}

int http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
	struct http_request *req)
{
	const char *end = buf + len, *p = buf, *eol;
	struct head_state st = { 0 };
	unsigned max_fields = lim->max_fields < HTTP_MAX_FIELDS ? lim->max_fields : HTTP_MAX_FIELDS;
	int r;

	memset(req, 0, sizeof(*req));
	eol = find_crlf(p, end);
	if (eol == NULL)
		return partial_verdict(p, end, true, len, lim);
	if ((size_t)(eol - buf) + 2 > lim->max_head)
		return -414;
	if (!partial_line_ok(p, eol))
		return -400;
	r = parse_request_line(p, eol, lim, req);
	if (r < 0)
		return r;
	p = eol + 2;
	for (;;) {
		eol = find_crlf(p, end);
		if (eol == NULL)
			return partial_verdict(p, end, false, len, lim);
		if ((size_t)(eol - buf) + 2 > lim->max_head)
			return -431;
		if (eol == p)
			break;
		if (!partial_line_ok(p, eol))
			return -400;
		if (req->nfields >= max_fields)
			return -431;
		r = parse_field(p, eol, lim, &st, req);
		if (r)
			return r;
		p = eol + 2;
	}
	/* RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in 1.0 */
	if (st.hosts > 1 || (req->version == 11 && st.hosts == 0))
		return -400;
	if (st.have_length && req->content_length > lim->max_body)
		return -413;
	req->keep_alive = req->version == 11 ? !st.conn_close : st.conn_keep_alive && !st.conn_close;
	return (int)(eol + 2 - buf);
}

bool http_field_is(const struct http_field *f, const char *name)
{
	return name_is(f->name, f->name_len, name);
}

const struct http_field *http_field_find(const struct http_request *req, const char *name)
{
	for (unsigned i = 0; i < req->nfields; i++)
		if (http_field_is(&req->fields[i], name))
			return &req->fields[i];
	return NULL;
}
