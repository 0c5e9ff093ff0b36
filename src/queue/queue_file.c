#include "queue_file.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define MAGIC "sesrelay-queue 1\n"
#define MAX_LINE (3 * QUEUE_MAX_ADDR + 64)

static int put_xtext(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int r;
		if (*p > 0x20 && *p < 0x7f && *p != '%') {
			r = buf_putc(out, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			r = buf_append(out, e, 3);
		}
		if (r)
			return r;
	}
	return 0;
}

static int head(struct buf *out, const char *id, int64_t created, const char *mail_from,
	const char *const *rcpts, size_t nrcpt, bool smtputf8, bool body_8bit,
	unsigned batch_size)
{
	int r;

	if (nrcpt == 0 || nrcpt > QUEUE_MAX_RCPTS || batch_size == 0 ||
	    batch_size > QUEUE_MAX_BATCH || strlen(id) != QUEUE_ID_LEN)
		return -EINVAL;
	r = buf_printf(out, MAGIC "id %s\ncreated %" PRId64 "\nfrom ", id, created);
	r |= put_xtext(out, mail_from);
	r |= buf_printf(out, "\nutf8 %d\n8bit %d\n", smtputf8, body_8bit);
	for (size_t i = 0; r == 0 && i < nrcpt; i++) {
		if (strlen(rcpts[i]) == 0 || strlen(rcpts[i]) > QUEUE_MAX_ADDR)
			return -EINVAL;
		r |= buf_puts(out, "rcpt ");
		r |= put_xtext(out, rcpts[i]);
		r |= buf_putc(out, '\n');
	}
	r |= buf_printf(out, "batch %u\n", batch_size);
	return r ? -ENOMEM : 0;
}

static int sum_lines(struct buf *out, const unsigned char sum[32], uint64_t body_len)
{
	char hex[65];

	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	return buf_printf(out, "sum %s\nbody %" PRIu64 "\n", hex, body_len) ? -ENOMEM : 0;
}

static int sha256_2(const void *a, size_t al, const void *b, size_t bl, unsigned char md[32])
{
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		EVP_DigestUpdate(ctx, a, al) == 1 && EVP_DigestUpdate(ctx, b, bl) == 1 &&
		EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -ENOMEM;
}

int queue_file_build(struct buf *out, const struct queue_meta *m, const void *body,
	size_t body_len)
{
	struct queue_file qf;
	unsigned char md[32];
	size_t start = out->len, mut;
	int r;

	if (m->batch_size == 0)
		return -EINVAL;
	r = head(out, m->id, m->created, m->mail_from, m->rcpts, m->nrcpt, m->smtputf8,
		m->body_8bit, m->batch_size);
	if (r == 0)
		r = sha256_2(out->data + start, out->len - start, body ? body : "", body_len, md);
	if (r == 0)
		r = sum_lines(out, md, body_len);
	if (r)
		return r;
	memset(&qf, 0, sizeof(qf));
	qf.nbatch = (m->nrcpt + m->batch_size - 1) / m->batch_size;
	mut = queue_file_mut_len(qf.nbatch);
	if (buf_reserve(out, mut + qf.nbatch + 1) != 0)
		return -ENOMEM;
	/* The state string lives past the region while it is rendered. */
	qf.state = out->data + out->len + mut;
	memset(qf.state, QB_PENDING, qf.nbatch);
	qf.next_attempt = m->created;
	queue_file_mut_render(&qf, out->data + out->len);
	out->len += mut;
	out->data[out->len] = '\0';
	return 0;
}

/* "state " nbatch "\n" "attempts " 10 "\n" "next " 20 "\n" "hold " 1 "\n"
 * "error " QUEUE_ERROR_LEN "\n" "end\n" */
size_t queue_file_mut_len(size_t nbatch)
{
	return 6 + nbatch + 1 + 9 + 10 + 1 + 5 + 20 + 1 + 5 + 1 + 1 + 6 + QUEUE_ERROR_LEN + 1 + 4;
}

void queue_file_mut_render(const struct queue_file *qf, char *out)
{
	char *p = out;
	int64_t next = qf->next_attempt < 0 ? 0 : qf->next_attempt;

	memcpy(p, "state ", 6);
	p += 6;
	memcpy(p, qf->state, qf->nbatch);
	p += qf->nbatch;
	/* snprintf's NUL lands on the next field's first byte, rewritten next. */
	p += sprintf(p, "\nattempts %010" PRIu32 "\nnext %020" PRId64 "\nhold %d\nerror ",
		qf->attempts, next, qf->held ? 1 : 0);
	memset(p, ' ', QUEUE_ERROR_LEN);
	memcpy(p, qf->error, strnlen(qf->error, QUEUE_ERROR_LEN));
	p += QUEUE_ERROR_LEN;
	memcpy(p, "\nend\n", 5);
}

