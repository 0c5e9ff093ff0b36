#include "aws_call.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_request.h"
#include "aws_retry.h"
#include "aws_xml.h"
#include "version.h"

int aws_target_init(struct aws_target *t, const char *endpoint, const char *api_path,
	const char *region, const char *service)
{
	int r;

	memset(t, 0, sizeof(*t));
	if (endpoint == NULL || region == NULL || service == NULL)
		return -EINVAL;
	r = aws_url_join(endpoint, api_path ? api_path : "", t->url, sizeof(t->url));
	if (r == 0)
		r = aws_url_split(t->url, t->host, sizeof(t->host), t->path, sizeof(t->path));
	if (r == 0 && ((size_t)snprintf(t->region, sizeof(t->region), "%s", region) >= sizeof(t->region) ||
	    (size_t)snprintf(t->service, sizeof(t->service), "%s", service) >= sizeof(t->service)))
		r = -EINVAL;
	return r;
}

long aws_clock_skew(const struct aws_clock *c)
{
	return c ? atomic_load(&((struct aws_clock *)c)->skew) : 0;
}

time_t aws_clock_now(const struct aws_clock *c)
{
	return time(NULL) + aws_clock_skew(c);
}

long aws_clock_observe(struct aws_clock *c, time_t server)
{
	long skew = (long)(server - time(NULL));

	if (server <= 0)
		return atomic_load(&c->skew);
	if (skew >= -2 && skew <= 2)
		skew = 0;
	return atomic_exchange(&c->skew, skew);
}

int aws_call_send(struct http_client *http, const struct aws_call_req *q, http_done_cb cb,
	void *arg, struct http_call **out)
{
	const char *plain[] = { NULL, "User-Agent: sesrelay/" SESRELAY_VERSION, NULL };
	struct aws_signed_headers h;
	struct http_request req;
	struct buf ct = BUF_INIT;
	char hash[65];
	int r = 0;

	memset(&h, 0, sizeof(h));
	if (q->creds) {
		struct aws_post p = {
			.method = q->method, .host = q->target->host, .path = q->target->path,
			.region = q->target->region, .service = q->target->service,
			.content_type = q->content_type, .payload_hash = q->payload_hash,
		};

		if (p.payload_hash == NULL) {
			sigv4_sha256_hex(q->body, q->body_len, hash);
			p.payload_hash = hash;
		}
		r = aws_sign_post(&p, q->creds, aws_clock_now(q->clock), q->key, &h);
	} else {
		r = buf_printf(&ct, "Content-Type: %s", q->content_type);
		plain[0] = ct.data;
	}
	if (r == 0) {
		req = (struct http_request){
			.method = q->method ? q->method : "POST", .url = q->target->url,
			.headers = q->creds ? h.lines : plain,
			.body = q->body, .body_len = q->body_len,
			.timeout_ms = q->timeout_ms, .connect_timeout_ms = q->connect_timeout_ms,
			.max_response = q->max_response,
		};
		r = http_client_send(http, &req, cb, arg, out);
	}
	aws_signed_headers_free(&h);	/* curl keeps its own copy */
	buf_free(&ct);
	return r;
}

int aws_call_error(const struct http_response *res, struct aws_error *why)
{
	memset(why, 0, sizeof(*why));
	if (res->error) {
		snprintf(why->code, sizeof(why->code), "%s",
			res->error == -ETIMEDOUT ? AWS_ERR_TIMEOUT : AWS_ERR_NETWORK);
		snprintf(why->message, sizeof(why->message), "%s",
			res->error_text ? res->error_text : "");
		/* A request curl refused to make will be refused again. */
		why->retryable = res->error != -EINVAL && res->error != -EPROTO;
		return res->error;
	}
	if (res->status == 200)
		return 0;
	aws_error_parse((int)res->status, res->body.data, res->body.len, res->amzn_error_type, why);
	return -EACCES;
}
