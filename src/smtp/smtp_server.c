#include "smtp_server.h"

#include <errno.h>
#include <stdlib.h>

#include "runtime.h"
#include "smtp_session.h"
#include "smtp_session_int.h"

static void on_accept(void *arg, struct listener_conn *c, enum listener_verdict v)
{
	session_accept(arg, c, v);
}

void smtp_server_listener_opts(struct smtp_server *srv, struct listener_opts *o)
{
	o->conn_size = sizeof(struct session);
	o->on_accept = on_accept;
	o->accept_arg = srv;
	o->backlog = 511;
	o->listen_event = "smtp.listen";
	o->tag_name = "tls";
	o->accept_event = "smtp.accept";
}

int smtp_server_listen_specs(const struct runtime *rt, struct listen_spec **out, size_t *n)
{
	const struct config *cfg = &rt->cfg;
	struct listen_spec *v;

	*n = cfg->listen.n + cfg->smtps_listen.n;
	v = calloc(*n ? *n : 1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->listen.n; i++)
		v[i] = (struct listen_spec){ "listen", cfg->listen.v[i], 0 };
	for (size_t i = 0; i < cfg->smtps_listen.n; i++)
		v[cfg->listen.n + i] = (struct listen_spec){ "smtps_listen", cfg->smtps_listen.v[i],
			SMTP_TAG_IMPLICIT_TLS };
	*out = v;
	return 0;
}

static void set_caps(struct smtp_server *srv)
{
	listener_set_caps(srv->listener, srv->rt->cfg.max_connections,
		srv->rt->cfg.max_connections_per_ip);
}

void smtp_server_init(struct smtp_server *srv, uv_loop_t *loop, struct listener *l,
	struct runtime *rt, struct backend *be, int worker)
{
	srv->loop = loop;
	srv->listener = l;
	srv->rt = runtime_ref(rt);
	srv->be = be;
	srv->worker = worker;
	set_caps(srv);
}

void smtp_server_set_runtime(struct smtp_server *srv, struct runtime *rt)
{
	runtime_ref(rt);
	runtime_unref(srv->rt);
	srv->rt = rt;
	set_caps(srv);
}

static void shutdown_one(struct listener_conn *c, void *arg)
{
	session_shutdown(c, *(bool *)arg);
}

void smtp_server_shutdown(struct smtp_server *srv, bool force)
{
	listener_each_conn(srv->listener, shutdown_one, &force);
}

void smtp_server_free(struct smtp_server *srv)
{
	runtime_unref(srv->rt);
	srv->rt = NULL;
}
