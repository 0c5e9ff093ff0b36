/* Which API and action a request is for, from its method and path (and
 * for SES v1, its Action parameter): the allow list of the API front.
 * Only sending and the read-only calls SDK clients make around sending
 * are routed; everything else is refused in the API's own shape and never
 * forwarded. Pure.
 */
#ifndef SESRELAY_API_ROUTE_H
#define SESRELAY_API_ROUTE_H

#include <stddef.h>

enum api_kind {
	API_SES,			/* SES v1 Query (XML answers) */
	API_SESV2,			/* SESv2 REST-JSON */
	API_PINPOINT,			/* Pinpoint REST-JSON */
};

enum api_action {
	API_ACT_REFUSED,		/* not one of ours: 403 */
	API_ACT_V1_PENDING,		/* POST /: the Action is in the form body */
	API_ACT_SEND_EMAIL,		/* v1 */
	API_ACT_SEND_RAW_EMAIL,		/* v1 */
	API_ACT_SEND_TEMPLATED_EMAIL,	/* v1 */
	API_ACT_SEND_BULK_TEMPLATED_EMAIL,	/* v1 */
	API_ACT_GET_SEND_QUOTA,		/* v1 */
	API_ACT_V2_SEND_EMAIL,
	API_ACT_V2_SEND_BULK_EMAIL,
	API_ACT_V2_GET_ACCOUNT,
	API_ACT_PINPOINT_SEND_MESSAGES,
};

#define API_APP_ID_MAX 64

struct api_route {
	enum api_kind api;
	enum api_action action;
	const char *name;		/* "SendEmail" ...; "unknown" when refused */
	const char *service;		/* SigV4 signing name: "ses" or "mobiletargeting" */
	char app_id[API_APP_ID_MAX + 1];	/* Pinpoint application id */
};

/* Route method + path (the target up to '?'). Always fills r; the action
 * is API_ACT_REFUSED for anything not allowed, with api set to the API
 * the path belongs to so the refusal has that API's shape. */
void api_route(const char *method, const char *path, size_t path_len, struct api_route *r);
/* For API_ACT_V1_PENDING: the Action parameter's value. Refused actions
 * (DeleteIdentity, CreateConfigurationSet ...) leave API_ACT_REFUSED. */
void api_route_v1_action(struct api_route *r, const char *action, size_t n);
/* The label used in metrics and logs ("SendEmail", "unknown"). */
const char *api_kind_name(enum api_kind k);

#endif
