/* Internals shared by the session modules: smtp_session.c (socket, TLS,
 * timers, input framing, replies, lifecycle), smtp_commands.c (the
 * command table and the mail transaction) and smtp_auth.c (SMTP AUTH).
 * Not for use outside them.
 */
#ifndef SESRELAY_SMTP_SESSION_INT_H
#define SESRELAY_SMTP_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "delivery.h"
#include "runtime.h"
#include "listener.h"
#include "smtp_server.h"
#include "smtp_data.h"
#include "smtp_parse.h"

struct tls_conn;

enum session_mode {
	M_CMD,			/* reading command lines */
	M_DATA,			/* DATA body until CRLF.CRLF */
	M_BDAT,			/* exactly bdat_left octets of a BDAT chunk */
	M_AUTH_PLAIN,		/* waiting for the PLAIN response line */
	M_AUTH_LOGIN_USER,
	M_AUTH_LOGIN_PASS,
};

struct session {
	struct listener_conn conn;	/* first: socket, client address, the listener's node */
	struct smtp_server *srv;
	struct runtime *rt;		/* ref, fixed for the connection */
	struct backend *be;
	uv_timer_t timer;
	int handles_open;
	char id[20];

	struct buf in;			/* plaintext received; processed up to in_off */
	size_t in_off;
	struct buf out;			/* replies not yet written */
	struct buf line;		/* the command line being handled */
	struct buf tlsout;
	size_t write_queued;
	enum session_mode mode;
	struct tls_conn *tls;
	bool implicit_tls;
	bool tls_done;
	bool greeted;
	bool closing;
	bool close_started;
	bool shut_requested;
	bool eof;
	bool reading;
	bool discarding;		/* inside an over-long command line */
	bool waiting;			/* back end commit or password check running */
	bool shutdown_pending;
	unsigned errors;
	unsigned ntxn;

	bool has_helo;
	bool esmtp;
	char helo[SMTP_MAX_DOMAIN + 1];
	bool must_auth;			/* outside allow_networks */
	bool refused;			/* greeted with 554: only QUIT works */
	bool authed;
	char user[AUTH_MAX_USER_LEN + 1];
	struct buf login_user;		/* AUTH LOGIN: user name until the password comes */
	struct auth_job *auth_job;

	/* Mail transaction. */
	bool has_mail;
	struct smtp_mail mail;
	char **rcpts;
	size_t nrcpt;
	unsigned rcpt_tries;
	uint64_t t_mail;		/* uv_now at MAIL, ms */
	struct delivery_txn *txn;
	bool txn_failed;		/* back end refused a write: txn_res says why */
	struct delivery_result txn_res;
	bool committing;
	struct smtp_data dec;
	struct buf dbuf;		/* decoded bytes on their way to the back end */
	bool bdat_started;
	bool bdat_last;
	uint64_t bdat_left;
	const struct smtp_reply *bdat_refusal;	/* chunk read and dropped, then this reply */
};

/* Unprocessed input: consumed by advancing an offset, compacted once per
 * read, so a read full of pipelined commands costs linear time. */
static inline const char *session_in(const struct session *s)
{
	return s->in.data ? s->in.data + s->in_off : "";
}

static inline size_t session_in_len(const struct session *s)
{
	return s->in.len - s->in_off;
}

/* smtp_session.c */
void session_in_consume(struct session *s, size_t n, bool wipe);
void session_in_clear(struct session *s);
void session_reply(struct session *s, int code, const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void session_reply_raw(struct session *s, const char *text);
/* A refusal: counts towards max_errors (421 and close when reached). */
void session_error(struct session *s, const struct smtp_reply *r);
void session_error3(struct session *s, int code, const char *enhanced, const char *text);
void session_close(struct session *s, const char *reason);
void session_process(struct session *s);
void session_arm_timer(struct session *s);
void session_flush(struct session *s);
int session_start_tls(struct session *s);
uint64_t session_max_size(const struct session *s);

/* smtp_commands.c */
void session_dispatch(struct session *s, const char *line, size_t len);
/* Consume message bytes from s->in (M_DATA / M_BDAT). */
void session_data_input(struct session *s);
void session_reset_txn(struct session *s);
void session_log_txn(struct session *s, const struct delivery_result *res, uint64_t size);

/* smtp_auth.c */
void session_auth_cmd(struct session *s, const char *args, size_t len);
void session_auth_line(struct session *s, const char *line, size_t len);
bool session_auth_offered(const struct session *s);
void session_auth_cancel(struct session *s);

#endif
