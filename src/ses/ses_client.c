#include "ses_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "aws_call.h"
#include "aws_creds.h"
#include "aws_identity.h"
#include "aws_xml.h"
#include "creds_cache.h"
#include "http_client.h"
#include "log.h"
#include "metrics.h"
#include "ses_errors.h"
#include "ses_governor.h"
#include "sigv4.h"
#include "sts_client.h"

struct ses_client {
	uv_loop_t *loop;
	struct http_client *http;	/* borrowed */
	struct identity_slot *slot;	/* borrowed */
	enum ses_api api;
	/* Endpoint (its path prefix kept) + API path, of the identity with
	 * this generation: rebuilt when a send uses another identity. */
	struct aws_target target;
	unsigned long target_gen;
	unsigned backoff_ms;
	bool creds_elsewhere;
	bool soft_bounce;
	struct ses_governor *gov;	/* borrowed, may be NULL */
	unsigned rate_wait_ms;
	struct sigv4_key key;		/* derived key of the current credentials */
	/* The API front's targets, one per API path it forwards to (four at
	 * most today), each parsed once per identity rather than per request. */
	struct fwd_target {
		char path[64];
		unsigned long gen;	/* of the identity it was built on */
		bool used;
		struct aws_target t;
	} fwd[4];
	unsigned fwd_next;
};

struct ses_send {
	struct ses_client *c;
	struct aws_identity *id;	/* a reference, for the length of the send */
	char session[32];
	/* what is sent: the SMTP path's body, or the API front's request */
	const char *method;
	const char *content_type;
	const char *body;		/* borrowed */
	size_t body_len;
	const char *payload_hash;
	size_t ndest;			/* recipients, for the send-rate governor */
	const char *fwd_path;		/* the API front's API path (borrowed) */
	struct aws_target own_target;	/* it on the identity's endpoint (fcb set) */
	delivery_done_cb cb;		/* SMTP: the reply */
	ses_forward_cb fcb;		/* API front: SES's answer */
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
	const char *refused;		/* governor's refusal (SES_ERR_RATE/PAUSED) */
	uint64_t refused_wait_ms;
};

static void send_attempt(struct ses_send *s);

