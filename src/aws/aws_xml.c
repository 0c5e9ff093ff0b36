#include "aws_xml.h"
#include "aws_retry.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

enum tag_kind {
	TAG_OPEN,
	TAG_CLOSE,
	TAG_EMPTY,		/* <x/> */
	TAG_CDATA,
	TAG_SKIP,		/* comment, processing instruction, DOCTYPE */
};

struct tag {
	enum tag_kind kind;
	const char *name;	/* qualified name, for OPEN/CLOSE/EMPTY */
	size_t nlen;
	const char *lt;		/* the '<' */
	const char *next;	/* just past the '>' */
	const char *cdata;	/* for TAG_CDATA */
	size_t cdata_len;
};

static const char *find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	while ((size_t)(end - p) >= n) {
		const char *c = memchr(p, needle[0], (size_t)(end - p) - n + 1);

		if (c == NULL)
			return NULL;
		if (memcmp(c, needle, n) == 0)
			return c;
		p = c + 1;
	}
	return NULL;
}

static bool starts(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

static bool xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parse the markup starting at lt ('<'). */
static int parse_tag(const char *lt, const char *end, struct tag *t)
{
	const char *p = lt + 1, *e;
	char quote = 0;

	memset(t, 0, sizeof(*t));
	t->lt = lt;
	if (starts(p, end, "!--")) {
		e = find(p + 3, end, "-->");
		if (e == NULL)
			return -EINVAL;
		t->kind = TAG_SKIP;
		t->next = e + 3;
		return 0;
	}
	if (starts(p, end, "![CDATA[")) {
		e = find(p + 8, end, "]]>");
		if (e == NULL)
			return -EINVAL;
		t->kind = TAG_CDATA;
		t->cdata = p + 8;
		t->cdata_len = (size_t)(e - t->cdata);
		t->next = e + 3;
		return 0;
	}
	if (starts(p, end, "?")) {
		e = find(p + 1, end, "?>");
		if (e == NULL)
			return -EINVAL;
		t->kind = TAG_SKIP;
		t->next = e + 2;
		return 0;
	}
	t->kind = TAG_OPEN;
	if (p < end && *p == '!')
		t->kind = TAG_SKIP;
	else if (p < end && *p == '/')
		t->kind = TAG_CLOSE, p++;
	t->name = p;
	while (p < end && !xml_space(*p) && *p != '/' && *p != '>' && *p != '<')
		p++;
	t->nlen = (size_t)(p - t->name);
	if (t->kind != TAG_SKIP && t->nlen == 0)
		return -EINVAL;
	/* Attribute values may hold '>' and '/': honour quotes. */
	for (; p < end; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '<') {
			return -EINVAL;
		} else if (*p == '>') {
			if (t->kind == TAG_OPEN && p[-1] == '/')
				t->kind = TAG_EMPTY;
			t->next = p + 1;
			return 0;
		}
	}
	return -EINVAL;
}

/* Next markup at or after p; -ENOENT when there is none. */
static int next_tag(const char *p, const char *end, struct tag *t)
{
	const char *lt = p < end ? memchr(p, '<', (size_t)(end - p)) : NULL;

	if (lt == NULL)
		return -ENOENT;
	return parse_tag(lt, end, t);
}

static bool local_name_is(const struct tag *t, const char *name, size_t name_len)
{
	const char *colon = memchr(t->name, ':', t->nlen);
	const char *local = colon ? colon + 1 : t->name;
	size_t llen = t->nlen - (size_t)(local - t->name);

	return llen == name_len && memcmp(local, name, name_len) == 0;
}

int aws_xml_element(const char *body, size_t len, const char *name,
	const char **inner, size_t *inner_len)
{
	const char *p = body, *end = body + len;
	size_t name_len;
	struct tag t, open;
	int r;

	if (body == NULL || name == NULL || *name == '\0')
		return -EINVAL;
	name_len = strlen(name);
	for (;;) {
		r = next_tag(p, end, &t);
		if (r)
			return r;
		p = t.next;
		if ((t.kind == TAG_OPEN || t.kind == TAG_EMPTY) && local_name_is(&t, name, name_len))
			break;
	}
	if (t.kind == TAG_EMPTY) {
		*inner = t.next;
		*inner_len = 0;
		return 0;
	}
	open = t;
	/* Find the matching end tag, counting nested same-name elements. */
	for (size_t depth = 1;;) {
		r = next_tag(p, end, &t);
		if (r)
			return -EINVAL;
		p = t.next;
		if (t.nlen != open.nlen || memcmp(t.name, open.name, open.nlen) != 0)
			continue;
		if (t.kind == TAG_OPEN) {
			depth++;
		} else if (t.kind == TAG_CLOSE && --depth == 0) {
			*inner = open.next;
			*inner_len = (size_t)(t.lt - open.next);
			return 0;
		}
	}
}

