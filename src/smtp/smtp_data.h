/* Message body decoder for DATA (RFC 5321 §4.5.2) and BDAT (RFC 3030).
 * Pure: feed it the bytes as they arrive, in chunks of any size; it
 * appends the message (dot-unstuffed, CRLF line endings) to an output
 * buffer and says where the message ended.
 *
 * DATA ends ONLY at <CRLF>.<CRLF> (the first CRLF may be the one that
 * ended the DATA command). <LF>.<LF>, <LF>.<CRLF>, <CRLF>.<LF> and
 * <CR>.<CR> are ordinary data, so a client can never make us see a
 * different message boundary than a strict receiver downstream would
 * ("SMTP smuggling").
 *
 * A NUL byte is an error in DATA and BDAT text (BINARYMIME is not
 * offered): the message is refused once its data has been read.
 *
 * A bare LF or bare CR is, depending on the configuration, recorded as an
 * error (the transaction is refused with 550 5.6.2 once the data has been
 * read to its end) or normalized to CRLF. A dot right after a bare line
 * end is kept as data: only CRLF starts a line that can be dot-stuffed.
 *
 * Limits (size, line length) never stop the decoder: after the first
 * error it keeps scanning for the end marker but emits nothing more, so
 * the reply can be sent at the right moment and the session stays in sync.
 *
 * Ownership: struct smtp_data holds no heap memory; the output buffer
 * belongs to the caller.
 */
#ifndef SESRELAY_SMTP_DATA_H
#define SESRELAY_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "smtp_parse.h"

enum smtp_data_mode {
	SMTP_DATA_DOT,		/* DATA: dot-stuffed, ends at CRLF.CRLF */
	SMTP_DATA_BDAT,		/* BDAT text: exact counts, line rules apply */
	SMTP_DATA_BINARY,	/* BDAT with BODY=BINARYMIME: bytes as they are */
};

enum smtp_data_error {
	SMTP_DATA_OK = 0,
	SMTP_DATA_TOO_BIG,
	SMTP_DATA_LINE_TOO_LONG,
	SMTP_DATA_BARE_LF,
	SMTP_DATA_NUL,		/* a NUL byte (not BINARYMIME): 550 5.6.1 after the data */
	SMTP_DATA_NOMEM,
};

struct smtp_data_limits {
	uint64_t max_size;	/* decoded octets */
	unsigned max_line;	/* octets per line, without CRLF; 0: none */
	bool normalize_bare;	/* false: bare CR/LF is an error */
};

struct smtp_data {
	struct smtp_data_limits lim;
	enum smtp_data_mode mode;
	int state;
	uint64_t size;		/* decoded octets so far (counted past the limit too) */
	uint64_t line;		/* octets in the current line */
	enum smtp_data_error err;
	bool done;		/* DATA: end marker read */
};

void smtp_data_init(struct smtp_data *d, const struct smtp_data_limits *lim,
	enum smtp_data_mode mode);
/* Decode up to n bytes, appending the message to *out while no error has
 * been recorded. Returns the number of bytes consumed: in DOT mode it
 * stops right after the end marker (d->done is then true) and the rest
 * belongs to the next command; in BDAT modes it consumes everything. */
size_t smtp_data_feed(struct smtp_data *d, const char *p, size_t n, struct buf *out);
/* BDAT LAST: settle a CR left pending at the very end. */
void smtp_data_finish(struct smtp_data *d, struct buf *out);
/* The reply for an error. */
const struct smtp_reply *smtp_data_error_reply(enum smtp_data_error e);

#endif
