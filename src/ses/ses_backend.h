/* The `ses` delivery back end: each SMTP transaction becomes one SES
 * SendRawEmail (or SESv2 SendEmail) call in the shared account.
 *
 * Ownership: the main back end owns the identity slot (the current
 * shared-account identity: STS client, credentials cache, endpoints),
 * its HTTP client for SES and its SES client. A worker's back end
 * (another thread's loop) owns only its HTTP client and SES client and
 * reads main's slot, so one credentials cache serves every worker and a
 * reload switches all of them at once. ops->shutdown releases the slot
 * (the identity closes when its last send is done) and closes the HTTP
 * client; ses_backend_free() releases the rest once the loop has run.
 * Transactions are owned as delivery.h describes.
 */
#ifndef SESRELAY_SES_BACKEND_H
#define SESRELAY_SES_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

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
struct metrics_scrape;

/* The current identity's credentials cache; borrowed until the main loop
 * next runs (a reload may retire it). Main loop only. */
struct creds_cache *ses_backend_creds(struct backend *be);
/* Ready = the current identity holds verified credentials; else why
 * says what failed and what to fix. Main loop only. */
bool ses_backend_ready(struct backend *be, char *why, size_t n);
/* The credentials series and the proven identity for a scrape. */
void ses_backend_metrics(struct backend *be, struct metrics_scrape *x);
/* SIGHUP, on the main back end: when a key the identity is built from
 * changed (or the running one has no credentials), build a new identity
 * from cfg and switch every worker to it once it proved its account
 * (logged as identity.reload, counted in sesrelay_identity_reloads_total);
 * if it fails the running one keeps serving. ses_api needs a restart and
 * is kept. Returns at once; 0, or a negative code when nothing started. */
int ses_backend_reload(struct backend *be, const struct config *cfg);
void ses_backend_free(struct backend *be);

#endif
