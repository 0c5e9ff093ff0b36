#include "smtp_data.h"

#include <string.h>

enum {
	ST_BOL,		/* after a real CRLF (or the DATA command): dot rules apply */
	ST_TEXT,	/* inside a line, or after a bare line end */
	ST_CR,		/* CR seen, not yet known whether LF follows */
	ST_DOT,		/* "." at a real line start */
	ST_DOT_CR,	/* ".\r" at a real line start */
};

static const struct smtp_reply r_too_big = { 552, "5.3.4", "Message size exceeds fixed maximum message size" };
static const struct smtp_reply r_line = { 500, "5.5.2", "Line too long" };
static const struct smtp_reply r_bare = { 550, "5.6.2", "Bare CR or LF in message data is not allowed; use CRLF line endings" };
/* RFC 5321 §2.3.8 / RFC 3030: NUL is binary, and BINARYMIME is not offered. */
static const struct smtp_reply r_nul = { 550, "5.6.1", "NUL bytes in message data are not allowed" };
static const struct smtp_reply r_nomem = { 451, "4.3.0", "Temporary failure: out of memory" };

const struct smtp_reply *smtp_data_error_reply(enum smtp_data_error e)
{
	switch (e) {
	case SMTP_DATA_TOO_BIG: return &r_too_big;
	case SMTP_DATA_LINE_TOO_LONG: return &r_line;
	case SMTP_DATA_BARE_LF: return &r_bare;
	case SMTP_DATA_NUL: return &r_nul;
	case SMTP_DATA_NOMEM: return &r_nomem;
	case SMTP_DATA_OK: break;
	}
	return NULL;
}

void smtp_data_init(struct smtp_data *d, const struct smtp_data_limits *lim,
	enum smtp_data_mode mode)
{
	memset(d, 0, sizeof(*d));
	d->lim = *lim;
	d->mode = mode;
	d->state = ST_BOL;
}

static void set_err(struct smtp_data *d, enum smtp_data_error e)
{
	if (d->err == SMTP_DATA_OK)
		d->err = e;
}

static void emit(struct smtp_data *d, struct buf *out, const char *p, size_t n)
{
	if (d->size + n > d->lim.max_size)
		set_err(d, SMTP_DATA_TOO_BIG);
	d->size += n;
	if (d->err == SMTP_DATA_OK && buf_append(out, p, n) != 0)
		set_err(d, SMTP_DATA_NOMEM);
}

static void add_line(struct smtp_data *d, size_t n)
{
	d->line += n;
	if (d->lim.max_line && d->line > d->lim.max_line)
		set_err(d, SMTP_DATA_LINE_TOO_LONG);
}

/* Ordinary bytes. Which error comes first must not depend on how the
 * input was split into reads, so find the byte that breaks each. */
static void text_run(struct smtp_data *d, struct buf *out, const char *p, size_t n)
{
	uint64_t line_at = n, size_at = n, nul_at = n;
	const char *z = memchr(p, '\0', n);

	if (d->lim.max_line && d->line + n > d->lim.max_line)
		line_at = d->line >= d->lim.max_line ? 0 : d->lim.max_line - d->line;
	if (d->size + n > d->lim.max_size)
		size_at = d->size >= d->lim.max_size ? 0 : d->lim.max_size - d->size;
	if (z)
		nul_at = (uint64_t)(z - p);
	if (nul_at < n && nul_at < line_at && nul_at < size_at)
		set_err(d, SMTP_DATA_NUL);
	else if (line_at < n && line_at <= size_at)
		set_err(d, SMTP_DATA_LINE_TOO_LONG);
	else if (size_at < n)
		set_err(d, SMTP_DATA_TOO_BIG);
	d->line += n;
	emit(d, out, p, n);
}

/* A CR or LF that is not part of a CRLF pair. */
static void bare(struct smtp_data *d, struct buf *out)
{
	if (d->lim.normalize_bare)
		emit(d, out, "\r\n", 2);
	else
		set_err(d, SMTP_DATA_BARE_LF);
	d->line = 0;
	d->state = ST_TEXT;
}

size_t smtp_data_feed(struct smtp_data *d, const char *p, size_t n, struct buf *out)
{
	size_t i = 0;

	if (d->done)
		return 0;
	if (d->mode == SMTP_DATA_BINARY) {
		emit(d, out, p, n);
		return n;
	}
	while (i < n) {
		char c = p[i];

		switch (d->state) {
		case ST_BOL:
			if (c == '.' && d->mode == SMTP_DATA_DOT) {
				d->state = ST_DOT;
				add_line(d, 1);
				i++;
				break;
			}
			d->state = ST_TEXT;
			break;		/* same byte, as text */
		case ST_TEXT:
			if (c == '\r') {
				d->state = ST_CR;
				i++;
			} else if (c == '\n') {
				bare(d, out);
				i++;
			} else {
				size_t j = i + 1;
				while (j < n && p[j] != '\r' && p[j] != '\n')
					j++;
				text_run(d, out, p + i, j - i);
				i = j;
			}
			break;
		case ST_CR:
			if (c == '\n') {
				emit(d, out, "\r\n", 2);
				d->line = 0;
				d->state = ST_BOL;
				i++;
			} else {
				bare(d, out);	/* then the same byte, as text */
			}
			break;
		case ST_DOT:
			if (c == '\r') {
				d->state = ST_DOT_CR;
				i++;
			} else if (c == '\n') {
				/* ".\n": a lone dot, then a bare LF; not the end. */
				emit(d, out, ".", 1);
				bare(d, out);
				i++;
			} else {
				/* Stuffed dot: drop it, the byte is text. */
				d->state = ST_TEXT;
			}
			break;
		case ST_DOT_CR:
			if (c == '\n') {
				d->done = true;
				return i + 1;
			}
			emit(d, out, ".", 1);
			bare(d, out);		/* then the same byte, as text */
			break;
		}
	}
	return n;
}

void smtp_data_finish(struct smtp_data *d, struct buf *out)
{
	if (d->mode != SMTP_DATA_BINARY && d->state == ST_CR)
		bare(d, out);
}
