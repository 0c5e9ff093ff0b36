#include "relay.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "admin_http.h"
#include "api_runtime.h"
#include "api_server.h"
#include "backend.h"
#include "http_client.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "loop.h"
#include "runtime.h"
#include "ses_backend.h"
#include "smtp_server.h"

struct relay;

/* One event loop serving SMTP. With one worker it runs on the main loop,
 * not in a thread of its own: the SES client then waits for the
 * credentials cache directly (a cache on another loop can only be polled),
 * there is no thread hop, and `workers 1` keeps its promise of a process
 * without threads. Everything else is the same code as with N workers. */
struct worker {
	struct relay *relay;
	unsigned idx;
	bool threaded;
	uv_loop_t own_loop;		/* threaded only */
	uv_loop_t *loop;		/* &own_loop, or the main loop */
	uv_thread_t thread;
	struct backend *be;		/* threaded: owned; else the main one, borrowed */
	struct listener listener;
	struct smtp_server smtp;
	struct listener api_listener;	/* with api_listen: the API front's */
	struct api_server api;
	bool api_ok;
	unsigned listeners_open;	/* worker_finished when the last one closed */
	uv_timer_t drain_timer;
	uv_async_t wake;		/* main -> worker: stop and/or next_rt */
	bool loop_ok, handles_ok, listener_ok, running, stopping, finished;
	pthread_mutex_t lock;		/* guards next_rt, next_gen, stop */
	struct runtime *next_rt;	/* a ref, handed over on reload */
	struct api_runtime *next_api_rt;	/* likewise, with api_listen */
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
	struct listener_group group;	/* the workers' SMTP listeners */
	struct api_runtime *api_rt;	/* with api_listen: the latest loaded (a ref) */
	struct listener_group api_group;	/* the workers' API listeners */
	bool api_group_ok;
	struct admin_http *admin;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_async_t event;		/* worker -> main: reload applied, worker ended */
	bool main_closed;
	atomic_uint ended;		/* workers that are done */
	unsigned reload_gen;		/* last runtime handed out */
	bool reload_logged;
	bool stopping;
	struct worker *w;
	unsigned n;
};

unsigned relay_workers(const struct config *cfg)
{
	unsigned n = cfg->workers;

	if (n == 0)
		n = uv_available_parallelism();
	return n ? n : 1;
}

/* The API front's runtime on the configuration the SMTP runtime loaded:
 * one load, so both fronts always run the same configuration. */
static void runtime_release(void *owner)
{
	runtime_unref(owner);
}

static int api_runtime_from(struct runtime *rt, struct api_runtime **out, char *err, size_t errlen)
{
	int r = api_runtime_new(&rt->cfg, runtime_release, runtime_ref(rt), out, err, errlen);

	if (r)
		runtime_unref(rt);
	return r;
}

/* -- a worker, on its loop ------------------------------------------- */

static void worker_ended(struct worker *w)
{
	atomic_fetch_add(&w->relay->ended, 1);
	uv_async_send(&w->relay->event);
}

/* The listener is closed and its last connection gone (or it never
 * listened): close what is left of ours so the loop can end. */
static void worker_finished(void *arg)
{
	struct worker *w = arg;

	if (w->finished)
		return;
	w->finished = true;
	if (w->handles_ok) {
		uv_close((uv_handle_t *)&w->drain_timer, NULL);
		uv_close((uv_handle_t *)&w->wake, NULL);
	}
	if (w->threaded)
		backend_shutdown(w->be);
	else
		worker_ended(w);	/* no loop of its own to run dry */
}

/* One of the worker's listeners is closed with its last connection. */
static void listener_closed(void *arg)
{
	struct worker *w = arg;

	if (w->listeners_open > 0 && --w->listeners_open == 0)
		worker_finished(w);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct worker *w = t->data;

	log_msg(LVL_WARN, "smtp.shutdown", "drain timeout: closing %zu connection(s)",
		w->listener.nconns);
	smtp_server_shutdown(&w->smtp, true);
	if (w->api_ok)
		api_server_shutdown(&w->api, true);
}

/* Graceful shutdown: stop accepting, let transactions finish (up to
 * drain_timeout), answer the others 421 4.3.2; worker_finished follows. */
static void worker_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	if (!w->listener_ok) {
		worker_finished(w);
		return;
	}
	log_msg(LVL_INFO, "smtp.shutdown", "stopping: %zu connection(s) open", w->listener.nconns);
	smtp_server_shutdown(&w->smtp, false);
	if (w->api_ok)
		api_server_shutdown(&w->api, false);
	if (w->listener.nconns > 0 || (w->api_ok && w->api_listener.nconns > 0))
		uv_timer_start(&w->drain_timer, on_drain_timeout,
			(uint64_t)w->smtp.rt->cfg.drain_timeout * 1000, 0);
	listener_close(&w->listener);
	if (w->api_ok)
		listener_close(&w->api_listener);
}

