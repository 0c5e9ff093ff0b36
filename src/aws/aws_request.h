/* The headers of one SigV4-signed AWS POST, in the form the HTTP client
 * takes ("Name: value" lines). Shared by every signed call (STS, SES,
 * SESv2) so the set of signed headers is decided once: host, x-amz-date,
 * content-type and, for temporary credentials, x-amz-security-token.
 * Nothing else is signed on purpose: proxies and emulators drop or
 * rewrite user-agent, expect and connection headers.
 *
 * Ownership: struct aws_signed_headers owns its line storage and wipes it
 * (it holds the session token) in aws_signed_headers_free().
 */
#ifndef SESRELAY_AWS_REQUEST_H
#define SESRELAY_AWS_REQUEST_H

#include <stddef.h>
#include <time.h>

#include "aws_creds.h"
#include "buf.h"
#include "sigv4.h"

#define AWS_SIGNED_MAX_LINES 8

struct aws_signed_headers {
	struct buf store;
	const char *lines[AWS_SIGNED_MAX_LINES + 1];	/* NULL-terminated */
	size_t n;
};

struct aws_post {
	const char *method;		/* NULL: "POST"; "GET" (no body, no content type) */
	const char *host;		/* authority as in the URL: host[:port] */
	const char *path;
	const char *region;
	const char *service;
	const char *content_type;	/* NULL: none (a GET) */
	const char *payload_hash;	/* hex SHA-256 of the body */
};

/* key caches the derived signing key across calls (may be NULL). */
int aws_sign_post(const struct aws_post *p, const struct aws_creds *creds, time_t now,
	struct sigv4_key *key, struct aws_signed_headers *out);
void aws_signed_headers_free(struct aws_signed_headers *h);

#endif
