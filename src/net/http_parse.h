/* The one HTTP/1.1 request parser of the process (RFC 9112, strictly):
 * CRLF line ends only, single spaces in the request line, origin-form
 * targets, no obs-fold, no whitespace before a field's colon, exactly one
 * Host in HTTP/1.1, Content-Length bodies only (Transfer-Encoding is
 * refused, so there is no chunked/length ambiguity to smuggle through).
 * The admin endpoint (no bodies) and the API front (bodies up to the
 * API's limit) use it with their own bounds.
 *
 * Pure: no loop, no clock, no allocation; fuzzed. Bytes that make a head
 * invalid are refused as soon as they are seen, not when the head ends,
 * so a client cannot hold a connection by trickling a head that is
 * already wrong.
 *
 * Ownership: struct http_request points into the caller's buffer (the
 * target and every field), which must outlive its use.
 */
#ifndef SESRELAY_HTTP_PARSE_H
#define SESRELAY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_METHOD 32		/* longer method token: 400 */
#define HTTP_MAX_FIELDS 128		/* ceiling of http_limits.max_fields */

struct http_limits {
	size_t max_head;		/* request line + fields + blank line; over: 431 (414 in the line) */
	size_t max_target;		/* request-target; over: 414 */
	unsigned max_fields;		/* field lines (<= HTTP_MAX_FIELDS); over: 431 */
	uint64_t max_body;		/* Content-Length; over: 413. 0: no body at all */
};

struct http_field {
	const char *name;		/* not NUL-terminated */
	size_t name_len;
	const char *value;		/* trimmed of leading and trailing blanks */
	size_t value_len;
};

struct http_request {
	char method[HTTP_MAX_METHOD + 1];
	const char *target;		/* origin-form, starts with '/' */
	size_t target_len;
	size_t path_len;		/* the target up to '?' */
	int version;			/* 10 or 11 */
	struct http_field fields[HTTP_MAX_FIELDS];
	unsigned nfields;
	uint64_t content_length;	/* 0 without Content-Length */
	bool keep_alive;		/* the connection may serve another request */
	bool expect_continue;		/* "Expect: 100-continue" */
};

/* Parse the request head at the start of buf[0..len). Returns the head's
 * length (> 0) once a complete, valid head is there; 0 when more bytes
 * are needed; or a negative HTTP status to answer with: -400 malformed,
 * -413 body over max_body (or any body when max_body is 0), -414 target
 * too long, -417 an Expect other than 100-continue, -431 head too large,
 * -501 Transfer-Encoding (a body announced with max_body 0: -413), -505
 * version. */
int http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
	struct http_request *req);

/* The first field named name (any case), or NULL. */
const struct http_field *http_field_find(const struct http_request *req, const char *name);
/* Is field f named name (any case)? */
bool http_field_is(const struct http_field *f, const char *name);

#endif
