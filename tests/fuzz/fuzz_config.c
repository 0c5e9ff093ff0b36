/* The configuration file is read at start and on every reload: a typo or
 * a truncated file must end in an error naming file:line: key, never a
 * crash, a leak or a read past the text. The input is a whole file, read
 * through the same code as config_load. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[512];

	memset(&c, 0, sizeof(c));
	err[0] = '\0';
	if (config_load_buffer(&c, "fuzz.conf", (const char *)data, size, err, sizeof(err)) == 0) {
		char where[512];

		for (size_t i = 0; i < config_key_count(); i++)
			(void)config_where(&c, config_key_name(i), NULL, where, sizeof(where));
		config_free(&c);
	} else if (err[0] == '\0' || strnlen(err, sizeof(err)) == sizeof(err)) {
		abort();		/* every refusal says why */
	}
	return 0;
}
