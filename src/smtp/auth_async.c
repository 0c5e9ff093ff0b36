/* Password verification on the libuv thread pool, so a KDF run (tens of
 * milliseconds by design) never stalls the SMTP sessions on the loop. */
#include "auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct auth_job {
	uv_work_t req;
	struct auth_db *db;	/* own ref */
	char *user;		/* owned copy */
	char *pass;		/* owned copy, wiped on free */
	size_t passlen;
	void (*cb)(void *arg, int result);
	void *arg;
	int result;
	bool cancelled;		/* loop thread only */
};

static void job_free(struct auth_job *j)
{
	if (j->pass)
		OPENSSL_cleanse(j->pass, j->passlen);
	free(j->pass);
	free(j->user);
	auth_db_unref(j->db);
	free(j);
}

static void work_cb(uv_work_t *req)
{
	struct auth_job *j = req->data;

	j->result = auth_db_verify(j->db, j->user, j->pass, j->passlen);
	/* The password is not needed any more; don't keep it around until
	 * the loop gets to after_cb. */
	OPENSSL_cleanse(j->pass, j->passlen);
}

static void after_cb(uv_work_t *req, int status)
{
	struct auth_job *j = req->data;

	if (!j->cancelled)
		j->cb(j->arg, status == UV_ECANCELED ? -ECANCELED : j->result);
	job_free(j);
}

int auth_verify_async(uv_loop_t *loop, struct auth_db *db, const char *user,
	const char *pass, size_t passlen, void (*cb)(void *arg, int result),
	void *arg, struct auth_job **out)
{
	struct auth_job *j = calloc(1, sizeof(*j));
	int r;

	if (out)
		*out = NULL;
	if (j == NULL)
		return -ENOMEM;
	j->user = strdup(user);
	/* +1 so a zero-length password still gets a distinct allocation. */
	j->pass = malloc(passlen + 1);
	if (j->user == NULL || j->pass == NULL) {
		free(j->user);
		free(j->pass);
		free(j);
		return -ENOMEM;
	}
	memcpy(j->pass, pass, passlen);
	j->passlen = passlen;
	j->db = auth_db_ref(db);
	j->cb = cb;
	j->arg = arg;
	j->req.data = j;
	r = uv_queue_work(loop, &j->req, work_cb, after_cb);
	if (r) {
		job_free(j);
		return r;
	}
	if (out)
		*out = j;
	return 0;
}

void auth_job_cancel(struct auth_job *job)
{
	if (job == NULL)
		return;
	job->cancelled = true;
	/* Fails harmlessly if a worker already picked it up; after_cb frees
	 * the job either way. */
	uv_cancel((uv_req_t *)&job->req);
}
