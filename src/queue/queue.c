#include "queue.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "log.h"
#include "metrics_queue.h"
#include "queue_control.h"
#include "queue_dsn.h"
#include "queue_file.h"
#include "queue_id.h"
#include "queue_store.h"

/* One queued message as the scheduler knows it. Owned by the index. */
struct qentry {
	char id[QUEUE_ID_LEN + 1];
	char *mail_from;		/* owned */
	size_t nrcpt;
	uint64_t size;			/* file octets */
	int64_t created, next;
	uint32_t attempts;
	char *error;			/* last reply, owned, or NULL */
	bool held;
	bool busy;			/* a delivery round owns it */
	bool deleted;			/* delete asked while busy */
	bool flush;			/* due now, whatever `next` says */
	size_t vidx;			/* place in queue.v */
	long hidx;			/* place in queue.heap, -1: not waiting */
};

struct queue {
	uv_loop_t *loop;
	struct backend *inner;		/* owned */
	char *dir, *bounce_from, *hostname;
	unsigned lifetime, concurrency, retry_min, retry_max, max_messages;
	uint64_t max_bytes, min_free, max_file;
	bool bounces;

	uv_mutex_t lock;		/* guards everything below */
	struct qentry **v;		/* every message; cap entries allocated */
	size_t n, cap;
	/* Messages waiting for their turn (not busy, held or deleted), a
	 * min-heap on when they are due, so the scheduler's work per wake-up
	 * does not grow with the queue. Same capacity as v. */
	struct qentry **heap;
	size_t hn;
	uint64_t bytes;
	uint64_t held;
	uint64_t reserved_n, reserved_bytes;	/* admitted, not yet added */
	unsigned inflight;		/* delivery rounds running (main loop) */
	bool stopping, closed;
	uv_async_t wake;
	uv_timer_t timer;
	int open_handles;
	struct queue_control *control;	/* owned; closes itself */
	int lock_fd;			/* the queue directory's flock, -1: none */
	/* The queue directory's fsyncs, shared by the writers (pool
	 * threads) that create and remove files at about the same time. */
	struct durable_group dirsync;
};

/* One delivery round of one message (main loop; file work on the pool). */
struct qjob {
	struct queue *q;
	struct qentry *e;
	uv_work_t work;
	void (*after)(struct qjob *j);
	struct buf file;
	struct queue_file qf;
	bool parsed, quarantined;
	int err;
	size_t b;			/* batch being sent */
	bool temp_failed;		/* a batch failed temporarily this round */
	char **batch_error;		/* nbatch reasons of this round, owned */
	struct delivery_txn *txn;
	char *region;			/* mutable region to write, owned */
	struct buf dsn;			/* DSN file to queue, if any */
	char dsn_id[QUEUE_ID_LEN + 1];
	uint64_t dsn_size;
	bool remove;
	uint64_t answered_ns;		/* when SES answered the current batch */
	bool removal_records;		/* the file's removal records the last batch */
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- index (callers hold q->lock) ---- */

static struct qentry *find(struct queue *q, const char *id)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->v[i]->id, id) == 0)
			return q->v[i];
	return NULL;
}

static void entry_free(struct qentry *e)
{
	if (e) {
		free(e->mail_from);
		free(e->error);
		free(e);
	}
}

/* ---- the waiting heap (callers hold q->lock) ---- */

static int64_t due_key(const struct qentry *e)
{
	return e->flush ? INT64_MIN : e->next;
}

static void heap_set(struct queue *q, size_t i, struct qentry *e)
{
	q->heap[i] = e;
	e->hidx = (long)i;
}

static void sift_up(struct queue *q, size_t i)
{
	struct qentry *e = q->heap[i];

	while (i > 0 && due_key(q->heap[(i - 1) / 2]) > due_key(e)) {
		heap_set(q, i, q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(q, i, e);
}

static void sift_down(struct queue *q, size_t i)
{
	struct qentry *e = q->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->hn)
			break;
		if (c + 1 < q->hn && due_key(q->heap[c + 1]) < due_key(q->heap[c]))
			c++;
		if (due_key(q->heap[c]) >= due_key(e))
			break;
		heap_set(q, i, q->heap[c]);
		i = c;
	}
	heap_set(q, i, e);
}

static void heap_remove(struct queue *q, struct qentry *e)
{
	size_t i = (size_t)e->hidx;
	struct qentry *last;

	if (e->hidx < 0)
		return;
	e->hidx = -1;
	last = q->heap[--q->hn];
	if (i < q->hn) {
		heap_set(q, i, last);
		sift_up(q, i);
		sift_down(q, (size_t)last->hidx);
	}
}

/* Put e where its state says: waiting (in the heap, by when it is due)
 * or not. */
static void heap_update(struct queue *q, struct qentry *e)
{
	bool waiting = !e->busy && !e->held && !e->deleted;

	if (!waiting) {
		heap_remove(q, e);
	} else if (e->hidx < 0) {
		heap_set(q, q->hn++, e);
		sift_up(q, q->hn - 1);
	} else {
		sift_up(q, (size_t)e->hidx);
		sift_down(q, (size_t)e->hidx);
	}
}

