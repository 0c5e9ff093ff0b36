#include "sts_client.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aws_call.h"
#include "aws_query.h"
#include "aws_xml.h"
#include "buf.h"
#include "http_client.h"
#include "log.h"

#define STS_VERSION "2011-06-15"
#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define MAX_RESPONSE (64 * 1024)

struct sts_client {
	struct http_client *http;
	struct aws_target target;
	unsigned timeout_ms;
	struct aws_clock clock;		/* from STS's Date headers; read by workers */
};

enum sts_op { OP_ASSUME_ROLE, OP_IDENTITY, OP_WEB_IDENTITY };

static const char *const op_step[] = {
	"AssumeRole", "GetCallerIdentity", "AssumeRoleWithWebIdentity" };

struct sts_call {
	struct sts_client *client;
	enum sts_op op;
	struct http_call *http;
	struct buf body;		/* form body; holds secrets (token) */
	creds_cb creds_done;
	sts_identity_cb identity_done;
	void *arg;
	bool in_callback;
};

int sts_client_new(struct http_client *http, const char *endpoint, const char *region,
	unsigned timeout_ms, struct sts_client **out)
{
	struct sts_client *s;

	if (http == NULL || endpoint == NULL || region == NULL)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	if (aws_target_init(&s->target, endpoint, "", region, "sts")) {
		free(s);
		return -EINVAL;
	}
	s->http = http;
	s->timeout_ms = timeout_ms;
	*out = s;
	return 0;
}

void sts_client_free(struct sts_client *s)
{
	free(s);
}

static void call_free(struct sts_call *c)
{
	buf_free_secret(&c->body);
	free(c);
}

void sts_call_cancel(struct sts_call *c)
{
	if (c == NULL || c->in_callback)
		return;
	http_call_cancel(c->http);
	call_free(c);
}

