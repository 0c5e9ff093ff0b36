/* Placeholders for subcommands not built yet; each moves to its own
 * cmd_<name>.c when implemented (delete it from here then). */
#include <stdio.h>

#include "commands.h"

int cmd_check(const char *config_path, int argc, char **argv)
{
	(void)config_path; (void)argc; (void)argv;
	fprintf(stderr, "sesrelay: check is not built yet\n");
	return 1;
}
