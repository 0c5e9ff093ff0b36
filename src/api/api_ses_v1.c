/* SES v1 Query requests under the caller's policy (see api_translate.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_translate.h"
#include "aws_query.h"
#include "ses_message.h"
#include "sigv4.h"

#define V1_VERSION "2010-12-01"
#define DENIED "AccessDenied"
#define INVALID "InvalidParameterValue"

void api_forward_init(struct api_forward *fw)
{
	memset(fw, 0, sizeof(*fw));
	buf_init(&fw->body);
}

void api_forward_free(struct api_forward *fw)
{
	buf_free(&fw->body);
}

int api_forward_seal(struct api_forward *fw, const char *p, size_t n)
{
	int r = 0;

	if (p) {
		buf_reset(&fw->body);
		r = buf_append(&fw->body, p, n);
		if (r == 0 && fw->body.data == NULL)
			r = buf_reserve(&fw->body, 0);
	}
	if (r == 0)
		sigv4_sha256_hex(fw->body.data ? fw->body.data : "", fw->body.len, fw->payload_hash);
	return r;
}

static const char *get(const struct aws_form *f, const char *key)
{
	const struct aws_form_param *p = aws_form_get(f, key);
	return p ? p->value : NULL;
}

static bool has_prefix(const char *s, const char *pre)
{
	return strncmp(s, pre, strlen(pre)) == 0;
}

/* Destination.ToAddresses.member.N (SendEmail, SendTemplatedEmail) or
 * Destinations.member.N.Destination.CcAddresses.member.M (the bulk send):
 * one recipient as SES counts them. */
static bool is_recipient(const char *k)
{
	return has_prefix(k, "Destination") && (strstr(k, "Destination.ToAddresses.member.") ||
		strstr(k, "Destination.CcAddresses.member.") ||
		strstr(k, "Destination.BccAddresses.member."));
}

/* The caller's "<prefix>member.N.Name/Value" tags, N = 1, 2, ... */
static int caller_tags(const struct aws_form *f, const char *prefix, struct api_tags *t,
	struct api_refusal *why)
{
	char key[96];

	for (unsigned i = 1; i <= API_MAX_TAGS + 1; i++) {
		const char *name, *value;
		snprintf(key, sizeof(key), "%smember.%u.Name", prefix, i);
		name = get(f, key);
		snprintf(key, sizeof(key), "%smember.%u.Value", prefix, i);
		value = get(f, key);
		if (name == NULL && value == NULL)
			return 0;
		if (name == NULL || value == NULL)
			return api_refuse(why, 400, INVALID, "%smember.%u needs Name and Value", prefix, i);
		if (api_tags_add(t, name, strlen(name), value))
			return api_refuse(why, 400, INVALID, "more than %d message tags", API_MAX_TAGS);
	}
	return api_refuse(why, 400, INVALID, "more than %d message tags", API_MAX_TAGS);
}

static int add_tags(struct buf *out, const char *prefix, const struct api_tags *t)
{
	char key[96];
	int r = 0;

	for (size_t i = 0; i < t->n && r == 0; i++) {
		snprintf(key, sizeof(key), "%smember.%zu.Name", prefix, i + 1);
		r = aws_query_add_n(out, key, t->v[i].name, t->v[i].name_len);
		snprintf(key, sizeof(key), "%smember.%zu.Value", prefix, i + 1);
		if (r == 0)
			r = aws_query_add(out, key, t->v[i].value);
	}
	return r;
}

/* SendRawEmail, rebuilt by the encoder SMTP mail goes through, so raw
 * API mail and SMTP mail reach SES in the same form. */
