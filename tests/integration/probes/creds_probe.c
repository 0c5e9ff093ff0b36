/* Drives the relay's shared-account credentials stack (creds_base_new ->
 * creds_assume_role with its GetCallerIdentity proof -> creds_cache, the
 * modules aws_identity.c assembles for the relay) on a uv loop the way
 * the SES sender uses it, and prints what happens as JSON lines on
 * stdout, for tests/integration/test_sts_refresh.py. Only the cache windows and
 * backoff come from the command line, so a test can use credentials that
 * live seconds instead of the configuration's minimum of minutes.
 *
 * Every tick it asks the cache for credentials like a message would:
 * creds_cache_current(), else creds_cache_get() (one wait at a time).
 * Credentials it gets are "used" by signing an STS GetCallerIdentity with
 * them, so a verifying server tells whether they were still good; an
 * ExpiredToken/InvalidClientTokenId answer invalidates them in the cache
 * as the SES sender does.
 *
 * Configuration comes from SESRELAY_* / AWS_* like the relay; options:
 *   --before S --min S             cache windows (seconds)
 *   --backoff-initial-ms N --backoff-max-ms N
 *   --burst N                      N creds_cache_get() at start
 *   --interval-ms N                tick period (0: no ticks)
 *   --duration-ms N                run time after start (ticks stop then)
 *
 * Events: start, get (burst answers), use, wait, wait_done, invalidate,
 * status (at the end). `t` is wall-clock seconds. No secret is printed:
 * only access key ids, which AWS does not treat as secret.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <uv.h>

#include "aws_endpoint.h"
#include "aws_url.h"
#include "config.h"
#include "creds_assume_role.h"
#include "creds_cache.h"
#include "creds_chain.h"
#include "http_client.h"
#include "log.h"
#include "sts_client.h"

struct stack {
	struct creds_cache *cache;
	struct sts_client *sts;
	char region[AWS_REGION_MAX];
	char sts_endpoint[AWS_URL_MAX];
	char role_account[16];
};

static struct {
	uv_loop_t *loop;
	struct config cfg;
	struct http_client *http;
	struct stack st, *sc;
	uv_timer_t tick, stop;
	unsigned interval_ms, duration_ms;
	int burst, burst_left;
	int uses_in_flight;
	bool waiting, stopping;
	double wait_started;
} P;

static double now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

struct use {
	struct aws_creds *creds;
	double exp_left;
};

static void maybe_finish(void);

static void on_use(void *arg, int err, const struct sts_identity *id, const struct aws_error *why)
{
	struct use *u = arg;

	printf("{\"event\":\"use\",\"t\":%.3f,\"akid\":\"%s\",\"exp\":%lld,\"left\":%.3f,"
		"\"ok\":%s,\"account\":\"%s\",\"code\":\"%s\"}\n",
		now(), u->creds->access_key_id, (long long)u->creds->expiration, u->exp_left,
		err ? "false" : "true", id ? id->account : "", why ? why->code : "");
	if (why && (strcmp(why->code, "ExpiredToken") == 0 ||
		    strcmp(why->code, "InvalidClientTokenId") == 0)) {
		printf("{\"event\":\"invalidate\",\"t\":%.3f,\"akid\":\"%s\"}\n", now(),
			u->creds->access_key_id);
		creds_cache_invalidate(P.sc->cache, u->creds);
	}
	fflush(stdout);
	aws_creds_unref(u->creds);
	free(u);
	P.uses_in_flight--;
	maybe_finish();
}

static void use(struct aws_creds *c)
{
	struct use *u = calloc(1, sizeof(*u));

	u->creds = aws_creds_ref(c);
	u->exp_left = (double)c->expiration - now();
	if (sts_get_caller_identity(P.sc->sts, c, on_use, u, NULL)) {
		aws_creds_unref(u->creds);
		free(u);
		return;
	}
	P.uses_in_flight++;
}

static void on_wait(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	(void)arg;
	P.waiting = false;
	printf("{\"event\":\"wait_done\",\"t\":%.3f,\"waited\":%.3f,\"err\":%d,\"akid\":\"%s\","
		"\"verified\":%s,\"code\":\"%s\",\"retryable\":%s}\n",
		now(), now() - P.wait_started, err, c ? c->access_key_id : "",
		c && c->verified ? "true" : "false", why ? why->code : "",
		why && why->retryable ? "true" : "false");
	fflush(stdout);
	if (c)
		use(c);
	maybe_finish();
}

static void on_burst(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	printf("{\"event\":\"get\",\"t\":%.3f,\"i\":%d,\"err\":%d,\"akid\":\"%s\",\"account\":\"%s\","
		"\"verified\":%s,\"code\":\"%s\"}\n",
		now(), (int)(intptr_t)arg, err, c ? c->access_key_id : "",
		c && c->account_id ? c->account_id : "", c && c->verified ? "true" : "false",
		why ? why->code : "");
	fflush(stdout);
	P.burst_left--;
	maybe_finish();
}

static void tick_cb(uv_timer_t *t)
{
	struct aws_creds *c;

	(void)t;
	if (P.stopping)
		return;
	c = creds_cache_current(P.sc->cache);
	if (c) {
		use(c);
		aws_creds_unref(c);
	} else if (!P.waiting) {
		P.waiting = true;
		P.wait_started = now();
		printf("{\"event\":\"wait\",\"t\":%.3f}\n", now());
		fflush(stdout);
		if (creds_cache_get(P.sc->cache, on_wait, NULL, NULL))
			P.waiting = false;
	}
}

static void close_all(void)
{
	bool ready;
	double left;
	struct creds_cache_stats st;

	creds_cache_status(P.sc->cache, &ready, &left, &st);
	printf("{\"event\":\"status\",\"t\":%.3f,\"ready\":%s,\"left\":%.3f,\"refresh_ok\":%lu,"
		"\"refresh_failed\":%lu,\"last_error\":\"%s\"}\n",
		now(), ready ? "true" : "false", left, st.refresh_ok, st.refresh_failed, st.last_error);
	fflush(stdout);
	uv_close((uv_handle_t *)&P.tick, NULL);
	uv_close((uv_handle_t *)&P.stop, NULL);
	creds_cache_free(P.sc->cache);
	sts_client_free(P.sc->sts);
	http_client_close(P.http);
}

/* The same assembly as aws_identity_new(), with the cache options given. */
static int stack_new(const struct creds_cache_opts *co, char *err, size_t errlen)
{
	struct stack *s = &P.st;
	struct creds_provider *base = NULL, *assume = NULL;
	int r;

	if (P.cfg.role_arn == NULL ||
	    sts_arn_account(P.cfg.role_arn, s->role_account, sizeof(s->role_account))) {
		snprintf(err, errlen, "role_arn missing or without an account");
		return -EINVAL;
	}
	if (aws_region_resolve(P.cfg.region, s->region, sizeof(s->region)) ||
	    aws_endpoint_resolve(AWS_SERVICE_STS, s->region, s->sts_endpoint,
		    sizeof(s->sts_endpoint))) {
		snprintf(err, errlen, "no usable region or STS endpoint");
		return -EINVAL;
	}
	r = sts_client_new(P.http, s->sts_endpoint, s->region, P.cfg.sts_timeout * 1000u, &s->sts);
	if (r == 0)
		r = creds_base_new(&P.cfg, P.loop, P.http, &base, err, errlen);
	if (r == 0) {
		struct creds_assume_role_opts ao = {
			.base = base, .sts = s->sts, .role_arn = P.cfg.role_arn,
			.external_id = P.cfg.external_id, .session_name = P.cfg.role_session_name,
			.duration = P.cfg.role_duration,
		};
		r = creds_assume_role_new(&ao, &assume);
		if (r)
			creds_provider_destroy(base);
	}
	if (r == 0)
		r = creds_cache_new(P.loop, assume, co, &s->cache);	/* takes assume */
	if (r && !err[0])
		snprintf(err, errlen, "set-up failed: %s", strerror(-r));
	P.sc = s;
	return r;
}

