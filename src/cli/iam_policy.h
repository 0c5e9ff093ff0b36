/* IAM and SES policy documents for the two accounts sesrelay spans: the
 * shared account owning the SES identity (role trust + permissions, and an
 * optional identity sending-authorization policy) and the sender accounts
 * the relay runs in (permission to assume that role). Pure: no I/O.
 *
 * Ownership: struct iam_policy_args only borrows its strings; the caller
 * keeps them alive across iam_policy_build(). The returned cJSON tree is
 * owned by the caller (cJSON_Delete). */
#ifndef SESRELAY_IAM_POLICY_H
#define SESRELAY_IAM_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

/* A trust policy is limited to 2048 characters by default (4096 after a
 * quota increase); each sender principal costs about 35. */
#define IAM_POLICY_MAX_SENDERS 50
#define IAM_POLICY_DEFAULT_ROLE "ses-relay-sender"

struct iam_policy_args {
	const char *shared_account;		/* 12 digits */
	const char *senders[IAM_POLICY_MAX_SENDERS];
	size_t n_senders;
	const char *identity;			/* domain or address */
	const char *region;			/* e.g. eu-west-1 */
	const char *external_id;		/* NULL: no condition */
	const char *role_name;			/* NULL: IAM_POLICY_DEFAULT_ROLE */
	const char *configuration_set;		/* NULL: none */
	bool read_only_checks;			/* allow the preflight reads */
	bool source_arn;			/* add the identity policy */
	bool api_front;				/* the AWS SDK front's calls too (api_listen) */
};

/* Checks every argument and their combination. Returns 0, or -EINVAL
 * with a one-line reason (naming the option) in err. */
int iam_policy_validate(const struct iam_policy_args *a, char *err, size_t errlen);

/* Validates, then builds the document set:
 *   { role_arn, shared_account: { account_id, role_name, role_trust_policy,
 *     role_permissions_policy[, identity_sending_authorization_policy] },
 *     sender_account: { account_ids, policy }, relay_config: {...} }
 * Returns 0 and sets *out, -EINVAL (err filled) or -ENOMEM. */
int iam_policy_build(const struct iam_policy_args *a, cJSON **out,
	char *err, size_t errlen);

/* Single-value checks, exposed for tests. */
bool iam_valid_account_id(const char *s);
bool iam_valid_region(const char *s);
bool iam_valid_identity(const char *s);
bool iam_valid_role_name(const char *s);
bool iam_valid_external_id(const char *s);
bool iam_valid_configuration_set(const char *s);
/* "aws", "aws-cn" or "aws-us-gov" for a valid region. */
const char *iam_partition(const char *region);

#endif
