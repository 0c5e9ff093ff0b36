/* The `ses` delivery back end: each SMTP transaction becomes one SES
 * SendRawEmail (or SESv2 SendEmail) call in the shared account.
 *
 * Ownership: the main back end owns the identity slot (the current
 * shared-account identity: STS client, credentials cache, endpoints),
 * its HTTP client for SES and its SES client. A worker's back end
 * (another thread's loop, ops->new_worker) owns only its HTTP client and
 * SES client and reads main's slot, so one credentials cache serves
 * every worker and a reload (ops->reload) switches all of them at once.
 * ops->shutdown releases the slot (the identity closes when its last
 * send is done) and closes the HTTP client; backend_free() releases the
 * rest once the loop has run. ops->ready and ops->metrics report the
 * current identity.
 * Transactions are owned as delivery.h describes.
 */
#ifndef SESRELAY_SES_BACKEND_H
#define SESRELAY_SES_BACKEND_H

#include <stddef.h>

#include <uv.h>

#include "config.h"
#include "delivery.h"

/* Builds the shared-account identity (HTTP, STS, base chain, AssumeRole,
 * cache) from cfg and starts assuming the role. Nothing of cfg is kept. */
int ses_backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen);

struct ses_client;

/* The SES client of this back end's loop, for the API front on the same
 * loop (same connections, credentials and retry rules); NULL when be is
 * not a ses back end. Borrowed: lives as long as the back end. */
struct ses_client *ses_backend_client(struct backend *be);

#endif
