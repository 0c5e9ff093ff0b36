#include "ses_errors.h"

#include <stdio.h>
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
	{ "Throttling", "Daily message quota", 451, "4.7.0", "daily sending quota exceeded" },
	{ "Throttling", NULL, 451, "4.4.5", "sending rate exceeded" },
	{ "ThrottlingException", NULL, 451, "4.4.5", "sending rate exceeded" },
	{ "TooManyRequestsException", NULL, 451, "4.4.5", "sending rate exceeded" },
	{ "LimitExceededException", NULL, 451, "4.7.0", "sending limit exceeded" },
	{ "ServiceUnavailable", NULL, 451, "4.3.0", "SES unavailable" },
	{ "InternalFailure", NULL, 451, "4.3.0", "SES internal failure" },
	{ "RequestTimeout", NULL, 451, "4.4.2", "SES request timed out" },

	/* Credentials SES refuses although we believed them valid: revoked
	 * session, skewed clock. Refresh and try once more. */
	{ "ExpiredToken", NULL, 454, "4.7.0", "credentials expired" },
	{ "ExpiredTokenException", NULL, 454, "4.7.0", "credentials expired" },
	{ "RequestExpired", NULL, 454, "4.7.0", "request expired (clock skew?)" },
	{ "InvalidClientTokenId", NULL, 454, "4.7.0", "credentials not recognised" },
	{ "UnrecognizedClientException", NULL, 454, "4.7.0", "credentials not recognised" },
	{ "SignatureDoesNotMatch", NULL, 454, "4.7.0", "request signature refused" },
	{ "IncompleteSignature", NULL, 454, "4.7.0", "request signature refused" },
	{ "AccessDenied", NULL, 454, "4.7.0", "shared-account role may not send" },
	{ "AccessDeniedException", NULL, 454, "4.7.0", "shared-account role may not send" },
	{ "NoCredentials", NULL, 454, "4.7.0", "no verified shared-account credentials" },

	/* Sending switched off by an operator. */
	{ "AccountSendingPausedException", NULL, 451, "4.7.0", "account sending paused" },
	{ "ConfigurationSetSendingPausedException", NULL, 451, "4.7.0", "configuration set sending paused" },
	{ "SendingPausedException", NULL, 451, "4.7.0", "sending paused" },

	/* Wrong for this message or sender: permanent. */
	{ "MessageRejected", "not verified", 550, "5.7.1", "sender or recipient identity not verified" },
	{ "MessageRejected", "authority", 550, "5.7.1", "not authorized to send from this address" },
	{ "MessageRejected", "Too many recipients", 554, "5.5.3", "too many recipients" },
	{ "MessageRejected", NULL, 554, "5.6.0", "message rejected" },
	{ "MailFromDomainNotVerified", NULL, 550, "5.7.1", "MAIL FROM domain not verified" },
	{ "MailFromDomainNotVerifiedException", NULL, 550, "5.7.1", "MAIL FROM domain not verified" },
	{ "FromEmailAddressNotVerified", NULL, 550, "5.7.1", "From address not verified" },
	{ "ConfigurationSetDoesNotExist", NULL, 554, "5.3.5", "configuration set does not exist" },
	{ "ConfigurationSetDoesNotExistException", NULL, 554, "5.3.5", "configuration set does not exist" },
	{ "NotFoundException", NULL, 554, "5.3.5", "identity or configuration set not found" },
	{ "AccountSuspendedException", NULL, 554, "5.7.1", "SES account suspended" },
	{ "InvalidParameterValue", "length", 552, "5.3.4", "message too big for SES" },
	{ "InvalidParameterValue", NULL, 554, "5.6.0", "SES refused a parameter" },
	{ "BadRequestException", NULL, 554, "5.6.0", "SES refused the request" },
	{ "MessageTooLong", NULL, 552, "5.3.4", "message too big for SES" },

	/* Local outcomes. */
	{ SES_ERR_NETWORK, NULL, 451, "4.4.1", "SES unreachable" },
	{ SES_ERR_TIMEOUT, NULL, 451, "4.4.2", "SES timed out" },
	{ SES_ERR_HTTP_5XX, NULL, 451, "4.3.0", "SES server error" },
	/* The send-rate governor refused before anything went to SES. */
	{ SES_ERR_RATE, NULL, 451, "4.7.0", "sending rate limit reached" },
	{ SES_ERR_PAUSED, NULL, 451, "4.7.0", "daily sending quota exceeded" },
};

static const struct ses_error_rule unknown_rule = {
	SES_ERR_UNKNOWN, NULL, 451, "4.3.0", "unexpected SES answer"
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

enum ses_retry ses_error_rule_retry(const struct ses_error_rule *rule)
{
	switch (aws_error_retry(rule->code, rule->contains, 0)) {
	case AWS_RETRY_BACKOFF:
		return SES_RETRY_BACKOFF;
	case AWS_RETRY_REFRESH:
	case AWS_RETRY_RECHECK:
		return SES_RETRY_NEW_CREDS;
	case AWS_RETRY_NO:
		break;
	}
	return SES_NO_RETRY;
}

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

/* Append "(code: message)" to out (which holds len octets of size n),
 * the message cut at a blank with "..." when it does not fit. */
static size_t quote(char *out, size_t len, size_t n, const char *code, const char *message)
{
	size_t room, mlen, cut;
	int w;

	w = snprintf(out + len, n - len, " (%s", code);
	if (w < 0 || (size_t)w >= n - len)
		return len;	/* not even the code fits: the reason alone */
	len += (size_t)w;
	if (message && *message) {
		/* ": " + message + ")" must fit with the NUL. */
		room = n - len > 4 ? n - len - 4 : 0;
		mlen = strlen(message);
		if (mlen <= room) {
			len += (size_t)snprintf(out + len, n - len, ": %s", message);
		} else if (room > 4) {
			/* Leave room for " ..." and back up to a blank. */
			cut = room - 4;
			while (cut > 0 && message[cut] != ' ')
				cut--;
			while (cut > 0 && message[cut - 1] == ' ')
				cut--;
			if (cut > 0)
				len += (size_t)snprintf(out + len, n - len, ": %.*s ...", (int)cut, message);
			else
				len += (size_t)snprintf(out + len, n - len, ": ...");
		}
	}
	len += (size_t)snprintf(out + len, n - len, ")");
	return len;
}

void ses_error_reply(const struct ses_error_rule *rule, const char *code, const char *message,
	bool soft_bounce, struct delivery_result *res)
{
	char text[sizeof(res->text)];
	char enhanced[sizeof(res->enhanced)];
	int smtp = rule->smtp_code;
	size_t len;

	snprintf(enhanced, sizeof(enhanced), "%s", rule->enhanced);
	if (soft_bounce && smtp >= 500 && smtp < 600) {
		smtp -= 100;
		enhanced[0] = '4';
	}
	len = (size_t)snprintf(text, sizeof(text), "%s", rule->reason);
	if (code && *code && len < sizeof(text))
		quote(text, len, sizeof(text), code, message);
	for (char *p = text; *p; p++)	/* an SMTP reply is one line of printable text */
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = ' ';
	delivery_result_set(res, smtp, enhanced, text);
	snprintf(res->error_code, sizeof(res->error_code), "%s", code ? code : "");
}
