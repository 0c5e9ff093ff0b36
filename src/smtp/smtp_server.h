/* The SMTP front end of one event loop: a session for each connection
 * its listener (net/listener.h) accepts, with the runtime in force for
 * new connections and the caps max_connections / max_connections_per_ip
 * it sets on the listener. Binding, accepting and counting are the
 * listener's; signals, reload and drain are the relay's.
 *
 * Ownership: struct smtp_server holds one runtime ref (new connections
 * take their own); the listener and the back end are borrowed and must
 * outlive it. Sessions free themselves (smtp_session.h).
 */
#ifndef SESRELAY_SMTP_SERVER_H
#define SESRELAY_SMTP_SERVER_H

#include <stdbool.h>

#include <uv.h>

#include "listener.h"

struct runtime;
struct backend;

#define SMTP_TAG_IMPLICIT_TLS 1		/* listen_spec tag of smtps_listen addresses */

struct smtp_server {
	uv_loop_t *loop;
	struct listener *listener;	/* borrowed */
	struct runtime *rt;		/* ref, for new connections */
	struct backend *be;		/* borrowed */
	int worker;			/* logged with smtp.connect; -1: not logged */
};

/* The listener options SMTP needs (session objects, log events); the
 * caller adds on_closed. */
void smtp_server_listener_opts(struct smtp_server *srv, struct listener_opts *o);
/* The listen_spec list for cfg->listen and cfg->smtps_listen: n entries
 * (caller frees the array). 0 or -ENOMEM. */
int smtp_server_listen_specs(const struct runtime *rt, struct listen_spec **out, size_t *n);
/* srv must be the accept_arg of the listener's options. */
void smtp_server_init(struct smtp_server *srv, uv_loop_t *loop, struct listener *l,
	struct runtime *rt, struct backend *be, int worker);
/* New connections use rt from now on (a ref is taken). Loop thread. */
void smtp_server_set_runtime(struct smtp_server *srv, struct runtime *rt);
/* Ask every session to end: 421 4.3.2 now when idle, after its
 * transaction otherwise; `force`: now, even mid-transaction. */
void smtp_server_shutdown(struct smtp_server *srv, bool force);
void smtp_server_free(struct smtp_server *srv);

#endif
