/* `sesrelay [run]`: the relay in the foreground until SIGTERM/SIGINT
 * (relay/relay.c, whatever the number of workers). */
#include "commands.h"
#include "relay.h"

int cmd_run(const char *config_path)
{
	return relay_run(config_path);
}
