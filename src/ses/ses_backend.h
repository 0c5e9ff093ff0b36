/* The `ses` delivery back end: each SMTP transaction becomes one SES
 * SendRawEmail (or SESv2 SendEmail) call in the shared account.
 *
 * Ownership: the back end owns its AWS identity (HTTP client, STS client,
 * credentials cache) and its SES client. A worker's back end (another
 * thread's loop) instead owns only its HTTP client and SES client and
 * borrows the identity (ops->new_worker), so one credentials cache serves
 * every worker. ops->shutdown closes their uv handles; backend_free()
 * releases the rest once the loop has run. ops->ready and ops->metrics
 * report the credentials cache.
 * Transactions are owned as delivery.h describes.
 */
#ifndef SESRELAY_SES_BACKEND_H
#define SESRELAY_SES_BACKEND_H

#include <uv.h>

#include "config.h"
#include "delivery.h"

/* Builds the shared-account identity (HTTP, STS, base chain, AssumeRole,
 * cache) from cfg and starts assuming the role. Nothing of cfg is kept. */
int ses_backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen);

#endif
