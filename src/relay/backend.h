/* Back end factory: builds the delivery back end the configuration names.
 *
 * Ownership: the returned back end is owned by the caller and freed with
 * backend_free() after the loop has stopped using it (no transaction
 * open). cfg must outlive it.
 */
#ifndef SESRELAY_BACKEND_H
#define SESRELAY_BACKEND_H

#include <stddef.h>

#include <uv.h>

#include "config.h"
#include "delivery.h"

struct creds_cache;
struct ses_governor;

int backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen);
/* A worker's back end next to main (built by backend_new on the main
 * loop): for ses it borrows main's credentials cache, for the queue
 * main's queue. */
int backend_new_worker(const struct config *cfg, uv_loop_t *loop, struct backend *main,
	struct backend **out, char *err, size_t errlen);
/* The shared-account credentials cache behind be, or NULL. */
struct creds_cache *backend_creds(struct backend *be);
/* The send-rate governor behind be, or NULL. */
struct ses_governor *backend_governor(struct backend *be);
void backend_free(struct backend *be);

#endif
