/* The SMTP command table: each verb checks its preconditions in a fixed
 * order (sequence, then policy, then syntax) and either refuses with one
 * reply or moves the session on. The mail transaction (MAIL, RCPT, DATA,
 * BDAT) and its hand-off to the back end live here too. */
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
static const struct smtp_reply r_size = { 552, "5.3.4", "Message size exceeds fixed maximum message size" };
static const struct smtp_reply r_unknown = { 500, "5.5.2", "Error: command not recognized" };
static const struct smtp_reply r_no_args = { 501, "5.5.4", "Syntax error: no arguments allowed" };
static const struct smtp_reply r_vrfy_syntax = { 501, "5.5.4", "Syntax: VRFY address" };
static const struct smtp_reply r_expn = { 502, "5.5.1", "Error: EXPN not supported" };
static const struct smtp_reply r_tls_active = { 503, "5.5.1", "Error: TLS already active" };
static const struct smtp_reply r_refused = { 503, "5.5.1", "Error: access denied, send QUIT" };
static const struct smtp_reply r_nomem = { 451, "4.3.0", "Temporary failure: out of memory" };

void session_log_txn(struct session *s, const struct delivery_result *res, uint64_t size)
{
	struct logline l;

	metrics_smtp_txn(res->code, size, s->nrcpt);
	if (!log_begin(&l, res->code < 400 ? LVL_INFO : LVL_WARN, "smtp.txn"))
		return;
	log_str(&l, "session", s->id);
	log_str(&l, "client", s->conn.addr);
	log_str(&l, "from", s->mail.addr);
	log_uint(&l, "nrcpt", s->nrcpt);
	log_uint(&l, "size", size);
	log_int(&l, "code", res->code);
	log_str(&l, "enhanced", res->enhanced);
	if (res->message_id[0])
		log_str(&l, "message_id", res->message_id);
	if (res->error_code[0])
		log_str(&l, "error_code", res->error_code);
	if (res->code >= 400)
		log_str(&l, "reason", res->text);
	log_double(&l, "smtp_seconds", (double)(uv_now(s->srv->loop) - s->t_mail) / 1000.0);
	log_double(&l, "backend_seconds", res->backend_seconds);
	log_end(&l);
}

void session_reset_txn(struct session *s)
{
	if (s->txn) {
		s->be->ops->abort(s->txn);
		s->txn = NULL;
	}
	for (size_t i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpt = 0;
	s->rcpt_tries = 0;
	s->has_mail = false;
	s->txn_failed = false;
	s->committing = false;
	s->bdat_started = false;
	buf_reset(&s->dbuf);
}

/* ---- Received: header (RFC 5321 §4.4) ---- */

static void received_header(struct session *s, struct buf *b)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	char proto[16];

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* RFC 3848 / RFC 6531 protocol names */
	snprintf(proto, sizeof(proto), "%s%s%s",
		s->mail.smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP",
		s->tls_done && (s->esmtp || s->mail.smtputf8) ? "S" : "",
		s->authed ? "A" : "");
	buf_printf(b, "Received: from %s (unknown [%s%s])\r\n\tby %s (sesrelay) with %s id %s",
		s->has_helo ? s->helo : "unknown", s->conn.ipv6 ? "IPv6:" : "", s->conn.addr,
		s->rt->hostname, proto, s->id);
	if (s->tls_done)
		buf_printf(b, "\r\n\t(using %s with cipher %s)", tls_conn_version(s->tls),
			tls_conn_cipher(s->tls));
	if (s->nrcpt == 1)
		buf_printf(b, "\r\n\tfor <%s>", s->rcpts[0]);
	buf_printf(b, "; %s\r\n", date);
}

static void deliver_write(struct session *s, const char *p, size_t n)
{
	if (s->txn == NULL || s->txn_failed || n == 0)
		return;
	if (s->be->ops->write(s->txn, p, n, &s->txn_res) != 0)
		s->txn_failed = true;
}

/* Open the back end transaction; on refusal the reply is in *res. */
static int begin_delivery(struct session *s, struct delivery_result *res)
{
	struct envelope env;
	struct buf hdr = BUF_INIT;
	int r;

	memset(&env, 0, sizeof(env));
	env.mail_from = s->mail.addr;
	env.rcpts = (const char *const *)s->rcpts;
	env.nrcpt = s->nrcpt;
	env.declared_size = s->mail.has_size ? s->mail.size : 0;
	env.smtputf8 = s->mail.smtputf8;
	env.body_8bit = s->mail.body == SMTP_BODY_8BITMIME;
	env.session_id = s->id;
	env.client_addr = s->conn.addr;
	memset(res, 0, sizeof(*res));
	r = s->be->ops->begin(s->be, &env, &s->txn, res);
	if (r) {
		s->txn = NULL;
		if (res->code == 0)
			delivery_result_set(res, 451, "4.3.0", "Temporary failure, try again later");
		return r;
	}
	s->txn_failed = false;
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
	smtp_data_init(&s->dec, &lim, mode);
}