/* ---- index (callers hold q->lock) ---- */

static int index_add(struct queue *q, struct qentry *e)
{
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 64;
		struct qentry **nv = realloc(q->v, ncap * sizeof(*nv)), **nh;
		if (nv == NULL)
			return -ENOMEM;
		q->v = nv;
		nh = realloc(q->heap, ncap * sizeof(*nh));
		if (nh == NULL)
			return -ENOMEM;
		q->heap = nh;
		q->cap = ncap;
	}
	e->vidx = q->n;
	e->hidx = -1;
	q->v[q->n++] = e;
	q->bytes += e->size;
	q->held += e->held;
	heap_update(q, e);
	return 0;
}

static void index_remove(struct queue *q, struct qentry *e)
{
	heap_remove(q, e);
	q->v[e->vidx] = q->v[--q->n];
	q->v[e->vidx]->vidx = e->vidx;
	q->bytes -= e->size;
	q->held -= e->held;
	entry_free(e);
}

static void set_error(struct qentry *e, const char *text)
{
	free(e->error);
	e->error = text && *text ? strdup(text) : NULL;
}

/* ---- admission (any thread) ---- */

static bool full_locked(struct queue *q, uint64_t size, char *why, size_t n)
{
	uint64_t avail;

	if (q->n + q->reserved_n >= q->max_messages) {
		snprintf(why, n, "queue_max_messages (%u) reached", q->max_messages);
		return true;
	}
	if (q->bytes + q->reserved_bytes + size > q->max_bytes) {
		snprintf(why, n, "queue_max_bytes (%" PRIu64 ") reached", q->max_bytes);
		return true;
	}
	if (queue_store_free_bytes(q->dir, &avail) != 0 || avail < q->min_free + size) {
		snprintf(why, n, "free disk below queue_min_free (%" PRIu64 ")", q->min_free);
		return true;
	}
	why[0] = '\0';
	return false;
}

int queue_admit(struct queue *q, uint64_t size, struct delivery_result *res)
{
	char why[128];
	bool full;

	uv_mutex_lock(&q->lock);
	full = q->stopping || full_locked(q, size, why, sizeof(why));
	if (!full) {
		q->reserved_n++;
		q->reserved_bytes += size;
	}
	uv_mutex_unlock(&q->lock);
	if (full) {
		delivery_result_set(res, 452, "4.3.1", "");
		snprintf(res->text, sizeof(res->text), "Queue full, try again later (%s)",
			q->stopping ? "shutting down" : why);
		snprintf(res->error_code, sizeof(res->error_code), "QueueFull");
		metrics_queue_count(MQ_REFUSED);
		return -ENOSPC;
	}
	return 0;
}

void queue_unadmit(struct queue *q, uint64_t size)
{
	uv_mutex_lock(&q->lock);
	q->reserved_n--;
	q->reserved_bytes -= size;
	uv_mutex_unlock(&q->lock);
}

bool queue_is_full(struct queue *q, char *why, size_t n)
{
	bool full;

	uv_mutex_lock(&q->lock);
	full = full_locked(q, 0, why, n);
	uv_mutex_unlock(&q->lock);
	return full;
}

void queue_add(struct queue *q, uint64_t reserved, const char *id, uint64_t file_size,
	const char *mail_from, size_t nrcpt, int64_t created)
{
	struct qentry *e = calloc(1, sizeof(*e));

	uv_mutex_lock(&q->lock);
	q->reserved_n--;
	q->reserved_bytes -= reserved;
	if (e && (e->mail_from = strdup(mail_from)) != NULL) {
		snprintf(e->id, sizeof(e->id), "%s", id);
		e->size = file_size;
		e->nrcpt = nrcpt;
		e->created = e->next = created;
		if (index_add(q, e) == 0)
			e = NULL;
	}
	if (!q->closed)
		uv_async_send(&q->wake);
	uv_mutex_unlock(&q->lock);
	if (e) {
		/* The file is safe on disk; the next start indexes it. */
		log_msg(LVL_ERROR, "queue.index", "id=%s: out of memory, delivered after a restart", id);
		entry_free(e);
	}
	metrics_queue_count(MQ_QUEUED);
}

struct durable_group *queue_dirsync(struct queue *q)
{
	return &q->dirsync;
}

const char *queue_dir(const struct queue *q)
{
	return q->dir;
}

void queue_stats(struct queue *q, struct queue_stats *st)
{
	int64_t oldest = 0, now = now_s();

	uv_mutex_lock(&q->lock);
	st->messages = q->n;
	st->bytes = q->bytes;
	st->held = q->held;
	for (size_t i = 0; i < q->n; i++)
		if (oldest == 0 || q->v[i]->created < oldest)
			oldest = q->v[i]->created;
	uv_mutex_unlock(&q->lock);
	st->oldest_seconds = oldest && now > oldest ? (double)(now - oldest) : 0;
}

/* ---- the scheduler (main loop) ---- */

