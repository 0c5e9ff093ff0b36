/* STS response parsing (proto/sts fixtures), ARN account extraction,
 * session names, and SDK-style endpoint/region resolution. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_endpoint.h"
#include "aws_url.h"
#include "buf.h"
#include "check.h"
#include "creds_assume_role.h"
#include "sts_client.h"

static int load(const char *name, struct buf *out)
{
	char path[512];
	FILE *f;
	char chunk[4096];
	size_t n;

	snprintf(path, sizeof(path), "%s/proto/sts/%s", PROJECT_ROOT, name);
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return -1;
	}
	buf_reset(out);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	return 0;
}

static void test_credentials(void)
{
	struct buf b = BUF_INIT;
	struct aws_creds *c = NULL;
	struct aws_error why;

	CHECK_INT(load("assume_role_moto.xml", &b), 0);
	CHECK_INT(sts_parse_credentials(b.data, b.len, "assume_role", &c, &why), 0);
	if (c) {
		CHECK_STR(c->access_key_id, "ASIAIOSFODNN7EXAMPLE");
		CHECK_STR(c->secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
		CHECK_STR(c->session_token, "FQoGZXIvYXdzEBYaDHsessiontokenexample+/=");
		CHECK_INT(c->expiration, 1795662990);
		CHECK_STR(c->arn, "arn:aws:sts::111111111111:assumed-role/ses-relay-sender/sesrelay-host");
		CHECK_STR(c->account_id, "111111111111");
		CHECK_STR(c->source, "assume_role");
		CHECK(!c->verified);	/* reported, not yet proven */
		aws_creds_unref(c);
		c = NULL;
	}

	CHECK_INT(load("assume_role_aws.xml", &b), 0);
	CHECK_INT(sts_parse_credentials(b.data, b.len, "assume_role", &c, &why), 0);
	if (c) {
		CHECK_INT(c->expiration, 1573306481);
		CHECK_STR(c->session_token, "AQoDYXdzEPT//////////wEXAMPLEtc764&token");
		CHECK_STR(c->account_id, "123456789012");
		aws_creds_unref(c);
		c = NULL;
	}

	CHECK_INT(load("assume_role_web_identity.xml", &b), 0);
	CHECK_INT(sts_parse_credentials(b.data, b.len, "web_identity", &c, &why), 0);
	if (c) {
		CHECK_INT(c->expiration, 1795659390);
		CHECK_STR(c->source, "web_identity");
		CHECK_STR(c->account_id, "222222222222");
		aws_creds_unref(c);
		c = NULL;
	}

	CHECK_INT(load("assume_role_no_token.xml", &b), 0);
	CHECK_INT(sts_parse_credentials(b.data, b.len, "assume_role", &c, &why), -EINVAL);
	CHECK(c == NULL);
	CHECK_STR(why.code, "InvalidResponse");
	CHECK(strstr(why.message, "SessionToken") != NULL);
	CHECK(why.retryable);

	CHECK_INT(sts_parse_credentials("<html>oops</html>", 17, "assume_role", &c, &why), -EINVAL);
	CHECK_STR(why.code, "InvalidResponse");
	CHECK_INT(sts_parse_credentials("", 0, "assume_role", &c, &why), -EINVAL);
	buf_free(&b);
}

static void test_identity(void)
{
	struct buf b = BUF_INIT;
	struct sts_identity id;
	struct aws_error why;

	CHECK_INT(load("get_caller_identity.xml", &b), 0);
	CHECK_INT(sts_parse_identity(b.data, b.len, &id, &why), 0);
	CHECK_STR(id.account, "111111111111");
	CHECK_STR(id.arn, "arn:aws:sts::111111111111:assumed-role/ses-relay-sender/sesrelay-host");
	CHECK_STR(id.user_id, "AROA3XFRBF535PLBIFPI4:sesrelay-host");
	CHECK_INT(sts_parse_identity("<GetCallerIdentityResult><Arn>x</Arn></GetCallerIdentityResult>",
		63, &id, &why), -EINVAL);
	CHECK_STR(why.code, "InvalidResponse");
	/* The account is compared with role_arn's: only 12 digits will do. */
	{
		static const char short_acct[] = "<Arn>a</Arn><Account>1111</Account>";
		static const char nul_acct[] = "<Arn>a</Arn><Account>111111111111&#0;99</Account>";

		CHECK_INT(sts_parse_identity(short_acct, sizeof(short_acct) - 1, &id, &why), -EINVAL);
		CHECK_INT(sts_parse_identity(nul_acct, sizeof(nul_acct) - 1, &id, &why), -EINVAL);
	}
	buf_free(&b);
}

