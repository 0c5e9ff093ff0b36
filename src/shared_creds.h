/* The shared-account credentials stack, built from configuration in one
 * call, exactly as the relay, `whoami`-style tools and the test probe use
 * it:
 *
 *   creds_base_new (config base_credentials)
 *     -> creds_assume_role (role_arn, external_id, role_session_name,
 *                           role_duration; proven by GetCallerIdentity)
 *       -> creds_cache (refresh_before_expiry, refresh_min_remaining)
 *
 * Region and STS endpoint follow aws_endpoint.h (then the profile's
 * region). The STS timeout is sts_timeout.
 *
 * Ownership: struct shared_creds owns the STS client, the cache and,
 * through them, the providers. `loop` and `http` are borrowed and must
 * outlive it. shared_creds_free() cancels refreshes in flight (keep
 * running the loop afterwards so the uv handles close).
 */
#ifndef SESRELAY_SHARED_CREDS_H
#define SESRELAY_SHARED_CREDS_H

#include <stddef.h>
#include <uv.h>

#include "aws_endpoint.h"
#include "creds_cache.h"

struct config;
struct http_client;
struct sts_client;

struct shared_creds {
	struct creds_cache *cache;	/* owned */
	struct sts_client *sts;		/* owned */
	char region[AWS_REGION_MAX];
	char sts_endpoint[AWS_URL_MAX];
	char role_account[16];
};

/* opts: windows, backoff and clock for the cache; NULL takes them from
 * cfg. Returns 0, or -EINVAL/-ENOMEM with a one-line reason in err. The
 * cache is not started: call creds_cache_start(s->cache). */
int shared_creds_new(const struct config *cfg, uv_loop_t *loop, struct http_client *http,
	const struct creds_cache_opts *opts, struct shared_creds **out,
	char *err, size_t errlen);
void shared_creds_free(struct shared_creds *s);

#endif