static void kick(struct queue *q);
static void next_batch(struct qjob *j);
static void after_expire_persist(struct qjob *j);

static void work_done(uv_work_t *w, int status)
{
	struct qjob *j = w->data;

	if (status && j->err == 0)
		j->err = status;
	j->after(j);
}

static void start_work(struct qjob *j, void (*fn)(uv_work_t *), void (*after)(struct qjob *))
{
	int r;

	j->work.data = j;
	j->after = after;
	j->err = 0;
	r = uv_queue_work(j->q->loop, &j->work, fn, work_done);
	if (r) {
		/* The pool refused work: do it here rather than lose the state. */
		fn(&j->work);
		after(j);
	}
}

static void job_free(struct qjob *j)
{
	if (j->batch_error)
		for (size_t b = 0; b < j->qf.nbatch; b++)
			free(j->batch_error[b]);
	free(j->batch_error);
	free(j->region);
	buf_free(&j->file);
	buf_free(&j->dsn);
	if (j->parsed)
		queue_file_free(&j->qf);
	free(j);
}

static void close_cb(uv_handle_t *h)
{
	struct queue *q = h->data;

	q->open_handles--;
}

static void close_handles(struct queue *q)
{
	uv_mutex_lock(&q->lock);
	if (q->closed) {
		uv_mutex_unlock(&q->lock);
		return;
	}
	q->closed = true;
	uv_mutex_unlock(&q->lock);
	uv_close((uv_handle_t *)&q->wake, close_cb);
	uv_close((uv_handle_t *)&q->timer, close_cb);
	queue_control_close(q->control);
	q->control = NULL;
	backend_shutdown(q->inner);
	log_msg(LVL_INFO, "queue.stop", "%zu message(s) stay queued in %s", q->n, q->dir);
}

/* The round is over: the entry goes back to the index, or away. */
static void job_end(struct qjob *j)
{
	struct queue *q = j->q;
	struct qentry *e = j->e;

	uv_mutex_lock(&q->lock);
	if (j->remove || e->deleted) {
		index_remove(q, e);
	} else {
		e->busy = false;
		if (j->parsed) {
			e->attempts = j->qf.attempts;
			e->next = j->qf.next_attempt;
			set_error(e, j->qf.error);
		}
		heap_update(q, e);
	}
	q->inflight--;
	uv_mutex_unlock(&q->lock);
	job_free(j);
	if (q->stopping && q->inflight == 0)
		close_handles(q);
	else
		kick(q);
}

static void w_read(uv_work_t *w)
{
	struct qjob *j = w->data;
	int r = queue_store_read(j->q->dir, j->e->id, &j->file, j->q->max_file);

	if (r == 0) {
		r = queue_file_parse(j->file.data, j->file.len, &j->qf);
		if (r == -EAGAIN)
			r = -EBADMSG;	/* the whole file and still no header: truncated */
		j->parsed = r == 0;
		if (r == 0)
			r = queue_file_verify(&j->qf, j->file.data, j->file.len);
	}
	if (r == -EBADMSG || r == -EFBIG)
		j->quarantined = queue_store_quarantine(j->q->dir, j->e->id) == 0;
	j->err = r;
}

static void w_persist(uv_work_t *w)
{
	struct qjob *j = w->data;

	j->err = queue_store_update(j->q->dir, j->e->id, j->qf.mut_off, j->region,
		queue_file_mut_len(j->qf.nbatch));
}

static void w_finish(uv_work_t *w)
{
	struct qjob *j = w->data;
	int r = 0;

	/* The DSN's file is built whole (header and body in one buffer). */
	if (j->dsn.len)
		r = queue_store_write(&j->q->dirsync, j->q->dir, j->dsn_id, j->dsn.data,
			j->dsn.len, NULL, 0);
	if (r == 0)
		r = queue_store_remove(&j->q->dirsync, j->q->dir, j->e->id);
	j->err = r;
}

static void log_round(struct qjob *j, const char *event, enum log_level lvl, const char *what)
{
	struct logline l;

	if (log_begin(&l, lvl, event)) {
		log_str(&l, "id", j->e->id);
		log_str(&l, "from", j->qf.mail_from ? j->qf.mail_from : "");
		log_uint(&l, "nrcpt", j->qf.nrcpt);
		log_uint(&l, "attempts", j->qf.attempts);
		if (what)
			log_str(&l, "detail", what);
		log_end(&l);
	}
}

static void persist(struct qjob *j, void (*after)(struct qjob *))
{
	if (j->region == NULL)
		j->region = malloc(queue_file_mut_len(j->qf.nbatch));
	if (j->region == NULL) {
		j->err = -ENOMEM;
		after(j);
		return;
	}
	/* hold/release may have changed the flag while this round ran. */
	uv_mutex_lock(&j->q->lock);
	j->qf.held = j->e->held;
	uv_mutex_unlock(&j->q->lock);
	queue_file_mut_render(&j->qf, j->region);
	start_work(j, w_persist, after);
}

