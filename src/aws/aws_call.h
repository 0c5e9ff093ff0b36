/* The one AWS call path: every signed (or, for AssumeRoleWithWebIdentity,
 * unsigned) POST to an AWS service goes through here, whichever client
 * makes it (STS, SES, SESv2, the read-only calls of `check`):
 *
 *   aws_target_init()  endpoint + API path + region + service -> the URL
 *                      requested and the Host and path signed (aws_url)
 *   aws_call_send()    SigV4 on the AWS clock (aws_clock), POST via the
 *                      http_client
 *   aws_call_error()   the AWS error of the answer, or of the transport
 *
 * The clock is the SDKs' clock-skew correction: STS's Date headers tell
 * how far AWS's clock is from ours (aws_clock_observe), and every request
 * is signed on AWS's clock, so a host whose clock is off still gets its
 * requests accepted.
 *
 * Ownership: struct aws_target and struct aws_clock are plain values
 * owned by whoever embeds them. aws_call_send() borrows everything in the
 * request; the body must stay valid until the callback runs or the call
 * is cancelled (http_client rules). The signed header lines are copied by
 * curl and wiped here before aws_call_send() returns.
 */
#ifndef SESRELAY_AWS_CALL_H
#define SESRELAY_AWS_CALL_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "aws_creds.h"
#include "aws_endpoint.h"
#include "aws_url.h"
#include "http_client.h"
#include "sigv4.h"

struct aws_target {
	char url[AWS_URL_MAX];		/* requested */
	char host[AWS_HOST_MAX];	/* signed Host: host[:port] */
	char path[AWS_URL_MAX];		/* signed path: endpoint prefix + API path */
	char region[AWS_REGION_MAX];
	char service[16];		/* SigV4 service name: "sts", "ses" */
};

/* api_path is appended to the endpoint's own path ("" for none). -EINVAL
 * when the endpoint is not an http(s) URL or something does not fit. */
int aws_target_init(struct aws_target *t, const char *endpoint, const char *api_path,
	const char *region, const char *service);

struct aws_clock {
	atomic_long skew;		/* AWS's clock - ours, seconds; shared across threads */
};

/* Our clock corrected by the last observed skew; time(NULL) when c is NULL. */
time_t aws_clock_now(const struct aws_clock *c);
long aws_clock_skew(const struct aws_clock *c);
/* Record the server's Date (0: none, ignored). Returns the previous skew.
 * Differences of up to 2 s are the Date header's resolution: 0. */
long aws_clock_observe(struct aws_clock *c, time_t server_date);

struct aws_call_req {
	const char *method;		/* NULL: "POST"; "GET" for the read-only SESv2 calls */
	const struct aws_target *target;
	const struct aws_creds *creds;	/* NULL: sent unsigned */
	const struct aws_clock *clock;	/* NULL: our clock */
	struct sigv4_key *key;		/* derived-key cache; may be NULL */
	const char *content_type;
	const char *body;
	size_t body_len;
	const char *payload_hash;	/* hex SHA-256 of body; NULL: computed here */
	unsigned timeout_ms;
	unsigned connect_timeout_ms;
	size_t max_response;
};

/* Returns 0 and calls cb once later, or a negative code and never cb. */
int aws_call_send(struct http_client *http, const struct aws_call_req *req, http_done_cb cb,
	void *arg, struct http_call **out);

/* 0 when AWS answered 200. Otherwise fills why (step left empty) and
 * returns res->error for a transport failure (code "Timeout" or
 * "NetworkError", message curl's text) or -EACCES for an AWS error
 * answer (aws_error_parse). */
int aws_call_error(const struct http_response *res, struct aws_error *why);

#endif