static void test_arn_account(void)
{
	char a[16];

	CHECK_INT(sts_arn_account("arn:aws:iam::111111111111:role/ses-relay-sender", a, sizeof(a)), 0);
	CHECK_STR(a, "111111111111");
	CHECK_INT(sts_arn_account("arn:aws-us-gov:iam::123456789012:role/x", a, sizeof(a)), 0);
	CHECK_STR(a, "123456789012");
	CHECK_INT(sts_arn_account("arn:aws:iam::role/x", a, sizeof(a)), -EINVAL);
	CHECK_INT(sts_arn_account("arn:aws:iam::11111111111:role/x", a, sizeof(a)), -EINVAL);
	CHECK_INT(sts_arn_account("arn:aws:iam::1111111111111:role/x", a, sizeof(a)), -EINVAL);
	CHECK_INT(sts_arn_account("arn:aws:iam::11111111111a:role/x", a, sizeof(a)), -EINVAL);
	CHECK_INT(sts_arn_account("xrn:aws:iam::111111111111:role/x", a, sizeof(a)), -EINVAL);
	CHECK_INT(sts_arn_account("arn:aws:iam::111111111111", a, sizeof(a)), -EINVAL);
}

static void test_session_name(void)
{
	char n[65];

	creds_default_session_name(n, sizeof(n));
	CHECK(strncmp(n, "sesrelay-", 9) == 0);
	CHECK(creds_session_name_valid(n));
	CHECK(creds_session_name_valid("ab"));
	CHECK(creds_session_name_valid("relay_1+=,.@-x"));
	CHECK(!creds_session_name_valid("a"));
	CHECK(!creds_session_name_valid("has space"));
	CHECK(!creds_session_name_valid("slash/no"));
	CHECK(!creds_session_name_valid(
		"x234567890123456789012345678901234567890123456789012345678901234x"));
	CHECK(creds_session_name_valid(
		"x23456789012345678901234567890123456789012345678901234567890123"));
}

