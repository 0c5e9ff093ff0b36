/* Credentials cache with a scripted provider and a fake clock: single
 * flight, refresh window, backoff, stale-but-valid serving, the
 * min_remaining cut-off, invalidation and cancellation. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "check.h"
#include "creds_cache.h"

static uv_loop_t *loop;
static double fake_now = 1800000000.0;

static double fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* ---- scripted provider: get() parks the callback until the test answers ---- */

struct fake {
	struct creds_provider p;
	int calls;
	creds_cb cb;
	void *arg;
	int *destroyed;
};

static int fake_get(struct creds_provider *p, creds_cb cb, void *arg)
{
	struct fake *f = (struct fake *)p;

	if (f->cb)
		return -EBUSY;
	f->calls++;
	f->cb = cb;
	f->arg = arg;
	return 0;
}

static void fake_destroy(struct creds_provider *p)
{
	struct fake *f = (struct fake *)p;

	if (f->destroyed)
		(*f->destroyed)++;
	free(f);
}

static const struct creds_provider_vtable fake_vt = { "fake", fake_get, fake_destroy };

static struct fake *fake_new(int *destroyed)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->p.vt = &fake_vt;
	f->destroyed = destroyed;
	return f;
}

static struct aws_creds *make_creds(const char *akid, double expires_in, bool verified)
{
	struct aws_creds *c = aws_creds_new(akid, "secret", "token",
		(time_t)(fake_now + expires_in), "assume_role");

	c->verified = verified;
	c->account_id = strdup("111111111111");
	return c;
}

static void answer_ok(struct fake *f, const char *akid, double expires_in)
{
	struct aws_creds *c = make_creds(akid, expires_in, true);
	creds_cb cb = f->cb;

	f->cb = NULL;
	cb(f->arg, 0, c, NULL);
	aws_creds_unref(c);
}

static void answer_fail(struct fake *f, const char *code, bool retryable)
{
	struct aws_error why;
	creds_cb cb = f->cb;

	memset(&why, 0, sizeof(why));
	snprintf(why.step, sizeof(why.step), "AssumeRole");
	snprintf(why.code, sizeof(why.code), "%s", code);
	snprintf(why.message, sizeof(why.message), "scripted failure");
	why.retryable = retryable;
	f->cb = NULL;
	cb(f->arg, -EACCES, NULL, &why);
}

static void spin(void)
{
	for (int i = 0; i < 5; i++)
		uv_run(loop, UV_RUN_NOWAIT);
}

struct got {
	int calls;
	int err;
	char akid[32];
	char code[64];
	bool retryable;
};

static void on_creds(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	struct got *g = arg;

	g->calls++;
	g->err = err;
	if (c)
		snprintf(g->akid, sizeof(g->akid), "%s", c->access_key_id);
	if (why) {
		snprintf(g->code, sizeof(g->code), "%s", why->code);
		g->retryable = why->retryable;
	}
}

static struct creds_cache *cache_new(struct fake *f)
{
	fake_now = (double)(long long)fake_now + 10000;
	struct creds_cache_opts o = {
		.refresh_before_expiry = 900, .min_remaining = 60,
		.backoff_initial_ms = 1000, .backoff_max_ms = 8000,
		.clock = fake_clock, .seed = 42,
	};
	struct creds_cache *c = NULL;

	CHECK_INT(creds_cache_new(loop, &f->p, &o, &c), 0);
	return c;
}

static void cache_free(struct creds_cache *c)
{
	creds_cache_free(c);
	uv_run(loop, UV_RUN_DEFAULT);
}

static const char *current_akid(struct creds_cache *c, char *buf)
{
	struct aws_creds *cr = creds_cache_current(c);

	if (cr == NULL)
		return "(none)";
	snprintf(buf, 32, "%s", cr->access_key_id);
	aws_creds_unref(cr);
	return buf;
}

