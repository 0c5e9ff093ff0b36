#include "aws_identity.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_assume_role.h"
#include "creds_cache.h"
#include "creds_chain.h"
#include "http_client.h"
#include "sts_client.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

struct identity_slot {
	pthread_mutex_t lock;
	struct aws_identity *cur;	/* one reference */
};

static atomic_ulong generations;

static void on_release(uv_async_t *a)
{
	aws_identity_free(a->data);
}

static int resolve(const struct config *cfg, struct aws_identity *id, char *err, size_t errlen)
{
	int r;

	if (cfg->role_arn == NULL) {
		snprintf(err, errlen, "key \"role_arn\" is not set");
		return -EINVAL;
	}
	if (sts_arn_account(cfg->role_arn, id->role_account, sizeof(id->role_account))) {
		snprintf(err, errlen, "key \"role_arn\": \"%s\" names no account", cfg->role_arn);
		return -EINVAL;
	}
	r = aws_region_resolve(cfg->region, id->region, sizeof(id->region));
	if (r == -ENOENT && creds_profile_region(id->region, sizeof(id->region)) == 0)
		r = 0;
	if (r) {
		snprintf(err, errlen, r == -ENOENT ?
			"no region: set key \"region\", AWS_REGION or AWS_DEFAULT_REGION" :
			"key \"region\": not a valid AWS region name");
		return -EINVAL;
	}
	if (aws_endpoint_resolve(AWS_SERVICE_STS, id->region, id->sts_endpoint, sizeof(id->sts_endpoint)) ||
	    aws_endpoint_resolve(cfg->ses_api == SES_API_V2 ? AWS_SERVICE_SESV2 : AWS_SERVICE_SES,
		    id->region, id->ses_endpoint, sizeof(id->ses_endpoint))) {
		snprintf(err, errlen, "AWS_ENDPOINT_URL*: not an http(s) URL");
		return -EINVAL;
	}
	return 0;
}

int aws_identity_new(const struct config *cfg, uv_loop_t *loop, struct aws_identity **out,
	char *err, size_t errlen)
{
	struct aws_identity *id = calloc(1, sizeof(*id));
	struct http_client_opts ho = {
		.ca_bundle = aws_ca_bundle(),
		.max_host_connections = cfg->ses_max_connections,
	};
	struct creds_cache_opts co = {
		.refresh_before_expiry = cfg->refresh_before_expiry,
		.min_remaining = cfg->refresh_min_remaining,
	};
	struct creds_provider *base = NULL, *assume = NULL;
	int r;

	if (id == NULL)
		return -ENOMEM;
	atomic_init(&id->refs, 1);
	id->generation = atomic_fetch_add(&generations, 1) + 1;
	id->ses_timeout_ms = cfg->ses_timeout * 1000u;
	id->ses_max_retries = cfg->ses_max_retries;
	(void)aws_identity_config_digest(cfg, id->digest);	/* zero: the next reload rebuilds */
	snprintf(id->role_arn, sizeof(id->role_arn), "%s", cfg->role_arn ? cfg->role_arn : "");
	r = uv_async_init(loop, &id->release, on_release);
	if (r) {
		free(id);
		snprintf(err, errlen, "cannot set up the identity: %s", uv_strerror(r));
		return r;
	}
	id->release.data = id;
	id->release_open = true;
	/* Not a reason for the loop to run while the identity is in use
	 * (a one-shot command's loop ends when its work is done); a retired
	 * identity refs it (retire()) so the loop waits for its release. */
	uv_unref((uv_handle_t *)&id->release);
	r = resolve(cfg, id, err, errlen);
	if (r == 0 && (r = http_client_new(loop, &ho, &id->http)) == 0)
		r = sts_client_new(id->http, id->sts_endpoint, id->region, cfg->sts_timeout * 1000u, &id->sts);
	if (r && !err[0])
		snprintf(err, errlen, "cannot set up the AWS clients: %s", strerror(-r));
	if (r == 0)
		r = creds_base_new(cfg, loop, id->http, &base, err, errlen);
	if (r == 0) {
		struct creds_assume_role_opts ao = {
			.base = base, .sts = id->sts, .role_arn = cfg->role_arn,
			.external_id = cfg->external_id, .session_name = cfg->role_session_name,
			.duration = cfg->role_duration,
			.allow_same_account = cfg->allow_same_account,
			.shared_account = cfg->shared_account,
		};
		r = creds_assume_role_new(&ao, &assume);
		if (r == 0)
			base = NULL;	/* the AssumeRole provider owns it now */
		else
			snprintf(err, errlen, "cannot set up AssumeRole: %s", strerror(-r));
	}
	if (r == 0) {
		id->assume = assume;
		r = creds_cache_new(loop, assume, &co, &id->cache);
		assume = NULL;	/* the cache owns it now, even when it failed */
		if (r) {
			id->assume = NULL;
			snprintf(err, errlen, "cannot set up the credentials cache: %s", strerror(-r));
		}
	}
	creds_provider_destroy(base);
	creds_provider_destroy(assume);
	if (r) {
		aws_identity_free(id);
		return r;
	}
	*out = id;
	return 0;
}

