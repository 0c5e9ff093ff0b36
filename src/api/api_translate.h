/* API requests translated into the SES requests the relay sends in the
 * shared account, under the caller's policy (api_policy.h):
 *
 *   SES v1 (api_ses_v1.c)   POST / form: the allowed actions only; the
 *                           relay's ARNs, the policy's configuration set
 *                           and tags; SendRawEmail rebuilt through the
 *                           SMTP path's encoder (ses_message.h)
 *   SESv2  (api_sesv2.c)    SendEmail (Simple, Raw, Template), SendBulkEmail,
 *                           GetAccount; EndpointId and TenantName refused
 *   Pinpoint (api_pinpoint.c)  SendMessages: one SESv2 SendEmail per
 *                           EMAIL address, answered as a MessageResponse
 *
 * Pure. Ownership: struct api_forward owns its body (api_forward_free()).
 */
#ifndef SESRELAY_API_TRANSLATE_H
#define SESRELAY_API_TRANSLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "api_policy.h"
#include "api_route.h"
#include "buf.h"
#include "config.h"

/* SES's request size limits per API. */
#define API_V1_MAX_BODY (10u * 1024 * 1024 + 64 * 1024)
#define API_V2_MAX_BODY (40u * 1024 * 1024 + 64 * 1024)
#define API_V1_MAX_PARAMS 2000

struct api_forward {
	const char *method;		/* "POST" or "GET" */
	const char *path;		/* SES API path: "/", "/v2/email/outbound-emails" ... */
	const char *content_type;	/* NULL for a GET */
	enum ses_api answer;		/* SES answers v1 XML or v2 JSON */
	struct buf body;
	char payload_hash[65];
	/* the recipients SES counts for this request (To, Cc and Bcc of every
	 * destination, or of a raw message's header), which the send-rate
	 * governor reserves; 0 for the account reads */
	size_t recipients;
};

void api_forward_init(struct api_forward *fw);
void api_forward_free(struct api_forward *fw);
/* Set fw's body to the n bytes at p (or keep what is there: p NULL) and
 * hash it. */
int api_forward_seal(struct api_forward *fw, const char *p, size_t n);

/* r->action is API_ACT_V1_PENDING: the Action decides (r is updated). 0
 * and fw filled, a refusal (-EPERM/-EINVAL with why), or -ENOMEM. */
int api_translate_ses(const struct api_policy *p, struct api_route *r, const char *body,
	size_t n, struct api_forward *fw, struct api_refusal *why);

int api_translate_sesv2(const struct api_policy *p, const struct api_route *r, const char *body,
	size_t n, struct api_forward *fw, struct api_refusal *why);
/* The SESv2 SendEmail policy on a parsed request object, changed in place
 * (Pinpoint builds one per address and sends it through here too). */
/* *recipients: the recipients SES counts for it. */
int api_sesv2_send_email_policy(const struct api_policy *p, cJSON *req, size_t *recipients,
	struct api_refusal *why);

#endif
