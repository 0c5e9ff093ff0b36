#include "aws_query.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Input bytes encoded per EVP_EncodeBlock call: a multiple of 3, so only
 * the final call can produce padding. */
#define B64_BLOCK 3072

static const char hex_upper[] = "0123456789ABCDEF";

static bool form_safe(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '.' || c == '-' || c == '~';
}

size_t aws_query_escaped_len(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += (form_safe(s[i]) || s[i] == ' ') ? 1 : 3;
	return len;
}

/* Caller has reserved 3 * n bytes. */
static void escape_into(struct buf *out, const unsigned char *s, size_t n)
{
	char *d = out->data + out->len;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (form_safe(c)) {
			*d++ = (char)c;
		} else if (c == ' ') {
			*d++ = '+';
		} else {
			*d++ = '%';
			*d++ = hex_upper[c >> 4];
			*d++ = hex_upper[c & 15];
		}
	}
	out->len = (size_t)(d - out->data);
	out->data[out->len] = '\0';
}

int aws_query_escape(struct buf *out, const void *p, size_t n)
{
	int r;

	if (n > SIZE_MAX / 3)
		return -ENOMEM;
	r = buf_reserve(out, n * 3);
	if (r)
		return r;
	escape_into(out, p, n);
	return 0;
}

int aws_query_add_n(struct buf *out, const char *key, const void *value, size_t n)
{
	size_t undo = out->len;
	int r = 0;

	if (key == NULL || *key == '\0' || (value == NULL && n > 0))
		return -EINVAL;
	if (out->len > 0)
		r = buf_putc(out, '&');
	if (r == 0)
		r = aws_query_escape(out, key, strlen(key));
	if (r == 0)
		r = buf_putc(out, '=');
	if (r == 0 && n > 0)
		r = aws_query_escape(out, value, n);
	if (r) {
		out->len = undo;
		if (out->data)
			out->data[undo] = '\0';
	}
	return r;
}

/* Decode p[0..n) into out (which has room for n bytes); its length. */
static long form_decode(const char *p, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '+') {
			out[o++] = ' ';
		} else if (p[i] == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = OPENSSL_hexchar2int((unsigned char)p[i + 1])) < 0 ||
					(lo = OPENSSL_hexchar2int((unsigned char)p[i + 2])) < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = p[i];
		}
	}
	return (long)o;
}

int aws_form_parse(const char *body, size_t len, size_t max_params, struct aws_form *f)
{
	size_t cap = 0;
	char *o;

	memset(f, 0, sizeof(*f));
	/* decoded text is never longer; each key and value gets a NUL */
	f->text = malloc(len + 2 * (max_params + 1) + 1);
	if (f->text == NULL)
		return -ENOMEM;
	o = f->text;
	for (size_t pos = 0; pos < len;) {
		const char *amp = memchr(body + pos, '&', len - pos);
		size_t plen = amp ? (size_t)(amp - body - pos) : len - pos;
		const char *eq = memchr(body + pos, '=', plen);
		long kl, vl;
		if (plen == 0 && amp) {
			pos++;
			continue;	/* "a=1&&b=2": an empty pair, as AWS ignores it */
		}
		if (eq == NULL || eq == body + pos || f->n == max_params)
			goto bad;
		if (f->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct aws_form_param *nv = realloc(f->v, ncap * sizeof(*nv));
			if (nv == NULL) {
				aws_form_free(f);
				return -ENOMEM;
			}
			f->v = nv;
			cap = ncap;
		}
		kl = form_decode(body + pos, (size_t)(eq - body - pos), o);
		if (kl <= 0 || memchr(o, '\0', (size_t)kl))
			goto bad;
		o[kl] = '\0';
		f->v[f->n].key = o;
		o += kl + 1;
		vl = form_decode(eq + 1, plen - (size_t)(eq - body - pos) - 1, o);
		if (vl < 0)
			goto bad;
		o[vl] = '\0';
		f->v[f->n].value = o;
		f->v[f->n].value_len = (size_t)vl;
		o += vl + 1;
		if (aws_form_get(f, f->v[f->n].key))
			goto bad;
		f->n++;
		pos += plen + (amp ? 1 : 0);
	}
	return 0;
bad:
	aws_form_free(f);
	return -EINVAL;
}

const struct aws_form_param *aws_form_get(const struct aws_form *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].key, key) == 0)
			return &f->v[i];
	return NULL;
}

void aws_form_free(struct aws_form *f)
{
	free(f->v);
	free(f->text);
	memset(f, 0, sizeof(*f));
}

int aws_query_add(struct buf *out, const char *key, const char *value)
{
	if (value == NULL)
		return -EINVAL;
	return aws_query_add_n(out, key, value, strlen(value));
}

size_t aws_b64_len(size_t raw_len)
{
	size_t groups = raw_len / 3 + (raw_len % 3 != 0);

	return groups > SIZE_MAX / 4 ? SIZE_MAX : groups * 4;
}

