/* The `outbox` back end: each message becomes <outbox_dir>/<id>.eml (the
 * message as received, Received: header first) and <id>.json (the
 * envelope: mail_from, rcpts, size, received time, ...). Both are written
 * under <outbox_dir>/tmp, fsynced, renamed into place (the .json last, so
 * its presence means the message is complete) and the directory fsynced,
 * all on the libuv thread pool. Used for local testing and as a spool.
 *
 * Ownership: the back end owns its directory path (freed with
 * backend_free()); transactions own their message buffer and envelope
 * copy (see delivery.h).
 */
#ifndef SESRELAY_OUTBOX_H
#define SESRELAY_OUTBOX_H

#include <stddef.h>

#include <uv.h>

#include "delivery.h"

/* Creates outbox_dir (and tmp/ in it) if missing. 0 or -errno with err. */
int outbox_new(const char *dir, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen);

#endif
