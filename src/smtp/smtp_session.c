#include "smtp_session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"
#include "metrics.h"
#include "netacl.h"
#include "smtp_reply.h"
#include "smtp_session_int.h"
#include "tls.h"

/* Stop reading while this much output waits for the client, or this much
 * input waits for us (while the back end or a password check runs). */
#define OUT_HIGH_WATER (1024u * 1024u)
#define IN_HIGH_WATER (256u * 1024u)

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *b);
static void update_reading(struct session *s);

uint64_t session_max_size(const struct session *s)
{
	uint64_t m = s->rt->cfg.max_message_size;

	if (s->be->max_message_size && s->be->max_message_size < m)
		m = s->be->max_message_size;
	return m;
}

void session_size_reply(const struct session *s, struct smtp_reply *r, char *text, size_t n)
{
	uint64_t m = session_max_size(s);
	bool backend = s->be->max_message_size == m && s->be->size_note;

	/* The limit, and whose it is: a client (and its operator) can tell
	 * a message to split from a relay set-up to change. */
	snprintf(text, n, "Message size exceeds the limit of %llu octets%s%s%s",
		(unsigned long long)m, backend ? " (" : "", backend ? s->be->size_note : "",
		backend ? ")" : "");
	r->code = 552;
	r->enhanced = "5.3.4";
	r->text = text;
}

/* ---- output ---- */

struct wreq {
	uv_write_t req;
	struct session *s;
	size_t len;
	char data[];
};

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct session *s = w->s;

	s->write_queued -= w->len;
	free(w);
	if (status < 0 && !s->closing) {
		session_close(s, "write_error");
		return;
	}
	if (!s->closing)
		update_reading(s);
}

static void write_raw(struct session *s, const char *p, size_t n)
{
	struct wreq *w;
	uv_buf_t b;

	if (n == 0)
		return;
	w = malloc(sizeof(*w) + n);
	if (w == NULL) {
		session_close(s, "out_of_memory");
		return;
	}
	w->s = s;
	w->len = n;
	memcpy(w->data, p, n);
	b = uv_buf_init(w->data, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&s->conn.tcp, &b, 1, on_write) != 0) {
		free(w);
		session_close(s, "write_error");	/* re-entry safe */
		return;
	}
	s->write_queued += n;
}

static void tls_flush(struct session *s)
{
	if (s->tls == NULL)
		return;
	buf_reset(&s->tlsout);
	if (tls_conn_pending_output(s->tls, &s->tlsout) == 0)
		write_raw(s, s->tlsout.data, s->tlsout.len);
	buf_reset(&s->tlsout);
}

void session_flush(struct session *s)
{
	if (s->out.len == 0)
		return;
	if (s->tls) {
		int r = tls_conn_write(s->tls, s->out.data, s->out.len);
		tls_flush(s);
		buf_reset(&s->out);
		if (r != 0)
			session_close(s, "tls_write_error");
		return;
	}
	write_raw(s, s->out.data, s->out.len);
	buf_reset(&s->out);
}

static const char *const state_names[] = {
	[SMTP_S_NEW] = "new",
	[SMTP_S_REFUSED] = "refused",
	[SMTP_S_CONNECTED] = "connected",
	[SMTP_S_HELO] = "helo",
	[SMTP_S_MAIL] = "mail",
	[SMTP_S_DATA] = "data",
	[SMTP_S_BDAT] = "bdat",
	[SMTP_S_COMMIT] = "commit",
	[SMTP_S_AUTH_PLAIN] = "auth_plain",
	[SMTP_S_AUTH_LOGIN_USER] = "auth_login_user",
	[SMTP_S_AUTH_LOGIN_PASS] = "auth_login_pass",
	[SMTP_S_AUTH_VERIFY] = "auth_verify",
	[SMTP_S_QUIT] = "quit",
};

void session_enter_state(struct session *s, enum smtp_state st)
{
	struct logline l;

	if (st == s->state)
		return;
	if (log_begin(&l, LVL_DEBUG, "smtp.state")) {
		log_str(&l, "session", s->id);
		log_str(&l, "from", state_names[s->state]);
		log_str(&l, "to", state_names[st]);
		log_end(&l);
	}
	s->state = st;
}

