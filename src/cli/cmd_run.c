/* `sesrelay [run]`: the relay in the foreground until SIGTERM/SIGINT
 * (relay/relay.c, whatever the number of workers). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "relay.h"

int cmd_run(const char *config_path, int argc, char **argv)
{
	if (argc > 1) {
		bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fprintf(help ? stdout : stderr, "usage: sesrelay [-c FILE] [run]\n"
			"Runs the relay in the foreground until SIGTERM or SIGINT; SIGHUP reloads\n"
			"the configuration.\n");
		return help ? 0 : 2;
	}
	return relay_run(config_path);
}
