/* SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms.
 * Passwords are checked on the thread pool; the session reads no further
 * command until the verdict is in. No AUTH line is ever logged, and every
 * buffer that held a password is wiped. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "smtp_session_int.h"

static const struct smtp_reply r_need_ehlo = { 503, "5.5.1", "Error: send EHLO first" };
static const struct smtp_reply r_already = { 503, "5.5.1", "Error: already authenticated" };
static const struct smtp_reply r_in_txn = { 503, "5.5.1", "Error: AUTH not allowed during a mail transaction" };
static const struct smtp_reply r_not_enabled = { 503, "5.5.1", "Error: authentication not enabled" };
static const struct smtp_reply r_need_tls = { 538, "5.7.11", "Encryption required for requested authentication mechanism" };
static const struct smtp_reply r_mech = { 504, "5.5.4", "Unrecognized authentication mechanism" };
static const struct smtp_reply r_cancel = { 501, "5.0.0", "Authentication cancelled" };
static const struct smtp_reply r_b64 = { 501, "5.5.2", "Cannot decode the authentication response" };
static const struct smtp_reply r_bad = { 535, "5.7.8", "Authentication credentials invalid" };
static const struct smtp_reply r_temp = { 454, "4.7.0", "Temporary authentication failure" };

/* A refusal outside the command table (SASL lines, the verdict): answered
 * and counted toward max_errors at once. */
static void refused(struct session *s, const struct smtp_reply *r)
{
	session_reply(s, r->code, r->enhanced, "%s", r->text);
	session_count_error(s);
}

bool session_auth_offered(const struct session *s)
{
	return s->rt->auth != NULL && (s->tls_done || s->rt->cfg.allow_plaintext_auth);
}

void session_auth_cancel(struct session *s)
{
	if (s->auth_job) {
		auth_job_cancel(s->auth_job);
		s->auth_job = NULL;
	}
	buf_free_secret(&s->login_user);
}

static void log_auth(struct session *s, const char *user, const char *result)
{
	struct logline l;

	if (log_begin(&l, LVL_INFO, "smtp.auth")) {
		log_str(&l, "session", s->id);
		log_str(&l, "client", s->conn.addr);
		log_str(&l, "user", user);
		log_str(&l, "result", result);
		log_end(&l);
	}
}

static void on_verified(void *arg, int result)
{
	struct session *s = arg;

	s->auth_job = NULL;
	session_enter_state(s, session_rest_state(s));
	if (result == 0) {
		s->authed = true;
		log_auth(s, s->user, "ok");
		session_reply(s, 235, "2.7.0", "Authentication successful");
	} else {
		log_auth(s, s->user, result == -EACCES ? "invalid" : "error");
		refused(s, result == -EACCES ? &r_bad : &r_temp);
		s->user[0] = '\0';
	}
	session_arm_timer(s);
	session_process(s);
}

static void verify(struct session *s, const struct buf *user, const struct buf *pass)
{
	if (user->len == 0 || user->len > AUTH_MAX_USER_LEN || memchr(user->data, '\0', user->len) ||
	    pass->len == 0 || pass->len > AUTH_MAX_PASS_LEN) {
		log_auth(s, "", "malformed");
		refused(s, &r_bad);
		return;
	}
	memcpy(s->user, user->data, user->len);
	s->user[user->len] = '\0';
	if (auth_verify_async(s->srv->loop, s->rt->auth, s->user, pass->data, pass->len,
			on_verified, s, &s->auth_job) != 0) {
		s->auth_job = NULL;
		log_auth(s, s->user, "error");
		refused(s, &r_temp);
		s->user[0] = '\0';
		return;
	}
	session_enter_state(s, SMTP_S_AUTH_VERIFY);
	session_arm_timer(s);
}