enum smtp_state session_rest_state(const struct session *s)
{
	if (s->tx)
		return SMTP_S_MAIL;
	return s->helo[0] ? SMTP_S_HELO : SMTP_S_CONNECTED;
}

void session_reply(struct session *s, int code, const char *enhanced, const char *fmt, ...)
{
	/* RFC 2034 §3: the greeting and the answer to HELO/EHLO carry none. */
	bool exempt = s->state == SMTP_S_NEW || s->verb == SMTP_HELO || s->verb == SMTP_EHLO;
	char text[1024];
	struct logline l;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Every refusal, once, where an operator looks (info): a success is
	 * in smtp.txn or needs no line, and a line per reply would double
	 * the log of a pipelining client. */
	if (code >= 400 && !s->txn_reply && log_begin(&l, LVL_INFO, "smtp.reject")) {
		log_str(&l, "session", s->id);
		log_str(&l, "client", s->conn.addr);
		if (s->authed)
			log_str(&l, "user", s->user);
		if (s->verb != SMTP_UNKNOWN)
			log_str(&l, "command", smtp_verb_name(s->verb));
		else
			log_str(&l, "state", state_names[s->state]);
		log_int(&l, "code", code);
		if (enhanced)
			log_str(&l, "enhanced", enhanced);
		if (s->why)
			log_str(&l, "why", s->why);
		log_str(&l, "reason", text);
		log_end(&l);
	}
	s->why = NULL;
	if (smtp_reply_format(&s->out, code, enhanced, exempt, text) != 0)
		session_close(s, "out_of_memory");
}

void session_count_error(struct session *s)
{
	if (++s->errors < s->rt->cfg.max_errors || s->closing)
		return;
	s->why = "too_many_errors";
	session_reply(s, 421, "4.7.0", "%s Too many errors, closing connection", s->rt->hostname);
	session_close(s, "too_many_errors");
}

/* ---- lifecycle ---- */

static void on_handle_closed(uv_handle_t *h)
{
	struct session *s = h->data;

	if (--s->handles_open > 0)
		return;
	metrics_connection_closed();
	session_reset_txn(s);
	tls_conn_free(s->tls);
	buf_free_secret(&s->in);
	buf_free_secret(&s->line);
	buf_free(&s->out);
	buf_free(&s->tlsout);
	buf_free_secret(&s->login_user);
	runtime_unref(s->rt);
	listener_conn_free(&s->conn);
}

static void close_handles(struct session *s)
{
	if (s->handles_open != 2 || uv_is_closing((uv_handle_t *)&s->conn.tcp))
		return;
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->conn.tcp, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct session *s = req->data;

	free(req);
	close_handles(s);
}

/* Stop taking input, drop the transaction, write what is queued, then
 * close. Safe to call more than once (later calls only finish the job). */
void session_close(struct session *s, const char *reason)
{
	struct logline l;
	uv_shutdown_t *req;

	s->closing = true;
	if (!s->close_started) {
		s->close_started = true;
		if (log_begin(&l, LVL_INFO, "smtp.disconnect")) {
			log_str(&l, "session", s->id);
			log_str(&l, "client", s->conn.addr);
			log_str(&l, "reason", reason ? reason : "closed");
			log_uint(&l, "transactions", s->ntxn);
			log_end(&l);
		}
		session_auth_cancel(s);
		session_reset_txn(s);
		uv_timer_stop(&s->timer);
		uv_read_stop((uv_stream_t *)&s->conn.tcp);
		s->reading = false;
		session_enter_state(s, SMTP_S_QUIT);
	}
	if (s->shut_requested)
		return;
	s->shut_requested = true;
	session_flush(s);
	/* An orderly TLS close (RFC 8446 §6.1): close_notify after the last
	 * reply, so strict clients see the end of the data, not a
	 * truncation. Only after a completed handshake (there is no session
	 * to close before) and not after a TLS error. */
	if (s->tls && tls_conn_handshake_done(s->tls) && tls_conn_shutdown(s->tls) == 0)
		tls_flush(s);
	req = malloc(sizeof(*req));
	if (req) {
		req->data = s;
		if (uv_shutdown(req, (uv_stream_t *)&s->conn.tcp, on_shutdown) == 0)
			return;
		free(req);
	}
	close_handles(s);
}

