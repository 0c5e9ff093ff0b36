#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int durable_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

int durable_group_init(struct durable_group *g, const char *dir)
{
	memset(g, 0, sizeof(*g));
	if ((g->dir = strdup(dir)) == NULL)
		return -ENOMEM;
	if (uv_mutex_init(&g->lock) != 0) {
		free(g->dir);
		g->dir = NULL;
		return -ENOMEM;
	}
	if (uv_cond_init(&g->done) != 0) {
		uv_mutex_destroy(&g->lock);
		free(g->dir);
		g->dir = NULL;
		return -ENOMEM;
	}
	return 0;
}

void durable_group_free(struct durable_group *g)
{
	if (g->dir == NULL)
		return;
	uv_cond_destroy(&g->done);
	uv_mutex_destroy(&g->lock);
	free(g->dir);
	g->dir = NULL;
}

int durable_group_sync(struct durable_group *g)
{
	uint64_t mine, upto;
	int r;

	uv_mutex_lock(&g->lock);
	/* The caller's change is complete: any fsync that starts from now on
	 * covers it. */
	mine = ++g->changed;
	for (;;) {
		if (g->synced >= mine) {
			uv_mutex_unlock(&g->lock);
			return 0;
		}
		if (!g->running)
			break;
		uv_cond_wait(&g->done, &g->lock);
	}
	/* Lead a round for every change announced so far (ours included). */
	g->running = true;
	upto = g->changed;
	uv_mutex_unlock(&g->lock);
	r = durable_fsync_dir(g->dir);
	uv_mutex_lock(&g->lock);
	g->running = false;
	if (r == 0) {
		g->rounds++;
		if (upto > g->synced)
			g->synced = upto;
	}
	uv_cond_broadcast(&g->done);
	uv_mutex_unlock(&g->lock);
	return r;
}
