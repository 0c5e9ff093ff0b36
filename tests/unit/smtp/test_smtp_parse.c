#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smtp_parse.h"
#include "check.h"

static int mail(const char *s, struct smtp_mail *m, int *code)
{
	const struct smtp_reply *e = NULL;
	int r = smtp_parse_mail(s, strlen(s), m, &e);
	*code = r ? e->code : 0;
	return r;
}

static int rcpt(const char *s, struct smtp_rcpt *m, int *code)
{
	const struct smtp_reply *e = NULL;
	int r = smtp_parse_rcpt(s, strlen(s), m, &e);
	*code = r ? e->code : 0;
	return r;
}

static void test_split(void)
{
	struct smtp_cmd c;
	const struct smtp_reply *e;

	CHECK_INT(smtp_cmd_split("ehlo x.example", 14, &c, &e), 0);
	CHECK_INT(c.verb, SMTP_EHLO);
	CHECK_MEM(c.args, c.argslen, "x.example", 9);
	CHECK_INT(smtp_cmd_split("DATA", 4, &c, &e), 0);
	CHECK_INT(c.verb, SMTP_DATA);
	CHECK_INT(c.argslen, 0);
	CHECK_INT(smtp_cmd_split("DATA  ", 6, &c, &e), 0);
	CHECK_INT(c.verb, SMTP_DATA);
	CHECK_INT(c.argslen, 0);
	CHECK_INT(smtp_cmd_split("StartTLS", 8, &c, &e), 0);
	CHECK_INT(c.verb, SMTP_STARTTLS);
	CHECK_INT(smtp_cmd_split("DATAX", 5, &c, &e), 0);
	CHECK_INT(c.verb, SMTP_UNKNOWN);
	CHECK_INT(smtp_cmd_split("GET / HTTP/1.1", 14, &c, &e), 0);
	CHECK_INT(c.verb, SMTP_NON_SMTP);
	CHECK_INT(smtp_cmd_split("NOOP\0x", 6, &c, &e), -EINVAL);
	CHECK_INT(e->code, 500);
	CHECK_INT(smtp_cmd_split("", 0, &c, &e), 0);
	CHECK_INT(c.verb, SMTP_UNKNOWN);
	CHECK_STR(smtp_verb_name(SMTP_BDAT), "BDAT");
}

