#include "sendmail_msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sendmail_strlist_add(struct strlist *l, const char *s, size_t n)
{
	char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));

	if (nv == NULL)
		return -ENOMEM;
	l->v = nv;
	l->v[l->n] = strndup(s, n);
	if (l->v[l->n] == NULL)
		return -ENOMEM;
	l->n++;
	return 0;
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* One element of an address list is complete: keep the angle-addr when
 * there was one (the rest is a display name), else the bare addr-spec. */
static int flush_addr(struct buf *cur, struct buf *ang, int *have_angle, struct strlist *out)
{
	struct buf *b = *have_angle ? ang : cur;
	const char *p = b->data ? b->data : "";
	size_t n = b->len;
	int r = 0;

	while (n && is_wsp(*p)) {
		p++;
		n--;
	}
	while (n && is_wsp(p[n - 1]))
		n--;
	if (n)
		r = sendmail_strlist_add(out, p, n);
	buf_reset(cur);
	buf_reset(ang);
	*have_angle = 0;
	return r;
}

int sendmail_addr_list(const char *v, size_t len, struct strlist *out)
{
	struct buf cur = BUF_INIT, ang = BUF_INIT;
	int depth = 0, in_quote = 0, in_angle = 0, have_angle = 0, r = 0;

	for (size_t i = 0; i < len && r == 0; i++) {
		char c = v[i];
		struct buf *t = in_angle ? &ang : &cur;

		if (c == '\r' || c == '\n')	/* unfolding */
			continue;
		if (depth > 0) {		/* comments are dropped, they nest */
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (in_quote) {			/* quoted local part stays as written */
			r = buf_putc(t, c);
			if (c == '\\' && i + 1 < len && r == 0)
				r = buf_putc(t, v[++i]);
			else if (c == '"')
				in_quote = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_quote = 1;
			r = buf_putc(t, c);
			break;
		case '(':
			depth = 1;
			break;
		case '<':
			if (in_angle) {
				r = -EINVAL;
				break;
			}
			in_angle = have_angle = 1;
			buf_reset(&ang);
			break;
		case '>':
			if (!in_angle)
				r = -EINVAL;
			in_angle = 0;
			break;
		case ':':
			/* Outside <>: the end of a group's display name. Inside:
			 * the end of an obsolete source route "@a,@b:". */
			buf_reset(t);
			break;
		case ',':
			if (in_angle)
				r = buf_putc(t, c);
			else
				r = flush_addr(&cur, &ang, &have_angle, out);
			break;
		case ';':			/* end of a group */
			if (in_angle)
				r = -EINVAL;
			else
				r = flush_addr(&cur, &ang, &have_angle, out);
			break;
		default:
			r = buf_putc(t, c);
		}
	}
	if (r == 0 && (depth || in_quote || in_angle))
		r = -EINVAL;
	if (r == 0)
		r = flush_addr(&cur, &ang, &have_angle, out);
	buf_free(&cur);
	buf_free(&ang);
	return r;
}

/* Lines of the input, each ending in CRLF, up to a lone "." unless
 * dot_is_data; a leading mbox "From " line is dropped. */
static int normalize(const char *in, size_t len, bool dot_is_data, struct buf *out)
{
	size_t pos = 0;
	int first = 1;

	while (pos < len) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - in) : len;
		size_t n = end - pos;
		int r;

		if (n && in[pos + n - 1] == '\r')
			n--;
		if (first && n >= 5 && memcmp(in + pos, "From ", 5) == 0) {
			first = 0;
			pos = nl ? end + 1 : len;
			continue;
		}
		first = 0;
		if (!dot_is_data && n == 1 && in[pos] == '.')
			break;
		r = buf_append(out, in + pos, n);
		if (r == 0)
			r = buf_append(out, "\r\n", 2);
		if (r)
			return r;
		pos = nl ? end + 1 : len;
	}
	return 0;
}

