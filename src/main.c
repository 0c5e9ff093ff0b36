/* Command-line entry: parses the verb and hands off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"
#include "config.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sesrelay [--config FILE]          run the relay in the foreground\n"
		"       sesrelay --version | --help\n");
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	struct config cfg;
	char err[512];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("sesrelay %s\n", SESRELAY_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
			config_path = argv[++i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (config_load(&cfg, config_path, err, sizeof(err))) {
		fprintf(stderr, "sesrelay: %s\n", err);
		return 2;
	}
	config_free(&cfg);
	return 0;
}