static void clear_env(void)
{
	static const char *const vars[] = {
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SES",
		"AWS_ENDPOINT_URL_SESV2", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE", NULL };

	for (size_t i = 0; vars[i]; i++)
		unsetenv(vars[i]);
}

static void test_endpoints(void)
{
	char u[AWS_URL_MAX], r[AWS_REGION_MAX], host[256], path[256];

	clear_env();
	CHECK_INT(aws_region_resolve(NULL, r, sizeof(r)), -ENOENT);
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	CHECK_INT(aws_region_resolve(NULL, r, sizeof(r)), 0);
	CHECK_STR(r, "eu-west-1");
	setenv("AWS_REGION", "eu-central-1", 1);
	CHECK_INT(aws_region_resolve(NULL, r, sizeof(r)), 0);
	CHECK_STR(r, "eu-central-1");
	CHECK_INT(aws_region_resolve("us-west-2", r, sizeof(r)), 0);
	CHECK_STR(r, "us-west-2");
	CHECK_INT(aws_region_resolve("US WEST", r, sizeof(r)), -EINVAL);
	CHECK_INT(aws_region_resolve("us-west-2/../x", r, sizeof(r)), -EINVAL);

	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_STS, "eu-west-1", u, sizeof(u)), 0);
	CHECK_STR(u, "https://sts.eu-west-1.amazonaws.com");
	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_SES, "eu-west-1", u, sizeof(u)), 0);
	CHECK_STR(u, "https://email.eu-west-1.amazonaws.com");
	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_SESV2, "eu-west-1", u, sizeof(u)), 0);
	CHECK_STR(u, "https://email.eu-west-1.amazonaws.com");

	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/", 1);
	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_STS, "eu-west-1", u, sizeof(u)), 0);
	CHECK_STR(u, "http://127.0.0.1:4566");
	setenv("AWS_ENDPOINT_URL_STS", "https://sts.example.test", 1);
	setenv("AWS_ENDPOINT_URL_SES", "https://ses.example.test", 1);
	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_STS, "eu-west-1", u, sizeof(u)), 0);
	CHECK_STR(u, "https://sts.example.test");
	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_SESV2, "eu-west-1", u, sizeof(u)), 0);
	CHECK_STR(u, "https://ses.example.test");	/* SESV2 falls back to SES */
	setenv("AWS_ENDPOINT_URL_SESV2", "https://sesv2.example.test", 1);
	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_SESV2, "eu-west-1", u, sizeof(u)), 0);
	CHECK_STR(u, "https://sesv2.example.test");
	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_SES, "eu-west-1", u, sizeof(u)), 0);
	CHECK_STR(u, "https://ses.example.test");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_STS, "eu-west-1", u, sizeof(u)), 0);
	CHECK_STR(u, "https://sts.eu-west-1.amazonaws.com");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	setenv("AWS_ENDPOINT_URL_STS", "ftp://x", 1);
	CHECK_INT(aws_endpoint_resolve(AWS_SERVICE_STS, "eu-west-1", u, sizeof(u)), -EINVAL);

	CHECK_INT(aws_url_split("http://127.0.0.1:4566", host, sizeof(host), path, sizeof(path)), 0);
	CHECK_STR(host, "127.0.0.1:4566");
	CHECK_STR(path, "/");
	CHECK_INT(aws_url_split("https://user:pw@sts.example.test/prefix?q#f", host, sizeof(host),
		path, sizeof(path)), 0);
	CHECK_STR(host, "sts.example.test");
	CHECK_STR(path, "/prefix");
	CHECK_INT(aws_url_split("https://[::1]:8443/", host, sizeof(host), path, sizeof(path)), 0);
	CHECK_STR(host, "[::1]:8443");
	CHECK_INT(aws_url_split("https:///x", host, sizeof(host), path, sizeof(path)), -EINVAL);
	CHECK_INT(aws_url_split("sts.example.test", host, sizeof(host), path, sizeof(path)), -EINVAL);
	CHECK_INT(aws_url_split("http://a b/", host, sizeof(host), path, sizeof(path)), -EINVAL);

	CHECK(aws_ca_bundle() == NULL);
	setenv("AWS_CA_BUNDLE", "/etc/ssl/test.pem", 1);
	CHECK_STR(aws_ca_bundle(), "/etc/ssl/test.pem");
	clear_env();
}

/* The account rule, one function for the relay, check, whoami, readiness. */
static void test_account_rule(void)
{
	char msg[256];

	CHECK(creds_account_refusal("111111111111", NULL, false, "222222222222",
		"111111111111", msg, sizeof(msg)) == NULL);
	CHECK_STR(creds_account_refusal("111111111111", NULL, false, "222222222222",
		"333333333333", msg, sizeof(msg)), "AccountMismatch");
	/* role_arn in the base account: refused unless allowed. */
	CHECK_STR(creds_account_refusal("222222222222", NULL, false, "222222222222",
		"222222222222", msg, sizeof(msg)), "SameAccount");
	CHECK(strstr(msg, "set role_arn to the role in the shared account") != NULL);
	CHECK(creds_account_refusal("222222222222", NULL, true, NULL,
		"222222222222", msg, sizeof(msg)) == NULL);
	/* The pin wins over everything else. */
	CHECK_STR(creds_account_refusal("111111111111", "444444444444", false, "222222222222",
		"111111111111", msg, sizeof(msg)), "NotSharedAccount");
	CHECK_STR(creds_account_refusal("222222222222", "111111111111", true, NULL,
		"222222222222", msg, sizeof(msg)), "NotSharedAccount");
	CHECK(creds_account_refusal("111111111111", "111111111111", false, "222222222222",
		"111111111111", msg, sizeof(msg)) == NULL);
}

int main(void)
{
	test_account_rule();
	test_credentials();
	test_identity();
	test_arn_account();
	test_session_name();
	test_endpoints();
	return check_report();
}
