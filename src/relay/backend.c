#include "backend.h"

#include <errno.h>
#include <stdio.h>

#include "outbox.h"
#include "queue_backend.h"
#include "ses_backend.h"

int backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen)
{
	switch (cfg->backend) {
	case BACKEND_OUTBOX:
		return outbox_new(cfg->outbox_dir, loop, out, err, errlen);
	case BACKEND_SES:
		/* delivery queue: the queue in front of the SES back end,
		 * which sends what the queue hands it. */
		if (cfg->delivery == DELIVERY_QUEUE)
			return queue_backend_new(cfg, loop, ses_backend_new, out, err, errlen);
		return ses_backend_new(cfg, loop, out, err, errlen);
	}
	snprintf(err, errlen, "unknown backend");
	return -EINVAL;
}
