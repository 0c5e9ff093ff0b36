#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "iam_policy.h"

static const char *str_at(const cJSON *root, const char *const *path, size_t n)
{
	const cJSON *j = root;

	for (size_t i = 0; i < n && j; i++)
		j = cJSON_GetObjectItemCaseSensitive(j, path[i]);
	return cJSON_IsString(j) ? j->valuestring : NULL;
}

#define STR_AT(root, ...) str_at(root, (const char *const[]){ __VA_ARGS__ }, \
	sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static void test_validators(void)
{
	CHECK(iam_valid_account_id("123456789012"));
	CHECK(!iam_valid_account_id("12345678901"));
	CHECK(!iam_valid_account_id("1234567890123"));
	CHECK(!iam_valid_account_id("12345678901x"));
	CHECK(!iam_valid_account_id(NULL));

	CHECK(iam_valid_region("us-east-1"));
	CHECK(iam_valid_region("us-gov-west-1"));
	CHECK(iam_valid_region("ap-southeast-12"));
	CHECK(!iam_valid_region("us-east"));
	CHECK(!iam_valid_region("us-east-123"));
	CHECK(!iam_valid_region("US-east-1"));
	CHECK(!iam_valid_region("useast-1"));
	CHECK(!iam_valid_region("us--1"));

	CHECK(iam_valid_identity("example.com"));
	CHECK(iam_valid_identity("a-b.example.co.uk"));
	CHECK(iam_valid_identity("first.last+x@example.com"));
	CHECK(!iam_valid_identity("example"));
	CHECK(!iam_valid_identity("example.com."));
	CHECK(!iam_valid_identity(".example.com"));
	CHECK(!iam_valid_identity("-a.example.com"));
	CHECK(!iam_valid_identity("a-.example.com"));
	CHECK(!iam_valid_identity("example.42"));
	CHECK(!iam_valid_identity("*@example.com"));
	CHECK(!iam_valid_identity("a?b@example.com"));
	CHECK(!iam_valid_identity("a..b@example.com"));
	CHECK(!iam_valid_identity("a@b@example.com"));
	CHECK(!iam_valid_identity("@example.com"));
	CHECK(!iam_valid_identity("a@"));

	CHECK(iam_valid_role_name("ses-relay-sender"));
	CHECK(iam_valid_role_name("a+b=c,d.e@f_g"));
	CHECK(!iam_valid_role_name(""));
	CHECK(!iam_valid_role_name("a/b"));
	CHECK(iam_valid_external_id("ab"));
	CHECK(!iam_valid_external_id("a"));
	CHECK(!iam_valid_external_id("a b"));
	CHECK(iam_valid_configuration_set("relay_1-x"));
	CHECK(!iam_valid_configuration_set("relay.x"));

	CHECK_STR(iam_partition("cn-north-1"), "aws-cn");
	CHECK_STR(iam_partition("us-gov-east-1"), "aws-us-gov");
	CHECK_STR(iam_partition("eu-west-1"), "aws");
}

static struct iam_policy_args base_args(void)
{
	struct iam_policy_args a;

	memset(&a, 0, sizeof(a));
	a.shared_account = "111111111111";
	a.senders[0] = "222222222222";
	a.n_senders = 1;
	a.identity = "example.com";
	a.region = "eu-west-1";
	return a;
}

