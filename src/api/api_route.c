/* The API front's routes (see api_route.h). */
#include "api_route.h"

#include <string.h>

static const struct {
	const char *name;
	enum api_action action;
} v1_actions[] = {
	{ "SendEmail", API_ACT_SEND_EMAIL },
	{ "SendRawEmail", API_ACT_SEND_RAW_EMAIL },
	{ "SendTemplatedEmail", API_ACT_SEND_TEMPLATED_EMAIL },
	{ "SendBulkTemplatedEmail", API_ACT_SEND_BULK_TEMPLATED_EMAIL },
	{ "GetSendQuota", API_ACT_GET_SEND_QUOTA },
};

const char *api_kind_name(enum api_kind k)
{
	switch (k) {
	case API_SES: return "ses";
	case API_SESV2: return "sesv2";
	case API_PINPOINT: return "pinpoint";
	}
	return "unknown";
}

static int path_is(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(p, want, n) == 0;
}

static int has_prefix(const char *p, size_t n, const char *pre)
{
	return n >= strlen(pre) && memcmp(p, pre, strlen(pre)) == 0;
}

/* Pinpoint application ids are 32 lowercase hex digits; accept the
 * characters AWS ids are made of, bounded. */
static int app_id_ok(const char *p, size_t n)
{
	if (n == 0 || n > API_APP_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
				(p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '_'))
			return 0;
	return 1;
}

void api_route(const char *method, const char *path, size_t n, struct api_route *r)
{
	int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;

	memset(r, 0, sizeof(*r));
	r->action = API_ACT_REFUSED;
	r->name = "unknown";
	r->service = "ses";
	if (has_prefix(path, n, "/v2/")) {
		r->api = API_SESV2;
		if (post && path_is(path, n, "/v2/email/outbound-emails")) {
			r->action = API_ACT_V2_SEND_EMAIL;
			r->name = "SendEmail";
		} else if (post && path_is(path, n, "/v2/email/outbound-bulk-emails")) {
			r->action = API_ACT_V2_SEND_BULK_EMAIL;
			r->name = "SendBulkEmail";
		} else if (get && path_is(path, n, "/v2/email/account")) {
			r->action = API_ACT_V2_GET_ACCOUNT;
			r->name = "GetAccount";
		}
		return;
	}
	if (has_prefix(path, n, "/v1/")) {
		const char *id = path + strlen("/v1/apps/"), *end = path + n;
		const char *slash;
		r->api = API_PINPOINT;
		r->service = "mobiletargeting";
		if (!post || !has_prefix(path, n, "/v1/apps/"))
			return;
		slash = memchr(id, '/', (size_t)(end - id));
		if (slash && app_id_ok(id, (size_t)(slash - id)) &&
				path_is(slash, (size_t)(end - slash), "/messages")) {
			memcpy(r->app_id, id, (size_t)(slash - id));
			r->app_id[slash - id] = '\0';
			r->action = API_ACT_PINPOINT_SEND_MESSAGES;
			r->name = "SendMessages";
		}
		return;
	}
	r->api = API_SES;
	if (post && path_is(path, n, "/"))
		r->action = API_ACT_V1_PENDING;
}

void api_route_v1_action(struct api_route *r, const char *action, size_t n)
{
	r->action = API_ACT_REFUSED;
	r->name = "unknown";
	for (size_t i = 0; i < sizeof(v1_actions) / sizeof(v1_actions[0]); i++)
		if (path_is(action, n, v1_actions[i].name)) {
			r->action = v1_actions[i].action;
			r->name = v1_actions[i].name;
		}
}
