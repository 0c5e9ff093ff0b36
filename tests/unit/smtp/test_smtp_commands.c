/* The command table's checks and the reply rule, without a socket: a
 * session is a plain struct with a runtime built from config defaults
 * and a back end that is never called (a check does not act). Each case
 * puts the session in a state, runs one verb's check and looks at what it
 * decided and at the exact bytes it queued. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "smtp_reply.h"
#include "smtp_session_int.h"

static struct runtime rt;
static struct backend be;	/* ops never called: checks do not act */

static struct session *new_session(enum smtp_state st)
{
	struct session *s = calloc(1, sizeof(*s));

	s->rt = &rt;
	s->be = &be;
	snprintf(s->id, sizeof(s->id), "test");
	snprintf(s->conn.addr, sizeof(s->conn.addr), "127.0.0.1");
	s->state = st;
	if (st == SMTP_S_HELO || st == SMTP_S_MAIL) {
		snprintf(s->helo, sizeof(s->helo), "client.example");
		s->esmtp = true;
	}
	if (st == SMTP_S_MAIL)
		s->tx = calloc(1, sizeof(*s->tx));
	return s;
}

static void free_session(struct session *s)
{
	if (s->tx) {
		for (size_t i = 0; i < s->tx->nrcpt; i++)
			free(s->tx->rcpts[i]);
		free(s->tx->rcpts);
		free(s->tx);
	}
	buf_free(&s->out);
	free(s);
}

/* Run the check of `line`'s verb; its reply (if any) is in s->out. */
static int check(struct session *s, const char *line)
{
	const struct smtp_reply *e;
	const struct smtp_command *cmd;
	struct smtp_cmd c;

	buf_reset(&s->out);
	if (smtp_cmd_split(line, strlen(line), &c, &e) != 0)
		return 99;
	cmd = smtp_command_lookup(c.verb);
	CHECK_INT(cmd->verb, c.verb);
	return cmd->check ? cmd->check(s, &c) : 0;
}

static const char *out(struct session *s)
{
	return s->out.data ? s->out.data : "";
}

static void add_rcpt(struct session *s, const char *a)
{
	s->tx->rcpts = realloc(s->tx->rcpts, (s->tx->nrcpt + 1) * sizeof(char *));
	s->tx->rcpts[s->tx->nrcpt++] = strdup(a);
}

static void test_table(void)
{
	/* Every verb has its own row; only QUIT is served after a 554 greeting. */
	for (int v = SMTP_UNKNOWN; v <= SMTP_NON_SMTP; v++) {
		const struct smtp_command *cmd = smtp_command_lookup((enum smtp_verb)v);
		CHECK_INT(cmd->verb, v);
		CHECK(cmd->states != 0);
		CHECK(cmd->check != NULL || cmd->proceed != NULL);
		CHECK_INT(!!(cmd->states & SMTP_S_BIT(SMTP_S_REFUSED)), v == SMTP_QUIT);
		/* Nothing is read as a command while a body, SASL line or the
		 * back end is awaited. */
		CHECK(!(cmd->states & (SMTP_S_BIT(SMTP_S_DATA) | SMTP_S_BIT(SMTP_S_BDAT) |
			SMTP_S_BIT(SMTP_S_COMMIT) | SMTP_S_BIT(SMTP_S_AUTH_VERIFY))));
	}
	CHECK_INT(smtp_command_lookup(SMTP_MAIL)->states, SMTP_S_BIT(SMTP_S_HELO));
	CHECK_INT(smtp_command_lookup(SMTP_RCPT)->states, SMTP_S_BIT(SMTP_S_MAIL));
	CHECK_INT(smtp_command_lookup(SMTP_DATA)->states, SMTP_S_BIT(SMTP_S_MAIL));
	CHECK(smtp_command_lookup(SMTP_EXPN)->proceed == NULL);
}

