/* Command-line entry: global options, then hand-off to a subcommand.
 *
 * The global option -c/--config may come before or after the subcommand
 * (`sesrelay -c F whoami` and `sesrelay whoami -c F` are the same); it is
 * taken out of the subcommand's arguments. -h/--help and -V/--version are
 * global only before the subcommand: after it, --help is the
 * subcommand's own. `--` ends the options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"
#include "commands.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sesrelay [-c FILE] [run]                  run the relay in the foreground\n"
		"       sesrelay [-c FILE] check [--identity ID] [--send-test ADDRESS [--from SENDER]]\n"
		"                                                 preflight: prove which account mail leaves from\n"
		"       sesrelay [-c FILE] whoami                 show base and assumed identities\n"
		"       sesrelay [-c FILE] queue list|show ID|flush [ID]|delete ID|hold ID|release ID [--json]\n"
		"                                                 the queue of the running relay (delivery queue)\n"
		"       sesrelay passwd USER                      print a users-file line (password on stdin)\n"
		"       sesrelay client NAME --senders LIST ...   print a clients-file line with a fresh API key pair\n"
		"       sesrelay policy --shared-account ID --sender-account ID ... --identity ID --region R\n"
		"                                                 print the IAM policies both accounts need\n"
		"       sesrelay [-c FILE] sendmail [-t] [-i] [-f ADDR] [-F NAME] [RECIPIENT ...]\n"
		"                                                 submit a message from stdin to the relay\n"
		"       sesrelay -V | --version\n"
		"       sesrelay -h | --help                      this text; COMMAND --help for one command\n"
		"\n"
		"Options (before or after the command):\n"
		"  -c FILE, --config FILE, --config=FILE\n"
		"                 configuration file; default $SESRELAY_CONFIG, else none\n"
		"                 (built-in defaults)\n"
		"\n"
		"Every configuration key can also be set as SESRELAY_<KEY> in the\n"
		"environment, which wins over the file. See sesrelay(8), sesrelay.conf(5).\n");
}

/* -c/--config at argv[*i]: 1 taken (value in *path, *i on its last word),
 * 0 not a config option, -1 missing value. */
static int config_option(int argc, char **argv, int *i, const char **path)
{
	const char *a = argv[*i];

	if (strncmp(a, "--config=", 9) == 0) {
		*path = a + 9;
		return 1;
	}
	if (strcmp(a, "--config") != 0 && strcmp(a, "-c") != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*path = argv[++*i];
	return 1;
}

int main(int argc, char **argv)
{
	const char *config_path = getenv("SESRELAY_CONFIG");
	const char *base = strrchr(argv[0], '/');
	char **sub;
	int i, n = 0, r;

	/* Installed as sesrelay-sendmail too: then every argument is sendmail's. */
	if (strcmp(base ? base + 1 : argv[0], "sesrelay-sendmail") == 0)
		return cmd_sendmail(config_path, argc, argv);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("sesrelay %s\n", SESRELAY_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		r = config_option(argc, argv, &i, &config_path);
		if (r == 1)
			continue;
		if (r == 0)
			fprintf(stderr, "sesrelay: unknown option %s\n", argv[i]);
		else
			fprintf(stderr, "sesrelay: %s needs a file name\n", argv[i]);
		usage(stderr);
		return 2;
	}
	/* The subcommand's argv: its name, then its arguments without the
	 * global options. */
	sub = calloc((size_t)(argc - i) + 2, sizeof(*sub));
	if (sub == NULL) {
		fprintf(stderr, "sesrelay: out of memory\n");
		return 1;
	}
	sub[n++] = i < argc ? argv[i] : "run";
	for (int j = i + 1; j < argc; j++) {
		if (strcmp(argv[j], "--") == 0) {
			while (j < argc)
				sub[n++] = argv[j++];
			break;
		}
		r = config_option(argc, argv, &j, &config_path);
		if (r == 1)
			continue;
		if (r < 0) {
			fprintf(stderr, "sesrelay: %s needs a file name\n", argv[j]);
			free(sub);
			return 2;
		}
		sub[n++] = argv[j];
	}
	if (strcmp(sub[0], "run") == 0)
		r = cmd_run(config_path, n, sub);
	else if (strcmp(sub[0], "check") == 0)
		r = cmd_check(config_path, n, sub);
	else if (strcmp(sub[0], "whoami") == 0)
		r = cmd_whoami(config_path, n, sub);
	else if (strcmp(sub[0], "passwd") == 0)
		r = cmd_passwd(n, sub);
	else if (strcmp(sub[0], "client") == 0)
		r = cmd_client(n, sub);
	else if (strcmp(sub[0], "policy") == 0)
		r = cmd_policy(n, sub);
	else if (strcmp(sub[0], "queue") == 0)
		r = cmd_queue(config_path, n, sub);
	else if (strcmp(sub[0], "sendmail") == 0)
		r = cmd_sendmail(config_path, n, sub);
	else {
		fprintf(stderr, "sesrelay: unknown command %s\n", sub[0]);
		usage(stderr);
		r = 2;
	}
	free(sub);
	return r;
}