int aws_identity_base_credentials(struct aws_identity *id, creds_cb cb, void *arg)
{
	if (id == NULL || id->assume == NULL)
		return -EINVAL;
	return creds_assume_role_base(id->assume, cb, arg);
}

void aws_identity_base_proven(struct aws_identity *id, const struct aws_creds *base,
	const char *account)
{
	if (id && id->assume && base && base->access_key_id)
		creds_assume_role_base_proven(id->assume, base->access_key_id, account);
}

static void on_release_closed(uv_handle_t *h)
{
	struct aws_identity *id = h->data;

	id->release_open = false;
	if (id->free_pending)
		free(id);
}

void aws_identity_close(struct aws_identity *id)
{
	if (id == NULL || id->closed)
		return;
	id->closed = true;
	/* The cache first: it may hold STS calls that go through the clients. */
	if (id->cache)
		creds_cache_free(id->cache);
	if (id->sts)
		sts_client_free(id->sts);
	if (id->http)
		http_client_close(id->http);
	id->cache = NULL;
	id->assume = NULL;
	id->sts = NULL;
	id->http = NULL;
	if (id->release_open)
		uv_close((uv_handle_t *)&id->release, on_release_closed);
}

void aws_identity_free(struct aws_identity *id)
{
	if (id == NULL)
		return;
	aws_identity_close(id);
	if (id->release_open)
		id->free_pending = true;	/* freed once the handle is closed */
	else
		free(id);
}

struct aws_identity *aws_identity_ref(struct aws_identity *id)
{
	atomic_fetch_add(&id->refs, 1);
	return id;
}

void aws_identity_unref(struct aws_identity *id)
{
	/* An identity a command closed itself (aws_identity_close) is freed
	 * by its aws_identity_free(), not here. */
	if (id && atomic_fetch_sub(&id->refs, 1) == 1 && !id->closed)
		uv_async_send(&id->release);
}

static void digest_str(EVP_MD_CTX *md, const char *s)
{
	size_t n = s ? strlen(s) + 1 : 0;	/* NULL and "" differ */

	EVP_DigestUpdate(md, &n, sizeof(n));
	if (s)
		EVP_DigestUpdate(md, s, n);
}

int aws_identity_config_digest(const struct config *cfg, unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const unsigned nums[] = {
		cfg->role_duration, cfg->sts_timeout, cfg->refresh_before_expiry,
		cfg->refresh_min_remaining, cfg->credential_process_timeout,
		cfg->metadata_timeout, (unsigned)cfg->ses_api, cfg->ses_timeout,
		cfg->ses_max_retries, cfg->ses_max_connections, cfg->allow_same_account,
	};
	uint64_t maxout = cfg->credential_process_max_output;

	memset(out, 0, 32);
	if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return -ENOMEM;
	}
	digest_str(md, cfg->role_arn);
	digest_str(md, cfg->external_id);
	digest_str(md, cfg->role_session_name);
	digest_str(md, cfg->region);
	digest_str(md, cfg->base_credentials);
	digest_str(md, cfg->shared_account);
	EVP_DigestUpdate(md, nums, sizeof(nums));
	EVP_DigestUpdate(md, &maxout, sizeof(maxout));
	EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
	return 0;
}

int identity_slot_new(struct aws_identity *first, struct identity_slot **out)
{
	struct identity_slot *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return -ENOMEM;
	}
	s->cur = first;
	*out = s;
	return 0;
}

struct aws_identity *identity_slot_get(struct identity_slot *s)
{
	struct aws_identity *id;

	pthread_mutex_lock(&s->lock);
	id = aws_identity_ref(s->cur);
	pthread_mutex_unlock(&s->lock);
	return id;
}

struct aws_identity *identity_slot_peek(struct identity_slot *s)
{
	struct aws_identity *id;

	pthread_mutex_lock(&s->lock);
	id = s->cur;
	pthread_mutex_unlock(&s->lock);
	return id;
}

/* Drop the slot's reference to an identity nobody will be handed again;
 * its loop (this thread's) keeps running until the last send holding it
 * has released it and it is closed. */
static void retire(struct aws_identity *id)
{
	if (id->release_open)
		uv_ref((uv_handle_t *)&id->release);
	aws_identity_unref(id);
}

void identity_slot_set(struct identity_slot *s, struct aws_identity *id)
{
	struct aws_identity *old;

	pthread_mutex_lock(&s->lock);
	old = s->cur;
	s->cur = id;
	pthread_mutex_unlock(&s->lock);
	retire(old);
}

void identity_slot_free(struct identity_slot *s)
{
	if (s == NULL)
		return;
	retire(s->cur);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
