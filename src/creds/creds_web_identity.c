/* Base credentials from a web identity token (EKS IRSA and the like):
 * AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME),
 * exchanged by an unsigned STS AssumeRoleWithWebIdentity.
 *
 * The token file is re-read on every get(): the kubelet rotates it, and a
 * cached token would eventually be refused as expired. The STS endpoint
 * follows aws_endpoint.h (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else
 * the regional endpoint; us-east-1 when no region is set anywhere, as the
 * call is unsigned and any STS endpoint serves it). */
#include "creds_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_endpoint.h"
#include "aws_url.h"
#include "creds_chain.h"
#include "sts_client.h"

#define MAX_TOKEN (64 * 1024)

struct wi_provider {
	struct creds_provider base;
	struct http_client *http;
	unsigned timeout_ms;
	char *config_region;
	struct sts_client *sts;		/* made on first use, with the endpoint of then */
	struct sts_call *call;
	creds_cb cb;
	void *arg;
};

static int make_sts(struct wi_provider *p, struct aws_error *why)
{
	char region[AWS_REGION_MAX], url[AWS_URL_MAX];
	int r;

	if (p->sts)
		return 0;
	r = aws_region_resolve(p->config_region, region, sizeof(region));
	if (r == -ENOENT && creds_profile_region(region, sizeof(region)) != 0)
		snprintf(region, sizeof(region), "us-east-1");
	else if (r == -EINVAL) {
		creds_error_set(why, 0, false, "web_identity", "InvalidConfiguration",
			"region is not a valid AWS region name");
		return r;
	}
	r = aws_endpoint_resolve(AWS_SERVICE_STS, region, url, sizeof(url));
	if (r) {
		creds_error_set(why, 0, false, "web_identity", "InvalidConfiguration",
			"STS endpoint: AWS_ENDPOINT_URL_STS/AWS_ENDPOINT_URL is not an http(s) URL");
		return r;
	}
	r = sts_client_new(p->http, url, region, p->timeout_ms, &p->sts);
	if (r)
		creds_error_set(why, 0, true, "web_identity", "InternalError",
			"cannot set up the STS client: %s", uv_strerror(r));
	return r;
}

static void on_sts(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	struct wi_provider *p = arg;
	creds_cb cb = p->cb;
	struct aws_error w;

	p->call = NULL;
	p->cb = NULL;
	if (err && why) {
		w = *why;
		snprintf(w.step, sizeof(w.step), "web_identity");
		/* The IdP may have been briefly unreachable or the token just
		 * rotated: a later attempt with a re-read token can succeed. */
		if (strcmp(w.code, "IDPCommunicationError") == 0 ||
		    strcmp(w.code, "InvalidIdentityToken") == 0)
			w.retryable = true;
		why = &w;
	}
	if (c)
		c->source = "web_identity";
	cb(p->arg, err, c, why);
}

static int wi_get(struct creds_provider *base, creds_cb cb, void *arg)
{
	struct wi_provider *p = (struct wi_provider *)base;
	const char *file = creds_getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = creds_getenv("AWS_ROLE_ARN");
	const char *name = creds_getenv("AWS_ROLE_SESSION_NAME");
	char session[64];
	struct aws_error why;
	struct buf tok = BUF_INIT;
	int r;

	if (p->call)
		return -EBUSY;
	if (file == NULL) {
		creds_error_set(&why, 0, false, "web_identity", "NotConfigured",
			"AWS_WEB_IDENTITY_TOKEN_FILE unset");
		cb(arg, CREDS_NOT_CONFIGURED, NULL, &why);
		return 0;
	}
	if (role == NULL) {
		creds_error_set(&why, 0, false, "web_identity", "IncompleteConfiguration",
			"AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
		r = -EINVAL;
		goto fail;
	}
	r = creds_read_file(file, MAX_TOKEN, &tok);
	if (r) {
		creds_error_set(&why, 0, r != -EFBIG, "web_identity", "InvalidIdentityToken",
			"token file %.150s: %s", file, r == -EFBIG ? "file too large" : uv_strerror(r));
		goto fail;
	}
	while (tok.len && strchr(" \t\r\n", tok.data[tok.len - 1]))
		tok.data[--tok.len] = '\0';
	if (tok.len == 0) {
		creds_error_set(&why, 0, true, "web_identity", "InvalidIdentityToken",
			"token file %.150s is empty", file);
		r = -EINVAL;
		goto fail;
	}
	if (name == NULL)
		snprintf(session, sizeof(session), "sesrelay-%lld", (long long)time(NULL));
	if ((r = make_sts(p, &why)) != 0)
		goto fail;
	p->cb = cb;
	p->arg = arg;
	r = sts_assume_role_with_web_identity(p->sts, role, name ? name : session,
		tok.data, on_sts, p, &p->call);
	buf_free_secret(&tok);
	if (r) {
		p->cb = NULL;
		p->call = NULL;
		creds_error_set(&why, 0, r != -EINVAL, "web_identity", "InvalidConfiguration",
			"cannot start AssumeRoleWithWebIdentity: %s", uv_strerror(r));
		cb(arg, r, NULL, &why);
	}
	return 0;
fail:
	buf_free_secret(&tok);
	cb(arg, r, NULL, &why);
	return 0;
}

static void wi_destroy(struct creds_provider *base)
{
	struct wi_provider *p = (struct wi_provider *)base;

	if (p->call)
		sts_call_cancel(p->call);
	if (p->sts)
		sts_client_free(p->sts);
	free(p->config_region);
	free(p);
}

static const struct creds_provider_vtable wi_vt = {
	.name = "web_identity",
	.get = wi_get,
	.destroy = wi_destroy,
};

int creds_web_identity_new(const struct creds_source_opts *o, struct creds_provider **out)
{
	struct wi_provider *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->base.vt = &wi_vt;
	p->http = o->http;
	p->timeout_ms = o->sts_timeout_ms;
	if (o->region && (p->config_region = strdup(o->region)) == NULL) {
		free(p);
		return -ENOMEM;
	}
	*out = &p->base;
	return 0;
}
