/* SESv2 requests under the caller's policy (see api_translate.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api_translate.h"

#define DENIED "AccessDeniedException"
#define BAD "BadRequestException"

static const char *str_member(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A member that must be a string when present. */
static int check_string(const cJSON *o, const char *name, struct api_refusal *why)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (v && !cJSON_IsString(v))
		return api_refuse(why, 400, BAD, "%s must be a string", name);
	return 0;
}

/* Replace (or with value NULL, remove) a string member. */
static int set_string(cJSON *o, const char *name, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, name);
	if (value && cJSON_AddStringToObject(o, name, value) == NULL)
		return -ENOMEM;
	return 0;
}

/* The caller's [{"Name","Value"}] tags merged with the policy's. */
static int merge_tags(const struct api_policy *p, cJSON *req, const char *member,
	struct api_refusal *why)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(req, member), *out, *el;
	struct api_tags tags = { .n = 0 };

	if (list && !cJSON_IsArray(list))
		return api_refuse(why, 400, BAD, "%s must be a list", member);
	cJSON_ArrayForEach(el, list) {
		const char *n = str_member(el, "Name"), *v = str_member(el, "Value");
		if (n == NULL || v == NULL)
			return api_refuse(why, 400, BAD, "each of %s needs Name and Value", member);
		if (api_tags_add(&tags, n, strlen(n), v))
			return api_refuse(why, 400, BAD, "more than %d tags", API_MAX_TAGS);
	}
	if (api_policy_tags(p, &tags))
		return api_refuse(why, 400, BAD, "more than %d tags", API_MAX_TAGS);
	/* tags now borrows strings of list: build the new one first */
	out = cJSON_CreateArray();
	if (out == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < tags.n; i++) {
		cJSON *t = cJSON_CreateObject();
		char *name = malloc(tags.v[i].name_len + 1);
		if (name)
			snprintf(name, tags.v[i].name_len + 1, "%.*s", (int)tags.v[i].name_len, tags.v[i].name);
		if (t == NULL || name == NULL || !cJSON_AddStringToObject(t, "Name", name) ||
				!cJSON_AddStringToObject(t, "Value", tags.v[i].value)) {
			free(name);
			cJSON_Delete(t);
			cJSON_Delete(out);
			return -ENOMEM;
		}
		free(name);
		cJSON_AddItemToArray(out, t);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(req, member);
	if (tags.n == 0) {
		cJSON_Delete(out);
		return 0;
	}
	cJSON_AddItemToObject(req, member, out);
	return 0;
}

/* What SESv2 SendEmail and SendBulkEmail share: no SigV4a endpoints or
 * tenants, the relay's ARNs, the policy's configuration set and tags. */
static int common_policy(const struct api_policy *p, cJSON *req, const char *tags_member,
	struct api_refusal *why)
{
	const struct config *c = p->cfg;
	const char *from_arn = c->from_arn ? c->from_arn : c->source_arn;
	int r;

	if (cJSON_GetObjectItemCaseSensitive(req, "EndpointId"))
		return api_refuse(why, 400, BAD, "EndpointId is not supported by sesrelay: "
			"it makes SDKs sign with SigV4a for a multi-region endpoint; remove it");
	if (cJSON_GetObjectItemCaseSensitive(req, "TenantName"))
		return api_refuse(why, 400, BAD, "TenantName is not supported by sesrelay");
	if ((r = check_string(req, "FromEmailAddressIdentityArn", why)) ||
			(r = check_string(req, "FeedbackForwardingEmailAddressIdentityArn", why)) ||
			(r = check_string(req, "ConfigurationSetName", why)) ||
			(r = check_string(req, "FromEmailAddress", why)))
		return r;
	if ((r = api_policy_arn(str_member(req, "FromEmailAddressIdentityArn"), from_arn,
			"FromEmailAddressIdentityArn", BAD, why)) ||
			(r = api_policy_arn(str_member(req, "FeedbackForwardingEmailAddressIdentityArn"),
				c->return_path_arn, "FeedbackForwardingEmailAddressIdentityArn", BAD, why)))
		return r;
	if ((r = set_string(req, "FromEmailAddressIdentityArn", from_arn)) ||
			(r = set_string(req, "FeedbackForwardingEmailAddressIdentityArn", c->return_path_arn)))
		return r;
	{
		const char *cs = api_policy_configuration_set(p, str_member(req, "ConfigurationSetName"));
		char *copy = cs ? strdup(cs) : NULL;	/* cs may be the member being replaced */
		if (cs && copy == NULL)
			return -ENOMEM;
		r = set_string(req, "ConfigurationSetName", copy);
		free(copy);
		if (r)
			return r;
	}
	return merge_tags(p, req, tags_member, why);
}

/* A Destination's ToAddresses, CcAddresses and BccAddresses: the
 * recipients SES counts. */
static size_t destination_recipients(const cJSON *dest)
{
	return (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(dest, "ToAddresses")) +
		(size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(dest, "CcAddresses")) +
		(size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(dest, "BccAddresses"));
}

/* Raw content: with no Destination SES sends to the message's header
 * recipients, counted in *header_rcpts. */
