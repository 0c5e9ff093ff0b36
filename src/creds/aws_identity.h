/* The shared-account identity as the relay holds it at run time: the
 * HTTPS client, the STS client, the base credential chain wrapped by the
 * verified AssumeRole provider, and the cache in front of it, all built
 * from the configuration in one place.
 *
 * Ownership: struct aws_identity owns every part. aws_identity_close()
 * starts closing their uv handles (the loop must run afterwards to finish);
 * aws_identity_free() releases the struct itself and closes first if that
 * was not done.
 */
#ifndef SESRELAY_AWS_IDENTITY_H
#define SESRELAY_AWS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "aws_creds.h"
#include "aws_endpoint.h"
#include "config.h"

struct http_client;
struct sts_client;
struct creds_cache;

struct aws_identity {
	struct http_client *http;
	struct sts_client *sts;
	struct creds_cache *cache;	/* owns the AssumeRole provider, which owns the base chain */
	struct creds_provider *assume;	/* borrowed from the cache */
	char region[AWS_REGION_MAX];
	char role_account[16];
	char sts_endpoint[AWS_URL_MAX];
	char ses_endpoint[AWS_URL_MAX];
	bool closed;
};

/* Nothing of cfg is kept. Errors are one line naming the key or variable. */
int aws_identity_new(const struct config *cfg, uv_loop_t *loop, struct aws_identity **out,
	char *err, size_t errlen);
/* The base credentials this stack assumes the role with, for `check` and
 * `whoami` to show and prove (GetCallerIdentity); the next AssumeRole of
 * the cache uses these same credentials, so the base source runs once.
 * Returns 0 and calls cb once, or a negative code and never cb. */
int aws_identity_base_credentials(struct aws_identity *id, creds_cb cb, void *arg);
void aws_identity_close(struct aws_identity *id);
void aws_identity_free(struct aws_identity *id);

#endif
