/* Base credentials from the EC2 instance metadata service, IMDSv2 only:
 * PUT /latest/api/token, then the role name and the role's credentials
 * with that token. IMDSv1 (plain GET) is never used: it is the variant
 * SSRF bugs can reach.
 *
 * Off EC2 this source must be quick to give up: short timeouts, one retry
 * of transport errors and 5xx, and "no service answering", "IMDSv2 not
 * available" and "no role attached" all count as not configured, so the
 * chain ends with NoCredentials listing them. A service that answers but
 * hands out bad credentials is an error. */
#include "creds_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>
#include <openssl/crypto.h>

#include "aws_url.h"
#include "http_client.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_DEFAULT6 "http://[fd00:ec2::254]"
#define TOKEN_TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds: 21600"
#define CREDS_PATH "/latest/meta-data/iam/security-credentials/"
#define MAX_TRIES 2

enum imds_step { STEP_TOKEN, STEP_ROLE, STEP_CREDS };

struct imds_provider {
	struct creds_provider base;
	struct http_client *http;
	unsigned timeout_ms;
	struct http_call *call;
	enum imds_step step;
	int tries;
	char endpoint[256];
	char url[512];
	char role[128];
	char *token_header;		/* "X-aws-ec2-metadata-token: ..." (secret) */
	creds_cb cb;
	void *arg;
};

static void clear(struct imds_provider *p)
{
	if (p->token_header) {
		OPENSSL_cleanse(p->token_header, strlen(p->token_header));
		free(p->token_header);
		p->token_header = NULL;
	}
	p->call = NULL;
}

static void finish(struct imds_provider *p, int err, struct aws_creds *c,
	const struct aws_error *why)
{
	creds_cb cb = p->cb;

	clear(p);
	p->cb = NULL;
	cb(p->arg, err, c, why);
}

static void on_response(void *arg, const struct http_response *res);

static int send_step(struct imds_provider *p)
{
	const char *headers[3] = { NULL, NULL, NULL };
	struct http_request req;
	const char *path = p->step == STEP_TOKEN ? "/latest/api/token" : CREDS_PATH;
	char full[sizeof(CREDS_PATH) + sizeof(p->role)];
	int r;

	snprintf(full, sizeof(full), "%s%s", path, p->step == STEP_CREDS ? p->role : "");
	r = aws_url_join(p->endpoint, full, p->url, sizeof(p->url));
	if (r)
		return r;
	memset(&req, 0, sizeof(req));
	req.method = p->step == STEP_TOKEN ? "PUT" : "GET";
	req.url = p->url;
	headers[0] = p->step == STEP_TOKEN ? TOKEN_TTL_HEADER : p->token_header;
	req.headers = headers;
	req.timeout_ms = p->timeout_ms;
	req.connect_timeout_ms = p->timeout_ms < 1000 ? p->timeout_ms : 1000;
	req.max_response = 64 * 1024;
	return http_client_send(p->http, &req, on_response, p, &p->call);
}

static bool valid_role(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+=,.@_-", s[i]) || s[i] == '\0')
			return false;
	return true;
}

/* Creds document: {"Code": "Success", AccessKeyId, SecretAccessKey, Token, Expiration}. */
static void got_creds(struct imds_provider *p, const struct http_response *res)
{
	struct aws_error why;
	struct aws_creds *c = NULL;
	cJSON *o = cJSON_ParseWithLength(res->body.data, res->body.len);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "Code");
	int err;

	if (o && !(cJSON_IsString(code) && strcmp(code->valuestring, "Success") == 0)) {
		creds_error_set(&why, 0, false, "imds", "InvalidResponse",
			"imds: role \"%s\" credentials Code is \"%.40s\", not Success", p->role,
			cJSON_IsString(code) ? code->valuestring : "");
		err = -EINVAL;
	} else {
		err = creds_from_json(res->body.data, res->body.len, "Token", true,
			"imds", "imds", &c, &why);
	}
	for (cJSON *f = o ? o->child : NULL; f; f = f->next)
		if (cJSON_IsString(f) && f->valuestring)
			OPENSSL_cleanse(f->valuestring, strlen(f->valuestring));
	cJSON_Delete(o);
	finish(p, c ? 0 : err, c, c ? NULL : &why);
	aws_creds_unref(c);
}

