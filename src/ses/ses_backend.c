#include "ses_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_identity.h"
#include "creds_cache.h"
#include "header_filter.h"
#include "http_client.h"
#include "log.h"
#include "metrics.h"
#include "ses_client.h"
#include "ses_governor.h"
#include "ses_message.h"
#include "ses_quota.h"

struct identity_reload;

struct ses_backend {
	struct backend base;
	uv_loop_t *loop;
	struct identity_slot *slot;	/* owned; NULL in a worker */
	struct identity_slot *shared;	/* a worker's: the main back end's, borrowed */
	struct identity_reload *reload;	/* main: a new identity being proven, or NULL */
	struct http_client *http;	/* own: SES connections on this loop */
	struct ses_client *client;	/* owned */
	struct ses_governor *gov;	/* main's owns it; a worker's borrows it */
	bool own_gov;
	struct ses_quota *quota;	/* send_rate auto, main's only; closes itself */
	/* What a transaction needs of the configuration, copied so a reload
	 * cannot pull it from under a message in flight. */
	enum ses_api api;
	bool reject_headers;
	char *source_arn, *from_arn, *return_path_arn, *configuration_set;
	struct strlist tags;
};

/* A new identity built on reload, switched to once it proved its
 * account. Owns its reference to id. */
struct identity_reload {
	struct ses_backend *be;
	struct aws_identity *id;
	struct creds_wait *wait;
};

struct delivery_txn {
	struct ses_backend *be;
	char session[32];
	struct ses_body body;
	struct header_filter filter;
	struct ses_send *send;
	delivery_done_cb cb;
	void *arg;
};

static int body_sink(void *arg, const char *p, size_t n)
{
	struct delivery_txn *t = arg;

	return ses_body_write(&t->body, p, n);
}

static int ses_begin(struct backend *b, const struct envelope *env,
	struct delivery_txn **out, struct delivery_result *res)
{
	struct ses_backend *be = (struct ses_backend *)b;
	struct delivery_txn *t = calloc(1, sizeof(*t));
	struct ses_params p = {
		.api = be->api,
		.source = env->mail_from,
		.destinations = env->rcpts,
		.ndestinations = env->nrcpt,
		.source_arn = be->source_arn,
		.from_arn = be->from_arn,
		.return_path_arn = be->return_path_arn,
		.configuration_set = be->configuration_set,
		.tags = &be->tags,
	};
	int r;

	if (t == NULL) {
		delivery_result_set(res, 451, "4.3.0", "out of memory");
		return -ENOMEM;
	}
	r = ses_body_begin(&t->body, &p, env->declared_size);
	if (r) {
		free(t);
		delivery_result_set(res, 451, "4.3.0", "cannot prepare the SES request");
		return r;
	}
	t->be = be;
	snprintf(t->session, sizeof(t->session), "%s", env->session_id ? env->session_id : "");
	header_filter_init(&t->filter, be->reject_headers, body_sink, t);
	*out = t;
	return 0;
}

static void refusal(const struct ses_backend *be, int err, struct delivery_result *res)
{
	if (err == -EMSGSIZE) {
		delivery_result_set(res, 552, "5.3.4", "");
		snprintf(res->text, sizeof(res->text), "Message size exceeds the limit of %llu "
			"octets (%s)", (unsigned long long)be->base.max_message_size,
			be->base.size_note);
	} else if (err == -EPERM)
		delivery_result_set(res, 550, "5.7.1", "X-SES-* header fields are not accepted here");
	else
		delivery_result_set(res, 451, "4.3.0", "cannot prepare the SES request");
}

static int ses_write(struct delivery_txn *t, const char *p, size_t n, struct delivery_result *res)
{
	int r = header_filter_feed(&t->filter, p, n);

	if (r)
		refusal(t->be, r, res);
	return r;
}

static void txn_free(struct delivery_txn *t)
{
	ses_body_free(&t->body);
	free(t);
}

static void on_sent(void *arg, const struct delivery_result *res)
{
	struct delivery_txn *t = arg;

	t->send = NULL;
	t->cb(t->arg, res);
	txn_free(t);
}

static int ses_commit(struct delivery_txn *t, delivery_done_cb cb, void *arg,
	struct delivery_result *res)
{
	int r = header_filter_finish(&t->filter);

	if (r == 0)
		r = ses_body_finish(&t->body);
	if (r == 0) {
		t->cb = cb;
		t->arg = arg;
		r = ses_client_send(t->be->client, &t->body, t->session, on_sent, t, &t->send);
	}
	if (r) {
		refusal(t->be, r, res);
		txn_free(t);
	}
	return r;
}

