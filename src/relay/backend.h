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

int backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen);
void backend_free(struct backend *be);

#endif
