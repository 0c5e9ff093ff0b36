#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

/* ---- addresses ---- */

void listener_format_addr(const struct sockaddr *sa, char *out, size_t n)
{
	char host[64];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		uv_ip6_name(a, host, sizeof(host));
		snprintf(out, n, "[%s]:%d", host, ntohs(a->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		uv_ip4_name(a, host, sizeof(host));
		snprintf(out, n, "%s:%d", host, ntohs(a->sin_port));
	} else {
		snprintf(out, n, "unknown");
	}
}

void listener_format_peer(const struct sockaddr *sa, char *out, size_t n, int *port,
	bool *ipv6)
{
	snprintf(out, n, "unknown");
	*port = 0;
	*ipv6 = false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		uv_ip4_name(a, out, n);
		*port = ntohs(a->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		uv_ip6_name(a, out, n);
		*port = ntohs(a->sin6_port);
		*ipv6 = true;
	}
}

/* Split "host:port" / "[v6]:port" into host and port, with the same
 * rules as the configuration's check of the value (config.h). */
static int split_spec(const char *s, char *host, size_t hostlen, char *port, bool *bracketed)
{
	unsigned p;

	if (config_split_hostport(s, host, hostlen, &p) != 0)
		return -EINVAL;
	snprintf(port, 6, "%u", p);
	*bracketed = *s == '[';
	return 0;
}

/* Append every address of one spec to g->addrs. */
static int resolve_one(struct listener_group *g, const struct listen_spec *sp, size_t spec,
	const char *where, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	struct sockaddr_in lit;
	char host[256], port[6];
	bool bracketed, from_name;
	size_t first = g->naddrs;
	int r;

	if (split_spec(sp->addr, host, sizeof(host), port, &bracketed) != 0) {
		snprintf(err, errlen, "%s: %s: bad address \"%s\" (want host:port, a.b.c.d:port "
			"or [v6]:port)", where, sp->key, sp->addr);
		return -EINVAL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (bracketed ? AI_NUMERICHOST : 0);
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "%s: %s: %s \"%s\": %s", where, sp->key,
			bracketed ? "bad address" : "cannot resolve", sp->addr, gai_strerror(r));
		return r == EAI_AGAIN ? -EAGAIN : r == EAI_MEMORY ? -ENOMEM : -EINVAL;
	}
	/* A literal is itself; only a name can yield an address this host
	 * lacks (::1 without IPv6). */
	from_name = !bracketed && uv_ip4_addr(host, 0, &lit) != 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		struct listen_addr *a, *grown;
		bool dup = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(a->ss))
			continue;
		for (size_t i = first; i < g->naddrs && !dup; i++)
			dup = memcmp(&g->addrs[i].ss, ai->ai_addr, ai->ai_addrlen) == 0;
		if (dup)
			continue;
		grown = realloc(g->addrs, (g->naddrs + 1) * sizeof(*g->addrs));
		if (grown == NULL) {
			freeaddrinfo(res);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		g->addrs = grown;
		a = &g->addrs[g->naddrs++];
		memset(a, 0, sizeof(*a));
		memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
		a->key = sp->key;
		a->tag = sp->tag;
		a->spec = spec;
		a->from_name = from_name;
	}
	freeaddrinfo(res);
	if (g->naddrs == first) {
		snprintf(err, errlen, "%s: %s: no IPv4 or IPv6 address for \"%s\"", where, sp->key,
			sp->addr);
		return -EINVAL;
	}
	for (size_t i = first; i < g->naddrs; i++)
		g->addrs[i].only_of_name = g->naddrs - first == 1;
	return 0;
}

int listener_group_init(struct listener_group *g, unsigned nmembers,
	const struct listen_spec *specs, size_t nspecs, const char *where,
	char *err, size_t errlen)
{
	int r = 0;

	memset(g, 0, sizeof(*g));
	g->members = calloc(nmembers ? nmembers : 1, sizeof(*g->members));
	if (g->members == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	g->nmembers = nmembers;
	for (size_t i = 0; i < nspecs && r == 0; i++)
		r = resolve_one(g, &specs[i], i, where ? where : "configuration", err, errlen);
	if (r) {
		free(g->members);
		free(g->addrs);
		memset(g, 0, sizeof(*g));
		return r;
	}
	pthread_mutex_init(&g->lock, NULL);
	return 0;
}

size_t listener_group_bound(const struct listener_group *g)
{
	size_t n = 0;

	for (size_t i = 0; i < g->naddrs; i++)
		n += g->addrs[i].bound;
	return n;
}

void listener_group_free(struct listener_group *g)
{
	if (g->members == NULL)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g->members);
	free(g->addrs);
	memset(g, 0, sizeof(*g));
}

