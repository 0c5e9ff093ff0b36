#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "admin_http.h"
#include "backend.h"
#include "http_client.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "runtime.h"
#include "server.h"
#include "ses_backend.h"

struct relay;

struct worker {
	struct relay *relay;
	unsigned idx;
	uv_loop_t loop;
	uv_thread_t thread;
	struct backend *be;		/* owned */
	struct server srv;
	uv_async_t wake;		/* main -> worker: stop and/or next_rt */
	bool loop_ok, srv_ok, wake_ok, running;
	pthread_mutex_t lock;		/* guards next_rt, next_gen, stop */
	struct runtime *next_rt;	/* a ref, handed over on reload */
	unsigned next_gen;
	bool stop;
	atomic_uint applied_gen;	/* reload generation in use */
};

/* Main-thread state. */
struct relay {
	const char *config_path;
	struct runtime *rt;		/* the latest loaded (a ref) */
	uv_loop_t loop;
	struct backend *be;		/* owned; for ses it holds the shared identity */
	struct server_group group;
	struct server status;		/* the group as /readyz sees it: listeners, draining */
	struct admin_http *admin;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_async_t event;		/* worker -> main: reload applied, loop ended */
	atomic_uint ended;		/* workers whose loop has ended */
	unsigned reload_gen;		/* last runtime handed out */
	bool reload_logged;
	bool stopping;
	struct worker *w;
	unsigned n;
};

unsigned workers_count(const struct config *cfg)
{
	unsigned n = cfg->workers;

	if (n == 0)
		n = uv_available_parallelism();
	return n ? n : 1;
}

/* -- worker thread --------------------------------------------------- */

static void on_wake(uv_async_t *a)
{
	struct worker *w = a->data;
	struct runtime *rt;
	unsigned gen;
	bool stop;

	pthread_mutex_lock(&w->lock);
	rt = w->next_rt;
	gen = w->next_gen;
	stop = w->stop;
	w->next_rt = NULL;
	pthread_mutex_unlock(&w->lock);
	if (rt) {
		server_set_runtime(&w->srv, rt);
		runtime_unref(rt);
		atomic_store(&w->applied_gen, gen);
		uv_async_send(&w->relay->event);
	}
	if (stop)
		server_shutdown(&w->srv);
}

/* The server has drained: the wake handle is the last thing of ours. */
static void worker_finished(void *arg)
{
	struct worker *w = arg;

	if (!uv_is_closing((uv_handle_t *)&w->wake))
		uv_close((uv_handle_t *)&w->wake, NULL);
}

static void worker_main(void *arg)
{
	struct worker *w = arg;

	loop_drain(&w->loop);
	atomic_fetch_add(&w->relay->ended, 1);
	uv_async_send(&w->relay->event);
}

/* Build worker i on the main thread: loop, back end, listeners, wake. */
static int worker_setup(struct relay *m, struct worker *w, char *err, size_t errlen)
{
	const struct config *cfg = &m->rt->cfg;
	int r;

	pthread_mutex_init(&w->lock, NULL);
	atomic_init(&w->applied_gen, 0);
	r = uv_loop_init(&w->loop);
	if (r) {
		snprintf(err, errlen, "cannot start an event loop: %s", uv_strerror(r));
		return r;
	}
	w->loop_ok = true;
	if (cfg->backend == BACKEND_SES)
		r = ses_backend_new_worker(cfg, &w->loop, m->be, &w->be, err, errlen);
	else
		r = backend_new(cfg, &w->loop, &w->be, err, errlen);
	if (r)
		return -EINVAL;
	r = server_init_worker(&w->srv, &w->loop, m->rt, w->be, &m->group, w->idx, err, errlen);
	w->srv_ok = true;	/* to free, also when it failed */
	if (r)
		return r;
	uv_async_init(&w->loop, &w->wake, on_wake);
	w->wake.data = w;
	w->wake_ok = true;
	w->srv.on_finish = worker_finished;
	w->srv.on_finish_arg = w;
	return 0;
}

