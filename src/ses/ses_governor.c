#include "ses_governor.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <uv.h>

struct ses_governor {
	uv_mutex_t lock;
	double target, rate, tokens;
	uint64_t last_ms;		/* tokens and rate are as of this time */
	uint64_t last_cut_ms;		/* last multiplicative decrease */
	uint64_t paused_until_ms;	/* 0: not paused */
	uint64_t pause_ms;		/* send_quota_pause */
	bool have_time;
	uint64_t throttles;
};

/* Below this the relay would stall on a bad day; SES's sandbox is 1/s. */
#define MIN_RATE 0.1

int ses_governor_new(double rate, unsigned quota_pause_s, struct ses_governor **out)
{
	struct ses_governor *g;

	if (!(rate > 0) || quota_pause_s == 0)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	if (uv_mutex_init(&g->lock) != 0) {
		free(g);
		return -ENOMEM;
	}
	g->target = g->rate = rate;
	g->pause_ms = quota_pause_s * 1000ULL;
	*out = g;
	return 0;
}

void ses_governor_free(struct ses_governor *g)
{
	if (g) {
		uv_mutex_destroy(&g->lock);
		free(g);
	}
}

static double capacity(const struct ses_governor *g)
{
	/* Half a second of the rate (always room for one recipient): SES
	 * allows about a second's worth at once, and the other half absorbs
	 * the jitter between our clock and SES's, so a relay sending at
	 * exactly the rate is not throttled for arriving a little early. */
	return g->rate / 2 > 1 ? g->rate / 2 : 1;
}

/* Bring tokens and rate up to now_ms (caller holds the lock). */
static void advance(struct ses_governor *g, uint64_t now_ms)
{
	uint64_t from;
	double dt;

	if (!g->have_time) {
		g->have_time = true;
		g->last_ms = now_ms;
		g->tokens = capacity(g);
		return;
	}
	if (now_ms <= g->last_ms)
		return;
	dt = (double)(now_ms - g->last_ms) / 1000.0;
	from = g->last_ms > g->last_cut_ms + 1000 ? g->last_ms : g->last_cut_ms + 1000;
	g->last_ms = now_ms;
	g->tokens += dt * g->rate;
	if (g->tokens > capacity(g))
		g->tokens = capacity(g);
	/* Additive increase, for the time since the last cut's second. */
	if (g->rate < g->target && now_ms > from) {
		g->rate += g->target / 20 * (double)(now_ms - from) / 1000.0;
		if (g->rate > g->target)
			g->rate = g->target;
	}
}

int ses_governor_reserve(struct ses_governor *g, unsigned n, uint64_t now_ms,
	uint64_t max_wait_ms, uint64_t *wait_ms)
{
	double after, wait, need;
	int r = 0;

	uv_mutex_lock(&g->lock);
	advance(g, now_ms);
	if (g->paused_until_ms > now_ms) {
		*wait_ms = g->paused_until_ms - now_ms;
		uv_mutex_unlock(&g->lock);
		return -EAGAIN;
	}
	/* A send larger than the bucket goes once the bucket is full and
	 * leaves it in debt, which later sends wait off: one SES call of 50
	 * recipients is never refused at a rate below 50/s, and over time the
	 * rate holds all the same. */
	need = (double)n < capacity(g) ? (double)n : capacity(g);
	after = g->tokens - (double)n;
	wait = g->tokens >= need ? 0 : ceil((need - g->tokens) / g->rate * 1000.0);
	*wait_ms = (uint64_t)wait;
	if (*wait_ms > max_wait_ms)
		r = -EAGAIN;
	else
		g->tokens = after;
	uv_mutex_unlock(&g->lock);
	return r;
}

void ses_governor_throttled(struct ses_governor *g, uint64_t now_ms)
{
	uv_mutex_lock(&g->lock);
	advance(g, now_ms);
	g->throttles++;
	if (now_ms >= g->last_cut_ms + 1000 || g->last_cut_ms == 0) {
		g->rate /= 2;
		if (g->rate < MIN_RATE)
			g->rate = MIN_RATE;
		if (g->tokens > capacity(g))
			g->tokens = capacity(g);
		g->last_cut_ms = now_ms;
	}
	uv_mutex_unlock(&g->lock);
}

void ses_governor_daily_quota(struct ses_governor *g, uint64_t now_ms)
{
	uv_mutex_lock(&g->lock);
	if (g->paused_until_ms < now_ms + g->pause_ms)
		g->paused_until_ms = now_ms + g->pause_ms;
	uv_mutex_unlock(&g->lock);
}

void ses_governor_set_target(struct ses_governor *g, double rate, bool room_left,
	uint64_t now_ms)
{
	uv_mutex_lock(&g->lock);
	advance(g, now_ms);
	if (rate > 0) {
		g->target = rate;
		/* A new quota is taken at once, unless a recent Throttling
		 * answer says to climb back to it step by step. */
		if (g->rate > rate || g->last_cut_ms == 0 || now_ms >= g->last_cut_ms + 60000)
			g->rate = rate;
		if (g->tokens > capacity(g))
			g->tokens = capacity(g);
	}
	if (room_left)
		g->paused_until_ms = 0;
	else if (g->paused_until_ms < now_ms + g->pause_ms)
		g->paused_until_ms = now_ms + g->pause_ms;
	uv_mutex_unlock(&g->lock);
}

bool ses_governor_paused(struct ses_governor *g, uint64_t now_ms)
{
	bool p;

	uv_mutex_lock(&g->lock);
	p = g->paused_until_ms > now_ms;
	uv_mutex_unlock(&g->lock);
	return p;
}

void ses_governor_stats(struct ses_governor *g, uint64_t now_ms, struct ses_governor_stats *st)
{
	uv_mutex_lock(&g->lock);
	advance(g, now_ms);
	st->rate = g->rate;
	st->target = g->target;
	st->tokens = g->tokens;
	st->throttles = g->throttles;
	st->paused = g->paused_until_ms > now_ms;
	uv_mutex_unlock(&g->lock);
}