static void test_single_flight(void)
{
	enum { N = 50 };
	struct got g[N], late;
	int destroyed = 0;
	struct fake *f = fake_new(&destroyed);
	struct creds_cache *c = cache_new(f);
	char b[32];

	memset(g, 0, sizeof(g));
	memset(&late, 0, sizeof(late));
	for (int i = 0; i < N; i++)
		CHECK_INT(creds_cache_get(c, on_creds, &g[i], NULL), 0);
	CHECK_INT(g[0].calls, 0);	/* never before get() returns */
	spin();
	CHECK_INT(f->calls, 1);
	CHECK_INT(creds_cache_get(c, on_creds, &late, NULL), 0);
	spin();
	CHECK_INT(f->calls, 1);		/* late waiter joins the flight */
	CHECK(creds_cache_current(c) == NULL);
	answer_ok(f, "AKIDONE", 3600);
	for (int i = 0; i < N; i++) {
		CHECK_INT(g[i].calls, 1);
		CHECK_INT(g[i].err, 0);
		CHECK_STR(g[i].akid, "AKIDONE");
	}
	CHECK_INT(late.calls, 1);
	CHECK_STR(current_akid(c, b), "AKIDONE");
	spin();
	CHECK_INT(f->calls, 1);
	cache_free(c);
	CHECK_INT(destroyed, 1);
}

static void test_refresh_window(void)
{
	struct fake *f = fake_new(NULL);
	struct creds_cache *c = cache_new(f);
	struct creds_cache_stats st;
	double t0 = fake_now, left;
	bool ready;
	char b[32];

	CHECK_INT(creds_cache_start(c), 0);
	CHECK_INT(f->calls, 1);
	answer_ok(f, "AKIDA", 3600);
	creds_cache_status(c, &ready, &left, &st);
	CHECK(ready);
	CHECK(left > 3599 && left <= 3600);
	/* Window start = expiry - 900 - jitter, jitter within 10% of 900. */
	CHECK(st.refresh_at <= t0 + 3600 - 900);
	CHECK(st.refresh_at >= t0 + 3600 - 990);

	fake_now = t0 + 3600 - 991;	/* before any jittered window */
	CHECK_STR(current_akid(c, b), "AKIDA");
	spin();
	CHECK_INT(f->calls, 1);

	fake_now = t0 + 3600 - 899;	/* inside the window whatever the jitter */
	CHECK_STR(current_akid(c, b), "AKIDA");
	spin();
	CHECK_INT(f->calls, 2);		/* background refresh started */
	CHECK_STR(current_akid(c, b), "AKIDA");	/* old set still served meanwhile */
	spin();
	CHECK_INT(f->calls, 2);		/* and only one refresh */
	answer_ok(f, "AKIDB", 3600);
	CHECK_STR(current_akid(c, b), "AKIDB");
	creds_cache_status(c, NULL, NULL, &st);
	CHECK_INT(st.refresh_ok, 2);
	cache_free(c);
	fake_now = t0 + 10000;
}

/* A set that lives shorter than the refresh window must not be refreshed
 * again on arrival (an AssumeRole storm): the window opens half-way
 * through its usable life instead. */
static void test_short_lived_sets(void)
{
	struct fake *f = fake_new(NULL);
	struct creds_cache *c = cache_new(f);
	double t0 = fake_now;
	char b[32];

	creds_cache_start(c);
	answer_ok(f, "AKIDS1", 600);	/* usable for 540 s, window 900 s */
	CHECK_STR(current_akid(c, b), "AKIDS1");
	spin();
	CHECK_INT(f->calls, 1);
	fake_now = t0 + 269;
	CHECK_STR(current_akid(c, b), "AKIDS1");
	spin();
	CHECK_INT(f->calls, 1);
	fake_now = t0 + 271;
	CHECK_STR(current_akid(c, b), "AKIDS1");
	spin();
	CHECK_INT(f->calls, 2);
	answer_ok(f, "AKIDS2", 600);
	CHECK_STR(current_akid(c, b), "AKIDS2");
	spin();
	CHECK_INT(f->calls, 2);
	cache_free(c);
}