static void ses_abort(struct delivery_txn *t)
{
	if (t->send)
		ses_send_cancel(t->send);
	txn_free(t);
}

static void reload_cancel(struct ses_backend *be)
{
	struct identity_reload *rl = be->reload;

	if (rl == NULL)
		return;
	be->reload = NULL;
	creds_wait_cancel(rl->wait);
	aws_identity_unref(rl->id);
	free(rl);
}

static void ses_shutdown(struct backend *b)
{
	struct ses_backend *be = (struct ses_backend *)b;

	reload_cancel(be);
	ses_quota_close(be->quota);
	be->quota = NULL;
	/* The identity closes once the last send holding it is done. */
	identity_slot_free(be->slot);
	be->slot = NULL;
	if (be->http)
		http_client_close(be->http);
	be->http = NULL;
}

static int ses_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen);
static void governor_metrics(struct ses_governor *gov, struct metrics_scrape *x)
{
	struct ses_governor_stats gs;

	if (gov == NULL)
		return;
	ses_governor_stats(gov, uv_hrtime() / 1000000, &gs);
	x->queue.have_governor = true;
	x->queue.rate = gs.rate;
	x->queue.tokens = gs.tokens;
	x->queue.throttles = gs.throttles;
	x->queue.paused = gs.paused;
}

static bool ses_ready(struct backend *b, char *why, size_t n);
static void ses_metrics(struct backend *b, struct metrics_scrape *x);
static int ses_reload(struct backend *b, const struct config *cfg);
static void ses_free(struct backend *b);

static const struct backend_ops ses_ops = {
	.name = "ses",
	.begin = ses_begin,
	.write = ses_write,
	.commit = ses_commit,
	.abort = ses_abort,
	.new_worker = ses_new_worker,
	.ready = ses_ready,
	.metrics = ses_metrics,
	.reload = ses_reload,
	.shutdown = ses_shutdown,
	.free = ses_free,
};

static int copy_str(char **dst, const char *src)
{
	*dst = NULL;
	return src && (*dst = strdup(src)) == NULL ? -ENOMEM : 0;
}

static int backend_new(const struct config *cfg, struct identity_slot *shared,
	struct ses_governor *gov, uv_loop_t *loop, struct backend **out, char *err, size_t errlen)
{
	struct ses_backend *be = calloc(1, sizeof(*be));
	struct ses_client_opts o = {
		.api = cfg->ses_api,
		.creds_elsewhere = shared != NULL,
		.soft_bounce = cfg->soft_bounce,
		/* A queued message waits in the queue anyway; a client holds
		 * its connection open only so long. */
		.rate_wait_ms = (cfg->delivery == DELIVERY_QUEUE ? cfg->queue_rate_wait
			: cfg->rate_wait) * 1000,
	};
	bool auto_rate = strcmp(cfg->send_rate, "auto") == 0;
	struct http_client_opts ho = {
		.ca_bundle = aws_ca_bundle(),
		.max_host_connections = cfg->ses_max_connections,
	};
	struct aws_identity *id = NULL;
	int r;

	if (be == NULL)
		return -ENOMEM;
	be->base.ops = &ses_ops;
	be->loop = loop;
	/* The largest raw message whose base64 fits SES's limit. */
	be->base.max_message_size = (cfg->ses_api == SES_API_V2 ? SES_V2_MAX_ENCODED
		: SES_V1_MAX_ENCODED) / 4 * 3;
	be->base.size_note = cfg->ses_api == SES_API_V2 ? "the SES v2 limit" :
		"the SES v1 limit; ses_api v2 allows 40 MB";
	be->api = cfg->ses_api;
	be->reject_headers = cfg->ses_headers == SES_HEADERS_REJECT;
	r = copy_str(&be->source_arn, cfg->source_arn);
	r |= copy_str(&be->from_arn, cfg->from_arn);
	r |= copy_str(&be->return_path_arn, cfg->return_path_arn);
	r |= copy_str(&be->configuration_set, cfg->configuration_set);
	if (r == 0 && cfg->message_tags.n) {
		be->tags.v = calloc(cfg->message_tags.n, sizeof(char *));
		r = be->tags.v ? 0 : -ENOMEM;
		for (size_t i = 0; r == 0 && i < cfg->message_tags.n; i++, be->tags.n++)
			r = copy_str(&be->tags.v[i], cfg->message_tags.v[i]);
	}
	if (r == 0 && gov) {
		be->gov = gov;
	} else if (r == 0) {
		/* Until GetSendQuota answers, the fallback rate. */
		r = ses_governor_new(strtod(auto_rate ? cfg->send_rate_fallback : cfg->send_rate,
			NULL), cfg->send_quota_pause, &be->gov);
		be->own_gov = r == 0;
	}
	if (r) {
		snprintf(err, errlen, "out of memory");
		ses_free(&be->base);
		return r;
	}
	o.governor = be->gov;
	if (shared) {
		be->shared = shared;
	} else {
		r = aws_identity_new(cfg, loop, &id, err, errlen);
		if (r == 0 && (r = identity_slot_new(id, &be->slot)) != 0) {
			snprintf(err, errlen, "out of memory");
			aws_identity_unref(id);
		}
		id = NULL;
	}
	if (r == 0) {
		r = http_client_new(loop, &ho, &be->http);
		if (r)
			snprintf(err, errlen, "cannot set up the HTTP client: %s", strerror(-r));
	}
	if (r == 0) {
		r = ses_client_new(loop, be->http, shared ? shared : be->slot, &o, &be->client);
		if (r)
			snprintf(err, errlen, "SES endpoint %s: %s",
				identity_slot_peek(shared ? shared : be->slot)->ses_endpoint, strerror(-r));
	}
	/* Assume the role now, so the first message does not wait for it. */
	if (r == 0 && !shared)
		r = creds_cache_start(identity_slot_peek(be->slot)->cache);
	if (r == 0 && !shared && auto_rate)
		r = ses_quota_start(loop, be->slot, be->gov, strtod(cfg->send_rate_share, NULL),
			strtod(cfg->send_rate_fallback, NULL), cfg->send_quota_interval, &be->quota);
	if (r) {
		ses_shutdown(&be->base);
		ses_free(&be->base);
		return r;
	}
	*out = &be->base;
	return 0;
}