static void on_wake(uv_async_t *a)
{
	struct worker *w = a->data;
	struct runtime *rt;
	struct api_runtime *art;
	unsigned gen;
	bool stop;

	pthread_mutex_lock(&w->lock);
	rt = w->next_rt;
	art = w->next_api_rt;
	gen = w->next_gen;
	stop = w->stop;
	w->next_rt = NULL;
	w->next_api_rt = NULL;
	pthread_mutex_unlock(&w->lock);
	if (art) {
		if (w->api_ok)
			api_server_set_runtime(&w->api, art);
		api_runtime_unref(art);
	}
	if (rt) {
		if (w->listener_ok)
			smtp_server_set_runtime(&w->smtp, rt);
		runtime_unref(rt);
		atomic_store(&w->applied_gen, gen);
		uv_async_send(&w->relay->event);
	}
	if (stop)
		worker_stop(w);
}

static void worker_main(void *arg)
{
	struct worker *w = arg;

	loop_drain(&w->own_loop);
	worker_ended(w);
}

/* Build worker w on the main thread: loop, back end, handles, listener,
 * SMTP front end. On failure it is left for worker_stop(). */
static int worker_setup(struct relay *m, struct worker *w, char *err, size_t errlen)
{
	const struct config *cfg = &m->rt->cfg;
	struct listener_opts o = { 0 };
	int r;

	w->threaded = m->n > 1;
	w->loop = &m->loop;
	w->be = m->be;
	if (w->threaded) {
		r = uv_loop_init(&w->own_loop);
		if (r) {
			snprintf(err, errlen, "cannot start an event loop: %s", uv_strerror(r));
			return r;
		}
		w->loop_ok = true;
		w->loop = &w->own_loop;
		w->be = NULL;
		r = backend_new_worker(m->be, cfg, w->loop, &w->be, err, errlen);
		if (r)
			return -EINVAL;
	}
	uv_timer_init(w->loop, &w->drain_timer);
	uv_async_init(w->loop, &w->wake, on_wake);
	w->drain_timer.data = w->wake.data = w;
	w->handles_ok = true;
	smtp_server_listener_opts(&w->smtp, &o);
	o.on_closed = listener_closed;
	o.closed_arg = w;
	r = listener_init(&w->listener, w->loop, &m->group, w->idx, &o, err, errlen);
	if (r)
		return r;
	w->listener_ok = true;
	w->listeners_open++;
	smtp_server_init(&w->smtp, w->loop, &w->listener, m->rt, w->be, w->threaded ? (int)w->idx : -1);
	if (m->api_rt) {
		/* The API front on this loop: the same listener code, the loop's
		 * SES client for forwarding. */
		struct listener_opts ao = { 0 };
		struct ses_client *ses = ses_backend_client(w->be);
		if (ses == NULL) {
			snprintf(err, errlen, "key \"api_listen\" needs backend ses");
			return -EINVAL;
		}
		api_server_listener_opts(&w->api, &ao);
		ao.on_closed = listener_closed;
		ao.closed_arg = w;
		r = listener_init(&w->api_listener, w->loop, &m->api_group, w->idx, &ao, err, errlen);
		if (r)
			return r;
		w->api_ok = true;
		w->listeners_open++;
		api_server_init(&w->api, w->loop, &w->api_listener, m->api_rt, ses);
	}
	return 0;
}

/* A worker that never ran: run it down here, on the main thread. */
static void worker_teardown(struct worker *w)
{
	worker_stop(w);
	if (w->threaded) {
		if (w->loop_ok)
			loop_drain(&w->own_loop);
		worker_ended(w);
	}
}

static void worker_free(struct worker *w)
{
	if (w->listener_ok)
		smtp_server_free(&w->smtp);
	listener_free(&w->listener);
	if (w->api_ok)
		api_server_free(&w->api);
	listener_free(&w->api_listener);
	api_runtime_unref(w->next_api_rt);
	if (w->threaded)
		backend_free(w->be);
	runtime_unref(w->next_rt);
	pthread_mutex_destroy(&w->lock);
}

/* -- the main loop --------------------------------------------------- */

