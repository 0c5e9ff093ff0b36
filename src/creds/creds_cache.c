#include "creds_cache.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "metrics.h"

enum wait_state { WAIT_PENDING, WAIT_DELIVERING, WAIT_CANCELLED };

struct creds_wait {
	struct creds_cache *cache;
	creds_cb cb;
	void *arg;
	enum wait_state state;
	struct creds_wait *next, *prev;
};

struct creds_cache {
	uv_loop_t *loop;
	struct creds_provider *source;
	double before, min_remaining;
	double backoff_initial, backoff_max;	/* seconds */
	creds_clock_fn clock;
	void *clock_arg;
	uint64_t rng;

	pthread_mutex_t lock;		/* guards everything below up to `stats` */
	struct aws_creds *creds;	/* verified, or NULL */
	double refresh_at;		/* start of the refresh window for creds */
	bool refreshing;
	double next_attempt;		/* no refresh before this (backoff) */
	int last_err;
	struct aws_error last_why;
	struct creds_cache_stats stats;

	/* loop thread only */
	double refresh_started;
	struct creds_wait *waiters;	/* pending, oldest first */
	struct creds_wait *waiters_tail;
	uv_timer_t timer;		/* next refresh / retry */
	uv_timer_t dispatch;		/* answers creds_cache_get() off the caller's stack */
	uv_async_t kick;		/* refresh request from any thread */
	int open_handles;
	bool closing;
};

static void maybe_refresh(struct creds_cache *c, bool force);
static void deliver(struct creds_cache *c);