static void maybe_finish(void)
{
	if (P.stopping && P.uses_in_flight == 0 && !P.waiting && P.burst_left == 0) {
		P.stopping = false;
		P.burst_left = -1;	/* only once */
		close_all();
	}
}

static void stop_cb(uv_timer_t *t)
{
	(void)t;
	P.stopping = true;
	uv_timer_stop(&P.tick);
	maybe_finish();
}

int main(int argc, char **argv)
{
	struct creds_cache_opts co = { 0 };
	char err[512];
	struct http_client_opts ho = { .ca_bundle = aws_ca_bundle() };

	for (int i = 1; i + 1 < argc; i += 2) {
		unsigned v = (unsigned)strtoul(argv[i + 1], NULL, 10);
		if (strcmp(argv[i], "--before") == 0)
			co.refresh_before_expiry = v;
		else if (strcmp(argv[i], "--min") == 0)
			co.min_remaining = v;
		else if (strcmp(argv[i], "--backoff-initial-ms") == 0)
			co.backoff_initial_ms = v;
		else if (strcmp(argv[i], "--backoff-max-ms") == 0)
			co.backoff_max_ms = v;
		else if (strcmp(argv[i], "--burst") == 0)
			P.burst = (int)v;
		else if (strcmp(argv[i], "--interval-ms") == 0)
			P.interval_ms = v;
		else if (strcmp(argv[i], "--duration-ms") == 0)
			P.duration_ms = v;
		else {
			fprintf(stderr, "creds_probe: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (config_load(&P.cfg, NULL, err, sizeof(err))) {
		fprintf(stderr, "creds_probe: %s\n", err);
		return 2;
	}
	log_setup(LOG_FORMAT_JSON, LVL_DEBUG, false);
	P.loop = uv_default_loop();
	if (http_global_init() || http_client_new(P.loop, &ho, &P.http)) {
		fprintf(stderr, "creds_probe: cannot set up HTTP\n");
		return 1;
	}
	err[0] = '\0';
	if (stack_new(&co, err, sizeof(err))) {
		fprintf(stderr, "creds_probe: %s\n", err);
		return 2;
	}
	printf("{\"event\":\"start\",\"t\":%.3f,\"role_account\":\"%s\",\"sts\":\"%s\"}\n",
		now(), P.sc->role_account, P.sc->sts_endpoint);
	fflush(stdout);
	creds_cache_start(P.sc->cache);
	P.burst_left = P.burst;
	for (int i = 0; i < P.burst; i++)
		if (creds_cache_get(P.sc->cache, on_burst, (void *)(intptr_t)i, NULL))
			P.burst_left--;
	uv_timer_init(P.loop, &P.tick);
	uv_timer_init(P.loop, &P.stop);
	if (P.interval_ms)
		uv_timer_start(&P.tick, tick_cb, P.interval_ms, P.interval_ms);
	uv_timer_start(&P.stop, stop_cb, P.duration_ms, 0);
	uv_run(P.loop, UV_RUN_DEFAULT);
	uv_loop_close(P.loop);
	http_global_cleanup();
	config_free(&P.cfg);
	return 0;
}