int ses_client_new(uv_loop_t *loop, struct http_client *http, struct identity_slot *slot,
	const struct ses_client_opts *o, struct ses_client **out)
{
	struct ses_client *c = calloc(1, sizeof(*c));
	struct aws_identity *id;
	int r;

	if (c == NULL)
		return -ENOMEM;
	c->loop = loop;
	c->http = http;
	c->slot = slot;
	c->api = o->api;
	c->backoff_ms = o->backoff_ms ? o->backoff_ms : 200;
	c->creds_elsewhere = o->creds_elsewhere;
	c->soft_bounce = o->soft_bounce;
	c->gov = o->governor;
	c->rate_wait_ms = o->rate_wait_ms;
	/* An endpoint may carry a path prefix (a proxy in front of SES): the
	 * API path follows it, in the URL and in the signature alike. A bad
	 * one fails here, at start, rather than on the first message. */
	id = identity_slot_get(slot);
	r = aws_target_init(&c->target, id->ses_endpoint, ses_request_path(c->api), id->region, "ses");
	c->target_gen = id->generation;
	aws_identity_unref(id);
	if (r) {
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
	aws_identity_unref(s->id);
	s->id = NULL;
	s->timer.data = s;
	uv_close((uv_handle_t *)&s->timer, free_send);
}

/* API front: hand SES's answer (or the lack of one) back as it is. */
static void forward_done(struct ses_send *s, const struct http_response *res,
	const struct aws_error *e)
{
	struct ses_forward_result fr;

	memset(&fr, 0, sizeof(fr));
	fr.seconds = s->seconds;
	fr.body = "";
	if (res && !res->error) {
		fr.status = (int)res->status;
		fr.body = res->body.data ? res->body.data : "";
		fr.body_len = res->body.len;
		fr.request_id = res->request_id;
		fr.error_type = res->amzn_error_type;
	} else {
		fr.outcome_unknown = res && res->sent_body;
	}
	if (e) {
		snprintf(fr.code, sizeof(fr.code), "%s", e->code);
		snprintf(fr.message, sizeof(fr.message), "%s", e->message);
	}
	s->fcb(s->arg, &fr);
	release(s);
}

static void finish(struct ses_send *s, struct delivery_result *res)
{
	res->backend_seconds = s->seconds;
	s->cb(s->arg, res);
	release(s);
}

/* The reply for an AWS error (ses_error_reply: the table's code and
 * reason, plus AWS's own code and message so the client and the log see
 * what SES said). Only SES's own answers count as SES errors: a send that
 * had no credentials was refused by STS, counted where the refresh failed. */
static void fail(struct ses_send *s, const struct ses_error_rule *rule, const char *code,
	const char *message, bool from_ses)
{
	struct delivery_result res;

	if (from_ses)
		metrics_ses_error(code);
	if (s->fcb) {
		/* no HTTP answer to pass on: credentials, or the call not made */
		struct aws_error e;
		memset(&e, 0, sizeof(e));
		snprintf(e.code, sizeof(e.code), "%s", code);
		snprintf(e.message, sizeof(e.message), "%s", message ? message : "");
		forward_done(s, NULL, &e);
		return;
	}
	ses_error_reply(rule, code, message, s->c->soft_bounce, &res);
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

static uint64_t mono_ms(void)
{
	return uv_hrtime() / 1000000;
}

static void retry_later(struct ses_send *s, const char *code)
{
	struct logline l;
	uint64_t delay = backoff_delay(s), wait = 0;

	/* A retry is a send like any other: it waits for its tokens too (as
	 * long as it has to: it was admitted already). */
	if (s->c->gov && ses_governor_reserve(s->c->gov, s->ndest, mono_ms(),
			UINT64_MAX, &wait) == 0 && wait > delay)
		delay = wait;
	if (log_begin(&l, LVL_WARN, "ses.retry")) {
		if (s->session[0])
			log_str(&l, "session", s->session);
		log_str(&l, "code", code && *code ? code : SES_ERR_UNKNOWN);
		log_int(&l, "attempt", s->attempts + 1);
		log_uint(&l, "delay_ms", delay);
		log_end(&l);
	}
	uv_timer_start(&s->timer, on_timer, delay, 0);
}

static void on_creds(void *arg, int err, struct aws_creds *creds, const struct aws_error *why)
{
	struct ses_send *s = arg;

	s->wait = NULL;
	if (err) {
		fail(s, ses_error_classify(SES_ERR_NO_CREDS, NULL, 0),
			why && why->code[0] ? why->code : SES_ERR_NO_CREDS,
			why ? why->message : NULL, false);
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

		if (s->fcb) {
			forward_done(s, res, NULL);
			return;
		}

		if (ses_parse_message_id(s->c->api, res->body.data, res->body.len, id, sizeof(id))) {
			/* SES may have sent it; a 4xx invites a duplicate, never a loss. */
			fail(s, ses_error_classify(SES_ERR_UNKNOWN, NULL, 0), "NoMessageId",
				"SES answered 200 without a MessageId", true);
			return;
		}
		delivery_result_set(&ok, 250, "2.0.0", "");
		snprintf(ok.text, sizeof(ok.text), "Ok %s", id);
		snprintf(ok.message_id, sizeof(ok.message_id), "%s", id);
		finish(s, &ok);
		return;
	}
	rule = ses_error_classify(e.code, e.message, (int)res->status);
	/* Tell the governor: the rate (AIMD) or the daily quota (pause). */
	if (s->c->gov && !res->error && strcmp(rule->enhanced, "4.4.5") == 0)
		ses_governor_throttled(s->c->gov, mono_ms());
	else if (s->c->gov && !res->error && strcmp(rule->reason, "daily sending quota exceeded") == 0)
		ses_governor_daily_quota(s->c->gov, mono_ms());
	if (res->error) {
		/* Only a request that never reached SES is safe to send again. */
		if (!res->sent_body && s->attempts <= s->id->ses_max_retries) {
			retry_later(s, e.code);
			return;
		}
		if (s->fcb) {
			metrics_ses_error(e.code);
			forward_done(s, res, &e);
			return;
		}
		fail(s, rule, e.code, e.message, true);
		return;
	}
	if (ses_error_rule_retry(rule) == SES_RETRY_NEW_CREDS && !s->renewed_creds) {
		s->renewed_creds = true;
		creds_cache_invalidate(s->id->cache, s->creds);
		aws_creds_unref(s->creds);
		s->creds = NULL;
		send_attempt(s);
		return;
	}
	if (ses_error_rule_retry(rule) == SES_RETRY_BACKOFF && s->attempts <= s->id->ses_max_retries) {
		retry_later(s, e.code);
		return;
	}
	if (s->fcb) {
		metrics_ses_error(e.code[0] ? e.code : SES_ERR_UNKNOWN);
		forward_done(s, res, &e);
		return;
	}
	fail(s, rule, e.code[0] ? e.code : SES_ERR_UNKNOWN, e.message, true);
}

static int sign_and_send(struct ses_send *s)
{
	struct ses_client *c = s->c;
	struct aws_identity *id = s->id;
	struct aws_call_req req = {
		.method = s->method, .target = s->fcb ? &s->own_target : &c->target,
		.creds = s->creds, .clock = sts_client_clock(id->sts),
		.key = &c->key, .content_type = s->content_type,
		.body = s->body, .body_len = s->body_len, .payload_hash = s->payload_hash,
		.timeout_ms = id->ses_timeout_ms,
		.connect_timeout_ms = id->ses_timeout_ms < 5000 ? id->ses_timeout_ms : 5000,
		.max_response = 64 * 1024,
	};

	if (!s->fcb && c->target_gen != id->generation) {
		if (aws_target_init(&c->target, id->ses_endpoint, ses_request_path(c->api),
			    id->region, "ses"))
			return -EINVAL;
		c->target_gen = id->generation;
	}
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

	creds_cache_status(s->id->cache, NULL, NULL, &st);
	if (st.next_attempt > wall_now()) {
		/* Backing off after a failure: as creds_cache_get() would, fail
		 * now with that failure instead of holding the client. */
		fail(s, ses_error_classify(SES_ERR_NO_CREDS, NULL, 0),
			st.last_error[0] ? st.last_error : SES_ERR_NO_CREDS, st.last_message, false);
		return;
	}
	if (!s->polling) {
		s->polling = true;
		s->poll_since = now;
	} else if (now - s->poll_since >= s->id->ses_timeout_ms) {
		fail(s, ses_error_classify(SES_ERR_NO_CREDS, NULL, 0), SES_ERR_NO_CREDS,
			"no credentials in time", false);
		return;
	}
	uv_timer_start(&s->timer, on_timer, CREDS_POLL_MS, 0);
}

static void send_attempt(struct ses_send *s)
{
	int r;

	if (s->refused) {
		char why[96];
		snprintf(why, sizeof(why), "its recipients would wait %llu ms for the rate, "
			"longer than allowed", (unsigned long long)s->refused_wait_ms);
		fail(s, ses_error_classify(s->refused, NULL, 0), s->refused,
			strcmp(s->refused, SES_ERR_PAUSED) == 0 ? "sending paused until the quota allows" : why,
			false);
		return;
	}

	if (s->creds == NULL) {
		s->creds = creds_cache_current(s->id->cache);
		if (s->creds == NULL && s->c->creds_elsewhere) {
			poll_creds(s);
			return;
		}
		s->polling = false;
		if (s->creds == NULL) {
			r = creds_cache_get(s->id->cache, on_creds, s, &s->wait);
			if (r)
				fail(s, ses_error_classify(SES_ERR_NO_CREDS, NULL, 0), SES_ERR_NO_CREDS,
					NULL, false);
			return;
		}
	}
	r = sign_and_send(s);
	if (r)
		fail(s, ses_error_classify(SES_ERR_NETWORK, NULL, 0), SES_ERR_NETWORK, strerror(-r),
			true);
}

/* The API path on the identity's endpoint (its prefix kept), from the
 * client's cache when it was built on this identity. */
static int forward_target(struct ses_client *c, const struct aws_identity *id, const char *path,
	struct aws_target *out)
{
	struct fwd_target *f;
	int r;

	for (size_t i = 0; i < sizeof(c->fwd) / sizeof(c->fwd[0]); i++) {
		f = &c->fwd[i];
		if (f->used && f->gen == id->generation && strcmp(f->path, path) == 0) {
			*out = f->t;
			return 0;
		}
	}
	r = aws_target_init(out, id->ses_endpoint, path, id->region, "ses");
	if (r || strlen(path) >= sizeof(f->path))
		return r;
	f = &c->fwd[c->fwd_next++ % (sizeof(c->fwd) / sizeof(c->fwd[0]))];
	strcpy(f->path, path);
	f->gen = id->generation;
	f->t = *out;
	f->used = true;
	return 0;
}

/* s has what it sends and whom it tells; the identity is taken here. */
static int start(struct ses_send *s, size_t ndestinations, struct ses_send **out)
{
	struct ses_client *c = s->c;
	uint64_t wait = 0;
	int r = uv_timer_init(c->loop, &s->timer);

	s->ndest = ndestinations;

	if (r) {
		free(s);
		return r;
	}
	/* The identity this send uses from start to end, even if a reload
	 * switches the slot meanwhile. */
	s->id = identity_slot_get(c->slot);
	s->timer.data = s;
	/* the API front's path on this identity's endpoint (its prefix kept) */
	if (s->fcb && forward_target(c, s->id, s->fwd_path, &s->own_target)) {
		aws_identity_unref(s->id);
		uv_close((uv_handle_t *)&s->timer, free_send);
		return -EINVAL;
	}
	*out = s;
	if (c->gov) {
		uint64_t now = mono_ms();
		r = ses_governor_reserve(c->gov, ndestinations, now, c->rate_wait_ms, &wait);
		if (r) {
			/* Refused before anything is sent: the reply says so. */
			s->refused = ses_governor_paused(c->gov, now) ? SES_ERR_PAUSED : SES_ERR_RATE;
			s->refused_wait_ms = wait;
			wait = 0;
		}
	}
	/* First attempt from the loop, so the callback never runs before this
	 * function has returned; after the governor's wait. */
	uv_timer_start(&s->timer, on_timer, wait, 0);
	return 0;
}

int ses_client_send(struct ses_client *c, struct ses_body *body, const char *session,
	delivery_done_cb cb, void *arg, struct ses_send **out)
{
	struct ses_send *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	s->c = c;
	s->method = "POST";
	s->content_type = ses_content_type(c->api);
	s->body = body->body.data;
	s->body_len = body->body.len;
	s->payload_hash = body->payload_hash;
	s->cb = cb;
	s->arg = arg;
	snprintf(s->session, sizeof(s->session), "%s", session ? session : "");
	return start(s, body->ndestinations, out);
}

int ses_client_forward(struct ses_client *c, const struct ses_forward_req *req, ses_forward_cb cb,
	void *arg, struct ses_send **out)
{
	struct ses_send *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	s->c = c;
	s->fwd_path = req->path;
	s->method = req->method;
	s->content_type = req->content_type;
	s->body = req->body;
	s->body_len = req->body_len;
	s->payload_hash = req->payload_hash;
	s->fcb = cb;
	s->arg = arg;
	return start(s, req->ndestinations ? req->ndestinations : 1, out);
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
