/* The queue file format (version 1): one file per queued message, a
 * header of text lines, then the message exactly as it was received.
 *
 *	sesrelay-queue 1
 *	id 0192c4e1a2b3c4d5e6f7		queue id
 *	created 1764979200		Unix seconds
 *	from <xtext>			envelope sender ("" for <>)
 *	utf8 0|1			SMTPUTF8 was given
 *	8bit 0|1			BODY=8BITMIME was given
 *	rcpt <xtext>			one line per recipient, 1..QUEUE_MAX_RCPTS
 *	batch 50			recipients per SES call
 *	sum <sha256 hex>		of every byte above this line, then the body
 *	body <octets>			length of the message after "end"
 *	state PPD			one byte per batch: P pending, D accepted, F failed
 *	attempts 0000000003		delivery rounds so far
 *	next 00000000001764979260	earliest next attempt, Unix seconds
 *	hold 0|1			held by the operator
 *	error <QUEUE_ERROR_LEN bytes>	last reply, printable ASCII, space padded
 *	end
 *	<message>
 *
 * xtext: octets outside 0x21..0x7e and '%' are written %XX, so the header
 * is plain ASCII and a line end can never come from an address.
 *
 * Everything from "state" to "end" is the mutable region: its length is
 * fixed by the number of batches, so a state change is one pwrite() of
 * the region at the same offset, never a rewrite of the message. Every
 * byte in it is either the old or the new value after a torn write, and
 * any mix of old and new still parses (digits stay digits, states stay
 * states), so a crash in the middle of an update never makes a file
 * unreadable. What cannot change is covered by `sum`; the file's length
 * must be the header's plus `body`.
 *
 * Everything here is pure (no I/O, no clock) and fuzzed.
 *
 * Ownership: struct queue_file owns mail_from, rcpts (each and the array)
 * and state; queue_file_free() releases them.
 */
#ifndef SESRELAY_QUEUE_FILE_H
#define SESRELAY_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define QUEUE_FILE_VERSION 1
#define QUEUE_MAX_RCPTS 1000
#define QUEUE_MAX_BATCH 50		/* SES's limit of destinations per call */
#define QUEUE_ID_LEN 20			/* hex digits */
#define QUEUE_ERROR_LEN 200
#define QUEUE_MAX_ADDR 1024		/* decoded octets of one address */
#define QUEUE_MAX_HEADER (4u << 20)	/* a header longer than this is corrupt */

enum queue_batch_state { QB_PENDING = 'P', QB_DONE = 'D', QB_FAILED = 'F' };

struct queue_file {
	char id[QUEUE_ID_LEN + 1];
	int64_t created;
	char *mail_from;		/* "" for <> */
	char **rcpts;
	size_t nrcpt;
	bool smtputf8, body_8bit;
	unsigned batch_size;
	size_t nbatch;			/* ceil(nrcpt / batch_size) */
	unsigned char sum[32];
	uint64_t body_len;
	/* the mutable region */
	char *state;			/* nbatch bytes, NUL-terminated */
	uint32_t attempts;
	int64_t next_attempt;
	bool held;
	char error[QUEUE_ERROR_LEN + 1];	/* trailing spaces removed */
	/* layout */
	size_t sum_off;			/* where the "sum" line starts (end of summed header) */
	size_t mut_off;			/* where the mutable region starts */
	size_t header_len;		/* the body starts here */
};

/* Parse the header at the start of buf[0..len). Returns 0 with *qf filled
 * (the caller frees it), -EAGAIN when the header is not complete yet (and
 * len < QUEUE_MAX_HEADER), or -EBADMSG when it is not a valid version 1
 * header (*qf then holds nothing to free). */
int queue_file_parse(const char *buf, size_t len, struct queue_file *qf);

/* Check a whole file: its length is header_len + body_len and the sum
 * matches. 0 or -EBADMSG. */
int queue_file_verify(const struct queue_file *qf, const char *file, size_t len);

/* What a new queue file records about its message. */
struct queue_meta {
	const char *id;			/* QUEUE_ID_LEN hex digits */
	int64_t created;
	const char *mail_from;		/* "" for <> */
	const char *const *rcpts;
	size_t nrcpt;			/* 1..QUEUE_MAX_RCPTS */
	bool smtputf8, body_8bit;
	unsigned batch_size;		/* 1..QUEUE_MAX_BATCH */
};

/* The whole header of a new file for this body (every batch pending, no
 * attempt yet, due at `created`) into out. 0, -EINVAL (bad meta) or
 * -ENOMEM. */
int queue_file_build(struct buf *out, const struct queue_meta *m, const void *body,
	size_t body_len);
/* Length of the mutable region for nbatch batches. */
size_t queue_file_mut_len(size_t nbatch);
/* Write the mutable region of qf (state, attempts, next_attempt, held,
 * error) into out[0..queue_file_mut_len(qf->nbatch)). */
void queue_file_mut_render(const struct queue_file *qf, char *out);
/* Offset in the file of the hold flag's one byte. */
size_t queue_file_hold_off(const struct queue_file *qf);
/* Set qf->error from any text: non-printable octets become '?', cut at
 * QUEUE_ERROR_LEN. */
void queue_file_set_error(struct queue_file *qf, const char *text);

/* Batch b covers rcpts [b * batch_size, min(nrcpt, (b + 1) * batch_size)). */
static inline size_t queue_batch_first(const struct queue_file *qf, size_t b)
{
	return b * qf->batch_size;
}
static inline size_t queue_batch_count(const struct queue_file *qf, size_t b)
{
	size_t first = b * qf->batch_size;
	return qf->nrcpt - first < qf->batch_size ? qf->nrcpt - first : qf->batch_size;
}

void queue_file_free(struct queue_file *qf);

#endif
