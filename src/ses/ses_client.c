#include "ses_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "aws_call.h"
#include "aws_creds.h"
#include "aws_xml.h"
#include "creds_cache.h"
#include "http_client.h"
#include "log.h"
#include "metrics.h"
#include "ses_errors.h"

struct ses_client {
	uv_loop_t *loop;
	struct http_client *http;	/* borrowed */
	struct creds_cache *creds;	/* borrowed */
	enum ses_api api;
	struct aws_target target;	/* endpoint (its path prefix kept) + API path */
	unsigned timeout_ms;
	unsigned max_retries;
	unsigned backoff_ms;
	bool creds_elsewhere;
	struct sigv4_key key;		/* derived key of the current credentials */
	const struct aws_clock *clock;	/* borrowed; NULL: ours */
};

struct ses_send {
	struct ses_client *c;
	struct ses_body *body;		/* borrowed */
	delivery_done_cb cb;
	void *arg;
	struct aws_creds *creds;	/* ref held while a request uses them */
	struct creds_wait *wait;
	struct http_call *call;
	uv_timer_t timer;
	unsigned attempts;
	bool renewed_creds;		/* the one retry with fresh credentials was used */
	bool polling;			/* creds_elsewhere: waiting since poll_since */
	uint64_t poll_since;
	double seconds;			/* time spent in HTTP calls */
};

static void send_attempt(struct ses_send *s);

