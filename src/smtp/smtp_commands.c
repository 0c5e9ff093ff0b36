/* The SMTP command table (one row per verb: the states it may proceed
 * in, a check and a proceed) and the mail transaction: its hand-off to the
 * back end and the message data. A check runs the preconditions in a fixed
 * order (sequence, then policy, then syntax) and answers its own refusal
 * without acting; a proceed acts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "smtp_session_int.h"
#include "tls.h"

static const struct smtp_reply r_need_helo = { 503, "5.5.1", "Error: send HELO/EHLO first" };
static const struct smtp_reply r_nested = { 503, "5.5.1", "Error: nested MAIL command" };
static const struct smtp_reply r_need_mail = { 503, "5.5.1", "Error: need MAIL command" };
static const struct smtp_reply r_need_rcpt = { 503, "5.5.1", "Error: need RCPT command" };
static const struct smtp_reply r_no_valid_rcpt = { 554, "5.5.1", "Error: no valid recipients" };
static const struct smtp_reply r_bdat_data = { 503, "5.5.1", "Error: DATA after BDAT in the same transaction" };
static const struct smtp_reply r_need_tls = { 530, "5.7.0", "Must issue a STARTTLS command first" };
static const struct smtp_reply r_need_auth = { 530, "5.7.0", "Authentication required" };
static const struct smtp_reply r_sender = { 550, "5.7.1", "Sender address not allowed" };
static const struct smtp_reply r_unknown = { 500, "5.5.2", "Error: command not recognized" };
static const struct smtp_reply r_no_args = { 501, "5.5.4", "Syntax error: no arguments allowed" };
static const struct smtp_reply r_vrfy_syntax = { 501, "5.5.4", "Syntax: VRFY address" };
static const struct smtp_reply r_expn = { 502, "5.5.1", "Error: EXPN not supported" };
static const struct smtp_reply r_tls_unavailable = { 454, "4.7.0", "TLS not available" };
static const struct smtp_reply r_tls_active = { 503, "5.5.1", "Error: TLS already active" };
static const struct smtp_reply r_refused = { 503, "5.5.1", "Error: access denied, send QUIT" };
static const struct smtp_reply r_nomem = { 451, "4.3.0", "Temporary failure: out of memory" };

static int refuse(struct session *s, const struct smtp_reply *r)
{
	session_reply(s, r->code, r->enhanced, "%s", r->text);
	return SMTP_REFUSED;
}

/* May `verb` proceed where the session is (the table's `states`)? */
static bool may_proceed(const struct session *s, enum smtp_verb verb)
{
	return (smtp_command_lookup(verb)->states & SMTP_S_BIT(s->state)) != 0;
}

static void log_txn(struct session *s, const struct delivery_result *res)
{
	const struct smtp_tx *tx = s->tx;
	struct logline l;

	metrics_smtp_txn(res->code, tx->dec.size, tx->nrcpt);
	if (!log_begin(&l, res->code < 400 ? LVL_INFO : LVL_WARN, "smtp.txn"))
		return;
	log_str(&l, "session", s->id);
	log_str(&l, "client", s->conn.addr);
	if (s->authed)
		log_str(&l, "user", s->user);
	log_str(&l, "from", tx->mail.addr);
	log_uint(&l, "nrcpt", tx->nrcpt);
	log_uint(&l, "size", tx->dec.size);
	log_int(&l, "code", res->code);
	log_str(&l, "enhanced", res->enhanced);
	if (res->message_id[0])
		log_str(&l, "message_id", res->message_id);
	if (res->error_code[0])
		log_str(&l, "error_code", res->error_code);
	if (res->code >= 400)
		log_str(&l, "reason", res->text);
	log_double(&l, "smtp_seconds", (double)(uv_now(s->srv->loop) - tx->t_mail) / 1000.0);
	log_double(&l, "backend_seconds", res->backend_seconds);
	log_end(&l);
}

void session_reset_txn(struct session *s)
{
	struct smtp_tx *tx = s->tx;

	if (tx == NULL)
		return;
	s->tx = NULL;
	if (tx->txn)
		s->be->ops->abort(tx->txn);
	for (size_t i = 0; i < tx->nrcpt; i++)
		free(tx->rcpts[i]);
	free(tx->rcpts);
	buf_free(&tx->dbuf);
	buf_free(&tx->head);
	free(tx);
}

