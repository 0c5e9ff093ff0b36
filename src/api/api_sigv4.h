/* SigV4 verification of API callers (`api_auth sigv4`): the check AWS
 * makes of a request's Authorization header, against the clients file's
 * key pairs. Pure: the clock and the body's hash are arguments.
 *
 * What it insists on, as AWS does: the AWS4-HMAC-SHA256 algorithm; a
 * credential scope date equal to X-Amz-Date's day; X-Amz-Date within 15
 * minutes of now; `host` and `x-amz-date` among the signed headers, every
 * signed header present; a known access key id; the signature recomputed
 * over the body as received (the caller's x-amz-content-sha256 is not
 * trusted) and compared in constant time. The scope's service must be the
 * one the route expects ("ses" for SES and SESv2, "mobiletargeting" for
 * Pinpoint); its region is the caller's business.
 *
 * Ownership: nothing is kept; the secret returned by the lookup is
 * borrowed for the call.
 */
#ifndef SESRELAY_API_SIGV4_H
#define SESRELAY_API_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "http_parse.h"
#include "sigv4.h"

#define API_SIGV4_MAX_SKEW 900		/* seconds either way, as AWS allows */
#define API_SIGV4_MAX_KEY_ID 128

enum api_sigv4_verdict {
	API_SIGV4_OK,
	API_SIGV4_MISSING,		/* no Authorization: MissingAuthenticationToken */
	API_SIGV4_INCOMPLETE,		/* malformed header or scope: IncompleteSignature */
	API_SIGV4_UNKNOWN_KEY,		/* InvalidClientTokenId */
	API_SIGV4_MISMATCH,		/* SignatureDoesNotMatch */
	API_SIGV4_EXPIRED,		/* RequestExpired */
};

/* The secret of key id[0..n), or NULL when the key is unknown. */
typedef const char *(*api_sigv4_secret_fn)(void *arg, const char *id, size_t n);

struct api_sigv4_caller {
	char key_id[API_SIGV4_MAX_KEY_ID + 1];	/* set from UNKNOWN_KEY on */
	char region[32];
	char service[32];
};

/* Verify req (its head; payload_hash: hex SHA-256 of its body) signed for
 * service at time now. Returns the verdict (API_SIGV4_OK: caller filled)
 * or -ENOMEM. why (may be NULL) gets a message for the caller that never
 * holds secret material. */
int api_sigv4_verify(const struct http_request *req, const char *payload_hash,
	const char *service, time_t now, api_sigv4_secret_fn secret_of, void *arg,
	struct api_sigv4_caller *caller, char *why, size_t whylen);
/* The same with a derived-key cache (sigv4_key_get: one per connection
 * saves the HMAC chain on every request of a kept-alive caller). */
int api_sigv4_verify_cached(const struct http_request *req, const char *payload_hash,
	const char *service, time_t now, api_sigv4_secret_fn secret_of, void *arg,
	struct sigv4_key *key, struct api_sigv4_caller *caller, char *why, size_t whylen);

/* The AWS error code of a verdict ("SignatureDoesNotMatch" ...). */
const char *api_sigv4_code(enum api_sigv4_verdict v);

#endif
