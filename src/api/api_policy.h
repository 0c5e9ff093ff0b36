/* The sending policy applied to one API request, the same rules for SES
 * v1, SESv2 and Pinpoint (and the SMTP front's, clients.h): who may send
 * as which senders, the identity ARNs the relay (never the caller) sets,
 * the configuration set and the tags. Also the raw-message path shared by
 * SendRawEmail, SESv2 Raw content and Pinpoint RawEmail: decode, check the
 * From header, filter X-SES-* headers as for SMTP mail, encode again.
 *
 * Pure. Ownership: struct api_policy borrows the client and the config;
 * struct api_refusal and struct api_tags are plain values.
 */
#ifndef SESRELAY_API_POLICY_H
#define SESRELAY_API_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "clients.h"
#include "config.h"

struct api_policy {
	const struct client *client;	/* NULL: `api_auth network`, allow_senders rules */
	/* ARNs, configuration_set, message_tags, ses_headers: keys that need
	 * a restart, so the configuration the relay started with, as the SMTP
	 * path's back end keeps them */
	const struct config *cfg;
	const struct strlist *allow_senders;	/* the configuration in force; NULL: cfg's */
};

/* Why a request is not forwarded: the HTTP status and AWS error code to
 * answer in the API's shape. */
struct api_refusal {
	int status;
	char code[64];
	char message[256];
};

/* Fill why and return -EPERM (status 403) or -EINVAL (others). */
int api_refuse(struct api_refusal *why, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A sender value: an address or a mailbox list ("Name <a@b>", as SES's
 * Source and SESv2's FromEmailAddress allow). 0, or a refusal (403
 * AccessDenied-style code given by the caller's API). */
int api_policy_sender(const struct api_policy *p, const char *value, size_t n,
	const char *denied_code, struct api_refusal *why);

/* A caller's identity ARN against the relay's (NULL: the relay sets
 * none): equal or absent is fine; anything else is refused (400,
 * invalid_code). */
int api_policy_arn(const char *caller, const char *relay, const char *param,
	const char *invalid_code, struct api_refusal *why);

/* The configuration set to send with, given the caller's (NULL: none):
 * the client's when forced or when the caller named none, else the
 * caller's; then the relay's configuration_set as the last default. */
const char *api_policy_configuration_set(const struct api_policy *p, const char *caller);

#define API_MAX_TAGS 50			/* SES's limit per message */

struct api_tag {
	const char *name;		/* borrowed; name_len bytes (the relay's
					 * message_tags are "name=value" strings) */
	size_t name_len;
	const char *value;		/* borrowed, NUL-terminated */
};

struct api_tags {
	struct api_tag v[API_MAX_TAGS];
	size_t n;
};

/* Add the relay's message_tags, then the client's, each replacing a
 * caller's tag of the same name (the caller's are added first by the
 * API code). -E2BIG past API_MAX_TAGS. */
int api_tags_add(struct api_tags *t, const char *name, size_t name_len, const char *value);
int api_policy_tags(const struct api_policy *p, struct api_tags *t);
/* Does the policy set a tag of this name (which a caller's per-entry
 * replacement tags of a bulk send must then not override)? */
bool api_policy_sets_tag(const struct api_policy *p, const char *name);

/* The raw message in base64 b64[0..n): decoded into raw (reset first),
 * its From header checked against the policy, X-SES-* header fields
 * stripped or refused (cfg->ses_headers), the result in raw. 0 or a
 * refusal (invalid_code for undecodable data or a message without a
 * single From). */
int api_policy_raw(const struct api_policy *p, const char *b64, size_t n, struct buf *raw,
	const char *denied_code, const char *invalid_code, struct api_refusal *why);

#endif
