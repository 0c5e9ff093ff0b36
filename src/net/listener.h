/* The one TCP listener of the process, for every protocol (SMTP on
 * `listen`/`smtps_listen`, the admin endpoint on `metrics_listen`): it
 * resolves the configured addresses, binds them, accepts connections,
 * counts them against the caps (total and per client address), formats
 * the client address and hands each accepted socket to the protocol's
 * callback. It knows nothing of what is spoken on the connection.
 *
 * Addresses are "a.b.c.d:port", "[v6]:port" or "name:port" (port 0: any).
 * A name is resolved once, when the group is made (getaddrinfo), and every
 * address it resolves to is bound; one that this host cannot bind
 * (EADDRNOTAVAIL, EAFNOSUPPORT: e.g. ::1 without IPv6) is skipped with a
 * warning as long as another address of that name was bound.
 *
 * Groups: the listeners of one protocol on several event loops (worker
 * threads) form a group. Member 0 binds first (port 0 becomes a real
 * port) and the others bind the very addresses it bound, with
 * SO_REUSEPORT, so the kernel spreads connections over the members. A
 * group of one member does not set SO_REUSEPORT, so a second relay on the
 * same port fails to start instead of sharing it. The connection counts
 * the caps are checked against cover the whole group, under one mutex.
 *
 * Connections: the listener allocates each connection object
 * (opts.conn_size bytes, a struct listener_conn first, zeroed) with its
 * socket accepted, links it into the group's count and passes it to
 * on_accept with the verdict of the caps; the protocol then owns it: it
 * closes the socket and, once the close callback ran, releases the object
 * with listener_conn_free(), which also takes it out of the count.
 *
 * Ownership: a group owns its resolved addresses and its mutex and must
 * outlive its members; a listener owns its socket handles and its array
 * of them, not its connections (see above). Threads: everything runs on
 * the listener's loop thread except what the group's mutex guards.
 */
#ifndef SESRELAY_LISTENER_H
#define SESRELAY_LISTENER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>
#include <uv.h>

#include "config.h"

#define LISTENER_ADDR_LEN 80		/* "[v6]:port" as text, with room */

/* One configured address (or each address a name resolves to). */
struct listen_addr {
	struct sockaddr_storage ss;	/* resolved; the real port once member 0 bound it */
	const char *key;		/* config key it came from, for messages (borrowed) */
	int tag;			/* the caller's, passed on with each connection */
	size_t spec;			/* index of the spec it came from */
	bool from_name;			/* resolved from a host name (may be skipped) */
	bool only_of_name;		/* the only address its name resolved to */
	bool bound;			/* member 0 bound it: the others bind it too */
};

struct listen_spec {
	const char *key;		/* "listen", "smtps_listen", "metrics_listen" */
	const char *addr;		/* as configured */
	int tag;			/* e.g. implicit TLS for smtps_listen */
};

struct listener;

struct listener_group {
	pthread_mutex_t lock;		/* guards nconns and every member's connection list */
	size_t nconns;			/* across members */
	struct listener **members;	/* borrowed; NULL until that member has bound */
	unsigned nmembers;
	struct listen_addr *addrs;	/* owned */
	size_t naddrs;
};

/* An accepted connection, first member of the protocol's own object. */
struct listener_conn {
	uv_tcp_t tcp;			/* accepted; tcp.data points at this object */
	struct listener_conn *prev, *next;
	struct listener *listener;
	int tag;			/* of the address it came in on */
	struct sockaddr_storage peer;	/* the client's address */
	char addr[64];			/* the client's IP as text ("unknown" if not known) */
	int port;			/* the client's port */
	bool ipv6;
};

/* Over a cap or not: the protocol decides what to tell the client. */
enum listener_verdict {
	LISTENER_ADMIT,
	LISTENER_OVER_TOTAL,		/* max total connections open */
	LISTENER_OVER_PER_IP,		/* max connections from this client address */
};

typedef void (*listener_accept_cb)(void *arg, struct listener_conn *c, enum listener_verdict v);

