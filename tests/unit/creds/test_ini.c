/* Shared config file parser and the credential_process command splitter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "creds_base.h"
#include "ini.h"

static int parse(const char *text, struct ini *ini, unsigned *line, const char **why)
{
	return ini_parse(text, strlen(text), ini, line, why);
}

static void test_basic(void)
{
	struct ini ini;
	unsigned line;
	const char *why;
	const char *text =
		"# comment\n"
		"; another\n"
		"[default]\n"
		"aws_access_key_id = AKIDEFAULT\r\n"
		"aws_secret_access_key=se#cret;x   \n"
		"\n"
		"[ profile dev ]   # trailing comment\n"
		"region = eu-west-1 ; inline comment\n"
		"credential_process = /bin/tool \"a b\"\n"
		"s3 =\n"
		"  max_concurrent_requests = 10\n"
		"output = json\n"
		"[default]\n"
		"aws_access_key_id = AKILATER\n";

	CHECK_INT(parse(text, &ini, &line, &why), 0);
	CHECK_STR(ini_get(&ini, "default", "aws_access_key_id"), "AKILATER");
	CHECK_STR(ini_get(&ini, "default", "aws_secret_access_key"), "se#cret;x");
	CHECK_STR(ini_get(&ini, "profile dev", "region"), "eu-west-1");
	CHECK_STR(ini_get(&ini, "profile dev", "credential_process"), "/bin/tool \"a b\"");
	CHECK_STR(ini_get(&ini, "profile dev", "s3"), "");
	CHECK_STR(ini_get(&ini, "profile dev", "s3.max_concurrent_requests"), "10");
	CHECK(ini_get(&ini, "profile dev", "max_concurrent_requests") == NULL);
	CHECK_STR(ini_get(&ini, "profile dev", "output"), "json");
	CHECK(ini_get(&ini, "dev", "region") == NULL);
	CHECK(ini_has_section(&ini, "profile dev"));
	CHECK(!ini_has_section(&ini, "profile nope"));
	ini_free(&ini);

	/* Indented keys straight after a header are plain keys. */
	CHECK_INT(parse("[a]\n   k = v\n", &ini, &line, &why), 0);
	CHECK_STR(ini_get(&ini, "a", "k"), "v");
	ini_free(&ini);

	/* Empty file, no trailing newline, empty section. */
	CHECK_INT(parse("", &ini, &line, &why), 0);
	CHECK_INT(ini.n, 0);
	ini_free(&ini);
	CHECK_INT(parse("[x]\nk=v", &ini, &line, &why), 0);
	CHECK_STR(ini_get(&ini, "x", "k"), "v");
	ini_free(&ini);
}

/* Mistakes that cannot be pinned to one section fail the whole file. */
static void test_errors(void)
{
	static const struct {
		const char *text;
		unsigned line;
	} bad[] = {
		{ "k = v\n", 1 },
		{ "[a\nk=v\n", 1 },
		{ "[]\n", 1 },
		{ "[ok]\nk = v\n[b\nk = v\n", 3 },
	};
	struct ini ini;
	unsigned line;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(parse(bad[i].text, &ini, &line, &why), -EINVAL);
		CHECK_INT(line, bad[i].line);
		CHECK(why != NULL);
		CHECK_INT(ini.n, 0);
	}
	CHECK_INT(ini_parse("[a]\nk=\0v\n", 8, &ini, &line, &why), -EINVAL);
}

/* A mistake inside a section breaks that section only: the others keep
 * their values, and the broken one says where and why. */
