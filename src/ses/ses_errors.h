/* What an SES or STS outcome means for the SMTP client: one table maps
 * AWS error codes (and local failures) to the reply code and the enhanced
 * status code. Whether sesrelay may retry the request itself, and whether
 * the credentials must be dropped, is not decided here: it is the one
 * classification in aws/aws_retry.c, read through ses_error_rule_retry(). The README's reply table is
 * generated from the same rows (sesrelay --reply-table would print it);
 * keep both in step.
 */
#ifndef SESRELAY_SES_ERRORS_H
#define SESRELAY_SES_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "aws_retry.h"
#include "delivery.h"

enum ses_retry {
	SES_NO_RETRY,		/* answer the client now */
	SES_RETRY_BACKOFF,	/* transient: retry with backoff while time allows */
	SES_RETRY_NEW_CREDS,	/* credentials refused: refresh once, retry once */
};

struct ses_error_rule {
	const char *code;	/* AWS code, or a local one ("NetworkError") */
	const char *contains;	/* optional substring of the message, or NULL */
	int smtp_code;
	const char *enhanced;
	const char *reason;	/* short text for the reply */
};

/* Local outcomes that have no AWS code. */
#define SES_ERR_NETWORK AWS_ERR_NETWORK
#define SES_ERR_TIMEOUT AWS_ERR_TIMEOUT
#define SES_ERR_NO_CREDS AWS_ERR_NO_CREDS
#define SES_ERR_HTTP_5XX AWS_ERR_HTTP_5XX
#define SES_ERR_UNKNOWN AWS_ERR_UNKNOWN
#define SES_ERR_RATE "SendRateLimited"		/* the governor refused: nothing sent */
#define SES_ERR_PAUSED "DailyQuotaPaused"	/* the governor pauses: nothing sent */

/* The rule for an error: by code (and message, for the rows that need
 * it), then by HTTP status class, then the catch-all, which is temporary
 * so that an error we do not know never loses mail. Never NULL. */
const struct ses_error_rule *ses_error_classify(const char *code, const char *message,
	int http_status);

/* What sesrelay does about a rule's outcome: aws_error_retry() of the
 * rule's own code (and `contains`, for the rows split by message), with
 * both kinds of refused credentials meaning "fresh ones, once". */
enum ses_retry ses_error_rule_retry(const struct ses_error_rule *rule);

/* The SMTP reply for a rule, into res (code, enhanced code, text,
 * error_code): the rule's reason, then AWS's code and message as
 * "reason (Code: message)". The message is cut to fit the reply text
 * only at a blank, never inside a word or an ARN, and the cut is shown
 * with "..."; control characters become blanks. With soft_bounce, a 5xx
 * becomes the matching 4xx (same text, enhanced code 4.x.x): the one
 * place that decides it for every answer from SES or STS. */
void ses_error_reply(const struct ses_error_rule *rule, const char *code, const char *message,
	bool soft_bounce, struct delivery_result *res);

/* For the README and tests. */
size_t ses_error_rule_count(void);
const struct ses_error_rule *ses_error_rule_at(size_t i);

#endif