static void log_recorded(struct qjob *j)
{
	struct logline l;

	/* The window in which a crash would send this batch again. */
	if (log_enabled(LVL_DEBUG) && log_begin(&l, LVL_DEBUG, "queue.recorded")) {
		log_str(&l, "id", j->e->id);
		log_uint(&l, "batch", j->b + 1);
		log_double(&l, "window_seconds", (double)(uv_hrtime() - j->answered_ns) / 1e9);
		log_end(&l);
	}
}

static void after_round_persist(struct qjob *j);

static void after_finish(struct qjob *j)
{
	if (j->err && j->removal_records) {
		/* The file stays with its last batch still pending: record
		 * that batch now, or the next round would send it again. */
		log_msg(LVL_ERROR, "queue.io", "id=%s: cannot remove: %s", j->e->id,
			strerror(-j->err));
		j->removal_records = false;
		j->qf.next_attempt = now_s() + j->q->retry_min;
		persist(j, after_round_persist);
		return;
	}
	if (j->err) {
		/* The file stays; the next round (or start) finishes the job. */
		log_msg(LVL_ERROR, "queue.io", "id=%s: cannot finish: %s", j->e->id,
			strerror(-j->err));
		j->qf.next_attempt = now_s() + j->q->retry_min;
	} else {
		j->remove = true;
		if (j->removal_records)
			log_recorded(j);
		if (j->dsn.len) {
			metrics_queue_count(MQ_BOUNCES);
			uv_mutex_lock(&j->q->lock);
			j->q->reserved_n++;	/* queue_add() takes it back */
			uv_mutex_unlock(&j->q->lock);
			queue_add(j->q, 0, j->dsn_id, j->dsn.len, "", 1, now_s());
		}
	}
	job_end(j);
}

/* Every batch has its final state: delete, or bounce then delete. */
static void finish(struct qjob *j, bool expired)
{
	struct queue *q = j->q;
	bool failed = strchr(j->qf.state, QB_FAILED) != NULL;

	if (!failed) {
		metrics_queue_count(MQ_DELIVERED);
		log_round(j, "queue.delivered", LVL_INFO, NULL);
	} else {
		metrics_queue_count(MQ_FAILED);
		if (expired)
			metrics_queue_count(MQ_EXPIRED);
		log_round(j, "queue.failed", LVL_WARN, expired ? "expired" : j->qf.error);
		if (q->bounces && j->qf.mail_from[0] != '\0') {
			struct buf body = BUF_INIT;
			struct queue_dsn d = {
				.qf = &j->qf,
				.body = j->file.data + j->qf.header_len,
				.body_len = j->qf.body_len,
				.batch_error = (const char *const *)j->batch_error,
				.bounce_from = q->bounce_from,
				.reporting_mta = q->hostname,
				.now = now_s(),
				.dsn_id = j->dsn_id,
			};
			const char *rcpt[1] = { j->qf.mail_from };
			struct queue_meta m = {
				.id = j->dsn_id, .created = now_s(), .mail_from = "",
				.rcpts = rcpt, .nrcpt = 1, .smtputf8 = j->qf.smtputf8,
				.batch_size = QUEUE_MAX_BATCH,
			};
			int r = queue_id_new(j->dsn_id);
			if (r == 0)
				r = queue_dsn_build(&body, &d);
			if (r == 0)
				r = queue_file_build(&j->dsn, &m, body.data, body.len);
			if (r == 0)
				r = buf_append(&j->dsn, body.data, body.len);
			buf_free(&body);
			if (r) {
				log_msg(LVL_ERROR, "queue.bounce", "id=%s: cannot build the DSN: %s",
					j->e->id, strerror(-r));
				buf_reset(&j->dsn);
				j->qf.next_attempt = now_s() + q->retry_min;
				job_end(j);
				return;
			}
		} else {
			metrics_queue_count(MQ_BOUNCES_SUPPRESSED);
			log_round(j, "queue.bounce_suppressed", LVL_INFO,
				j->qf.mail_from[0] ? "bounces off" : "null sender");
		}
	}
	start_work(j, w_finish, after_finish);
}

static unsigned backoff(struct queue *q, uint32_t attempts)
{
	uint64_t d = q->retry_min;
	uint32_t rnd = 0;

	for (uint32_t i = 1; i < attempts && d < q->retry_max; i++)
		d *= 2;
	if (d > q->retry_max)
		d = q->retry_max;
	/* Jitter: between half and all of the delay, so relays that failed
	 * together do not retry together. */
	RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	d = d / 2 + (d - d / 2) * (rnd % 1000) / 1000;
	return d ? (unsigned)d : 1;
}

static void after_round_persist(struct qjob *j)
{
	if (j->err)
		log_msg(LVL_ERROR, "queue.io", "id=%s: cannot record the retry: %s", j->e->id,
			strerror(-j->err));
	job_end(j);
}