/* A worker whose thread never ran: close it down on this thread. */
static void worker_teardown(struct worker *w)
{
	if (!w->loop_ok)
		return;
	if (w->srv_ok && w->wake_ok)
		server_shutdown(&w->srv);	/* ends with worker_finished */
	else if (w->be)
		backend_shutdown(w->be);
	loop_drain(&w->loop);
}

static void worker_free(struct worker *w)
{
	if (w->srv_ok)
		server_free(&w->srv);
	backend_free(w->be);
	runtime_unref(w->next_rt);
	pthread_mutex_destroy(&w->lock);
}

/* -- main loop ------------------------------------------------------- */

static void tell_workers(struct relay *m, struct runtime *rt, bool stop)
{
	for (unsigned i = 0; i < m->n; i++) {
		struct worker *w = &m->w[i];
		if (!w->running)
			continue;
		pthread_mutex_lock(&w->lock);
		if (rt) {
			runtime_unref(w->next_rt);
			w->next_rt = runtime_ref(rt);
			w->next_gen = m->reload_gen;
		}
		w->stop |= stop;
		pthread_mutex_unlock(&w->lock);
		uv_async_send(&w->wake);
	}
}

static void close_main(struct relay *m)
{
	admin_http_close(m->admin);
	m->admin = NULL;
	backend_shutdown(m->be);
	uv_close((uv_handle_t *)&m->sig_term, NULL);
	uv_close((uv_handle_t *)&m->sig_int, NULL);
	uv_close((uv_handle_t *)&m->sig_hup, NULL);
	uv_close((uv_handle_t *)&m->event, NULL);
}

static void on_event(uv_async_t *a)
{
	struct relay *m = a->data;
	bool applied = true;

	if (!m->reload_logged) {
		for (unsigned i = 0; i < m->n; i++)
			if (m->w[i].running && atomic_load(&m->w[i].applied_gen) < m->reload_gen)
				applied = false;
		/* Logged once every worker takes new connections with it. */
		if (applied) {
			m->reload_logged = true;
			log_msg(LVL_INFO, "config.reload", "configuration reloaded in %u workers; it "
				"applies to new connections (listen addresses, workers and backend "
				"need a restart)", m->n);
		}
	}
	if (atomic_load(&m->ended) == m->n && !uv_is_closing((uv_handle_t *)&m->event)) {
		/* Joined first: a worker's last uv_async_send() has returned. */
		for (unsigned i = 0; i < m->n; i++)
			if (m->w[i].running)
				uv_thread_join(&m->w[i].thread);
		close_main(m);
	}
}

static void reload(struct relay *m)
{
	struct runtime *rt;
	char err[1024];

	if (runtime_load(m->config_path, &rt, err, sizeof(err)) != 0) {
		log_msg(LVL_ERROR, "config.reload", "keeping the old configuration: %s", err);
		metrics_reload(false);
		return;
	}
	runtime_unref(m->rt);
	m->rt = rt;
	metrics_reload(true);
	log_setup((enum log_format)rt->cfg.log_format, (enum log_level)rt->cfg.log_level,
		rt->cfg.log_syslog);
	m->reload_gen++;
	m->reload_logged = false;
	tell_workers(m, rt, false);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct relay *m = h->data;

	if (m->stopping)
		return;
	if (signum == SIGHUP) {
		reload(m);
		return;
	}
	m->stopping = true;
	m->status.draining = true;
	tell_workers(m, NULL, true);
}

static void close_admin(struct relay *m)
{
	admin_http_close(m->admin);
	m->admin = NULL;
}