/* ---- connections ---- */

static size_t conns_from(const struct listener *l, const char *addr)
{
	size_t n = 0;

	for (const struct listener_conn *c = l->conns.next; c != &l->conns; c = c->next)
		if (strcmp(c->addr, addr) == 0)
			n++;
	return n;
}

static void maybe_report_closed(struct listener *l)
{
	if (!l->closed || l->closed_reported || l->handles_open > 0 || l->nconns > 0)
		return;
	l->closed_reported = true;
	if (l->opts.on_closed)
		l->opts.on_closed(l->opts.closed_arg);	/* may free l: nothing after */
}

/* Count what is open before c (the whole group: total, and from c's
 * address), then link c, as one step under the lock: "max" means max. */
static enum listener_verdict admit(struct listener *l, struct listener_conn *c)
{
	struct listener_group *g = l->group;
	enum listener_verdict v = LISTENER_ADMIT;
	size_t from_ip = 0;

	pthread_mutex_lock(&g->lock);
	if (l->max_total && g->nconns >= l->max_total) {
		v = LISTENER_OVER_TOTAL;
	} else if (l->max_per_ip) {
		for (unsigned i = 0; i < g->nmembers; i++)
			if (g->members[i])
				from_ip += conns_from(g->members[i], c->addr);
		if (from_ip >= l->max_per_ip)
			v = LISTENER_OVER_PER_IP;
	}
	c->next = l->conns.next;
	c->prev = &l->conns;
	l->conns.next->prev = c;
	l->conns.next = c;
	l->nconns++;
	g->nconns++;
	pthread_mutex_unlock(&g->lock);
	return v;
}

void listener_conn_free(struct listener_conn *c)
{
	struct listener *l = c->listener;

	if (c->next) {
		pthread_mutex_lock(&l->group->lock);
		c->prev->next = c->next;
		c->next->prev = c->prev;
		l->nconns--;
		l->group->nconns--;
		pthread_mutex_unlock(&l->group->lock);
	}
	free(c);
	maybe_report_closed(l);
}

void listener_each_conn(struct listener *l, void (*fn)(struct listener_conn *c, void *arg),
	void *arg)
{
	struct listener_conn *c = l->conns.next;

	while (c != &l->conns) {
		struct listener_conn *next = c->next;
		fn(c, arg);
		c = next;
	}
}

static void accept_failed_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct socket_handle *sh = server->data;
	struct listener *l = sh->l;
	struct listener_conn *c;
	enum listener_verdict v;
	int len = sizeof(struct sockaddr_storage), r;

	if (status < 0) {
		if (l->opts.accept_event)
			log_msg(LVL_WARN, l->opts.accept_event, "accept failed: %s",
				uv_strerror(status));
		return;
	}
	c = calloc(1, l->opts.conn_size);
	if (c == NULL)
		return;
	c->listener = l;
	c->tag = sh->tag;
	uv_tcp_init(l->loop, &c->tcp);
	c->tcp.data = c;
	r = uv_accept(server, (uv_stream_t *)&c->tcp);
	if (r != 0) {
		if (l->opts.accept_event)
			log_msg(LVL_WARN, l->opts.accept_event, "accept failed: %s", uv_strerror(r));
		uv_close((uv_handle_t *)&c->tcp, accept_failed_closed);
		return;
	}
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) != 0)
		memset(&c->peer, 0, sizeof(c->peer));
	listener_format_peer((struct sockaddr *)&c->peer, c->addr, sizeof(c->addr), &c->port,
		&c->ipv6);
	v = admit(l, c);
	l->opts.on_accept(l->opts.accept_arg, c, v);
}

