/* The shared config/credentials parser reads files anyone with write
 * access to $HOME controls: it must never crash or leak on any input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "creds_base.h"
#include "ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ini ini;
	unsigned line;
	const char *why;
	char cmd[256];
	char **argv;

	if (ini_parse((const char *)data, size, &ini, &line, &why) == 0) {
		for (size_t i = 0; i < ini.n; i++)
			(void)ini_get(&ini, ini.v[i].section, ini.v[i].key);
		(void)ini_has_section(&ini, "default");
		ini_free(&ini);
	}
	/* The command splitter takes a value from those files. */
	if (size < sizeof(cmd)) {
		memcpy(cmd, data, size);
		cmd[size] = '\0';
		if (creds_split_argv(cmd, &argv) == 0)
			creds_argv_free(argv);
	}
	return 0;
}