static void plain(struct session *s, const char *b64, size_t n)
{
	struct buf authz = BUF_INIT, user = BUF_INIT, pass = BUF_INIT;

	if (auth_sasl_plain_decode(b64, n, &authz, &user, &pass) != 0) {
		/* Valid base64 but not acceptable credentials (e.g. someone
		 * else's authzid) is a failed login, not a syntax error. */
		bool b64ok = auth_b64_decode(b64, n, &pass) == 0;
		log_auth(s, "", "malformed");
		refused(s, b64ok ? &r_bad : &r_b64);
	} else {
		verify(s, &user, &pass);
	}
	buf_free_secret(&authz);
	buf_free_secret(&user);
	buf_free_secret(&pass);
}

/* The AUTH row of the command table: sequence, configuration, then the
 * mechanism. Decoding an initial response is left to the proceed. */
int session_auth_check(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e = NULL;
	char mech[32];
	const char *ir;
	size_t irlen;

	if (!s->esmtp)
		e = &r_need_ehlo;
	else if (s->authed)
		e = &r_already;
	else if (!(smtp_command_lookup(SMTP_AUTH)->states & SMTP_S_BIT(s->state)))
		e = &r_in_txn;
	else if (s->rt->auth == NULL)
		e = &r_not_enabled;
	else if (!session_auth_offered(s))
		e = &r_need_tls;
	else if (smtp_parse_auth(c->args, c->argslen, mech, sizeof(mech), &ir, &irlen, &e) != 0)
		;
	else if (strcmp(mech, "PLAIN") != 0 && strcmp(mech, "LOGIN") != 0)
		e = &r_mech;
	else if (strcmp(mech, "PLAIN") == 0 && ir && irlen == 1 && ir[0] == '=')
		e = &r_b64;	/* empty initial response */
	if (e == NULL)
		return 0;
	session_reply(s, e->code, e->enhanced, "%s", e->text);
	return SMTP_REFUSED;
}

void session_auth_proceed(struct session *s, const struct smtp_cmd *c)
{
	const struct smtp_reply *e;
	char mech[32];
	const char *ir;
	size_t irlen;

	smtp_parse_auth(c->args, c->argslen, mech, sizeof(mech), &ir, &irlen, &e);	/* checked */
	if (strcmp(mech, "PLAIN") == 0) {
		if (ir) {
			plain(s, ir, irlen);
		} else {
			session_enter_state(s, SMTP_S_AUTH_PLAIN);
			session_reply(s, 334, NULL, "%s", "");
		}
		return;
	}
	/* LOGIN */
	buf_free_secret(&s->login_user);
	if (ir) {
		if (auth_b64_decode(ir, irlen, &s->login_user) != 0) {
			refused(s, &r_b64);
			return;
		}
		session_enter_state(s, SMTP_S_AUTH_LOGIN_PASS);
		session_reply(s, 334, NULL, "UGFzc3dvcmQ6");
	} else {
		session_enter_state(s, SMTP_S_AUTH_LOGIN_USER);
		session_reply(s, 334, NULL, "VXNlcm5hbWU6");
	}
}

void session_auth_line(struct session *s, const char *line, size_t len)
{
	enum smtp_state m = s->state;
	struct buf pass = BUF_INIT;

	session_enter_state(s, session_rest_state(s));
	if (len == 1 && line[0] == '*') {
		buf_free_secret(&s->login_user);
		log_auth(s, "", "cancelled");
		refused(s, &r_cancel);
		return;
	}
	switch (m) {
	case SMTP_S_AUTH_PLAIN:
		plain(s, line, len);
		break;
	case SMTP_S_AUTH_LOGIN_USER:
		buf_free_secret(&s->login_user);
		if (auth_b64_decode(line, len, &s->login_user) != 0) {
			buf_free_secret(&s->login_user);
			refused(s, &r_b64);
			return;
		}
		session_enter_state(s, SMTP_S_AUTH_LOGIN_PASS);
		session_reply(s, 334, NULL, "UGFzc3dvcmQ6");
		break;
	case SMTP_S_AUTH_LOGIN_PASS:
		if (auth_b64_decode(line, len, &pass) != 0) {
			refused(s, &r_b64);
		} else {
			verify(s, &s->login_user, &pass);
		}
		buf_free_secret(&pass);
		buf_free_secret(&s->login_user);
		break;
	default:
		break;
	}
}
