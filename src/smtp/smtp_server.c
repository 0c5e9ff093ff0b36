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
	listener_opts_front(o, sizeof(struct session), on_accept, srv, "smtp.listen", "smtp.accept");
	o->tag_name = "tls";
}

int smtp_server_listen_specs(const struct runtime *rt, struct listen_spec **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return listen_specs_add(out, n, "listen", &rt->cfg.listen, 0) ||
		listen_specs_add(out, n, "smtps_listen", &rt->cfg.smtps_listen, SMTP_TAG_IMPLICIT_TLS) ?
		-ENOMEM : 0;
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
