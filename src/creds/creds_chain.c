/* The base credential chain: tries the sources in the SDKs' order (or the
 * one pinned by config), remembers which one answered, caches temporary
 * credentials and makes concurrent get() calls share one fetch.
 *
 * Every callback to our callers runs from `deliver`, a zero-delay timer,
 * never from inside get(): sources may answer synchronously, and callers
 * (the AssumeRole provider, the cache) must not be re-entered. */
#include "creds_chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "creds_base.h"
#include "log.h"

#define MAX_SOURCES 5

struct waiter {
	creds_cb cb;
	void *arg;
	struct waiter *next;
};

struct chain {
	struct creds_provider base;
	uv_loop_t *loop;
	uv_timer_t deliver;
	struct creds_provider *src[MAX_SOURCES];
	const char *names[MAX_SOURCES];
	size_t n;
	int last;			/* source that answered last time, or -1 */
	struct aws_creds *cached;	/* temporary creds, or NULL */

	struct waiter *waiters, **tail;
	bool fetching;
	size_t idx;			/* source being asked */
	bool from_last;			/* asking `last` first */
	char tried[256];		/* "env: ...; profile: ..." for NoCredentials */

	bool ready;			/* result below waits for `deliver` */
	int err;
	struct aws_creds *res;
	struct aws_error why;
	bool destroyed;
};

static const struct {
	const char *name;
	int (*make)(const struct creds_source_opts *, struct creds_provider **);
} sources[MAX_SOURCES] = {
	{ "env", creds_env_new },
	{ "web_identity", creds_web_identity_new },
	{ "profile", creds_profile_new },
	{ "ecs", creds_ecs_new },
	{ "imds", creds_imds_new },
};

static void on_deliver(uv_timer_t *t);

static bool fresh(const struct aws_creds *c, time_t now)
{
	return c && c->expiration - CREDS_BASE_REFRESH_BEFORE > now;
}

static void set_result(struct chain *c, int err, struct aws_creds *creds,
	const struct aws_error *why)
{
	c->fetching = false;
	c->ready = true;
	c->err = err;
	aws_creds_unref(c->res);
	c->res = aws_creds_ref(creds);
	if (why)
		c->why = *why;
	uv_timer_start(&c->deliver, on_deliver, 0, 0);
}

static void next_source(struct chain *c);

static void on_source(void *arg, int err, struct aws_creds *creds,
	const struct aws_error *why)
{
	struct chain *c = arg;
	const char *name = c->names[c->idx];
	time_t now = time(NULL);
	struct aws_error w;
	size_t len;

	if (err == 0 && creds->expiration && creds->expiration <= now) {
		/* Handing these on would only fail later, at AssumeRole. */
		creds_error_set(&w, 0, true, name, "ExpiredCredentials",
			"%s: %s returned credentials that expired %lld s ago", name,
			creds->source, (long long)(now - creds->expiration));
		why = &w;
		err = -EKEYEXPIRED;
	}
	if (err == 0) {
		if (c->last != (int)c->idx) {
			struct logline l;

			/* Once per change, not per refresh: which identity we run as. */
			if (log_begin(&l, LVL_INFO, "creds.base.source")) {
				log_str(&l, "source", creds->source);
				log_str(&l, "access_key_id", creds->access_key_id);
				log_int(&l, "expiration", (long long)creds->expiration);
				log_end(&l);
			}
		}
		c->last = (int)c->idx;
		if (creds->expiration) {
			aws_creds_unref(c->cached);
			c->cached = aws_creds_ref(creds);
		}
		set_result(c, 0, creds, NULL);
		return;
	}
	if (err == CREDS_NOT_CONFIGURED) {
		if (c->from_last) {
			/* The source that used to answer is gone: search again. */
			c->from_last = false;
			c->last = -1;
			c->idx = 0;
			c->tried[0] = '\0';
		} else {
			len = strlen(c->tried);
			snprintf(c->tried + len, sizeof(c->tried) - len, "%s%s: %s",
				len ? "; " : "", name, why ? why->message : "not configured");
			c->idx++;
		}
		next_source(c);
		return;
	}
	if (why)
		w = *why;
	else
		creds_error_set(&w, 0, true, name, "InternalError", "%s: %s", name,
			uv_strerror(err));
	if (w.step[0] == '\0')
		snprintf(w.step, sizeof(w.step), "%s", name);
	if (c->cached && c->cached->expiration > now) {
		struct logline l;

		if (log_begin(&l, LVL_WARN, "creds.base.refresh_failed")) {
			log_str(&l, "source", name);
			log_str(&l, "code", w.code);
			log_str(&l, "error", w.message);
			log_int(&l, "valid_for", (long long)(c->cached->expiration - now));
			log_end(&l);
		}
		set_result(c, 0, c->cached, NULL);
		return;
	}
	set_result(c, err, NULL, &w);
}