static int raw_content(const struct api_policy *p, cJSON *raw, size_t *header_rcpts,
	struct api_refusal *why)
{
	const char *data = str_member(raw, "Data");
	struct buf msg = BUF_INIT;
	char *b64;
	int r;

	if (data == NULL)
		return api_refuse(why, 400, BAD, "Content.Raw.Data is required");
	r = api_policy_raw(p, data, strlen(data), &msg, DENIED, BAD, why);
	if (r)
		goto out;
	*header_rcpts = message_header_recipients(msg.data ? msg.data : "", msg.len);
	if (msg.len > (size_t)30 << 20) {
		r = api_refuse(why, 400, "MessageRejected", "the raw message is larger than SES accepts");
		goto out;
	}
	b64 = malloc(msg.len / 3 * 4 + 5);
	if (b64 == NULL) {
		r = -ENOMEM;
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)(msg.data ? msg.data : ""),
		(int)msg.len);
	r = set_string(raw, "Data", b64);
	free(b64);
out:
	buf_free_secret(&msg);
	return r;
}

int api_sesv2_send_email_policy(const struct api_policy *p, cJSON *req, size_t *recipients,
	struct api_refusal *why)
{
	cJSON *content = cJSON_GetObjectItemCaseSensitive(req, "Content"), *raw;
	const cJSON *dest = cJSON_GetObjectItemCaseSensitive(req, "Destination");
	const char *from;
	size_t header_rcpts = 0;
	int r = common_policy(p, req, "EmailTags", why);

	if (r)
		return r;
	*recipients = destination_recipients(dest);
	if (!cJSON_IsObject(content))
		return api_refuse(why, 400, BAD, "Content is required");
	from = str_member(req, "FromEmailAddress");
	if (from && (r = api_policy_sender(p, from, strlen(from), DENIED, why)))
		return r;
	raw = cJSON_GetObjectItemCaseSensitive(content, "Raw");
	if (raw) {
		if (!cJSON_IsObject(raw) || cJSON_GetArraySize(content) != 1)
			return api_refuse(why, 400, BAD, "Content must hold exactly one of Simple, Raw, Template");
		r = raw_content(p, raw, &header_rcpts, why);
		if (r == 0 && dest == NULL)
			*recipients = header_rcpts;
		return r;
	}
	if (from == NULL)
		return api_refuse(why, 400, BAD, "FromEmailAddress is required for Simple and Template content");
	return 0;
}

static int print(cJSON *req, struct api_forward *fw)
{
	char *text = cJSON_PrintUnformatted(req);
	int r;

	if (text == NULL)
		return -ENOMEM;
	r = api_forward_seal(fw, text, strlen(text));
	cJSON_free(text);
	return r;
}

int api_translate_sesv2(const struct api_policy *p, const struct api_route *rt, const char *body,
	size_t n, struct api_forward *fw, struct api_refusal *why)
{
	cJSON *req;
	const char *from;
	int r;

	fw->answer = SES_API_V2;
	fw->content_type = "application/json";
	fw->method = "POST";
	if (rt->action == API_ACT_V2_GET_ACCOUNT) {
		fw->method = "GET";
		fw->path = "/v2/email/account";
		fw->content_type = NULL;
		return api_forward_seal(fw, "", 0);
	}
	if (rt->action != API_ACT_V2_SEND_EMAIL && rt->action != API_ACT_V2_SEND_BULK_EMAIL)
		return api_refuse(why, 403, DENIED, "sesrelay forwards only SendEmail, SendBulkEmail and GetAccount");
	fw->path = rt->action == API_ACT_V2_SEND_EMAIL ? "/v2/email/outbound-emails" :
		"/v2/email/outbound-bulk-emails";
	req = cJSON_ParseWithLength(body, n);
	if (!cJSON_IsObject(req)) {
		cJSON_Delete(req);
		return api_refuse(why, 400, BAD, "the request body is not a JSON object");
	}
	if (rt->action == API_ACT_V2_SEND_EMAIL) {
		r = api_sesv2_send_email_policy(p, req, &fw->recipients, why);
	} else {
		const cJSON *entries = cJSON_GetObjectItemCaseSensitive(req, "BulkEmailEntries"), *e;
		r = common_policy(p, req, "DefaultEmailTags", why);
		cJSON_ArrayForEach(e, entries) {
			fw->recipients += destination_recipients(
				cJSON_GetObjectItemCaseSensitive(e, "Destination"));
			const cJSON *t, *tags = cJSON_GetObjectItemCaseSensitive(e, "ReplacementTags");
			cJSON_ArrayForEach(t, tags) {
				const char *name = str_member(t, "Name");
				if (r == 0 && name && api_policy_sets_tag(p, name))
					r = api_refuse(why, 400, BAD, "ReplacementTags may not set %.64s: "
						"sesrelay's policy sets that tag", name);
			}
		}
		from = str_member(req, "FromEmailAddress");
		if (r == 0 && from == NULL)
			r = api_refuse(why, 400, BAD, "FromEmailAddress is required");
		if (r == 0)
			r = api_policy_sender(p, from, strlen(from), DENIED, why);
	}
	if (r == 0)
		r = print(req, fw);
	cJSON_Delete(req);
	return r;
}
