/* One SES send: sign the prepared body with the verified shared-account
 * credentials from the cache, POST it, read the answer, and turn it into
 * the SMTP reply (ses_client_send) or hand it back as SES gave it, for
 * the API front (ses_client_forward). Retries happen here and only where they cannot send a
 * message twice: a throttled or 5xx answer (SES did not accept it), a
 * network failure before the body went out, and once after SES refused
 * credentials we believed valid (with fresh ones).
 *
 * The shared-account identity (credentials cache, STS clock, SES endpoint
 * and region, timeout and retries) is read from an identity_slot when a
 * send starts, and the send holds a reference to it until it ends: a
 * reload that switches the slot never changes a send in flight, and
 * every send that starts afterwards uses the new identity.
 *
 * Ownership: struct ses_client is created per event loop and borrows the
 * HTTP client and the identity slot, which must outlive it (the
 * identity's cache may belong to another loop: see creds_elsewhere). A
 * struct ses_send is owned by the client until its callback returned or
 * ses_send_cancel() was called; the body is borrowed until then.
 */
#ifndef SESRELAY_SES_CLIENT_H
#define SESRELAY_SES_CLIENT_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"
#include "delivery.h"
#include "ses_message.h"

struct http_client;
struct ses_governor;
struct identity_slot;
struct ses_send;

struct ses_client_opts {
	enum ses_api api;
	unsigned backoff_ms;		/* first retry delay; doubles, with jitter */
	bool soft_bounce;		/* AWS's 5xx answered as 4xx (ses_error_reply) */
	/* The cache runs on another thread's loop (a worker): its waiting
	 * calls are not ours to make, so with no credentials held the send
	 * polls creds_cache_current() for up to timeout_ms, and fails at once
	 * while the cache is backing off after a failed refresh. */
	bool creds_elsewhere;
	/* The process's send-rate governor (borrowed; NULL: none). A send
	 * waits for its recipients' tokens at most rate_wait_ms, else it
	 * fails with SendRateLimited (or DailyQuotaPaused) before anything
	 * is sent. Throttling answers are reported to it. */
	struct ses_governor *governor;
	unsigned rate_wait_ms;
};

struct ses_client;

int ses_client_new(uv_loop_t *loop, struct http_client *http, struct identity_slot *slot,
	const struct ses_client_opts *opts, struct ses_client **out);
void ses_client_free(struct ses_client *c);

/* Returns 0 and calls cb once, or a negative code and never cb. session
 * names the SMTP session in the log lines (copied; NULL: none). */
int ses_client_send(struct ses_client *c, struct ses_body *body, const char *session,
	delivery_done_cb cb, void *arg, struct ses_send **out);

/* A request of the API front, prepared under the caller's policy and sent
 * as it is (SES v1 form, SESv2 JSON or a GET), with the same identity,
 * connections and retry rules as SMTP mail. Borrowed until the callback. */
struct ses_forward_req {
	const char *method;		/* "POST" or "GET" */
	const char *path;		/* API path: "/", "/v2/email/outbound-emails" ... */
	const char *content_type;	/* NULL for a GET */
	const char *body;
	size_t body_len;
	const char *payload_hash;	/* hex SHA-256 of body */
	size_t ndestinations;		/* recipients, for the send-rate governor (0: 1) */
};

/* SES's answer to pass back to the caller, valid during the callback. */
struct ses_forward_result {
	int status;			/* SES's HTTP status; 0: no answer */
	const char *body;		/* SES's answer body */
	size_t body_len;
	const char *request_id;		/* x-amzn-RequestId, or NULL */
	const char *error_type;		/* x-amzn-ErrorType, or NULL */
	char code[64];			/* AWS or transport error code; "" on 200 */
	char message[256];
	/* No answer, and the body may have reached SES: the outcome is not
	 * known, so the caller must not be invited to send again. */
	bool outcome_unknown;
	double seconds;			/* time in HTTP calls, retries included */
};

typedef void (*ses_forward_cb)(void *arg, const struct ses_forward_result *res);

/* Returns 0 and calls cb once, or a negative code and never cb. */
int ses_client_forward(struct ses_client *c, const struct ses_forward_req *req, ses_forward_cb cb,
	void *arg, struct ses_send **out);
void ses_send_cancel(struct ses_send *s);

#endif
