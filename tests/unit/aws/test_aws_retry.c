/* The one retry classification (aws_retry) that STS's aws_error.retryable
 * and SES's retry decisions both read. */
#include <string.h>

#include "aws_retry.h"
#include "aws_xml.h"
#include "check.h"

int main(void)
{
	struct aws_error e;
	static const char paused[] =
		"<ErrorResponse><Error><Type>Sender</Type><Code>AccountSendingPausedException</Code>"
		"<Message>Email sending is disabled for this account.</Message></Error></ErrorResponse>";

	/* Where aws_xml and the SES table used to disagree: an account whose
	 * sending an operator paused is not worth retrying (the SMTP reply is
	 * still temporary), and the parsed AWS error now says so too. */
	CHECK_INT(aws_error_retry("AccountSendingPausedException", NULL, 400), AWS_RETRY_NO);
	CHECK_INT(aws_error_code_retryable("AccountSendingPausedException", NULL), 0);
	CHECK_INT(aws_error_parse(400, paused, strlen(paused), NULL, &e), 0);
	CHECK_STR(e.code, "AccountSendingPausedException");
	CHECK_INT(e.retryable, 0);
	CHECK_INT(aws_error_retry("SendingPausedException", NULL, 400), AWS_RETRY_NO);
	CHECK_INT(aws_error_retry("LimitExceededException", NULL, 400), AWS_RETRY_NO);
	/* SES's daily quota: Throttling by code, not retried by message. */
	CHECK_INT(aws_error_retry("Throttling", "Daily message quota exceeded.", 400), AWS_RETRY_NO);
	CHECK_INT(aws_error_retry("Throttling", "Maximum sending rate exceeded.", 400),
		AWS_RETRY_BACKOFF);
	CHECK_INT(aws_error_retry("Throttling", NULL, 400), AWS_RETRY_BACKOFF);

	CHECK_INT(aws_error_retry("ExpiredToken", NULL, 403), AWS_RETRY_REFRESH);
	CHECK_INT(aws_error_code_retryable("ExpiredToken", NULL), 1);
	/* Not recognised: one try with fresh credentials, not "temporary". */
	CHECK_INT(aws_error_retry("InvalidClientTokenId", NULL, 403), AWS_RETRY_RECHECK);
	CHECK_INT(aws_error_code_retryable("InvalidClientTokenId", NULL), 0);
	CHECK_INT(aws_error_retry("RequestTimeTooSkewed", NULL, 403), AWS_RETRY_BACKOFF);
	CHECK_INT(aws_error_retry(AWS_ERR_NETWORK, NULL, 0), AWS_RETRY_BACKOFF);
	CHECK_INT(aws_error_retry(AWS_ERR_TIMEOUT, NULL, 0), AWS_RETRY_BACKOFF);
	CHECK_INT(aws_error_retry(AWS_ERR_NO_CREDS, NULL, 0), AWS_RETRY_NO);
	CHECK_INT(aws_error_retry("AccessDenied", NULL, 403), AWS_RETRY_NO);
	/* Unknown: by status class. */
	CHECK_INT(aws_error_retry("SomethingNew", NULL, 400), AWS_RETRY_NO);
	CHECK_INT(aws_error_retry("SomethingNew", NULL, 503), AWS_RETRY_BACKOFF);
	CHECK_INT(aws_error_retry(NULL, NULL, 500), AWS_RETRY_BACKOFF);
	CHECK_INT(aws_error_retry("", NULL, 0), AWS_RETRY_NO);
	return check_report();
}
