/* The shared-account credentials: base credentials (any provider) ->
 * STS AssumeRole into role_arn -> STS GetCallerIdentity signed with the
 * NEW credentials, which must report the account named in role_arn.
 * Only then are the credentials handed out, with verified = true,
 * account_id and arn (the assumed-role ARN) as GetCallerIdentity proved
 * them, the expiration STS set, and source "assume_role". A different
 * account fails with code "AccountMismatch" (not retryable) and is
 * logged: mail must never leave from an account nobody configured.
 *
 * Ownership: once creds_assume_role_new() succeeds the provider OWNS
 * `base` (destroyed with it); on failure the caller still owns it. It
 * BORROWS `sts`, which must outlive
 * it. Strings in the options are copied (the external id is wiped on
 * destroy). One get() at a time (-EBUSY otherwise): the cache in front of
 * it makes refreshes single flight. destroy() cancels a get() in flight
 * silently and may be called from inside the get() callback.
 */
#ifndef SESRELAY_CREDS_ASSUME_ROLE_H
#define SESRELAY_CREDS_ASSUME_ROLE_H

#include <stddef.h>

#include "aws_creds.h"

struct sts_client;

struct creds_assume_role_opts {
	struct creds_provider *base;	/* owned */
	struct sts_client *sts;		/* borrowed */
	const char *role_arn;
	const char *external_id;	/* NULL: none */
	const char *session_name;	/* NULL: creds_default_session_name() */
	unsigned duration;		/* 900..43200 s */
};

/* -EINVAL (role_arn without an account, bad session name or duration),
 * -ENOMEM. */
int creds_assume_role_new(const struct creds_assume_role_opts *o, struct creds_provider **out);

/* The base credentials alone, for the commands that show them (check,
 * whoami): asks the base provider and keeps its answer for the next
 * get(), which assumes the role with exactly these credentials instead of
 * asking the base provider again, so a credential_process runs once per
 * command. p must come from creds_assume_role_new(). -EBUSY while a get()
 * runs; cb as for get(), creds borrowed for the callback. */
int creds_assume_role_base(struct creds_provider *p, creds_cb cb, void *arg);

/* "sesrelay-<host name>" reduced to what STS accepts: 2..64 characters of
 * [A-Za-z0-9_+=,.@-], others replaced by '-'. */
void creds_default_session_name(char *out, size_t outlen);
/* Whether s is a valid RoleSessionName. */
int creds_session_name_valid(const char *s);

#endif
