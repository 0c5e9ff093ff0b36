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
#include "clients.h"
#include "delivery.h"
#include "runtime.h"
#include "listener.h"
#include "smtp_server.h"
#include "smtp_data.h"
#include "smtp_parse.h"

struct tls_conn;

/* Where the session is. Changed only by session_enter_state(). Between
 * commands a session rests in CONNECTED, HELO or MAIL (see
 * session_rest_state()); the other states read something other than a
 * command line, or wait. */
enum smtp_state {
	SMTP_S_NEW,		/* accepted, not greeted yet (implicit TLS handshake) */
	SMTP_S_REFUSED,		/* greeted 554: only QUIT (RFC 5321 §3.1) */
	SMTP_S_CONNECTED,	/* greeted, no HELO/EHLO yet */
	SMTP_S_HELO,		/* HELO/EHLO done, no transaction */
	SMTP_S_MAIL,		/* MAIL accepted: RCPT, DATA, BDAT */
	SMTP_S_DATA,		/* DATA body until CRLF.CRLF */
	SMTP_S_BDAT,		/* exactly bdat_left octets of a BDAT chunk */
	SMTP_S_COMMIT,		/* the back end is committing the message */
	SMTP_S_AUTH_PLAIN,	/* waiting for the PLAIN response line */
	SMTP_S_AUTH_LOGIN_USER,
	SMTP_S_AUTH_LOGIN_PASS,
	SMTP_S_AUTH_VERIFY,	/* the password is being checked off the loop */
	SMTP_S_QUIT,		/* closing */
};
#define SMTP_S_BIT(st) (1u << (st))

/* One mail transaction, from MAIL to the reply to its message.
 * Ownership: owned by the session (s->tx); owns the recipient strings,
 * the decoded-bytes buffer and any open back end transaction (aborted
 * when the transaction is freed: no callback then, ever). */
struct smtp_tx {
	struct smtp_mail mail;
	char **rcpts;
	size_t nrcpt;
	unsigned rcpt_tries;		/* RCPT commands, accepted or not */
	uint64_t t_mail;		/* uv_now at MAIL, ms */
	struct delivery_txn *txn;
	bool txn_failed;		/* back end refused a write: txn_res says why */
	struct delivery_result txn_res;
	bool bdat_started;
	struct smtp_data dec;
	struct buf dbuf;		/* decoded bytes on their way to the back end */
	/* An authenticated user with a clients_file entry: its policy, and
	 * the message's header section (bounded) to check From against it. */
	const struct client *client;	/* of rt->clients, or NULL */
	struct buf head;
	bool head_done;
};

struct session {
	struct listener_conn conn;	/* first: socket, client address, the listener's node */
	struct smtp_server *srv;
	struct runtime *rt;		/* ref, fixed for the connection */
	struct backend *be;
	uv_timer_t timer;
	int handles_open;
	char id[20];

	enum smtp_state state;
	enum smtp_verb verb;		/* the command being answered, SMTP_UNKNOWN between */
	const char *close_reason;	/* set by a check that answered 421 */
	const char *why;		/* keyword for the refusal being answered (its smtp.reject line) */
	bool txn_reply;			/* answering the end of a transaction: logged as smtp.txn */
	bool txn_ended;			/* the last reply ended a transaction, no command since */

	struct buf in;			/* plaintext received; processed up to in_off */
	size_t in_off;
	struct buf out;			/* replies not yet written */
	struct buf line;		/* the command line being handled */
	struct buf tlsout;
	size_t write_queued;
	struct tls_conn *tls;
	bool implicit_tls;
	bool tls_done;
	bool closing;
	bool close_started;
	bool shut_requested;
	bool eof;
	bool reading;
	bool discarding;		/* inside an over-long command line */
	bool shutdown_pending;		/* draining: QUIT gets 221, anything else 421 once no transaction is open */
	unsigned errors;
	unsigned ntxn;

