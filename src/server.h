/* The SMTP listeners: one per `listen` / `smtps_listen` address, the
 * accept loop with connection limits (total and per client address),
 * SIGHUP reload of the runtime, and graceful shutdown on SIGTERM/SIGINT
 * (stop accepting, let transactions finish up to drain_timeout, answer
 * the others 421 4.3.2, then let the loop end).
 *
 * Ownership: struct server owns its listeners, signal handles, the list
 * of live connections (each session frees itself and unlinks) and one
 * runtime ref. The back end is borrowed and must outlive the server.
 */
#ifndef SESRELAY_SERVER_H
#define SESRELAY_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct runtime;
struct backend;

/* The server's view of a live connection (embedded in the session). */
struct server_conn {
	struct server_conn *prev, *next;
	char addr[64];			/* client address, for per-IP counting */
};

struct listener {
	uv_tcp_t tcp;
	struct server *srv;
	bool implicit_tls;
	char addr[80];			/* as bound, with the real port */
};

struct server {
	uv_loop_t *loop;
	struct runtime *rt;		/* for new connections */
	struct backend *be;
	const char *config_path;	/* reloaded on SIGHUP; borrowed */
	struct listener *listeners;
	size_t nlisteners;
	struct server_conn conns;	/* list head */
	size_t nconns;
	bool draining;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t drain_timer;
	int handles_open;
	unsigned long long next_session;
	/* Called once when the server has finished (no connection left, its
	 * handles closing), for other listeners to close theirs. */
	void (*on_finish)(void *arg);
	void *on_finish_arg;
};

/* Bind every listener (logging smtp.listen with the real address) and
 * install the signal handlers. 0 or a negative code with err filled. */
int server_init(struct server *srv, uv_loop_t *loop, struct runtime *rt,
	struct backend *be, const char *config_path, char *err, size_t errlen);
/* Begin graceful shutdown (also what SIGTERM does). */
void server_shutdown(struct server *srv);
/* After the loop has ended: release what is left (handles are closed by
 * then). */
void server_free(struct server *srv);

/* For the session module. */
void server_conn_add(struct server *srv, struct server_conn *c);
void server_conn_remove(struct server *srv, struct server_conn *c);
size_t server_conns_from(const struct server *srv, const char *addr);

#endif