static void on_response(void *arg, const struct http_response *res)
{
	struct imds_provider *p = arg;
	struct aws_error why;
	int r;

	p->call = NULL;
	if ((res->error || res->status >= 500) && ++p->tries < MAX_TRIES) {
		if ((r = send_step(p)) == 0)
			return;
		creds_http_error(&why, "imds", r, NULL);
		finish(p, r, NULL, &why);
		return;
	}
	if (res->error && p->step == STEP_TOKEN) {
		/* Nothing answering at the metadata address: not on EC2. */
		creds_error_set(&why, 0, true, "imds", "NotConfigured",
			"no metadata service at %s (%s)", p->endpoint, uv_strerror(res->error));
		finish(p, CREDS_NOT_CONFIGURED, NULL, &why);
		return;
	}
	if (res->error) {
		creds_http_error(&why, "imds", res->error, res->error_text);
		finish(p, res->error, NULL, &why);
		return;
	}
	switch (p->step) {
	case STEP_TOKEN:
		if (res->status != 200 || res->body.len == 0 || res->body.len > 1024 ||
		    memchr(res->body.data, '\n', res->body.len) ||
		    memchr(res->body.data, '\r', res->body.len) ||
		    memchr(res->body.data, '\0', res->body.len)) {
			creds_error_set(&why, (int)res->status, false, "imds", "NotConfigured",
				"IMDSv2 token request answered HTTP %ld", res->status);
			finish(p, CREDS_NOT_CONFIGURED, NULL, &why);
			return;
		}
		if (asprintf(&p->token_header, "X-aws-ec2-metadata-token: %.*s",
		    (int)res->body.len, res->body.data) < 0) {
			p->token_header = NULL;
			creds_error_set(&why, 0, true, "imds", "InternalError", "out of memory");
			finish(p, -ENOMEM, NULL, &why);
			return;
		}
		p->step = STEP_ROLE;
		break;
	case STEP_ROLE: {
		size_t n = 0;

		/* The body is not NUL-terminated: stay within body.len. */
		while (n < res->body.len && res->body.data[n] != '\r' && res->body.data[n] != '\n')
			n++;

		if (res->status == 404 || (res->status == 200 && n == 0)) {
			creds_error_set(&why, (int)res->status, false, "imds", "NotConfigured",
				"no IAM role attached to the instance");
			finish(p, CREDS_NOT_CONFIGURED, NULL, &why);
			return;
		}
		if (res->status != 200 || !valid_role(res->body.data, n)) {
			creds_error_set(&why, (int)res->status, false, "imds", "InvalidResponse",
				"imds: role name request answered HTTP %ld%s", res->status,
				res->status == 200 ? " with an invalid role name" : "");
			finish(p, -EIO, NULL, &why);
			return;
		}
		memcpy(p->role, res->body.data, n);
		p->role[n] = '\0';
		p->step = STEP_CREDS;
		break;
	}
	case STEP_CREDS:
		if (res->status != 200) {
			creds_error_set(&why, (int)res->status, res->status == 429, "imds",
				"HttpError", "imds: credentials of role \"%s\" answered HTTP %ld",
				p->role, res->status);
			finish(p, -EIO, NULL, &why);
			return;
		}
		got_creds(p, res);
		return;
	}
	p->tries = 0;
	if ((r = send_step(p)) != 0) {
		creds_http_error(&why, "imds", r, NULL);
		finish(p, r, NULL, &why);
	}
}

static int imds_get(struct creds_provider *base, creds_cb cb, void *arg)
{
	struct imds_provider *p = (struct imds_provider *)base;
	const char *off = creds_getenv("AWS_EC2_METADATA_DISABLED");
	const char *ep = creds_getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = creds_getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	struct aws_error why;
	struct aws_url parsed;
	size_t n;
	int r;

	if (p->cb)
		return -EBUSY;
	if (off && strcasecmp(off, "true") == 0) {
		creds_error_set(&why, 0, false, "imds", "NotConfigured",
			"AWS_EC2_METADATA_DISABLED=true");
		cb(arg, CREDS_NOT_CONFIGURED, NULL, &why);
		return 0;
	}
	if (ep == NULL)
		ep = mode && strcasecmp(mode, "IPv6") == 0 ? IMDS_DEFAULT6 : IMDS_DEFAULT;
	n = strlen(ep);
	while (n && ep[n - 1] == '/')
		n--;
	if (n >= sizeof(p->endpoint) || aws_url_parse(ep, &parsed) != 0) {
		creds_error_set(&why, 0, false, "imds", "InvalidConfiguration",
			"AWS_EC2_METADATA_SERVICE_ENDPOINT is not an http(s) URL");
		cb(arg, -EINVAL, NULL, &why);
		return 0;
	}
	memcpy(p->endpoint, ep, n);
	p->endpoint[n] = '\0';
	p->step = STEP_TOKEN;
	p->tries = 0;
	p->cb = cb;
	p->arg = arg;
	if ((r = send_step(p)) != 0) {
		creds_http_error(&why, "imds", r, NULL);
		finish(p, r, NULL, &why);
	}
	return 0;
}

static void imds_destroy(struct creds_provider *base)
{
	struct imds_provider *p = (struct imds_provider *)base;

	if (p->call)
		http_call_cancel(p->call);
	clear(p);
	free(p);
}

static const struct creds_provider_vtable imds_vt = {
	.name = "imds",
	.get = imds_get,
	.destroy = imds_destroy,
};

int creds_imds_new(const struct creds_source_opts *o, struct creds_provider **out)
{
	struct imds_provider *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->base.vt = &imds_vt;
	p->http = o->http;
	p->timeout_ms = o->metadata_timeout_ms;
	*out = &p->base;
	return 0;
}
