#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "buf.h"
#include "durable.h"

struct outbox {
	struct backend base;
	uv_loop_t *loop;
	char *dir;
};

/* Owns msg and the envelope JSON text. While the work item runs, the
 * worker thread owns the files; `aborted` tells the loop side to drop the
 * result. */
struct delivery_txn {
	struct outbox *ob;
	uv_work_t work;
	struct buf msg;
	char *json;
	char id[64];
	int err;			/* worker's result: 0 or -errno */
	bool committed;
	bool aborted;
	uint64_t t_start;
	delivery_done_cb cb;
	void *cb_arg;
};

static void txn_free(struct delivery_txn *t)
{
	buf_free(&t->msg);
	cJSON_free(t->json);
	free(t);
}

static int make_id(char *out, size_t n)
{
	unsigned char rnd[8];
	time_t now = time(NULL);
	struct tm tm;
	char ts[32];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, n, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", ts, rnd[0], rnd[1], rnd[2],
		rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	return 0;
}

static int ob_begin(struct backend *be, const struct envelope *env,
	struct delivery_txn **out, struct delivery_result *res)
{
	struct outbox *ob = (struct outbox *)be;
	struct delivery_txn *t = calloc(1, sizeof(*t));
	cJSON *j = NULL, *rc;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	if (t == NULL || make_id(t->id, sizeof(t->id)) != 0)
		goto fail;
	t->ob = ob;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* size is filled in at commit; the rest is known now. */
	j = cJSON_CreateObject();
	if (j == NULL ||
	    !cJSON_AddStringToObject(j, "id", t->id) ||
	    !cJSON_AddStringToObject(j, "mail_from", env->mail_from) ||
	    (rc = cJSON_AddArrayToObject(j, "rcpts")) == NULL ||
	    !cJSON_AddStringToObject(j, "received", when) ||
	    !cJSON_AddStringToObject(j, "session_id", env->session_id ? env->session_id : "") ||
	    !cJSON_AddStringToObject(j, "client_addr", env->client_addr ? env->client_addr : "") ||
	    !cJSON_AddBoolToObject(j, "smtputf8", env->smtputf8) ||
	    !cJSON_AddBoolToObject(j, "body_8bit", env->body_8bit))
		goto fail;
	for (size_t i = 0; i < env->nrcpt; i++) {
		cJSON *s = cJSON_CreateString(env->rcpts[i]);
		if (s == NULL || !cJSON_AddItemToArray(rc, s))
			goto fail;
	}
	t->json = (char *)j;	/* parked here until commit adds the size */
	*out = t;
	return 0;
fail:
	cJSON_Delete(j);
	free(t);
	delivery_result_set(res, 451, "4.3.0", "Temporary failure: out of memory");
	return -ENOMEM;
}

