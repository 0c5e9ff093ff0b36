#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "smtp_session.h"

static void group_lock(struct server *srv)
{
	if (srv->group)
		pthread_mutex_lock(&srv->group->lock);
}

static void group_unlock(struct server *srv)
{
	if (srv->group)
		pthread_mutex_unlock(&srv->group->lock);
}

static void conn_link(struct server *srv, struct server_conn *c)
{
	c->next = srv->conns.next;
	c->prev = &srv->conns;
	srv->conns.next->prev = c;
	srv->conns.next = c;
	srv->nconns++;
	if (srv->group)
		srv->group->nconns++;
}

void server_conn_add(struct server *srv, struct server_conn *c)
{
	group_lock(srv);
	conn_link(srv, c);
	group_unlock(srv);
	metrics_connection_opened();
}

void server_conn_admit(struct server *srv, struct server_conn *c, size_t *total,
	size_t *from_ip)
{
	struct server_group *g = srv->group;

	group_lock(srv);
	if (g == NULL) {
		*total = srv->nconns;
		*from_ip = server_conns_from(srv, c->addr);
	} else {
		*total = g->nconns;
		*from_ip = 0;
		for (size_t i = 0; i < g->nmembers; i++)
			if (g->members[i])
				*from_ip += server_conns_from(g->members[i], c->addr);
	}
	conn_link(srv, c);
	group_unlock(srv);
	metrics_connection_opened();
}

static void maybe_finish(struct server *srv);

void server_conn_remove(struct server *srv, struct server_conn *c)
{
	if (c->next == NULL)
		return;
	group_lock(srv);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->next = c->prev = NULL;
	srv->nconns--;
	if (srv->group)
		srv->group->nconns--;
	group_unlock(srv);
	metrics_connection_closed();
	if (srv->draining)
		maybe_finish(srv);
}

size_t server_conns_from(const struct server *srv, const char *addr)
{
	size_t n = 0;

	for (const struct server_conn *c = srv->conns.next; c != &srv->conns; c = c->next)
		if (strcmp(c->addr, addr) == 0)
			n++;
	return n;
}

/* "a.b.c.d:port" or "[v6]:port" */
int server_parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long port;

	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host) || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end || port < 0 || port > 65535 || errno)
		return -EINVAL;
	if (*s == '[')
		return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss);
	return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
}