static void finish_txn(struct session *s, const struct delivery_result *res)
{
	session_reply(s, res->code, res->enhanced, "%s", res->text);
	session_log_txn(s, res, s->dec.size);
	session_reset_txn(s);
}

static void on_committed(void *arg, const struct delivery_result *res)
{
	struct session *s = arg;

	s->txn = NULL;		/* the back end freed it */
	s->committing = false;
	s->waiting = false;
	finish_txn(s, res);
	session_arm_timer(s);
	session_process(s);
}

/* The whole message has been read (DATA end marker, or BDAT LAST). */
static void end_of_message(struct session *s)
{
	struct delivery_result res;

	s->mode = M_CMD;
	session_arm_timer(s);
	if (s->dec.err != SMTP_DATA_OK) {
		const struct smtp_reply *e = smtp_data_error_reply(s->dec.err);
		delivery_result_set(&res, e->code, e->enhanced, e->text);
		finish_txn(s, &res);
		return;
	}
	if (s->txn_failed) {
		res = s->txn_res;
		finish_txn(s, &res);
		return;
	}
	memset(&res, 0, sizeof(res));
	s->committing = true;
	s->waiting = true;
	session_arm_timer(s);	/* stops it: the client is not the slow one now */
	if (s->be->ops->commit(s->txn, on_committed, s, &res) != 0) {
		s->txn = NULL;
		s->committing = false;
		s->waiting = false;
		session_arm_timer(s);
		if (res.code == 0)
			delivery_result_set(&res, 451, "4.3.0", "Temporary failure, try again later");
		finish_txn(s, &res);
	}
}

/* After a BDAT chunk's octets have all been read. */
static void end_of_chunk(struct session *s)
{
	if (s->bdat_refusal) {
		const struct smtp_reply *r = s->bdat_refusal;
		s->bdat_refusal = NULL;
		s->mode = M_CMD;
		session_arm_timer(s);
		session_error(s, r);
		return;
	}
	if (s->bdat_last) {
		smtp_data_finish(&s->dec, &s->dbuf);
		deliver_write(s, s->dbuf.data, s->dbuf.len);
		buf_reset(&s->dbuf);
		end_of_message(s);
		return;
	}
	s->mode = M_CMD;
	session_arm_timer(s);
	if (s->dec.err != SMTP_DATA_OK || s->txn_failed) {
		/* RFC 3030 §2: the transaction has failed; later chunks of it
		 * are read and refused as out of sequence. */
		end_of_message(s);
		return;
	}
	session_reply(s, 250, "2.0.0", "%llu octets received",
		(unsigned long long)s->dec.size);
}

void session_data_input(struct session *s)
{
	if (s->mode == M_DATA) {
		size_t n = smtp_data_feed(&s->dec, session_in(s), session_in_len(s), &s->dbuf);
		session_in_consume(s, n, false);
		deliver_write(s, s->dbuf.data, s->dbuf.len);
		buf_reset(&s->dbuf);
		if (s->dec.done)
			end_of_message(s);
		return;
	}
	/* M_BDAT */
	if (s->bdat_left > 0) {
		size_t avail = session_in_len(s);
		size_t n = avail < s->bdat_left ? avail : (size_t)s->bdat_left;
		if (s->bdat_refusal == NULL) {
			smtp_data_feed(&s->dec, session_in(s), n, &s->dbuf);
			deliver_write(s, s->dbuf.data, s->dbuf.len);
			buf_reset(&s->dbuf);
		}
		session_in_consume(s, n, false);
		s->bdat_left -= n;
	}
	if (s->bdat_left == 0)
		end_of_chunk(s);
}

/* ---- commands ---- */

static bool has_args(struct session *s, const struct smtp_cmd *c)
{
	if (c->argslen == 0)
		return false;
	session_error(s, &r_no_args);
	return true;
}

static void cmd_helo(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;
	bool ehlo = c->verb == SMTP_EHLO;

	if (smtp_parse_helo(c->args, c->argslen, &e) != 0) {
		session_error(s, e);
		return;
	}
	session_reset_txn(s);
	memcpy(s->helo, c->args, c->argslen);
	s->helo[c->argslen] = '\0';
	s->has_helo = true;
	s->esmtp = ehlo;
	if (!ehlo) {
		session_reply(s, 250, NULL, "%s", s->rt->hostname);
		return;
	}
	buf_printf(&s->out, "250-%s\r\n", s->rt->hostname);
	session_reply_raw(s, "250-PIPELINING");
	buf_printf(&s->out, "250-SIZE %llu\r\n", (unsigned long long)session_max_size(s));
	session_reply_raw(s, "250-8BITMIME");
	session_reply_raw(s, "250-SMTPUTF8");
	session_reply_raw(s, "250-CHUNKING");
	if (s->rt->tls && s->tls == NULL)
		session_reply_raw(s, "250-STARTTLS");
	if (session_auth_offered(s))
		session_reply_raw(s, "250-AUTH PLAIN LOGIN");
	session_reply_raw(s, "250 ENHANCEDSTATUSCODES");
}

