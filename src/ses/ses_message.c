#include "ses_message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws_xml.h"

const char *ses_content_type(enum ses_api api)
{
	return api == SES_API_V2 ? "application/json"
		: "application/x-www-form-urlencoded; charset=utf-8";
}

const char *ses_request_path(enum ses_api api)
{
	return api == SES_API_V2 ? "/v2/email/outbound-emails" : "/";
}

static int begin_v1(struct buf *o, const struct ses_params *p)
{
	char key[64];
	int r = 0;

	r |= aws_query_add(o, "Action", "SendRawEmail");
	r |= aws_query_add(o, "Version", "2010-12-01");
	if (p->source && *p->source)
		r |= aws_query_add(o, "Source", p->source);
	for (size_t i = 0; i < p->ndestinations; i++) {
		snprintf(key, sizeof(key), "Destinations.member.%zu", i + 1);
		r |= aws_query_add(o, key, p->destinations[i]);
	}
	if (p->source_arn)
		r |= aws_query_add(o, "SourceArn", p->source_arn);
	if (p->from_arn)
		r |= aws_query_add(o, "FromArn", p->from_arn);
	if (p->return_path_arn)
		r |= aws_query_add(o, "ReturnPathArn", p->return_path_arn);
	if (p->configuration_set)
		r |= aws_query_add(o, "ConfigurationSetName", p->configuration_set);
	for (size_t i = 0; p->tags && i < p->tags->n; i++) {
		const char *t = p->tags->v[i], *eq = strchr(t, '=');
		if (eq == NULL)
			return -EINVAL;
		snprintf(key, sizeof(key), "Tags.member.%zu.Name", i + 1);
		r |= aws_query_add_n(o, key, t, (size_t)(eq - t));
		snprintf(key, sizeof(key), "Tags.member.%zu.Value", i + 1);
		r |= aws_query_add(o, key, eq + 1);
	}
	/* The raw message comes last so it can stream in. */
	r |= aws_query_add(o, "RawMessage.Data", "");
	return r ? -ENOMEM : 0;
}

/* The JSON object without "Content", printed by cJSON, then reopened so
 * the base64 can stream into the last member. */
static int begin_v2(struct buf *o, const struct ses_params *p)
{
	cJSON *root = cJSON_CreateObject(), *dest, *to, *tags;
	char *text = NULL;
	size_t len;
	int r = -ENOMEM;

	if (root == NULL)
		return -ENOMEM;
	if (p->source && *p->source && !cJSON_AddStringToObject(root, "FromEmailAddress", p->source))
		goto out;
	if ((dest = cJSON_AddObjectToObject(root, "Destination")) == NULL ||
	    (to = cJSON_AddArrayToObject(dest, "ToAddresses")) == NULL)
		goto out;
	for (size_t i = 0; i < p->ndestinations; i++) {
		cJSON *s = cJSON_CreateString(p->destinations[i]);
		if (s == NULL || !cJSON_AddItemToArray(to, s))
			goto out;
	}
	/* v2 has one ARN for what v1 splits into SourceArn and FromArn (it
	 * overrides both X-SES- headers for raw content). */
	if ((p->from_arn || p->source_arn) && !cJSON_AddStringToObject(root,
			"FromEmailAddressIdentityArn", p->from_arn ? p->from_arn : p->source_arn))
		goto out;
	if (p->return_path_arn &&
	    !cJSON_AddStringToObject(root, "FeedbackForwardingEmailAddressIdentityArn", p->return_path_arn))
		goto out;
	if (p->configuration_set && !cJSON_AddStringToObject(root, "ConfigurationSetName", p->configuration_set))
		goto out;
	if (p->tags && p->tags->n) {
		if ((tags = cJSON_AddArrayToObject(root, "EmailTags")) == NULL)
			goto out;
		for (size_t i = 0; i < p->tags->n; i++) {
			const char *t = p->tags->v[i], *eq = strchr(t, '=');
			cJSON *tag = cJSON_CreateObject();
			char *name = eq ? strndup(t, (size_t)(eq - t)) : NULL;
			bool ok = tag && cJSON_AddItemToArray(tags, tag) && name &&
				cJSON_AddStringToObject(tag, "Name", name) &&
				cJSON_AddStringToObject(tag, "Value", eq + 1);
			free(name);
			if (!ok)
				goto out;
		}
	}
	text = cJSON_PrintUnformatted(root);
	if (text == NULL)
		goto out;
	len = strlen(text);		/* ends with '}' */
	r = buf_append(o, text, len - 1);
	if (r == 0)
		r = buf_puts(o, ",\"Content\":{\"Raw\":{\"Data\":\"");
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return r;
}