static int field_is(const char *f, size_t namelen, const char *name)
{
	return strlen(name) == namelen && strncasecmp(f, name, namelen) == 0;
}

/* Length of the field name if the line at p starts a header field
 * ("name:" with printable ASCII but no colon in the name), else 0. */
static size_t field_name_len(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] > ' ' && p[i] < 0x7f && p[i] != ':')
		i++;
	return i > 0 && i < n && p[i] == ':' ? i : 0;
}

int sendmail_msg_build(const char *in, size_t len, const struct sendmail_opts *o,
	struct sendmail_msg *m, char *err, size_t errlen)
{
	struct buf norm = BUF_INIT, hdr = BUF_INIT;
	struct strlist from = { NULL, 0 };
	size_t pos = 0, body;
	int has_date = 0, has_from = 0, nfields = 0, r;

	memset(m, 0, sizeof(*m));
	r = normalize(in, len, o->dot_is_data, &norm);
	if (r)
		goto out;

	/* The header block: fields (with their folded lines) up to an empty
	 * line or the first line that is not a field. */
	while (pos < norm.len) {
		const char *f = norm.data + pos;
		size_t nlen = field_name_len(f, norm.len - pos), fend = pos;
		const char *val;

		if (nlen == 0)
			break;
		do {
			char *crlf = memmem(norm.data + fend, norm.len - fend, "\r\n", 2);
			fend = (size_t)(crlf - norm.data) + 2;	/* every line ends in CRLF */
		} while (fend < norm.len && is_wsp(norm.data[fend]));
		val = f + nlen + 1;
		nfields++;

		if (field_is(f, nlen, "Bcc") || field_is(f, nlen, "Resent-Bcc")) {
			if (o->extract && field_is(f, nlen, "Bcc"))
				r = sendmail_addr_list(val, norm.data + fend - val, &m->rcpts);
		} else {
			if (o->extract && (field_is(f, nlen, "To") || field_is(f, nlen, "Cc")))
				r = sendmail_addr_list(val, norm.data + fend - val, &m->rcpts);
			else if (field_is(f, nlen, "From") && !has_from) {
				has_from = 1;
				r = sendmail_addr_list(val, norm.data + fend - val, &from);
			} else if (field_is(f, nlen, "Date"))
				has_date = 1;
			if (r == 0)
				r = buf_append(&hdr, f, fend - pos);
		}
		if (r == -EINVAL)
			snprintf(err, errlen, "cannot parse the addresses in the %.*s: field",
				(int)nlen, f);
		if (r)
			goto out;
		pos = fend;
	}
	body = pos;

	m->env_from = strdup(o->env_from ? o->env_from
		: from.n ? from.v[0] : o->fallback_from);
	if (m->env_from == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (!has_date)
		r = buf_printf(&m->data, "Date: %s\r\n", o->date);
	if (r == 0 && !has_from) {
		if (o->full_name && o->full_name[0])
			r = buf_printf(&m->data, "From: %s <%s>\r\n", o->full_name, m->env_from);
		else
			r = buf_printf(&m->data, "From: <%s>\r\n", m->env_from);
	}
	/* Input without any header field is all body: keep it out of the
	 * fields just added. */
	if (r == 0 && nfields == 0 && !(norm.len >= 2 && memcmp(norm.data, "\r\n", 2) == 0))
		r = buf_append(&m->data, "\r\n", 2);
	if (r == 0 && hdr.len)
		r = buf_append(&m->data, hdr.data, hdr.len);
	if (r == 0 && norm.len > body)
		r = buf_append(&m->data, norm.data + body, norm.len - body);
out:
	buf_free(&norm);
	buf_free(&hdr);
	strlist_free(&from);
	if (r)
		sendmail_msg_free(m);
	return r;
}

void sendmail_msg_free(struct sendmail_msg *m)
{
	buf_free(&m->data);
	strlist_free(&m->rcpts);
	free(m->env_from);
	m->env_from = NULL;
}