static void test_mail(void)
{
	struct session *s = new_session(SMTP_S_CONNECTED);

	CHECK_INT(check(s, "MAIL FROM:<a@example.com>"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: send HELO/EHLO first\r\n");
	free_session(s);

	s = new_session(SMTP_S_MAIL);
	CHECK_INT(check(s, "MAIL FROM:<a@example.com>"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: nested MAIL command\r\n");
	free_session(s);

	s = new_session(SMTP_S_HELO);
	CHECK_INT(check(s, "MAIL FROM:<a@example.com> SIZE=1000"), 0);
	CHECK_STR(out(s), "");				/* a check that passes says nothing */
	CHECK(s->tx == NULL);				/* ... and changes nothing */
	CHECK_INT(s->state, SMTP_S_HELO);
	CHECK_INT(check(s, "MAIL FROM:a@example.com"), SMTP_REFUSED);
	CHECK(strncmp(out(s), "501 5.5.4 ", 10) == 0);
	CHECK_INT(check(s, "MAIL FROM:<a@example.com> SIZE=99999999999"), SMTP_REFUSED);
	{
		char want[128];

		snprintf(want, sizeof(want), "552 5.3.4 Message size exceeds the limit of %llu "
			"octets\r\n", (unsigned long long)rt.cfg.max_message_size);
		CHECK_STR(out(s), want);
	}
	be.max_message_size = 100;			/* the back end's own limit counts too */
	be.size_note = "the SES v1 limit; ses_api v2 allows 40 MB";	/* and says why */
	CHECK_INT(check(s, "MAIL FROM:<a@example.com> SIZE=101"), SMTP_REFUSED);
	CHECK_STR(out(s), "552 5.3.4 Message size exceeds the limit of 100 octets (the SES v1 "
		"limit; ses_api v2 allows 40 MB)\r\n");
	be.max_message_size = 0;
	be.size_note = NULL;

	/* Policy before syntax: a bad command from a client that may not
	 * send is told why it may not. */
	rt.cfg.require_tls = true;
	CHECK_INT(check(s, "MAIL FROM:bad"), SMTP_REFUSED);
	CHECK_STR(out(s), "530 5.7.0 Must issue a STARTTLS command first\r\n");
	rt.cfg.require_tls = false;
	s->must_auth = true;
	CHECK_INT(check(s, "MAIL FROM:<a@example.com>"), SMTP_REFUSED);
	CHECK_STR(out(s), "530 5.7.0 Authentication required\r\n");
	s->authed = true;
	CHECK_INT(check(s, "MAIL FROM:<a@example.com>"), 0);

	s->ntxn = rt.cfg.max_transactions;
	CHECK_INT(check(s, "MAIL FROM:<a@example.com>"), SMTP_CLOSE);
	CHECK_STR(out(s), "421 4.7.0 test.example Too many transactions, closing connection\r\n");
	CHECK_STR(s->close_reason, "max_transactions");
	free_session(s);
}

static void test_rcpt(void)
{
	struct session *s = new_session(SMTP_S_HELO);

	CHECK_INT(check(s, "RCPT TO:<b@example.com>"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: need MAIL command\r\n");
	free_session(s);

	s = new_session(SMTP_S_MAIL);
	CHECK_INT(check(s, "RCPT TO:<b@example.com>"), 0);
	CHECK_STR(out(s), "");
	CHECK_INT(check(s, "RCPT TO:<bad"), SMTP_REFUSED);
	CHECK_STR(out(s), "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
	CHECK_INT(s->tx->rcpt_tries, 2);		/* refused ones count for DATA's answer */
	CHECK_INT(check(s, "RCPT TO:<bü@example.com>"), SMTP_REFUSED);
	CHECK(strncmp(out(s), "553 5.6.7 ", 10) == 0);	/* no SMTPUTF8 at all */
	CHECK_INT(check(s, "RCPT TO:<b@b\xc3\xbc" "cher.example>"), 0);	/* A-labels, below */
	CHECK_STR(out(s), "");
	while (s->tx->nrcpt < rt.cfg.max_recipients)
		add_rcpt(s, "b@example.com");
	/* A limit, not an error: does not count toward max_errors. */
	CHECK_INT(check(s, "RCPT TO:<c@example.com>"), SMTP_LIMITED);
	CHECK_STR(out(s), "452 4.5.3 Error: too many recipients\r\n");
	free_session(s);
}

static void test_data(void)
{
	struct session *s = new_session(SMTP_S_HELO);

	/* Arguments are refused before the sequence, as always. */
	CHECK_INT(check(s, "DATA now"), SMTP_REFUSED);
	CHECK_STR(out(s), "501 5.5.4 Syntax error: no arguments allowed\r\n");
	CHECK_INT(check(s, "DATA"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: need MAIL command\r\n");
	free_session(s);

	s = new_session(SMTP_S_MAIL);
	CHECK_INT(check(s, "DATA"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: need RCPT command\r\n");
	s->tx->rcpt_tries = 1;
	CHECK_INT(check(s, "DATA"), SMTP_REFUSED);
	CHECK_STR(out(s), "554 5.5.1 Error: no valid recipients\r\n");
	add_rcpt(s, "b@example.com");
	CHECK_INT(check(s, "DATA"), 0);
	CHECK_STR(out(s), "");
	s->tx->bdat_started = true;
	CHECK_INT(check(s, "DATA"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: DATA after BDAT in the same transaction\r\n");
	free_session(s);
}

static void test_bdat(void)
{
	struct session *s = new_session(SMTP_S_CONNECTED);

	CHECK_INT(check(s, "BDAT"), SMTP_REFUSED);
	CHECK(strncmp(out(s), "501 5.5.4 ", 10) == 0);
	CHECK_INT(check(s, "BDAT x LAST"), SMTP_REFUSED);
	/* With a size the chunk is read whatever the state: the sequence
	 * refusal comes after its octets, so the check lets it through. */
	CHECK_INT(check(s, "BDAT 10 LAST"), 0);
	CHECK_STR(out(s), "");
	free_session(s);
}

static void test_session_verbs(void)
{
	struct session *s = new_session(SMTP_S_CONNECTED);

	CHECK_INT(check(s, "STARTTLS"), SMTP_REFUSED);
	CHECK_STR(out(s), "454 4.7.0 TLS not available\r\n");
	CHECK_INT(check(s, "STARTTLS now"), SMTP_REFUSED);
	CHECK(strncmp(out(s), "501 5.5.4 ", 10) == 0);
	CHECK_INT(check(s, "AUTH PLAIN"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: send EHLO first\r\n");
	CHECK_INT(check(s, "HELO"), SMTP_REFUSED);
	CHECK(strncmp(out(s), "501 5.5.4 ", 10) == 0);
	CHECK_INT(check(s, "EHLO client.example"), 0);
	CHECK_INT(check(s, "RSET x"), SMTP_REFUSED);
	CHECK_INT(check(s, "RSET"), 0);
	CHECK_INT(check(s, "NOOP anything"), 0);
	CHECK_INT(check(s, "VRFY"), SMTP_REFUSED);
	CHECK_STR(out(s), "501 5.5.4 Syntax: VRFY address\r\n");
	CHECK_INT(check(s, "VRFY b@example.com"), 0);
	CHECK_INT(check(s, "EXPN list"), SMTP_REFUSED);
	CHECK_STR(out(s), "502 5.5.1 Error: EXPN not supported\r\n");
	CHECK_INT(check(s, "FROB"), SMTP_REFUSED);
	CHECK_STR(out(s), "500 5.5.2 Error: command not recognized\r\n");
	CHECK_INT(check(s, "GET / HTTP/1.1"), SMTP_CLOSE);
	CHECK_STR(out(s), "421 4.7.0 test.example Not an SMTP client, closing connection\r\n");
	CHECK_STR(s->close_reason, "non_smtp_command");
	free_session(s);

	s = new_session(SMTP_S_HELO);
	s->esmtp = false;				/* HELO, not EHLO */
	CHECK_INT(check(s, "AUTH PLAIN"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: send EHLO first\r\n");
	s->esmtp = true;
	CHECK_INT(check(s, "AUTH PLAIN"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: authentication not enabled\r\n");
	free_session(s);

	s = new_session(SMTP_S_MAIL);
	CHECK_INT(check(s, "AUTH PLAIN"), SMTP_REFUSED);
	CHECK_STR(out(s), "503 5.5.1 Error: AUTH not allowed during a mail transaction\r\n");
	free_session(s);
}

/* The dispatcher: the refused state, the answer to EHLO and the count of
 * refusals. */
static void test_dispatch(void)
{
	struct session *s = new_session(SMTP_S_REFUSED);
	char want[512];

	session_dispatch(s, "EHLO client.example", 19);
	CHECK_STR(out(s), "503 5.5.1 Error: access denied, send QUIT\r\n");
	CHECK_INT(s->errors, 1);
	CHECK_INT(s->state, SMTP_S_REFUSED);
	free_session(s);

	s = new_session(SMTP_S_CONNECTED);
	session_dispatch(s, "EHLO client.example", 19);
	snprintf(want, sizeof(want), "250-test.example\r\n250-PIPELINING\r\n250-SIZE %llu\r\n"
		"250-8BITMIME\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n",
		(unsigned long long)rt.cfg.max_message_size);
	CHECK_STR(out(s), want);
	CHECK_INT(s->state, SMTP_S_HELO);
	CHECK_STR(s->helo, "client.example");
	CHECK_INT(s->verb, SMTP_UNKNOWN);
	buf_reset(&s->out);
	session_dispatch(s, "HELO other.example", 18);
	CHECK_STR(out(s), "250 test.example\r\n");	/* no enhanced code (RFC 2034 §3) */
	buf_reset(&s->out);
	session_dispatch(s, "HELP", 4);
	CHECK(strncmp(out(s), "214 2.0.0 Commands: ", 20) == 0);
	/* Neither is available here (no TLS, no users file). */
	CHECK(strstr(out(s), "STARTTLS") == NULL);
	CHECK(strstr(out(s), "AUTH") == NULL);
	buf_reset(&s->out);
	session_dispatch(s, "EXPN x", 6);
	session_dispatch(s, "RCPT TO:<b@example.com>", 23);
	session_dispatch(s, "RCPT TO:<b@example.com>", 23);
	CHECK_INT(s->errors, 3);
	free_session(s);
}

static void test_reply_format(void)
{
	struct buf b = BUF_INIT;

	CHECK_INT(smtp_reply_format(&b, 250, "2.1.0", false, "Ok"), 0);
	CHECK_STR(b.data, "250 2.1.0 Ok\r\n");
	buf_reset(&b);
	/* Multi-line: the enhanced code on every line (RFC 2034 §3). */
	CHECK_INT(smtp_reply_format(&b, 214, "2.0.0", false, "one\ntwo\nthree"), 0);
	CHECK_STR(b.data, "214-2.0.0 one\r\n214-2.0.0 two\r\n214 2.0.0 three\r\n");
	buf_reset(&b);
	CHECK_INT(smtp_reply_format(&b, 250, "2.0.0", true, "host\nPIPELINING"), 0);
	CHECK_STR(b.data, "250-host\r\n250 PIPELINING\r\n");
	buf_reset(&b);
	/* Exempt covers only success: a refused greeting says why. */
	CHECK_INT(smtp_reply_format(&b, 554, "5.7.1", true, "host Access denied"), 0);
	CHECK_STR(b.data, "554 5.7.1 host Access denied\r\n");
	buf_reset(&b);
	CHECK_INT(smtp_reply_format(&b, 354, "2.0.0", false, "End data"), 0);
	CHECK_STR(b.data, "354 End data\r\n");
	buf_reset(&b);
	CHECK_INT(smtp_reply_format(&b, 334, NULL, false, ""), 0);
	CHECK_STR(b.data, "334 \r\n");
	buf_reset(&b);
	/* A wrong class or a malformed code is left out, not sent wrong. */
	CHECK_INT(smtp_reply_format(&b, 451, "5.0.0", false, "x"), 0);
	CHECK_STR(b.data, "451 x\r\n");
	buf_reset(&b);
	CHECK_INT(smtp_reply_format(&b, 451, "4.4444.1", false, "x"), 0);
	CHECK_STR(b.data, "451 x\r\n");
	buf_reset(&b);
	/* CR in a text (a back end's message) never ends a line early. */
	CHECK_INT(smtp_reply_format(&b, 554, "5.6.0", false, "bad\r\nthing\r"), 0);
	CHECK_STR(b.data, "554-5.6.0 bad\r\n554 5.6.0 thing\r\n");
	CHECK_INT(smtp_reply_format(&b, 99, NULL, false, "x"), -EINVAL);
	CHECK_INT(smtp_reply_format(&b, 600, NULL, false, "x"), -EINVAL);
	buf_free(&b);
}

int main(void)
{
	log_setup(LOG_FORMAT_LOGFMT, LVL_ERROR, false);
	CHECK_INT(config_defaults(&rt.cfg), 0);
	snprintf(rt.hostname, sizeof(rt.hostname), "test.example");
	test_table();
	test_mail();
	test_rcpt();
	test_data();
	test_bdat();
	test_session_verbs();
	test_dispatch();
	test_reply_format();
	config_free(&rt.cfg);
	return check_report();
}
