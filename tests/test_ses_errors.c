#include <string.h>

#include "ses_errors.h"
#include "check.h"

int main(void)
{
	const struct ses_error_rule *r;

	r = ses_error_classify("Throttling", "Maximum sending rate exceeded.", 400);
	CHECK_INT(r->smtp_code / 100, 4);
	CHECK_INT(r->retry, SES_RETRY_BACKOFF);
	r = ses_error_classify("Throttling", "Daily message quota exceeded.", 400);
	CHECK_INT(r->smtp_code / 100, 4);
	CHECK_INT(r->retry, SES_NO_RETRY);
	r = ses_error_classify("MessageRejected", "Email address is not verified. The following identities failed the check in region US-EAST-1: x@y", 400);
	CHECK_INT(r->smtp_code, 550);
	CHECK_STR(r->enhanced, "5.7.1");
	r = ses_error_classify("MessageRejected", "Did not have authority to send from email x@unverified.test", 400);
	CHECK_INT(r->smtp_code, 550);
	r = ses_error_classify("MessageRejected", "Message contains a virus", 400);
	CHECK_INT(r->smtp_code, 554);
	r = ses_error_classify("ExpiredToken", "The security token included in the request is expired", 403);
	CHECK_INT(r->retry, SES_RETRY_NEW_CREDS);
	CHECK_INT(r->smtp_code / 100, 4);
	r = ses_error_classify("ConfigurationSetDoesNotExist", "x", 400);
	CHECK_INT(r->smtp_code / 100, 5);
	r = ses_error_classify("MailFromDomainNotVerifiedException", "x", 400);
	CHECK_INT(r->smtp_code / 100, 5);
	r = ses_error_classify("AccessDenied", "User is not authorized", 403);
	CHECK_INT(r->smtp_code / 100, 4);
	/* Unknown codes never bounce mail; unknown 5xx is retried. */
	r = ses_error_classify("SomethingNew", "?", 400);
	CHECK_INT(r->smtp_code / 100, 4);
	CHECK_INT(r->retry, SES_NO_RETRY);
	r = ses_error_classify(NULL, NULL, 503);
	CHECK_INT(r->smtp_code / 100, 4);
	CHECK_INT(r->retry, SES_RETRY_BACKOFF);
	r = ses_error_classify(SES_ERR_NETWORK, NULL, 0);
	CHECK_INT(r->retry, SES_RETRY_BACKOFF);
	/* Every row is self-consistent: the enhanced class matches the code. */
	for (size_t i = 0; i < ses_error_rule_count(); i++) {
		r = ses_error_rule_at(i);
		CHECK_INT(r->enhanced[0] - '0', r->smtp_code / 100);
		CHECK(r->smtp_code / 100 == 4 || r->retry == SES_NO_RETRY);
	}
	return check_report();
}
