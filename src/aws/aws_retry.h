/* The one classification of AWS errors by what trying again can do,
 * shared by STS (aws_error.retryable, logs, `whoami`) and SES (whether
 * ses_client retries; the SMTP reply itself is ses/ses_errors.c's, which
 * reads this table for its retry column).
 */
#ifndef SESRELAY_AWS_RETRY_H
#define SESRELAY_AWS_RETRY_H

#include <stdbool.h>

enum aws_retry {
	AWS_RETRY_NO,		/* only someone acting (operator, sender) helps */
	AWS_RETRY_BACKOFF,	/* transient: the same request again, after a delay */
	AWS_RETRY_REFRESH,	/* credentials expired: fresh ones fix it */
	AWS_RETRY_RECHECK,	/* credentials not recognised: worth one try with fresh
				 * ones (revoked session), otherwise permanent */
};

/* Local outcomes that have no AWS code. */
#define AWS_ERR_NETWORK "NetworkError"
#define AWS_ERR_TIMEOUT "Timeout"
#define AWS_ERR_NO_CREDS "NoCredentials"
#define AWS_ERR_HTTP_5XX "ServerError"
#define AWS_ERR_UNKNOWN "UnknownError"

/* By code (and message, for the rows that need it: SES reports both its
 * rate and its daily quota as "Throttling"), else by HTTP status: a 5xx
 * is BACKOFF, anything else NO. code and message may be NULL. */
enum aws_retry aws_error_retry(const char *code, const char *message, int http_status);

/* "Try again later" (BACKOFF or REFRESH): aws_error.retryable. */
bool aws_error_code_retryable(const char *code, const char *message);

#endif
