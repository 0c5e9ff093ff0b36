#include "admin_http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "creds_cache.h"
#include "delivery.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "backend.h"
#include "metrics_queue.h"
#include "queue_backend.h"
#include "ses_governor.h"

/* After the answer: how long unread client bytes are drained before the
 * close, so the kernel does not reset the connection under the reply. */
#define LINGER_MS 2000

struct admin_conn {
	struct admin_conn *prev, *next;
	struct admin_http *a;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t sd;
	int handles_open;
	bool answered;
	bool writing;			/* the answer is not yet handed to the kernel */
	bool eof;			/* the client has finished sending */
	bool closing;
	struct buf out;
	size_t len;
	char head[ADMIN_HTTP_MAX_HEAD];
};

struct admin_http {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	struct server *srv;		/* borrowed */
	struct backend *be;		/* borrowed */
	unsigned timeout_ms;
	unsigned max_conns;
	struct admin_conn conns;	/* list head */
	size_t nconns;
	unsigned refs;			/* listener + connections still closing */
	bool closing;
	char addr[80];
};

static void admin_unref(struct admin_http *a)
{
	if (--a->refs == 0)
		free(a);
}

/* ---- connections ---- */

static void conn_closed(uv_handle_t *h)
{
	struct admin_conn *c = h->data;
	struct admin_http *a = c->a;

	if (--c->handles_open > 0)
		return;
	buf_free(&c->out);
	free(c);
	admin_unref(a);
}

static void conn_close(struct admin_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->a->nconns--;
	uv_close((uv_handle_t *)&c->timer, conn_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_timer(uv_timer_t *t)
{
	struct admin_conn *c = t->data;

	if (!c->answered) {
		struct logline l;
		if (log_begin(&l, LVL_DEBUG, "metrics.reject")) {
			log_str(&l, "reason", "timeout");
			log_uint(&l, "bytes", c->len);
			log_end(&l);
		}
	}
	conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)req;
	(void)status;
}

static void on_written(uv_write_t *req, int status)
{
	struct admin_conn *c = req->data;

	c->writing = false;
	if (c->closing)
		return;
	if (status < 0 || c->eof || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

static void respond(struct admin_conn *c, int status, const char *ctype, const char *body,
	size_t blen, bool head_only)
{
	uv_buf_t b;

	c->answered = true;
	buf_reset(&c->out);
	if (buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			"Cache-Control: no-store\r\n%sConnection: close\r\n\r\n", status,
			status_text(status), ctype, blen,
			status == 405 ? "Allow: GET, HEAD\r\n" : "") != 0 ||
		(!head_only && buf_append(&c->out, body, blen) != 0)) {
		conn_close(c);
		return;
	}
	b = uv_buf_init(c->out.data, (unsigned)c->out.len);
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
		conn_close(c);
		return;
	}
	/* Reading goes on, only to drain what the client still sends; the
	 * running timer bounds a client that does not take the answer. */
	c->writing = true;
}

static void respond_text(struct admin_conn *c, int status, const char *text, bool head_only)
{
	respond(c, status, "text/plain; charset=utf-8", text, strlen(text), head_only);
}

/* Ready = the relay would take and deliver mail now. */
static bool is_ready(struct admin_http *a, char *why, size_t n)
{
	struct creds_cache *cache;

	if (a->srv->draining) {
		snprintf(why, n, "draining: shutting down");
		return false;
	}
	if (a->srv->nlisteners == 0) {
		snprintf(why, n, "no SMTP listener");
		return false;
	}
	cache = backend_creds(a->be);
	if (queue_backend_queue(a->be)) {
		char full[128];
		if (queue_is_full(queue_backend_queue(a->be), full, sizeof(full))) {
			snprintf(why, n, "queue full: %s", full);
			return false;
		}
	}
	if (cache) {
		struct creds_cache_stats st;
		bool ok;
		creds_cache_status(cache, &ok, NULL, &st);
		if (!ok) {
			snprintf(why, n, "no valid shared-account credentials%s%s%s",
				st.last_error[0] ? " (last error: " : "", st.last_error,
				st.last_error[0] ? ")" : "");
			return false;
		}
	}
	return true;
}

static void scrape(struct admin_conn *c, bool head_only)
{
	struct admin_http *a = c->a;
	struct metrics_scrape x = { 0 };
	struct metrics_queue_scrape qx = { 0 };
	struct queue *q = queue_backend_queue(a->be);
	struct creds_cache *cache = backend_creds(a->be);
	struct ses_governor *gov = backend_governor(a->be);
	struct buf b = BUF_INIT;
	char why[128];

	if (gov) {
		struct ses_governor_stats gs;
		ses_governor_stats(gov, uv_hrtime() / 1000000, &gs);
		qx.have_governor = true;
		qx.rate = gs.rate;
		qx.tokens = gs.tokens;
		qx.throttles = gs.throttles;
		qx.paused = gs.paused;
	}

	if (q) {
		struct queue_stats qs;
		queue_stats(q, &qs);
		qx.have_queue = true;
		qx.messages = qs.messages;
		qx.bytes = qs.bytes;
		qx.held = qs.held;
		qx.oldest_seconds = qs.oldest_seconds;
		qx.full = queue_is_full(q, why, sizeof(why));
	}
	if (cache) {
		struct creds_cache_stats st;
		creds_cache_status(cache, &x.creds_ready, &x.creds_seconds_left, &st);
		x.have_creds = true;
		x.sts_refresh_ok = st.refresh_ok;
		x.sts_refresh_failed = st.refresh_failed;
	}
	if (metrics_render(&b, &x) != 0 || metrics_queue_render(&b, &qx) != 0) {
		buf_free(&b);
		respond_text(c, 503, "out of memory\n", head_only);
		return;
	}
	respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, head_only);
	buf_free(&b);
}