/* ---- Received: header (RFC 5321 §4.4) ---- */

static void received_header(struct session *s, struct buf *b)
{
	const struct smtp_tx *tx = s->tx;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	char proto[16];

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* RFC 3848 protocol names */
	snprintf(proto, sizeof(proto), "%s%s%s", s->esmtp ? "ESMTP" : "SMTP",
		s->tls_done && s->esmtp ? "S" : "", s->authed ? "A" : "");
	buf_printf(b, "Received: from %s (unknown [%s%s])\r\n\tby %s (sesrelay) with %s id %s",
		s->helo[0] ? s->helo : "unknown", s->conn.ipv6 ? "IPv6:" : "", s->conn.addr,
		s->rt->hostname, proto, s->id);
	if (s->tls_done)
		buf_printf(b, "\r\n\t(using %s with cipher %s)", tls_conn_version(s->tls),
			tls_conn_cipher(s->tls));
	if (tx->nrcpt == 1)
		buf_printf(b, "\r\n\tfor <%s>", tx->rcpts[0]);
	buf_printf(b, "; %s\r\n", date);
}

static void deliver_write(struct session *s, const char *p, size_t n)
{
	struct smtp_tx *tx = s->tx;

	if (tx->txn == NULL || tx->txn_failed || n == 0)
		return;
	if (s->be->ops->write(tx->txn, p, n, &tx->txn_res) != 0)
		tx->txn_failed = true;
}

/* The header section is kept (up to this much) while the message passes
 * through, for the From check of a client's policy at the end. */
#define POLICY_MAX_HEAD (64 * 1024)

static void keep_head(struct smtp_tx *tx, const char *p, size_t n)
{
	size_t from = tx->head.len > 3 ? tx->head.len - 3 : 0;

	if (tx->client == NULL || tx->head_done || n == 0)
		return;
	if (tx->head.len + n > POLICY_MAX_HEAD)
		n = POLICY_MAX_HEAD - tx->head.len;
	if (buf_append(&tx->head, p, n) != 0 || tx->head.len == POLICY_MAX_HEAD) {
		tx->head_done = true;
		return;
	}
	for (size_t i = from; i + 3 < tx->head.len; i++)
		if (memcmp(tx->head.data + i, "\r\n\r\n", 4) == 0) {
			tx->head_done = true;
			break;
		}
}

/* Hand the decoded bytes in tx->dbuf to the back end. */
static void deliver_decoded(struct session *s)
{
	keep_head(s->tx, s->tx->dbuf.data, s->tx->dbuf.len);
	deliver_write(s, s->tx->dbuf.data, s->tx->dbuf.len);
	buf_reset(&s->tx->dbuf);
}

/* Open the back end transaction; on refusal the reply is in *res. */
static int begin_delivery(struct session *s, struct delivery_result *res)
{
	struct smtp_tx *tx = s->tx;
	struct envelope env;
	struct buf hdr = BUF_INIT;
	int r;

	memset(&env, 0, sizeof(env));
	env.mail_from = tx->mail.addr;
	env.rcpts = (const char *const *)tx->rcpts;
	env.nrcpt = tx->nrcpt;
	env.declared_size = tx->mail.has_size ? tx->mail.size : 0;
	env.body_8bit = tx->mail.body == SMTP_BODY_8BITMIME;
	env.session_id = s->id;
	env.client_addr = s->conn.addr;
	memset(res, 0, sizeof(*res));
	r = s->be->ops->begin(s->be, &env, &tx->txn, res);
	if (r) {
		tx->txn = NULL;
		if (res->code == 0)
			delivery_result_set(res, 451, "4.3.0", "Temporary failure, try again later");
		return r;
	}
	tx->txn_failed = false;
	received_header(s, &hdr);
	deliver_write(s, hdr.data, hdr.len);
	buf_free(&hdr);
	return 0;
}

static void start_decoder(struct session *s, enum smtp_data_mode mode)
{
	struct smtp_data_limits lim;

	lim.max_size = session_max_size(s);
	lim.max_line = s->rt->cfg.allow_long_lines ? 0 : s->rt->cfg.max_line_length;
	lim.normalize_bare = s->rt->cfg.bare_lf == BARE_LF_NORMALIZE;
	smtp_data_init(&s->tx->dec, &lim, mode);
}