static void test_backoff_and_stale(void)
{
	struct fake *f = fake_new(NULL);
	struct creds_cache *c = cache_new(f);
	struct creds_cache_stats st;
	struct got g;
	double exp0, prev_delay = 0;
	char b[32];

	creds_cache_start(c);
	answer_ok(f, "AKIDOLD", 3600);
	exp0 = fake_now + 3600;
	fake_now = exp0 - 800;		/* in the window */
	CHECK_STR(current_akid(c, b), "AKIDOLD");
	spin();
	CHECK_INT(f->calls, 2);

	/* Expected delay ranges with equal jitter: [b/2, b], b = 1,2,4,8,8 s. */
	for (int n = 1; n <= 5; n++) {
		double bmax = n <= 4 ? (double)(1 << (n - 1)) : 8.0, delay;
		answer_fail(f, "Throttling", true);
		creds_cache_status(c, NULL, NULL, &st);
		CHECK_INT(st.consecutive_failures, n);
		CHECK_STR(st.last_error, "Throttling");
		delay = st.next_attempt - fake_now;
		CHECK(delay >= bmax / 2 - 1e-9 && delay <= bmax + 1e-9);
		if (n <= 4)
			CHECK(delay > prev_delay * 0.99 || n == 1);
		prev_delay = delay;
		/* Stale but valid: still served while refreshes fail. */
		CHECK_STR(current_akid(c, b), "AKIDOLD");
		memset(&g, 0, sizeof(g));
		creds_cache_get(c, on_creds, &g, NULL);
		spin();
		CHECK_INT(g.calls, 1);
		CHECK_STR(g.akid, "AKIDOLD");
		/* No retry before the backoff has passed. */
		CHECK_INT(f->calls, n + 1);
		fake_now = st.next_attempt + 0.001;
		aws_creds_unref(creds_cache_current(c));
		spin();
		CHECK_INT(f->calls, n + 2);
	}
	answer_ok(f, "AKIDNEW", 3600);
	creds_cache_status(c, NULL, NULL, &st);
	CHECK_INT(st.consecutive_failures, 0);
	CHECK_INT(st.refresh_failed, 5);
	CHECK_STR(current_akid(c, b), "AKIDNEW");
	cache_free(c);
	fake_now += 10000;
}

static void test_min_remaining(void)
{
	struct fake *f = fake_new(NULL);
	struct creds_cache *c = cache_new(f);
	struct got g, g2;
	double exp0;
	bool ready;
	char b[32];

	creds_cache_start(c);
	answer_ok(f, "AKIDX", 1000);
	exp0 = fake_now + 1000;
	fake_now = exp0 - 60;		/* exactly min_remaining left: still usable */
	CHECK_STR(current_akid(c, b), "AKIDX");
	spin();
	CHECK_INT(f->calls, 2);
	answer_fail(f, "ServiceUnavailable", true);
	fake_now = exp0 - 59.6;		/* below: never handed out (backoff >= 0.5 s still on) */
	CHECK_STR(current_akid(c, b), "(none)");
	creds_cache_status(c, &ready, NULL, NULL);
	CHECK(!ready);
	/* In backoff with nothing usable: a waiter fails at once, retryable,
	 * without another provider call. */
	memset(&g, 0, sizeof(g));
	creds_cache_get(c, on_creds, &g, NULL);
	spin();
	CHECK_INT(g.calls, 1);
	CHECK(g.err < 0);
	CHECK_STR(g.code, "ServiceUnavailable");
	CHECK(g.retryable);
	CHECK_INT(f->calls, 2);
	/* After the backoff a waiter triggers the refresh and gets its result;
	 * the expired set is never delivered. */
	fake_now += 10;
	memset(&g2, 0, sizeof(g2));
	creds_cache_get(c, on_creds, &g2, NULL);
	spin();
	CHECK_INT(f->calls, 3);
	CHECK_INT(g2.calls, 0);
	answer_ok(f, "AKIDY", 3600);
	CHECK_INT(g2.calls, 1);
	CHECK_STR(g2.akid, "AKIDY");
	cache_free(c);
	fake_now += 10000;
}

