/* `sesrelay [run]`: the relay in the foreground until SIGTERM/SIGINT, on
 * one event loop, or on `workers` loops in threads (workers.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "admin_http.h"
#include "backend.h"
#include "commands.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"
#include "server.h"
#include "ses_backend.h"
#include "workers.h"


static void close_admin(void *arg)
{
	admin_http_close(arg);
}

/* The back end's share of a reload: for ses, the shared-account identity. */
static void backend_reload(void *arg, const struct config *cfg)
{
	struct backend *be = arg;

	if (cfg->backend == BACKEND_SES && strcmp(be->ops->name, "ses") == 0)
		ses_backend_reload(be, cfg);
}

int cmd_run(const char *config_path)
{
	struct runtime *rt = NULL;
	struct backend *be = NULL;
	struct server srv;
	struct admin_http *admin = NULL;
	uv_loop_t loop;
	char err[1024];
	int r;

	if (runtime_load(config_path, &rt, err, sizeof(err)) != 0) {
		fprintf(stderr, "sesrelay: %s\n", err);
		return 2;
	}
	log_setup((enum log_format)rt->cfg.log_format, (enum log_level)rt->cfg.log_level,
		rt->cfg.log_syslog);
	signal(SIGPIPE, SIG_IGN);
	if (workers_count(&rt->cfg) > 1) {
		r = workers_run(config_path, rt, workers_count(&rt->cfg));
		runtime_unref(rt);
		return r;
	}
	r = uv_loop_init(&loop);
	if (r) {
		fprintf(stderr, "sesrelay: cannot start the event loop: %s\n", uv_strerror(r));
		runtime_unref(rt);
		return 1;
	}
	r = backend_new(&rt->cfg, &loop, &be, err, sizeof(err));
	if (r) {
		fprintf(stderr, "sesrelay: %s%s%s\n", rt->cfg.path ? rt->cfg.path : "",
			rt->cfg.path ? ": " : "", err);
		loop_drain(&loop);
		runtime_unref(rt);
		return 2;
	}
	r = server_init(&srv, &loop, rt, be, config_path, err, sizeof(err));
	if (r) {
		fprintf(stderr, "sesrelay: %s\n", err);
		backend_shutdown(be);
		loop_drain(&loop);
		server_free(&srv);
		backend_free(be);
		runtime_unref(rt);
		return r == -EINVAL ? 2 : 1;	/* bad address vs. cannot bind */
	}
	srv.on_reload = backend_reload;
	srv.on_reload_arg = be;
	if (rt->cfg.metrics_listen && *rt->cfg.metrics_listen) {
		r = admin_http_new(&loop, &rt->cfg, &srv, be, &admin, err, sizeof(err));
		if (r) {
			fprintf(stderr, "sesrelay: %s\n", err);
			server_shutdown(&srv);
			loop_drain(&loop);
			server_free(&srv);
			backend_free(be);
			runtime_unref(rt);
			return r == -EINVAL ? 2 : 1;
		}
		srv.on_finish = close_admin;
		srv.on_finish_arg = admin;
	}
	log_msg(LVL_INFO, "sesrelay.start", "ready: backend %s, %zu listener(s)",
		be->ops->name, srv.nlisteners);
	loop_drain(&loop);
	log_msg(LVL_INFO, "sesrelay.stop", "stopped");
	server_free(&srv);
	backend_free(be);
	runtime_unref(rt);
	return 0;
}