size_t queue_file_hold_off(const struct queue_file *qf)
{
	/* ... "hold " D "\n" "error " QUEUE_ERROR_LEN "\n" "end\n" */
	return qf->mut_off + queue_file_mut_len(qf->nbatch) - (4 + 1 + QUEUE_ERROR_LEN + 6 + 1 + 1);
}

void queue_file_set_error(struct queue_file *qf, const char *text)
{
	size_t i = 0;

	for (; text && text[i] && i < QUEUE_ERROR_LEN; i++) {
		unsigned char c = (unsigned char)text[i];
		qf->error[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	qf->error[i] = '\0';
}

/* A cursor over the header; every read is bounded by `end`. */
struct cur {
	const char *p, *end;
	bool incomplete;	/* ran out of input before a line ended */
};

/* The next line if it starts with `key` and a space; *val and *vlen are
 * set to the rest of the line. */
static bool line(struct cur *c, const char *key, const char **val, size_t *vlen)
{
	size_t kl = strlen(key), avail = (size_t)(c->end - c->p);
	const char *nl = memchr(c->p, '\n', avail < MAX_LINE ? avail : MAX_LINE);

	if (nl == NULL) {
		c->incomplete = avail < MAX_LINE;
		return false;
	}
	if ((size_t)(nl - c->p) < kl + 1 || memcmp(c->p, key, kl) != 0 || c->p[kl] != ' ')
		return false;
	*val = c->p + kl + 1;
	*vlen = (size_t)(nl - *val);
	c->p = nl + 1;
	return true;
}

static bool peek_key(struct cur *c, const char *key)
{
	size_t kl = strlen(key), avail = (size_t)(c->end - c->p);

	if (avail <= kl) {
		/* "rc" may yet become "rcpt ": not a verdict. */
		if (memcmp(c->p, key, avail) == 0)
			c->incomplete = true;
		return false;
	}
	return memcmp(c->p, key, kl) == 0 && c->p[kl] == ' ';
}

static bool digits(const char *v, size_t n, size_t want, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > 20 || (want && n != want))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > max)
		return false;
	*out = x;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode xtext into a new string; empty allowed only when allow_empty.
 * NULL on a malformed value (or out of memory, which the caller treats the
 * same: the file is not read now). */
static char *xtext(const char *v, size_t n, bool allow_empty)
{
	char *s, *o;

	if ((n == 0 && !allow_empty) || n > 3 * QUEUE_MAX_ADDR || (s = malloc(n + 1)) == NULL)
		return NULL;
	o = s;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n) {
				free(s);
				return NULL;
			}
			hi = hexval(v[i + 1]);
			lo = hexval(v[i + 2]);
			/* No control octets: SMTP never lets them into an address. */
			if (hi < 0 || lo < 0 || (hi << 4 | lo) < 0x20 || (hi << 4 | lo) == 0x7f) {
				free(s);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (c > 0x20 && c < 0x7f) {
			*o++ = (char)c;
		} else {
			free(s);
			return NULL;
		}
	}
	*o = '\0';
	if ((size_t)(o - s) > QUEUE_MAX_ADDR) {
		free(s);
		return NULL;
	}
	return s;
}

static bool flag(const char *v, size_t n, bool *out)
{
	if (n != 1 || (v[0] != '0' && v[0] != '1'))
		return false;
	*out = v[0] == '1';
	return true;
}

void queue_file_free(struct queue_file *qf)
{
	free(qf->mail_from);
	for (size_t i = 0; i < qf->nrcpt; i++)
		free(qf->rcpts[i]);
	free(qf->rcpts);
	free(qf->state);
	qf->mail_from = NULL;
	qf->rcpts = NULL;
	qf->state = NULL;
	qf->nrcpt = 0;
}

