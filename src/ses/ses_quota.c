#include "ses_quota.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aws_xml.h"
#include "buf.h"
#include "log.h"
#include "ses_client.h"
#include "ses_governor.h"

struct ses_quota {
	uv_timer_t timer;
	struct ses_client *client;	/* borrowed */
	struct ses_governor *gov;	/* borrowed */
	double share, fallback;
	bool in_flight, closing, timer_closed;
	bool denied_logged;
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

static void maybe_free(struct ses_quota *q)
{
	if (q->closing && q->timer_closed && !q->in_flight)
		free(q);
}

static void on_close(uv_handle_t *h)
{
	struct ses_quota *q = h->data;

	q->timer_closed = true;
	maybe_free(q);
}

static void on_quota(void *arg, int status, const char *body, size_t len, const char *code)
{
	struct ses_quota *q = arg;
	double rate, max24, sent24;

	q->in_flight = false;
	if (q->closing) {
		maybe_free(q);
		return;
	}
	if (status == 200 && ses_quota_parse(body, len, &rate, &max24, &sent24) == 0) {
		/* Max24HourSend -1 means no daily limit. */
		bool room = max24 < 0 || sent24 < max24;
		ses_governor_set_target(q->gov, rate * q->share, room, mono_ms());
		log_msg(LVL_INFO, "ses.quota", "max_send_rate=%g share=%g rate=%g sent_24h=%g "
			"max_24h=%g", rate, q->share, rate * q->share, sent24, max24);
		q->denied_logged = false;
		return;
	}
	if (!q->denied_logged) {
		q->denied_logged = true;
		log_msg(LVL_WARN, "ses.quota", "GetSendQuota failed (%s, status %d): using "
			"send_rate_fallback %g/s", code && *code ? code : "no answer", status,
			q->fallback);
	}
}

static void tick(uv_timer_t *t)
{
	struct ses_quota *q = t->data;

	if (q->in_flight || q->closing)
		return;
	if (ses_client_query(q->client, "GetSendQuota", on_quota, q) == 0)
		q->in_flight = true;
}

int ses_quota_start(uv_loop_t *loop, struct ses_client *client, struct ses_governor *gov,
	double share, double fallback, struct ses_quota **out)
{
	struct ses_quota *q = calloc(1, sizeof(*q));
	int r;

	if (q == NULL)
		return -ENOMEM;
	q->client = client;
	q->gov = gov;
	q->share = share;
	q->fallback = fallback;
	r = uv_timer_init(loop, &q->timer);
	if (r) {
		free(q);
		return r;
	}
	q->timer.data = q;
	uv_timer_start(&q->timer, tick, 0, SES_QUOTA_INTERVAL * 1000ULL);
	uv_unref((uv_handle_t *)&q->timer);	/* never what keeps the loop alive */
	*out = q;
	return 0;
}

void ses_quota_close(struct ses_quota *q)
{
	if (q == NULL || q->closing)
		return;
	q->closing = true;
	uv_close((uv_handle_t *)&q->timer, on_close);
}