/* Answer the end of the message and close the transaction. */
static void finish_txn(struct session *s, const struct delivery_result *res)
{
	s->txn_reply = true;	/* logged as smtp.txn, not as a refusal */
	session_reply(s, res->code, res->enhanced, "%s", res->text);
	s->txn_reply = false;
	log_txn(s, res);
	session_reset_txn(s);
	s->txn_ended = true;
	session_enter_state(s, session_rest_state(s));
}

static void on_committed(void *arg, const struct delivery_result *res)
{
	struct session *s = arg;

	s->tx->txn = NULL;	/* the back end freed it */
	finish_txn(s, res);
	session_arm_timer(s);
	session_process(s);
}

/* Every From mailbox of the message must be one the client may send as
 * (clients.h), as for the API front; else *res is the refusal. */
static bool from_allowed(struct session *s, struct delivery_result *res)
{
	struct smtp_tx *tx = s->tx;
	const char *v;
	size_t n;
	char bad[128] = "";
	int r = message_from_field(tx->head.data ? tx->head.data : "", tx->head.len, &v, &n);

	if (r == 0)
		r = client_check_from(tx->client, v, n, bad, sizeof(bad));
	if (r == 0)
		return true;
	delivery_result_set(res, 550, "5.7.1", "");
	if (r == -EPERM)
		snprintf(res->text, sizeof(res->text), "From <%s> not allowed for this user", bad);
	else
		snprintf(res->text, sizeof(res->text), "No single From header with an address this user may send as");
	return false;
}

/* The whole message has been read (DATA end marker, or BDAT LAST). */
static void end_of_message(struct session *s)
{
	struct smtp_tx *tx = s->tx;
	struct delivery_result res;

	if (tx->dec.err != SMTP_DATA_OK) {
		const struct smtp_reply *e = smtp_data_error_reply(tx->dec.err);
		struct smtp_reply size;
		char text[160];

		if (tx->dec.err == SMTP_DATA_TOO_BIG) {
			session_size_reply(s, &size, text, sizeof(text));
			e = &size;
		}
		delivery_result_set(&res, e->code, e->enhanced, e->text);
		finish_txn(s, &res);
	} else if (tx->txn_failed) {
		res = tx->txn_res;
		finish_txn(s, &res);
	} else if (tx->client && !from_allowed(s, &res)) {
		s->why = "from_not_allowed";
		finish_txn(s, &res);
	} else {
		memset(&res, 0, sizeof(res));
		/* The client is not the slow one now: the timer stops. A client
		 * that goes away from here on gets no reply; the transaction is
		 * aborted and the back end finishes or cancels silently. */
		session_enter_state(s, SMTP_S_COMMIT);
		if (s->be->ops->commit(tx->txn, on_committed, s, &res) != 0) {
			tx->txn = NULL;
			if (res.code == 0)
				delivery_result_set(&res, 451, "4.3.0",
					"Temporary failure, try again later");
			finish_txn(s, &res);
		}
	}
	session_arm_timer(s);
}

/* After a BDAT chunk's octets have all been read. */
static void end_of_chunk(struct session *s)
{
	if (s->bdat_refusal) {
		const struct smtp_reply *r = s->bdat_refusal;
		s->bdat_refusal = NULL;
		session_enter_state(s, session_rest_state(s));
		session_arm_timer(s);
		refuse(s, r);
		session_count_error(s);
		return;
	}
	if (s->bdat_last) {
		smtp_data_finish(&s->tx->dec, &s->tx->dbuf);
		deliver_decoded(s);
		end_of_message(s);
		return;
	}
	session_enter_state(s, session_rest_state(s));
	session_arm_timer(s);
	if (s->tx->dec.err != SMTP_DATA_OK || s->tx->txn_failed) {
		/* RFC 3030 §2: the transaction has failed; later chunks of it
		 * are read and refused as out of sequence. */
		end_of_message(s);
		return;
	}
	session_reply(s, 250, "2.0.0", "%llu octets received",
		(unsigned long long)s->tx->dec.size);
}

