/* credential_process: run the profile's command WITHOUT a shell, capture
 * its stdout (bounded), kill it on timeout, parse its JSON.
 *
 * The child gets its own process group (UV_PROCESS_DETACHED = setsid) so a
 * timeout or cancel kills helpers it started too. We finish only after the
 * child has been reaped and every handle is closed, so no zombie or handle
 * outlives the call; the callback runs from the last close callback. */
#include "creds_base.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/crypto.h>

#define MAX_ARGS 64
#define MAX_STDERR 4096

struct creds_process {
	uv_process_t proc;
	uv_pipe_t out, err;
	uv_timer_t timer;
	int open_handles;
	bool spawned, exited, out_eof, err_eof, timed_out, too_big, cancelled, closing;
	int spawn_err;
	int64_t exit_status;
	int term_signal;
	size_t max_output;
	struct buf out_buf, err_buf;
	char cmd0[128];			/* argv[0] for messages: arguments may be sensitive */
	creds_cb cb;
	void *arg;
};

void creds_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **a = argv; *a; a++) {
		OPENSSL_cleanse(*a, strlen(*a));
		free(*a);
	}
	free(argv);
}

int creds_split_argv(const char *s, char ***out)
{
	char **argv = calloc(MAX_ARGS + 1, sizeof(*argv));
	size_t n = 0, len = strlen(s);
	char *word = malloc(len + 1);
	int r = -EINVAL;

	*out = NULL;
	if (argv == NULL || word == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	for (;;) {
		size_t w = 0;
		bool have = false;

		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
		if (*s == '\0')
			break;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
			have = true;
			if (*s == '\'') {
				const char *e = strchr(s + 1, '\'');
				if (e == NULL)
					goto fail;
				memcpy(word + w, s + 1, (size_t)(e - s - 1));
				w += (size_t)(e - s - 1);
				s = e + 1;
			} else if (*s == '"') {
				s++;
				while (*s && *s != '"') {
					if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
						s++;
					word[w++] = *s++;
				}
				if (*s != '"')
					goto fail;
				s++;
			} else {
				word[w++] = *s++;
			}
		}
		if (!have)
			break;
		if (n == MAX_ARGS)
			goto fail;
		if ((argv[n] = malloc(w + 1)) == NULL) {
			r = -ENOMEM;
			goto fail;
		}
		memcpy(argv[n], word, w);
		argv[n++][w] = '\0';
	}
	if (n == 0)
		goto fail;
	OPENSSL_cleanse(word, len + 1);
	free(word);
	*out = argv;
	return 0;
fail:
	if (word) {
		OPENSSL_cleanse(word, len + 1);
		free(word);
	}
	creds_argv_free(argv);
	return r;
}

/* First line of the command's stderr, for the error message. */
static void stderr_line(const struct creds_process *p, char *out, size_t n)
{
	const char *s = p->err_buf.data ? p->err_buf.data : "";
	size_t len = strcspn(s, "\r\n");

	if (len >= n)
		len = n - 1;
	memcpy(out, s, len);
	out[len] = '\0';
}

static void deliver(struct creds_process *p)
{
	struct aws_error why;
	struct aws_creds *c = NULL;
	char line[120];
	int err = -EIO;

	if (p->spawn_err) {
		creds_error_set(&why, 0, false, "credential_process", "ProcessError",
			"credential_process: cannot run \"%s\": %s", p->cmd0,
			uv_strerror(p->spawn_err));
	} else if (p->timed_out) {
		creds_error_set(&why, 0, true, "credential_process", "Timeout",
			"credential_process \"%s\" did not finish in time", p->cmd0);
		err = -ETIMEDOUT;
	} else if (p->too_big) {
		creds_error_set(&why, 0, false, "credential_process", "ProcessError",
			"credential_process \"%s\": output exceeds %zu bytes", p->cmd0,
			p->max_output);
	} else if (p->term_signal) {
		creds_error_set(&why, 0, true, "credential_process", "ProcessError",
			"credential_process \"%s\" killed by signal %d", p->cmd0,
			p->term_signal);
	} else if (p->exit_status != 0) {
		stderr_line(p, line, sizeof(line));
		creds_error_set(&why, 0, true, "credential_process", "ProcessError",
			"credential_process \"%s\" exited with status %lld%s%s", p->cmd0,
			(long long)p->exit_status, line[0] ? ": " : "", line);
	} else {
		cJSON *o = cJSON_ParseWithLength(p->out_buf.data ? p->out_buf.data : "",
			p->out_buf.len);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "Version");

		if (o && !(cJSON_IsNumber(v) && v->valuedouble == 1)) {
			creds_error_set(&why, 0, false, "credential_process", "InvalidResponse",
				"credential_process \"%s\": output lacks \"Version\": 1", p->cmd0);
			err = -EINVAL;
		} else {
			err = creds_from_json(p->out_buf.data ? p->out_buf.data : "",
				p->out_buf.len, "SessionToken", false, "credential_process",
				"credential_process", &c, &why);
		}
		/* The parse tree holds the secret too: wipe before freeing. */
		for (cJSON *f = o ? o->child : NULL; f; f = f->next)
			if (cJSON_IsString(f) && f->valuestring)
				OPENSSL_cleanse(f->valuestring, strlen(f->valuestring));
		cJSON_Delete(o);
	}
	p->cb(p->arg, c ? 0 : err, c, c ? NULL : &why);
	aws_creds_unref(c);
}

