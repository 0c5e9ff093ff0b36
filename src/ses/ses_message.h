/* The SES request body for one message, built as the message streams in.
 *
 * v1 (Query API):  Action=SendRawEmail&Version=2010-12-01&Source=..&
 *                  Destinations.member.N=..&SourceArn=..&FromArn=..&
 *                  ReturnPathArn=..&ConfigurationSetName=..&
 *                  Tags.member.N.Name/Value=..&RawMessage.Data=<base64, form-encoded>
 * v2 (SendEmail):  {"FromEmailAddress":..,"Destination":{"ToAddresses":[..]},
 *                   "FromEmailAddressIdentityArn":..,
 *                   "FeedbackForwardingEmailAddressIdentityArn":..,
 *                   "ConfigurationSetName":..,"EmailTags":[..],
 *                   "Content":{"Raw":{"Data":"<base64>"}}}
 *
 * The raw message is never stored: each chunk is base64-encoded straight
 * into the one body buffer and fed to the SigV4 payload hash, so a
 * message exists once, encoded, and is hashed as it arrives.
 *
 * Ownership: struct ses_body owns `body` and the hash context; ses_body_free()
 * releases both. The params are borrowed during ses_body_begin() only.
 */
#ifndef SESRELAY_SES_MESSAGE_H
#define SESRELAY_SES_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "aws_query.h"
#include "buf.h"
#include "config.h"
#include "sigv4.h"

/* SES's own limits on the encoded message (base64 length). */
#define SES_V1_MAX_ENCODED (10u * 1024 * 1024)
#define SES_V2_MAX_ENCODED (40u * 1024 * 1024)

struct ses_params {
	enum ses_api api;
	const char *source;		/* envelope sender; "" or NULL: omitted */
	const char *const *destinations;
	size_t ndestinations;
	const char *source_arn;		/* v1 SourceArn; v2 FromEmailAddressIdentityArn unless from_arn */
	const char *from_arn;		/* v1 FromArn; v2 FromEmailAddressIdentityArn */
	const char *return_path_arn;	/* v1 ReturnPathArn; v2 FeedbackForwarding...Arn */
	const char *configuration_set;
	const struct strlist *tags;	/* name=value */
};

struct ses_body {
	struct buf body;
	struct sigv4_hash hash;
	struct aws_b64_stream b64;
	enum ses_api api;
	size_t max_encoded;
	char payload_hash[65];
	bool finished;
	unsigned ndestinations;		/* recipients, as SES counts the rate */
};

/* Start the body. size_hint (raw octets, 0 if unknown) preallocates. */
int ses_body_begin(struct ses_body *b, const struct ses_params *p, size_t size_hint);
/* Append raw message bytes. -EMSGSIZE once the encoded message would pass
 * SES's limit for the API. */
int ses_body_write(struct ses_body *b, const void *p, size_t n);
/* Close the body and compute its payload hash. */
int ses_body_finish(struct ses_body *b);
void ses_body_free(struct ses_body *b);

const char *ses_content_type(enum ses_api api);
const char *ses_request_path(enum ses_api api);

/* MessageId from a 200 answer: v1 XML or v2 JSON. 0 or -ENOENT. */
int ses_parse_message_id(enum ses_api api, const char *body, size_t len,
	char *out, size_t outlen);

#endif
