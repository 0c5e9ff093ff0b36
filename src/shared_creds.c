#include "shared_creds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "creds_assume_role.h"
#include "creds_chain.h"
#include "sts_client.h"

int shared_creds_new(const struct config *cfg, uv_loop_t *loop, struct http_client *http,
	const struct creds_cache_opts *opts, struct shared_creds **out,
	char *err, size_t errlen)
{
	struct creds_cache_opts co;
	struct creds_assume_role_opts ao;
	struct creds_provider *base = NULL, *assume = NULL;
	struct shared_creds *s;
	int r;

	if (cfg->role_arn == NULL) {
		snprintf(err, errlen, "key \"role_arn\" is not set");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (sts_arn_account(cfg->role_arn, s->role_account, sizeof(s->role_account))) {
		snprintf(err, errlen, "key \"role_arn\": \"%s\" names no account", cfg->role_arn);
		r = -EINVAL;
		goto fail;
	}
	r = aws_region_resolve(cfg->region, s->region, sizeof(s->region));
	if (r == -ENOENT && creds_profile_region(s->region, sizeof(s->region)) == 0)
		r = 0;
	if (r) {
		snprintf(err, errlen, r == -ENOENT ?
			"no region: set key \"region\", AWS_REGION or AWS_DEFAULT_REGION" :
			"region is not a valid AWS region name");
		r = -EINVAL;
		goto fail;
	}
	r = aws_endpoint_resolve(AWS_SERVICE_STS, s->region, s->sts_endpoint, sizeof(s->sts_endpoint));
	if (r) {
		snprintf(err, errlen, "STS endpoint (AWS_ENDPOINT_URL_STS/AWS_ENDPOINT_URL) is not an http(s) URL");
		goto fail;
	}
	r = sts_client_new(http, s->sts_endpoint, s->region, cfg->sts_timeout * 1000u, &s->sts);
	if (r) {
		snprintf(err, errlen, "cannot set up the STS client: %s", strerror(-r));
		goto fail;
	}
	r = creds_base_new(cfg, loop, http, &base, err, errlen);
	if (r)
		goto fail;
	memset(&ao, 0, sizeof(ao));
	ao.base = base;
	ao.sts = s->sts;
	ao.role_arn = cfg->role_arn;
	ao.external_id = cfg->external_id;
	ao.session_name = cfg->role_session_name;
	ao.duration = cfg->role_duration;
	r = creds_assume_role_new(&ao, &assume);	/* takes base, even on failure */
	if (r) {
		snprintf(err, errlen, r == -EINVAL ?
			"key \"role_session_name\" must be 2-64 characters of [A-Za-z0-9_+=,.@-]" :
			"out of memory");
		goto fail;
	}
	if (opts) {
		co = *opts;
	} else {
		memset(&co, 0, sizeof(co));
		co.refresh_before_expiry = cfg->refresh_before_expiry;
		co.min_remaining = cfg->refresh_min_remaining;
	}
	r = creds_cache_new(loop, assume, &co, &s->cache);	/* takes assume */
	if (r) {
		snprintf(err, errlen, "cannot set up the credentials cache: %s", strerror(-r));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	sts_client_free(s->sts);
	free(s);
	return r;
}

void shared_creds_free(struct shared_creds *s)
{
	if (s == NULL)
		return;
	creds_cache_free(s->cache);	/* destroys the providers now */
	sts_client_free(s->sts);
	free(s);
}