static void test_broken_sections(void)
{
	static const struct {
		const char *text;
		unsigned line;
	} bad[] = {
		{ "[a]\nnot a property\n", 2 },
		{ "[a] junk\n", 1 },
		{ "[a]\n= v\n", 2 },
		{ "[a]\ns3 =\n  no equals sign\n", 3 },
	};
	struct ini ini;
	unsigned line;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(parse(bad[i].text, &ini, &line, &why), 0);
		CHECK(ini_section_error(&ini, "a", &line, &why));
		CHECK_INT(line, bad[i].line);
		CHECK(why != NULL);
		ini_free(&ini);
	}

	CHECK_INT(parse("[default]\n"
		"aws_access_key_id = AKIDEFAULT\n"
		"[profile odd]\n"
		"region = eu-west-1\n"
		"this line is not a property\n"
		"output = json\n"
		"[profile dev]\n"
		"aws_secret_access_key = s\n"
		"[profile odd]\n"
		"later = x\n", &ini, &line, &why), 0);
	CHECK_STR(ini_get(&ini, "default", "aws_access_key_id"), "AKIDEFAULT");
	CHECK_STR(ini_get(&ini, "profile dev", "aws_secret_access_key"), "s");
	CHECK(!ini_section_error(&ini, "default", &line, &why));
	CHECK(ini_section_error(&ini, "profile odd", &line, &why));
	CHECK_INT(line, 5);
	CHECK_STR(why, "expected key = value");
	/* none of a broken section's values are handed out */
	CHECK(ini_get(&ini, "profile odd", "region") == NULL);
	CHECK(ini_get(&ini, "profile odd", "later") == NULL);
	CHECK(ini_has_section(&ini, "profile odd"));
	ini_free(&ini);
}

/* Continuation lines as configparser (botocore, the AWS CLI) reads them:
 * a line indented deeper than its key line continues the value. */
static void test_continuation(void)
{
	struct ini ini;
	unsigned line;
	const char *why;

	CHECK_INT(parse("[default]\n"
		"credential_process = /usr/bin/tool\n"
		"    --profile dev\n"
		"\n"
		"    # a comment line is skipped\n"
		"\t--region eu-west-1\n"
		"region = us-east-1\n"
		"s3 =\n"
		"  addressing_style = path\n"
		"output = json\n", &ini, &line, &why), 0);
	CHECK_STR(ini_get(&ini, "default", "credential_process"),
		"/usr/bin/tool\n--profile dev\n\n--region eu-west-1");
	CHECK_STR(ini_get(&ini, "default", "region"), "us-east-1");
	CHECK_STR(ini_get(&ini, "default", "s3.addressing_style"), "path");
	CHECK_STR(ini_get(&ini, "default", "output"), "json");
	ini_free(&ini);

	/* The value splits into the command line botocore would run. */
	CHECK_INT(parse("[p]\ncredential_process = /bin/tool\n  \"a b\" c\n", &ini, &line, &why), 0);
	{
		char **argv;
		CHECK_INT(creds_split_argv(ini_get(&ini, "p", "credential_process"), &argv), 0);
		CHECK_STR(argv[0], "/bin/tool");
		CHECK_STR(argv[1], "a b");
		CHECK_STR(argv[2], "c");
		CHECK(argv[3] == NULL);
		creds_argv_free(argv);
	}
	ini_free(&ini);

	/* Deeper than the key line is all that counts, '=' or not
	 * (configparser gives region "us-east-1\nkey = v"); the same depth
	 * is a new key. */
	CHECK_INT(parse("[p]\nregion = us-east-1\n  key = v\n[q]\n  a = 1\n  b = 2\n", &ini, &line, &why), 0);
	CHECK_STR(ini_get(&ini, "p", "region"), "us-east-1\nkey = v");
	CHECK(ini_get(&ini, "p", "key") == NULL);
	CHECK_STR(ini_get(&ini, "q", "a"), "1");
	CHECK_STR(ini_get(&ini, "q", "b"), "2");
	ini_free(&ini);

	/* Trailing blank lines are not part of the value. */
	CHECK_INT(parse("[p]\nk = a\n  b\n\n\n[q]\n", &ini, &line, &why), 0);
	CHECK_STR(ini_get(&ini, "p", "k"), "a\nb");
	ini_free(&ini);
}

static void test_bounds(void)
{
	struct ini ini;
	unsigned line;
	const char *why;
	size_t n = INI_MAX_LINE + 10;
	char *big = malloc(n + 16);
	char *many;
	size_t len = 0;

	memcpy(big, "[a]\nk=", 6);
	memset(big + 6, 'x', n);
	big[6 + n] = '\0';
	CHECK_INT(parse(big, &ini, &line, &why), -E2BIG);
	CHECK_INT(line, 2);
	free(big);

	many = malloc((INI_MAX_ENTRIES + 2) * 8 + 8);
	len += (size_t)sprintf(many, "[a]\n");
	for (int i = 0; i < INI_MAX_ENTRIES + 1; i++)
		len += (size_t)sprintf(many + len, "k=v\n");
	CHECK_INT(parse(many, &ini, &line, &why), -E2BIG);
	free(many);
}

