#include "iam_policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define POLICY_VERSION "2012-10-17"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_alnum(char c)
{
	return is_digit(c) || is_lower(c) || (c >= 'A' && c <= 'Z');
}

/* Every character of s is alphanumeric or in `extra`; length in [lo, hi]. */
static bool chars_ok(const char *s, const char *extra, size_t lo, size_t hi)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n]; n++)
		if (!is_alnum(s[n]) && strchr(extra, s[n]) == NULL)
			return false;
	return n >= lo && n <= hi;
}

bool iam_valid_account_id(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	while (is_digit(s[n]))
		n++;
	return n == 12 && s[n] == '\0';
}

/* <2 letters>(-<letters>)+-<1-2 digits>: us-east-1, us-gov-west-1. */
bool iam_valid_region(const char *s)
{
	const char *p = s;
	int words = 0;

	if (s == NULL || strlen(s) > 32 || !is_lower(p[0]) || !is_lower(p[1]) || p[2] != '-')
		return false;
	p += 3;
	while (is_lower(*p)) {
		while (is_lower(*p))
			p++;
		if (*p++ != '-')
			return false;
		words++;
	}
	if (words == 0 || !is_digit(*p))
		return false;
	p++;
	if (is_digit(*p))
		p++;
	return *p == '\0';
}

const char *iam_partition(const char *region)
{
	if (strncmp(region, "cn-", 3) == 0)
		return "aws-cn";
	if (strncmp(region, "us-gov-", 7) == 0)
		return "aws-us-gov";
	return "aws";
}

/* A DNS name of at least two labels whose last label is not numeric. */
static bool valid_domain(const char *s)
{
	size_t len = strlen(s), labels = 0;
	const char *p = s;
	bool alpha_in_label = false;

	if (len == 0 || len > 253)
		return false;
	while (*p) {
		size_t n = 0;

		alpha_in_label = false;
		while (is_alnum(p[n]) || p[n] == '-') {
			if (!is_digit(p[n]) && p[n] != '-')
				alpha_in_label = true;
			n++;
		}
		if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
			return false;
		labels++;
		p += n;
		if (*p == '.') {
			p++;
			if (*p == '\0')
				return false;
		} else if (*p) {
			return false;
		}
	}
	return labels >= 2 && alpha_in_label;
}

/* Dot-atom local part (RFC 5322) without '*' and '?': they are wildcards
 * in policy resources and would widen the grant. */
static bool valid_local_part(const char *s, size_t n)
{
	if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return false;
		if (!is_alnum(s[i]) && strchr(".!#$%&'+-/=^_`{|}~", s[i]) == NULL)
			return false;
	}
	return true;
}

bool iam_valid_identity(const char *s)
{
	const char *at;

	if (s == NULL || strlen(s) > 320)
		return false;
	at = strchr(s, '@');
	if (at == NULL)
		return valid_domain(s);
	return strchr(at + 1, '@') == NULL && valid_local_part(s, (size_t)(at - s))
		&& valid_domain(at + 1);
}

bool iam_valid_role_name(const char *s)
{
	return chars_ok(s, "+=,.@_-", 1, 64);
}

bool iam_valid_external_id(const char *s)
{
	return chars_ok(s, "+=,.@:/_-", 2, 1224);
}

bool iam_valid_configuration_set(const char *s)
{
	return chars_ok(s, "_-", 1, 64);
}