static void on_timeout(uv_timer_t *t)
{
	struct session *s = t->data;

	s->why = "timeout";	/* the smtp.reject line names the state it waited in */
	session_reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->rt->hostname);
	session_close(s, "timeout");
}

void session_arm_timer(struct session *s)
{
	unsigned secs = session_in_body(s) ? s->rt->cfg.timeout_data : s->rt->cfg.timeout_command;

	if (s->closing)
		return;
	if (session_waiting(s))
		uv_timer_stop(&s->timer);
	else
		uv_timer_start(&s->timer, on_timeout, (uint64_t)secs * 1000, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)h;
	(void)hint;
	b->base = malloc(65536);
	b->len = b->base ? 65536 : 0;
}

static void update_reading(struct session *s)
{
	bool want = !s->closing && !s->eof && s->write_queued < OUT_HIGH_WATER &&
		(!session_waiting(s) || session_in_len(s) < IN_HIGH_WATER);

	if (want && !s->reading) {
		if (uv_read_start((uv_stream_t *)&s->conn.tcp, on_alloc, on_read) == 0)
			s->reading = true;
	} else if (!want && s->reading) {
		uv_read_stop((uv_stream_t *)&s->conn.tcp);
		s->reading = false;
	}
}

static void send_greeting(struct session *s)
{
	session_reply(s, 220, NULL, "%s ESMTP sesrelay", s->rt->hostname);
	session_enter_state(s, SMTP_S_CONNECTED);
}

static void tls_established(struct session *s)
{
	struct logline l;

	s->tls_done = true;
	if (log_begin(&l, LVL_INFO, "smtp.tls")) {
		log_str(&l, "session", s->id);
		log_str(&l, "version", tls_conn_version(s->tls));
		log_str(&l, "cipher", tls_conn_cipher(s->tls));
		log_bool(&l, "implicit", s->implicit_tls);
		log_end(&l);
	}
	if (s->implicit_tls && s->state == SMTP_S_NEW)
		send_greeting(s);
}

/* STARTTLS accepted (the 220 is already flushed) or implicit TLS. */
int session_start_tls(struct session *s)
{
	struct tls_conn *c;
	int r = tls_conn_new(s->rt->tls, &c);

	if (r)
		return r;
	s->tls = c;
	s->tls_done = false;
	return 0;
}

/* ---- input ---- */

/* How long a command line may be, CRLF included. SASL responses are
 * longer than commands (RFC 4954 §4). */
static size_t line_limit(const struct session *s)
{
	size_t lim = s->rt->cfg.max_command_length;

	if (session_in_sasl(s) ||
	    (session_in_len(s) >= 5 && strncasecmp(session_in(s), "AUTH ", 5) == 0)) {
		if (lim < AUTH_SASL_MAX_B64 + 32)
			lim = AUTH_SASL_MAX_B64 + 32;
	}
	return lim;
}

static bool secret_mode(const struct session *s)
{
	return session_in_sasl(s) ||
		(session_in_len(s) >= 5 && strncasecmp(session_in(s), "AUTH ", 5) == 0);
}

/* Drop the first n input bytes, wiping them if they may hold a password. */
void session_in_consume(struct session *s, size_t n, bool wipe)
{
	if (n == 0)
		return;
	if (wipe)
		OPENSSL_cleanse(s->in.data + s->in_off, n);
	s->in_off += n;
	if (s->in_off >= s->in.len)
		session_in_clear(s);
}

void session_in_clear(struct session *s)
{
	buf_reset(&s->in);
	s->in_off = 0;
}

static void compact_input(struct session *s)
{
	if (s->in_off) {
		buf_consume(&s->in, s->in_off);
		s->in_off = 0;
	}
}

static void consume(struct session *s, size_t n, bool wipe)
{
	session_in_consume(s, n, wipe);
}

static void too_long(struct session *s)
{
	session_reply(s, 500, "5.5.6", "Line too long");
	session_count_error(s);
}