static int parse(struct cur *c, const char *buf, struct queue_file *qf)
{
	const char *v;
	size_t n;
	uint64_t x;
	size_t cap = 0;

	if ((size_t)(c->end - c->p) < sizeof(MAGIC) - 1) {
		c->incomplete = memcmp(c->p, MAGIC, (size_t)(c->end - c->p)) == 0;
		return -EBADMSG;
	}
	if (memcmp(c->p, MAGIC, sizeof(MAGIC) - 1) != 0)
		return -EBADMSG;
	c->p += sizeof(MAGIC) - 1;

	if (!line(c, "id", &v, &n) || n != QUEUE_ID_LEN)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if (hexval(v[i]) < 0 || (v[i] >= 'A' && v[i] <= 'F'))
			return -EBADMSG;
	memcpy(qf->id, v, n);
	qf->id[n] = '\0';
	if (!line(c, "created", &v, &n) || !digits(v, n, 0, INT64_MAX, &x))
		return -EBADMSG;
	qf->created = (int64_t)x;
	if (!line(c, "from", &v, &n) || (qf->mail_from = xtext(v, n, true)) == NULL)
		return -EBADMSG;
	if (!line(c, "utf8", &v, &n) || !flag(v, n, &qf->smtputf8))
		return -EBADMSG;
	if (!line(c, "8bit", &v, &n) || !flag(v, n, &qf->body_8bit))
		return -EBADMSG;
	while (peek_key(c, "rcpt")) {
		char *a;
		if (!line(c, "rcpt", &v, &n) || qf->nrcpt == QUEUE_MAX_RCPTS ||
		    (a = xtext(v, n, false)) == NULL)
			return -EBADMSG;
		if (qf->nrcpt == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nv = realloc(qf->rcpts, ncap * sizeof(*nv));
			if (nv == NULL) {
				free(a);
				return -EBADMSG;
			}
			qf->rcpts = nv;
			cap = ncap;
		}
		qf->rcpts[qf->nrcpt++] = a;
	}
	if (qf->nrcpt == 0)
		return -EBADMSG;
	if (!line(c, "batch", &v, &n) || !digits(v, n, 0, QUEUE_MAX_BATCH, &x) || x == 0)
		return -EBADMSG;
	qf->batch_size = (unsigned)x;
	qf->nbatch = (qf->nrcpt + qf->batch_size - 1) / qf->batch_size;
	qf->sum_off = (size_t)(c->p - buf);
	if (!line(c, "sum", &v, &n) || n != 64)
		return -EBADMSG;
	for (int i = 0; i < 32; i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		qf->sum[i] = (unsigned char)(hi << 4 | lo);
	}
	if (!line(c, "body", &v, &n) || !digits(v, n, 0, INT64_MAX, &qf->body_len))
		return -EBADMSG;

	qf->mut_off = (size_t)(c->p - buf);
	if ((size_t)(c->end - c->p) < queue_file_mut_len(qf->nbatch)) {
		c->incomplete = true;
		return -EBADMSG;
	}
	if (!line(c, "state", &v, &n) || n != qf->nbatch ||
	    (qf->state = malloc(n + 1)) == NULL)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if (v[i] != QB_PENDING && v[i] != QB_DONE && v[i] != QB_FAILED)
			return -EBADMSG;
	memcpy(qf->state, v, n);
	qf->state[n] = '\0';
	if (!line(c, "attempts", &v, &n) || !digits(v, n, 10, UINT32_MAX, &x))
		return -EBADMSG;
	qf->attempts = (uint32_t)x;
	if (!line(c, "next", &v, &n) || !digits(v, n, 20, INT64_MAX, &x))
		return -EBADMSG;
	qf->next_attempt = (int64_t)x;
	if (!line(c, "hold", &v, &n) || !flag(v, n, &qf->held))
		return -EBADMSG;
	if (!line(c, "error", &v, &n) || n != QUEUE_ERROR_LEN)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return -EBADMSG;
	while (n > 0 && v[n - 1] == ' ')
		n--;
	memcpy(qf->error, v, n);
	qf->error[n] = '\0';
	if ((size_t)(c->end - c->p) < 4 || memcmp(c->p, "end\n", 4) != 0)
		return -EBADMSG;
	c->p += 4;
	qf->header_len = (size_t)(c->p - buf);
	return 0;
}

int queue_file_parse(const char *buf, size_t len, struct queue_file *qf)
{
	struct cur c = { buf, buf + len, false };
	int r;

	memset(qf, 0, sizeof(*qf));
	r = parse(&c, buf, qf);
	if (r) {
		queue_file_free(qf);
		memset(qf, 0, sizeof(*qf));
		if (c.incomplete && len < QUEUE_MAX_HEADER)
			return -EAGAIN;
	}
	return r;
}

int queue_file_verify(const struct queue_file *qf, const char *file, size_t len)
{
	unsigned char md[32];

	if (len < qf->header_len || len - qf->header_len != qf->body_len)
		return -EBADMSG;
	if (sha256_2(file, qf->sum_off, file + qf->header_len, qf->body_len, md) != 0)
		return -ENOMEM;
	return CRYPTO_memcmp(md, qf->sum, 32) == 0 ? 0 : -EBADMSG;
}