void session_data_input(struct session *s)
{
	if (s->state == SMTP_S_DATA) {
		struct smtp_tx *tx = s->tx;
		size_t n = smtp_data_feed(&tx->dec, session_in(s), session_in_len(s), &tx->dbuf);
		session_in_consume(s, n, false);
		deliver_decoded(s);
		if (tx->dec.done)
			end_of_message(s);
		return;
	}
	/* SMTP_S_BDAT */
	if (s->bdat_left > 0) {
		size_t avail = session_in_len(s);
		size_t n = avail < s->bdat_left ? avail : (size_t)s->bdat_left;
		if (s->bdat_refusal == NULL) {
			smtp_data_feed(&s->tx->dec, session_in(s), n, &s->tx->dbuf);
			deliver_decoded(s);
		}
		session_in_consume(s, n, false);
		s->bdat_left -= n;
	}
	if (s->bdat_left == 0)
		end_of_chunk(s);
}

/* ---- commands ---- */

static int check_no_args(struct session *s, const struct smtp_cmd *c)
{
	return c->argslen ? refuse(s, &r_no_args) : 0;
}

static int check_helo(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;

	return smtp_parse_helo(c->args, c->argslen, &e) != 0 ? refuse(s, e) : 0;
}

static void proceed_helo(struct session *s, const struct smtp_cmd *c)
{
	struct buf ext = BUF_INIT;

	session_reset_txn(s);
	memcpy(s->helo, c->args, c->argslen);
	s->helo[c->argslen] = '\0';
	s->esmtp = c->verb == SMTP_EHLO;
	session_enter_state(s, SMTP_S_HELO);
	/* The enhanced code is left out by the reply rule (RFC 2034 §3). */
	if (!s->esmtp) {
		session_reply(s, 250, "2.0.0", "%s", s->rt->hostname);
		return;
	}
	/* No SMTPUTF8: SES takes neither UTF-8 local parts nor UTF-8 header
	 * fields, so the path could not keep the promise; clients then send
	 * ASCII envelopes (domains as A-labels) and encoded headers. */
	buf_printf(&ext, "%s\nPIPELINING\nSIZE %llu\n8BITMIME\nCHUNKING", s->rt->hostname,
		(unsigned long long)session_max_size(s));
	if (s->rt->tls && s->tls == NULL)
		buf_puts(&ext, "\nSTARTTLS");
	if (session_auth_offered(s))
		buf_puts(&ext, "\nAUTH PLAIN LOGIN");
	buf_puts(&ext, "\nENHANCEDSTATUSCODES");
	session_reply(s, 250, "2.0.0", "%s", ext.data ? ext.data : "");
	buf_free(&ext);
}

/* The clients_file entry of the authenticated user, if it has one. */
static const struct client *session_client(const struct session *s)
{
	return s->authed && s->rt->clients ? clients_by_name(s->rt->clients, s->user) : NULL;
}

static bool sender_allowed(const struct session *s, const char *addr)
{
	const struct strlist *l = &s->rt->cfg.allow_senders;
	const struct client *cl = session_client(s);

	/* a client's own senders replace allow_senders for it */
	if (cl)
		return client_may_send_as(cl, addr, strlen(addr));

	if (l->n == 0)
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (smtp_sender_matches(addr, l->v[i]))
			return true;
	return false;
}

static int check_mail(struct session *s, const struct smtp_cmd *c)
{
	const struct config *cfg = &s->rt->cfg;
	const struct smtp_reply *e;
	struct smtp_mail m;

	if (!may_proceed(s, SMTP_MAIL))
		return refuse(s, s->tx ? &r_nested : &r_need_helo);
	if (cfg->require_tls && !s->tls_done) {
		s->why = "tls_required";
		return refuse(s, &r_need_tls);
	}
	if ((cfg->require_auth || s->must_auth) && !s->authed) {
		s->why = s->must_auth ? "network_needs_auth" : "auth_required";
		return refuse(s, &r_need_auth);
	}
	if (s->ntxn >= cfg->max_transactions) {
		s->why = "max_transactions";
		session_reply(s, 421, "4.7.0", "%s Too many transactions, closing connection",
			s->rt->hostname);
		s->close_reason = "max_transactions";
		return SMTP_CLOSE;
	}
	if (smtp_parse_mail(c->args, c->argslen, &m, &e) != 0)
		return refuse(s, e);
	if (m.has_size && m.size > session_max_size(s)) {
		struct smtp_reply r;
		char text[160];

		s->why = "declared_size";
		session_size_reply(s, &r, text, sizeof(text));
		return refuse(s, &r);
	}
	if (!sender_allowed(s, m.addr)) {
		s->why = "sender_not_allowed";
		session_reply(s, r_sender.code, r_sender.enhanced, "<%s>: %s", m.addr, r_sender.text);
		return SMTP_REFUSED;
	}
	return 0;
}

