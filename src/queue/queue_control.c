#include "queue_control.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "queue.h"
#include "queue_id.h"

struct conn {
	struct conn *next;
	struct queue_control *c;
	uv_pipe_t pipe;
	uv_timer_t timer;
	uv_write_t wr;
	char line[QUEUE_CONTROL_MAX_LINE + 1];
	size_t len;
	struct buf out;
	int open_handles;
	bool answered;
};

struct queue_control {
	struct queue *q;		/* borrowed */
	uv_loop_t *loop;
	uv_pipe_t listener;
	struct conn *conns;
	unsigned nconns, max_conns, timeout_ms;
	bool closing, listener_closed;
	char path[108];
};

static void maybe_free(struct queue_control *c)
{
	if (c->closing && c->listener_closed && c->conns == NULL)
		free(c);
}

static void conn_closed(uv_handle_t *h)
{
	struct conn *k = h->data;
	struct queue_control *c = k->c;

	if (--k->open_handles > 0)
		return;
	for (struct conn **p = &c->conns; *p; p = &(*p)->next) {
		if (*p == k) {
			*p = k->next;
			break;
		}
	}
	c->nconns--;
	buf_free(&k->out);
	free(k);
	maybe_free(c);
}

static void conn_close(struct conn *k)
{
	if (!uv_is_closing((uv_handle_t *)&k->pipe))
		uv_close((uv_handle_t *)&k->pipe, conn_closed);
	if (!uv_is_closing((uv_handle_t *)&k->timer))
		uv_close((uv_handle_t *)&k->timer, conn_closed);
}

static int json_error(struct buf *out, const char *what)
{
	/* `what` is our own text: no quoting needed. */
	return buf_printf(out, "{\"error\":\"%s\"}\n", what) ? -ENOMEM : 0;
}

int queue_control_run(struct queue *q, const char *line, struct buf *out)
{
	char verb[16], id[64];
	int n = sscanf(line, "%15s %63s", verb, id), r;

	if (n < 1)
		return json_error(out, "empty request");
	if (n == 2 && !queue_id_valid(id))
		return json_error(out, "not a queue id");
	if (strcmp(verb, "list") == 0 && n == 1)
		r = queue_cmd_list(q, out);
	else if (strcmp(verb, "show") == 0 && n == 2)
		r = queue_cmd_show(q, id, out);
	else if (strcmp(verb, "flush") == 0)
		r = queue_cmd_flush(q, n == 2 ? id : NULL);
	else if (strcmp(verb, "delete") == 0 && n == 2)
		r = queue_cmd_delete(q, id);
	else if ((strcmp(verb, "hold") == 0 || strcmp(verb, "release") == 0) && n == 2)
		r = queue_cmd_hold(q, id, verb[0] == 'h');
	else
		return json_error(out, "unknown request");
	if (r == -ENOENT)
		return json_error(out, "no such message");
	if (r)
		return json_error(out, "failed");
	if (strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0)
		return buf_putc(out, '\n') ? -ENOMEM : 0;
	return buf_puts(out, "{\"ok\":true}\n") ? -ENOMEM : 0;
}

static void written(uv_write_t *w, int status)
{
	conn_close(w->data);
}

static void answer(struct conn *k)
{
	uv_buf_t b;

	k->answered = true;
	uv_read_stop((uv_stream_t *)&k->pipe);
	uv_timer_stop(&k->timer);
	k->line[k->len] = '\0';
	if (queue_control_run(k->c->q, k->line, &k->out) != 0 || k->out.len == 0) {
		conn_close(k);
		return;
	}
	b = uv_buf_init(k->out.data, (unsigned)k->out.len);
	k->wr.data = k;
	if (uv_write(&k->wr, (uv_stream_t *)&k->pipe, &b, 1, written) != 0)
		conn_close(k);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *k = h->data;

	(void)hint;
	b->base = k->line + k->len;
	b->len = QUEUE_CONTROL_MAX_LINE - k->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *k = s->data;
	char *nl;

	(void)b;
	if (k->answered)
		return;
	if (n < 0) {
		conn_close(k);
		return;
	}
	k->len += (size_t)n;
	k->line[k->len] = '\0';
	nl = memchr(k->line, '\n', k->len);
	if (nl) {
		*nl = '\0';
		k->len = (size_t)(nl - k->line);
		answer(k);
	} else if (k->len == QUEUE_CONTROL_MAX_LINE) {
		conn_close(k);		/* too long: no answer */
	}
}

static void on_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct queue_control *c = server->data;
	struct conn *k;

	if (status < 0 || c->closing)
		return;
	k = calloc(1, sizeof(*k));
	if (k == NULL || uv_pipe_init(c->loop, &k->pipe, 0) != 0) {
		free(k);
		return;
	}
	k->c = c;
	k->pipe.data = k;
	k->timer.data = k;
	k->open_handles = 2;
	uv_timer_init(c->loop, &k->timer);
	k->next = c->conns;
	c->conns = k;
	c->nconns++;
	if (uv_accept(server, (uv_stream_t *)&k->pipe) != 0 || c->nconns > c->max_conns) {
		conn_close(k);
		return;
	}
	uv_timer_start(&k->timer, on_timeout, c->timeout_ms, 0);
	uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read);
}

static void listener_closed(uv_handle_t *h)
{
	struct queue_control *c = h->data;

	c->listener_closed = true;
	maybe_free(c);
}

int queue_control_new(uv_loop_t *loop, struct queue *q, const char *dir, unsigned timeout_s,
	unsigned max_conns, struct queue_control **out, char *err, size_t errlen)
{
	struct queue_control *c = calloc(1, sizeof(*c));
	int w, r;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->q = q;
	c->loop = loop;
	c->max_conns = max_conns;
	c->timeout_ms = timeout_s * 1000;
	w = snprintf(c->path, sizeof(c->path), "%s/%s", dir, QUEUE_CONTROL_NAME);
	if (w < 0 || (size_t)w >= sizeof(c->path)) {
		free(c);
		snprintf(err, errlen, "key \"queue_dir\": %s: too long for its control socket "
			"(at most %zu characters)", dir, sizeof(c->path) - sizeof(QUEUE_CONTROL_NAME) - 1);
		return -ENAMETOOLONG;
	}
	/* A socket left by a relay that did not stop cleanly. */
	unlink(c->path);
	r = uv_pipe_init(loop, &c->listener, 0);
	if (r) {
		free(c);
		snprintf(err, errlen, "control socket: %s", uv_strerror(r));
		return r;
	}
	c->listener.data = c;
	r = uv_pipe_bind(&c->listener, c->path);
	if (r == 0 && chmod(c->path, 0600) != 0)
		r = -errno;
	if (r == 0)
		r = uv_listen((uv_stream_t *)&c->listener, 16, on_connection);
	if (r) {
		snprintf(err, errlen, "control socket %s: %s", c->path, uv_strerror(r));
		c->closing = true;
		uv_close((uv_handle_t *)&c->listener, listener_closed);
		return r;
	}
	*out = c;
	return 0;
}

void queue_control_close(struct queue_control *c)
{
	if (c == NULL || c->closing)
		return;
	c->closing = true;
	unlink(c->path);
	uv_close((uv_handle_t *)&c->listener, listener_closed);
	for (struct conn *k = c->conns; k; k = k->next)
		conn_close(k);
}