static int ob_write(struct delivery_txn *t, const char *p, size_t n,
	struct delivery_result *res)
{
	if (buf_append(&t->msg, p, n) != 0) {
		delivery_result_set(res, 451, "4.3.0", "Temporary failure: out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int write_file(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	int r = 0;

	if (fd < 0)
		return -errno;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r)
		unlink(path);
	return r;
}

/* Worker thread: touches only the transaction's own data. */
static void do_write(uv_work_t *w)
{
	struct delivery_txn *t = w->data;
	const char *dir = t->ob->dir;
	size_t dl = strlen(dir) + strlen(t->id) + 16;
	char *tmp_eml = malloc(dl), *tmp_json = malloc(dl), *eml = malloc(dl), *json = malloc(dl);
	int r = -ENOMEM;

	if (tmp_eml && tmp_json && eml && json) {
		snprintf(tmp_eml, dl, "%s/tmp/%s.eml", dir, t->id);
		snprintf(tmp_json, dl, "%s/tmp/%s.json", dir, t->id);
		snprintf(eml, dl, "%s/%s.eml", dir, t->id);
		snprintf(json, dl, "%s/%s.json", dir, t->id);
		r = write_file(tmp_eml, t->msg.data ? t->msg.data : "", t->msg.len);
		if (r == 0) {
			r = write_file(tmp_json, t->json, strlen(t->json));
			if (r)
				unlink(tmp_eml);
		}
		if (r == 0 && rename(tmp_eml, eml) != 0) {
			r = -errno;
			unlink(tmp_eml);
			unlink(tmp_json);
		}
		if (r == 0 && rename(tmp_json, json) != 0) {
			r = -errno;
			unlink(eml);
			unlink(tmp_json);
		}
		if (r == 0)
			r = durable_fsync_dir(dir);
	}
	free(tmp_eml);
	free(tmp_json);
	free(eml);
	free(json);
	t->err = r;
}

static void after_write(uv_work_t *w, int status)
{
	struct delivery_txn *t = w->data;
	struct delivery_result res;

	if (t->aborted) {
		/* The client went away before our reply: it never saw a 250
		 * and will send again, so take the message back. */
		if (status == 0 && t->err == 0) {
			char path[4200];
			snprintf(path, sizeof(path), "%s/%s.json", t->ob->dir, t->id);
			unlink(path);
			snprintf(path, sizeof(path), "%s/%s.eml", t->ob->dir, t->id);
			unlink(path);
		}
		txn_free(t);
		return;
	}
	if (status == 0 && t->err == 0) {
		delivery_result_set(&res, 250, "2.0.0", "");
		snprintf(res.text, sizeof(res.text), "Ok %s", t->id);
		snprintf(res.message_id, sizeof(res.message_id), "%s", t->id);
	} else {
		delivery_result_set(&res, 451, "4.3.0",
			"Temporary failure writing the message, try again later");
		snprintf(res.error_code, sizeof(res.error_code), "%s",
			uv_err_name(status ? status : t->err));
	}
	res.backend_seconds = (double)(uv_hrtime() - t->t_start) / 1e9;
	t->cb(t->cb_arg, &res);
	txn_free(t);
}

static int ob_commit(struct delivery_txn *t, delivery_done_cb cb, void *arg,
	struct delivery_result *res)
{
	cJSON *j = (cJSON *)t->json;
	char *text;
	int r;

	t->json = NULL;
	if (!cJSON_AddNumberToObject(j, "size", (double)t->msg.len) ||
	    (text = cJSON_PrintUnformatted(j)) == NULL) {
		cJSON_Delete(j);
		txn_free(t);
		delivery_result_set(res, 451, "4.3.0", "Temporary failure: out of memory");
		return -ENOMEM;
	}
	cJSON_Delete(j);
	t->json = text;
	t->cb = cb;
	t->cb_arg = arg;
	t->t_start = uv_hrtime();
	t->work.data = t;
	t->committed = true;
	r = uv_queue_work(t->ob->loop, &t->work, do_write, after_write);
	if (r) {
		txn_free(t);
		delivery_result_set(res, 451, "4.3.0", "Temporary failure, try again later");
		return r;
	}
	return 0;
}

static void ob_abort(struct delivery_txn *t)
{
	if (t->committed) {
		/* The worker may be writing right now; after_write frees. */
		t->aborted = true;
		return;
	}
	cJSON_Delete((cJSON *)t->json);
	t->json = NULL;
	txn_free(t);
}

static int ob_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen);
static void ob_free(struct backend *be);

static const struct backend_ops outbox_ops = {
	.name = "outbox",
	.begin = ob_begin,
	.write = ob_write,
	.commit = ob_commit,
	.abort = ob_abort,
	.new_worker = ob_new_worker,
	.free = ob_free,
};

static int mkdir_p1(const char *path)
{
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int outbox_new(const char *dir, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen)
{
	struct outbox *ob;
	char tmp[4096];
	int r;

	if (dir == NULL || !*dir || strlen(dir) > sizeof(tmp) - 8) {
		snprintf(err, errlen, "key \"outbox_dir\": not set or too long");
		return -EINVAL;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	if ((r = mkdir_p1(dir)) != 0 || (r = mkdir_p1(tmp)) != 0 ||
	    (access(tmp, W_OK) != 0 && (r = -errno) != 0)) {
		snprintf(err, errlen, "key \"outbox_dir\": %s: %s", dir, strerror(-r));
		return r;
	}
	ob = calloc(1, sizeof(*ob));
	if (ob == NULL || (ob->dir = strdup(dir)) == NULL) {
		free(ob);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ob->base.ops = &outbox_ops;
	ob->loop = loop;
	*out = &ob->base;
	return 0;
}

/* Another loop's outbox: the same directory, its own thread-pool work. */
static int ob_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen)
{
	(void)cfg;
	return outbox_new(((struct outbox *)main)->dir, loop, out, err, errlen);
}

static void ob_free(struct backend *be)
{
	struct outbox *ob = (struct outbox *)be;

	if (ob == NULL)
		return;
	free(ob->dir);
	free(ob);
}
