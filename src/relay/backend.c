#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "outbox.h"
#include "queue_backend.h"
#include "ses_backend.h"

/* delivery queue: the SES back end sends what the queue hands it. */
static int queue_mode_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen)
{
	struct backend *inner = NULL;
	int r = ses_backend_new(cfg, loop, &inner, err, errlen);

	if (r)
		return r;
	r = queue_backend_new(cfg, loop, inner, out, err, errlen);
	if (r) {
		backend_shutdown(inner);
		ses_backend_free(inner);
	}
	return r;
}

int backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen)
{
	switch (cfg->backend) {
	case BACKEND_OUTBOX:
		return outbox_new(cfg->outbox_dir, loop, out, err, errlen);
	case BACKEND_SES:
		if (cfg->delivery == DELIVERY_QUEUE)
			return queue_mode_new(cfg, loop, out, err, errlen);
		return ses_backend_new(cfg, loop, out, err, errlen);
	}
	snprintf(err, errlen, "unknown backend");
	return -EINVAL;
}

int backend_new_worker(const struct config *cfg, uv_loop_t *loop, struct backend *main,
	struct backend **out, char *err, size_t errlen)
{
	int r;

	if (queue_backend_queue(main)) {
		r = queue_backend_new_worker(main, loop, out);
		if (r)
			snprintf(err, errlen, "cannot set up the queue: %s", strerror(-r));
		return r;
	}
	if (cfg->backend == BACKEND_SES)
		return ses_backend_new_worker(cfg, loop, main, out, err, errlen);
	return backend_new(cfg, loop, out, err, errlen);
}

struct creds_cache *backend_creds(struct backend *be)
{
	struct backend *inner = queue_backend_inner(be);

	if (inner)
		be = inner;
	return be && strcmp(be->ops->name, "ses") == 0 ? ses_backend_creds(be) : NULL;
}

struct ses_governor *backend_governor(struct backend *be)
{
	struct backend *inner = queue_backend_inner(be);

	if (inner)
		be = inner;
	return be && strcmp(be->ops->name, "ses") == 0 ? ses_backend_governor(be) : NULL;
}

void backend_free(struct backend *be)
{
	struct backend *inner;

	if (be == NULL)
		return;
	if (strcmp(be->ops->name, "outbox") == 0) {
		outbox_free(be);
	} else if (strcmp(be->ops->name, "ses") == 0) {
		ses_backend_free(be);
	} else if (strcmp(be->ops->name, "queue") == 0) {
		inner = queue_backend_inner(be);
		queue_backend_free(be);
		ses_backend_free(inner);
	}
}