/* ---- listening sockets ---- */

static void socket_closed(uv_handle_t *h)
{
	struct socket_handle *sh = h->data;
	struct listener *l = sh->l;

	size_t idx = sh->idx;

	free(sh);
	if (l == NULL)
		return;		/* orphaned by a failed init */
	l->socks[idx] = NULL;
	l->handles_open--;
	maybe_report_closed(l);
}

static void close_sockets(struct listener *l)
{
	for (size_t i = 0; l->socks && i < l->group->naddrs; i++) {
		uv_handle_t *h = (uv_handle_t *)l->socks[i];
		if (h && !uv_is_closing(h))
			uv_close(h, socket_closed);
	}
}

/* After a failed init: the handles free themselves, the listener can go. */
static void orphan_sockets(struct listener *l)
{
	close_sockets(l);
	for (size_t i = 0; l->socks && i < l->group->naddrs; i++)
		if (l->socks[i])
			l->socks[i]->l = NULL;
	l->handles_open = 0;
	l->nsocks = 0;
}

/* libuv has no flag for it: set it on the socket before the bind. */
static int reuse_port(uv_tcp_t *tcp)
{
	uv_os_fd_t fd;
	int one = 1, r = uv_fileno((uv_handle_t *)tcp, &fd);

	if (r == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		r = -errno;
	return r;
}

static int bind_one(struct listener *l, size_t idx, struct listen_addr *a)
{
	struct socket_handle *sh = calloc(1, sizeof(*sh));
	struct sockaddr_storage ss = a->ss;
	int len = sizeof(ss), r;
	/* Two addresses of one name ("::" and "0.0.0.0") must not collide. */
	unsigned flags = a->from_name && !a->only_of_name && ss.ss_family == AF_INET6
		? UV_TCP_IPV6ONLY : 0;

	if (sh == NULL)
		return UV_ENOMEM;
	sh->l = l;
	sh->idx = idx;
	sh->tag = a->tag;
	r = uv_tcp_init_ex(l->loop, &sh->tcp, ss.ss_family);
	if (r) {
		free(sh);
		return r;
	}
	sh->tcp.data = sh;
	l->socks[idx] = sh;
	l->handles_open++;
	r = l->group->nmembers > 1 ? reuse_port(&sh->tcp) : 0;
	if (r == 0)
		r = uv_tcp_bind(&sh->tcp, (struct sockaddr *)&ss, flags);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&sh->tcp, l->opts.backlog, on_connection);
	if (r == 0)
		r = uv_tcp_getsockname(&sh->tcp, (struct sockaddr *)&ss, &len);
	if (r == 0) {
		if (l->member == 0) {
			a->ss = ss;
			a->bound = true;
		}
		listener_format_addr((struct sockaddr *)&ss, sh->addr, sizeof(sh->addr));
		sh->listening = true;
		l->nsocks++;
	}
	return r;
}

static void log_listening(const struct listener *l)
{
	enum log_level lv = LVL_INFO;
	struct logline ln;

	if (l->opts.listen_event == NULL)
		return;
	/* Shown at any log level: the lowest one that is enabled. */
	while (lv < LVL_ERROR && !log_enabled(lv))
		lv++;
	for (size_t i = 0; i < l->group->naddrs; i++) {
		const struct socket_handle *sh = l->socks[i];
		if (sh && sh->listening && log_begin(&ln, lv, l->opts.listen_event)) {
			log_str(&ln, "addr", sh->addr);
			if (l->opts.tag_name)
				log_bool(&ln, l->opts.tag_name, sh->tag != 0);
			log_end(&ln);
		}
	}
}

