/* Pinpoint SendMessages (EMAIL channel) as SESv2 SendEmail calls in the
 * shared account: each address of the MessageRequest becomes one SESv2
 * SendEmail (Simple content from SimpleEmail, Raw from RawEmail) under the
 * same policy as a direct SESv2 call, and the answer is a Pinpoint
 * MessageResponse with a per-address DeliveryStatus, StatusCode,
 * StatusMessage and MessageId. Addresses that cannot be sent (another
 * channel, templates, overrides) get PERMANENT_FAILURE saying why and are
 * never sent. Pure.
 *
 * Ownership: struct api_pinpoint owns its items and their strings;
 * api_pinpoint_free().
 */
#ifndef SESRELAY_API_PINPOINT_H
#define SESRELAY_API_PINPOINT_H

#include <stddef.h>

#include "api_policy.h"
#include "api_translate.h"
#include "buf.h"

#define API_PINPOINT_MAX_ADDRESSES 100	/* Pinpoint's own limit per request */

struct api_pinpoint_item {
	char *address;			/* owned */
	struct api_forward fw;		/* the SESv2 SendEmail; body empty when not sent */
	int send;			/* 1: fw is to be sent */
	/* result */
	const char *delivery_status;	/* "SUCCESSFUL", "PERMANENT_FAILURE" ... */
	int status_code;
	char status_message[256];
	char message_id[128];
};

struct api_pinpoint {
	struct api_pinpoint_item *v;
	size_t n;
};

/* Parse the MessageRequest body and build one item per address. 0, a
 * refusal of the whole request (malformed JSON, Endpoints), or -ENOMEM. */
int api_pinpoint_split(const struct api_policy *p, const char *body, size_t n,
	struct api_pinpoint *out, struct api_refusal *why);
/* Record SES's answer for an item: status 200 with its JSON body (the
 * MessageId read from it), or an error: status (0: no answer) and code. */
void api_pinpoint_result(struct api_pinpoint_item *it, int status, const char *body, size_t len,
	const char *code, const char *message);
/* The MessageResponse JSON. */
int api_pinpoint_response(const struct api_pinpoint *pp, const char *app_id,
	const char *request_id, struct buf *out);
void api_pinpoint_free(struct api_pinpoint *pp);

#endif
