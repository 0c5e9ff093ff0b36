/* The list of back ends: builds the one the configuration names (key
 * `backend`). Everything else about a back end goes through its
 * operations table (delivery.h), so this is the one place that knows
 * which back ends exist.
 *
 * Ownership: the returned back end is owned by the caller and freed with
 * backend_free() after the loop has stopped using it (no transaction
 * open). Nothing of cfg is kept.
 */
#ifndef SESRELAY_BACKEND_H
#define SESRELAY_BACKEND_H

#include <stddef.h>

#include <uv.h>

#include "config.h"
#include "delivery.h"

int backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen);

#endif