static void log_policy(struct session *s, const char *reason)
{
	struct logline l;

	if (log_begin(&l, LVL_INFO, "smtp.reject")) {
		log_str(&l, "session", s->id);
		log_str(&l, "client", s->conn.addr);
		log_str(&l, "reason", reason);
		log_end(&l);
	}
}

static bool sender_allowed(const struct session *s, const char *addr)
{
	const struct strlist *l = &s->rt->cfg.allow_senders;

	if (l->n == 0)
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (smtp_sender_matches(addr, l->v[i]))
			return true;
	return false;
}

static void cmd_mail(struct session *s, const struct smtp_cmd *c)
{
	const struct config *cfg = &s->rt->cfg;
	const struct smtp_reply *e;
	struct smtp_mail m;

	if (!s->has_helo) {
		session_error(s, &r_need_helo);
		return;
	}
	if (s->has_mail) {
		session_error(s, &r_nested);
		return;
	}
	if (cfg->require_tls && !s->tls_done) {
		log_policy(s, "tls_required");
		session_error(s, &r_need_tls);
		return;
	}
	if ((cfg->require_auth || s->must_auth) && !s->authed) {
		log_policy(s, s->must_auth ? "network_needs_auth" : "auth_required");
		session_error(s, &r_need_auth);
		return;
	}
	if (s->ntxn >= cfg->max_transactions) {
		session_reply(s, 421, "4.7.0", "%s Too many transactions, closing connection",
			s->rt->hostname);
		session_close(s, "max_transactions");
		return;
	}
	if (smtp_parse_mail(c->args, c->argslen, &m, &e) != 0) {
		session_error(s, e);
		return;
	}
	if (m.has_size && m.size > session_max_size(s)) {
		session_error(s, &r_size);
		return;
	}
	if (!sender_allowed(s, m.addr)) {
		struct logline l;
		if (log_begin(&l, LVL_WARN, "smtp.reject")) {
			log_str(&l, "session", s->id);
			log_str(&l, "client", s->conn.addr);
			log_str(&l, "reason", "sender_not_allowed");
			log_str(&l, "from", m.addr);
			log_end(&l);
		}
		session_error(s, &r_sender);
		return;
	}
	s->mail = m;
	s->has_mail = true;
	s->ntxn++;
	s->t_mail = uv_now(s->srv->loop);
	session_reply(s, 250, "2.1.0", "Ok");
}