int listener_init(struct listener *l, uv_loop_t *loop, struct listener_group *g,
	unsigned member, const struct listener_opts *opts, char *err, size_t errlen)
{
	int r = 0;

	memset(l, 0, sizeof(*l));
	l->loop = loop;
	l->group = g;
	l->member = member;
	l->opts = *opts;
	if (l->opts.backlog <= 0)
		l->opts.backlog = 511;
	l->conns.next = l->conns.prev = &l->conns;
	if (member >= g->nmembers || opts->conn_size < sizeof(struct listener_conn)) {
		snprintf(err, errlen, "listener %u of a group of %u", member, g->nmembers);
		l->closed = l->closed_reported = true;
		return -EINVAL;
	}
	l->socks = calloc(g->naddrs ? g->naddrs : 1, sizeof(*l->socks));
	if (l->socks == NULL) {
		snprintf(err, errlen, "out of memory");
		l->closed = l->closed_reported = true;
		return -ENOMEM;
	}
	for (size_t i = 0; i < g->naddrs && r == 0; i++) {
		struct listen_addr *a = &g->addrs[i];
		char want[LISTENER_ADDR_LEN];

		if (member > 0 && !a->bound)
			continue;	/* member 0 skipped it */
		r = bind_one(l, i, a);
		if (r == 0)
			continue;
		listener_format_addr((struct sockaddr *)&a->ss, want, sizeof(want));
		if (member == 0 && a->from_name && !a->only_of_name &&
		    (r == UV_EADDRNOTAVAIL || r == UV_EAFNOSUPPORT)) {
			log_msg(LVL_WARN, opts->listen_event ? opts->listen_event : "net.listen",
				"%s: skipping %s: %s", a->key, want, uv_strerror(r));
			uv_close((uv_handle_t *)l->socks[i], socket_closed);
			r = 0;
			continue;
		}
		snprintf(err, errlen, "%s: cannot listen on %s: %s", a->key, want, uv_strerror(r));
	}
	/* A name must keep at least one of its addresses. */
	for (size_t i = 0; r == 0 && member == 0 && i < g->naddrs; i++) {
		bool any = false;
		for (size_t j = 0; j < g->naddrs; j++)
			any |= g->addrs[j].spec == g->addrs[i].spec && g->addrs[j].bound;
		if (!any) {
			snprintf(err, errlen, "%s: cannot listen on any address of it", g->addrs[i].key);
			r = UV_EADDRNOTAVAIL;
		}
	}
	if (r) {
		l->closed = l->closed_reported = true;	/* no on_closed after a failed init */
		orphan_sockets(l);
		return r;
	}
	pthread_mutex_lock(&g->lock);
	g->members[member] = l;
	pthread_mutex_unlock(&g->lock);
	if (member == 0)
		log_listening(l);
	return 0;
}

const char *listener_addr(const struct listener *l, size_t i)
{
	for (size_t k = 0; l->socks && k < l->group->naddrs; k++)
		if (l->socks[k] && l->socks[k]->listening && i-- == 0)
			return l->socks[k]->addr;
	return NULL;
}

void listener_set_caps(struct listener *l, size_t max_total, size_t max_per_ip)
{
	l->max_total = max_total;
	l->max_per_ip = max_per_ip;
}

void listener_close(struct listener *l)
{
	if (l->closed)
		return;
	l->closed = true;
	close_sockets(l);
	maybe_report_closed(l);
}

void listener_free(struct listener *l)
{
	struct listener_group *g = l->group;

	if (g && g->members) {
		pthread_mutex_lock(&g->lock);
		if (l->member < g->nmembers && g->members[l->member] == l)
			g->members[l->member] = NULL;
		pthread_mutex_unlock(&g->lock);
	}
	free(l->socks);
	l->socks = NULL;
	l->nsocks = 0;
}

void listener_opts_front(struct listener_opts *o, size_t conn_size, listener_accept_cb on_accept,
	void *arg, const char *listen_event, const char *accept_event)
{
	memset(o, 0, sizeof(*o));
	o->conn_size = conn_size;
	o->on_accept = on_accept;
	o->accept_arg = arg;
	o->backlog = LISTENER_BACKLOG;
	o->listen_event = listen_event;
	o->accept_event = accept_event;
}

int listen_specs_add(struct listen_spec **v, size_t *n, const char *key,
	const struct strlist *addrs, int tag)
{
	struct listen_spec *nv;

	if (addrs->n == 0)
		return 0;
	nv = realloc(*v, (*n + addrs->n) * sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < addrs->n; i++)
		nv[*n + i] = (struct listen_spec){ key, addrs->v[i], tag };
	*v = nv;
	*n += addrs->n;
	return 0;
}
