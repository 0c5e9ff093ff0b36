/* URLs through libcurl's URL API (aws_url) and the target of an AWS call
 * (aws_target_init): what is requested, and the Host and path signed. */
#include <errno.h>
#include <string.h>

#include "aws_call.h"
#include "aws_url.h"
#include "check.h"

static void test_parse(void)
{
	struct aws_url u;

	CHECK_INT(aws_url_parse("http://127.0.0.1:4566", &u), 0);
	CHECK_STR(u.authority, "127.0.0.1:4566");
	CHECK_STR(u.host, "127.0.0.1");
	CHECK_STR(u.path, "/");
	CHECK_INT(u.https, 0);
	CHECK_INT(u.userinfo, 0);
	CHECK_INT(aws_url_parse("HTTPS://[fd00:ec2::23]:8080/creds?x=1#f", &u), 0);
	CHECK_STR(u.authority, "[fd00:ec2::23]:8080");
	CHECK_STR(u.host, "fd00:ec2::23");
	CHECK_STR(u.path, "/creds");
	CHECK_INT(u.https, 1);
	CHECK_INT(aws_url_parse("https://user:pw@sts.example.test/p", &u), 0);
	CHECK_STR(u.authority, "sts.example.test");
	CHECK_INT(u.userinfo, 1);
	/* dot segments go as curl sends them: the signature must match */
	CHECK_INT(aws_url_parse("http://h/a/../b/./c", &u), 0);
	CHECK_STR(u.path, "/b/c");

	CHECK_INT(aws_url_parse("ftp://h/", &u), -EINVAL);
	CHECK_INT(aws_url_parse("h/x", &u), -EINVAL);
	CHECK_INT(aws_url_parse("http://", &u), -EINVAL);
	CHECK_INT(aws_url_parse("https:///x", &u), -EINVAL);
	CHECK_INT(aws_url_parse("http://a b/", &u), -EINVAL);
	CHECK_INT(aws_url_parse("http://h\r\nX: y/", &u), -EINVAL);
	CHECK_INT(aws_url_parse(NULL, &u), -EINVAL);
}

static void test_join(void)
{
	char out[AWS_URL_MAX];

	CHECK_INT(aws_url_join("http://127.0.0.1:9", "/latest/api/token", out, sizeof(out)), 0);
	CHECK_STR(out, "http://127.0.0.1:9/latest/api/token");
	CHECK_INT(aws_url_join("http://h:1/base/", "/x", out, sizeof(out)), 0);
	CHECK_STR(out, "http://h:1/base/x");
	CHECK_INT(aws_url_join("https://h/p?q=1#f", "", out, sizeof(out)), 0);
	CHECK_STR(out, "https://h/p");
	CHECK_INT(aws_url_join("https://h", "", out, sizeof(out)), 0);
	CHECK_STR(out, "https://h/");
	CHECK_INT(aws_url_join("https://h", "/x", out, 8), -EINVAL);
	CHECK_INT(aws_url_join("gopher://h", "/x", out, sizeof(out)), -EINVAL);
}

/* The endpoint-path-prefix behaviour: a proxy in front of SES at
 * https://proxy/ses-relay/ gets the API path after its prefix, and the
 * prefix is part of the path signed. */
static void test_target_prefix(void)
{
	struct aws_target t;

	CHECK_INT(aws_target_init(&t, "https://proxy.example.test:8443/ses-relay/",
		"/v2/email/outbound-emails", "eu-west-1", "ses"), 0);
	CHECK_STR(t.url, "https://proxy.example.test:8443/ses-relay/v2/email/outbound-emails");
	CHECK_STR(t.host, "proxy.example.test:8443");
	CHECK_STR(t.path, "/ses-relay/v2/email/outbound-emails");
	CHECK_STR(t.region, "eu-west-1");
	CHECK_STR(t.service, "ses");
	CHECK_INT(aws_target_init(&t, "https://proxy.example.test/ses-relay", "/", "eu-west-1",
		"ses"), 0);
	CHECK_STR(t.path, "/ses-relay/");
	CHECK_INT(aws_target_init(&t, "http://127.0.0.1:4566", "", "us-east-1", "sts"), 0);
	CHECK_STR(t.url, "http://127.0.0.1:4566/");
	CHECK_STR(t.host, "127.0.0.1:4566");
	CHECK_STR(t.path, "/");
	CHECK_INT(aws_target_init(&t, "https://email.eu-west-1.amazonaws.com", "/", "eu-west-1",
		"ses"), 0);
	CHECK_STR(t.path, "/");
	CHECK_INT(aws_target_init(&t, "email.eu-west-1.amazonaws.com", "/", "eu-west-1", "ses"),
		-EINVAL);
}

static void test_clock(void)
{
	struct aws_clock c = { 0 };

	CHECK_INT(aws_clock_skew(&c), 0);
	CHECK_INT(aws_clock_skew(NULL), 0);
	/* 0 is "no Date header": ignored */
	CHECK_INT(aws_clock_observe(&c, 0), 0);
	CHECK_INT(aws_clock_skew(&c), 0);
	aws_clock_observe(&c, time(NULL) + 3600);
	CHECK(aws_clock_skew(&c) >= 3599 && aws_clock_skew(&c) <= 3600);
	CHECK(aws_clock_now(&c) - time(NULL) >= 3599);
	aws_clock_observe(&c, time(NULL) - 600);
	CHECK(aws_clock_skew(&c) <= -599 && aws_clock_skew(&c) >= -600);
	/* the Date header's one-second resolution is not skew */
	aws_clock_observe(&c, time(NULL) + 1);
	CHECK_INT(aws_clock_skew(&c), 0);
}

int main(void)
{
	test_parse();
	test_join();
	test_target_prefix();
	test_clock();
	return check_report();
}