int iam_policy_validate(const struct iam_policy_args *a, char *err, size_t errlen)
{
#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)
	if (a->shared_account == NULL)
		FAIL("--shared-account is required");
	if (!iam_valid_account_id(a->shared_account))
		FAIL("--shared-account \"%s\": an account id is 12 digits", a->shared_account);
	if (a->n_senders == 0)
		FAIL("at least one --sender-account is required");
	if (a->n_senders > IAM_POLICY_MAX_SENDERS)
		FAIL("at most %d --sender-account options", IAM_POLICY_MAX_SENDERS);
	for (size_t i = 0; i < a->n_senders; i++) {
		if (!iam_valid_account_id(a->senders[i]))
			FAIL("--sender-account \"%s\": an account id is 12 digits", a->senders[i]);
		if (strcmp(a->senders[i], a->shared_account) == 0)
			FAIL("--sender-account %s is the shared account: the relay must run "
				"in a different account than the one owning the identity", a->senders[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->senders[i], a->senders[j]) == 0)
				FAIL("--sender-account %s is given twice", a->senders[i]);
	}
	if (a->identity == NULL)
		FAIL("--identity is required");
	if (!iam_valid_identity(a->identity))
		FAIL("--identity \"%s\": expected a domain (example.com) or an address "
			"(user@example.com)", a->identity);
	if (a->region == NULL)
		FAIL("--region is required");
	if (!iam_valid_region(a->region))
		FAIL("--region \"%s\": expected a region name such as eu-west-1", a->region);
	if (a->external_id && !iam_valid_external_id(a->external_id))
		FAIL("--external-id: 2 to 1224 characters of letters, digits and +=,.@:/_-");
	if (a->role_name && !iam_valid_role_name(a->role_name))
		FAIL("--role-name \"%s\": 1 to 64 characters of letters, digits and +=,.@_-",
			a->role_name);
	if (a->configuration_set && !iam_valid_configuration_set(a->configuration_set))
		FAIL("--configuration-set \"%s\": 1 to 64 characters of letters, digits, _ and -",
			a->configuration_set);
	return 0;
#undef FAIL
}

/* cJSON reports allocation failure as NULL returns; the builder records
 * the first one and the tree is dropped at the end. */
struct builder {
	bool oom;
};

static cJSON *add(struct builder *b, cJSON *obj, const char *key, cJSON *item)
{
	if (item == NULL || !cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		b->oom = true;
		return NULL;
	}
	return item;
}

static void add_str(struct builder *b, cJSON *obj, const char *key, const char *v)
{
	add(b, obj, key, cJSON_CreateString(v));
}

static cJSON *str_array(struct builder *b, const char *const *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	if (arr == NULL) {
		b->oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateString(v[i]);
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			b->oom = true;
		}
	}
	return arr;
}

static cJSON *new_document(struct builder *b, cJSON **statements)
{
	cJSON *doc = cJSON_CreateObject();

	if (doc == NULL) {
		b->oom = true;
		*statements = NULL;
		return NULL;
	}
	add_str(b, doc, "Version", POLICY_VERSION);
	*statements = add(b, doc, "Statement", cJSON_CreateArray());
	return doc;
}

static cJSON *new_statement(struct builder *b, cJSON *statements, const char *sid)
{
	cJSON *st = cJSON_CreateObject();

	if (st == NULL || statements == NULL || !cJSON_AddItemToArray(statements, st)) {
		cJSON_Delete(st);
		b->oom = true;
		return NULL;
	}
	add_str(b, st, "Sid", sid);
	add_str(b, st, "Effect", "Allow");
	return st;
}

/* Every ARN the documents use, built once. */
struct arns {
	char role[160];
	char identity[400];
	char config_set[160];
	char templates[160];
	char senders[IAM_POLICY_MAX_SENDERS][48];
	const char *sender_ptrs[IAM_POLICY_MAX_SENDERS];
};