/* One command line out of s->in; false when more input is needed. */
static bool command_input(struct session *s)
{
	const char *in = session_in(s);
	size_t avail = session_in_len(s);
	const char *nl = memchr(in, '\n', avail);
	size_t lim = line_limit(s), len;
	bool wipe = secret_mode(s);

	if (s->discarding) {
		if (nl == NULL) {
			consume(s, avail, wipe);
			return false;
		}
		consume(s, (size_t)(nl - in) + 1, wipe);
		s->discarding = false;
		if (session_in_sasl(s))	/* an over-long SASL line ends the exchange */
			session_enter_state(s, session_rest_state(s));
		too_long(s);
		return true;
	}
	if (nl == NULL) {
		if (avail > lim) {
			s->discarding = true;
			consume(s, avail, wipe);
		}
		return false;
	}
	len = (size_t)(nl - in);
	if (len == 0 || in[len - 1] != '\r') {
		/* RFC 5321 §2.3.8: a command ends in CRLF. A bare LF is how
		 * parsers are told apart (smuggling), so it is refused, never
		 * guessed at (Postfix's smtpd_forbid_bare_newline). */
		consume(s, len + 1, wipe);
		if (session_in_sasl(s))
			session_enter_state(s, session_rest_state(s));
		session_reply(s, 500, "5.5.2", "Error: bare <LF> received; end commands with <CR><LF>");
		session_count_error(s);
		return true;
	}
	len--;
	if (len + 2 > lim) {
		consume(s, (size_t)(nl - in) + 1, wipe);
		if (session_in_sasl(s))
			session_enter_state(s, session_rest_state(s));
		too_long(s);
		return true;
	}
	buf_reset(&s->line);
	if (buf_append(&s->line, in, len) != 0) {
		session_close(s, "out_of_memory");
		return false;
	}
	consume(s, (size_t)(nl - in) + 1, wipe);
	if (session_in_sasl(s))
		session_auth_line(s, s->line.data, len);
	else
		session_dispatch(s, s->line.data, len);
	if (wipe)
		OPENSSL_cleanse(s->line.data, s->line.len);
	if (!session_waiting(s) && !s->closing)
		session_arm_timer(s);
	return true;
}

void session_process(struct session *s)
{
	while (!s->closing && !session_waiting(s)) {
		if (session_in_body(s)) {
			size_t before = session_in_len(s);
			if (s->state == SMTP_S_BDAT && s->bdat_left == 0) {
				session_data_input(s);
				continue;
			}
			if (before == 0)
				break;
			session_data_input(s);
			if (session_in_len(s) == before && session_in_body(s))
				break;
			continue;
		}
		if (session_in_len(s) == 0 || !command_input(s))
			break;
	}
	if (s->closing) {
		session_close(s, NULL);
		return;
	}
	session_flush(s);
	if (s->eof && !session_waiting(s)) {
		session_close(s, "client_closed");
		return;
	}
	update_reading(s);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *b)
{
	struct session *s = h->data;

	if (nread == 0 || s->closing) {
		free(b->base);
		return;
	}
	if (nread < 0) {
		free(b->base);
		if (nread == UV_EOF) {
			/* A FIN may be a half-close (the client still reads):
			 * answer what it sent, including a commit in flight. A
			 * reset or error below is a client gone for good. */
			s->eof = true;
			uv_read_stop(h);
			s->reading = false;
			session_process(s);
			return;
		}
		session_close(s, nread == UV_EOF ? "client_closed" : uv_err_name((int)nread));
		return;
	}
	compact_input(s);
	if (s->tls) {
		int r = tls_conn_feed(s->tls, b->base, (size_t)nread);
		if (r == 0)
			r = tls_conn_read(s->tls, &s->in);
		tls_flush(s);
		if (!s->tls_done && tls_conn_handshake_done(s->tls))
			tls_established(s);
		if (r < 0 && r != -ECONNRESET) {
			struct logline l;
			if (log_begin(&l, LVL_WARN, "smtp.tls")) {
				log_str(&l, "session", s->id);
				log_str(&l, "error", tls_conn_error(s->tls));
				log_end(&l);
			}
		}
		if (r < 0) {
			free(b->base);
			session_close(s, r == -ECONNRESET ? "client_closed" : "tls_error");
			return;
		}
	} else if (buf_append(&s->in, b->base, (size_t)nread) != 0) {
		free(b->base);
		session_close(s, "out_of_memory");
		return;
	}
	free(b->base);
	/* Message data restarts the clock on progress (RFC 5321 §4.5.3.2.6);
	 * a command must be complete within timeout_command of its start, so
	 * trickling bytes does not hold a connection open. */
	if (!session_waiting(s) && session_in_body(s))
		session_arm_timer(s);
	session_process(s);
}