int ses_backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen)
{
	return backend_new(cfg, NULL, NULL, loop, out, err, errlen);
}

/* A worker's: its own HTTP client and SES client on its loop, signing
 * with the identity in main's slot. */
static int ses_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen)
{
	struct ses_backend *m = (struct ses_backend *)main;

	if (m->slot == NULL) {
		snprintf(err, errlen, "no shared-account identity to borrow");
		return -EINVAL;
	}
	return backend_new(cfg, m->slot, m->gov, loop, out, err, errlen);
}

static struct aws_identity *current(struct ses_backend *be)
{
	struct identity_slot *slot = be->shared ? be->shared : be->slot;

	return slot ? identity_slot_peek(slot) : NULL;
}

struct ses_client *ses_backend_client(struct backend *b)
{
	if (b == NULL || b->ops != &ses_ops)
		return NULL;
	return ((struct ses_backend *)b)->client;
}

static struct creds_cache *creds_of(struct backend *b)
{
	struct aws_identity *id = current((struct ses_backend *)b);

	return id ? id->cache : NULL;
}

/* Ready = the current identity holds verified credentials; else why
 * says what failed and what to fix. Main loop only. */
static bool ses_ready(struct backend *b, char *why, size_t n)
{
	struct creds_cache *cache = creds_of(b);
	struct creds_cache_stats st;
	bool ok;

	if (cache == NULL)
		return true;
	creds_cache_status(cache, &ok, NULL, &st);
	if (!ok)
		snprintf(why, n, "no valid shared-account credentials%s%s%s%s%s",
			st.last_error[0] ? " (" : "", st.last_error,
			st.last_message[0] ? ": " : "", st.last_message,
			st.last_error[0] ? ")" : "");
	return ok;
}

/* The credentials series and the proven identity for a scrape. */
static void ses_metrics(struct backend *b, struct metrics_scrape *x)
{
	struct aws_identity *id = current((struct ses_backend *)b);
	struct creds_cache_stats st;
	struct aws_creds *cr;

	if (id == NULL || id->cache == NULL)
		return;
	creds_cache_status(id->cache, &x->creds_ready, &x->creds_seconds_left, &st);
	x->have_creds = true;
	x->sts_refresh_ok = st.refresh_ok;
	x->sts_refresh_failed = st.refresh_failed;
	governor_metrics(((struct ses_backend *)b)->gov, x);
	cr = creds_cache_current(id->cache);
	if (cr && cr->verified && cr->account_id) {
		snprintf(x->identity_account, sizeof(x->identity_account), "%s", cr->account_id);
		snprintf(x->identity_role_arn, sizeof(x->identity_role_arn), "%s", id->role_arn);
	}
	aws_creds_unref(cr);
}

static void log_reload(int level, const char *outcome, const struct aws_identity *id,
	const char *account, const struct aws_error *why, const char *detail)
{
	struct logline l;

	if (!log_begin(&l, level, "identity.reload"))
		return;
	log_str(&l, "outcome", outcome);
	if (id)
		log_str(&l, "role_arn", id->role_arn);
	if (account)
		log_str(&l, "account", account);
	if (why) {
		log_str(&l, "step", why->step);
		log_str(&l, "code", why->code);
		log_str(&l, "message", why->message);
	}
	if (detail)
		log_str(&l, "detail", detail);
	log_end(&l);
}

