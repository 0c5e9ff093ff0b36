#include "loop.h"

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void loop_drain(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	while (uv_loop_close(loop) == UV_EBUSY) {
		uv_walk(loop, close_walk, NULL);
		uv_run(loop, UV_RUN_DEFAULT);
	}
}
