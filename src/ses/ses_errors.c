#include "ses_errors.h"

#include <string.h>
#include <strings.h>

/* Order matters: the first row whose code matches (and whose `contains`,
 * if set, occurs in the message) wins.
 *
 * Choices worth knowing:
 * - Anything that an operator can fix (permissions, trust, paused sending,
 *   credentials, signature/clock problems) is temporary: the client's
 *   queue keeps the mail until the fix, nothing bounces because of a
 *   configuration mistake on our side.
 * - The daily quota is temporary too (it resets within 24 h), but it is
 *   not retried inside sesrelay: retrying cannot help for hours.
 * - Permanent answers are kept for what is wrong with this message or its
 *   sender: unverified identities, content rejected, bad parameters. */
static const struct ses_error_rule rules[] = {
	/* Throttling: v1 uses Throttling for both rate and daily quota. */
	{ "Throttling", "Daily message quota", 451, "4.7.0", SES_NO_RETRY, "daily sending quota exceeded" },
	{ "Throttling", NULL, 451, "4.4.5", SES_RETRY_BACKOFF, "sending rate exceeded" },
	{ "ThrottlingException", NULL, 451, "4.4.5", SES_RETRY_BACKOFF, "sending rate exceeded" },
	{ "TooManyRequestsException", NULL, 451, "4.4.5", SES_RETRY_BACKOFF, "sending rate exceeded" },
	{ "LimitExceededException", NULL, 451, "4.7.0", SES_NO_RETRY, "sending limit exceeded" },
	{ "ServiceUnavailable", NULL, 451, "4.3.0", SES_RETRY_BACKOFF, "SES unavailable" },
	{ "InternalFailure", NULL, 451, "4.3.0", SES_RETRY_BACKOFF, "SES internal failure" },
	{ "RequestTimeout", NULL, 451, "4.4.2", SES_RETRY_BACKOFF, "SES request timed out" },

	/* Credentials SES refuses although we believed them valid: revoked
	 * session, skewed clock. Refresh and try once more. */
	{ "ExpiredToken", NULL, 454, "4.7.0", SES_RETRY_NEW_CREDS, "credentials expired" },
	{ "ExpiredTokenException", NULL, 454, "4.7.0", SES_RETRY_NEW_CREDS, "credentials expired" },
	{ "RequestExpired", NULL, 454, "4.7.0", SES_RETRY_NEW_CREDS, "request expired (clock skew?)" },
	{ "InvalidClientTokenId", NULL, 454, "4.7.0", SES_RETRY_NEW_CREDS, "credentials not recognised" },
	{ "UnrecognizedClientException", NULL, 454, "4.7.0", SES_RETRY_NEW_CREDS, "credentials not recognised" },
	{ "SignatureDoesNotMatch", NULL, 454, "4.7.0", SES_NO_RETRY, "request signature refused" },
	{ "IncompleteSignature", NULL, 454, "4.7.0", SES_NO_RETRY, "request signature refused" },
	{ "AccessDenied", NULL, 454, "4.7.0", SES_NO_RETRY, "shared-account role may not send" },
	{ "AccessDeniedException", NULL, 454, "4.7.0", SES_NO_RETRY, "shared-account role may not send" },
	{ "NoCredentials", NULL, 454, "4.7.0", SES_NO_RETRY, "no verified shared-account credentials" },

	/* Sending switched off by an operator. */
	{ "AccountSendingPausedException", NULL, 451, "4.7.0", SES_NO_RETRY, "account sending paused" },
	{ "ConfigurationSetSendingPausedException", NULL, 451, "4.7.0", SES_NO_RETRY, "configuration set sending paused" },
	{ "SendingPausedException", NULL, 451, "4.7.0", SES_NO_RETRY, "sending paused" },

	/* Wrong for this message or sender: permanent. */
	{ "MessageRejected", "not verified", 550, "5.7.1", SES_NO_RETRY, "sender or recipient identity not verified" },
	{ "MessageRejected", "authority", 550, "5.7.1", SES_NO_RETRY, "not authorized to send from this address" },
	{ "MessageRejected", "Too many recipients", 554, "5.5.3", SES_NO_RETRY, "too many recipients" },
	{ "MessageRejected", NULL, 554, "5.6.0", SES_NO_RETRY, "message rejected" },
	{ "MailFromDomainNotVerified", NULL, 550, "5.7.1", SES_NO_RETRY, "MAIL FROM domain not verified" },
	{ "MailFromDomainNotVerifiedException", NULL, 550, "5.7.1", SES_NO_RETRY, "MAIL FROM domain not verified" },
	{ "FromEmailAddressNotVerified", NULL, 550, "5.7.1", SES_NO_RETRY, "From address not verified" },
	{ "ConfigurationSetDoesNotExist", NULL, 554, "5.3.5", SES_NO_RETRY, "configuration set does not exist" },
	{ "ConfigurationSetDoesNotExistException", NULL, 554, "5.3.5", SES_NO_RETRY, "configuration set does not exist" },
	{ "NotFoundException", NULL, 554, "5.3.5", SES_NO_RETRY, "identity or configuration set not found" },
	{ "AccountSuspendedException", NULL, 554, "5.7.1", SES_NO_RETRY, "SES account suspended" },
	{ "InvalidParameterValue", "length", 552, "5.3.4", SES_NO_RETRY, "message too big for SES" },
	{ "InvalidParameterValue", NULL, 554, "5.6.0", SES_NO_RETRY, "SES refused a parameter" },
	{ "BadRequestException", NULL, 554, "5.6.0", SES_NO_RETRY, "SES refused the request" },
	{ "MessageTooLong", NULL, 552, "5.3.4", SES_NO_RETRY, "message too big for SES" },

	/* Local outcomes. */
	{ SES_ERR_NETWORK, NULL, 451, "4.4.1", SES_RETRY_BACKOFF, "SES unreachable" },
	{ SES_ERR_TIMEOUT, NULL, 451, "4.4.2", SES_RETRY_BACKOFF, "SES timed out" },
	{ SES_ERR_HTTP_5XX, NULL, 451, "4.3.0", SES_RETRY_BACKOFF, "SES server error" },
	/* The send-rate governor refused before anything went to SES. */
	{ SES_ERR_RATE, NULL, 451, "4.7.0", SES_NO_RETRY, "sending rate limit reached" },
	{ SES_ERR_PAUSED, NULL, 451, "4.7.0", SES_NO_RETRY, "daily sending quota exceeded" },
};

static const struct ses_error_rule unknown_rule = {
	SES_ERR_UNKNOWN, NULL, 451, "4.3.0", SES_NO_RETRY, "unexpected SES answer"
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

const struct ses_error_rule *ses_error_classify(const char *code, const char *message,
	int http_status)
{
	if (code && *code) {
		for (size_t i = 0; i < NRULES; i++) {
			if (strcmp(rules[i].code, code) != 0)
				continue;
			if (rules[i].contains && !(message && strcasestr(message, rules[i].contains)))
				continue;
			return &rules[i];
		}
	}
	if (http_status >= 500)
		return ses_error_classify(SES_ERR_HTTP_5XX, NULL, 0);
	return &unknown_rule;
}

size_t ses_error_rule_count(void)
{
	return NRULES + 1;
}

const struct ses_error_rule *ses_error_rule_at(size_t i)
{
	if (i < NRULES)
		return &rules[i];
	return i == NRULES ? &unknown_rule : NULL;
}
