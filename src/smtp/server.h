/* The SMTP listeners: one per `listen` / `smtps_listen` address, the
 * accept loop with connection limits (total and per client address),
 * SIGHUP reload of the runtime, and graceful shutdown on SIGTERM/SIGINT
 * (stop accepting, let transactions finish up to drain_timeout, answer
 * the others 421 4.3.2, then let the loop end).
 *
 * Ownership: struct server owns its listeners, signal handles, the list
 * of live connections (each session frees itself and unlinks) and one
 * runtime ref. The back end is borrowed and must outlive the server.
 *
 * With `workers` > 1 each worker loop has its own server, all members of
 * one struct server_group: they listen on the same addresses through
 * SO_REUSEPORT (the kernel spreads connections over them), install no
 * signal handlers (the main thread owns those) and count connections for
 * max_connections / max_connections_per_ip across the whole group. The
 * group is owned by whoever created it and must outlive its members.
 */
#ifndef SESRELAY_SERVER_H
#define SESRELAY_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>
#include <uv.h>

struct runtime;
struct backend;
struct config;

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

struct server_group {
	pthread_mutex_t lock;		/* guards every member's connection list */
	size_t nconns;			/* across members */
	struct server **members;	/* borrowed; NULL until that member's init */
	size_t nmembers;
	struct sockaddr_storage *addrs;	/* as member 0 bound them (real ports) */
	size_t naddrs;
};

struct server {
	uv_loop_t *loop;
	struct server_group *group;	/* NULL: the only server, owning the signals */
	unsigned worker;		/* index in the group */
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
	bool own_signals;
	unsigned long long next_session;
	/* Called once when the server has finished (no connection left, its
	 * handles closing), for other listeners to close theirs. */
	void (*on_finish)(void *arg);
	void *on_finish_arg;
	/* Called after a reload applied cfg (the back end's own reload). */
	void (*on_reload)(void *arg, const struct config *cfg);
	void *on_reload_arg;
};

/* Bind every listener (logging smtp.listen with the real address) and
 * install the signal handlers. 0 or a negative code with err filled. */
int server_init(struct server *srv, uv_loop_t *loop, struct runtime *rt,
	struct backend *be, const char *config_path, char *err, size_t errlen);
/* One member of a group (member 0 first: it binds the addresses the
 * others then share, and logs smtp.listen). No signal handlers. */
int server_init_worker(struct server *srv, uv_loop_t *loop, struct runtime *rt,
	struct backend *be, struct server_group *g, unsigned worker, char *err, size_t errlen);
/* naddrs: listen + smtps_listen addresses, the same for every member. */
int server_group_init(struct server_group *g, size_t nmembers, size_t naddrs);
void server_group_free(struct server_group *g);
/* New connections use rt from now on (a ref is taken). Loop thread. */
void server_set_runtime(struct server *srv, struct runtime *rt);
/* Begin graceful shutdown (also what SIGTERM does). */
void server_shutdown(struct server *srv);
/* "a.b.c.d:port" or "[v6]:port" (port 0: any) into ss; 0 or -EINVAL. */
int server_parse_addr(const char *s, struct sockaddr_storage *ss);
/* After the loop has ended: release what is left (handles are closed by
 * then). */
void server_free(struct server *srv);

/* For the session module. */
void server_conn_add(struct server *srv, struct server_conn *c);
/* Count the connections open before this one (in the whole group: total,
 * and from c->addr), then add it, as one step. */
void server_conn_admit(struct server *srv, struct server_conn *c, size_t *total,
	size_t *from_ip);
void server_conn_remove(struct server *srv, struct server_conn *c);
size_t server_conns_from(const struct server *srv, const char *addr);

#endif