static void proceed_mail(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;
	struct smtp_tx *tx = calloc(1, sizeof(*tx));

	if (tx == NULL) {
		refuse(s, &r_nomem);
		session_count_error(s);
		return;
	}
	smtp_parse_mail(c->args, c->argslen, &tx->mail, &e);	/* the check passed it */
	tx->client = session_client(s);
	tx->t_mail = uv_now(s->srv->loop);
	s->tx = tx;
	s->ntxn++;
	session_enter_state(s, SMTP_S_MAIL);
	session_reply(s, 250, "2.1.0", "Ok");
}

static int check_rcpt(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;
	struct smtp_rcpt r;

	if (!may_proceed(s, SMTP_RCPT))
		return refuse(s, &r_need_mail);
	/* Counted even when refused: DATA then says "no valid recipients". */
	s->tx->rcpt_tries++;
	if (smtp_parse_rcpt(c->args, c->argslen, &r, &e) != 0)
		return refuse(s, e);
	if (s->tx->nrcpt >= s->rt->cfg.max_recipients) {
		s->why = "max_recipients";
		session_reply(s, 452, "4.5.3", "Error: too many recipients");
		return SMTP_LIMITED;
	}
	return 0;
}

static void proceed_rcpt(struct session *s, const struct smtp_cmd *c)
{
	struct smtp_tx *tx = s->tx;
	const struct smtp_reply *e;
	struct smtp_rcpt r;
	char **nv, *a = NULL;

	smtp_parse_rcpt(c->args, c->argslen, &r, &e);	/* the check passed it */
	nv = realloc(tx->rcpts, (tx->nrcpt + 1) * sizeof(*nv));
	if (nv)
		tx->rcpts = nv;
	if (nv == NULL || (a = strdup(r.addr)) == NULL) {
		refuse(s, &r_nomem);
		session_count_error(s);
		return;
	}
	tx->rcpts[tx->nrcpt++] = a;
	session_reply(s, 250, "2.1.5", "Ok");
}

/* Common to DATA and a first BDAT: can a message body start now? */
static const struct smtp_reply *body_refusal(const struct session *s)
{
	if (s->tx == NULL)
		return &r_need_mail;
	if (s->tx->nrcpt == 0)
		return s->tx->rcpt_tries ? &r_no_valid_rcpt : &r_need_rcpt;
	return NULL;
}

static int check_data(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;

	if (c->argslen)
		return refuse(s, &r_no_args);
	if (!may_proceed(s, SMTP_DATA))
		return refuse(s, &r_need_mail);
	if ((e = body_refusal(s)) != NULL)
		return refuse(s, e);
	if (s->tx->bdat_started)
		return refuse(s, &r_bdat_data);
	if (!s->authed && session_in_len(s) > 0) {
		/* RFC 2920 §3.1: DATA ends a pipelined group, the client must
		 * wait for the 354. Text already here is a client that does not
		 * read replies (bulk spam, smuggling attempts): refused and
		 * disconnected, as Postfix's smtpd_forbid_unauth_pipelining. A
		 * pipelined MAIL/RCPT/DATA group and BDAT are unaffected. */
		s->why = "unauth_pipelining";
		session_reply(s, 554, "5.5.0", "Error: SMTP protocol synchronization "
			"(message text sent before the 354 reply)");
		session_in_clear(s);
		s->close_reason = "unauth_pipelining";
		return SMTP_CLOSE;
	}
	return 0;
}

