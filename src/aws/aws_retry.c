#include "aws_retry.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

struct row {
	const char *code;
	const char *contains;	/* substring of the message (any case), or NULL */
	enum aws_retry retry;
};

/* First matching row wins. Codes not listed are NO (unless 5xx). */
static const struct row rows[] = {
	/* SES's daily quota resets within 24 h: nothing a retry can reach. */
	{ "Throttling", "Daily message quota", AWS_RETRY_NO },
	{ "Throttling", NULL, AWS_RETRY_BACKOFF },
	{ "ThrottlingException", NULL, AWS_RETRY_BACKOFF },
	{ "ThrottledException", NULL, AWS_RETRY_BACKOFF },
	{ "RequestThrottled", NULL, AWS_RETRY_BACKOFF },
	{ "RequestThrottledException", NULL, AWS_RETRY_BACKOFF },
	{ "TooManyRequestsException", NULL, AWS_RETRY_BACKOFF },
	{ "SlowDown", NULL, AWS_RETRY_BACKOFF },
	{ "RequestLimitExceeded", NULL, AWS_RETRY_BACKOFF },
	{ "BandwidthLimitExceeded", NULL, AWS_RETRY_BACKOFF },
	{ "EC2ThrottledException", NULL, AWS_RETRY_BACKOFF },
	{ "ServiceUnavailable", NULL, AWS_RETRY_BACKOFF },
	{ "ServiceUnavailableException", NULL, AWS_RETRY_BACKOFF },
	{ "InternalFailure", NULL, AWS_RETRY_BACKOFF },
	{ "InternalError", NULL, AWS_RETRY_BACKOFF },
	{ "InternalServerError", NULL, AWS_RETRY_BACKOFF },
	{ "InternalServiceError", NULL, AWS_RETRY_BACKOFF },
	{ "RequestTimeout", NULL, AWS_RETRY_BACKOFF },
	{ "RequestTimeoutException", NULL, AWS_RETRY_BACKOFF },
	{ "PriorRequestNotComplete", NULL, AWS_RETRY_BACKOFF },
	{ "IDPCommunicationError", NULL, AWS_RETRY_BACKOFF },
	{ "RequestTimeTooSkewed", NULL, AWS_RETRY_BACKOFF },
	{ "TransactionInProgressException", NULL, AWS_RETRY_BACKOFF },
	{ AWS_ERR_NETWORK, NULL, AWS_RETRY_BACKOFF },
	{ AWS_ERR_TIMEOUT, NULL, AWS_RETRY_BACKOFF },
	{ AWS_ERR_HTTP_5XX, NULL, AWS_RETRY_BACKOFF },

	{ "ExpiredToken", NULL, AWS_RETRY_REFRESH },
	{ "ExpiredTokenException", NULL, AWS_RETRY_REFRESH },
	{ "RequestExpired", NULL, AWS_RETRY_REFRESH },
	{ "InvalidClientTokenId", NULL, AWS_RETRY_RECHECK },
	{ "UnrecognizedClientException", NULL, AWS_RETRY_RECHECK },

	/* Limits and pauses an operator sets or lifts: retrying cannot help
	 * (the SMTP reply stays temporary, so the client's queue keeps the
	 * mail until then). */
	{ "LimitExceededException", NULL, AWS_RETRY_NO },
	{ "AccountSendingPausedException", NULL, AWS_RETRY_NO },
	{ "ConfigurationSetSendingPausedException", NULL, AWS_RETRY_NO },
	{ "SendingPausedException", NULL, AWS_RETRY_NO },
};

enum aws_retry aws_error_retry(const char *code, const char *message, int http_status)
{
	if (code && *code) {
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			if (strcmp(rows[i].code, code) != 0)
				continue;
			if (rows[i].contains && !(message && strcasestr(message, rows[i].contains)))
				continue;
			return rows[i].retry;
		}
	}
	return http_status >= 500 ? AWS_RETRY_BACKOFF : AWS_RETRY_NO;
}

bool aws_error_code_retryable(const char *code, const char *message)
{
	enum aws_retry r = aws_error_retry(code, message, 0);

	return r == AWS_RETRY_BACKOFF || r == AWS_RETRY_REFRESH;
}
