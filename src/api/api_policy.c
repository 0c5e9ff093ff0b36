/* The sending policy of one API request (see api_policy.h). */
#include "api_policy.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "header_filter.h"

int api_refuse(struct api_refusal *why, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	why->status = status;
	snprintf(why->code, sizeof(why->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(why->message, sizeof(why->message), fmt, ap);
	va_end(ap);
	return status == 403 ? -EPERM : -EINVAL;
}

int api_policy_sender(const struct api_policy *p, const char *value, size_t n,
	const char *denied_code, struct api_refusal *why)
{
	struct client network = { 0 };
	const struct client *cl = p->client;
	char bad[128] = "";
	int r;

	if (cl == NULL) {
		/* `api_auth network`: the relay's allow_senders, as for SMTP
		 * clients in allow_networks; empty allows any sender. */
		const struct strlist *l = p->allow_senders ? p->allow_senders : &p->cfg->allow_senders;
		if (l->n == 0)
			return 0;
		network.senders = l->v;
		network.nsenders = l->n;
		cl = &network;
	}
	r = client_check_from(cl, value, n, bad, sizeof(bad));
	if (r == -EPERM)
		return api_refuse(why, 403, denied_code, "sesrelay: %s may not send as %s",
			p->client ? p->client->name : "this network", bad);
	if (r)
		return api_refuse(why, 403, denied_code, "sesrelay: no sender address could be read from \"%.*s\"",
			(int)(n > 100 ? 100 : n), value);
	return 0;
}

int api_policy_arn(const char *caller, const char *relay, const char *param,
	const char *invalid_code, struct api_refusal *why)
{
	if (caller == NULL || (relay && strcmp(caller, relay) == 0))
		return 0;
	return api_refuse(why, 400, invalid_code,
		"sesrelay sets %s itself (to %s); the request gave another value", param,
		relay ? relay : "none");
}

const char *api_policy_configuration_set(const struct api_policy *p, const char *caller)
{
	const struct client *cl = p->client;

	if (cl && cl->configuration_set && (cl->force_configuration_set || caller == NULL))
		return cl->configuration_set;
	if (caller)
		return caller;
	return p->cfg->configuration_set;
}

int api_tags_add(struct api_tags *t, const char *name, size_t name_len, const char *value)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].name_len == name_len && memcmp(t->v[i].name, name, name_len) == 0) {
			t->v[i].value = value;
			return 0;
		}
	if (t->n == API_MAX_TAGS)
		return -E2BIG;
	t->v[t->n].name = name;
	t->v[t->n].name_len = name_len;
	t->v[t->n].value = value;
	t->n++;
	return 0;
}

int api_policy_tags(const struct api_policy *p, struct api_tags *t)
{
	int r = 0;

	for (size_t i = 0; i < p->cfg->message_tags.n && r == 0; i++) {
		const char *nv = p->cfg->message_tags.v[i], *eq = strchr(nv, '=');
		r = api_tags_add(t, nv, (size_t)(eq - nv), eq + 1);
	}
	for (size_t i = 0; p->client && i < p->client->ntags && r == 0; i++)
		r = api_tags_add(t, p->client->tags[i].name, strlen(p->client->tags[i].name),
			p->client->tags[i].value);
	return r;
}

bool api_policy_sets_tag(const struct api_policy *p, const char *name)
{
	struct api_tags t = { .n = 0 };
	size_t n = strlen(name);

	api_policy_tags(p, &t);
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i].name_len == n && memcmp(t.v[i].name, name, n) == 0)
			return true;
	return false;
}

static int sink(void *arg, const char *p, size_t n)
{
	return buf_append(arg, p, n);
}

/* Base64 as SDKs send it, one unbroken block with its padding, through
 * OpenSSL's block decoder (several times faster than the streaming one);
 * -1 for anything else (line breaks, no padding), which the caller then
 * gives to the streaming decoder, so nothing it accepts is refused. */
static int decode_block(const char *b64, size_t n, struct buf *out)
{
	int len, pad = 0;

	if (n == 0 || n % 4 != 0 || n > INT_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b64[i];
		if (c == '=') {
			if (i + 2 < n || (i + 1 == n - 1 && b64[n - 1] != '='))
				return -1;
			pad++;
		} else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				(c >= '0' && c <= '9') || c == '+' || c == '/')) {
			return -1;
		}
	}
	len = EVP_DecodeBlock((unsigned char *)out->data, (const unsigned char *)b64, (int)n);
	if (len < pad)
		return -1;
	out->len = (size_t)(len - pad);	/* EVP_DecodeBlock counts padding as zero bytes */
	return 0;
}

int api_policy_raw(const struct api_policy *p, const char *b64, size_t n, struct buf *raw,
	const char *denied_code, const char *invalid_code, struct api_refusal *why)
{
	struct buf decoded = BUF_INIT;
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	struct header_filter hf;
	const char *from;
	size_t from_len;
	int outl = 0, finl = 0, r;

	buf_reset(raw);
	if (ctx == NULL || n > (size_t)1 << 30 || buf_reserve(&decoded, n / 4 * 3 + 3)) {
		EVP_ENCODE_CTX_free(ctx);
		buf_free(&decoded);
		return -ENOMEM;
	}
	if (decode_block(b64, n, &decoded) != 0) {
		EVP_DecodeInit(ctx);
		if (EVP_DecodeUpdate(ctx, (unsigned char *)decoded.data, &outl,
				(const unsigned char *)b64, (int)n) < 0 ||
				EVP_DecodeFinal(ctx, (unsigned char *)decoded.data + outl, &finl) != 1) {
			EVP_ENCODE_CTX_free(ctx);
			buf_free(&decoded);
			return api_refuse(why, 400, invalid_code, "raw message data is not valid base64");
		}
		decoded.len = (size_t)outl + (size_t)finl;
	}
	EVP_ENCODE_CTX_free(ctx);
	r = message_from_field(decoded.data, decoded.len, &from, &from_len);
	if (r) {
		buf_free(&decoded);
		return api_refuse(why, 400, invalid_code, r == -ENOENT ?
			"the raw message has no From header" : "the raw message has more than one From header");
	}
	r = api_policy_sender(p, from, from_len, denied_code, why);
	if (r) {
		buf_free(&decoded);
		return r;
	}
	header_filter_init(&hf, p->cfg->ses_headers == SES_HEADERS_REJECT, sink, raw);
	r = header_filter_feed(&hf, decoded.data, decoded.len);
	if (r == 0)
		r = header_filter_finish(&hf);
	buf_free(&decoded);
	if (r == -EPERM)
		return api_refuse(why, 400, invalid_code,
			"X-SES-* header fields are not accepted here (ses_headers reject)");
	return r;
}