static void make_arns(const struct iam_policy_args *a, const char *role_name, struct arns *r)
{
	const char *part = iam_partition(a->region);

	snprintf(r->role, sizeof(r->role), "arn:%s:iam::%s:role/%s", part,
		a->shared_account, role_name);
	snprintf(r->identity, sizeof(r->identity), "arn:%s:ses:%s:%s:identity/%s", part,
		a->region, a->shared_account, a->identity);
	snprintf(r->templates, sizeof(r->templates), "arn:%s:ses:%s:%s:template/*", part,
		a->region, a->shared_account);
	r->config_set[0] = '\0';
	if (a->configuration_set)
		snprintf(r->config_set, sizeof(r->config_set),
			"arn:%s:ses:%s:%s:configuration-set/%s", part, a->region,
			a->shared_account, a->configuration_set);
	for (size_t i = 0; i < a->n_senders; i++) {
		snprintf(r->senders[i], sizeof(r->senders[i]), "arn:%s:iam::%s:root", part,
			a->senders[i]);
		r->sender_ptrs[i] = r->senders[i];
	}
}

/* Sender accounts' roots as principals: each sender account then decides
 * with its own identity policies (sender_account.policy) who may assume. */
static cJSON *trust_policy(struct builder *b, const struct iam_policy_args *a,
	const struct arns *r)
{
	cJSON *stmts, *doc = new_document(b, &stmts);
	cJSON *st = new_statement(b, stmts, "AllowSenderAccountsToAssumeRole");
	cJSON *principal = cJSON_CreateObject();

	if (st == NULL) {
		cJSON_Delete(principal);
		return doc;
	}
	if (add(b, st, "Principal", principal))
		add(b, principal, "AWS", str_array(b, r->sender_ptrs, a->n_senders));
	add_str(b, st, "Action", "sts:AssumeRole");
	if (a->external_id) {
		cJSON *cond = add(b, st, "Condition", cJSON_CreateObject());
		cJSON *eq = cond ? add(b, cond, "StringEquals", cJSON_CreateObject()) : NULL;
		if (eq)
			add_str(b, eq, "sts:ExternalId", a->external_id);
	}
	return doc;
}

static const char *const send_actions[] = { "ses:SendRawEmail", "ses:SendEmail" };
/* The API front also forwards templated and bulk sends (SES v1 and SESv2)
 * and the account reads SDK clients make around sending. */
static const char *const api_send_actions[] = { "ses:SendRawEmail", "ses:SendEmail",
	"ses:SendTemplatedEmail", "ses:SendBulkTemplatedEmail", "ses:SendBulkEmail" };
#define NSEND(a) ((a)->api_front ? 5 : 2)
#define SEND_ACTIONS(a) ((a)->api_front ? api_send_actions : send_actions)

static cJSON *send_resources(struct builder *b, const struct iam_policy_args *a,
	const struct arns *r)
{
	const char *res[3] = { r->identity, r->config_set, r->templates };
	size_t n = 1;

	if (a->configuration_set)
		res[n++] = r->config_set;
	if (a->api_front)
		res[n++] = r->templates;	/* templated sends name the template too */
	return str_array(b, res, n);
}

static cJSON *permissions_policy(struct builder *b, const struct iam_policy_args *a,
	const struct arns *r)
{
	cJSON *stmts, *doc = new_document(b, &stmts);
	cJSON *st = new_statement(b, stmts, "SendAsVerifiedIdentity");

	if (st) {
		add(b, st, "Action", str_array(b, SEND_ACTIONS(a), NSEND(a)));
		add(b, st, "Resource", send_resources(b, a, r));
	}
	if (a->api_front && !a->read_only_checks) {
		/* GetSendQuota (v1) and GetAccount (SESv2) as SDK callers make
		 * them; no resource-level permissions: "*". */
		st = new_statement(b, stmts, "ApiFrontAccountReads");
		if (st) {
			static const char *const acts[] = { "ses:GetSendQuota", "ses:GetAccount" };
			add(b, st, "Action", str_array(b, acts, 2));
			add_str(b, st, "Resource", "*");
		}
	}
	if (!a->read_only_checks)
		return doc;
	/* These reads have no resource-level permissions in IAM: "*" is the
	 * only resource they can be granted on. */
	st = new_statement(b, stmts, "PreflightAccountReads");
	if (st) {
		static const char *const acts[] = { "ses:GetSendQuota",
			"ses:GetIdentityVerificationAttributes", "ses:GetAccount" };
		add(b, st, "Action", str_array(b, acts, 3));
		add_str(b, st, "Resource", "*");
	}
	st = new_statement(b, stmts, "PreflightIdentityRead");
	if (st) {
		add_str(b, st, "Action", "ses:GetEmailIdentity");
		add_str(b, st, "Resource", r->identity);
	}
	return doc;
}

