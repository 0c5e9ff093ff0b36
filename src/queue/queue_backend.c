#include "queue_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "metrics.h"
#include "queue_file.h"
#include "queue_id.h"
#include "queue_store.h"

struct qbackend {
	struct backend base;
	struct queue *q;		/* owned by the main back end */
	struct backend *inner;		/* main: borrowed */
	uv_loop_t *loop;
	bool owner;
};

/* While the work item runs, the pool thread owns head, msg and the file;
 * `aborted` tells the loop side to take the message back. */
struct delivery_txn {
	struct qbackend *be;
	uv_work_t work;
	char *mail_from;
	char **rcpts;
	size_t nrcpt;
	bool smtputf8, body_8bit;
	uint64_t reserved;		/* octets queue_admit() holds for us */
	struct buf msg;
	struct buf head;
	char id[QUEUE_ID_LEN + 1];
	int64_t created;
	int err;
	bool committed, aborted;
	uint64_t t_start;
	delivery_done_cb cb;
	void *cb_arg;
};

static void txn_free(struct delivery_txn *t)
{
	free(t->mail_from);
	for (size_t i = 0; i < t->nrcpt; i++)
		free(t->rcpts[i]);
	free(t->rcpts);
	buf_free(&t->msg);
	buf_free(&t->head);
	free(t);
}

static void oom(struct delivery_result *res)
{
	delivery_result_set(res, 451, "4.3.0", "Temporary failure: out of memory");
}

static int qb_begin(struct backend *b, const struct envelope *env, struct delivery_txn **out,
	struct delivery_result *res)
{
	struct qbackend *be = (struct qbackend *)b;
	struct delivery_txn *t;
	int r;

	if (env->nrcpt == 0 || env->nrcpt > QUEUE_MAX_RCPTS) {
		delivery_result_set(res, 452, "4.5.3", "Too many recipients");
		return -E2BIG;
	}
	r = queue_admit(be->q, env->declared_size, res);
	if (r)
		return r;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto fail;
	t->be = be;
	t->reserved = env->declared_size;
	t->smtputf8 = env->smtputf8;
	t->body_8bit = env->body_8bit;
	t->mail_from = strdup(env->mail_from);
	t->rcpts = calloc(env->nrcpt, sizeof(char *));
	if (t->mail_from == NULL || t->rcpts == NULL)
		goto fail;
	for (; t->nrcpt < env->nrcpt; t->nrcpt++)
		if ((t->rcpts[t->nrcpt] = strdup(env->rcpts[t->nrcpt])) == NULL)
			goto fail;
	if (env->declared_size && buf_reserve(&t->msg, (size_t)env->declared_size + 1024) != 0)
		goto fail;
	*out = t;
	return 0;
fail:
	queue_unadmit(be->q, env->declared_size);
	if (t)
		txn_free(t);
	oom(res);
	return -ENOMEM;
}

static int qb_write(struct delivery_txn *t, const char *p, size_t n, struct delivery_result *res)
{
	if (buf_append(&t->msg, p, n) != 0) {
		oom(res);
		return -ENOMEM;
	}
	return 0;
}

/* Pool thread: build the header (hashing the message) and store the file. */
static void do_store(uv_work_t *w)
{
	struct delivery_txn *t = w->data;
	struct queue_meta m = {
		.id = t->id, .created = t->created, .mail_from = t->mail_from,
		.rcpts = (const char *const *)t->rcpts, .nrcpt = t->nrcpt,
		.smtputf8 = t->smtputf8, .body_8bit = t->body_8bit,
		.batch_size = QUEUE_MAX_BATCH,	/* SES's destinations per call */
	};
	int r = queue_file_build(&t->head, &m, t->msg.data, t->msg.len);

	if (r == 0)
		r = queue_store_write(queue_dir(t->be->q), t->id, t->head.data, t->head.len,
			t->msg.data, t->msg.len);
	t->err = r;
}

static void after_store(uv_work_t *w, int status)
{
	struct delivery_txn *t = w->data;
	struct queue *q = t->be->q;
	struct delivery_result res;
	int err = status ? status : t->err;

	if (t->aborted || err) {
		/* A client that went away never saw a 250 and sends again: the
		 * message is taken back rather than delivered twice. */
		if (err == 0)
			queue_store_remove(queue_dir(q), t->id);
		queue_unadmit(q, t->reserved);
		if (t->aborted) {
			txn_free(t);
			return;
		}
		if (err == -ENOSPC || err == -EDQUOT) {
			delivery_result_set(&res, 452, "4.3.1", "Insufficient system storage, try again later");
			snprintf(res.error_code, sizeof(res.error_code), "QueueFull");
		} else {
			delivery_result_set(&res, 451, "4.3.0", "Temporary failure writing the queue file");
			snprintf(res.error_code, sizeof(res.error_code), "%s", uv_err_name(err));
		}
	} else {
		queue_add(q, t->reserved, t->id, t->head.len + t->msg.len, t->mail_from, t->nrcpt,
			t->created);
		delivery_result_set(&res, 250, "2.0.0", "");
		snprintf(res.text, sizeof(res.text), "Ok queued as %s", t->id);
		snprintf(res.message_id, sizeof(res.message_id), "%s", t->id);
	}
	res.backend_seconds = (double)(uv_hrtime() - t->t_start) / 1e9;
	t->cb(t->cb_arg, &res);
	txn_free(t);
}