int ses_body_begin(struct ses_body *b, const struct ses_params *p, size_t size_hint)
{
	int r;

	memset(b, 0, sizeof(*b));
	b->api = p->api;
	b->ndestinations = (unsigned)p->ndestinations;
	b->max_encoded = p->api == SES_API_V2 ? SES_V2_MAX_ENCODED : SES_V1_MAX_ENCODED;
	if (size_hint) {
		size_t want = p->api == SES_API_V2 ? aws_b64_len(size_hint)
			: aws_query_b64_len_max(size_hint) / 2;
		if (want < b->max_encoded * 2 && buf_reserve(&b->body, want + 4096))
			return -ENOMEM;
	}
	r = sigv4_hash_init(&b->hash);
	if (r)
		return r;
	r = p->api == SES_API_V2 ? begin_v2(&b->body, p) : begin_v1(&b->body, p);
	if (r == 0)
		r = sigv4_hash_update(&b->hash, b->body.data, b->body.len);
	if (r) {
		ses_body_free(b);
		return r;
	}
	aws_b64_stream_init(&b->b64, p->api == SES_API_V2 ? AWS_B64_PLAIN : AWS_B64_FORM,
		&b->body, &b->hash);
	return 0;
}

int ses_body_write(struct ses_body *b, const void *p, size_t n)
{
	/* SES counts the base64 text, not its form-encoded form. */
	if (aws_b64_len(b->b64.raw_len + n) > b->max_encoded)
		return -EMSGSIZE;
	return aws_b64_stream_update(&b->b64, p, n);
}

int ses_body_finish(struct ses_body *b)
{
	int r = aws_b64_stream_final(&b->b64);

	if (r == 0 && b->api == SES_API_V2) {
		static const char tail[] = "\"}}}";
		r = buf_append(&b->body, tail, sizeof(tail) - 1);
		if (r == 0)
			r = sigv4_hash_update(&b->hash, tail, sizeof(tail) - 1);
	}
	if (r == 0)
		r = sigv4_hash_final(&b->hash, b->payload_hash);
	if (r == 0)
		b->finished = true;
	return r;
}

void ses_body_free(struct ses_body *b)
{
	if (!b->finished)
		sigv4_hash_free(&b->hash);
	buf_free(&b->body);
}

/* A MessageId is a token (SES's are hex digits and '-'): printable ASCII
 * without blanks, which the SMTP reply, the logs, the queue file and the
 * API answers may quote as is. Anything else (empty, a NUL, a line break,
 * too long) is no id. */
static int copy_message_id(const char *s, size_t n, char *out, size_t outlen)
{
	if (n == 0 || n >= outlen)
		return -ENOENT;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return -ENOENT;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int ses_parse_message_id(enum ses_api api, const char *body, size_t len,
	char *out, size_t outlen)
{
	int r = -ENOENT;

	if (api == SES_API_V2) {
		cJSON *j = cJSON_ParseWithLength(body, len);
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "MessageId");

		if (cJSON_IsString(id))
			r = copy_message_id(id->valuestring, strlen(id->valuestring), out, outlen);
		cJSON_Delete(j);
	} else {
		struct buf t = BUF_INIT;

		if (aws_xml_text(body, len, "MessageId", &t) == 0)
			r = copy_message_id(t.data, t.len, out, outlen);
		buf_free(&t);
	}
	return r;
}
