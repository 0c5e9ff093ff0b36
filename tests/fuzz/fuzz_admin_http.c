/* The admin endpoint reads request heads from anyone who can connect:
 * the parser must never crash or read past the input, and whatever it
 * accepts must be a well-formed origin-form request of bounded size,
 * judged the same way however the bytes were split across reads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admin_request req, again;
	char *copy;
	int r;

	if (size > ADMIN_HTTP_MAX_HEAD + 16)
		size = ADMIN_HTTP_MAX_HEAD + 16;
	/* An exact-size heap copy lets ASan catch any read past the end. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	r = admin_http_parse_request(copy, size, &req);
	if (r > 0) {
		size_t plen = strlen(req.path);
		if ((size_t)r > size || (size_t)r > ADMIN_HTTP_MAX_HEAD || r < 4)
			abort();
		if (memcmp(copy + r - 4, "\r\n\r\n", 4) != 0)
			abort();
		if (plen == 0 || plen > ADMIN_HTTP_MAX_TARGET || req.path[0] != '/')
			abort();
		for (size_t i = 0; i < plen; i++)
			if ((unsigned char)req.path[i] <= 0x20 || (unsigned char)req.path[i] >= 0x7f)
				abort();
		/* The head alone parses to the same request. */
		if (admin_http_parse_request(copy, (size_t)r, &again) != r ||
				again.method != req.method || strcmp(again.path, req.path) != 0)
			abort();
	}
	/* A prefix never gets a verdict the full input contradicts: an error
	 * on a prefix stays an error, and a complete head on a prefix is the
	 * same head. */
	for (size_t n = 0; n < size; n += 1 + n / 8) {
		int p = admin_http_parse_request(copy, n, &again);
		if (p < 0 && r >= 0)
			abort();
		if (p > 0 && p != r)
			abort();
	}
	free(copy);
	return 0;
}