struct listener_opts {
	size_t conn_size;		/* >= sizeof(struct listener_conn) */
	listener_accept_cb on_accept;
	void *accept_arg;
	/* After listener_close(): called once, when the listening sockets are
	 * closed and the last connection is freed. May be NULL. */
	void (*on_closed)(void *arg);
	void *closed_arg;
	int backlog;
	/* Logged by member 0 for each bound address, at any log level
	 * (supervisors and tests wait for it and learn real ports): addr=
	 * and, when tag_name is set, tag_name=true|false from the tag. */
	const char *listen_event;
	const char *tag_name;
	const char *accept_event;	/* a failed accept(), logged as a warning */
};

struct listener {
	uv_loop_t *loop;
	struct listener_group *group;
	unsigned member;
	struct listener_opts opts;
	struct socket_handle {
		uv_tcp_t tcp;
		struct listener *l;	/* NULL once orphaned by a failed init */
		size_t idx;
		int tag;
		bool listening;
		char addr[LISTENER_ADDR_LEN];	/* as bound, with the real port */
	} **socks;			/* owned; one slot per group address, each
					 * handle freed by its close callback */
	size_t nsocks;			/* listening */
	size_t handles_open;		/* socket handles not yet closed */
	struct listener_conn conns;	/* list head (its tcp is unused) */
	size_t nconns;			/* this member's */
	size_t max_total, max_per_ip;	/* caps; 0: none */
	bool closed;
	bool closed_reported;
};

/* Resolve every spec (names with getaddrinfo) for nmembers listeners.
 * where: the configuration file, for messages. 0; -EINVAL for a bad
 * address or unknown name, -EAGAIN when the resolver failed for now,
 * -ENOMEM; err then says which key and address. */
int listener_group_init(struct listener_group *g, unsigned nmembers,
	const struct listen_spec *specs, size_t nspecs, const char *where,
	char *err, size_t errlen);
/* Addresses bound by member 0 (0 before it has bound). */
size_t listener_group_bound(const struct listener_group *g);
void listener_group_free(struct listener_group *g);

/* Bind the group's addresses as member `member` (member 0 before the
 * others) and start accepting. 0, or a negative code with err filled;
 * the listener then holds nothing (handles it opened close and free
 * themselves when the loop runs) and on_closed is never called: only
 * listener_free(), right away. */
int listener_init(struct listener *l, uv_loop_t *loop, struct listener_group *g,
	unsigned member, const struct listener_opts *opts, char *err, size_t errlen);
/* The i-th listening address as bound ("a.b.c.d:port"), NULL past the end. */
const char *listener_addr(const struct listener *l, size_t i);
/* Caps for new connections (0: no cap). Loop thread. */
void listener_set_caps(struct listener *l, size_t max_total, size_t max_per_ip);
/* Stop accepting; opts.on_closed follows once every connection is gone. */
void listener_close(struct listener *l);
/* Call fn on each of this listener's connections (fn may free it). */
void listener_each_conn(struct listener *l, void (*fn)(struct listener_conn *c, void *arg),
	void *arg);
/* Take a connection out of the count and free it (its socket closed). */
void listener_conn_free(struct listener_conn *c);
/* After on_closed (or a failed init); also fine from opts.on_closed. */
void listener_free(struct listener *l);

/* What a protocol front (SMTP, the API) hands to listener_init(): its
 * connection objects of conn_size bytes, its accept callback, the backlog
 * every front uses (LISTENER_BACKLOG) and its log events (string
 * literals, e.g. "smtp.listen", "smtp.accept"); on_closed and tag_name
 * are left for the caller. */
#define LISTENER_BACKLOG 511
void listener_opts_front(struct listener_opts *o, size_t conn_size, listener_accept_cb on_accept,
	void *arg, const char *listen_event, const char *accept_event);

/* Append one spec per address of a configured list (key, tag) to the
 * array *v of *n specs (realloc'd; the caller frees it, even on error).
 * 0 or -ENOMEM. */
int listen_specs_add(struct listen_spec **v, size_t *n, const char *key,
	const struct strlist *addrs, int tag);

/* "a.b.c.d:port" or "[v6]:port" for a bound or peer address. */
void listener_format_addr(const struct sockaddr *sa, char *out, size_t n);
/* The client IP as text without port ("unknown" for other families),
 * its port and whether it is IPv6. */
void listener_format_peer(const struct sockaddr *sa, char *out, size_t n, int *port,
	bool *ipv6);

#endif