size_t aws_query_b64_len_max(size_t raw_len)
{
	size_t n = aws_b64_len(raw_len);

	return n > SIZE_MAX / 3 ? SIZE_MAX : n * 3;
}

static size_t b64_escaped_len(const unsigned char *b64, size_t n)
{
	size_t len = n;

	for (size_t i = 0; i < n; i++)
		if (b64[i] == '+' || b64[i] == '/' || b64[i] == '=')
			len += 2;
	return len;
}

size_t aws_query_b64_len(const void *raw, size_t n)
{
	const unsigned char *s = raw;
	unsigned char b64[B64_BLOCK / 3 * 4 + 1];
	size_t len = 0;

	while (n > 0) {
		size_t take = n < B64_BLOCK ? n : B64_BLOCK;
		int m = EVP_EncodeBlock(b64, s, (int)take);

		len += b64_escaped_len(b64, (size_t)m);
		s += take;
		n -= take;
	}
	return len;
}

/* Form-escape base64 text: only '+', '/' and '=' need it, about one
 * character in 32, so the runs between them are copied whole (this is
 * the per-byte cost of every message). Caller has reserved the escaped
 * length. */
static void escape_b64_into(struct buf *out, const char *b64, size_t n)
{
	static const unsigned char special[256] = { ['+'] = 1, ['/'] = 1, ['='] = 1 };
	char *d = out->data + out->len;
	const char *p = b64, *end = b64 + n;

	while (p < end) {
		const char *q = p;

		while (q < end && !special[(unsigned char)*q])
			q++;
		memcpy(d, p, (size_t)(q - p));
		d += q - p;
		p = q;
		if (p >= end)
			break;
		*d++ = '%';
		*d++ = *p == '=' ? '3' : '2';
		*d++ = *p == '+' ? 'B' : *p == '/' ? 'F' : 'D';
		p++;
	}
	out->len = (size_t)(d - out->data);
	out->data[out->len] = '\0';
}

/* Append base64 text in the stream's mode and feed it to the hash. */
static int emit(struct aws_b64_stream *s, const unsigned char *b64, size_t n)
{
	size_t before = s->out->len;
	int r = 0;

	if (s->mode == AWS_B64_PLAIN) {
		r = buf_append(s->out, b64, n);
	} else {
		/* Count the escapes only when the worst case might not fit. */
		if (s->out->cap - s->out->len <= 3 * n)
			r = buf_reserve(s->out, b64_escaped_len(b64, n));
		if (r == 0)
			escape_b64_into(s->out, (const char *)b64, n);
	}
	if (r == 0 && s->hash)
		r = sigv4_hash_update(s->hash, s->out->data + before, s->out->len - before);
	if (r == 0)
		s->out_len += s->out->len - before;
	return r;
}

static int encode_emit(struct aws_b64_stream *s, const unsigned char *p, size_t n)
{
	unsigned char b64[B64_BLOCK / 3 * 4 + 1];
	int m = EVP_EncodeBlock(b64, p, (int)n);

	if (m < 0)
		return -EIO;
	return emit(s, b64, (size_t)m);
}

void aws_b64_stream_init(struct aws_b64_stream *s, enum aws_b64_mode mode,
	struct buf *out, struct sigv4_hash *hash)
{
	memset(s, 0, sizeof(*s));
	s->out = out;
	s->hash = hash;
	s->mode = mode;
}

int aws_b64_stream_update(struct aws_b64_stream *s, const void *p, size_t n)
{
	const unsigned char *in = p;
	int r = 0;

	if (s->err)
		return s->err;
	if (s->out == NULL || (p == NULL && n > 0))
		return s->err = -EINVAL;
	s->raw_len += n;
	if (s->ncarry > 0) {
		while (s->ncarry < 3 && n > 0) {
			s->carry[s->ncarry++] = *in++;
			n--;
		}
		if (s->ncarry < 3)
			return 0;
		r = encode_emit(s, s->carry, 3);
		s->ncarry = 0;
	}
	while (r == 0 && n >= 3) {
		size_t take = n < B64_BLOCK ? n - n % 3 : B64_BLOCK;

		r = encode_emit(s, in, take);
		in += take;
		n -= take;
	}
	if (r == 0) {
		memcpy(s->carry, in, n);
		s->ncarry = n;
	}
	if (r)
		s->err = r;
	return r;
}

int aws_b64_stream_final(struct aws_b64_stream *s)
{
	int r = 0;

	if (s->err)
		return s->err;
	if (s->out == NULL)
		return s->err = -EINVAL;
	if (s->ncarry > 0)
		r = encode_emit(s, s->carry, s->ncarry);
	s->ncarry = 0;
	/* Spent: later calls fail instead of appending after the padding. */
	s->err = r ? r : -EINVAL;
	return r;
}