static int raw_email(const struct api_policy *p, const struct aws_form *f, const struct api_tags *t,
	const char *cs, struct api_forward *fw, struct api_refusal *why)
{
	static const char *const known[] = { "Action", "Version", "Source", "SourceArn", "FromArn",
		"ReturnPathArn", "ConfigurationSetName", "RawMessage.Data", NULL };
	const struct aws_form_param *data = aws_form_get(f, "RawMessage.Data");
	const char *dests[50 + 1];
	size_t ndests = 0;
	struct strlist tags = { NULL, 0 };
	struct buf raw = BUF_INIT;
	struct ses_params sp;
	struct ses_body b;
	char key[64];
	int r;

	for (size_t i = 0; i < f->n; i++) {
		bool ok = has_prefix(f->v[i].key, "Destinations.member.") ||
			has_prefix(f->v[i].key, "Tags.member.");
		for (size_t k = 0; known[k] && !ok; k++)
			ok = strcmp(f->v[i].key, known[k]) == 0;
		if (!ok)
			return api_refuse(why, 400, INVALID, "parameter %s is not one of SendRawEmail's",
				f->v[i].key);
	}
	for (unsigned i = 1;; i++) {
		const char *d;
		snprintf(key, sizeof(key), "Destinations.member.%u", i);
		if ((d = get(f, key)) == NULL)
			break;
		if (ndests == 50)
			return api_refuse(why, 400, INVALID, "more than 50 destinations");
		dests[ndests++] = d;
	}
	if (data == NULL)
		return api_refuse(why, 400, "MissingParameter", "RawMessage.Data is required");
	r = api_policy_raw(p, data->value, data->value_len, &raw, DENIED, INVALID, why);
	if (r)
		goto out;
	/* SES sends to Destinations when given, else to the header's recipients */
	fw->recipients = ndests ? ndests : message_header_recipients(raw.data ? raw.data : "", raw.len);
	tags.v = calloc(t->n ? t->n : 1, sizeof(char *));
	if (tags.v == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct buf nv = BUF_INIT;
		if (buf_printf(&nv, "%.*s=%s", (int)t->v[i].name_len, t->v[i].name, t->v[i].value)) {
			r = -ENOMEM;
			goto out;
		}
		tags.v[tags.n++] = buf_steal(&nv);
	}
	memset(&sp, 0, sizeof(sp));
	sp.api = SES_API_V1;
	sp.source = get(f, "Source");
	sp.destinations = dests;
	sp.ndestinations = ndests;
	sp.source_arn = p->cfg->source_arn;
	sp.from_arn = p->cfg->from_arn;
	sp.return_path_arn = p->cfg->return_path_arn;
	sp.configuration_set = cs;
	sp.tags = &tags;
	r = ses_body_begin(&b, &sp, raw.len);
	if (r)
		goto out;
	r = ses_body_write(&b, raw.data ? raw.data : "", raw.len);
	if (r == 0)
		r = ses_body_finish(&b);
	if (r == -EMSGSIZE) {
		ses_body_free(&b);
		r = api_refuse(why, 400, "MessageRejected", "Message length is more than 10485760 bytes long.");
		goto out;
	}
	if (r == 0) {
		buf_free(&fw->body);
		fw->body = b.body;
		buf_init(&b.body);
		memcpy(fw->payload_hash, b.payload_hash, sizeof(fw->payload_hash));
	}
	ses_body_free(&b);
out:
	for (size_t i = 0; i < tags.n; i++)
		free(tags.v[i]);
	free(tags.v);
	buf_free_secret(&raw);
	return r;
}

