/* The `ses` delivery back end: each SMTP transaction becomes one SES
 * SendRawEmail (or SESv2 SendEmail) call in the shared account.
 *
 * Ownership: the back end owns its AWS identity (HTTP client, STS client,
 * credentials cache) and its SES client. A worker's back end (another
 * thread's loop) instead owns only its HTTP client and SES client and
 * borrows the identity, so one credentials cache serves every worker. ops->shutdown closes their uv
 * handles; ses_backend_free() releases the rest once the loop has run.
 * Transactions are owned as delivery.h describes.
 */
#ifndef SESRELAY_SES_BACKEND_H
#define SESRELAY_SES_BACKEND_H

#include <uv.h>

#include "config.h"
#include "delivery.h"

struct creds_cache;

/* Builds the shared-account identity (HTTP, STS, base chain, AssumeRole,
 * cache) from cfg and starts assuming the role. Nothing of cfg is kept. */
int ses_backend_new(const struct config *cfg, uv_loop_t *loop, struct backend **out,
	char *err, size_t errlen);
/* A back end on a worker loop that shares main's (made by
 * ses_backend_new on the main loop, which must outlive it) credentials
 * cache, with its own HTTP client and SES client. */
int ses_backend_new_worker(const struct config *cfg, uv_loop_t *loop, struct backend *main,
	struct backend **out, char *err, size_t errlen);
/* The credentials cache, for readiness and metrics. */
struct creds_cache *ses_backend_creds(struct backend *be);
/* The send-rate governor every worker shares, for metrics. */
struct ses_governor *ses_backend_governor(struct backend *be);
void ses_backend_free(struct backend *be);

#endif