static void proceed_data(struct session *s, const struct smtp_cmd *c)
{
	struct delivery_result res;

	(void)c;
	if (begin_delivery(s, &res) != 0) {
		finish_txn(s, &res);
		return;
	}
	start_decoder(s, SMTP_DATA_DOT);
	session_enter_state(s, SMTP_S_DATA);
	session_arm_timer(s);
	session_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

/* Only the arguments: whatever the state, the chunk's octets are read
 * (and dropped if refused), never taken for commands, so the sequence
 * refusal comes after the chunk (proceed_bdat). */
static int check_bdat(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;
	uint64_t size;
	bool last;

	/* No size: nothing to skip; the next line is read as a command. */
	return smtp_parse_bdat(c->args, c->argslen, &size, &last, &e) != 0 ? refuse(s, e) : 0;
}

static void proceed_bdat(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;
	struct delivery_result res;

	smtp_parse_bdat(c->args, c->argslen, &s->bdat_left, &s->bdat_last, &e);
	s->bdat_refusal = NULL;
	if (s->tx == NULL || !s->tx->bdat_started) {
		if ((e = body_refusal(s)) != NULL) {
			s->bdat_refusal = e;
		} else if (begin_delivery(s, &res) != 0) {
			/* Answer the back end's refusal after the chunk. */
			s->tx->txn_failed = true;
			s->tx->txn_res = res;
			s->tx->bdat_started = true;
			start_decoder(s, SMTP_DATA_BINARY);
		} else {
			s->tx->bdat_started = true;
			start_decoder(s, SMTP_DATA_BDAT);
		}
	}
	session_enter_state(s, SMTP_S_BDAT);
	session_arm_timer(s);
}

static void proceed_rset(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_reset_txn(s);
	session_enter_state(s, session_rest_state(s));
	session_reply(s, 250, "2.0.0", "Ok");
}

static void proceed_noop(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_reply(s, 250, "2.0.0", "Ok");
}

static void proceed_quit(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_reply(s, 221, "2.0.0", "Bye");
	session_close(s, "quit");
}

/* Lists what EHLO would offer now: STARTTLS and AUTH only when usable. */
static void proceed_help(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT "
		"HELP VRFY%s%s; see RFC 5321", s->rt->tls && s->tls == NULL ? " STARTTLS" : "",
		session_auth_offered(s) ? " AUTH" : "");
}

static int check_vrfy(struct session *s, const struct smtp_cmd *c)
{
	return c->argslen == 0 ? refuse(s, &r_vrfy_syntax) : 0;
}

