#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sendmail_msg.h"

static struct strlist addrs(const char *v)
{
	struct strlist l = { NULL, 0 };

	CHECK_INT(sendmail_addr_list(v, strlen(v), &l), 0);
	return l;
}

static void test_addr_list(void)
{
	struct strlist l;

	l = addrs(" a@example.org ,\"Doe, John\" <john@example.org> (work),\r\n\tplain@x.test");
	CHECK_INT(l.n, 3);
	if (l.n == 3) {
		CHECK_STR(l.v[0], "a@example.org");
		CHECK_STR(l.v[1], "john@example.org");
		CHECK_STR(l.v[2], "plain@x.test");
	}
	strlist_free(&l);

	/* Groups, an empty group, comments with nested parentheses, a
	 * quoted local part, an obsolete source route. */
	l = addrs("team: x@a.test, y@a.test;, undisclosed-recipients:;, "
		"z@b.test (a (nested) comment), \"odd local\"@c.test, <@relay.test:r@d.test>");
	CHECK_INT(l.n, 5);
	if (l.n == 5) {
		CHECK_STR(l.v[0], "x@a.test");
		CHECK_STR(l.v[1], "y@a.test");
		CHECK_STR(l.v[2], "z@b.test");
		CHECK_STR(l.v[3], "\"odd local\"@c.test");
		CHECK_STR(l.v[4], "r@d.test");
	}
	strlist_free(&l);

	l = addrs("");
	CHECK_INT(l.n, 0);
	strlist_free(&l);

	{
		static const char *const bad[] = { "<a@b.test", "a@b.test>", "\"open@b.test",
			"(open a@b.test", "<<a@b.test>>" };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct strlist b = { NULL, 0 };
			CHECK_INT(sendmail_addr_list(bad[i], strlen(bad[i]), &b), -EINVAL);
			strlist_free(&b);
		}
	}
}

static int build(const char *in, struct sendmail_opts *o, struct sendmail_msg *m)
{
	char err[128] = "";

	if (o->date == NULL)
		o->date = "Sun, 06 Dec 2026 02:30:00 +0000";
	if (o->fallback_from == NULL)
		o->fallback_from = "user@host.test";
	return sendmail_msg_build(in, strlen(in), o, m, err, sizeof(err));
}

#define CHECK_DATA(m, s) CHECK_MEM((m).data.data, (m).data.len, s, strlen(s))

static void test_extract_and_bcc(void)
{
	struct sendmail_opts o = { .extract = true, .dot_is_data = true };
	struct sendmail_msg m;
	const char *in =
		"From: App <app@example.com>\n"
		"To: a@x.test,\n b@x.test\n"
		"Bcc: hidden@x.test,\n\tother@x.test\n"
		"Cc: c@x.test\n"
		"Resent-Bcc: r@x.test\n"
		"Date: Sat, 05 Dec 2026 10:00:00 +0000\n"
		"\n"
		"Bcc: in the body stays\n"
		".\n"
		"end";

	CHECK_INT(build(in, &o, &m), 0);
	CHECK_DATA(m,
		"From: App <app@example.com>\r\n"
		"To: a@x.test,\r\n b@x.test\r\n"
		"Cc: c@x.test\r\n"
		"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n"
		"\r\n"
		"Bcc: in the body stays\r\n"
		".\r\n"
		"end\r\n");
	CHECK_STR(m.env_from, "app@example.com");
	CHECK_INT(m.rcpts.n, 5);
	if (m.rcpts.n == 5) {
		CHECK_STR(m.rcpts.v[0], "a@x.test");
		CHECK_STR(m.rcpts.v[1], "b@x.test");
		CHECK_STR(m.rcpts.v[2], "hidden@x.test");
		CHECK_STR(m.rcpts.v[3], "other@x.test");
		CHECK_STR(m.rcpts.v[4], "c@x.test");
	}
	sendmail_msg_free(&m);

	/* Without -t nothing is extracted, and Bcc still goes. */
	o.extract = false;
	CHECK_INT(build("To: a@x.test\nBcc: b@x.test\nFrom: f@x.test\nDate: d\n\nx\n", &o, &m), 0);
	CHECK_DATA(m, "To: a@x.test\r\nFrom: f@x.test\r\nDate: d\r\n\r\nx\r\n");
	CHECK_INT(m.rcpts.n, 0);
	sendmail_msg_free(&m);
}

static void test_added_fields_and_line_ends(void)
{
	struct sendmail_opts o = { .full_name = "Cron Daemon" };
	struct sendmail_msg m;

	/* No -i: a lone dot ends the input; CRLF input stays; a leading
	 * mbox line goes; Date and From are added in front. */
	CHECK_INT(build("From someone Sat Dec  5 10:00:00 2026\nSubject: s\r\n\r\nbody\n.\nignored\n",
		&o, &m), 0);
	CHECK_DATA(m, "Date: Sun, 06 Dec 2026 02:30:00 +0000\r\n"
		"From: Cron Daemon <user@host.test>\r\n"
		"Subject: s\r\n\r\nbody\r\n");
	CHECK_STR(m.env_from, "user@host.test");
	sendmail_msg_free(&m);

	/* -f wins over From:, a body without any header gets a separator,
	 * the last line gets its line end. */
	o.env_from = "bounce@x.test";
	o.full_name = NULL;
	CHECK_INT(build("just text", &o, &m), 0);
	CHECK_DATA(m, "Date: Sun, 06 Dec 2026 02:30:00 +0000\r\nFrom: <bounce@x.test>\r\n\r\njust text\r\n");
	sendmail_msg_free(&m);

	CHECK_INT(build("From: f@x.test\nDate: d\n\n..leading dot\n", &o, &m), 0);
	CHECK_STR(m.env_from, "bounce@x.test");
	CHECK_DATA(m, "From: f@x.test\r\nDate: d\r\n\r\n..leading dot\r\n");
	sendmail_msg_free(&m);

	o.extract = true;
	CHECK_INT(build("To: <broken@x.test\n\nx\n", &o, &m), -EINVAL);
}

int main(void)
{
	test_addr_list();
	test_extract_and_bcc();
	test_added_fields_and_line_ends();
	return check_report();
}
