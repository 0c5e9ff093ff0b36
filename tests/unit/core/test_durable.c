/* The directory group commit (durable.h) on a real directory: each caller
 * returns only after an fsync that began after its call, and callers that
 * arrive while one runs share the next. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

#include "check.h"
#include "durable.h"

#define WAITERS 6

struct caller {
	struct durable_group *g;
	uv_thread_t t;
	int r;
};

static void call_sync(void *arg)
{
	struct caller *c = arg;

	c->r = durable_group_sync(c->g);
}

static uint64_t changed(struct durable_group *g)
{
	uint64_t n;

	uv_mutex_lock(&g->lock);
	n = g->changed;
	uv_mutex_unlock(&g->lock);
	return n;
}

int main(void)
{
	char dir[] = "/tmp/sesrelay-durable-XXXXXX";
	struct durable_group g;
	struct caller c[WAITERS];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	CHECK_INT(durable_group_init(&g, dir), 0);

	/* Alone, every call runs its own fsync: nothing earlier covers it. */
	for (int i = 1; i <= 3; i++) {
		CHECK_INT(durable_group_sync(&g), 0);
		CHECK_INT(g.rounds, i);
	}

	/* While an fsync runs (marked as running here), every caller waits
	 * for the next one, and one fsync then covers them all. */
	uv_mutex_lock(&g.lock);
	g.running = true;
	uv_mutex_unlock(&g.lock);
	for (int i = 0; i < WAITERS; i++) {
		c[i].g = &g;
		c[i].r = 1;
		CHECK_INT(uv_thread_create(&c[i].t, call_sync, &c[i]), 0);
	}
	/* Until each has announced its change (and is waiting). */
	while (changed(&g) < 3 + WAITERS)
		uv_sleep(1);
	uv_mutex_lock(&g.lock);
	CHECK_INT(g.synced, 3);		/* none may have returned */
	g.running = false;
	uv_cond_broadcast(&g.done);
	uv_mutex_unlock(&g.lock);
	for (int i = 0; i < WAITERS; i++) {
		uv_thread_join(&c[i].t);
		CHECK_INT(c[i].r, 0);
	}
	CHECK_INT(g.rounds, 4);
	CHECK_INT(g.synced, 3 + WAITERS);

	/* A failed fsync is reported and covers nothing. */
	CHECK_INT(rmdir(dir), 0);
	CHECK_INT(durable_group_sync(&g), -ENOENT);
	CHECK_INT(g.rounds, 4);
	CHECK_INT(g.synced, 3 + WAITERS);
	durable_group_free(&g);
	return check_report();
}