static int qb_commit(struct delivery_txn *t, delivery_done_cb cb, void *arg,
	struct delivery_result *res)
{
	struct queue *q = t->be->q;
	int r;

	/* The limits again, now that the size is known. */
	if (t->msg.len > t->reserved) {
		queue_unadmit(q, t->reserved);
		t->reserved = 0;
		r = queue_admit(q, t->msg.len, res);
		if (r) {
			txn_free(t);	/* nothing is held now */
			return r;
		}
		t->reserved = t->msg.len;
	}
	if (queue_id_new(t->id) != 0) {
		queue_unadmit(q, t->reserved);
		txn_free(t);
		delivery_result_set(res, 451, "4.3.0", "Temporary failure, try again later");
		return -EIO;
	}
	t->created = (int64_t)time(NULL);
	t->cb = cb;
	t->cb_arg = arg;
	t->t_start = uv_hrtime();
	t->work.data = t;
	r = uv_queue_work(t->be->loop, &t->work, do_store, after_store);
	if (r) {
		queue_unadmit(q, t->reserved);
		txn_free(t);
		delivery_result_set(res, 451, "4.3.0", "Temporary failure, try again later");
		return r;
	}
	t->committed = true;
	return 0;
}

static void qb_abort(struct delivery_txn *t)
{
	if (t->committed) {
		t->aborted = true;	/* after_store frees */
		return;
	}
	queue_unadmit(t->be->q, t->reserved);
	txn_free(t);
}

static void qb_shutdown(struct backend *b)
{
	struct qbackend *be = (struct qbackend *)b;

	/* The inner back end is shut down by the queue once its last
	 * delivery round has ended. */
	if (be->owner)
		queue_shutdown(be->q);
}

static bool qb_ready(struct backend *b, char *why, size_t n)
{
	struct qbackend *be = (struct qbackend *)b;
	char full[128];

	if (queue_is_full(be->q, full, sizeof(full))) {
		snprintf(why, n, "queue full: %s", full);
		return false;
	}
	return be->inner == NULL || backend_ready(be->inner, why, n);
}

static void qb_metrics(struct backend *b, struct metrics_scrape *x)
{
	struct qbackend *be = (struct qbackend *)b;
	struct queue_stats st;
	char why[128];

	if (be->inner)
		backend_metrics(be->inner, x);
	queue_stats(be->q, &st);
	x->queue.have_queue = true;
	x->queue.messages = st.messages;
	x->queue.bytes = st.bytes;
	x->queue.held = st.held;
	x->queue.oldest_seconds = st.oldest_seconds;
	x->queue.full = queue_is_full(be->q, why, sizeof(why));
}

/* SIGHUP: the queue's own keys need a restart; what the inner back end
 * can change (the shared-account identity) it changes. */
static int qb_reload(struct backend *b, const struct config *cfg)
{
	struct qbackend *be = (struct qbackend *)b;

	return be->inner ? backend_reload(be->inner, cfg) : 0;
}

static void qb_free(struct backend *b)
{
	struct qbackend *be = (struct qbackend *)b;

	if (be == NULL)
		return;
	if (be->owner) {
		queue_free(be->q);
		backend_free(be->inner);
	}
	free(be);
}

static int qb_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen);

static const struct backend_ops queue_ops = {
	.name = "queue",
	.begin = qb_begin,
	.write = qb_write,
	.commit = qb_commit,
	.abort = qb_abort,
	.new_worker = qb_new_worker,
	.ready = qb_ready,
	.metrics = qb_metrics,
	.reload = qb_reload,
	.shutdown = qb_shutdown,
	.free = qb_free,
};

/* A worker's: writes queue files on its own loop's thread pool into the
 * one queue main owns; main's scheduler delivers them. */
static int qb_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen)
{
	struct qbackend *m = (struct qbackend *)main, *be = calloc(1, sizeof(*be));

	(void)cfg;
	if (be == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	be->base = m->base;
	be->q = m->q;
	be->loop = loop;
	*out = &be->base;
	return 0;
}

int queue_backend_new(const struct config *cfg, uv_loop_t *loop, queue_inner_new_fn inner_new,
	struct backend **out, char *err, size_t errlen)
{
	struct qbackend *be = calloc(1, sizeof(*be));
	int r;

	if (be == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = queue_new(cfg, loop, inner_new, &be->q, &be->inner, err, errlen);
	if (r) {
		free(be);
		return r;
	}
	be->base.ops = &queue_ops;
	be->base.max_message_size = be->inner->max_message_size;
	be->base.size_note = be->inner->size_note;
	be->loop = loop;
	be->owner = true;
	*out = &be->base;
	return 0;
}
