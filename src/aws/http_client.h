/* HTTPS client on the uv loop: libcurl's multi interface driven by one
 * uv_timer_t and a uv_poll_t per socket. The only module that includes
 * curl. Connections are kept alive and reused; many requests run at once.
 *
 * Ownership: struct http_client is created with http_client_new() and
 * released by http_client_close(), which cancels every call in flight
 * (their callbacks are not called) and frees itself once all uv handles
 * are closed. A struct http_call is owned by the client until its callback
 * has returned; http_call_cancel() may be called before that, after which
 * the callback never runs. The request body is borrowed: it must stay
 * valid until the callback runs or the call is cancelled.
 */
#ifndef SESRELAY_HTTP_CLIENT_H
#define SESRELAY_HTTP_CLIENT_H

#include <stddef.h>
#include <time.h>
#include <uv.h>

#include "buf.h"

struct http_client;
struct http_call;

struct http_client_opts {
	const char *ca_bundle;		/* NULL: system default (AWS_CA_BUNDLE) */
	unsigned max_host_connections;	/* 0: curl's default */
	unsigned max_total_connections;	/* 0: unlimited */
};

struct http_request {
	const char *method;		/* "GET", "PUT", "POST" */
	const char *url;
	const char *const *headers;	/* NULL-terminated "Name: value" lines */
	const char *body;		/* may be NULL */
	size_t body_len;
	unsigned timeout_ms;		/* whole request; 0: none */
	unsigned connect_timeout_ms;	/* 0: curl's default */
	size_t max_response;		/* response body cap; 0: 1 MiB */
};

struct http_response {
	int error;			/* 0, or negative: -ETIMEDOUT, -ECONNREFUSED, -ECONNRESET, -EIO ... (no HTTP answer) */
	const char *error_text;		/* curl's text for `error` */
	long status;			/* HTTP status when error == 0 */
	struct buf body;		/* valid during the callback only */
	const char *amzn_error_type;	/* x-amzn-errortype header or NULL */
	const char *request_id;		/* x-amzn-RequestId (or x-amz-request-id) header, or NULL */
	time_t date;			/* Date header (the server's clock), 0 if none */
	double seconds;			/* total time */
	int sent_body;			/* 1 if the request body was (maybe) transmitted */
};

typedef void (*http_done_cb)(void *arg, const struct http_response *res);

int http_client_new(uv_loop_t *loop, const struct http_client_opts *opts,
	struct http_client **out);
void http_client_close(struct http_client *c);
/* Returns 0 and calls cb once later, or a negative code and never cb. */
int http_client_send(struct http_client *c, const struct http_request *req,
	http_done_cb cb, void *arg, struct http_call **out);
void http_call_cancel(struct http_call *call);

/* Process-wide libcurl init, once from main() before threads start. */
int http_global_init(void);
void http_global_cleanup(void);

#endif