static cJSON *sender_policy(struct builder *b, const struct arns *r)
{
	cJSON *stmts, *doc = new_document(b, &stmts);
	cJSON *st = new_statement(b, stmts, "AssumeSesRelaySenderRole");

	if (st) {
		add_str(b, st, "Action", "sts:AssumeRole");
		add_str(b, st, "Resource", r->role);
	}
	return doc;
}

/* SES sending authorization: lets the role's sessions name the identity
 * as SourceArn/FromArn/ReturnPathArn. */
static cJSON *identity_policy(struct builder *b, const struct iam_policy_args *a,
	const struct arns *r)
{
	cJSON *stmts, *doc = new_document(b, &stmts);
	cJSON *st = new_statement(b, stmts, "AllowRelayRoleToSendAsIdentity");
	cJSON *principal = cJSON_CreateObject();

	if (st == NULL) {
		cJSON_Delete(principal);
		return doc;
	}
	if (add(b, st, "Principal", principal))
		add_str(b, principal, "AWS", r->role);
	add(b, st, "Action", str_array(b, SEND_ACTIONS(a), NSEND(a)));
	add_str(b, st, "Resource", r->identity);
	return doc;
}

static void relay_config(struct builder *b, cJSON *root, const struct iam_policy_args *a,
	const struct arns *r)
{
	cJSON *rc = add(b, root, "relay_config", cJSON_CreateObject());

	if (rc == NULL)
		return;
	add_str(b, rc, "role_arn", r->role);
	add_str(b, rc, "region", a->region);
	if (a->external_id)
		add_str(b, rc, "external_id", a->external_id);
	if (a->configuration_set)
		add_str(b, rc, "configuration_set", a->configuration_set);
	if (a->source_arn) {
		add_str(b, rc, "source_arn", r->identity);
		add_str(b, rc, "from_arn", r->identity);
		add_str(b, rc, "return_path_arn", r->identity);
	}
}

int iam_policy_build(const struct iam_policy_args *a, cJSON **out,
	char *err, size_t errlen)
{
	const char *role_name = a->role_name ? a->role_name : IAM_POLICY_DEFAULT_ROLE;
	struct builder b = { false };
	struct arns r;
	cJSON *root, *shared, *sender;
	int rc = iam_policy_validate(a, err, errlen);

	*out = NULL;
	if (rc)
		return rc;
	make_arns(a, role_name, &r);
	root = cJSON_CreateObject();
	if (root == NULL)
		return -ENOMEM;
	add_str(&b, root, "role_arn", r.role);
	shared = add(&b, root, "shared_account", cJSON_CreateObject());
	if (shared) {
		add_str(&b, shared, "account_id", a->shared_account);
		add_str(&b, shared, "role_name", role_name);
		add(&b, shared, "role_trust_policy", trust_policy(&b, a, &r));
		add(&b, shared, "role_permissions_policy", permissions_policy(&b, a, &r));
		if (a->source_arn)
			add(&b, shared, "identity_sending_authorization_policy",
				identity_policy(&b, a, &r));
	}
	sender = add(&b, root, "sender_account", cJSON_CreateObject());
	if (sender) {
		add(&b, sender, "account_ids", str_array(&b, a->senders, a->n_senders));
		add(&b, sender, "policy", sender_policy(&b, &r));
	}
	relay_config(&b, root, a, &r);
	if (b.oom) {
		cJSON_Delete(root);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = root;
	return 0;
}
