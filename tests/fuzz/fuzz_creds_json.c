/* Credentials JSON comes from the container credentials endpoint, the
 * instance metadata service and credential_process output: anything
 * that can answer on that address or write that command can send any
 * bytes. The reader must accept only complete credentials and refuse the
 * rest with a reason, never crash, leak or read past the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_creds.h"
#include "aws_xml.h"
#include "creds_base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const token_keys[] = { "Token", "SessionToken" };
	char *body = malloc(size ? size : 1);

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	for (size_t i = 0; i < 2; i++) {
		struct aws_creds *c = NULL;
		struct aws_error why;

		memset(&why, 0, sizeof(why));
		if (creds_from_json(body, size, token_keys[i], i == 0, "fuzz", "read", &c, &why) == 0) {
			if (c == NULL)
				abort();
			aws_creds_unref(c);
		} else if (c != NULL || why.code[0] == '\0') {
			abort();
		}
	}
	free(body);
	return 0;
}