/* Every batch was tried once this round. */
static void round_done(struct qjob *j)
{
	struct queue *q = j->q;
	int64_t now = now_s(), deadline = j->qf.created + q->lifetime;

	if (strchr(j->qf.state, QB_PENDING) == NULL) {
		finish(j, false);
		return;
	}
	if (now >= deadline || q->lifetime == 0) {
		for (size_t b = 0; b < j->qf.nbatch; b++)
			if (j->qf.state[b] == QB_PENDING)
				j->qf.state[b] = QB_FAILED;
		/* Recorded first, so a crash now does not send again. */
		persist(j, after_expire_persist);
		return;
	}
	j->qf.attempts++;
	j->qf.next_attempt = now + backoff(q, j->qf.attempts);
	if (j->qf.next_attempt > deadline)
		j->qf.next_attempt = deadline;
	metrics_queue_count(MQ_DEFERRALS);
	log_round(j, "queue.deferred", LVL_INFO, j->qf.error);
	persist(j, after_round_persist);
}

static void after_expire_persist(struct qjob *j)
{
	if (j->err) {
		after_round_persist(j);
		return;
	}
	finish(j, true);
}

static void after_batch_persist(struct qjob *j)
{
	if (j->err) {
		/* The state could not be recorded: stop here rather than send
		 * more that a restart would send again. */
		log_msg(LVL_ERROR, "queue.io", "id=%s: cannot record a batch: %s", j->e->id,
			strerror(-j->err));
		j->qf.next_attempt = now_s() + j->q->retry_min;
		job_end(j);
		return;
	}
	log_recorded(j);
	j->b++;
	next_batch(j);
}

static void batch_done(void *arg, const struct delivery_result *res)
{
	struct qjob *j = arg;
	char reason[QUEUE_ERROR_LEN + 1];
	struct logline l;
	int w;

	j->txn = NULL;
	j->answered_ns = uv_hrtime();
	/* Cut to what the file's error field holds. */
	w = snprintf(reason, sizeof(reason), "%d %s ", res->code, res->enhanced);
	if (w > 0 && (size_t)w < sizeof(reason))
		snprintf(reason + w, sizeof(reason) - (size_t)w, "%.*s",
			(int)(sizeof(reason) - (size_t)w - 1), res->text);
	if (log_begin(&l, res->code < 300 ? LVL_INFO : LVL_WARN, "queue.send")) {
		log_str(&l, "id", j->e->id);
		log_uint(&l, "batch", j->b + 1);
		log_uint(&l, "batches", j->qf.nbatch);
		log_uint(&l, "nrcpt", queue_batch_count(&j->qf, j->b));
		log_int(&l, "code", res->code);
		if (res->message_id[0])
			log_str(&l, "ses_message_id", res->message_id);
		if (res->error_code[0])
			log_str(&l, "error", res->error_code);
		log_end(&l);
	}
	if (res->code >= 200 && res->code < 300) {
		j->qf.state[j->b] = QB_DONE;
		metrics_queue_count(MQ_BATCHES_SENT);
	} else {
		queue_file_set_error(&j->qf, reason);
		free(j->batch_error[j->b]);
		j->batch_error[j->b] = strdup(reason);
		if (res->code >= 500) {
			j->qf.state[j->b] = QB_FAILED;
		} else {
			j->temp_failed = true;
			j->b++;
			next_batch(j);
			return;
		}
	}
	/* SES has it (or refused it for good): record that before anything
	 * else, so a crash from here on does not send this batch again. The
	 * time from SES's answer to the end of this write is the only window
	 * in which a crash can cause a duplicate. */
	if (strchr(j->qf.state, QB_PENDING) == NULL && strchr(j->qf.state, QB_FAILED) == NULL) {
		/* Every batch is accepted: the file's removal (unlink and a
		 * directory fsync shared with other writers) is the record, and
		 * a state write just before it would only add a flush. */
		j->removal_records = true;
		finish(j, false);
		return;
	}
	persist(j, after_batch_persist);
}

static void next_batch(struct qjob *j)
{
	struct queue *q = j->q;
	struct delivery_result res;
	struct envelope env;
	int r;

	while (j->b < j->qf.nbatch && j->qf.state[j->b] != QB_PENDING)
		j->b++;
	if (j->b >= j->qf.nbatch || q->stopping || j->e->deleted) {
		if (j->b < j->qf.nbatch) {
			/* Stopping: what was not tried stays due. */
			job_end(j);
			return;
		}
		round_done(j);
		return;
	}
	memset(&env, 0, sizeof(env));
	env.mail_from = j->qf.mail_from;
	env.rcpts = (const char *const *)j->qf.rcpts + queue_batch_first(&j->qf, j->b);
	env.nrcpt = queue_batch_count(&j->qf, j->b);
	env.declared_size = j->qf.body_len;
	env.smtputf8 = j->qf.smtputf8;
	env.body_8bit = j->qf.body_8bit;
	env.session_id = j->e->id;
	env.client_addr = "queue";
	memset(&res, 0, sizeof(res));
	r = q->inner->ops->begin(q->inner, &env, &j->txn, &res);
	if (r == 0) {
		r = q->inner->ops->write(j->txn, j->file.data + j->qf.header_len,
			(size_t)j->qf.body_len, &res);
		if (r) {
			q->inner->ops->abort(j->txn);
			j->txn = NULL;
		}
	}
	if (r == 0) {
		r = q->inner->ops->commit(j->txn, batch_done, j, &res);
		if (r == 0)
			return;
	}
	j->txn = NULL;
	if (res.code == 0)
		delivery_result_set(&res, 451, "4.3.0", "cannot start the send");
	batch_done(j, &res);
}

