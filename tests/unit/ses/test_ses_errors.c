#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdbool.h>

#include "ses_errors.h"
#include "check.h"

/* Every row of the table is documented in README.md's SES outcomes table:
 * a line naming the code and the exact reply. */
static void check_readme(void)
{
	FILE *f = fopen(PROJECT_ROOT "/README.md", "r");
	static char text[1 << 20];
	size_t n;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	for (size_t i = 0; i < ses_error_rule_count(); i++) {
		const struct ses_error_rule *r = ses_error_rule_at(i);
		char code[80], reply[32];
		bool found = false;

		snprintf(code, sizeof(code), "`%s`", r->code);
		snprintf(reply, sizeof(reply), "`%d %s`", r->smtp_code, r->enhanced);
		for (char *line = text; line && *line && !found; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
			char *end = strchr(line, '\n');
			size_t len = end ? (size_t)(end - line) : strlen(line);
			char save = line[len];

			line[len] = '\0';
			found = strstr(line, code) && strstr(line, reply) &&
				(!r->contains || strstr(line, r->contains));
			line[len] = save;
		}
		if (!found)
			fprintf(stderr, "README.md lacks the row for %s %s\n", code, reply);
		CHECK(found || strcmp(r->code, SES_ERR_UNKNOWN) == 0);
	}
}

/* ses_error_reply: soft_bounce, and AWS's message cut only between words. */
static void check_reply(void)
{
	const struct ses_error_rule *r;
	struct delivery_result res;
	char msg[600];
	const char *arn = "arn:aws:ses:us-east-1:111111111111:identity/example.com";
	size_t len;

	r = ses_error_classify("MessageRejected", "Email address is not verified.", 400);
	ses_error_reply(r, "MessageRejected", "Email address is not verified.", false, &res);
	CHECK_INT(res.code, 550);
	CHECK_STR(res.enhanced, "5.7.1");
	CHECK_STR(res.text, "sender or recipient identity not verified "
		"(MessageRejected: Email address is not verified.)");
	CHECK_STR(res.error_code, "MessageRejected");
	ses_error_reply(r, "MessageRejected", "Email address is not verified.", true, &res);
	CHECK_INT(res.code, 450);
	CHECK_STR(res.enhanced, "4.7.1");
	CHECK_STR(res.text, "sender or recipient identity not verified "
		"(MessageRejected: Email address is not verified.)");
	/* A temporary answer stays as it is with soft_bounce. */
	r = ses_error_classify("Throttling", "x", 400);
	ses_error_reply(r, "Throttling", "x", true, &res);
	CHECK_INT(res.code, 451);
	CHECK_STR(res.enhanced, "4.4.5");
	/* Every 5xx row has its 4xx twin. */
	for (size_t i = 0; i < ses_error_rule_count(); i++) {
		r = ses_error_rule_at(i);
		ses_error_reply(r, r->code, NULL, true, &res);
		CHECK_INT(res.code / 100, 4);
		CHECK_INT(res.enhanced[0], '4');
		CHECK_STR(res.enhanced + 1, r->enhanced + 1);
	}
	/* An ARN where the text must be cut: it goes whole, with " ...". */
	len = (size_t)snprintf(msg, sizeof(msg), "%s", "Not authorized to send as");
	while (len < 180)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, " word");
	snprintf(msg + len, sizeof(msg) - len, " %s and %s trailing words", arn, arn);
	r = ses_error_classify("MessageRejected", msg, 400);
	ses_error_reply(r, "MessageRejected", msg, false, &res);
	len = strlen(res.text);
	CHECK(len < sizeof(res.text));
	CHECK(len > 8 && strcmp(res.text + len - 5, " ...)") == 0);
	CHECK(strstr(res.text, "arn:aws") == NULL || strstr(res.text, arn) != NULL);
	{
		const char *q = strstr(res.text, "(MessageRejected: ");
		size_t qlen;

		CHECK(q != NULL);
		if (q) {
			q += strlen("(MessageRejected: ");
			qlen = (size_t)(res.text + len - 5 - q);
			CHECK(strncmp(msg, q, qlen) == 0);
			CHECK(msg[qlen] == ' ');
		}
	}
	/* One word longer than the room: left out, never cut. */
	memset(msg, 'x', 400);
	msg[400] = '\0';
	ses_error_reply(r, "MessageRejected", msg, false, &res);
	CHECK_STR(res.text, "message rejected (MessageRejected: ...)");
	/* Control characters never reach the reply line. */
	ses_error_reply(r, "MessageRejected", "bad\r\nline", false, &res);
	CHECK_STR(res.text, "message rejected (MessageRejected: bad  line)");
}

int main(void)
{
	check_readme();
	check_reply();
	const struct ses_error_rule *r;

	r = ses_error_classify("Throttling", "Maximum sending rate exceeded.", 400);
	CHECK_INT(r->smtp_code / 100, 4);
	CHECK_INT(ses_error_rule_retry(r), SES_RETRY_BACKOFF);
	r = ses_error_classify("Throttling", "Daily message quota exceeded.", 400);
	CHECK_INT(r->smtp_code / 100, 4);
	CHECK_INT(ses_error_rule_retry(r), SES_NO_RETRY);
	/* The SES reply for a paused account is temporary, and (one
	 * classification with STS's, aws_retry) not retried inside sesrelay. */
	r = ses_error_classify("AccountSendingPausedException", "Email sending is disabled", 400);
	CHECK_INT(r->smtp_code, 451);
	CHECK_INT(ses_error_rule_retry(r), SES_NO_RETRY);
	CHECK_INT(ses_error_rule_retry(r) == SES_NO_RETRY,
		aws_error_retry("AccountSendingPausedException", NULL, 400) == AWS_RETRY_NO);
	r = ses_error_classify("MessageRejected", "Email address is not verified. The following identities failed the check in region US-EAST-1: x@y", 400);
	CHECK_INT(r->smtp_code, 550);
	CHECK_STR(r->enhanced, "5.7.1");
	r = ses_error_classify("MessageRejected", "Did not have authority to send from email x@unverified.test", 400);
	CHECK_INT(r->smtp_code, 550);
	r = ses_error_classify("MessageRejected", "Message contains a virus", 400);
	CHECK_INT(r->smtp_code, 554);
	r = ses_error_classify("ExpiredToken", "The security token included in the request is expired", 403);
	CHECK_INT(ses_error_rule_retry(r), SES_RETRY_NEW_CREDS);
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
	CHECK_INT(ses_error_rule_retry(r), SES_NO_RETRY);
	r = ses_error_classify(NULL, NULL, 503);
	CHECK_INT(r->smtp_code / 100, 4);
	CHECK_INT(ses_error_rule_retry(r), SES_RETRY_BACKOFF);
	r = ses_error_classify(SES_ERR_NETWORK, NULL, 0);
	CHECK_INT(ses_error_rule_retry(r), SES_RETRY_BACKOFF);
	/* Every row is self-consistent: the enhanced class matches the code. */
	for (size_t i = 0; i < ses_error_rule_count(); i++) {
		r = ses_error_rule_at(i);
		CHECK_INT(r->enhanced[0] - '0', r->smtp_code / 100);
		CHECK(r->smtp_code / 100 == 4 || ses_error_rule_retry(r) == SES_NO_RETRY);
	}
	return check_report();
}