int ses_client_new(uv_loop_t *loop, struct http_client *http, struct creds_cache *creds,
	const struct ses_client_opts *o, struct ses_client **out)
{
	struct ses_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->loop = loop;
	c->http = http;
	c->creds = creds;
	c->api = o->api;
	c->timeout_ms = o->timeout_ms;
	c->max_retries = o->max_retries;
	c->backoff_ms = o->backoff_ms ? o->backoff_ms : 200;
	c->clock = o->clock;
	c->creds_elsewhere = o->creds_elsewhere;
	/* An endpoint may carry a path prefix (a proxy in front of SES): the
	 * API path follows it, in the URL and in the signature alike. */
	if (aws_target_init(&c->target, o->endpoint, ses_request_path(c->api), o->region, "ses")) {
		ses_client_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

void ses_client_free(struct ses_client *c)
{
	if (c == NULL)
		return;
	sigv4_key_clear(&c->key);
	free(c);
}

static void free_send(uv_handle_t *h)
{
	free(h->data);
}

static void release(struct ses_send *s)
{
	if (s->creds)
		aws_creds_unref(s->creds);
	s->creds = NULL;
	s->timer.data = s;
	uv_close((uv_handle_t *)&s->timer, free_send);
}

static void finish(struct ses_send *s, struct delivery_result *res)
{
	res->backend_seconds = s->seconds;
	s->cb(s->arg, res);
	release(s);
}

/* The reply for an AWS error: the table's code and reason, plus AWS's own
 * code and message so the client and the log see what SES said. */
static void fail(struct ses_send *s, const struct ses_error_rule *rule, const char *code,
	const char *message)
{
	struct delivery_result res;
	char text[256];

	metrics_ses_error(code);
	if (message && *message)
		snprintf(text, sizeof(text), "%s (%s: %.150s)", rule->reason, code, message);
	else
		snprintf(text, sizeof(text), "%s (%s)", rule->reason, code);
	for (char *p = text; *p; p++)	/* an SMTP reply is one line of printable text */
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = ' ';
	delivery_result_set(&res, rule->smtp_code, rule->enhanced, text);
	snprintf(res.error_code, sizeof(res.error_code), "%s", code);
	finish(s, &res);
}

static unsigned backoff_delay(const struct ses_send *s)
{
	unsigned d = s->c->backoff_ms << (s->attempts > 6 ? 6 : s->attempts - 1);
	unsigned jitter = 0;

	/* Full jitter over the upper half keeps retries of a burst apart. */
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	return d / 2 + jitter % (d / 2 + 1);
}

static void on_timer(uv_timer_t *t)
{
	send_attempt(t->data);
}

static void retry_later(struct ses_send *s)
{
	struct logline l;

	if (log_begin(&l, LVL_WARN, "ses.retry")) {
		log_int(&l, "attempt", s->attempts + 1);
		log_end(&l);
	}
	uv_timer_start(&s->timer, on_timer, backoff_delay(s), 0);
}

static void on_creds(void *arg, int err, struct aws_creds *creds, const struct aws_error *why)
{
	struct ses_send *s = arg;

	s->wait = NULL;
	if (err) {
		fail(s, ses_error_classify(SES_ERR_NO_CREDS, NULL, 0),
			why && why->code[0] ? why->code : SES_ERR_NO_CREDS,
			why ? why->message : NULL);
		return;
	}
	s->creds = aws_creds_ref(creds);
	send_attempt(s);
}

static void on_http(void *arg, const struct http_response *res)
{
	struct ses_send *s = arg;
	const struct ses_error_rule *rule;
	struct aws_error e;

	s->call = NULL;
	s->seconds += res->seconds;
	metrics_ses_request(res->seconds);
	if (aws_call_error(res, &e) == 0) {
		struct delivery_result ok;
		char id[128];

		if (ses_parse_message_id(s->c->api, res->body.data, res->body.len, id, sizeof(id))) {
			/* SES may have sent it; a 4xx invites a duplicate, never a loss. */
			fail(s, ses_error_classify(SES_ERR_UNKNOWN, NULL, 0), "NoMessageId",
				"SES answered 200 without a MessageId");
			return;
		}
		delivery_result_set(&ok, 250, "2.0.0", "");
		snprintf(ok.text, sizeof(ok.text), "Ok %s", id);
		snprintf(ok.message_id, sizeof(ok.message_id), "%s", id);
		finish(s, &ok);
		return;
	}
	rule = ses_error_classify(e.code, e.message, (int)res->status);
	if (res->error) {
		/* Only a request that never reached SES is safe to send again. */
		if (!res->sent_body && s->attempts <= s->c->max_retries) {
			retry_later(s);
			return;
		}
		fail(s, rule, e.code, e.message);
		return;
	}
	if (ses_error_rule_retry(rule) == SES_RETRY_NEW_CREDS && !s->renewed_creds) {
		s->renewed_creds = true;
		creds_cache_invalidate(s->c->creds, s->creds);
		aws_creds_unref(s->creds);
		s->creds = NULL;
		send_attempt(s);
		return;
	}
	if (ses_error_rule_retry(rule) == SES_RETRY_BACKOFF && s->attempts <= s->c->max_retries) {
		retry_later(s);
		return;
	}
	fail(s, rule, e.code[0] ? e.code : SES_ERR_UNKNOWN, e.message);
}

static int sign_and_send(struct ses_send *s)
{
	struct ses_client *c = s->c;
	struct aws_call_req req = {
		.target = &c->target, .creds = s->creds, .clock = c->clock, .key = &c->key,
		.content_type = ses_content_type(c->api),
		.body = s->body->body.data, .body_len = s->body->body.len,
		.payload_hash = s->body->payload_hash,
		.timeout_ms = c->timeout_ms,
		.connect_timeout_ms = c->timeout_ms < 5000 ? c->timeout_ms : 5000,
		.max_response = 64 * 1024,
	};

	s->attempts++;
	return aws_call_send(c->http, &req, on_http, s, &s->call);
}

#define CREDS_POLL_MS 20

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The cache is on another loop: creds_cache_current() (which also starts
 * a refresh there) is all we may call, so ask it again shortly. */
static void poll_creds(struct ses_send *s)
{
	struct creds_cache_stats st;
	uint64_t now = uv_now(s->c->loop);

	creds_cache_status(s->c->creds, NULL, NULL, &st);
	if (st.next_attempt > wall_now()) {
		/* Backing off after a failure: as creds_cache_get() would, fail
		 * now with that failure instead of holding the client. */
		fail(s, ses_error_classify(SES_ERR_NO_CREDS, NULL, 0),
			st.last_error[0] ? st.last_error : SES_ERR_NO_CREDS, NULL);
		return;
	}
	if (!s->polling) {
		s->polling = true;
		s->poll_since = now;
	} else if (now - s->poll_since >= s->c->timeout_ms) {
		fail(s, ses_error_classify(SES_ERR_NO_CREDS, NULL, 0), SES_ERR_NO_CREDS,
			"no credentials in time");
		return;
	}
	uv_timer_start(&s->timer, on_timer, CREDS_POLL_MS, 0);
}

static void send_attempt(struct ses_send *s)
{
	int r;

	if (s->creds == NULL) {
		s->creds = creds_cache_current(s->c->creds);
		if (s->creds == NULL && s->c->creds_elsewhere) {
			poll_creds(s);
			return;
		}
		s->polling = false;
		if (s->creds == NULL) {
			r = creds_cache_get(s->c->creds, on_creds, s, &s->wait);
			if (r)
				fail(s, ses_error_classify(SES_ERR_NO_CREDS, NULL, 0), SES_ERR_NO_CREDS, NULL);
			return;
		}
	}
	r = sign_and_send(s);
	if (r)
		fail(s, ses_error_classify(SES_ERR_NETWORK, NULL, 0), SES_ERR_NETWORK, strerror(-r));
}

int ses_client_send(struct ses_client *c, struct ses_body *body, delivery_done_cb cb,
	void *arg, struct ses_send **out)
{
	struct ses_send *s = calloc(1, sizeof(*s));
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->c = c;
	s->body = body;
	s->cb = cb;
	s->arg = arg;
	r = uv_timer_init(c->loop, &s->timer);
	if (r) {
		free(s);
		return r;
	}
	s->timer.data = s;
	*out = s;
	/* First attempt from the loop, so the callback never runs before this
	 * function has returned. */
	uv_timer_start(&s->timer, on_timer, 0, 0);
	return 0;
}

void ses_send_cancel(struct ses_send *s)
{
	if (s->wait)
		creds_wait_cancel(s->wait);
	if (s->call)
		http_call_cancel(s->call);
	s->wait = NULL;
	s->call = NULL;
	uv_timer_stop(&s->timer);
	release(s);
}