int api_translate_ses(const struct api_policy *p, struct api_route *rt, const char *body,
	size_t n, struct api_forward *fw, struct api_refusal *why)
{
	struct aws_form f;
	struct api_tags tags = { .n = 0 };
	const struct aws_form_param *action;
	const char *version, *source, *cs, *tag_prefix, *source_arn;
	int r;

	fw->method = "POST";
	fw->path = "/";
	fw->content_type = "application/x-www-form-urlencoded; charset=utf-8";
	fw->answer = SES_API_V1;
	r = aws_form_parse(body, n, API_V1_MAX_PARAMS, &f);
	if (r == -ENOMEM)
		return r;
	if (r)
		return api_refuse(why, 400, "MalformedQueryString", "the request body is not a valid form");
	action = aws_form_get(&f, "Action");
	if (action)
		api_route_v1_action(rt, action->value, action->value_len);
	if (action == NULL || rt->action == API_ACT_REFUSED) {
		r = api_refuse(why, 403, DENIED, "sesrelay forwards only SendEmail, SendRawEmail, "
			"SendTemplatedEmail, SendBulkTemplatedEmail and GetSendQuota; not %.64s",
			action ? action->value : "a request without Action");
		goto out;
	}
	version = get(&f, "Version");
	if (version == NULL || strcmp(version, V1_VERSION) != 0) {
		r = api_refuse(why, 400, "InvalidAction", "Version must be " V1_VERSION);
		goto out;
	}
	if (rt->action == API_ACT_GET_SEND_QUOTA) {
		r = api_forward_seal(fw, "Action=GetSendQuota&Version=" V1_VERSION,
			strlen("Action=GetSendQuota&Version=" V1_VERSION));
		goto out;
	}
	/* identity ARNs: the relay's, never the caller's */
	source_arn = rt->action == API_ACT_SEND_RAW_EMAIL ? p->cfg->source_arn :
		(p->cfg->source_arn ? p->cfg->source_arn : p->cfg->from_arn);
	if ((r = api_policy_arn(get(&f, "SourceArn"), source_arn, "SourceArn", INVALID, why)) ||
			(r = api_policy_arn(get(&f, "FromArn"), p->cfg->from_arn, "FromArn", INVALID, why)) ||
			(r = api_policy_arn(get(&f, "ReturnPathArn"), p->cfg->return_path_arn,
				"ReturnPathArn", INVALID, why)))
		goto out;
	source = get(&f, "Source");
	if (source)
		r = api_policy_sender(p, source, strlen(source), DENIED, why);
	else if (rt->action != API_ACT_SEND_RAW_EMAIL)
		r = api_refuse(why, 400, "MissingParameter", "Source is required");
	if (r)
		goto out;
	tag_prefix = rt->action == API_ACT_SEND_BULK_TEMPLATED_EMAIL ? "DefaultTags." : "Tags.";
	r = caller_tags(&f, tag_prefix, &tags, why);
	if (r == 0 && api_policy_tags(p, &tags))
		r = api_refuse(why, 400, INVALID, "more than %d message tags", API_MAX_TAGS);
	if (r)
		goto out;
	for (size_t i = 0; rt->action == API_ACT_SEND_BULK_TEMPLATED_EMAIL && i < f.n; i++) {
		/* Destinations.member.N.ReplacementTags.member.M.Name */
		const char *k = f.v[i].key, *rt_tags = strstr(k, ".ReplacementTags.member.");
		size_t kl = strlen(k);
		if (has_prefix(k, "Destinations.member.") && rt_tags && kl > 5 &&
				strcmp(k + kl - 5, ".Name") == 0 && api_policy_sets_tag(p, f.v[i].value)) {
			r = api_refuse(why, 400, INVALID, "ReplacementTags may not set %.64s: sesrelay's "
				"policy sets that tag", f.v[i].value);
			goto out;
		}
	}
	cs = api_policy_configuration_set(p, get(&f, "ConfigurationSetName"));
	if (rt->action == API_ACT_SEND_RAW_EMAIL) {
		r = raw_email(p, &f, &tags, cs, fw, why);
		goto out;
	}
	/* the caller's parameters but those the policy sets, then those */
	buf_reset(&fw->body);
	for (size_t i = 0; i < f.n && r == 0; i++) {
		const char *k = f.v[i].key;
		if (is_recipient(k))
			fw->recipients++;
		if (strcmp(k, "SourceArn") == 0 || strcmp(k, "FromArn") == 0 ||
				strcmp(k, "ReturnPathArn") == 0 || strcmp(k, "ConfigurationSetName") == 0 ||
				has_prefix(k, rt->action == API_ACT_SEND_BULK_TEMPLATED_EMAIL ?
					"DefaultTags.member." : "Tags.member."))
			continue;
		r = aws_query_add_n(&fw->body, k, f.v[i].value, f.v[i].value_len);
	}
	if (r == 0 && source_arn)
		r = aws_query_add(&fw->body, "SourceArn", source_arn);
	if (r == 0 && p->cfg->return_path_arn)
		r = aws_query_add(&fw->body, "ReturnPathArn", p->cfg->return_path_arn);
	if (r == 0 && cs)
		r = aws_query_add(&fw->body, "ConfigurationSetName", cs);
	if (r == 0)
		r = add_tags(&fw->body, tag_prefix, &tags);
	if (r == 0)
		r = api_forward_seal(fw, NULL, 0);
out:
	aws_form_free(&f);
	return r;
}