static void test_refuses_unverified_and_short(void)
{
	struct fake *f = fake_new(NULL);
	struct creds_cache *c = cache_new(f);
	struct got g;
	struct aws_creds *u;
	creds_cb cb;
	char b[32];

	memset(&g, 0, sizeof(g));
	creds_cache_get(c, on_creds, &g, NULL);
	spin();
	u = make_creds("AKIDBASE", 3600, false);
	cb = f->cb;
	f->cb = NULL;
	cb(f->arg, 0, u, NULL);
	aws_creds_unref(u);
	CHECK_INT(g.calls, 1);
	CHECK(g.err < 0);
	CHECK_STR(g.code, "Unverified");
	CHECK_STR(current_akid(c, b), "(none)");

	fake_now += 60;
	memset(&g, 0, sizeof(g));
	creds_cache_get(c, on_creds, &g, NULL);
	spin();
	answer_ok(f, "AKIDSHORT", 30);	/* below min_remaining on arrival */
	CHECK_INT(g.calls, 1);
	CHECK_STR(g.code, "ShortLived");
	CHECK_STR(current_akid(c, b), "(none)");
	cache_free(c);
	fake_now += 10000;
}

static void test_invalidate(void)
{
	struct fake *f = fake_new(NULL);
	struct creds_cache *c = cache_new(f);
	struct aws_creds *cur, *other;
	char b[32];

	creds_cache_start(c);
	answer_ok(f, "AKIDBAD", 3600);
	cur = creds_cache_current(c);
	other = make_creds("AKIDBAD", 3600, true);	/* same key, another set */
	creds_cache_invalidate(c, other);
	CHECK_STR(current_akid(c, b), "AKIDBAD");
	spin();
	CHECK_INT(f->calls, 1);
	creds_cache_invalidate(c, cur);
	CHECK_STR(current_akid(c, b), "(none)");
	spin();
	CHECK_INT(f->calls, 2);		/* refresh started right away */
	answer_ok(f, "AKIDGOOD", 3600);
	CHECK_STR(current_akid(c, b), "AKIDGOOD");
	/* A late invalidate of the replaced set changes nothing. */
	creds_cache_invalidate(c, cur);
	CHECK_STR(current_akid(c, b), "AKIDGOOD");
	aws_creds_unref(cur);
	aws_creds_unref(other);
	cache_free(c);
}

static struct creds_cache *free_me;
static void on_creds_free(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	on_creds(arg, err, c, why);
	creds_cache_free(free_me);
}

static void test_cancel_and_free(void)
{
	int destroyed = 0;
	struct fake *f = fake_new(&destroyed);
	struct creds_cache *c = cache_new(f);
	struct got a, b, d;
	struct creds_wait *wa;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&d, 0, sizeof(d));
	CHECK_INT(creds_cache_get(c, on_creds, &a, &wa), 0);
	CHECK_INT(creds_cache_get(c, on_creds_free, &b, NULL), 0);
	CHECK_INT(creds_cache_get(c, on_creds, &d, NULL), 0);
	creds_wait_cancel(wa);
	spin();
	free_me = c;
	answer_ok(f, "AKIDZ", 3600);	/* b's callback frees the cache */
	CHECK_INT(a.calls, 0);
	CHECK_INT(b.calls, 1);
	CHECK_INT(d.calls, 0);		/* dropped silently by the free */
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_INT(destroyed, 1);

	/* Free with a waiter pending and a refresh in flight. */
	destroyed = 0;
	f = fake_new(&destroyed);
	c = cache_new(f);
	memset(&a, 0, sizeof(a));
	creds_cache_get(c, on_creds, &a, NULL);
	spin();
	CHECK_INT(f->calls, 1);
	cache_free(c);
	CHECK_INT(a.calls, 0);
	CHECK_INT(destroyed, 1);
}