static void after_read(struct qjob *j)
{
	struct queue *q = j->q;

	if (j->err) {
		if (j->err == -EBADMSG || j->err == -EFBIG) {
			metrics_queue_count(MQ_QUARANTINED);
			log_msg(LVL_ERROR, "queue.quarantine", "id=%s: unreadable queue file %s "
				"(%s)", j->e->id, j->quarantined ? "moved to quarantine/" :
				"could not be moved", j->err == -EFBIG ? "too large" : "corrupt");
			j->remove = j->quarantined;
		} else if (j->err == -ENOENT) {
			j->remove = true;
		} else {
			log_msg(LVL_ERROR, "queue.io", "id=%s: cannot read: %s", j->e->id,
				strerror(-j->err));
		}
		if (!j->remove && j->parsed)
			j->qf.next_attempt = now_s() + q->retry_min;
		else if (!j->remove)
			j->e->next = now_s() + q->retry_min;
		job_end(j);
		return;
	}
	j->batch_error = calloc(j->qf.nbatch, sizeof(char *));
	if (j->batch_error == NULL) {
		j->qf.next_attempt = now_s() + q->retry_min;
		job_end(j);
		return;
	}
	j->b = 0;
	if (j->qf.created + q->lifetime <= now_s() && strchr(j->qf.state, QB_PENDING)) {
		/* Expired while we were down (or the lifetime was shortened). */
		round_done(j);
		return;
	}
	next_batch(j);
}

static void start_job(struct queue *q, struct qentry *e)
{
	struct qjob *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		uv_mutex_lock(&q->lock);
		e->busy = false;
		e->next = now_s() + q->retry_min;
		heap_update(q, e);
		q->inflight--;
		uv_mutex_unlock(&q->lock);
		return;
	}
	j->q = q;
	j->e = e;
	start_work(j, w_read, after_read);
}

static void on_timer(uv_timer_t *t)
{
	kick(t->data);
}

static void on_wake(uv_async_t *a)
{
	kick(a->data);
}

/* Start due messages while the concurrency allows, earliest first; set
 * the timer for the next one. Work per call: the messages started, times
 * log(queue size). */
static void kick(struct queue *q)
{
	struct qentry *start[64];
	size_t ns = 0;
	int64_t now = now_s(), soonest = INT64_MAX;
	bool more = false;

	if (q->stopping || q->closed)
		return;
	uv_mutex_lock(&q->lock);
	while (q->hn > 0 && due_key(q->heap[0]) <= now && q->inflight < q->concurrency) {
		struct qentry *e = q->heap[0];
		if (ns == sizeof(start) / sizeof(start[0])) {
			more = true;
			break;
		}
		e->busy = true;
		e->flush = false;
		heap_remove(q, e);
		q->inflight++;
		start[ns++] = e;
	}
	if (q->hn > 0)
		soonest = due_key(q->heap[0]);
	uv_mutex_unlock(&q->lock);
	for (size_t i = 0; i < ns; i++)
		start_job(q, start[i]);
	if (more)
		uv_timer_start(&q->timer, on_timer, 0, 0);
	else if (soonest > now && soonest != INT64_MAX)
		uv_timer_start(&q->timer, on_timer, (uint64_t)(soonest - now) * 1000, 0);
	/* Due but no slot: the next round to end calls kick(). */
}

void queue_shutdown(struct queue *q)
{
	if (q == NULL || q->stopping)
		return;
	uv_mutex_lock(&q->lock);
	q->stopping = true;
	uv_mutex_unlock(&q->lock);
	if (q->inflight == 0)
		close_handles(q);
	else
		log_msg(LVL_INFO, "queue.drain", "waiting for %u delivery round(s) in flight",
			q->inflight);
}

/* ---- start-up scan ---- */

struct scan {
	struct queue *q;
	struct buf head;
	size_t ok, bad;
};

static int scan_one(void *arg, const char *name)
{
	struct scan *s = arg;
	struct queue *q = s->q;
	struct queue_file qf;
	struct qentry *e;
	size_t want = 64 * 1024;
	int r;

	if (!queue_id_valid(name)) {
		r = -EBADMSG;
		goto bad;
	}
	for (;;) {
		r = queue_store_read_head(q->dir, name, &s->head, want);
		if (r)
			return 0;	/* vanished or unreadable now: not ours to judge */
		r = queue_file_parse(s->head.data, s->head.len, &qf);
		if (r != -EAGAIN || s->head.len < want)
			break;
		want *= 4;
	}
	if (r == -EAGAIN)
		r = -EBADMSG;
	if (r == 0 && strcmp(qf.id, name) != 0) {
		queue_file_free(&qf);
		r = -EBADMSG;
	}
	if (r)
		goto bad;
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->mail_from = strdup(qf.mail_from)) == NULL) {
		free(e);
		queue_file_free(&qf);
		return -ENOMEM;
	}
	snprintf(e->id, sizeof(e->id), "%s", qf.id);
	e->nrcpt = qf.nrcpt;
	e->size = qf.header_len + qf.body_len;
	e->created = qf.created;
	e->next = qf.next_attempt;
	e->attempts = qf.attempts;
	e->held = qf.held;
	set_error(e, qf.error);
	queue_file_free(&qf);
	if (index_add(q, e) != 0) {
		entry_free(e);
		return -ENOMEM;
	}
	s->ok++;
	return 0;
