#include "delivery.h"

#include <errno.h>
#include <stdio.h>

int backend_new_worker(struct backend *main, const struct config *cfg, uv_loop_t *loop,
	struct backend **out, char *err, size_t errlen)
{
	if (main->ops->new_worker == NULL) {
		snprintf(err, errlen, "backend %s cannot run on several workers", main->ops->name);
		return -ENOTSUP;
	}
	return main->ops->new_worker(main, cfg, loop, out, err, errlen);
}

bool backend_ready(struct backend *be, char *why, size_t n)
{
	return be->ops->ready == NULL || be->ops->ready(be, why, n);
}

void backend_metrics(struct backend *be, struct metrics_scrape *x)
{
	if (be->ops->metrics)
		be->ops->metrics(be, x);
}

int backend_reload(struct backend *be, const struct config *cfg)
{
	return be->ops->reload ? be->ops->reload(be, cfg) : 0;
}

void backend_shutdown(struct backend *be)
{
	if (be && be->ops->shutdown)
		be->ops->shutdown(be);
}

void backend_free(struct backend *be)
{
	if (be)
		be->ops->free(be);
}
