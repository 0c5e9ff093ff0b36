/* Pinpoint SendMessages as SESv2 SendEmail calls (see api_pinpoint.h). */
#include "api_pinpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define BAD "BadRequestException"

/* The message is msg followed by arg (may be NULL). */
static void fail_item(struct api_pinpoint_item *it, int code, const char *msg, const char *arg)
{
	it->send = 0;
	it->delivery_status = "PERMANENT_FAILURE";
	it->status_code = code;
	snprintf(it->status_message, sizeof(it->status_message), "%s%s", msg, arg ? arg : "");
}

/* Pinpoint {"Charset","Data"} parts map one to one onto SESv2's Content. */
static cJSON *dup_member(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return v ? cJSON_Duplicate(v, 1) : NULL;
}

static int add_dup(cJSON *to, const char *as, const cJSON *from, const char *name)
{
	cJSON *d;

	if (cJSON_GetObjectItemCaseSensitive(from, name) == NULL)
		return 0;
	d = dup_member(from, name);
	if (d == NULL)
		return -ENOMEM;
	cJSON_AddItemToObject(to, as, d);
	return 0;
}

/* The SESv2 SendEmail request for one address, or a reason it has none
 * (returned as a static message; NULL with *out set on success). */
static const char *build_v2(const cJSON *email, const char *address, cJSON **out, int *nomem)
{
	const cJSON *simple = cJSON_GetObjectItemCaseSensitive(email, "SimpleEmail");
	const cJSON *raw = cJSON_GetObjectItemCaseSensitive(email, "RawEmail");
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(email, "FromAddress");
	cJSON *req, *dest, *to, *content, *c;
	int r = 0;

	*out = NULL;
	*nomem = 0;
	if (!cJSON_IsObject(email))
		return "sesrelay needs MessageConfiguration.EmailMessage";
	if (cJSON_GetObjectItemCaseSensitive(email, "Substitutions"))
		return "sesrelay does not apply Pinpoint Substitutions; send the final text";
	if (!cJSON_IsString(from))
		return "FromAddress is required: sesrelay has no Pinpoint project default sender";
	if (!!cJSON_IsObject(simple) == !!cJSON_IsObject(raw))
		return "sesrelay sends EmailMessage with exactly one of SimpleEmail and RawEmail";
	req = cJSON_CreateObject();
	if (req == NULL)
		goto nomem;
	if (!cJSON_AddStringToObject(req, "FromEmailAddress", from->valuestring) ||
			(dest = cJSON_AddObjectToObject(req, "Destination")) == NULL ||
			(to = cJSON_AddArrayToObject(dest, "ToAddresses")) == NULL ||
			(c = cJSON_CreateString(address)) == NULL)
		goto nomem;
	cJSON_AddItemToArray(to, c);
	r |= add_dup(req, "ReplyToAddresses", email, "ReplyToAddresses");
	r |= add_dup(req, "FeedbackForwardingEmailAddress", email, "FeedbackForwardingAddress");
	if ((content = cJSON_AddObjectToObject(req, "Content")) == NULL)
		goto nomem;
	if (raw) {
		cJSON *rc = cJSON_AddObjectToObject(content, "Raw");
		if (rc == NULL)
			goto nomem;
		r |= add_dup(rc, "Data", raw, "Data");
	} else {
		cJSON *sc = cJSON_AddObjectToObject(content, "Simple"), *body;
		if (sc == NULL || (body = cJSON_AddObjectToObject(sc, "Body")) == NULL)
			goto nomem;
		r |= add_dup(sc, "Subject", simple, "Subject");
		r |= add_dup(body, "Text", simple, "TextPart");
		r |= add_dup(body, "Html", simple, "HtmlPart");
		r |= add_dup(sc, "Headers", simple, "Headers");
	}
	if (r)
		goto nomem;
	*out = req;
	return NULL;
nomem:
	cJSON_Delete(req);
	*nomem = 1;
	return NULL;
}

