#include "admin_http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"

/* After the answer: how long unread client bytes are drained before the
 * close, so the kernel does not reset the connection under the reply. */
#define LINGER_MS 2000

/* Allocated by the listener (struct listener_conn first). */
struct admin_conn {
	struct listener_conn conn;	/* first: socket, the listener's node */
	struct admin_http *a;
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
	struct listener_group group;	/* of one: the main loop's */
	struct listener listener;
	struct admin_source src;
	unsigned timeout_ms;
	bool closing;
};

/* ---- connections ---- */

static void conn_closed(uv_handle_t *h)
{
	struct admin_conn *c = h->data;

	if (--c->handles_open > 0)
		return;
	buf_free(&c->out);
	listener_conn_free(&c->conn);
}

static void conn_close(struct admin_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->timer, conn_closed);
	uv_close((uv_handle_t *)&c->conn.tcp, conn_closed);
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
	if (status < 0 || c->eof || uv_shutdown(&c->sd, (uv_stream_t *)&c->conn.tcp, on_shutdown) != 0) {
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
	if (uv_write(&c->wr, (uv_stream_t *)&c->conn.tcp, &b, 1, on_written) != 0) {
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

static void scrape(struct admin_conn *c, bool head_only)
{
	struct admin_http *a = c->a;
	struct metrics_scrape x = { 0 };
	struct buf b = BUF_INIT;

	a->src.metrics(a->src.arg, &x);
	if (metrics_render(&b, &x) != 0) {
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
	char why[400], text[448];

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
	} else if (c->a->src.ready(c->a->src.arg, why, sizeof(why))) {
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

static void on_accept(void *arg, struct listener_conn *lc, enum listener_verdict v)
{
	struct admin_http *a = arg;
	struct admin_conn *c = (struct admin_conn *)lc;

	c->a = a;
	uv_timer_init(a->loop, &c->timer);
	c->conn.tcp.data = c->timer.data = c;
	c->handles_open = 2;
	/* Over the cap: closed unread, so a flood costs one accept each. */
	if (v != LISTENER_ADMIT) {
		struct logline lg;
		if (log_begin(&lg, LVL_DEBUG, "metrics.reject")) {
			log_str(&lg, "reason", "max_connections");
			log_end(&lg);
		}
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timer, a->timeout_ms, 0);
	if (uv_read_start((uv_stream_t *)&c->conn.tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

/* ---- listener ---- */

static void admin_closed(void *arg)
{
	struct admin_http *a = arg;

	listener_free(&a->listener);
	listener_group_free(&a->group);
	free(a);
}

static void close_conn(struct listener_conn *c, void *arg)
{
	(void)arg;
	conn_close((struct admin_conn *)c);
}

void admin_http_close(struct admin_http *a)
{
	if (a == NULL || a->closing)
		return;
	a->closing = true;
	listener_each_conn(&a->listener, close_conn, NULL);
	listener_close(&a->listener);	/* admin_closed once all is closed */
}

int admin_http_new(uv_loop_t *loop, const struct config *cfg, const struct admin_source *src,
	struct admin_http **out, char *err, size_t errlen)
{
	struct listen_spec spec = { "metrics_listen", cfg->metrics_listen, 0 };
	struct listener_opts o = {
		.conn_size = sizeof(struct admin_conn),
		.on_accept = on_accept,
		.on_closed = admin_closed,
		.backlog = 128,
		.listen_event = "metrics.listen",
		.accept_event = "metrics.accept",
	};
	struct admin_http *a = calloc(1, sizeof(*a));
	int r;

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->loop = loop;
	a->src = *src;
	a->timeout_ms = cfg->metrics_timeout * 1000;
	r = listener_group_init(&a->group, 1, &spec, 1, cfg->path, err, errlen);
	if (r) {
		free(a);
		return r;
	}
	o.accept_arg = o.closed_arg = a;
	r = listener_init(&a->listener, loop, &a->group, 0, &o, err, errlen);
	if (r) {
		/* Its handles close on the loop; the object goes with them. */
		a->closing = true;
		listener_free(&a->listener);
		listener_group_free(&a->group);
		free(a);
		return r;
	}
	listener_set_caps(&a->listener, cfg->metrics_max_connections, 0);
	*out = a;
	return 0;
}