static void on_connection(uv_stream_t *h, int status)
{
	struct listener *l = h->data;

	if (status < 0) {
		log_msg(LVL_WARN, "smtp.accept", "accept failed: %s", uv_strerror(status));
		return;
	}
	session_accept(l->srv, h, l->implicit_tls);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct server *srv = h->data;

	srv->handles_open--;
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

static int bind_one(struct server *srv, struct listener *l, const char *spec,
	bool implicit_tls, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss), r;
	char host[64];

	memset(&ss, 0, sizeof(ss));
	if (srv->group && srv->worker > 0) {
		/* The address member 0 bound, so port 0 means the same port. */
		ss = srv->group->addrs[l - srv->listeners];
	} else if (server_parse_addr(spec, &ss) != 0) {
		snprintf(err, errlen, "%s: key \"%s\": bad address \"%s\" (want a.b.c.d:port or [v6]:port)",
			srv->rt->cfg.path ? srv->rt->cfg.path : "configuration",
			implicit_tls ? "smtps_listen" : "listen", spec);
		return -EINVAL;
	}
	l->srv = srv;
	l->implicit_tls = implicit_tls;
	uv_tcp_init_ex(srv->loop, &l->tcp, ss.ss_family);
	l->tcp.data = l;
	srv->handles_open++;
	r = srv->group ? reuse_port(&l->tcp) : 0;
	if (r == 0)
		r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
	if (r == 0)
		r = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
	if (r) {
		snprintf(err, errlen, "cannot listen on %s: %s", spec, uv_strerror(r));
		return r;
	}
	if (srv->group && srv->worker == 0)
		srv->group->addrs[l - srv->listeners] = ss;
	if (ss.ss_family == AF_INET6) {
		uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
		snprintf(l->addr, sizeof(l->addr), "[%s]:%d", host,
			ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	} else {
		uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
		snprintf(l->addr, sizeof(l->addr), "%s:%d", host,
			ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	return 0;
}

static void close_listeners(struct server *srv)
{
	for (size_t i = 0; i < srv->nlisteners; i++) {
		uv_handle_t *h = (uv_handle_t *)&srv->listeners[i].tcp;
		if (h->loop && !uv_is_closing(h)) {
			h->data = srv;
			uv_close(h, on_handle_closed);
		}
	}
}

/* Everything is done: close what keeps the loop alive. */
static void maybe_finish(struct server *srv)
{
	if (srv->nconns > 0)
		return;
	if (!uv_is_closing((uv_handle_t *)&srv->drain_timer)) {
		backend_shutdown(srv->be);
		if (srv->on_finish)
			srv->on_finish(srv->on_finish_arg);
		uv_close((uv_handle_t *)&srv->drain_timer, on_handle_closed);
		if (srv->own_signals) {
			uv_close((uv_handle_t *)&srv->sig_term, on_handle_closed);
			uv_close((uv_handle_t *)&srv->sig_int, on_handle_closed);
			uv_close((uv_handle_t *)&srv->sig_hup, on_handle_closed);
		}
	}
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct server *srv = t->data;
	struct server_conn *c = srv->conns.next;

	log_msg(LVL_WARN, "smtp.shutdown", "drain timeout: closing %zu connection(s)", srv->nconns);
	while (c != &srv->conns) {
		struct server_conn *next = c->next;
		session_shutdown(c, true);
		c = next;
	}
}

void server_shutdown(struct server *srv)
{
	struct server_conn *c;

	if (srv->draining)
		return;
	srv->draining = true;
	log_msg(LVL_INFO, "smtp.shutdown", "stopping: %zu connection(s) open", srv->nconns);
	close_listeners(srv);
	c = srv->conns.next;
	while (c != &srv->conns) {
		struct server_conn *next = c->next;
		session_shutdown(c, false);
		c = next;
	}
	if (srv->nconns > 0)
		uv_timer_start(&srv->drain_timer, on_drain_timeout,
			(uint64_t)srv->rt->cfg.drain_timeout * 1000, 0);
	maybe_finish(srv);
}

static void reload(struct server *srv)
{
	struct runtime *rt;
	char err[1024];

	if (runtime_load(srv->config_path, &rt, err, sizeof(err)) != 0) {
		log_msg(LVL_ERROR, "config.reload", "keeping the old configuration: %s", err);
		metrics_reload(false);
		return;
	}
	server_set_runtime(srv, rt);
	runtime_unref(rt);
	metrics_reload(true);
	log_setup((enum log_format)rt->cfg.log_format, (enum log_level)rt->cfg.log_level,
		rt->cfg.log_syslog);
	log_msg(LVL_INFO, "config.reload", "configuration reloaded; it applies to new connections "
		"(listen addresses and backend need a restart)");
}

void server_set_runtime(struct server *srv, struct runtime *rt)
{
	runtime_ref(rt);
	runtime_unref(srv->rt);
	srv->rt = rt;
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	if (signum == SIGHUP)
		reload(srv);
	else
		server_shutdown(srv);
}

static int init_common(struct server *srv, uv_loop_t *loop, struct runtime *rt,
	struct backend *be, const char *config_path, struct server_group *g, unsigned worker,
	char *err, size_t errlen)
{
	const struct config *cfg = &rt->cfg;
	size_t n = cfg->listen.n + cfg->smtps_listen.n, k = 0;
	int r = 0;

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->group = g;
	srv->worker = worker;
	srv->own_signals = g == NULL;
	srv->rt = runtime_ref(rt);
	srv->be = be;
	srv->config_path = config_path;
	srv->conns.next = srv->conns.prev = &srv->conns;
	srv->listeners = calloc(n ? n : 1, sizeof(*srv->listeners));
	if (srv->listeners == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (g && (g->naddrs != n || worker >= g->nmembers)) {
		snprintf(err, errlen, "listen addresses differ between workers");
		free(srv->listeners);
		srv->listeners = NULL;
		return -EINVAL;
	}
	uv_timer_init(loop, &srv->drain_timer);
	srv->drain_timer.data = srv;
	srv->handles_open = 1;
	if (srv->own_signals) {
		uv_signal_init(loop, &srv->sig_term);
		uv_signal_init(loop, &srv->sig_int);
		uv_signal_init(loop, &srv->sig_hup);
		srv->sig_term.data = srv->sig_int.data = srv->sig_hup.data = srv;
		srv->handles_open += 3;
	}
	for (size_t i = 0; i < n && r == 0; i++, k++) {
		bool tls = i >= cfg->listen.n;
		const char *spec = tls ? cfg->smtps_listen.v[i - cfg->listen.n] : cfg->listen.v[i];
		srv->nlisteners = k + 1;
		r = bind_one(srv, &srv->listeners[k], spec, tls, err, errlen);
	}
	if (r == 0) {
		if (srv->own_signals) {
			uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
			uv_signal_start(&srv->sig_int, on_signal, SIGINT);
			uv_signal_start(&srv->sig_hup, on_signal, SIGHUP);
		}
		if (g) {
			pthread_mutex_lock(&g->lock);
			g->members[worker] = srv;
			pthread_mutex_unlock(&g->lock);
		}
		/* Shown at any log level: supervisors and tests wait for it
		 * (and learn the real port when configured with port 0). */
		enum log_level lv = (enum log_level)cfg->log_level;
		if (lv < LVL_INFO)
			lv = LVL_INFO;
		for (size_t i = 0; worker == 0 && i < srv->nlisteners; i++) {
			struct logline l;
			if (log_begin(&l, lv, "smtp.listen")) {
				log_str(&l, "addr", srv->listeners[i].addr);
				log_bool(&l, "tls", srv->listeners[i].implicit_tls);
				log_end(&l);
			}
		}
		return 0;
	}
	/* Undo: the caller runs the loop once more to let the closes finish. */
	srv->draining = true;
	close_listeners(srv);
	maybe_finish(srv);
	return r;
}

int server_init(struct server *srv, uv_loop_t *loop, struct runtime *rt,
	struct backend *be, const char *config_path, char *err, size_t errlen)
{
	return init_common(srv, loop, rt, be, config_path, NULL, 0, err, errlen);
}

int server_init_worker(struct server *srv, uv_loop_t *loop, struct runtime *rt,
	struct backend *be, struct server_group *g, unsigned worker, char *err, size_t errlen)
{
	return init_common(srv, loop, rt, be, NULL, g, worker, err, errlen);
}

int server_group_init(struct server_group *g, size_t nmembers, size_t naddrs)
{
	memset(g, 0, sizeof(*g));
	g->members = calloc(nmembers, sizeof(*g->members));
	g->addrs = calloc(naddrs ? naddrs : 1, sizeof(*g->addrs));
	if (g->members == NULL || g->addrs == NULL) {
		free(g->members);
		free(g->addrs);
		return -ENOMEM;
	}
	g->nmembers = nmembers;
	g->naddrs = naddrs;
	pthread_mutex_init(&g->lock, NULL);
	return 0;
}

void server_group_free(struct server_group *g)
{
	pthread_mutex_destroy(&g->lock);
	free(g->members);
	free(g->addrs);
	memset(g, 0, sizeof(*g));
}

void server_free(struct server *srv)
{
	if (srv->group) {
		pthread_mutex_lock(&srv->group->lock);
		if (srv->group->members[srv->worker] == srv)
			srv->group->members[srv->worker] = NULL;
		pthread_mutex_unlock(&srv->group->lock);
	}
	free(srv->listeners);
	srv->listeners = NULL;
	runtime_unref(srv->rt);
	srv->rt = NULL;
}
