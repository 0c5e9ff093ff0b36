/* The shared-account credentials: base credentials (any provider) ->
 * STS AssumeRole into role_arn -> STS GetCallerIdentity signed with the
 * NEW credentials, which must report the account named in role_arn.
 * Only then are the credentials handed out, with verified = true,
 * account_id and arn (the assumed-role ARN) as GetCallerIdentity proved
 * them, the expiration STS set, and source "assume_role".
 *
 * The account rule (creds_account_refusal(), the one place it is decided;
 * the relay, `check`, `whoami` and /readyz all see its outcome through
 * this provider) refuses, not retryable and logged (sts.account_mismatch, with `code`
 * and what to fix):
 *   - "AccountMismatch": not the account named in role_arn;
 *   - "NotSharedAccount": shared_account is set and names another one;
 *   - "SameAccount": the base account itself (a role_arn in the base
 *     account), unless allow_same_account. The base account is proven
 *     with GetCallerIdentity signed with the base credentials, once per
 *     base access key.
 * Mail must never leave from an account nobody meant it to.
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

#include <stdbool.h>
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
	bool allow_same_account;	/* the base account may send (no base proof) */
	const char *shared_account;	/* NULL, or the only account allowed */
};

/* The account rule. NULL when `proven` may send; otherwise the refusal's
 * code, with `msg` saying why and what to fix. base_account "" when not
 * proven (allow_same_account). Pure. */
const char *creds_account_refusal(const char *role_account, const char *shared_account,
	bool allow_same_account, const char *base_account, const char *proven,
	char *msg, size_t msglen);

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

/* The base account was proven with GetCallerIdentity signed with the base
 * credentials that have this access key id (by `check` or `whoami`, with
 * what creds_assume_role_base() handed out): the next get() need not ask
 * again. */
void creds_assume_role_base_proven(struct creds_provider *p, const char *access_key_id,
	const char *account);

/* "sesrelay-<host name>" reduced to what STS accepts: 2..64 characters of
 * [A-Za-z0-9_+=,.@-], others replaced by '-'. */
void creds_default_session_name(char *out, size_t outlen);
/* Whether s is a valid RoleSessionName. */
bool creds_session_name_valid(const char *s);

#endif