bad:
	s->bad++;
	metrics_queue_count(MQ_QUARANTINED);
	r = queue_store_quarantine(q->dir, name);
	log_msg(LVL_ERROR, "queue.quarantine", "%s: unreadable queue file %s", name,
		r == 0 ? "moved to quarantine/" : "could not be moved");
	return 0;
}

int queue_new(const struct config *cfg, uv_loop_t *loop, queue_inner_new_fn inner_new,
	struct queue **out, struct backend **inner_out, char *err, size_t errlen)
{
	struct backend *inner = NULL;
	struct queue *q = calloc(1, sizeof(*q));
	char host[256];
	struct scan s = { 0 };
	int r;

	if (q == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->loop = loop;
	q->lock_fd = -1;
	q->lifetime = cfg->queue_lifetime;
	q->concurrency = cfg->queue_concurrency;
	q->retry_min = cfg->queue_retry_min;
	q->retry_max = cfg->queue_retry_max;
	q->max_messages = cfg->queue_max_messages;
	q->max_bytes = cfg->queue_max_bytes;
	q->min_free = cfg->queue_min_free;
	q->bounces = cfg->bounces;
	config_hostname(cfg, host, sizeof(host));
	q->dir = strdup(cfg->queue_dir);
	q->bounce_from = strdup(cfg->bounce_from ? cfg->bounce_from : "");
	q->hostname = strdup(host);
	if (uv_mutex_init(&q->lock) != 0) {
		free(q->dir);
		free(q->bounce_from);
		free(q->hostname);
		free(q);
		snprintf(err, errlen, "cannot create a mutex");
		return -ENOMEM;
	}
	if (!q->dir || !q->bounce_from || !q->hostname) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r = durable_group_init(&q->dirsync, q->dir);
	if (r) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r = queue_store_open(q->dir, &q->lock_fd);
	if (r) {
		snprintf(err, errlen, "key \"queue_dir\": %s: %s", q->dir, r == -EWOULDBLOCK ?
			"in use by another running relay" : strerror(-r));
		goto fail;
	}
	s.q = q;
	r = queue_store_scan(q->dir, scan_one, &s);
	buf_free(&s.head);
	if (r) {
		snprintf(err, errlen, "key \"queue_dir\": %s: %s", q->dir, strerror(-r));
		goto fail;
	}
	r = queue_control_new(loop, q, q->dir, cfg->control_timeout, cfg->control_max_connections,
		&q->control, err, errlen);
	if (r)
		goto fail;
	/* The inner back end last: nothing after it can fail, so it never
	 * has to be taken down again before the loop has run. */
	r = inner_new(cfg, loop, &inner, err, errlen);
	if (r) {
		queue_control_close(q->control);	/* frees itself */
		q->control = NULL;
		goto fail;
	}
	q->inner = inner;
	q->max_file = QUEUE_MAX_HEADER + (inner->max_message_size ? inner->max_message_size
		: cfg->max_message_size) + 64 * 1024;
	uv_async_init(loop, &q->wake, on_wake);
	uv_timer_init(loop, &q->timer);
	q->wake.data = q->timer.data = q;
	q->open_handles = 2;
	log_msg(LVL_INFO, "queue.start", "%s: %zu message(s) queued, %zu quarantined",
		q->dir, s.ok, s.bad);
	*out = q;
	*inner_out = inner;
	uv_async_send(&q->wake);	/* deliver what was left at the last stop */
	return 0;
fail:
	q->closed = true;
	queue_free(q);
	return r;
}

void queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->n; i++)
		entry_free(q->v[i]);
	free(q->v);
	free(q->heap);
	if (q->lock_fd >= 0)
		close(q->lock_fd);
	durable_group_free(&q->dirsync);
	free(q->dir);
	free(q->bounce_from);
	free(q->hostname);
	uv_mutex_destroy(&q->lock);
	free(q);
}

/* ---- operator commands ---- */