static void cmd_rcpt(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;
	struct smtp_rcpt r;
	char **nv, *a;

	if (!s->has_mail) {
		session_error(s, &r_need_mail);
		return;
	}
	s->rcpt_tries++;
	if (smtp_parse_rcpt(c->args, c->argslen, s->mail.smtputf8, &r, &e) != 0) {
		session_error(s, e);
		return;
	}
	if (s->nrcpt >= s->rt->cfg.max_recipients) {
		session_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	nv = realloc(s->rcpts, (s->nrcpt + 1) * sizeof(*nv));
	if (nv == NULL || (a = strdup(r.addr)) == NULL) {
		if (nv)
			s->rcpts = nv;
		session_error(s, &r_nomem);
		return;
	}
	s->rcpts = nv;
	s->rcpts[s->nrcpt++] = a;
	session_reply(s, 250, "2.1.5", "Ok");
}

/* Common to DATA and a first BDAT: can a message body start now? */
static const struct smtp_reply *body_refusal(struct session *s)
{
	if (!s->has_mail)
		return &r_need_mail;
	if (s->nrcpt == 0)
		return s->rcpt_tries ? &r_no_valid_rcpt : &r_need_rcpt;
	return NULL;
}

static void cmd_data(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;
	struct delivery_result res;

	if (has_args(s, c))
		return;
	if ((e = body_refusal(s)) != NULL) {
		session_error(s, e);
		return;
	}
	if (s->bdat_started) {
		session_error(s, &r_bdat_data);
		return;
	}
	if (begin_delivery(s, &res) != 0) {
		finish_txn(s, &res);
		return;
	}
	start_decoder(s, SMTP_DATA_DOT);
	s->mode = M_DATA;
	session_arm_timer(s);
	session_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

static void cmd_bdat(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;
	struct delivery_result res;
	uint64_t size;
	bool last;

	if (smtp_parse_bdat(c->args, c->argslen, &size, &last, &e) != 0) {
		/* No size: nothing to skip; the next line is read as a command. */
		session_error(s, e);
		return;
	}
	s->mode = M_BDAT;
	s->bdat_left = size;
	s->bdat_last = last;
	s->bdat_refusal = NULL;
	/* Whatever the verdict, the chunk's octets are read (and dropped if
	 * refused): they are never taken for commands. */
	if (!s->bdat_started) {
		if ((e = body_refusal(s)) != NULL) {
			s->bdat_refusal = e;
		} else if (begin_delivery(s, &res) != 0) {
			/* Answer the back end's refusal after the chunk. */
			s->txn_failed = true;
			s->txn_res = res;
			s->bdat_started = true;
			start_decoder(s, SMTP_DATA_BINARY);
		} else {
			s->bdat_started = true;
			start_decoder(s, SMTP_DATA_BDAT);
		}
	}
	session_arm_timer(s);
}

static void cmd_rset(struct session *s, const struct smtp_cmd *c)
{
	if (has_args(s, c))
		return;
	session_reset_txn(s);
	session_reply(s, 250, "2.0.0", "Ok");
}

static void cmd_starttls(struct session *s, const struct smtp_cmd *c)
{
	struct logline l;

	if (has_args(s, c))
		return;
	if (s->rt->tls == NULL) {
		session_error3(s, 454, "4.7.0", "TLS not available");
		return;
	}
	if (s->tls) {
		session_error(s, &r_tls_active);
		return;
	}
	if (!s->has_helo) {
		session_error(s, &r_need_helo);
		return;
	}
	if (session_in_len(s) > 0) {
		/* Commands sent after STARTTLS in the same plaintext write would
		 * be taken as if they came over TLS (CVE-2011-0411 class). */
		if (log_begin(&l, LVL_WARN, "smtp.reject")) {
			log_str(&l, "session", s->id);
			log_str(&l, "client", s->conn.addr);
			log_str(&l, "reason", "starttls_pipelining");
			log_uint(&l, "bytes", session_in_len(s));
			log_end(&l);
		}
		session_in_clear(s);
		session_close(s, "starttls_pipelining");
		return;
	}
	session_reply(s, 220, "2.0.0", "Ready to start TLS");
	session_flush(s);
	if (session_start_tls(s) != 0) {
		session_close(s, "tls_setup_failed");
		return;
	}
	/* RFC 3207 §4.2: forget everything learned before TLS. */
	session_reset_txn(s);
	s->has_helo = false;
	s->esmtp = false;
	s->authed = false;
	s->user[0] = '\0';
}

void session_dispatch(struct session *s, const char *line, size_t len)
{
	const struct smtp_reply *e;
	struct smtp_cmd c;
	struct logline l;

	if (smtp_cmd_split(line, len, &c, &e) != 0) {
		session_error(s, e);
		return;
	}
	if (log_begin(&l, LVL_DEBUG, "smtp.command")) {
		log_str(&l, "session", s->id);
		log_str(&l, "verb", smtp_verb_name(c.verb));
		log_end(&l);
	}
	if (s->refused && c.verb != SMTP_QUIT) {
		session_error(s, &r_refused);
		return;
	}
	switch (c.verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		cmd_helo(s, &c);
		break;
	case SMTP_MAIL:
		cmd_mail(s, &c);
		break;
	case SMTP_RCPT:
		cmd_rcpt(s, &c);
		break;
	case SMTP_DATA:
		cmd_data(s, &c);
		break;
	case SMTP_BDAT:
		cmd_bdat(s, &c);
		break;
	case SMTP_RSET:
		cmd_rset(s, &c);
		break;
	case SMTP_NOOP:
		session_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_QUIT:
		session_reply(s, 221, "2.0.0", "Bye");
		session_close(s, "quit");
		break;
	case SMTP_HELP:
		session_reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT "
			"HELP VRFY STARTTLS AUTH; see RFC 5321");
		break;
	case SMTP_VRFY:
		if (c.argslen == 0)
			session_error(s, &r_vrfy_syntax);
		else
			session_reply(s, 252, "2.5.0",
				"Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case SMTP_EXPN:
		session_error(s, &r_expn);
		break;
	case SMTP_STARTTLS:
		cmd_starttls(s, &c);
		break;
	case SMTP_AUTH:
		session_auth_cmd(s, c.args, c.argslen);
		break;
	case SMTP_NON_SMTP:
		if (log_begin(&l, LVL_WARN, "smtp.reject")) {
			log_str(&l, "session", s->id);
			log_str(&l, "client", s->conn.addr);
			log_str(&l, "reason", "non_smtp_command");
			log_end(&l);
		}
		session_reply(s, 421, "4.7.0", "%s Not an SMTP client, closing connection",
			s->rt->hostname);
		session_close(s, "non_smtp_command");
		break;
	case SMTP_UNKNOWN:
		session_error(s, &r_unknown);
		break;
	}
}