/* The new identity answered: switch to it once it proved its account;
 * otherwise keep the running one if that works. */
static void on_proven(void *arg, int err, struct aws_creds *cr, const struct aws_error *why)
{
	struct identity_reload *rl = arg;
	struct ses_backend *be = rl->be;
	struct creds_cache *old = creds_of(&be->base);
	bool old_ok = false;

	be->reload = NULL;
	if (old)
		creds_cache_status(old, &old_ok, NULL, NULL);
	if (err == 0) {
		identity_slot_set(be->slot, rl->id);	/* takes the reference */
		metrics_identity_reload(true);
		log_reload(LVL_INFO, "ok", rl->id, cr->account_id, NULL,
			"new sends use the new identity; sends in flight finish with the old one");
	} else if (old_ok) {
		metrics_identity_reload(false);
		log_reload(LVL_ERROR, "failed", rl->id, NULL, why,
			"the running identity keeps serving; fix the file and reload again");
		aws_identity_unref(rl->id);
	} else {
		/* The running one does not work either: the new one is what
		 * the file says now, and it keeps retrying (with backoff). */
		metrics_identity_reload(false);
		log_reload(LVL_ERROR, "failed", rl->id, NULL, why,
			"the running identity had no credentials either: switched to the new one, "
			"which keeps retrying");
		identity_slot_set(be->slot, rl->id);
	}
	free(rl);
}

/* SIGHUP, on the main back end: when a key the identity is built from
 * changed (or the running one has no credentials), build a new identity
 * from cfg and switch every worker to it once it proved its account
 * (logged as identity.reload, counted in sesrelay_identity_reloads_total);
 * if it fails the running one keeps serving. ses_api needs a restart and
 * is kept. Returns at once. */
static int ses_reload(struct backend *b, const struct config *cfg)
{
	struct ses_backend *be = (struct ses_backend *)b;
	struct aws_identity *cur;
	struct identity_reload *rl;
	struct config c;
	unsigned char digest[32];
	char err[512] = "";
	bool ready = false;
	int r;

	if (be->slot == NULL)
		return -EINVAL;
	/* The message encoding and size limit stay those of the running
	 * back end (ses_api needs a restart), so the identity's endpoint
	 * must stay that API's. Shallow copy: aws_identity_new keeps nothing. */
	c = *cfg;
	c.ses_api = be->api;
	cur = identity_slot_peek(be->slot);
	creds_cache_status(cur->cache, &ready, NULL, NULL);
	if (aws_identity_config_digest(&c, digest) == 0 &&
	    memcmp(digest, cur->digest, sizeof(digest)) == 0 && ready && be->reload == NULL)
		return 0;	/* nothing to change, and the running one works */
	if (be->reload)
		log_reload(LVL_WARN, "superseded", be->reload->id, NULL, NULL,
			"a newer reload replaces the one still proving its account");
	reload_cancel(be);
	rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return -ENOMEM;
	rl->be = be;
	r = aws_identity_new(&c, be->loop, &rl->id, err, sizeof(err));
	if (r == 0)
		r = creds_cache_get(rl->id->cache, on_proven, rl, &rl->wait);
	if (r) {
		struct aws_error why = { .retryable = false };

		snprintf(why.step, sizeof(why.step), "setup");
		snprintf(why.code, sizeof(why.code), "InvalidConfiguration");
		snprintf(why.message, sizeof(why.message), "%s", err[0] ? err : strerror(-r));
		metrics_identity_reload(false);
		log_reload(LVL_ERROR, "failed", NULL, NULL, &why,
			"the running identity keeps serving");
		aws_identity_unref(rl->id);
		free(rl);
		return r;
	}
	be->reload = rl;
	log_reload(LVL_INFO, "started", rl->id, NULL, NULL,
		"proving the new identity; the running one serves until then");
	return 0;
}

static void ses_free(struct backend *b)
{
	struct ses_backend *be = (struct ses_backend *)b;

	if (be == NULL)
		return;
	reload_cancel(be);
	identity_slot_free(be->slot);
	ses_client_free(be->client);
	if (be->own_gov)
		ses_governor_free(be->gov);
	if (be->http)	/* failed before it started */
		http_client_close(be->http);
	free(be->source_arn);
	free(be->from_arn);
	free(be->return_path_arn);
	free(be->configuration_set);
	strlist_free(&be->tags);
	free(be);
}
