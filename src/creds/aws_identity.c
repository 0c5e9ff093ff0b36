#include "aws_identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_assume_role.h"
#include "creds_cache.h"
#include "creds_chain.h"
#include "http_client.h"
#include "sts_client.h"

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
}

void aws_identity_free(struct aws_identity *id)
{
	if (id == NULL)
		return;
	aws_identity_close(id);
	free(id);
}