static double wall_clock(void *arg)
{
	struct timeval tv;

	(void)arg;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* xorshift64*: jitter only needs to decorrelate relays, not secrecy. */
static double rnd01(struct creds_cache *c)
{
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return (double)((c->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static bool usable_locked(struct creds_cache *c, double now)
{
	return c->creds && (c->creds->expiration == 0 ||
		(double)c->creds->expiration - now >= c->min_remaining);
}

/* ---- uv handles ---- */

static void handle_closed(uv_handle_t *h)
{
	struct creds_cache *c = h->data;

	if (--c->open_handles > 0)
		return;
	creds_provider_destroy(c->source);
	aws_creds_unref(c->creds);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void timer_cb(uv_timer_t *t)
{
	maybe_refresh(t->data, false);
}

static void kick_cb(uv_async_t *a)
{
	maybe_refresh(a->data, false);
}

static void dispatch_cb(uv_timer_t *t)
{
	struct creds_cache *c = t->data;
	double now = c->clock(c->clock_arg);
	bool usable, backing_off, refreshing;

	pthread_mutex_lock(&c->lock);
	usable = usable_locked(c, now);
	refreshing = c->refreshing;
	backing_off = !usable && c->last_err && now < c->next_attempt;
	pthread_mutex_unlock(&c->lock);
	if (usable || backing_off) {
		deliver(c);
		if (usable)
			maybe_refresh(c, false);
	} else if (!refreshing) {
		maybe_refresh(c, true);	/* delivers when it completes */
	}
}

static void arm_timer(struct creds_cache *c, double at, double now)
{
	double d = at - now;

	if (c->closing)
		return;
	if (d < 0)
		d = 0;
	if (d > 86400.0)
		d = 86400.0;	/* re-evaluated then; keeps the math in range */
	uv_timer_start(&c->timer, timer_cb, (uint64_t)(d * 1000.0 + 0.999), 0);
}

/* ---- waiters ---- */

static void waiter_unlink(struct creds_cache *c, struct creds_wait *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		c->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		c->waiters_tail = w->prev;
	w->next = w->prev = NULL;
}

/* Answer every pending waiter with the current state: usable creds, or
 * the last failure. Callbacks may add or cancel waiters, or free the
 * cache: the list is detached first and `closing` checked after each. */
static void deliver(struct creds_cache *c)
{
	struct creds_wait *list = c->waiters;
	struct aws_creds *cr = NULL;
	struct aws_error why;
	int err;
	double now = c->clock(c->clock_arg);

	c->waiters = c->waiters_tail = NULL;
	for (struct creds_wait *w = list; w; w = w->next)
		w->state = WAIT_DELIVERING;

	pthread_mutex_lock(&c->lock);
	if (usable_locked(c, now))
		cr = aws_creds_ref(c->creds);
	err = c->last_err ? c->last_err : -EAGAIN;
	why = c->last_why;
	pthread_mutex_unlock(&c->lock);
	if (cr == NULL && why.code[0] == '\0') {
		memset(&why, 0, sizeof(why));
		why.retryable = true;
		snprintf(why.step, sizeof(why.step), "credentials");
		snprintf(why.code, sizeof(why.code), "NoCredentials");
		snprintf(why.message, sizeof(why.message),
			"shared-account credentials are not available yet");
	}

	while (list) {
		struct creds_wait *w = list;

		list = w->next;
		if (w->state == WAIT_DELIVERING && !c->closing) {
			if (cr)
				w->cb(w->arg, 0, cr, NULL);
			else
				w->cb(w->arg, err, NULL, &why);
		}
		free(w);
	}
	aws_creds_unref(cr);
}

/* ---- refresh ---- */

static void log_refresh(struct creds_cache *c, int err, const struct aws_creds *cr,
	const struct aws_error *why, double took, double retry_in)
{
	struct logline l;

	if (!log_begin(&l, err ? LVL_WARN : LVL_INFO, "sts.refresh"))
		return;
	log_str(&l, "outcome", err ? "error" : "ok");
	if (cr) {
		char exp[32];
		struct tm tm;
		time_t t = cr->expiration;

		gmtime_r(&t, &tm);
		strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		log_str(&l, "account", cr->account_id ? cr->account_id : "");
		log_str(&l, "arn", cr->arn ? cr->arn : "");
		log_str(&l, "expiry", exp);
		log_double(&l, "refresh_in", c->refresh_at - c->clock(c->clock_arg));
	}
	log_double(&l, "seconds", took);
	if (err && why) {
		log_str(&l, "step", why->step);
		log_str(&l, "code", why->code);
		log_str(&l, "message", why->message);
		log_bool(&l, "retryable", why->retryable);
		log_int(&l, "failures", c->stats.consecutive_failures);
		log_double(&l, "retry_in", retry_in);
	}
	log_end(&l);
}

static void refused(struct aws_error *why, const char *code, const char *msg)
{
	memset(why, 0, sizeof(*why));
	snprintf(why->step, sizeof(why->step), "credentials");
	snprintf(why->code, sizeof(why->code), "%s", code);
	snprintf(why->message, sizeof(why->message), "%s", msg);
	why->retryable = true;
}

/* Start of the refresh window of a new set. Credentials that live
 * shorter than the window (role_duration 900 with the default 900 s
 * window) would otherwise be due again on arrival and refresh in a tight
 * loop: the window never opens before half of the set's usable life. */
static double refresh_point(struct creds_cache *c, const struct aws_creds *cr, double now)
{
	double at, half;

	if (cr->expiration == 0)
		return INFINITY;
	at = (double)cr->expiration - c->before - rnd01(c) * c->before * 0.1;
	half = now + ((double)cr->expiration - c->min_remaining - now) / 2;
	return at > half ? at : half;
}

static void on_refresh(void *arg, int err, struct aws_creds *cr, const struct aws_error *why_in)
{
	struct creds_cache *c = arg;
	double now = c->clock(c->clock_arg);
	struct aws_creds *old = NULL;
	struct aws_error why;
	double retry_in = 0;

	if (c->closing)
		return;
	memset(&why, 0, sizeof(why));
	if (err == 0 && (cr == NULL || !cr->verified || cr->account_id == NULL)) {
		err = -EACCES;
		refused(&why, "Unverified", "provider returned credentials without a proven account");
	} else if (err == 0 && cr->expiration &&
		   (double)cr->expiration - now < c->min_remaining) {
		err = -ETIME;
		refused(&why, "ShortLived", "new credentials expire within refresh_min_remaining "
			"(clock skew or a too short role_duration)");
	} else if (err) {
		if (why_in)
			why = *why_in;
		else
			refused(&why, "RefreshFailed", "credential provider failed");
	}

	pthread_mutex_lock(&c->lock);
	c->refreshing = false;
	if (err == 0) {
		old = c->creds;
		c->creds = aws_creds_ref(cr);
		c->refresh_at = refresh_point(c, cr, now);
		c->next_attempt = 0;
		c->last_err = 0;
		memset(&c->last_why, 0, sizeof(c->last_why));
		c->stats.refresh_ok++;
		c->stats.consecutive_failures = 0;
		c->stats.last_error[0] = '\0';
		c->stats.last_message[0] = '\0';
	} else {
		unsigned n = ++c->stats.consecutive_failures;
		double b = c->backoff_initial;

		for (unsigned i = 1; i < n && b < c->backoff_max; i++)
			b *= 2;
		if (b > c->backoff_max)
			b = c->backoff_max;
		retry_in = b / 2 + rnd01(c) * b / 2;
		c->next_attempt = now + retry_in;
		c->last_err = err;
		c->last_why = why;
		c->stats.refresh_failed++;
		snprintf(c->stats.last_error, sizeof(c->stats.last_error), "%s", why.code);
		snprintf(c->stats.last_message, sizeof(c->stats.last_message), "%s", why.message);
	}
	pthread_mutex_unlock(&c->lock);
	/* STS (and base-credential) failures have their own series: they are
	 * not SES errors, and no message was sent. */
	if (err)
		metrics_sts_error(why.code);
	aws_creds_unref(old);

	log_refresh(c, err, err ? NULL : cr, &why, now - c->refresh_started, retry_in);
	deliver(c);
	if (!c->closing)
		maybe_refresh(c, false);	/* arms the timer for what comes next */
}

/* Start a refresh when one is due (or `force`d by a waiter) and allowed
 * by the backoff; otherwise arm the timer for when it will be. */
static void maybe_refresh(struct creds_cache *c, bool force)
{
	double now = c->clock(c->clock_arg);
	bool due;
	int r;

	if (c->closing)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->refreshing) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	due = c->creds == NULL || now >= c->refresh_at || !usable_locked(c, now) || force;
	if (!due || now < c->next_attempt) {
		double at = !due ? c->refresh_at : c->next_attempt;

		if (due == false && c->next_attempt > at)
			at = c->next_attempt;
		pthread_mutex_unlock(&c->lock);
		arm_timer(c, at, now);
		return;
	}
	c->refreshing = true;
	pthread_mutex_unlock(&c->lock);

	uv_timer_stop(&c->timer);
	c->refresh_started = now;
	r = creds_provider_get(c->source, on_refresh, c);
	if (r) {
		struct aws_error why;

		refused(&why, "RefreshFailed", "credential provider refused to start");
		snprintf(why.message, sizeof(why.message), "credential provider refused to start: %s",
			strerror(-r));
		on_refresh(c, r, NULL, &why);
	}
}

/* ---- public API ---- */

int creds_cache_new(uv_loop_t *loop, struct creds_provider *source,
	const struct creds_cache_opts *opts, struct creds_cache **out)
{
	struct creds_cache *c;
	int r;

	if (source == NULL)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		creds_provider_destroy(source);
		return -ENOMEM;
	}
	c->loop = loop;
	c->source = source;
	c->before = opts && opts->refresh_before_expiry ? opts->refresh_before_expiry : 900;
	c->min_remaining = opts && opts->min_remaining ? opts->min_remaining : 60;
	c->backoff_initial = (opts && opts->backoff_initial_ms ? opts->backoff_initial_ms : 1000) / 1000.0;
	c->backoff_max = (opts && opts->backoff_max_ms ? opts->backoff_max_ms : 60000) / 1000.0;
	c->clock = opts && opts->clock ? opts->clock : wall_clock;
	c->clock_arg = opts ? opts->clock_arg : NULL;
	c->rng = opts && opts->seed ? opts->seed : (uv_hrtime() ^ (uint64_t)(uintptr_t)c) | 1;
	c->refresh_at = 0;
	if (pthread_mutex_init(&c->lock, NULL)) {
		creds_provider_destroy(source);
		free(c);
		return -ENOMEM;
	}
	r = uv_timer_init(loop, &c->timer);
	if (r == 0) {
		c->open_handles++;
		c->timer.data = c;
		r = uv_timer_init(loop, &c->dispatch);
	}
	if (r == 0) {
		c->open_handles++;
		c->dispatch.data = c;
		r = uv_async_init(loop, &c->kick, kick_cb);
	}
	if (r == 0) {
		c->open_handles++;
		c->kick.data = c;
		/* Only a way in from other threads: it must not keep a loop
		 * alive on its own (a one-shot command's loop ends when its
		 * work is done). */
		uv_unref((uv_handle_t *)&c->kick);
	}
	if (r) {
		c->closing = true;
		if (c->open_handles == 0) {
			creds_provider_destroy(source);
			pthread_mutex_destroy(&c->lock);
			free(c);
			return r;
		}
		uv_close((uv_handle_t *)&c->timer, handle_closed);
		if (c->open_handles > 1)
			uv_close((uv_handle_t *)&c->dispatch, handle_closed);
		return r;
	}
	*out = c;
	return 0;
}

int creds_cache_start(struct creds_cache *c)
{
	maybe_refresh(c, true);
	return 0;
}

struct aws_creds *creds_cache_current(struct creds_cache *c)
{
	double now = c->clock(c->clock_arg);
	struct aws_creds *cr = NULL;
	bool kick;

	pthread_mutex_lock(&c->lock);
	if (usable_locked(c, now))
		cr = aws_creds_ref(c->creds);
	kick = !c->refreshing && now >= c->next_attempt && (cr == NULL || now >= c->refresh_at);
	pthread_mutex_unlock(&c->lock);
	if (kick)
		uv_async_send(&c->kick);
	return cr;
}

int creds_cache_get(struct creds_cache *c, creds_cb cb, void *arg, struct creds_wait **out)
{
	struct creds_wait *w;

	if (cb == NULL)
		return -EINVAL;
	if (c->closing)
		return -ECANCELED;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->cache = c;
	w->cb = cb;
	w->arg = arg;
	w->state = WAIT_PENDING;
	w->prev = c->waiters_tail;
	if (c->waiters_tail)
		c->waiters_tail->next = w;
	else
		c->waiters = w;
	c->waiters_tail = w;
	uv_timer_start(&c->dispatch, dispatch_cb, 0, 0);
	if (out)
		*out = w;
	return 0;
}

void creds_wait_cancel(struct creds_wait *w)
{
	if (w == NULL)
		return;
	if (w->state == WAIT_PENDING) {
		waiter_unlink(w->cache, w);
		free(w);
	} else {
		w->state = WAIT_CANCELLED;	/* freed by deliver() */
	}
}

void creds_cache_invalidate(struct creds_cache *c, const struct aws_creds *bad)
{
	struct aws_creds *old = NULL;

	pthread_mutex_lock(&c->lock);
	if (bad && c->creds == bad) {
		old = c->creds;
		c->creds = NULL;
		c->refresh_at = 0;
	}
	pthread_mutex_unlock(&c->lock);
	if (old) {
		struct logline l;

		if (log_begin(&l, LVL_WARN, "sts.invalidate")) {
			log_str(&l, "account", old->account_id ? old->account_id : "");
			log_int(&l, "expiration", (long long)old->expiration);
			log_end(&l);
		}
		aws_creds_unref(old);
		uv_async_send(&c->kick);
	}
}

void creds_cache_status(struct creds_cache *c, bool *ready, double *seconds_left,
	struct creds_cache_stats *stats)
{
	double now = c->clock(c->clock_arg);

	pthread_mutex_lock(&c->lock);
	if (ready)
		*ready = usable_locked(c, now);
	if (seconds_left)
		*seconds_left = c->creds == NULL ? 0 :
			c->creds->expiration ? (double)c->creds->expiration - now : INFINITY;
	if (stats) {
		*stats = c->stats;
		stats->next_attempt = c->last_err ? c->next_attempt : 0;
		stats->refresh_at = c->creds ? c->refresh_at : 0;
	}
	pthread_mutex_unlock(&c->lock);
}

void creds_cache_free(struct creds_cache *c)
{
	if (c == NULL || c->closing)
		return;
	c->closing = true;
	while (c->waiters) {
		struct creds_wait *w = c->waiters;
		waiter_unlink(c, w);
		free(w);
	}
	/* Cancel the refresh in flight now, while whatever it uses (the HTTP
	 * client) still exists; providers tolerate destroy() from inside
	 * their own callback. */
	creds_provider_destroy(c->source);
	c->source = NULL;
	uv_close((uv_handle_t *)&c->timer, handle_closed);
	uv_close((uv_handle_t *)&c->dispatch, handle_closed);
	uv_close((uv_handle_t *)&c->kick, handle_closed);
}