static int put_utf8(struct buf *out, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -EINVAL;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, u, n);
}

/* p points just past '&'; *used gets the length up to and incl. ';'. */
static int decode_entity(const char *p, const char *end, struct buf *out, size_t *used)
{
	static const struct { const char *name; char c; } named[] = {
		{ "lt", '<' }, { "gt", '>' }, { "amp", '&' }, { "quot", '"' }, { "apos", '\'' },
	};
	const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);
	size_t n;

	if (semi == NULL)
		return -EINVAL;
	n = (size_t)(semi - p);
	*used = n + 1;
	if (n >= 2 && p[0] == '#') {
		unsigned long cp = 0;
		bool hex = p[1] == 'x';
		size_t i = hex ? 2 : 1;

		if (i == n)
			return -EINVAL;
		for (; i < n; i++) {
			int d;

			if (p[i] >= '0' && p[i] <= '9')
				d = p[i] - '0';
			else if (hex && p[i] >= 'a' && p[i] <= 'f')
				d = p[i] - 'a' + 10;
			else if (hex && p[i] >= 'A' && p[i] <= 'F')
				d = p[i] - 'A' + 10;
			else
				return -EINVAL;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
			if (cp > 0x10ffff)
				return -EINVAL;
		}
		return put_utf8(out, cp);
	}
	for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++)
		if (strlen(named[k].name) == n && memcmp(p, named[k].name, n) == 0)
			return buf_putc(out, named[k].c);
	return -EINVAL;
}

int aws_xml_unescape(const char *p, size_t n, struct buf *out)
{
	const char *end = p + n;
	int r = 0;

	while (p < end && r == 0) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t used = 0;

		if (amp == NULL)
			return buf_append(out, p, (size_t)(end - p));
		r = buf_append(out, p, (size_t)(amp - p));
		if (r == 0)
			r = decode_entity(amp + 1, end, out, &used);
		p = amp + 1 + used;
	}
	return r;
}

int aws_xml_escape(const char *p, size_t n, struct buf *out)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		switch (p[i]) {
		case '&': r = buf_puts(out, "&amp;"); break;
		case '<': r = buf_puts(out, "&lt;"); break;
		case '>': r = buf_puts(out, "&gt;"); break;
		case '"': r = buf_puts(out, "&quot;"); break;
		case '\'': r = buf_puts(out, "&apos;"); break;
		default: r = buf_putc(out, p[i]); break;
		}
	}
	return r;
}