/* ---- threads: current() and invalidate() from workers while the loop
 * refreshes (wall clock; the provider answers from a uv timer) ---- */

struct timed {
	struct creds_provider p;
	uv_timer_t t;
	creds_cb cb;
	void *arg;
	int calls;
};

static void timed_fire(uv_timer_t *t)
{
	struct timed *f = t->data;
	char akid[32];
	struct aws_creds *c;
	creds_cb cb = f->cb;

	snprintf(akid, sizeof(akid), "AKIDT%d", f->calls);
	c = aws_creds_new(akid, "secret", "token", time(NULL) + 3600, "assume_role");
	c->verified = true;
	c->account_id = strdup("111111111111");
	f->cb = NULL;
	cb(f->arg, 0, c, NULL);
	aws_creds_unref(c);
}

static int timed_get(struct creds_provider *p, creds_cb cb, void *arg)
{
	struct timed *f = (struct timed *)p;

	f->calls++;
	f->cb = cb;
	f->arg = arg;
	uv_timer_start(&f->t, timed_fire, 1, 0);
	return 0;
}

static void timed_closed(uv_handle_t *h)
{
	free(h->data);
}

static void timed_destroy(struct creds_provider *p)
{
	struct timed *f = (struct timed *)p;

	uv_close((uv_handle_t *)&f->t, timed_closed);
}

static const struct creds_provider_vtable timed_vt = { "timed", timed_get, timed_destroy };

static struct creds_cache *shared;
static atomic_int workers_left, bad_creds, got_creds;

static void *worker(void *arg)
{
	uint64_t end = uv_hrtime() + 300 * 1000000ULL;

	(void)arg;
	for (int i = 1; uv_hrtime() < end; i++) {
		struct aws_creds *c = creds_cache_current(shared);

		if (c == NULL)
			continue;
		atomic_fetch_add(&got_creds, 1);
		if (!c->verified || strncmp(c->access_key_id, "AKIDT", 5) != 0)
			atomic_fetch_add(&bad_creds, 1);
		if (i % 5000 == 0)
			creds_cache_invalidate(shared, c);
		aws_creds_unref(c);
	}
	atomic_fetch_sub(&workers_left, 1);
	return NULL;
}

static void watch_workers(uv_timer_t *t)
{
	if (atomic_load(&workers_left) == 0)
		uv_stop(t->loop);
}

static void test_threads(void)
{
	enum { NT = 4 };
	struct timed *f = calloc(1, sizeof(*f));
	struct creds_cache_opts o = { .refresh_before_expiry = 900, .min_remaining = 60 };
	pthread_t th[NT];
	uv_timer_t watch;

	f->p.vt = &timed_vt;
	uv_timer_init(loop, &f->t);
	f->t.data = f;
	CHECK_INT(creds_cache_new(loop, &f->p, &o, &shared), 0);
	creds_cache_start(shared);
	atomic_store(&workers_left, NT);
	for (int i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	uv_timer_init(loop, &watch);
	uv_timer_start(&watch, watch_workers, 1, 1);
	uv_run(loop, UV_RUN_DEFAULT);
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	uv_close((uv_handle_t *)&watch, NULL);
	CHECK_INT(atomic_load(&bad_creds), 0);
	CHECK(atomic_load(&got_creds) > 0);
	CHECK(f->calls >= 3);	/* invalidations from the workers refreshed */
	creds_cache_free(shared);
	uv_run(loop, UV_RUN_DEFAULT);
}

int main(void)
{
	loop = uv_default_loop();
	test_single_flight();
	test_refresh_window();
	test_short_lived_sets();
	test_backoff_and_stale();
	test_min_remaining();
	test_refuses_unverified_and_short();
	test_invalidate();
	test_cancel_and_free();
	test_threads();
	CHECK_INT(uv_loop_close(loop), 0);
	return check_report();
}
