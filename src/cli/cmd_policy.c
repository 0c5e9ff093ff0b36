/* `sesrelay policy`: print the IAM documents both accounts need, as one
 * JSON object, so operators paste exactly what the relay will exercise. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "iam_policy.h"

static void policy_usage(FILE *f)
{
	fprintf(f,
		"usage: sesrelay policy --shared-account ID --sender-account ID [--sender-account ID ...]\n"
		"                       --identity DOMAIN_OR_ADDRESS --region REGION\n"
		"                       [--external-id X] [--role-name NAME] [--configuration-set NAME]\n"
		"                       [--read-only-checks] [--source-arn] [--api-front]\n"
		"Prints the role trust and permissions policies for the shared account,\n"
		"the policy the sender accounts attach, and the matching relay settings.\n");
}

enum { O_SHARED = 256, O_SENDER, O_IDENTITY, O_REGION, O_EXTERNAL_ID, O_ROLE_NAME,
	O_CONFIG_SET, O_READ_ONLY, O_SOURCE_ARN, O_API_FRONT, O_HELP };

static const struct option options[] = {
	{ "shared-account", required_argument, NULL, O_SHARED },
	{ "sender-account", required_argument, NULL, O_SENDER },
	{ "identity", required_argument, NULL, O_IDENTITY },
	{ "region", required_argument, NULL, O_REGION },
	{ "external-id", required_argument, NULL, O_EXTERNAL_ID },
	{ "role-name", required_argument, NULL, O_ROLE_NAME },
	{ "configuration-set", required_argument, NULL, O_CONFIG_SET },
	{ "read-only-checks", no_argument, NULL, O_READ_ONLY },
	{ "source-arn", no_argument, NULL, O_SOURCE_ARN },
	{ "api-front", no_argument, NULL, O_API_FRONT },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

/* A repeated single-valued option is almost always a paste error. */
static int set_once(const char **slot, const char *name, const char *v)
{
	if (*slot) {
		fprintf(stderr, "sesrelay policy: --%s given twice\n", name);
		return -EINVAL;
	}
	*slot = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct iam_policy_args *a)
{
	int c, idx;

	opterr = 0;
	optind = 1;
	/* '+': stop at the first non-option instead of reordering argv. */
	while ((c = getopt_long(argc, argv, "+", options, &idx)) != -1) {
		int r = 0;

		switch (c) {
		case O_SHARED: r = set_once(&a->shared_account, "shared-account", optarg); break;
		case O_IDENTITY: r = set_once(&a->identity, "identity", optarg); break;
		case O_REGION: r = set_once(&a->region, "region", optarg); break;
		case O_EXTERNAL_ID: r = set_once(&a->external_id, "external-id", optarg); break;
		case O_ROLE_NAME: r = set_once(&a->role_name, "role-name", optarg); break;
		case O_CONFIG_SET:
			r = set_once(&a->configuration_set, "configuration-set", optarg);
			break;
		case O_READ_ONLY: a->read_only_checks = true; break;
		case O_SOURCE_ARN: a->source_arn = true; break;
		case O_API_FRONT: a->api_front = true; break;
		case O_SENDER:
			if (a->n_senders == IAM_POLICY_MAX_SENDERS) {
				fprintf(stderr, "sesrelay policy: at most %d --sender-account options\n",
					IAM_POLICY_MAX_SENDERS);
				return -EINVAL;
			}
			a->senders[a->n_senders++] = optarg;
			break;
		case O_HELP:
			policy_usage(stdout);
			return 1;
		default:
			if (optopt >= O_SHARED)
				fprintf(stderr, "sesrelay policy: %s needs a value\n", argv[optind - 1]);
			else
				fprintf(stderr, "sesrelay policy: unknown option %s\n", argv[optind - 1]);
			policy_usage(stderr);
			return -EINVAL;
		}
		if (r)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "sesrelay policy: unexpected argument %s\n", argv[optind]);
		policy_usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int cmd_policy(int argc, char **argv)
{
	struct iam_policy_args a;
	char err[512];
	cJSON *doc;
	char *text;
	int r;

	memset(&a, 0, sizeof(a));
	r = parse_args(argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 2;
	r = iam_policy_build(&a, &doc, err, sizeof(err));
	if (r == -EINVAL) {
		fprintf(stderr, "sesrelay policy: %s\n", err);
		return 2;
	}
	if (r) {
		fprintf(stderr, "sesrelay policy: %s\n", err);
		return 1;
	}
	text = cJSON_Print(doc);
	cJSON_Delete(doc);
	if (text == NULL) {
		fprintf(stderr, "sesrelay policy: out of memory\n");
		return 1;
	}
	r = printf("%s\n", text) < 0 || fflush(stdout) != 0;
	free(text);
	if (r) {
		fprintf(stderr, "sesrelay policy: cannot write the policies to standard output\n");
		return 1;
	}
	return 0;
}