static void tell_workers(struct relay *m, struct runtime *rt, struct api_runtime *art, bool stop)
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
		if (art) {
			api_runtime_unref(w->next_api_rt);
			w->next_api_rt = api_runtime_ref(art);
		}
		w->stop |= stop;
		pthread_mutex_unlock(&w->lock);
		uv_async_send(&w->wake);
	}
}

static void close_main(struct relay *m)
{
	if (m->main_closed)
		return;
	m->main_closed = true;
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
			log_msg(LVL_INFO, "config.reload", "configuration reloaded in %u worker(s); it "
				"applies to new connections (these keys need a restart: %s)", m->n,
				config_restart_keys());
		}
	}
	if (atomic_load(&m->ended) == m->n && !m->main_closed) {
		/* Joined first: a worker's last uv_async_send() has returned. */
		for (unsigned i = 0; i < m->n; i++)
			if (m->w[i].running && m->w[i].threaded)
				uv_thread_join(&m->w[i].thread);
		close_main(m);
	}
}

static void reload(struct relay *m)
{
	struct runtime *rt;
	struct api_runtime *art = NULL;
	char err[1024];

	if (runtime_load(m->config_path, &rt, err, sizeof(err)) != 0) {
		log_msg(LVL_ERROR, "config.reload", "keeping the old configuration: %s", err);
		metrics_reload(false);
		return;
	}
	if (m->api_rt && api_runtime_from(rt, &art, err, sizeof(err)) != 0) {
		runtime_unref(rt);
		log_msg(LVL_ERROR, "config.reload", "keeping the old configuration: %s", err);
		metrics_reload(false);
		return;
	}
	if (art) {
		api_runtime_unref(m->api_rt);
		m->api_rt = art;
	}
	runtime_unref(m->rt);
	m->rt = rt;
	log_setup((enum log_format)rt->cfg.log_format, (enum log_level)rt->cfg.log_level,
		rt->cfg.log_syslog);
	metrics_reload(true);
	/* The back end's share (for ses: one shared-account identity, rebuilt
	 * here and switched for every worker once proven). */
	backend_reload(m->be, &rt->cfg);
	m->reload_gen++;
	m->reload_logged = false;
	tell_workers(m, rt, art, false);
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
	tell_workers(m, NULL, NULL, true);
}

/* /readyz: the SMTP listeners are up, not draining, and the back end can
 * deliver. */
static bool relay_ready(void *arg, char *why, size_t n)
{
	struct relay *m = arg;

	if (m->stopping) {
		snprintf(why, n, "draining: shutting down");
		return false;
	}
	if (listener_group_bound(&m->group) == 0) {
		snprintf(why, n, "no SMTP listener");
		return false;
	}
	return backend_ready(m->be, why, n);
}

static void relay_metrics(void *arg, struct metrics_scrape *x)
{
	struct relay *m = arg;

	backend_metrics(m->be, x);
}

static void relay_free(struct relay *m)
{
	for (unsigned i = 0; i < m->n; i++)
		worker_free(&m->w[i]);
	listener_group_free(&m->group);
	if (m->api_group_ok)
		listener_group_free(&m->api_group);
	api_runtime_unref(m->api_rt);
	backend_free(m->be);
	runtime_unref(m->rt);
	free(m->w);
	free(m);
}

/* Exit status for a setup error: 2 when the configuration is at fault. */
static int setup_status(int r)
{
	return r == -EINVAL ? 2 : 1;
}

