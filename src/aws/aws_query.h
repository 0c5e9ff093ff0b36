/* AWS Query API request bodies (application/x-www-form-urlencoded).
 *
 * The encoding is exactly Python's urllib.parse.urlencode (quote_plus):
 * A-Z a-z 0-9 _ . - ~ unchanged, space as '+', every other byte as %XX
 * with uppercase hex. AWS accepts any valid encoding, but emulators that
 * re-encode the parsed form before checking the signature (moto) only
 * accept this one, so it is the only one we produce.
 *
 * The SES raw message goes through a streaming encoder: raw bytes in, in
 * any chunking, base64 (optionally form-encoded) out, appended to a
 * caller's buffer and optionally fed to the payload hash as it is made,
 * so a 10 MB message is encoded and hashed in one pass.
 *
 * Ownership: nothing here owns memory. struct aws_b64_stream borrows `out`
 * and `hash` until aws_b64_stream_final().
 */
#ifndef SESRELAY_AWS_QUERY_H
#define SESRELAY_AWS_QUERY_H

#include <stddef.h>

#include "buf.h"
#include "sigv4.h"

/* Append n bytes form-encoded. */
int aws_query_escape(struct buf *out, const void *p, size_t n);
/* Length aws_query_escape() would append. */
size_t aws_query_escaped_len(const void *p, size_t n);

/* Append "key=value", preceded by '&' unless out is empty: out must hold
 * nothing but the form body being built. */
int aws_query_add(struct buf *out, const char *key, const char *value);
int aws_query_add_n(struct buf *out, const char *key, const void *value, size_t n);

/* A form body's parameters, decoded ('+' is a space, %XX a byte), in
 * the order given; for the API front, which reads what SDKs send.
 * Ownership: struct aws_form owns one copy of the decoded text that every
 * key and value points into; aws_form_free(). */
struct aws_form_param {
	const char *key;
	const char *value;
	size_t value_len;		/* values may hold NUL bytes */
};

struct aws_form {
	struct aws_form_param *v;
	size_t n;
	char *text;
};

/* Parse body[0..len) into f: at most max_params parameters. -EINVAL for a
 * malformed %-escape, a parameter without '=', an empty or repeated key,
 * a key with a NUL, or more than max_params; -ENOMEM. */
int aws_form_parse(const char *body, size_t len, size_t max_params, struct aws_form *f);
/* The value of key, or NULL. */
const struct aws_form_param *aws_form_get(const struct aws_form *f, const char *key);
void aws_form_free(struct aws_form *f);

/* Exact base64 length (no newlines) of raw_len bytes; SIZE_MAX on overflow. */
size_t aws_b64_len(size_t raw_len);
/* Upper bound of the form-encoded base64 length of raw_len bytes (every
 * character escaped); SIZE_MAX on overflow. */
size_t aws_query_b64_len_max(size_t raw_len);
/* Exact form-encoded base64 length of these bytes (scans them). */
size_t aws_query_b64_len(const void *raw, size_t n);

enum aws_b64_mode {
	AWS_B64_PLAIN,		/* base64 as is: fits in a JSON string unescaped */
	AWS_B64_FORM,		/* base64 with '+' '/' '=' as %2B %2F %3D */
};

struct aws_b64_stream {
	struct buf *out;		/* borrowed: output is appended here */
	struct sigv4_hash *hash;	/* borrowed, or NULL: fed every byte appended */
	enum aws_b64_mode mode;
	unsigned char carry[3];		/* input not yet a whole 3-byte group */
	size_t ncarry;
	size_t raw_len;			/* raw bytes consumed so far */
	size_t out_len;			/* bytes appended so far */
	int err;			/* first error; sticky */
};

void aws_b64_stream_init(struct aws_b64_stream *s, enum aws_b64_mode mode,
	struct buf *out, struct sigv4_hash *hash);
int aws_b64_stream_update(struct aws_b64_stream *s, const void *p, size_t n);
/* Flush the last group with its padding. The stream is then spent. */
int aws_b64_stream_final(struct aws_b64_stream *s);

#endif
