/* The shared-account identity as the relay holds it at run time: the
 * HTTPS client, the STS client, the base credential chain wrapped by the
 * verified AssumeRole provider, and the cache in front of it, all built
 * from the configuration in one place.
 *
 * The relay swaps it whole on SIGHUP (identity_slot below): an identity
 * is reference-counted, every SES send holds a reference for its length,
 * and the last reference, dropped on any thread, closes it on the loop it
 * was built on.
 *
 * Ownership: struct aws_identity owns every part. aws_identity_new()
 * returns it with one reference. aws_identity_unref() drops one; the last
 * closes and frees it on its loop (through a uv_async_t, so from any
 * thread). The one-shot commands instead call aws_identity_close(), which
 * starts closing the uv handles (the loop must run afterwards), and
 * aws_identity_free(), which releases the struct once they are closed.
 * struct identity_slot holds one reference to the current identity.
 */
#ifndef SESRELAY_AWS_IDENTITY_H
#define SESRELAY_AWS_IDENTITY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "aws_creds.h"
#include "aws_endpoint.h"
#include "aws_url.h"
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
	char role_arn[256];
	unsigned ses_timeout_ms;	/* per SES request */
	unsigned ses_max_retries;
	unsigned long generation;	/* distinct per identity built in this process */
	unsigned char digest[32];	/* of the configuration it was built from */
	atomic_uint refs;
	uv_async_t release;		/* last unref -> close on the owning loop */
	bool release_open, closed, free_pending;
};

/* The current identity, swapped as one unit for every loop that reads
 * it: a mutex and one reference. */
struct identity_slot;

/* Nothing of cfg is kept. Errors are one line naming the key or variable. */
int aws_identity_new(const struct config *cfg, uv_loop_t *loop, struct aws_identity **out,
	char *err, size_t errlen);
/* The base credentials this stack assumes the role with, for `check` and
 * `whoami` to show and prove (GetCallerIdentity); the next AssumeRole of
 * the cache uses these same credentials, so the base source runs once.
 * Returns 0 and calls cb once, or a negative code and never cb. */
int aws_identity_base_credentials(struct aws_identity *id, creds_cb cb, void *arg);
/* `check` and `whoami` proved the base account of those credentials
 * themselves (GetCallerIdentity): the account rule uses that proof
 * instead of asking STS again. */
void aws_identity_base_proven(struct aws_identity *id, const struct aws_creds *base,
	const char *account);
void aws_identity_close(struct aws_identity *id);
void aws_identity_free(struct aws_identity *id);

struct aws_identity *aws_identity_ref(struct aws_identity *id);
/* Any thread; NULL is fine. */
void aws_identity_unref(struct aws_identity *id);

/* SHA-256 over every key an identity is built from (role, ExternalId,
 * session, region, base credentials, STS/SES timeouts, refresh windows,
 * the account rule...): equal digests need no new identity. 0, or -ENOMEM
 * with out all zero (a digest that could not be made compares as changed). */
int aws_identity_config_digest(const struct config *cfg, unsigned char out[32]);

/* Takes over the caller's reference to first. */
int identity_slot_new(struct aws_identity *first, struct identity_slot **out);
/* A new reference to the current identity (any thread). */
struct aws_identity *identity_slot_get(struct identity_slot *s);
/* Borrowed: valid on the owning loop's thread until it next returns to
 * the loop (retired identities are freed from the loop only). */
struct aws_identity *identity_slot_peek(struct identity_slot *s);
/* Switch every reader to id (takes over the caller's reference); the
 * previous one is released once its last send is done, and the owning
 * loop keeps running until then. On the owning loop's thread. */
void identity_slot_set(struct identity_slot *s, struct aws_identity *id);
/* Drops the slot's reference, as identity_slot_set() drops the previous
 * one. On the owning loop's thread. */
void identity_slot_free(struct identity_slot *s);

#endif
