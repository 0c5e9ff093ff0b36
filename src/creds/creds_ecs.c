/* Base credentials from the container credentials endpoint (ECS task
 * roles, EKS Pod Identity).
 *
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is appended to
 * http://169.254.170.2 (SESRELAY_ECS_HOST replaces that host, for tests
 * and debugging). AWS_CONTAINER_CREDENTIALS_FULL_URI may only name a
 * loopback host or the documented link-local agents (169.254.170.2 for
 * ECS, 169.254.170.23 and [fd00:ec2::23] for EKS Pod Identity): unlike the
 * SDKs we also refuse https to other hosts, since whoever controls the
 * environment could otherwise point our identity at any server. The
 * Authorization header comes from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 * (re-read each time: EKS rotates it) or AWS_CONTAINER_AUTHORIZATION_TOKEN. */
#include "creds_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "aws_url.h"
#include "http_client.h"

#define ECS_HOST "169.254.170.2"
#define MAX_TOKEN 16384

struct ecs_provider {
	struct creds_provider base;
	struct http_client *http;
	unsigned timeout_ms;
	struct http_call *call;
	char *url;
	char *auth_header;		/* "Authorization: ..." (secret) */
	creds_cb cb;
	void *arg;
};

static bool host_allowed(const char *host)
{
	unsigned char a[16];

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (uv_inet_pton(AF_INET, host, a) == 0)
		return a[0] == 127 ||
			(a[0] == 169 && a[1] == 254 && a[2] == 170 && (a[3] == 2 || a[3] == 23));
	if (uv_inet_pton(AF_INET6, host, a) == 0) {
		static const unsigned char loop6[16] = { [15] = 1 };
		static const unsigned char eks6[16] = { 0xfd, 0x00, 0x0e, 0xc2, [15] = 0x23 };
		return memcmp(a, loop6, 16) == 0 || memcmp(a, eks6, 16) == 0;
	}
	return false;
}

/* Check scheme and host of a full URI. 0 or -EPERM/-EINVAL with why. */
static int check_full_uri(const char *uri, struct aws_error *why)
{
	struct aws_url u;

	/* userinfo hides the real host from a reader */
	if (aws_url_parse(uri, &u) != 0 || u.userinfo) {
		creds_error_set(why, 0, false, "ecs", "InvalidConfiguration",
			"AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http(s) URL with a plain host");
		return -EINVAL;
	}
	if (!host_allowed(u.host)) {
		creds_error_set(why, 0, false, "ecs", "ForbiddenEndpoint",
			"AWS_CONTAINER_CREDENTIALS_FULL_URI host \"%.100s\" is not loopback "
			"or a container credentials agent", u.host);
		return -EPERM;
	}
	return 0;
}

/* Authorization header value, if any. 0, or <0 with why. */
static int auth_token(struct ecs_provider *p, struct aws_error *why)
{
	const char *file = creds_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = creds_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	struct buf b = BUF_INIT;
	int r;

	if (file) {
		r = creds_read_file(file, MAX_TOKEN, &b);
		if (r) {
			creds_error_set(why, 0, false, "ecs", "InvalidConfiguration",
				"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %.150s: %s", file,
				r == -EFBIG ? "file too large" : uv_strerror(r));
			return r;
		}
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
		    b.data[b.len - 1] == ' '))
			b.data[--b.len] = '\0';
		tok = b.data;
	}
	if (tok == NULL)
		return 0;
	if (strpbrk(tok, "\r\n") || *tok == '\0') {
		creds_error_set(why, 0, false, "ecs", "InvalidConfiguration",
			"container authorization token is empty or spans lines");
		buf_free_secret(&b);
		return -EINVAL;
	}
	if (asprintf(&p->auth_header, "Authorization: %s", tok) < 0) {
		p->auth_header = NULL;
		buf_free_secret(&b);
		creds_error_set(why, 0, true, "ecs", "InternalError", "out of memory");
		return -ENOMEM;
	}
	buf_free_secret(&b);
	return 0;
}

static void clear_request(struct ecs_provider *p)
{
	if (p->auth_header) {
		OPENSSL_cleanse(p->auth_header, strlen(p->auth_header));
		free(p->auth_header);
		p->auth_header = NULL;
	}
	free(p->url);
	p->url = NULL;
	p->call = NULL;
}

static void on_response(void *arg, const struct http_response *res)
{
	struct ecs_provider *p = arg;
	creds_cb cb = p->cb;
	struct aws_error why;
	struct aws_creds *c = NULL;
	int err;

	clear_request(p);
	if (res->error) {
		creds_http_error(&why, "ecs", res->error, res->error_text);
		err = res->error;
	} else if (res->status != 200) {
		creds_error_set(&why, (int)res->status, res->status >= 500 || res->status == 429,
			"ecs", "HttpError", "container credentials endpoint answered HTTP %ld",
			res->status);
		err = -EIO;
	} else {
		err = creds_from_json(res->body.data, res->body.len, "Token", true,
			"ecs", "ecs", &c, &why);
	}
	cb(p->arg, err, c, c ? NULL : &why);
	aws_creds_unref(c);
}

static int ecs_get(struct creds_provider *base, creds_cb cb, void *arg)
{
	struct ecs_provider *p = (struct ecs_provider *)base;
	const char *rel = creds_getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = creds_getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *host = creds_getenv("SESRELAY_ECS_HOST");
	const char *headers[3] = { "Accept: application/json", NULL, NULL };
	struct http_request req;
	struct aws_error why;
	int r;

	if (p->call)
		return -EBUSY;
	if (rel == NULL && full == NULL) {
		creds_error_set(&why, 0, false, "ecs", "NotConfigured",
			"AWS_CONTAINER_CREDENTIALS_*_URI unset");
		cb(arg, CREDS_NOT_CONFIGURED, NULL, &why);
		return 0;
	}
	if (rel) {
		r = asprintf(&p->url, "http://%s%s%s", host ? host : ECS_HOST,
			rel[0] == '/' ? "" : "/", rel);
		if (r < 0)
			p->url = NULL;
	} else {
		if ((r = check_full_uri(full, &why)) != 0)
			goto fail;
		p->url = strdup(full);
	}
	if (p->url == NULL) {
		creds_error_set(&why, 0, true, "ecs", "InternalError", "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	if ((r = auth_token(p, &why)) != 0)
		goto fail;
	headers[1] = p->auth_header;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = p->url;
	req.headers = headers;
	req.timeout_ms = p->timeout_ms;
	req.connect_timeout_ms = p->timeout_ms < 1000 ? p->timeout_ms : 1000;
	req.max_response = 64 * 1024;
	p->cb = cb;
	p->arg = arg;
	r = http_client_send(p->http, &req, on_response, p, &p->call);
	if (r) {
		creds_http_error(&why, "ecs", r, NULL);
		goto fail;
	}
	return 0;
fail:
	clear_request(p);
	cb(arg, r, NULL, &why);
	return 0;
}

static void ecs_destroy(struct creds_provider *base)
{
	struct ecs_provider *p = (struct ecs_provider *)base;

	if (p->call)
		http_call_cancel(p->call);
	clear_request(p);
	free(p);
}

static const struct creds_provider_vtable ecs_vt = {
	.name = "ecs",
	.get = ecs_get,
	.destroy = ecs_destroy,
};

int creds_ecs_new(const struct creds_source_opts *o, struct creds_provider **out)
{
	struct ecs_provider *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->base.vt = &ecs_vt;
	p->http = o->http;
	p->timeout_ms = o->metadata_timeout_ms;
	*out = &p->base;
	return 0;
}