static cJSON *entry_json(const struct qentry *e, int64_t now)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "id", e->id);
	cJSON_AddStringToObject(o, "from", e->mail_from);
	cJSON_AddNumberToObject(o, "recipients", (double)e->nrcpt);
	cJSON_AddNumberToObject(o, "size", (double)e->size);
	cJSON_AddNumberToObject(o, "created", (double)e->created);
	cJSON_AddNumberToObject(o, "age", (double)(now - e->created));
	cJSON_AddNumberToObject(o, "attempts", (double)e->attempts);
	cJSON_AddNumberToObject(o, "next_attempt", (double)e->next);
	cJSON_AddBoolToObject(o, "held", e->held);
	cJSON_AddBoolToObject(o, "active", e->busy);
	cJSON_AddStringToObject(o, "last_error", e->error ? e->error : "");
	return o;
}

static int emit(cJSON *root, struct buf *out)
{
	char *s = root ? cJSON_PrintUnformatted(root) : NULL;
	int r = s ? buf_puts(out, s) : -ENOMEM;

	cJSON_free(s);
	cJSON_Delete(root);
	return r ? -ENOMEM : 0;
}

int queue_cmd_list(struct queue *q, struct buf *out)
{
	cJSON *root = cJSON_CreateObject(), *arr = root ? cJSON_AddArrayToObject(root, "messages") : NULL;
	int64_t now = now_s();

	if (arr == NULL) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	uv_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->n; i++) {
		cJSON *o = entry_json(q->v[i], now);
		if (o)
			cJSON_AddItemToArray(arr, o);
	}
	uv_mutex_unlock(&q->lock);
	return emit(root, out);
}

int queue_cmd_show(struct queue *q, const char *id, struct buf *out)
{
	struct buf head = BUF_INIT;
	struct queue_file qf;
	cJSON *o = NULL, *rc;
	int64_t now = now_s();
	struct qentry *e;
	int r;

	uv_mutex_lock(&q->lock);
	e = find(q, id);
	if (e)
		o = entry_json(e, now);
	uv_mutex_unlock(&q->lock);
	if (e == NULL)
		return -ENOENT;
	if (o == NULL)
		return -ENOMEM;
	/* Recipients and batch states come from the file (a small read). */
	r = queue_store_read_head(q->dir, id, &head, QUEUE_MAX_HEADER);
	if (r == 0 && queue_file_parse(head.data, head.len, &qf) == 0) {
		rc = cJSON_AddArrayToObject(o, "rcpts");
		for (size_t i = 0; rc && i < qf.nrcpt; i++)
			cJSON_AddItemToArray(rc, cJSON_CreateString(qf.rcpts[i]));
		cJSON_AddStringToObject(o, "batches", qf.state);
		cJSON_AddNumberToObject(o, "message_size", (double)qf.body_len);
		queue_file_free(&qf);
	}
	buf_free(&head);
	return emit(o, out);
}

int queue_cmd_flush(struct queue *q, const char *id)
{
	int r = id ? -ENOENT : 0;

	uv_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->n; i++) {
		if (id == NULL || strcmp(q->v[i]->id, id) == 0) {
			/* A held message stays held: release it first. */
			q->v[i]->flush = !q->v[i]->held;
			heap_update(q, q->v[i]);
			r = 0;
		}
	}
	uv_mutex_unlock(&q->lock);
	if (r == 0)
		kick(q);
	return r;
}

int queue_cmd_delete(struct queue *q, const char *id)
{
	struct qentry *e;
	bool busy;
	int r;

	uv_mutex_lock(&q->lock);
	e = find(q, id);
	busy = e && e->busy;
	if (busy)
		e->deleted = true;	/* the round stops after its current batch */
	uv_mutex_unlock(&q->lock);
	if (e == NULL)
		return -ENOENT;
	r = queue_store_remove(&q->dirsync, q->dir, id);
	if (r)
		return r;
	if (!busy) {
		uv_mutex_lock(&q->lock);
		index_remove(q, e);
		uv_mutex_unlock(&q->lock);
	}
	metrics_queue_count(MQ_DELETED);
	log_msg(LVL_INFO, "queue.deleted", "id=%s", id);
	return 0;
}

int queue_cmd_hold(struct queue *q, const char *id, bool hold)
{
	struct buf head = BUF_INIT;
	struct queue_file qf;
	struct qentry *e;
	size_t off;
	int r;

	uv_mutex_lock(&q->lock);
	e = find(q, id);
	uv_mutex_unlock(&q->lock);
	if (e == NULL)
		return -ENOENT;
	r = queue_store_read_head(q->dir, id, &head, QUEUE_MAX_HEADER);
	if (r == 0)
		r = queue_file_parse(head.data, head.len, &qf) == 0 ? 0 : -EBADMSG;
	buf_free(&head);
	if (r)
		return r;
	/* The hold flag's byte, at its fixed place in the mutable region. */
	off = queue_file_hold_off(&qf);
	queue_file_free(&qf);
	r = queue_store_update(q->dir, id, off, hold ? "1" : "0", 1);
	if (r)
		return r;
	uv_mutex_lock(&q->lock);
	q->held -= e->held;
	e->held = hold;
	q->held += e->held;
	heap_update(q, e);
	uv_mutex_unlock(&q->lock);
	log_msg(LVL_INFO, hold ? "queue.hold" : "queue.release", "id=%s", id);
	if (!hold)
		kick(q);
	return 0;
}
