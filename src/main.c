/* Command-line entry: global options, then hand-off to a subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"
#include "commands.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sesrelay [--config FILE]                  run the relay in the foreground\n"
		"       sesrelay [--config FILE] check [--send-test ADDRESS]\n"
		"                                                 preflight: prove which account mail leaves from\n"
		"       sesrelay [--config FILE] whoami           show base and assumed identities\n"
		"       sesrelay [--config FILE] queue list|show ID|flush [ID]|delete ID|hold ID|release ID [--json]\n"
		"                                                 the queue of the running relay (delivery queue)\n"
		"       sesrelay passwd USER                      print a users-file line (password on stdin)\n"
		"       sesrelay client NAME --senders LIST ...   print a clients-file line with a fresh API key pair\n"
		"       sesrelay policy --shared-account ID --sender-account ID ... --identity ID --region R\n"
		"                                                 print the IAM policies both accounts need\n"
		"       sesrelay --version | --help\n"
		"\n"
		"The configuration file defaults to none (built-in defaults); every key\n"
		"can also be set as SESRELAY_<KEY> in the environment.\n");
}

int main(int argc, char **argv)
{
	const char *config_path = getenv("SESRELAY_CONFIG");
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("sesrelay %s\n", SESRELAY_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= argc) {
				usage(stderr);
				return 2;
			}
			config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_path = argv[i] + 9;
		} else {
			fprintf(stderr, "sesrelay: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i == argc || strcmp(argv[i], "run") == 0)
		return cmd_run(config_path);
	if (strcmp(argv[i], "check") == 0)
		return cmd_check(config_path, argc - i, argv + i);
	if (strcmp(argv[i], "whoami") == 0)
		return cmd_whoami(config_path, argc - i, argv + i);
	if (strcmp(argv[i], "passwd") == 0)
		return cmd_passwd(argc - i, argv + i);
	if (strcmp(argv[i], "client") == 0)
		return cmd_client(argc - i, argv + i);
	if (strcmp(argv[i], "policy") == 0)
		return cmd_policy(argc - i, argv + i);
	if (strcmp(argv[i], "queue") == 0)
		return cmd_queue(config_path, argc - i, argv + i);
	fprintf(stderr, "sesrelay: unknown command %s\n", argv[i]);
	usage(stderr);
	return 2;
}
