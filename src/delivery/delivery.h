/* The interface between the SMTP front end and a back end (outbox, ses).
 *
 * A transaction is opened when DATA/BDAT starts, fed the message as a
 * stream of chunks (already dot-unstuffed, CRLF line endings, starting
 * with the Received: header the session prepends), then either committed
 * (the back end replies once, asynchronously, through the callback) or
 * aborted (no callback, ever). A transaction whose commit is in flight may
 * still be aborted when the client goes away: the back end then finishes
 * or cancels its work silently and frees itself.
 *
 * Ownership: the back end copies what it keeps of the envelope; the
 * caller's envelope may be freed right after ops->begin() returns.
 * The transaction is owned by the back end and is invalid after the
 * callback ran or after abort(). A back end is owned by whoever built it
 * (relay/backend.c builds the one the configuration names, and each
 * worker's with backend_new_worker()) and freed with backend_free().
 */
#ifndef SESRELAY_DELIVERY_H
#define SESRELAY_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct envelope {
	const char *mail_from;		/* "" for the null sender <> */
	const char *const *rcpts;	/* nrcpt addresses, without <> */
	size_t nrcpt;
	uint64_t declared_size;		/* SIZE= parameter, 0 if none */
	bool smtputf8;
	bool body_8bit;
	const char *session_id;		/* for logs */
	const char *client_addr;	/* for logs */
};

/* The outcome, ready to become an SMTP reply. */
struct delivery_result {
	int code;			/* 250, 451, 454, 552, 554, ... */
	char enhanced[12];		/* "2.0.0", "4.7.0", ... */
	char text[256];			/* reply text, no CRLF */
	char message_id[128];		/* back end's id on success ("" otherwise) */
	char error_code[64];		/* back end's error code for logs/metrics, "" if none */
	double backend_seconds;		/* time spent in the back end's remote calls */
};

typedef void (*delivery_done_cb)(void *arg, const struct delivery_result *res);

struct delivery_txn;
struct backend;
struct config;
struct metrics_scrape;

/* Every operation of a back end. No caller ever looks at the name but to
 * print it. */
struct backend_ops {
	const char *name;		/* for logs only */
	/* Refuse early (returns -errno and fills *res) or open a transaction. */
	int (*begin)(struct backend *be, const struct envelope *env,
		struct delivery_txn **out, struct delivery_result *res);
	/* Returns 0, or a negative code after which only abort() is allowed
	 * (e.g. -EMSGSIZE past the back end's own size limit, -EPERM for a
	 * refused header); *res then says what to tell the client once the
	 * data has been read to its end. */
	int (*write)(struct delivery_txn *t, const char *p, size_t n,
		struct delivery_result *res);
	/* Returns 0 and calls cb exactly once later, or returns an error,
	 * fills *res, frees the transaction and never calls cb. */
	int (*commit)(struct delivery_txn *t, delivery_done_cb cb, void *arg,
		struct delivery_result *res);
	void (*abort)(struct delivery_txn *t);
	/* A back end of the same kind on another event loop (a worker
	 * thread's), built on the main thread before that loop runs. What
	 * must be one per process stays in `main` and is shared (for ses:
	 * the shared-account identity and credentials cache); main must
	 * outlive it. 0, or a negative code with err filled. */
	int (*new_worker)(struct backend *main, const struct config *cfg, uv_loop_t *loop,
		struct backend **out, char *err, size_t errlen);
	/* Optional: can the back end deliver now? false with why filled (for
	 * ses: no verified shared-account credentials). Main loop thread. */
	bool (*ready)(struct backend *be, char *why, size_t n);
	/* Optional: add the back end's own figures to a metrics scrape. */
	void (*metrics)(struct backend *be, struct metrics_scrape *x);
	/* Optional: SIGHUP applied cfg; take what the back end can change
	 * while it runs (for ses: a new shared-account identity, switched to
	 * once proven). Main loop thread, on the main back end. 0 or a
	 * negative code (the back end logs why). */
	int (*reload)(struct backend *be, const struct config *cfg);
	/* Optional: close the back end's uv handles when the front end has
	 * stopped, so the loop can end; the back end is freed afterwards. */
	void (*shutdown)(struct backend *be);
	/* Release everything, once the loop has run the handles' closes. */
	void (*free)(struct backend *be);
};

struct backend {
	const struct backend_ops *ops;
	uint64_t max_message_size;	/* raw octets the back end can take; 0: no limit of its own */
	const char *size_note;		/* static: why that limit, for the 552 text; NULL: none */
};

/* ops->new_worker. */
int backend_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen);
/* ops->ready; true when the back end has no condition of its own. */
bool backend_ready(struct backend *be, char *why, size_t n);
/* ops->metrics, when it has one. */
void backend_metrics(struct backend *be, struct metrics_scrape *x);
/* ops->reload, when it has one; 0 otherwise. */
int backend_reload(struct backend *be, const struct config *cfg);
/* Close the back end's event-loop handles (HTTP connections, timers) once
 * the front end has stopped; the loop then runs dry and the back end can
 * be freed. Idempotent; NULL is fine. */
void backend_shutdown(struct backend *be);
/* NULL is fine. */
void backend_free(struct backend *be);

static inline void delivery_result_set(struct delivery_result *r, int code,
	const char *enhanced, const char *text)
{
	r->code = code;
	__builtin_snprintf(r->enhanced, sizeof(r->enhanced), "%s", enhanced);
	__builtin_snprintf(r->text, sizeof(r->text), "%s", text);
	r->message_id[0] = '\0';
	r->error_code[0] = '\0';
	r->backend_seconds = 0;
}

#endif