static void route(struct admin_conn *c, const struct admin_request *req)
{
	bool head_only = req->method == ADMIN_HEAD;
	bool known = strcmp(req->path, "/metrics") == 0 || strcmp(req->path, "/healthz") == 0 ||
		strcmp(req->path, "/readyz") == 0;
	char why[160], text[192];

	if (!known) {
		respond_text(c, 404, "not found\n", head_only);
		return;
	}
	if (req->method == ADMIN_OTHER) {
		respond_text(c, 405, "method not allowed\n", false);
		return;
	}
	if (strcmp(req->path, "/metrics") == 0) {
		scrape(c, head_only);
	} else if (strcmp(req->path, "/healthz") == 0) {
		respond_text(c, 200, "ok\n", head_only);
	} else if (is_ready(c->a, why, sizeof(why))) {
		respond_text(c, 200, "ready\n", head_only);
	} else {
		snprintf(text, sizeof(text), "not ready: %s\n", why);
		respond_text(c, 503, text, head_only);
	}
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct admin_conn *c = h->data;

	(void)hint;
	/* After the answer the head buffer is scratch space for the drain. */
	if (c->answered)
		*b = uv_buf_init(c->head, sizeof(c->head));
	else
		*b = uv_buf_init(c->head + c->len, (unsigned)(sizeof(c->head) - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct admin_conn *c = s->data;
	struct admin_request req;
	int r;

	(void)b;
	if (n == UV_EOF && c->answered) {
		/* A half-close after the request: the answer still goes out. */
		c->eof = true;
		uv_read_stop(s);
		if (!c->writing)
			conn_close(c);
		return;
	}
	if (n < 0) {
		conn_close(c);
		return;
	}
	if (n == 0 || c->answered)
		return;
	c->len += (size_t)n;
	r = admin_http_parse_request(c->head, c->len, &req);
	if (r == 0)
		return;
	if (r < 0) {
		struct logline l;
		if (log_begin(&l, LVL_DEBUG, "metrics.reject")) {
			log_int(&l, "status", -r);
			log_end(&l);
		}
		char text[64];
		snprintf(text, sizeof(text), "%s\n", status_text(-r));
		respond_text(c, -r, text, false);
		return;
	}
	route(c, &req);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct admin_http *a = l->data;
	struct admin_conn *c;

	if (status < 0 || a->closing)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->a = a;
	a->refs++;
	uv_tcp_init(a->loop, &c->tcp);
	uv_timer_init(a->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles_open = 2;
	c->next = a->conns.next;
	c->prev = &a->conns;
	a->conns.next->prev = c;
	a->conns.next = c;
	a->nconns++;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	/* Over the cap: closed unread, so a flood costs one accept each. */
	if (a->nconns > a->max_conns) {
		struct logline lg;
		if (log_begin(&lg, LVL_DEBUG, "metrics.reject")) {
			log_str(&lg, "reason", "max_connections");
			log_end(&lg);
		}
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timer, a->timeout_ms, 0);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

/* ---- listener ---- */


static void listener_closed(uv_handle_t *h)
{
	admin_unref(h->data);
}

void admin_http_close(struct admin_http *a)
{
	if (a == NULL || a->closing)
		return;
	a->closing = true;
	while (a->conns.next != &a->conns)
		conn_close(a->conns.next);
	uv_close((uv_handle_t *)&a->tcp, listener_closed);
}

int admin_http_new(uv_loop_t *loop, const struct config *cfg, struct server *srv,
	struct backend *be, struct admin_http **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct admin_http *a;
	int len = sizeof(ss), r;
	char host[64];

	memset(&ss, 0, sizeof(ss));
	if (server_parse_addr(cfg->metrics_listen, &ss) != 0) {
		snprintf(err, errlen, "metrics_listen: bad address \"%s\" (want a.b.c.d:port or "
			"[v6]:port)", cfg->metrics_listen);
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->loop = loop;
	a->srv = srv;
	a->be = be;
	a->timeout_ms = cfg->metrics_timeout * 1000;
	a->max_conns = cfg->metrics_max_connections;
	a->conns.next = a->conns.prev = &a->conns;
	a->refs = 1;
	uv_tcp_init(loop, &a->tcp);
	a->tcp.data = a;
	r = uv_tcp_bind(&a->tcp, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&a->tcp, 128, on_connection);
	if (r == 0)
		r = uv_tcp_getsockname(&a->tcp, (struct sockaddr *)&ss, &len);
	if (r) {
		snprintf(err, errlen, "metrics_listen: cannot listen on %s: %s",
			cfg->metrics_listen, uv_strerror(r));
		admin_http_close(a);
		return r;
	}
	if (ss.ss_family == AF_INET6) {
		uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
		snprintf(a->addr, sizeof(a->addr), "[%s]:%d", host,
			ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	} else {
		uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
		snprintf(a->addr, sizeof(a->addr), "%s:%d", host,
			ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	{
		/* At any log level, like smtp.listen: scrapers and tests need
		 * the real port when configured with port 0. */
		enum log_level lv = (enum log_level)cfg->log_level;
		struct logline l;
		if (lv < LVL_INFO)
			lv = LVL_INFO;
		if (log_begin(&l, lv, "metrics.listen")) {
			log_str(&l, "addr", a->addr);
			log_end(&l);
		}
	}
	*out = a;
	return 0;
}