static void on_close(uv_handle_t *h)
{
	struct creds_process *p = h->data;

	if (--p->open_handles > 0)
		return;
	if (!p->cancelled)
		deliver(p);
	buf_free_secret(&p->out_buf);
	buf_free(&p->err_buf);
	free(p);
}

static void close_all(struct creds_process *p)
{
	if (p->closing)
		return;
	p->closing = true;
	uv_close((uv_handle_t *)&p->timer, on_close);
	uv_close((uv_handle_t *)&p->out, on_close);
	uv_close((uv_handle_t *)&p->err, on_close);
	if (p->spawned || p->spawn_err)
		uv_close((uv_handle_t *)&p->proc, on_close);
}

static void kill_group(struct creds_process *p)
{
	if (p->spawned && !p->exited) {
		kill(-p->proc.pid, SIGKILL);
		uv_process_kill(&p->proc, SIGKILL);
	}
}

static void maybe_finish(struct creds_process *p)
{
	if (p->exited && ((p->out_eof && p->err_eof) || p->timed_out || p->too_big))
		close_all(p);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
	struct creds_process *p = proc->data;

	p->exited = true;
	p->exit_status = status;
	p->term_signal = p->timed_out || p->too_big ? 0 : sig;
	maybe_finish(p);
}

static void on_timeout(uv_timer_t *t)
{
	struct creds_process *p = t->data;

	p->timed_out = !p->exited || !(p->out_eof && p->err_eof);
	/* A helper the command left behind may still hold stdout open. */
	if (p->exited)
		kill(-p->proc.pid, SIGKILL);
	kill_group(p);
	maybe_finish(p);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct creds_process *p = h->data;
	struct buf *buf = h == (uv_handle_t *)&p->out ? &p->out_buf : &p->err_buf;

	(void)hint;
	if (buf_reserve(buf, 4096) != 0) {
		*b = uv_buf_init(NULL, 0);
		return;
	}
	*b = uv_buf_init(buf->data + buf->len, (unsigned)(buf->cap - buf->len - 1));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct creds_process *p = s->data;
	bool is_out = s == (uv_stream_t *)&p->out;
	struct buf *buf = is_out ? &p->out_buf : &p->err_buf;

	(void)b;
	if (n > 0) {
		buf->len += (size_t)n;
		buf->data[buf->len] = '\0';
		if (is_out && buf->len > p->max_output) {
			p->too_big = true;
			kill_group(p);
		} else if (!is_out && buf->len > MAX_STDERR) {
			buf->len = MAX_STDERR;	/* keep the head: the message is there */
			buf->data[buf->len] = '\0';
		}
		if (!p->too_big)
			return;
	}
	if (n == 0)
		return;
	uv_read_stop(s);
	if (is_out)
		p->out_eof = true;
	else
		p->err_eof = true;
	maybe_finish(p);
}

int creds_process_run(uv_loop_t *loop, const char *cmdline, unsigned timeout_ms,
	size_t max_output, creds_cb cb, void *arg, struct creds_process **out)
{
	struct creds_process *p;
	uv_process_options_t o;
	uv_stdio_container_t stdio[3];
	char **argv;
	int r;

	if ((r = creds_split_argv(cmdline, &argv)) != 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		creds_argv_free(argv);
		return -ENOMEM;
	}
	p->cb = cb;
	p->arg = arg;
	p->max_output = max_output;
	snprintf(p->cmd0, sizeof(p->cmd0), "%s", argv[0]);
	uv_timer_init(loop, &p->timer);
	uv_pipe_init(loop, &p->out, 0);
	uv_pipe_init(loop, &p->err, 0);
	p->timer.data = p->out.data = p->err.data = p->proc.data = p;
	p->open_handles = 3;

	memset(&o, 0, sizeof(o));
	o.file = argv[0];
	o.args = argv;
	o.exit_cb = on_exit_cb;
	o.flags = UV_PROCESS_DETACHED;
	o.stdio_count = 3;
	o.stdio = stdio;
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&p->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&p->err;
	r = uv_spawn(loop, &p->proc, &o);
	creds_argv_free(argv);
	p->open_handles++;
	if (r != 0) {
		p->spawn_err = r;
		close_all(p);
	} else {
		p->spawned = true;
		uv_read_start((uv_stream_t *)&p->out, on_alloc, on_read);
		uv_read_start((uv_stream_t *)&p->err, on_alloc, on_read);
		uv_timer_start(&p->timer, on_timeout, timeout_ms, 0);
	}
	if (out)
		*out = p;
	return 0;
}

void creds_process_cancel(struct creds_process *p)
{
	p->cancelled = true;
	if (p->spawned && !p->exited) {
		kill_group(p);		/* on_exit_cb then closes everything */
		p->timed_out = true;
	} else {
		close_all(p);
	}
}
