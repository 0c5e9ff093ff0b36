/* DSNs: RFC 3464 structure, only failed batches' recipients, the
 * original header without its body, nothing from the network able to
 * break a line. */
#include <string.h>

#include "check.h"
#include "queue_dsn.h"
#include "queue_file.h"

static void test_status(void)
{
	char s[12];

	queue_dsn_status("550 5.7.1 not authorized", s);
	CHECK_STR(s, "5.7.1");
	queue_dsn_status("451 4.4.5 sending rate exceeded", s);
	CHECK_STR(s, "5.4.5");
	queue_dsn_status("garbage", s);
	CHECK_STR(s, "5.0.0");
	queue_dsn_status(NULL, s);
	CHECK_STR(s, "5.0.0");
	queue_dsn_status("550 5.7.", s);
	CHECK_STR(s, "5.0.0");
}

static void test_build(void)
{
	const char *rcpts[] = { "a@example.org", "b@example.org", "c@example.org" };
	const char body[] = "Received: x\r\nSubject: secret plans\r\nMessage-ID: <m1@x>\r\n\r\nTHE BODY\r\n";
	struct queue_meta m = {
		.id = "0123456789abcdef0123", .created = 1764979200, .mail_from = "app@example.com",
		.rcpts = rcpts, .nrcpt = 3, .batch_size = 1,
	};
	const char *errs[] = { NULL, "550 5.7.1 rejected\r\nInjected: header", NULL };
	struct buf f = BUF_INIT, out = BUF_INIT;
	struct queue_file qf;
	struct queue_dsn d = { 0 };

	CHECK_INT(queue_file_build(&f, &m, body, sizeof(body) - 1), 0);
	CHECK_INT(buf_append(&f, body, sizeof(body) - 1), 0);
	CHECK_INT(queue_file_parse(f.data, f.len, &qf), 0);
	qf.state[0] = QB_DONE;
	qf.state[1] = QB_FAILED;
	qf.state[2] = QB_FAILED;
	queue_file_set_error(&qf, "451 4.4.2 SES timed out");
	d.qf = &qf;
	d.body = body;
	d.body_len = sizeof(body) - 1;
	d.batch_error = errs;
	d.bounce_from = "bounces@example.com";
	d.reporting_mta = "relay.example";
	d.now = 1765065600;
	d.dsn_id = "fedcba9876543210fedc";
	CHECK_INT(queue_dsn_build(&out, &d), 0);
	CHECK(strstr(out.data, "From: Mail Delivery System <bounces@example.com>\r\n") != NULL);
	CHECK(strstr(out.data, "To: <app@example.com>\r\n") != NULL);
	CHECK(strstr(out.data, "Content-Type: multipart/report; report-type=delivery-status;") != NULL);
	CHECK(strstr(out.data, "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n") != NULL);
	CHECK(strstr(out.data, "Final-Recipient: rfc822; a@example.org") == NULL);
	CHECK(strstr(out.data, "Final-Recipient: rfc822; b@example.org\r\nAction: failed\r\nStatus: 5.7.1\r\n") != NULL);
	CHECK(strstr(out.data, "Final-Recipient: rfc822; c@example.org\r\nAction: failed\r\nStatus: 5.4.2\r\n") != NULL);
	CHECK(strstr(out.data, "Diagnostic-Code: smtp; 550 5.7.1 rejected??Injected: header\r\n") != NULL);
	CHECK(strstr(out.data, "\r\nInjected:") == NULL);
	CHECK(strstr(out.data, "Content-Type: text/rfc822-headers\r\n\r\nReceived: x\r\nSubject: secret plans\r\n") != NULL);
	CHECK(strstr(out.data, "THE BODY") == NULL);
	CHECK(strstr(out.data, "--fedcba9876543210fedc/dsn--\r\n") != NULL);
	/* Every line ends in CRLF. */
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] == '\n')
			CHECK(i > 0 && out.data[i - 1] == '\r');
	queue_file_free(&qf);
	buf_free(&f);
	buf_free(&out);
}

int main(void)
{
	test_status();
	test_build();
	return check_report();
}