static void proceed_vrfy(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_reply(s, 252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

static int check_expn(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	return refuse(s, &r_expn);
}

static int check_starttls(struct session *s, const struct smtp_cmd *c)
{
	struct logline l;

	if (c->argslen)
		return refuse(s, &r_no_args);
	if (s->rt->tls == NULL)
		return refuse(s, &r_tls_unavailable);
	if (s->tls)
		return refuse(s, &r_tls_active);
	if (!may_proceed(s, SMTP_STARTTLS))
		return refuse(s, &r_need_helo);
	if (session_in_len(s) > 0) {
		/* No reply, so no smtp.reject from session_reply: logged here.
		 * Commands sent after STARTTLS in the same plaintext write would
		 * be taken as if they came over TLS (CVE-2011-0411 class): no
		 * answer, the connection closes. */
		if (log_begin(&l, LVL_WARN, "smtp.reject")) {
			log_str(&l, "session", s->id);
			log_str(&l, "client", s->conn.addr);
			log_str(&l, "reason", "starttls_pipelining");
			log_uint(&l, "bytes", session_in_len(s));
			log_end(&l);
		}
		session_in_clear(s);
		s->close_reason = "starttls_pipelining";
		return SMTP_CLOSE;
	}
	return 0;
}

static void proceed_starttls(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_reply(s, 220, "2.0.0", "Ready to start TLS");
	session_flush(s);
	if (session_start_tls(s) != 0) {
		session_close(s, "tls_setup_failed");
		return;
	}
	/* RFC 3207 §4.2: forget everything learned before TLS. */
	session_reset_txn(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	s->authed = false;
	s->user[0] = '\0';
	session_enter_state(s, SMTP_S_CONNECTED);
}

static int check_non_smtp(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	s->why = "non_smtp_command";
	session_reply(s, 421, "4.7.0", "%s Not an SMTP client, closing connection", s->rt->hostname);
	s->close_reason = "non_smtp_command";
	return SMTP_CLOSE;
}

static int check_unknown(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	return refuse(s, &r_unknown);
}

#define RESTING (SMTP_S_BIT(SMTP_S_CONNECTED) | SMTP_S_BIT(SMTP_S_HELO) | SMTP_S_BIT(SMTP_S_MAIL))

static const struct smtp_command commands[] = {
	[SMTP_UNKNOWN] = { SMTP_UNKNOWN, RESTING, check_unknown, NULL },
	[SMTP_HELO] = { SMTP_HELO, RESTING, check_helo, proceed_helo },
	[SMTP_EHLO] = { SMTP_EHLO, RESTING, check_helo, proceed_helo },
	[SMTP_MAIL] = { SMTP_MAIL, SMTP_S_BIT(SMTP_S_HELO), check_mail, proceed_mail },
	[SMTP_RCPT] = { SMTP_RCPT, SMTP_S_BIT(SMTP_S_MAIL), check_rcpt, proceed_rcpt },
	[SMTP_DATA] = { SMTP_DATA, SMTP_S_BIT(SMTP_S_MAIL), check_data, proceed_data },
	[SMTP_BDAT] = { SMTP_BDAT, RESTING, check_bdat, proceed_bdat },
	[SMTP_RSET] = { SMTP_RSET, RESTING, check_no_args, proceed_rset },
	[SMTP_NOOP] = { SMTP_NOOP, RESTING, NULL, proceed_noop },
	[SMTP_QUIT] = { SMTP_QUIT, RESTING | SMTP_S_BIT(SMTP_S_REFUSED), NULL, proceed_quit },
	[SMTP_HELP] = { SMTP_HELP, RESTING, NULL, proceed_help },
	[SMTP_VRFY] = { SMTP_VRFY, RESTING, check_vrfy, proceed_vrfy },
	[SMTP_EXPN] = { SMTP_EXPN, RESTING, check_expn, NULL },
	[SMTP_STARTTLS] = { SMTP_STARTTLS, SMTP_S_BIT(SMTP_S_HELO) | SMTP_S_BIT(SMTP_S_MAIL),
		check_starttls, proceed_starttls },
	[SMTP_AUTH] = { SMTP_AUTH, SMTP_S_BIT(SMTP_S_HELO), session_auth_check, session_auth_proceed },
	[SMTP_NON_SMTP] = { SMTP_NON_SMTP, RESTING, check_non_smtp, NULL },
};

const struct smtp_command *smtp_command_lookup(enum smtp_verb verb)
{
	if ((size_t)verb >= sizeof(commands) / sizeof(commands[0]) || commands[verb].states == 0)
		return &commands[SMTP_UNKNOWN];
	return &commands[verb];
}

void session_dispatch(struct session *s, const char *line, size_t len)
{
	const struct smtp_command *cmd;
	const struct smtp_reply *e;
	struct smtp_cmd c;
	struct logline l;
	int r;

	r = smtp_cmd_split(line, len, &c, &e);
	s->txn_ended = false;
	if (s->shutdown_pending && s->tx == NULL && (r != 0 || c.verb != SMTP_QUIT)) {
		/* Draining: the transaction in progress when it began has
		 * ended (or there was none); QUIT still gets its 221. */
		s->why = "shutdown";
		session_reply(s, 421, "4.3.2", "%s Service shutting down", s->rt->hostname);
		session_close(s, "shutdown");
		return;
	}
	if (r != 0) {
		refuse(s, e);
		session_count_error(s);
		return;
	}
	if (log_begin(&l, LVL_DEBUG, "smtp.command")) {
		log_str(&l, "session", s->id);
		log_str(&l, "verb", smtp_verb_name(c.verb));
		log_end(&l);
	}
	cmd = smtp_command_lookup(c.verb);
	s->verb = c.verb;
	/* RFC 5321 §3.1: after a 554 greeting only QUIT is served. */
	if (s->state == SMTP_S_REFUSED && !(cmd->states & SMTP_S_BIT(SMTP_S_REFUSED)))
		r = refuse(s, &r_refused);
	else
		r = cmd->check ? cmd->check(s, &c) : 0;
	if (r == 0 && cmd->proceed)
		cmd->proceed(s, &c);
	else if (r == SMTP_REFUSED)
		session_count_error(s);
	else if (r == SMTP_CLOSE)
		session_close(s, s->close_reason);
	s->verb = SMTP_UNKNOWN;
}