int workers_run(const char *config_path, struct runtime *rt, unsigned n)
{
	const struct config *cfg = &rt->cfg;
	struct relay *m = calloc(1, sizeof(*m));
	char err[1024] = "";
	unsigned built = 0, started = 0;
	int r, rc = 0;

	if (m == NULL || (m->w = calloc(n, sizeof(*m->w))) == NULL) {
		free(m);
		fprintf(stderr, "sesrelay: out of memory\n");
		return 1;
	}
	m->config_path = config_path;
	m->rt = runtime_ref(rt);
	m->n = n;
	r = uv_loop_init(&m->loop);
	if (r == 0)
		r = http_global_init();
	if (r) {
		fprintf(stderr, "sesrelay: cannot start the event loop\n");
		runtime_unref(m->rt);
		free(m->w);
		free(m);
		return 1;
	}
	r = backend_new(cfg, &m->loop, &m->be, err, sizeof(err));
	if (r) {
		fprintf(stderr, "sesrelay: %s%s%s\n", cfg->path ? cfg->path : "",
			cfg->path ? ": " : "", err);
		rc = 2;
		goto out_main;
	}
	r = server_group_init(&m->group, n, cfg->listen.n + cfg->smtps_listen.n);
	if (r) {
		fprintf(stderr, "sesrelay: out of memory\n");
		rc = 1;
		goto out_main;
	}
	for (; built < n; built++) {
		m->w[built].relay = m;
		m->w[built].idx = built;
		r = worker_setup(m, &m->w[built], err, sizeof(err));
		if (r) {
			fprintf(stderr, "sesrelay: %s\n", err);
			rc = r == -EINVAL ? 2 : 1;
			built++;
			goto out_workers;
		}
	}
	m->status.nlisteners = m->w[0].srv.nlisteners;
	if (cfg->metrics_listen && *cfg->metrics_listen) {
		r = admin_http_new(&m->loop, cfg, &m->status, m->be, &m->admin, err, sizeof(err));
		if (r) {
			fprintf(stderr, "sesrelay: %s\n", err);
			rc = r == -EINVAL ? 2 : 1;
			goto out_workers;
		}
	}
	uv_signal_init(&m->loop, &m->sig_term);
	uv_signal_init(&m->loop, &m->sig_int);
	uv_signal_init(&m->loop, &m->sig_hup);
	uv_async_init(&m->loop, &m->event, on_event);
	m->sig_term.data = m->sig_int.data = m->sig_hup.data = m->event.data = m;
	m->reload_logged = true;
	uv_signal_start(&m->sig_term, on_signal, SIGTERM);
	uv_signal_start(&m->sig_int, on_signal, SIGINT);
	uv_signal_start(&m->sig_hup, on_signal, SIGHUP);
	for (; started < n; started++) {
		r = uv_thread_create(&m->w[started].thread, worker_main, &m->w[started]);
		if (r)
			break;
		m->w[started].running = true;
	}
	if (started < n) {
		/* Run the others down as SIGTERM would; the rest never ran. */
		fprintf(stderr, "sesrelay: cannot start a worker thread: %s\n", uv_strerror(r));
		rc = 1;
		for (unsigned i = started; i < n; i++)
			worker_teardown(&m->w[i]);
		atomic_fetch_add(&m->ended, n - started);
		m->stopping = true;
		m->status.draining = true;
		if (started == 0)
			close_main(m);
		else
			tell_workers(m, NULL, true);
	} else {
		log_msg(LVL_INFO, "sesrelay.start", "ready: backend %s, %zu listener(s), %u workers",
			m->be->ops->name, m->status.nlisteners, n);
	}
	loop_drain(&m->loop);
	if (rc == 0)
		log_msg(LVL_INFO, "sesrelay.stop", "stopped");
	for (unsigned i = 0; i < n; i++)
		worker_free(&m->w[i]);
	server_group_free(&m->group);
	backend_free(m->be);
	runtime_unref(m->rt);
	free(m->w);
	free(m);
	return rc;

out_workers:
	close_admin(m);
	for (unsigned i = 0; i < built; i++)
		worker_teardown(&m->w[i]);
	for (unsigned i = 0; i < built; i++)
		worker_free(&m->w[i]);
	server_group_free(&m->group);
out_main:
	backend_shutdown(m->be);
	loop_drain(&m->loop);
	backend_free(m->be);
	runtime_unref(m->rt);
	free(m->w);
	free(m);
	return rc;
}