static void test_argv(void)
{
	char **argv;

	CHECK_INT(creds_split_argv("/bin/tool --profile dev", &argv), 0);
	CHECK_STR(argv[0], "/bin/tool");
	CHECK_STR(argv[1], "--profile");
	CHECK_STR(argv[2], "dev");
	CHECK(argv[3] == NULL);
	creds_argv_free(argv);

	CHECK_INT(creds_split_argv("  \"/opt/my tool\"\t'a \"b\" c' x\"y z\"w \"q\\\"\\\\\" ''", &argv), 0);
	CHECK_STR(argv[0], "/opt/my tool");
	CHECK_STR(argv[1], "a \"b\" c");
	CHECK_STR(argv[2], "xy zw");
	CHECK_STR(argv[3], "q\"\\");
	CHECK_STR(argv[4], "");
	CHECK(argv[5] == NULL);
	creds_argv_free(argv);

	/* No shell: metacharacters are just characters. */
	CHECK_INT(creds_split_argv("tool $HOME;rm|x", &argv), 0);
	CHECK_STR(argv[1], "$HOME;rm|x");
	creds_argv_free(argv);

	CHECK_INT(creds_split_argv("", &argv), -EINVAL);
	CHECK_INT(creds_split_argv("   ", &argv), -EINVAL);
	CHECK_INT(creds_split_argv("tool \"open", &argv), -EINVAL);
	CHECK_INT(creds_split_argv("tool 'open", &argv), -EINVAL);
	{
		char s[400] = "t";
		for (int i = 0; i < 70; i++)
			strcat(s, " a");
		CHECK_INT(creds_split_argv(s, &argv), -EINVAL);
	}
}

static void test_files(void)
{
	struct ini cfg, cred;
	struct buf b;
	unsigned line;
	const char *why;
	char **argv;

	CHECK_INT(creds_read_file(PROJECT_ROOT "/proto/shared-config/config", CREDS_MAX_FILE, &b), 0);
	CHECK_INT(ini_parse(b.data, b.len, &cfg, &line, &why), 0);
	buf_free(&b);
	CHECK_INT(creds_read_file(PROJECT_ROOT "/proto/shared-config/credentials", CREDS_MAX_FILE, &b), 0);
	CHECK_INT(ini_parse(b.data, b.len, &cred, &line, &why), 0);
	buf_free(&b);

	CHECK_STR(ini_get(&cfg, "default", "region"), "us-east-1");
	CHECK_STR(ini_get(&cfg, "profile staging", "region"), "eu-west-1");
	CHECK_STR(ini_get(&cfg, "profile staging", "s3.addressing_style"), "path");
	CHECK_STR(ini_get(&cfg, "profile chained", "source_profile"), "default");
	CHECK_INT(creds_split_argv(ini_get(&cfg, "profile staging", "credential_process"), &argv), 0);
	CHECK_STR(argv[0], "/opt/cred helper/bin/get");
	CHECK_STR(argv[2], "staging role");
	CHECK_STR(argv[3], "--json");
	CHECK(argv[4] == NULL);
	creds_argv_free(argv);

	CHECK_STR(ini_get(&cred, "default", "aws_access_key_id"), "AKIAIOSFODNN7EXAMPLE");
	CHECK_STR(ini_get(&cred, "session", "aws_session_token"), "IQoJb3JpZ2luX2VjEXAMPLE+/=");
	ini_free(&cfg);
	ini_free(&cred);

	/* Reader bounds. */
	CHECK_INT(creds_read_file(PROJECT_ROOT "/proto/shared-config/config", 10, &b), -EFBIG);
	CHECK_INT(creds_read_file(PROJECT_ROOT "/proto/shared-config/absent", 10, &b), -ENOENT);
}

int main(void)
{
	test_files();
	test_basic();
	test_errors();
	test_broken_sections();
	test_continuation();
	test_bounds();
	test_argv();
	return check_report();
}