	bool esmtp;
	char helo[SMTP_MAX_DOMAIN + 1];	/* "" until HELO/EHLO */
	bool must_auth;			/* outside allow_networks */
	bool authed;
	char user[AUTH_MAX_USER_LEN + 1];
	struct buf login_user;		/* AUTH LOGIN: user name until the password comes */
	struct auth_job *auth_job;

	struct smtp_tx *tx;		/* NULL outside a mail transaction */
	/* BDAT chunk framing: read even when the chunk is refused. */
	bool bdat_last;
	uint64_t bdat_left;
	const struct smtp_reply *bdat_refusal;	/* chunk read and dropped, then this reply */
};

/* The command table: one row per verb. `check` validates state and
 * arguments without acting: it answers its own refusal and returns
 * SMTP_REFUSED (counts toward max_errors), SMTP_LIMITED (a limit, does not
 * count) or SMTP_CLOSE (answered 421, s->close_reason set), or 0 to go on.
 * `proceed` acts; it may start asynchronous work (AUTH, the commit).
 * `states`: where the verb may proceed (SMTP_S_BIT of each). */
enum { SMTP_REFUSED = -1, SMTP_LIMITED = -2, SMTP_CLOSE = -3 };

struct smtp_command {
	enum smtp_verb verb;
	unsigned states;
	int (*check)(struct session *s, const struct smtp_cmd *c);
	void (*proceed)(struct session *s, const struct smtp_cmd *c);
};

/* The row for `verb` (every verb has one). */
const struct smtp_command *smtp_command_lookup(enum smtp_verb verb);

static inline bool session_waiting(const struct session *s)
{
	return s->state == SMTP_S_COMMIT || s->state == SMTP_S_AUTH_VERIFY;
}

static inline bool session_in_body(const struct session *s)
{
	return s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT;
}

static inline bool session_in_sasl(const struct session *s)
{
	return s->state == SMTP_S_AUTH_PLAIN || s->state == SMTP_S_AUTH_LOGIN_USER ||
		s->state == SMTP_S_AUTH_LOGIN_PASS;
}

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
/* The one way a reply leaves a session: formats `code`, `enhanced` (NULL:
 * none) and the text (lines separated by '\n') with the
 * ENHANCEDSTATUSCODES rule (smtp_reply.h), logs it if it refuses (one
 * smtp.reject line at info, with s->why when set; the answer to the end
 * of a message is smtp.txn's instead), and queues it for the next flush. The greeting and the answer to HELO/EHLO
 * are exempt from enhanced codes, which the session knows from its state
 * and verb. */
void session_reply(struct session *s, int code, const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* After a refusal: count it toward max_errors (421 and close when reached). */
void session_count_error(struct session *s);
/* The only place the state changes (traced in the debug log). */
void session_enter_state(struct session *s, enum smtp_state st);
/* CONNECTED, HELO or MAIL: where the session rests between commands. */
enum smtp_state session_rest_state(const struct session *s);
void session_close(struct session *s, const char *reason);
void session_process(struct session *s);
void session_arm_timer(struct session *s);
void session_flush(struct session *s);
int session_start_tls(struct session *s);
uint64_t session_max_size(const struct session *s);
/* The 552 for a message over session_max_size(): the limit in octets
 * and, when it is the back end's, why (text is the buffer r->text uses). */
void session_size_reply(const struct session *s, struct smtp_reply *r, char *text, size_t n);

/* smtp_commands.c */
void session_dispatch(struct session *s, const char *line, size_t len);
/* Consume message bytes from s->in (DATA / BDAT states). */
void session_data_input(struct session *s);
/* Free the transaction (aborting the back end's); s->tx is NULL after. */
void session_reset_txn(struct session *s);

/* smtp_auth.c */
int session_auth_check(struct session *s, const struct smtp_cmd *c);
void session_auth_proceed(struct session *s, const struct smtp_cmd *c);
void session_auth_line(struct session *s, const char *line, size_t len);
bool session_auth_offered(const struct session *s);
void session_auth_cancel(struct session *s);

#endif
