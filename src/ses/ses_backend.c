#include "ses_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_identity.h"
#include "creds_cache.h"
#include "http_client.h"
#include "metrics.h"
#include "header_filter.h"
#include "sts_client.h"
#include "ses_client.h"
#include "ses_message.h"

struct ses_backend {
	struct backend base;
	struct aws_identity *id;	/* owned; NULL in a worker */
	struct aws_identity *shared;	/* a worker's: the main loop's, borrowed */
	struct http_client *http;	/* a worker's own (curl multi on its loop) */
	struct ses_client *client;	/* owned */
	/* What a transaction needs of the configuration, copied so a reload
	 * cannot pull it from under a message in flight. */
	enum ses_api api;
	bool reject_headers;
	char *source_arn, *from_arn, *return_path_arn, *configuration_set;
	struct strlist tags;
};

struct delivery_txn {
	struct ses_backend *be;
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
	header_filter_init(&t->filter, be->reject_headers, body_sink, t);
	*out = t;
	return 0;
}

static void refusal(int err, struct delivery_result *res)
{
	if (err == -EMSGSIZE)
		delivery_result_set(res, 552, "5.3.4", "message exceeds the SES size limit");
	else if (err == -EPERM)
		delivery_result_set(res, 550, "5.7.1", "X-SES-* header fields are not accepted here");
	else
		delivery_result_set(res, 451, "4.3.0", "cannot prepare the SES request");
}

static int ses_write(struct delivery_txn *t, const char *p, size_t n, struct delivery_result *res)
{
	int r = header_filter_feed(&t->filter, p, n);

	if (r)
		refusal(r, res);
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
		r = ses_client_send(t->be->client, &t->body, on_sent, t, &t->send);
	}
	if (r) {
		refusal(r, res);
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

static void ses_shutdown(struct backend *b)
{
	struct ses_backend *be = (struct ses_backend *)b;

	aws_identity_close(be->id);
	if (be->http)
		http_client_close(be->http);
	be->http = NULL;
}

static int ses_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen);
static bool ses_ready(struct backend *b, char *why, size_t n);
static void ses_metrics(struct backend *b, struct metrics_scrape *x);
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
	.shutdown = ses_shutdown,
	.free = ses_free,
};

static int copy_str(char **dst, const char *src)
{
	*dst = NULL;
	return src && (*dst = strdup(src)) == NULL ? -ENOMEM : 0;
}

static int backend_new(const struct config *cfg, struct aws_identity *shared,
	uv_loop_t *loop, struct backend **out, char *err, size_t errlen)
{
	struct ses_backend *be = calloc(1, sizeof(*be));
	struct ses_client_opts o = {
		.api = cfg->ses_api,
		.timeout_ms = cfg->ses_timeout * 1000,
		.max_retries = cfg->ses_max_retries,
		.creds_elsewhere = shared != NULL,
	};
	struct http_client_opts ho = {
		.ca_bundle = aws_ca_bundle(),
		.max_host_connections = cfg->ses_max_connections,
	};
	struct aws_identity *id;
	int r;

	if (be == NULL)
		return -ENOMEM;
	be->base.ops = &ses_ops;
	/* The largest raw message whose base64 fits SES's limit. */
	be->base.max_message_size = (cfg->ses_api == SES_API_V2 ? SES_V2_MAX_ENCODED
		: SES_V1_MAX_ENCODED) / 4 * 3;
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
	if (r) {
		snprintf(err, errlen, "out of memory");
		ses_free(&be->base);
		return r;
	}
	if (shared) {
		be->shared = id = shared;
		r = http_client_new(loop, &ho, &be->http);
		if (r)
			snprintf(err, errlen, "cannot set up the HTTP client: %s", strerror(-r));
	} else {
		r = aws_identity_new(cfg, loop, &be->id, err, errlen);
		id = be->id;
	}
	if (r == 0) {
		o.endpoint = id->ses_endpoint;
		o.region = id->region;
		/* Sign on AWS's clock: the STS client learnt our offset from its
		 * Date header, so a skewed host clock does not get requests refused. */
		o.clock = sts_client_clock(id->sts);
		r = ses_client_new(loop, shared ? be->http : id->http, id->cache, &o, &be->client);
		if (r)
			snprintf(err, errlen, "SES endpoint %s: %s", id->ses_endpoint, strerror(-r));
	}
	/* Assume the role now, so the first message does not wait for it. */
	if (r == 0 && !shared)
		r = creds_cache_start(id->cache);
	if (r) {
		ses_free(&be->base);
		return r;
	}
	*out = &be->base;
	return 0;
}

int ses_backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen)
{
	return backend_new(cfg, NULL, loop, out, err, errlen);
}

/* A worker's: its own HTTP client and SES client on its loop, signing
 * with main's credentials cache. */
static int ses_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen)
{
	struct ses_backend *m = (struct ses_backend *)main;

	if (m->id == NULL) {
		snprintf(err, errlen, "no shared-account identity to borrow");
		return -EINVAL;
	}
	return backend_new(cfg, m->id, loop, out, err, errlen);
}

static struct creds_cache *creds_of(struct backend *b)
{
	struct ses_backend *be = (struct ses_backend *)b;

	if (be->shared)
		return be->shared->cache;
	return be->id ? be->id->cache : NULL;
}

/* Ready = verified shared-account credentials are held. */
static bool ses_ready(struct backend *b, char *why, size_t n)
{
	struct creds_cache *cache = creds_of(b);
	struct creds_cache_stats st;
	bool ok;

	if (cache == NULL)
		return true;
	creds_cache_status(cache, &ok, NULL, &st);
	if (!ok)
		snprintf(why, n, "no valid shared-account credentials%s%s%s",
			st.last_error[0] ? " (last error: " : "", st.last_error,
			st.last_error[0] ? ")" : "");
	return ok;
}

static void ses_metrics(struct backend *b, struct metrics_scrape *x)
{
	struct creds_cache *cache = creds_of(b);
	struct creds_cache_stats st;

	if (cache == NULL)
		return;
	creds_cache_status(cache, &x->creds_ready, &x->creds_seconds_left, &st);
	x->have_creds = true;
	x->sts_refresh_ok = st.refresh_ok;
	x->sts_refresh_failed = st.refresh_failed;
}

static void ses_free(struct backend *b)
{
	struct ses_backend *be = (struct ses_backend *)b;

	if (be == NULL)
		return;
	ses_client_free(be->client);
	if (be->http)	/* failed before it started */
		http_client_close(be->http);
	aws_identity_free(be->id);
	free(be->source_arn);
	free(be->from_arn);
	free(be->return_path_arn);
	free(be->configuration_set);
	strlist_free(&be->tags);
	free(be);
}
