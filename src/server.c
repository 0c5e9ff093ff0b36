#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "smtp_session.h"

void server_conn_add(struct server *srv, struct server_conn *c)
{
	c->next = srv->conns.next;
	c->prev = &srv->conns;
	srv->conns.next->prev = c;
	srv->conns.next = c;
	srv->nconns++;
	metrics_connection_opened();
}

static void maybe_finish(struct server *srv);

void server_conn_remove(struct server *srv, struct server_conn *c)
{
	if (c->next == NULL)
		return;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->next = c->prev = NULL;
	srv->nconns--;
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
static int parse_listen(const char *s, struct sockaddr_storage *ss)
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
	if (hl == 0 || hl >= sizeof(host))
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

static int bind_one(struct server *srv, struct listener *l, const char *spec,
	bool implicit_tls, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss), r;
	char host[64];

	memset(&ss, 0, sizeof(ss));
	if (parse_listen(spec, &ss) != 0) {
		snprintf(err, errlen, "%s: key \"%s\": bad address \"%s\" (want a.b.c.d:port or [v6]:port)",
			srv->rt->cfg.path ? srv->rt->cfg.path : "configuration",
			implicit_tls ? "smtps_listen" : "listen", spec);
		return -EINVAL;
	}
	l->srv = srv;
	l->implicit_tls = implicit_tls;
	uv_tcp_init(srv->loop, &l->tcp);
	l->tcp.data = l;
	srv->handles_open++;
	r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
	if (r == 0)
		r = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
	if (r) {
		snprintf(err, errlen, "cannot listen on %s: %s", spec, uv_strerror(r));
		return r;
	}
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
		uv_close((uv_handle_t *)&srv->sig_term, on_handle_closed);
		uv_close((uv_handle_t *)&srv->sig_int, on_handle_closed);
		uv_close((uv_handle_t *)&srv->sig_hup, on_handle_closed);
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
		return;
	}
	runtime_unref(srv->rt);
	srv->rt = rt;
	log_setup((enum log_format)rt->cfg.log_format, (enum log_level)rt->cfg.log_level,
		rt->cfg.log_syslog);
	log_msg(LVL_INFO, "config.reload", "configuration reloaded; it applies to new connections "
		"(listen addresses and backend need a restart)");
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	if (signum == SIGHUP)
		reload(srv);
	else
		server_shutdown(srv);
}

int server_init(struct server *srv, uv_loop_t *loop, struct runtime *rt,
	struct backend *be, const char *config_path, char *err, size_t errlen)
{
	const struct config *cfg = &rt->cfg;
	size_t n = cfg->listen.n + cfg->smtps_listen.n, k = 0;
	int r = 0;

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->rt = runtime_ref(rt);
	srv->be = be;
	srv->config_path = config_path;
	srv->conns.next = srv->conns.prev = &srv->conns;
	srv->listeners = calloc(n ? n : 1, sizeof(*srv->listeners));
	if (srv->listeners == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	uv_timer_init(loop, &srv->drain_timer);
	uv_signal_init(loop, &srv->sig_term);
	uv_signal_init(loop, &srv->sig_int);
	uv_signal_init(loop, &srv->sig_hup);
	srv->drain_timer.data = srv->sig_term.data = srv->sig_int.data = srv->sig_hup.data = srv;
	srv->handles_open = 4;
	for (size_t i = 0; i < n && r == 0; i++, k++) {
		bool tls = i >= cfg->listen.n;
		const char *spec = tls ? cfg->smtps_listen.v[i - cfg->listen.n] : cfg->listen.v[i];
		srv->nlisteners = k + 1;
		r = bind_one(srv, &srv->listeners[k], spec, tls, err, errlen);
	}
	if (r == 0) {
		uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
		uv_signal_start(&srv->sig_int, on_signal, SIGINT);
		uv_signal_start(&srv->sig_hup, on_signal, SIGHUP);
		/* Shown at any log level: supervisors and tests wait for it
		 * (and learn the real port when configured with port 0). */
		enum log_level lv = (enum log_level)cfg->log_level;
		if (lv < LVL_INFO)
			lv = LVL_INFO;
		for (size_t i = 0; i < srv->nlisteners; i++) {
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

void server_free(struct server *srv)
{
	free(srv->listeners);
	srv->listeners = NULL;
	runtime_unref(srv->rt);
	srv->rt = NULL;
}