/* ---- accept ---- */

static void reject_at_connect(struct session *s, int code, const char *enh,
	const char *text, const char *reason)
{
	metrics_connection_refused(reason);
	s->why = reason;
	/* Plain text even on an implicit-TLS port: nothing else is possible
	 * before a handshake, and the client learns why. */
	session_reply(s, code, enh, "%s %s", s->rt->hostname, text);
	session_close(s, reason);
}

void session_accept(struct smtp_server *srv, struct listener_conn *c, enum listener_verdict v)
{
	struct session *s = (struct session *)c;
	unsigned char rnd[8];
	struct logline l;

	s->srv = srv;
	s->rt = runtime_ref(srv->rt);
	s->be = srv->be;
	s->implicit_tls = c->tag == SMTP_TAG_IMPLICIT_TLS;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
	uv_timer_init(srv->loop, &s->timer);
	s->conn.tcp.data = s;
	s->timer.data = s;
	s->handles_open = 2;
	metrics_connection_opened();
	if (log_begin(&l, LVL_INFO, "smtp.connect")) {
		log_str(&l, "session", s->id);
		log_str(&l, "client", s->conn.addr);
		log_int(&l, "port", s->conn.port);
		log_bool(&l, "tls", s->implicit_tls);
		if (srv->worker >= 0)
			log_uint(&l, "worker", (unsigned)srv->worker);
		log_end(&l);
	}
	if (v == LISTENER_OVER_TOTAL) {
		reject_at_connect(s, 421, "4.3.2", "Too many connections, try again later",
			"max_connections");
		return;
	}
	if (v == LISTENER_OVER_PER_IP) {
		reject_at_connect(s, 421, "4.7.0", "Too many connections from your address",
			"max_connections_per_ip");
		return;
	}
	if (!netacl_allows(s->rt->acl, (struct sockaddr *)&s->conn.peer)) {
		if (s->rt->auth == NULL) {
			/* RFC 5321 §3.1: after a 554 greeting the server waits for
			 * QUIT, answering 503 to anything else. */
			metrics_connection_refused("network");
			s->why = "network";
			session_reply(s, 554, "5.7.1", "%s Access denied", s->rt->hostname);
			session_enter_state(s, SMTP_S_REFUSED);
			session_flush(s);
			session_arm_timer(s);
			update_reading(s);
			return;
		}
		s->must_auth = true;
	}
	uv_tcp_nodelay(&s->conn.tcp, 1);
	if (s->implicit_tls) {
		if (session_start_tls(s) != 0) {
			session_close(s, "tls_setup_failed");
			return;
		}
	} else {
		send_greeting(s);
		session_flush(s);
	}
	session_arm_timer(s);
	update_reading(s);
}

void session_shutdown(struct listener_conn *c, bool force)
{
	struct session *s = (struct session *)c;

	if (s->closing)
		return;
	/* A transaction in progress finishes; a client that just got the
	 * answer to its message is about to QUIT (or send the next one):
	 * an unsolicited 421 would be read as the answer to that QUIT and
	 * make the client doubt a message that was delivered. Both are
	 * answered at their next command (session_dispatch); idle sessions
	 * get the 421 now. */
	if (!force && (s->tx || session_waiting(s) || s->txn_ended)) {
		s->shutdown_pending = true;
		return;
	}
	if (!s->implicit_tls || s->tls_done) {
		s->why = "shutdown";
		session_reply(s, 421, "4.3.2", "%s Service shutting down", s->rt->hostname);
	}
	session_close(s, "shutdown");
}