int api_pinpoint_split(const struct api_policy *p, const char *body, size_t n,
	struct api_pinpoint *out, struct api_refusal *why)
{
	cJSON *mr = cJSON_ParseWithLength(body, n), *addrs, *a, *email;
	const cJSON *mc;
	int count, r = 0;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(mr)) {
		cJSON_Delete(mr);
		return api_refuse(why, 400, BAD, "the request body is not a JSON MessageRequest");
	}
	if (cJSON_GetObjectItemCaseSensitive(mr, "Endpoints")) {
		cJSON_Delete(mr);
		return api_refuse(why, 400, BAD, "sesrelay sends to Addresses only; it has no Pinpoint endpoints");
	}
	addrs = cJSON_GetObjectItemCaseSensitive(mr, "Addresses");
	count = cJSON_GetArraySize(addrs);
	if (!cJSON_IsObject(addrs) || count == 0 || count > API_PINPOINT_MAX_ADDRESSES) {
		cJSON_Delete(mr);
		return api_refuse(why, 400, BAD, "Addresses must map 1 to 100 addresses to their configuration");
	}
	out->v = calloc((size_t)count, sizeof(*out->v));
	if (out->v == NULL) {
		cJSON_Delete(mr);
		return -ENOMEM;
	}
	mc = cJSON_GetObjectItemCaseSensitive(mr, "MessageConfiguration");
	email = cJSON_GetObjectItemCaseSensitive(mc, "EmailMessage");
	cJSON_ArrayForEach(a, addrs) {
		struct api_pinpoint_item *it = &out->v[out->n];
		const cJSON *ch = cJSON_GetObjectItemCaseSensitive(a, "ChannelType");
		const char *reason;
		cJSON *req = NULL;
		int nomem;

		api_forward_init(&it->fw);
		it->address = strdup(a->string ? a->string : "");
		out->n++;
		if (it->address == NULL) {
			r = -ENOMEM;
			break;
		}
		if (!cJSON_IsString(ch) || strcmp(ch->valuestring, "EMAIL") != 0) {
			fail_item(it, 400, "sesrelay sends the EMAIL channel only, not ",
				cJSON_IsString(ch) ? ch->valuestring : "a missing ChannelType");
			continue;
		}
		if (cJSON_GetObjectItemCaseSensitive(mr, "TemplateConfiguration")) {
			fail_item(it, 400, "Pinpoint templates are not supported by sesrelay; send SimpleEmail or RawEmail, or use SESv2 templates", NULL);
			continue;
		}
		if (cJSON_GetObjectItemCaseSensitive(a, "BodyOverride") ||
				cJSON_GetObjectItemCaseSensitive(a, "TitleOverride") ||
				cJSON_GetObjectItemCaseSensitive(a, "RawContent") ||
				cJSON_GetObjectItemCaseSensitive(a, "Substitutions")) {
			fail_item(it, 400, "per-address overrides and substitutions are not supported by sesrelay", NULL);
			continue;
		}
		reason = build_v2(email, it->address, &req, &nomem);
		if (nomem) {
			r = -ENOMEM;
			break;
		}
		if (reason) {
			fail_item(it, 400, reason, NULL);
			continue;
		}
		{
			struct api_refusal pw;
			int pr = api_sesv2_send_email_policy(p, req, &it->fw.recipients, &pw);
			char *text;
			if (pr == -ENOMEM) {
				cJSON_Delete(req);
				r = -ENOMEM;
				break;
			}
			if (pr) {
				fail_item(it, pw.status, pw.message, NULL);
				cJSON_Delete(req);
				continue;
			}
			text = cJSON_PrintUnformatted(req);
			cJSON_Delete(req);
			if (text == NULL || api_forward_seal(&it->fw, text, strlen(text))) {
				cJSON_free(text);
				r = -ENOMEM;
				break;
			}
			cJSON_free(text);
			it->fw.method = "POST";
			it->fw.path = "/v2/email/outbound-emails";
			it->fw.content_type = "application/json";
			it->fw.answer = SES_API_V2;
			it->send = 1;
		}
	}
	cJSON_Delete(mr);
	if (r)
		api_pinpoint_free(out);
	return r;
}

void api_pinpoint_result(struct api_pinpoint_item *it, int status, const char *body, size_t len,
	const char *code, const char *message)
{
	it->status_code = status;
	snprintf(it->status_message, sizeof(it->status_message), "%s%s%s", code ? code : "",
		code && message && *message ? ": " : "", message ? message : "");
	if (status == 200) {
		cJSON *o = cJSON_ParseWithLength(body, len);
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "MessageId");
		it->delivery_status = "SUCCESSFUL";
		snprintf(it->status_message, sizeof(it->status_message), "Accepted by SES in the shared account");
		if (cJSON_IsString(id))
			snprintf(it->message_id, sizeof(it->message_id), "%s", id->valuestring);
		cJSON_Delete(o);
	} else if (status == 429 || (code && (strstr(code, "Throttl") || strstr(code, "TooManyRequests")))) {
		it->delivery_status = "THROTTLED";
	} else if (status == 0) {
		/* no answer after the request may have reached SES */
		it->delivery_status = "UNKNOWN_FAILURE";
	} else if (status >= 500) {
		it->delivery_status = "TEMPORARY_FAILURE";
	} else {
		it->delivery_status = "PERMANENT_FAILURE";
	}
}

int api_pinpoint_response(const struct api_pinpoint *pp, const char *app_id,
	const char *request_id, struct buf *out)
{
	cJSON *o = cJSON_CreateObject(), *res;
	char *text;
	int r = -ENOMEM;

	if (o == NULL || !cJSON_AddStringToObject(o, "ApplicationId", app_id) ||
			!cJSON_AddStringToObject(o, "RequestId", request_id) ||
			(res = cJSON_AddObjectToObject(o, "Result")) == NULL)
		goto out;
	for (size_t i = 0; i < pp->n; i++) {
		const struct api_pinpoint_item *it = &pp->v[i];
		cJSON *e = cJSON_CreateObject();
		if (e == NULL)
			goto out;
		cJSON_AddItemToObject(res, it->address, e);
		if (!cJSON_AddStringToObject(e, "DeliveryStatus", it->delivery_status ?
				it->delivery_status : "UNKNOWN_FAILURE") ||
				!cJSON_AddNumberToObject(e, "StatusCode", it->status_code) ||
				!cJSON_AddStringToObject(e, "StatusMessage", it->status_message) ||
				(it->message_id[0] && !cJSON_AddStringToObject(e, "MessageId", it->message_id)))
			goto out;
	}
	text = cJSON_PrintUnformatted(o);
	if (text) {
		r = buf_puts(out, text);
		cJSON_free(text);
	}
out:
	cJSON_Delete(o);
	return r;
}

void api_pinpoint_free(struct api_pinpoint *pp)
{
	for (size_t i = 0; i < pp->n; i++) {
		free(pp->v[i].address);
		api_forward_free(&pp->v[i].fw);
	}
	free(pp->v);
	memset(pp, 0, sizeof(*pp));
}
