/* Growable byte buffer.
 *
 * Ownership: a struct buf owns `data` (heap, may be NULL while cap == 0).
 * buf_free() releases it; buf_free_secret() wipes it first, for buffers
 * that held credentials or passwords. `data` is always NUL-terminated when
 * cap > 0 so it can be handed to C string functions, but `len` is
 * authoritative: bodies may contain NULs.
 */
#ifndef SESRELAY_BUF_H
#define SESRELAY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
/* Make room for `extra` more bytes (+ the NUL). Returns 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Drop the first n bytes, keeping the rest. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
void buf_free_secret(struct buf *b);
/* Hand the storage to the caller (NUL-terminated, never NULL on success). */
char *buf_steal(struct buf *b);

#endif
