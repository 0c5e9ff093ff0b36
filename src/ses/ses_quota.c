#include "ses_quota.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aws_call.h"
#include "aws_creds.h"
#include "aws_endpoint.h"
#include "aws_identity.h"
#include "aws_query.h"
#include "aws_xml.h"
#include "buf.h"
#include "creds_cache.h"
#include "log.h"
#include "ses_governor.h"
#include "ses_message.h"
#include "sts_client.h"

struct ses_quota {
	uv_timer_t timer;
	struct identity_slot *slot;	/* borrowed */
	struct ses_governor *gov;	/* borrowed */
	struct aws_target target;	/* the v1 Query API, whichever API sends mail */
	struct buf body;
	struct aws_identity *id;	/* held while a call is in flight */
	struct aws_creds *creds;	/* held while a call is in flight */
	struct http_call *call;
	double share, fallback;
	uint64_t interval_ms;		/* send_quota_interval */
	bool closing;
	bool failure_logged;
};

static uint64_t mono_ms(void)
{
	return uv_hrtime() / 1000000;
}

static int number(const char *body, size_t len, const char *tag, double *out)
{
	struct buf b = BUF_INIT;
	char *end;
	int r = -EINVAL;

	if (aws_xml_text(body, len, tag, &b) == 0 && b.len) {
		*out = strtod(b.data, &end);
		if (end != b.data && *end == '\0')
			r = 0;
	}
	buf_free(&b);
	return r;
}

int ses_quota_parse(const char *body, size_t len, double *max_rate, double *max24,
	double *sent24)
{
	if (number(body, len, "MaxSendRate", max_rate) || number(body, len, "Max24HourSend", max24) ||
	    number(body, len, "SentLast24Hours", sent24) || !(*max_rate > 0))
		return -EINVAL;
	return 0;
}

static void tick(uv_timer_t *t);

static void on_quota(void *arg, const struct http_response *res)
{
	struct ses_quota *q = arg;
	struct aws_error e;
	double rate, max24, sent24;

	q->call = NULL;
	aws_creds_unref(q->creds);
	q->creds = NULL;
	aws_identity_unref(q->id);
	q->id = NULL;
	if (q->closing)
		return;
	uv_timer_start(&q->timer, tick, q->interval_ms, 0);
	if (aws_call_error(res, &e) == 0 &&
	    ses_quota_parse(res->body.data, res->body.len, &rate, &max24, &sent24) == 0) {
		/* Max24HourSend -1 means no daily limit. */
		bool room = max24 < 0 || sent24 < max24;
		ses_governor_set_target(q->gov, rate * q->share, room, mono_ms());
		log_msg(LVL_INFO, "ses.quota", "max_send_rate=%g share=%g rate=%g sent_24h=%g "
			"max_24h=%g", rate, q->share, rate * q->share, sent24, max24);
		q->failure_logged = false;
		return;
	}
	if (!q->failure_logged) {
		q->failure_logged = true;
		log_msg(LVL_WARN, "ses.quota", "GetSendQuota failed (%s%s%s): using "
			"send_rate_fallback %g/s", e.code[0] ? e.code : "no quota in the answer",
			e.message[0] ? ": " : "", e.message, q->fallback);
	}
}

static void tick(uv_timer_t *t)
{
	struct ses_quota *q = t->data;
	struct aws_call_req req = {
		.target = &q->target,
		.content_type = ses_content_type(SES_API_V1),
		.body = q->body.data, .body_len = q->body.len, .max_response = 64 * 1024,
	};
	char url[AWS_URL_MAX];

	if (q->closing || q->call)
		return;
	/* The identity of now (a reload may have switched it), its endpoint
	 * and region; only its verified shared-account credentials sign. None
	 * yet (the relay is starting, or STS fails): look again shortly. */
	q->id = identity_slot_get(q->slot);
	q->creds = q->id ? creds_cache_current(q->id->cache) : NULL;
	if (q->creds == NULL ||
	    aws_endpoint_resolve(AWS_SERVICE_SES, q->id->region, url, sizeof(url)) != 0 ||
	    aws_target_init(&q->target, url, "", q->id->region, "ses") != 0) {
		aws_creds_unref(q->creds);
		q->creds = NULL;
		aws_identity_unref(q->id);
		q->id = NULL;
		uv_timer_start(&q->timer, tick, SES_QUOTA_CREDS_WAIT * 1000ULL, 0);
		return;
	}
	req.creds = q->creds;
	req.clock = sts_client_clock(q->id->sts);
	req.timeout_ms = q->id->ses_timeout_ms;
	if (aws_call_send(q->id->http, &req, on_quota, q, &q->call) != 0) {
		aws_creds_unref(q->creds);
		q->creds = NULL;
		aws_identity_unref(q->id);
		q->id = NULL;
		q->call = NULL;
		uv_timer_start(&q->timer, tick, q->interval_ms, 0);
	}
}

int ses_quota_start(uv_loop_t *loop, struct identity_slot *slot, struct ses_governor *gov,
	double share, double fallback, unsigned interval_s, struct ses_quota **out)
{
	struct ses_quota *q = calloc(1, sizeof(*q));
	int r;

	if (q == NULL)
		return -ENOMEM;
	q->slot = slot;
	q->gov = gov;
	q->share = share;
	q->fallback = fallback;
	q->interval_ms = interval_s * 1000ULL;
	r = aws_query_add(&q->body, "Action", "GetSendQuota");
	if (r == 0)
		r = aws_query_add(&q->body, "Version", "2010-12-01");
	if (r == 0)
		r = uv_timer_init(loop, &q->timer);
	if (r) {
		buf_free(&q->body);
		free(q);
		return r < 0 ? r : -ENOMEM;
	}
	q->timer.data = q;
	uv_timer_start(&q->timer, tick, 0, 0);
	uv_unref((uv_handle_t *)&q->timer);	/* never what keeps the loop alive */
	*out = q;
	return 0;
}

static void on_close(uv_handle_t *h)
{
	struct ses_quota *q = h->data;

	buf_free(&q->body);
	free(q);
}

void ses_quota_close(struct ses_quota *q)
{
	if (q == NULL || q->closing)
		return;
	q->closing = true;
	if (q->call)
		http_call_cancel(q->call);
	q->call = NULL;
	aws_creds_unref(q->creds);
	q->creds = NULL;
	aws_identity_unref(q->id);
	q->id = NULL;
	uv_close((uv_handle_t *)&q->timer, on_close);
}