int aws_xml_text(const char *body, size_t len, const char *name, struct buf *out)
{
	const char *inner, *p, *end;
	size_t inner_len;
	struct tag t;
	int r;

	if (out == NULL)
		return -EINVAL;
	buf_reset(out);
	r = aws_xml_element(body, len, name, &inner, &inner_len);
	if (r)
		return r;
	p = inner;
	end = inner + inner_len;
	while (p < end) {
		r = next_tag(p, end, &t);
		if (r == -ENOENT)
			return aws_xml_unescape(p, (size_t)(end - p), out);
		if (r == 0)
			r = aws_xml_unescape(p, (size_t)(t.lt - p), out);
		if (r)
			return r;
		if (t.kind == TAG_CDATA)
			r = buf_append(out, t.cdata, t.cdata_len);
		else if (t.kind != TAG_SKIP)
			r = -EINVAL;
		if (r)
			return r;
		p = t.next;
	}
	return buf_reserve(out, 0);
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long days_from_civil(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int aws_parse_iso8601(const char *s, time_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, dim;
	const char *p;
	long long t;

	if (s == NULL || out == NULL || strnlen(s, 20) < 20)
		return -EINVAL;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		const char *f = ++p;

		while (*p >= '0' && *p <= '9' && p - f < 12)
			p++;
		if (p == f || (*p >= '0' && *p <= '9'))
			return -EINVAL;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh))
			return -EINVAL;
		p += 3;
		if (*p == ':')
			p++;
		if (digits(p, 2, &om))
			return -EINVAL;
		p += 2;
		if (oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	dim = mdays[mo - 1] + (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
	if (d < 1 || d > dim)
		return -EINVAL;
	t = (long long)days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= (long long)sign * (oh * 3600 + om * 60);
	if (t < 0 || (sizeof(time_t) < 8 && t > INT32_MAX))
		return -EINVAL;
	*out = (time_t)t;
	return 0;
}

/* Copy printable ASCII only: each non-ASCII UTF-8 sequence becomes one
 * '?', each control character a space (no CR/LF can split a log line or
 * an SMTP reply), ends trimmed;
 * "..." marks a cut. Codes keep [A-Za-z0-9._-] only. */
static void sanitize(char *dst, size_t cap, const char *src, size_t n, bool is_code)
{
	size_t o = 0, i = 0;
	bool cut = false;

	while (i < n && (src[i] == ' ' || (unsigned char)src[i] < 0x20))
		i++;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		char w;

		if (is_code) {
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
				continue;
			w = (char)c;
		} else if (c >= 0x80) {
			if ((c & 0xc0) == 0x80 && i > 0 && ((unsigned char)src[i - 1] & 0x80))
				continue;	/* continuation of a sequence already marked */
			w = '?';
		} else if (c < 0x20 || c == 0x7f) {
			w = ' ';
		} else {
			w = (char)c;
		}
		if (o + 1 >= cap) {
			cut = true;
			break;
		}
		dst[o++] = w;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	if (cut && !is_code && cap > 4) {
		if (o > cap - 4)
			o = cap - 4;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/* "ns#Code:http://..." -> "Code" (JSON __type and x-amzn-errortype). */
static void set_json_code(struct aws_error *e, const char *s)
{
	const char *hash = strrchr(s, '#'), *colon;

	if (hash)
		s = hash + 1;
	colon = strchr(s, ':');
	sanitize(e->code, sizeof(e->code), s, colon ? (size_t)(colon - s) : strlen(s), true);
}

static const char *json_str(const cJSON *o, const char *const *names)
{
	for (; *names; names++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, *names);

		if (cJSON_IsString(it) && it->valuestring)
			return it->valuestring;
	}
	return NULL;
}

static void parse_json_error(const char *body, size_t len, struct aws_error *e)
{
	static const char *const type_keys[] = { "__type", "code", "Code", NULL };
	static const char *const msg_keys[] = { "message", "Message", "errorMessage", NULL };
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *obj = j;
	const char *s;

	if (j == NULL)
		return;
	/* Some services nest it: {"Error": {"Code": ..., "Message": ...}}. */
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "Error")))
		obj = cJSON_GetObjectItemCaseSensitive(j, "Error");
	if (e->code[0] == '\0' && (s = json_str(obj, type_keys)) != NULL)
		set_json_code(e, s);
	if ((s = json_str(obj, msg_keys)) != NULL)
		sanitize(e->message, sizeof(e->message), s, strlen(s), false);
	cJSON_Delete(j);
}

static void parse_xml_error(const char *body, size_t len, struct aws_error *e)
{
	struct buf t = BUF_INIT;

	/* Scope to <Error> when present so a <Code> elsewhere cannot win. */
	const char *inner;
	size_t inner_len;

	if (aws_xml_element(body, len, "Error", &inner, &inner_len) == 0) {
		body = inner;
		len = inner_len;
	}
	if (e->code[0] == '\0' && aws_xml_text(body, len, "Code", &t) == 0)
		sanitize(e->code, sizeof(e->code), t.data, t.len, true);
	if (aws_xml_text(body, len, "Message", &t) == 0)
		sanitize(e->message, sizeof(e->message), t.data, t.len, false);
	buf_free(&t);
}

int aws_error_parse(int status, const char *body, size_t len, const char *amzn_error_type,
	struct aws_error *out)
{
	struct buf t = BUF_INIT;
	size_t i = 0;

	if (out == NULL || (body == NULL && len > 0))
		return -EINVAL;
	out->status = status;
	out->code[0] = '\0';
	out->message[0] = '\0';
	if (amzn_error_type && *amzn_error_type)
		set_json_code(out, amzn_error_type);
	while (i < len && xml_space(body[i]))
		i++;
	if (i < len && body[i] == '{')
		parse_json_error(body + i, len - i, out);
	else if (i < len)
		parse_xml_error(body + i, len - i, out);
	if (out->code[0] == '\0') {
		snprintf(out->code, sizeof(out->code), "HTTP%d", status);
		if (out->message[0] == '\0' && i < len && body[i] != '<' && body[i] != '{') {
			/* Plain text (a proxy or a crashed server): its first line. */
			const char *nl = memchr(body + i, '\n', len - i);

			sanitize(out->message, sizeof(out->message), body + i,
				nl ? (size_t)(nl - body - i) : len - i, false);
		} else if (out->message[0] == '\0' && i < len &&
			   aws_xml_text(body, len, "title", &t) == 0) {
			sanitize(out->message, sizeof(out->message), t.data, t.len, false);
		}
		buf_free(&t);
		out->retryable = status >= 500 || status == 429 || status == 0;
		return -ENOENT;
	}
	out->retryable = status >= 500 || status == 429 ||
		aws_error_code_retryable(out->code, out->message);
	return 0;
}