int sts_arn_account(const char *arn, char *out, size_t outlen)
{
	const char *p = arn;
	size_t n;

	/* arn:partition:service:region:account:resource */
	for (int i = 0; i < 4; i++) {
		p = strchr(p, ':');
		if (p == NULL)
			return -EINVAL;
		p++;
	}
	if (strncmp(arn, "arn:", 4) != 0)
		return -EINVAL;
	n = strcspn(p, ":");
	if (n != 12 || p[n] != ':' || n >= outlen)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* ---- parsing ---- */

static int text_of(const char *body, size_t len, const char *name, struct buf *out)
{
	int r = aws_xml_text(body, len, name, out);

	if (r == 0 && out->len == 0)
		return -ENOENT;
	/* A NUL (from "&#0;") would cut the value short in C strings. */
	if (r == 0 && strlen(out->data) != out->len)
		return -EINVAL;
	return r;
}

int sts_parse_credentials(const char *body, size_t len, const char *source,
	struct aws_creds **out, struct aws_error *why)
{
	struct buf akid = BUF_INIT, secret = BUF_INIT, token = BUF_INIT, exp = BUF_INIT,
		arn = BUF_INIT;
	const char *cr, *user;
	size_t crl, userl;
	char account[16];
	const char *missing = NULL;
	struct aws_creds *c = NULL;
	time_t expiration = 0;
	int r = -EINVAL;

	memset(why, 0, sizeof(*why));
	if (aws_xml_element(body, len, "Credentials", &cr, &crl)) {
		missing = "Credentials";
		goto out;
	}
	if (text_of(cr, crl, "AccessKeyId", &akid))
		missing = "AccessKeyId";
	else if (text_of(cr, crl, "SecretAccessKey", &secret))
		missing = "SecretAccessKey";
	else if (text_of(cr, crl, "SessionToken", &token))
		missing = "SessionToken";
	else if (text_of(cr, crl, "Expiration", &exp) || aws_parse_iso8601(exp.data, &expiration))
		missing = "Expiration";
	else if (aws_xml_element(body, len, "AssumedRoleUser", &user, &userl) ||
		 text_of(user, userl, "Arn", &arn) || sts_arn_account(arn.data, account, sizeof(account)))
		missing = "AssumedRoleUser/Arn";
	if (missing)
		goto out;
	c = aws_creds_new(akid.data, secret.data, token.data, expiration, source);
	if (c == NULL || (c->arn = strdup(arn.data)) == NULL ||
	    (c->account_id = strdup(account)) == NULL) {
		aws_creds_unref(c);
		c = NULL;
		r = -ENOMEM;
		goto out;
	}
	*out = c;
	r = 0;
out:
	if (missing) {
		why->retryable = true;
		snprintf(why->code, sizeof(why->code), "InvalidResponse");
		snprintf(why->message, sizeof(why->message),
			"STS answered 200 without a valid %s", missing);
	} else if (r == -ENOMEM) {
		snprintf(why->code, sizeof(why->code), "OutOfMemory");
		snprintf(why->message, sizeof(why->message), "out of memory");
		why->retryable = true;
	}
	buf_free(&akid);
	buf_free_secret(&secret);
	buf_free_secret(&token);
	buf_free(&exp);
	buf_free(&arn);
	return r;
}

int sts_parse_identity(const char *body, size_t len, struct sts_identity *id,
	struct aws_error *why)
{
	struct buf b = BUF_INIT;
	const char *missing = NULL;

	memset(id, 0, sizeof(*id));
	memset(why, 0, sizeof(*why));
	if (text_of(body, len, "Account", &b) || b.len != 12 ||
	    strspn(b.data, "0123456789") != 12)
		missing = "Account";
	else
		memcpy(id->account, b.data, b.len + 1);
	if (!missing && (text_of(body, len, "Arn", &b) || b.len >= sizeof(id->arn)))
		missing = "Arn";
	else if (!missing)
		memcpy(id->arn, b.data, b.len + 1);
	/* UserId is informational: keep going without it. */
	if (!missing && text_of(body, len, "UserId", &b) == 0 && b.len < sizeof(id->user_id))
		memcpy(id->user_id, b.data, b.len + 1);
	buf_free(&b);
	if (missing) {
		why->retryable = true;
		snprintf(why->code, sizeof(why->code), "InvalidResponse");
		snprintf(why->message, sizeof(why->message),
			"STS answered 200 without a valid %s", missing);
		return -EINVAL;
	}
	return 0;
}

/* ---- completion ---- */

/* The SDKs' clock-skew correction: requests are signed on the server's
 * clock as its Date headers show it, and credential expirations are moved
 * onto ours, so a relay whose clock is behind never holds on to
 * credentials that AWS already considers expired. Date has a resolution
 * of one second, so small differences are noise. */
static void track_skew(struct sts_client *s, time_t server)
{
	long before = aws_clock_observe(&s->clock, server);
	long skew = aws_clock_skew(&s->clock);

	if (server > 0 && labs(skew - before) > 30) {
		struct logline l;

		if (log_begin(&l, labs(skew) > 60 ? LVL_WARN : LVL_INFO, "sts.clock_skew")) {
			log_int(&l, "seconds", skew);
			log_str(&l, "endpoint", s->target.url);
			log_end(&l);
		}
	}
}

long sts_client_clock_skew(const struct sts_client *s)
{
	return aws_clock_skew(&s->clock);
}

const struct aws_clock *sts_client_clock(const struct sts_client *s)
{
	return &s->clock;
}

static void on_http_done(void *arg, const struct http_response *res)
{
	struct sts_call *c = arg;
	struct aws_error why;
	struct aws_creds *creds = NULL;
	struct sts_identity id;
	int err = 0;

	memset(&why, 0, sizeof(why));
	if (res->error == 0)
		track_skew(c->client, res->date);
	err = aws_call_error(res, &why);
	if (res->error) {
		char msg[sizeof(why.message)];

		snprintf(msg, sizeof(msg), "STS unreachable: %.200s",
			why.message[0] ? why.message : "transport error");
		memcpy(why.message, msg, sizeof(msg));
	} else if (err == 0 && c->op == OP_IDENTITY) {
		err = sts_parse_identity(res->body.data, res->body.len, &id, &why);
	} else if (err == 0) {
		err = sts_parse_credentials(res->body.data, res->body.len,
			c->op == OP_WEB_IDENTITY ? "web_identity" : "assume_role", &creds, &why);
		if (err == 0)
			creds->expiration -= aws_clock_skew(&c->client->clock);
	}
	if (err && why.step[0] == '\0')
		snprintf(why.step, sizeof(why.step), "%s", op_step[c->op]);
	if (err && why.status == 0)
		why.status = (int)res->status;

	c->in_callback = true;
	if (c->op == OP_IDENTITY)
		c->identity_done(c->arg, err, err ? NULL : &id, err ? &why : NULL);
	else
		c->creds_done(c->arg, err, creds, err ? &why : NULL);
	aws_creds_unref(creds);
	call_free(c);
}

/* ---- sending ---- */

static int start(struct sts_client *s, struct sts_call *c, const struct aws_creds *signer,
	struct sts_call **out)
{
	struct aws_call_req req = {
		.target = &s->target, .creds = signer, .clock = &s->clock,
		.content_type = CONTENT_TYPE, .body = c->body.data, .body_len = c->body.len,
		.timeout_ms = s->timeout_ms, .max_response = MAX_RESPONSE,
	};
	/* AssumeRoleWithWebIdentity goes unsigned (signer NULL): the token is the proof. */
	int r = aws_call_send(s->http, &req, on_http_done, c, &c->http);

	if (r) {
		call_free(c);
		return r;
	}
	if (out)
		*out = c;
	return 0;
}

static struct sts_call *call_new(struct sts_client *s, enum sts_op op, const char *action)
{
	struct sts_call *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->client = s;
	c->op = op;
	if (aws_query_add(&c->body, "Action", action) ||
	    aws_query_add(&c->body, "Version", STS_VERSION)) {
		call_free(c);
		return NULL;
	}
	return c;
}

int sts_assume_role(struct sts_client *s, const struct aws_creds *signer,
	const struct sts_assume_role_params *p, creds_cb cb, void *arg,
	struct sts_call **out)
{
	struct sts_call *c;
	char dur[16];
	int r = 0;

	if (signer == NULL || p->role_arn == NULL || p->session_name == NULL || cb == NULL)
		return -EINVAL;
	c = call_new(s, OP_ASSUME_ROLE, "AssumeRole");
	if (c == NULL)
		return -ENOMEM;
	c->creds_done = cb;
	c->arg = arg;
	r = aws_query_add(&c->body, "RoleArn", p->role_arn);
	if (r == 0)
		r = aws_query_add(&c->body, "RoleSessionName", p->session_name);
	if (r == 0 && p->duration) {
		snprintf(dur, sizeof(dur), "%u", p->duration);
		r = aws_query_add(&c->body, "DurationSeconds", dur);
	}
	if (r == 0 && p->external_id)
		r = aws_query_add(&c->body, "ExternalId", p->external_id);
	if (r) {
		call_free(c);
		return r;
	}
	return start(s, c, signer, out);
}

int sts_get_caller_identity(struct sts_client *s, const struct aws_creds *signer,
	sts_identity_cb cb, void *arg, struct sts_call **out)
{
	struct sts_call *c;

	if (signer == NULL || cb == NULL)
		return -EINVAL;
	c = call_new(s, OP_IDENTITY, "GetCallerIdentity");
	if (c == NULL)
		return -ENOMEM;
	c->identity_done = cb;
	c->arg = arg;
	return start(s, c, signer, out);
}

int sts_assume_role_with_web_identity(struct sts_client *s, const char *role_arn,
	const char *session_name, const char *web_identity_token,
	creds_cb cb, void *arg, struct sts_call **out)
{
	struct sts_call *c;
	int r;

	if (role_arn == NULL || session_name == NULL || web_identity_token == NULL || cb == NULL)
		return -EINVAL;
	c = call_new(s, OP_WEB_IDENTITY, "AssumeRoleWithWebIdentity");
	if (c == NULL)
		return -ENOMEM;
	c->creds_done = cb;
	c->arg = arg;
	r = aws_query_add(&c->body, "RoleArn", role_arn);
	if (r == 0)
		r = aws_query_add(&c->body, "RoleSessionName", session_name);
	if (r == 0)
		r = aws_query_add(&c->body, "WebIdentityToken", web_identity_token);
	if (r) {
		call_free(c);
		return r;
	}
	return start(s, c, NULL, out);
}
