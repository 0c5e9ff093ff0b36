/* AWS STS over the Query API (Version 2011-06-15): POST form bodies,
 * SigV4 service "sts", XML answers.
 *
 * Signed headers are exactly host;x-amz-date;content-type and, with
 * temporary signing credentials, x-amz-security-token: headers that some
 * verifiers drop before recomputing (user-agent, expect, ...) are never
 * signed.
 *
 * Ownership: struct sts_client borrows the http_client (which must
 * outlive it) and copies endpoint and region. Signing credentials and
 * parameters are only read during the call that takes them. A struct
 * sts_call belongs to the client until its callback returns;
 * sts_call_cancel() before that frees it and the callback never runs
 * (from inside the callback it does nothing).
 * sts_client_free() requires no call in flight.
 *
 * Errors: the callback gets err < 0 and `why` filled: step ("AssumeRole",
 * "GetCallerIdentity", "AssumeRoleWithWebIdentity"), HTTP status, AWS code
 * and message, and retryable (throttling, 5xx, network trouble).
 * Transport failures have code "Timeout" or "NetworkError"; a 200 whose
 * body cannot be read has "InvalidResponse".
 */
#ifndef SESRELAY_STS_CLIENT_H
#define SESRELAY_STS_CLIENT_H

#include <stddef.h>

#include "aws_creds.h"

struct aws_clock;
struct http_client;
struct sts_client;
struct sts_call;

int sts_client_new(struct http_client *http, const char *endpoint, const char *region,
	unsigned timeout_ms, struct sts_client **out);
void sts_client_free(struct sts_client *s);

struct sts_assume_role_params {
	const char *role_arn;
	const char *session_name;	/* 2..64 of [\w+=,.@-] */
	const char *external_id;	/* NULL: none */
	unsigned duration;		/* seconds; 0: STS default */
};

/* AssumeRole signed with `signer`. The callback's creds (borrowed; ref to
 * keep) carry expiration, arn = AssumedRoleUser Arn, account_id = the
 * account in that ARN, source "assume_role", verified = false: the ARN is
 * what STS reports, not yet proven by a call made with the new keys. */
int sts_assume_role(struct sts_client *s, const struct aws_creds *signer,
	const struct sts_assume_role_params *p, creds_cb cb, void *arg,
	struct sts_call **out);

struct sts_identity {
	char account[32];
	char arn[512];
	char user_id[256];
};

/* identity is borrowed for the callback, NULL when err != 0. */
typedef void (*sts_identity_cb)(void *arg, int err, const struct sts_identity *identity,
	const struct aws_error *why);

int sts_get_caller_identity(struct sts_client *s, const struct aws_creds *signer,
	sts_identity_cb cb, void *arg, struct sts_call **out);

/* AssumeRoleWithWebIdentity: unsigned, the token is the proof. Creds as for
 * sts_assume_role() but with source "web_identity". */
int sts_assume_role_with_web_identity(struct sts_client *s, const char *role_arn,
	const char *session_name, const char *web_identity_token,
	creds_cb cb, void *arg, struct sts_call **out);

void sts_call_cancel(struct sts_call *c);

/* Seconds the STS clock is ahead of ours (negative: behind), from the
 * Date header of the last answer; 0 until then. Requests are signed on
 * the STS clock, and credential expirations are converted to our clock. */
long sts_client_clock_skew(const struct sts_client *s);
/* That clock, for every other AWS call (SES, `check`): lives as long as s. */
const struct aws_clock *sts_client_clock(const struct sts_client *s);

/* Pure parsers (exposed for tests). Credentials from an AssumeRole* result
 * body: -EINVAL with why filled when a field is missing or malformed. */
int sts_parse_credentials(const char *body, size_t len, const char *source,
	struct aws_creds **out, struct aws_error *why);
int sts_parse_identity(const char *body, size_t len, struct sts_identity *id,
	struct aws_error *why);
/* Account ID (12 digits) from "arn:<partition>:<service>::<account>:..." */
int sts_arn_account(const char *arn, char *out, size_t outlen);

#endif