int relay_run(const char *config_path)
{
	struct relay *m;
	struct runtime *rt;
	struct listen_spec *specs = NULL;
	size_t nspecs = 0;
	char err[1024] = "";
	unsigned built = 0, started = 0;
	int r, rc = 0;

	if (runtime_load(config_path, &rt, err, sizeof(err)) != 0) {
		fprintf(stderr, "sesrelay: %s\n", err);
		return 2;
	}
	log_setup((enum log_format)rt->cfg.log_format, (enum log_level)rt->cfg.log_level,
		rt->cfg.log_syslog);
	signal(SIGPIPE, SIG_IGN);
	m = calloc(1, sizeof(*m));
	if (m)
		m->n = relay_workers(&rt->cfg);
	if (m == NULL || (m->w = calloc(m->n, sizeof(*m->w))) == NULL) {
		free(m);
		runtime_unref(rt);
		fprintf(stderr, "sesrelay: out of memory\n");
		return 1;
	}
	m->config_path = config_path;
	m->rt = rt;
	for (unsigned i = 0; i < m->n; i++) {
		m->w[i].relay = m;
		m->w[i].idx = i;
		pthread_mutex_init(&m->w[i].lock, NULL);
		atomic_init(&m->w[i].applied_gen, 0);
	}
	r = uv_loop_init(&m->loop);
	if (r == 0)
		r = http_global_init();
	if (r) {
		fprintf(stderr, "sesrelay: cannot start the event loop\n");
		relay_free(m);
		return 1;
	}
	uv_signal_init(&m->loop, &m->sig_term);
	uv_signal_init(&m->loop, &m->sig_int);
	uv_signal_init(&m->loop, &m->sig_hup);
	uv_async_init(&m->loop, &m->event, on_event);
	m->sig_term.data = m->sig_int.data = m->sig_hup.data = m->event.data = m;
	m->reload_logged = true;
	/* Caught from here on, before any listener is bound and logged
	 * (supervisors and tests take smtp.listen as "up" and may stop the
	 * relay at once). The callbacks run only once the loop runs, after
	 * the set-up below; a set-up failure marks the relay stopping first,
	 * so a signal that came meanwhile is then a no-op. */
	uv_signal_start(&m->sig_term, on_signal, SIGTERM);
	uv_signal_start(&m->sig_int, on_signal, SIGINT);
	uv_signal_start(&m->sig_hup, on_signal, SIGHUP);

	r = backend_new(&rt->cfg, &m->loop, &m->be, err, sizeof(err));
	if (r) {
		fprintf(stderr, "sesrelay: %s%s%s\n", rt->cfg.path ? rt->cfg.path : "",
			rt->cfg.path ? ": " : "", err);
		rc = 2;
		goto teardown;
	}
	r = smtp_server_listen_specs(rt, &specs, &nspecs);
	if (r == 0)
		r = listener_group_init(&m->group, m->n, specs, nspecs, rt->cfg.path, err,
			sizeof(err));
	free(specs);
	if (r) {
		fprintf(stderr, "sesrelay: %s\n", r == -ENOMEM ? "out of memory" : err);
		rc = setup_status(r);
		goto teardown;
	}
	if (rt->cfg.api_listen.n) {
		r = api_runtime_from(rt, &m->api_rt, err, sizeof(err));
		if (r == 0)
			r = api_server_listen_specs(&rt->cfg, &specs, &nspecs);
		if (r == 0) {
			r = listener_group_init(&m->api_group, m->n, specs, nspecs, rt->cfg.path, err,
				sizeof(err));
			m->api_group_ok = r == 0;
		}
		free(specs);
		if (r) {
			fprintf(stderr, "sesrelay: %s\n", r == -ENOMEM ? "out of memory" : err);
			rc = setup_status(r);
			goto teardown;
		}
	}
	for (; built < m->n; built++) {
		r = worker_setup(m, &m->w[built], err, sizeof(err));
		if (r) {
			fprintf(stderr, "sesrelay: %s\n", err);
			rc = setup_status(r);
			built++;
			goto teardown;
		}
	}
	if (rt->cfg.metrics_listen && *rt->cfg.metrics_listen) {
		struct admin_source src = { relay_ready, relay_metrics, m };
		r = admin_http_new(&m->loop, &rt->cfg, &src, &m->admin, err, sizeof(err));
		if (r) {
			fprintf(stderr, "sesrelay: %s\n", err);
			rc = setup_status(r);
			goto teardown;
		}
	}
	for (; started < m->n; started++) {
		struct worker *w = &m->w[started];
		r = w->threaded ? uv_thread_create(&w->thread, worker_main, w) : 0;
		if (r)
			break;
		w->running = true;
	}
	if (started < m->n) {
		/* Run the others down as SIGTERM would; the rest never ran. */
		fprintf(stderr, "sesrelay: cannot start a worker thread: %s\n", uv_strerror(r));
		rc = 1;
		m->stopping = true;
		tell_workers(m, NULL, NULL, true);
		for (unsigned i = started; i < m->n; i++)
			worker_teardown(&m->w[i]);
	} else {
		log_msg(LVL_INFO, "sesrelay.start", "ready: backend %s, %zu listener(s), %u worker(s)",
			m->be->ops->name, listener_group_bound(&m->group), m->n);
	}
	loop_drain(&m->loop);
	if (rc == 0)
		log_msg(LVL_INFO, "sesrelay.stop", "stopped");
	relay_free(m);
	return rc;

teardown:
	/* Nothing runs yet: close every worker built and the main loop. */
	m->stopping = true;
	for (unsigned i = 0; i < built; i++)
		worker_teardown(&m->w[i]);
	atomic_fetch_add(&m->ended, m->n - built);
	uv_async_send(&m->event);	/* close_main once every worker is done */
	loop_drain(&m->loop);
	relay_free(m);
	return rc;
}