static void test_mail(void)
{
	struct smtp_mail m;
	int code;

	CHECK_INT(mail("FROM:<a@b.example>", &m, &code), 0);
	CHECK_STR(m.addr, "a@b.example");
	CHECK(!m.has_size);
	CHECK_INT(mail("from: <a@b.example>", &m, &code), 0);
	CHECK_STR(m.addr, "a@b.example");
	CHECK_INT(mail("FROM:<>", &m, &code), 0);
	CHECK_STR(m.addr, "");
	CHECK_INT(mail("FROM:<@r1.example,@r2.example:u@d.example>", &m, &code), 0);
	CHECK_STR(m.addr, "u@d.example");
	CHECK_INT(mail("FROM:<\"john doe\"@d.example>", &m, &code), 0);
	CHECK_STR(m.addr, "\"john doe\"@d.example");
	CHECK_INT(mail("FROM:<\"a\\\"b\"@d.example>", &m, &code), 0);
	CHECK_INT(mail("FROM:<u@[192.0.2.1]>", &m, &code), 0);
	CHECK_INT(mail("FROM:<u@[IPv6:2001:db8::1]>", &m, &code), 0);
	CHECK_INT(mail("FROM:<a@b.example> SIZE=1000 BODY=8BITMIME", &m, &code), 0);
	CHECK(m.has_size);
	CHECK_INT(m.size, 1000);
	CHECK_INT(m.body, SMTP_BODY_8BITMIME);
	CHECK_INT(mail("FROM:<a@b.example> body=7bit size=0 AUTH=<>", &m, &code), 0);
	CHECK_INT(m.body, SMTP_BODY_7BIT);
	CHECK_INT(mail("FROM:<a@b.example> BODY=BINARYMIME", &m, &code), -EINVAL);
	CHECK_INT(code, 555);
	CHECK_INT(mail("FROM:<a@b.example> RET=HDRS", &m, &code), -EINVAL);
	CHECK_INT(code, 555);
	CHECK_INT(mail("FROM:", &m, &code), -EINVAL);
	CHECK_INT(code, 501);
	CHECK_INT(mail("", &m, &code), -EINVAL);
	CHECK_INT(code, 501);

	/* syntax */
	CHECK_INT(mail("FROM:a@b.example", &m, &code), -EINVAL);
	CHECK_INT(code, 501);
	CHECK_INT(mail("FROM <a@b.example>", &m, &code), -EINVAL);
	CHECK_INT(code, 501);
	CHECK_INT(mail("TO:<a@b.example>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b.example", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@@b.example>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a b@b.example>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a..b@b.example>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<.a@b.example>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@-b.example>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b-.example>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b..example>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<@b.example>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b.example>x", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<Postmaster>", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b.example>\r", &m, &code), -EINVAL);

	/* parameters */
	CHECK_INT(mail("FROM:<a@b.example> FOO=bar", &m, &code), -EINVAL);
	CHECK_INT(code, 555);
	CHECK_INT(mail("FROM:<a@b.example> SIZE=abc", &m, &code), -EINVAL);
	CHECK_INT(code, 501);
	CHECK_INT(mail("FROM:<a@b.example> SIZE", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b.example> SIZE=99999999999999999999999", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b.example> SIZE=1 SIZE=2", &m, &code), -EINVAL);
	CHECK_INT(code, 501);
	CHECK_INT(mail("FROM:<a@b.example> BODY=9BIT", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b.example> SMTPUTF8=yes", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b.example> =x", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<a@b.example> SIZE=", &m, &code), -EINVAL);

	/* lengths: local 64, domain 255, path 256 */
	{
		char s[600], local[80], dom[300];
		memset(local, 'l', 64);
		local[64] = '\0';
		snprintf(s, sizeof(s), "FROM:<%s@d.example>", local);
		CHECK_INT(mail(s, &m, &code), 0);
		local[64] = 'l';
		local[65] = '\0';
		snprintf(s, sizeof(s), "FROM:<%s@d.example>", local);
		CHECK_INT(mail(s, &m, &code), -EINVAL);
		CHECK_INT(code, 501);
		/* 4 labels of 63 + 3 dots = 255 */
		for (int i = 0; i < 4; i++) {
			memset(dom + i * 64, 'd', 63);
			dom[i * 64 + 63] = '.';
		}
		dom[255] = '\0';
		snprintf(s, sizeof(s), "FROM:<%s>", dom);
		CHECK_INT(mail(s, &m, &code), -EINVAL);	/* no local part */
		snprintf(s, sizeof(s), "FROM:<a@%s>", dom);	/* 257 + <> */
		CHECK_INT(mail(s, &m, &code), -EINVAL);
		dom[253] = '\0';
		snprintf(s, sizeof(s), "FROM:<a@%s>", dom);	/* 255 + <> = 257 > 256 */
		CHECK_INT(mail(s, &m, &code), -EINVAL);
		snprintf(s, sizeof(s), "FROM:<a@%s>", dom + 2);	/* 253 + <> */
		CHECK_INT(mail(s, &m, &code), 0);
		memset(dom, 'x', 64);
		dom[64] = '\0';
		snprintf(s, sizeof(s), "FROM:<a@%s.example>", dom);	/* label 64 */
		CHECK_INT(mail(s, &m, &code), -EINVAL);
	}

	/* No SMTPUTF8 (SES has none): UTF-8 domains become A-labels, a
	 * UTF-8 local part is 553 5.6.7, the parameter is not offered. */
	CHECK_INT(mail("FROM:<j\xc3\xb6rg@b\xc3\xbc.example>", &m, &code), -EINVAL);
	CHECK_INT(code, 553);
	CHECK_INT(mail("FROM:<jorg@b\xc3\xbc" "cher.example>", &m, &code), 0);
	CHECK_STR(m.addr, "jorg@xn--bcher-kva.example");
	/* UTS #46 mapping: upper case and full-width forms fold first. */
	CHECK_INT(mail("FROM:<jorg@B\xc3\x9c" "CHER.example>", &m, &code), 0);
	CHECK_STR(m.addr, "jorg@xn--bcher-kva.example");
	CHECK_INT(mail("FROM:<Jorg@Example.COM>", &m, &code), 0);
	CHECK_STR(m.addr, "Jorg@Example.COM");	/* ASCII is left exactly as sent */
	CHECK_INT(mail("FROM:<a@b.example> SMTPUTF8", &m, &code), -EINVAL);
	CHECK_INT(code, 555);
	CHECK_INT(mail("FROM:<\"x \xc3\xa9\"@b.example>", &m, &code), -EINVAL);
	CHECK_INT(code, 553);	/* quoted local part too */
	CHECK_INT(mail("FROM:<a@b.example> ENVID=\xc3\xa9", &m, &code), -EINVAL);
	CHECK_INT(mail("FROM:<j\xc3rg@b.example>", &m, &code), -EINVAL);	/* bad UTF-8 */
	CHECK_INT(code, 501);
	CHECK_INT(mail("FROM:<j\xc0\xafrg@b.example>", &m, &code), -EINVAL);	/* overlong */
	CHECK_INT(mail("FROM:<j\xed\xa0\x80@b.example>", &m, &code), -EINVAL);	/* surrogate */
	/* Not IDNA2008: a symbol (U+2665) is disallowed. */
	CHECK_INT(mail("FROM:<a@\xe2\x99\xa5.example>", &m, &code), -EINVAL);
	CHECK_INT(code, 553);
}

static void test_rcpt(void)
{
	struct smtp_rcpt r;
	int code;

	CHECK_INT(rcpt("TO:<x@y.example>", &r, &code), 0);
	CHECK_STR(r.addr, "x@y.example");
	CHECK_INT(rcpt("To: <x@y.example>", &r, &code), 0);
	CHECK_INT(rcpt("TO:<postmaster>", &r, &code), 0);
	CHECK_STR(r.addr, "postmaster");
	CHECK_INT(rcpt("TO:<>", &r, &code), -EINVAL);
	CHECK_INT(code, 501);
	CHECK_INT(rcpt("TO:<x@y.example> NOTIFY=SUCCESS,FAILURE", &r, &code), -EINVAL);
	CHECK_INT(code, 555);
	CHECK_INT(rcpt("TO:<x@y.example> SIZE=1", &r, &code), -EINVAL);
	CHECK_INT(code, 555);
	CHECK_INT(rcpt("TO:<x@y.example> =x", &r, &code), -EINVAL);
	CHECK_INT(code, 501);
	CHECK_INT(rcpt("TO:<\xc3\xa9@y.example>", &r, &code), -EINVAL);
	CHECK_INT(code, 553);
	CHECK_INT(rcpt("TO:<x@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84>", &r, &code), 0);
	CHECK_STR(r.addr, "x@xn--e1afmkfd.xn--p1ai");	/* пример.рф */
	CHECK_INT(rcpt("TO:<x@\xe2\x99\xa5.example>", &r, &code), -EINVAL);
	CHECK_INT(code, 553);
	CHECK_INT(rcpt("FROM:<x@y.example>", &r, &code), -EINVAL);
	CHECK_INT(code, 501);
	CHECK_INT(rcpt("TO:<@a.example:x@y.example>", &r, &code), 0);
	CHECK_STR(r.addr, "x@y.example");
	CHECK_INT(rcpt("TO:<@a.example,x@y.example>", &r, &code), -EINVAL);
}

static void test_misc(void)
{
	const struct smtp_reply *e;
	uint64_t size;
	bool last;
	char mech[32];
	const char *ir;
	size_t irlen;

	CHECK_INT(smtp_parse_helo("client.example", 14, &e), 0);
	CHECK_INT(smtp_parse_helo("[127.0.0.1]", 11, &e), 0);
	CHECK_INT(smtp_parse_helo("", 0, &e), -EINVAL);
	CHECK_INT(smtp_parse_helo("a b", 3, &e), -EINVAL);
	CHECK_INT(smtp_parse_helo("a\xc3\xa9", 3, &e), -EINVAL);

	CHECK_INT(smtp_parse_bdat("100", 3, &size, &last, &e), 0);
	CHECK_INT(size, 100);
	CHECK(!last);
	CHECK_INT(smtp_parse_bdat("0 LAST", 6, &size, &last, &e), 0);
	CHECK_INT(size, 0);
	CHECK(last);
	CHECK_INT(smtp_parse_bdat("10 last", 7, &size, &last, &e), 0);
	CHECK(last);
	CHECK_INT(smtp_parse_bdat("", 0, &size, &last, &e), -EINVAL);
	CHECK_INT(smtp_parse_bdat("-1", 2, &size, &last, &e), -EINVAL);
	CHECK_INT(smtp_parse_bdat("10 FIRST", 8, &size, &last, &e), -EINVAL);
	CHECK_INT(smtp_parse_bdat("10x", 3, &size, &last, &e), -EINVAL);
	CHECK_INT(smtp_parse_bdat("99999999999999999999999", 23, &size, &last, &e), -EINVAL);

	CHECK_INT(smtp_parse_auth("plain", 5, mech, sizeof(mech), &ir, &irlen, &e), 0);
	CHECK_STR(mech, "PLAIN");
	CHECK(ir == NULL);
	CHECK_INT(smtp_parse_auth("PLAIN AGFAYg==", 14, mech, sizeof(mech), &ir, &irlen, &e), 0);
	CHECK_MEM(ir, irlen, "AGFAYg==", 8);
	CHECK_INT(smtp_parse_auth("PLAIN a b", 9, mech, sizeof(mech), &ir, &irlen, &e), -EINVAL);
	CHECK_INT(smtp_parse_auth("", 0, mech, sizeof(mech), &ir, &irlen, &e), -EINVAL);
	CHECK_INT(smtp_parse_auth("PL@IN", 5, mech, sizeof(mech), &ir, &irlen, &e), -EINVAL);

	CHECK(smtp_sender_matches("a@Example.COM", "@example.com"));
	CHECK(smtp_sender_matches("A@example.com", "a@EXAMPLE.com"));
	CHECK(!smtp_sender_matches("a@sub.example.com", "@example.com"));
	CHECK(!smtp_sender_matches("a@example.com.evil", "@example.com"));
	CHECK(!smtp_sender_matches("", "@example.com"));
	CHECK(!smtp_sender_matches("b@example.com", "a@example.com"));
}

int main(void)
{
	test_split();
	test_mail();
	test_rcpt();
	test_misc();
	return check_report();
}