static void next_source(struct chain *c)
{
	struct aws_error w;
	int r;

	while (c->idx < c->n) {
		r = creds_provider_get(c->src[c->idx], on_source, c);
		if (r == 0)
			return;		/* on_source runs (or ran) and carries on */
		creds_error_set(&w, 0, true, c->names[c->idx], "InternalError",
			"%s: %s", c->names[c->idx], uv_strerror(r));
		set_result(c, r, NULL, &w);
		return;
	}
	creds_error_set(&w, 0, true, "base_credentials", "NoCredentials",
		"no base credentials: %s", c->tried);
	set_result(c, -ENOENT, NULL, &w);
}

static void on_deliver(uv_timer_t *t)
{
	struct chain *c = t->data;
	struct waiter *w = c->waiters;
	int err = c->err;
	struct aws_creds *res = c->res;
	struct aws_error why = c->why;

	if (!c->ready)
		return;
	c->ready = false;
	c->res = NULL;
	c->waiters = NULL;
	c->tail = &c->waiters;
	while (w) {
		struct waiter *nx = w->next;

		if (!c->destroyed)
			w->cb(w->arg, err, err ? NULL : res, err ? &why : NULL);
		free(w);
		w = nx;
	}
	aws_creds_unref(res);
}

static int chain_get(struct creds_provider *p, creds_cb cb, void *arg)
{
	struct chain *c = (struct chain *)p;
	struct waiter *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -ENOMEM;
	w->cb = cb;
	w->arg = arg;
	*c->tail = w;
	c->tail = &w->next;
	if (c->fetching || c->ready)
		return 0;	/* joins the fetch or delivery already under way */
	if (fresh(c->cached, time(NULL))) {
		set_result(c, 0, c->cached, NULL);
		return 0;
	}
	c->fetching = true;
	c->tried[0] = '\0';
	c->from_last = c->last >= 0;
	c->idx = c->from_last ? (size_t)c->last : 0;
	next_source(c);
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct chain *c = h->data;
	struct waiter *w = c->waiters;

	while (w) {
		struct waiter *nx = w->next;
		free(w);
		w = nx;
	}
	aws_creds_unref(c->res);
	aws_creds_unref(c->cached);
	free(c);
}

static void chain_destroy(struct creds_provider *p)
{
	struct chain *c = (struct chain *)p;

	if (c->destroyed)
		return;
	c->destroyed = true;
	for (size_t i = 0; i < c->n; i++)
		creds_provider_destroy(c->src[i]);
	c->n = 0;
	uv_close((uv_handle_t *)&c->deliver, on_closed);
}

static const struct creds_provider_vtable chain_vt = {
	.name = "base",
	.get = chain_get,
	.destroy = chain_destroy,
};

int creds_base_new(const struct config *cfg, uv_loop_t *loop,
	struct http_client *http, struct creds_provider **out,
	char *err, size_t errlen)
{
	const char *pin = cfg->base_credentials ? cfg->base_credentials : "chain";
	struct creds_source_opts o;
	struct chain *c;
	int r;

	memset(&o, 0, sizeof(o));
	o.loop = loop;
	o.http = http;
	o.region = cfg->region;
	o.sts_timeout_ms = cfg->sts_timeout * 1000;
	o.metadata_timeout_ms = cfg->metadata_timeout * 1000;
	o.process_timeout_ms = cfg->credential_process_timeout * 1000;
	o.process_max_output = (size_t)cfg->credential_process_max_output;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->base.vt = &chain_vt;
	c->loop = loop;
	c->last = -1;
	c->tail = &c->waiters;
	for (size_t i = 0; i < MAX_SOURCES; i++) {
		if (strcmp(pin, "chain") != 0 && strcmp(pin, sources[i].name) != 0)
			continue;
		r = sources[i].make(&o, &c->src[c->n]);
		if (r) {
			snprintf(err, errlen, "base credentials: %s: %s", sources[i].name,
				uv_strerror(r));
			goto fail;
		}
		c->names[c->n++] = sources[i].name;
	}
	if (c->n == 0) {
		snprintf(err, errlen, "base_credentials \"%s\": expected chain, env, "
			"web_identity, profile, ecs or imds", pin);
		r = -EINVAL;
		goto fail;
	}
	uv_timer_init(loop, &c->deliver);
	c->deliver.data = c;
	*out = &c->base;
	return 0;
fail:
	for (size_t i = 0; i < c->n; i++)
		creds_provider_destroy(c->src[i]);
	free(c);
	return r;
}