static void test_errors(void)
{
	struct iam_policy_args a = base_args();
	char err[512];
	cJSON *doc = (cJSON *)1;

	a.senders[1] = "111111111111";
	a.n_senders = 2;
	CHECK_INT(iam_policy_build(&a, &doc, err, sizeof(err)), -EINVAL);
	CHECK(doc == NULL);
	CHECK(strstr(err, "is the shared account") != NULL);

	a = base_args();
	a.senders[1] = "222222222222";
	a.n_senders = 2;
	CHECK_INT(iam_policy_validate(&a, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "given twice") != NULL);

	a = base_args();
	a.n_senders = IAM_POLICY_MAX_SENDERS + 1;
	CHECK_INT(iam_policy_validate(&a, err, sizeof(err)), -EINVAL);

	a = base_args();
	a.region = NULL;
	CHECK_INT(iam_policy_validate(&a, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "--region is required");

	a = base_args();
	CHECK_INT(iam_policy_validate(&a, err, sizeof(err)), 0);
}

static void test_documents(void)
{
	struct iam_policy_args a = base_args();
	char err[512];
	cJSON *doc, *st, *res;

	a.external_id = "ext-1";
	a.configuration_set = "events";
	a.source_arn = true;
	CHECK_INT(iam_policy_build(&a, &doc, err, sizeof(err)), 0);
	if (doc == NULL)
		return;
	CHECK_STR(STR_AT(doc, "role_arn"), "arn:aws:iam::111111111111:role/ses-relay-sender");
	st = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		doc, "shared_account"), "role_trust_policy"), "Statement"), 0);
	CHECK_STR(STR_AT(st, "Condition", "StringEquals", "sts:ExternalId"), "ext-1");
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "Principal"),
		"AWS"), 0)->valuestring, "arn:aws:iam::222222222222:root");
	st = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		doc, "shared_account"), "role_permissions_policy"), "Statement"), 0);
	res = cJSON_GetObjectItem(st, "Resource");
	CHECK_INT(cJSON_GetArraySize(res), 2);
	CHECK_STR(cJSON_GetArrayItem(res, 0)->valuestring,
		"arn:aws:ses:eu-west-1:111111111111:identity/example.com");
	CHECK_STR(cJSON_GetArrayItem(res, 1)->valuestring,
		"arn:aws:ses:eu-west-1:111111111111:configuration-set/events");
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		doc, "shared_account"), "role_permissions_policy"), "Statement")), 1);
	CHECK_STR(STR_AT(doc, "shared_account", "identity_sending_authorization_policy", "Version"),
		"2012-10-17");
	CHECK_STR(STR_AT(doc, "relay_config", "source_arn"),
		"arn:aws:ses:eu-west-1:111111111111:identity/example.com");
	cJSON_Delete(doc);

	a = base_args();
	a.role_name = "r";
	a.region = "cn-northwest-1";
	CHECK_INT(iam_policy_build(&a, &doc, err, sizeof(err)), 0);
	if (doc == NULL)
		return;
	CHECK_STR(STR_AT(doc, "role_arn"), "arn:aws-cn:iam::111111111111:role/r");
	CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "shared_account"),
		"identity_sending_authorization_policy") == NULL);
	CHECK(STR_AT(doc, "relay_config", "external_id") == NULL);
	cJSON_Delete(doc);
}

/* --api-front: templated and bulk sends on the identity and the
 * account's templates, and the account reads SDK callers make. */
static void test_api_front(void)
{
	struct iam_policy_args a = base_args();
	char err[256];
	cJSON *doc = NULL, *perm, *st, *acts, *res;

	a.api_front = true;
	CHECK_INT(iam_policy_build(&a, &doc, err, sizeof(err)), 0);
	if (doc == NULL)
		return;
	perm = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "shared_account"), "role_permissions_policy");
	st = cJSON_GetArrayItem(cJSON_GetObjectItem(perm, "Statement"), 0);
	acts = cJSON_GetObjectItem(st, "Action");
	res = cJSON_GetObjectItem(st, "Resource");
	CHECK_INT(cJSON_GetArraySize(acts), 5);
	CHECK_STR(cJSON_GetArrayItem(acts, 4)->valuestring, "ses:SendBulkEmail");
	CHECK_STR(cJSON_GetArrayItem(res, 1)->valuestring, "arn:aws:ses:eu-west-1:111111111111:template/*");
	st = cJSON_GetArrayItem(cJSON_GetObjectItem(perm, "Statement"), 1);
	CHECK_STR(cJSON_GetObjectItem(st, "Sid")->valuestring, "ApiFrontAccountReads");
	cJSON_Delete(doc);
}

int main(void)
{
	test_api_front();
	test_validators();
	test_errors();
	test_documents();
	return check_report();
}
