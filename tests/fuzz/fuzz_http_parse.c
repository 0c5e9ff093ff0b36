/* The API front reads request heads and bodies from anyone who can
 * connect: the one HTTP parser must never crash or read past its input,
 * whatever it accepts must be a well-formed origin-form head whose fields
 * lie inside it and whose body fits the bound, and its verdict must not
 * depend on how the bytes were split across reads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct http_limits lim = {
	.max_head = 4096, .max_target = 512, .max_fields = 32, .max_body = 1 << 20,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request req, again;
	char *copy;
	int r;

	if (size > lim.max_head + 64)
		size = lim.max_head + 64;
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	r = http_parse_request(copy, size, &lim, &req);
	if (r > 0) {
		if ((size_t)r > size || (size_t)r > lim.max_head || r < 4 ||
				memcmp(copy + r - 4, "\r\n\r\n", 4) != 0)
			abort();
		if (req.target < copy || req.target + req.target_len > copy + r ||
				req.target_len == 0 || req.target_len > lim.max_target ||
				req.target[0] != '/' || req.path_len > req.target_len)
			abort();
		if (req.content_length > lim.max_body || req.nfields > lim.max_fields ||
				(req.version != 10 && req.version != 11))
			abort();
		for (unsigned i = 0; i < req.nfields; i++) {
			const struct http_field *f = &req.fields[i];
			if (f->name < copy || f->name + f->name_len > copy + r || f->name_len == 0 ||
					f->value < copy || f->value + f->value_len > copy + r ||
					memchr(f->value, '\n', f->value_len) || memchr(f->value, '\r', f->value_len))
				abort();
		}
		if (http_parse_request(copy, (size_t)r, &lim, &again) != r ||
				again.content_length != req.content_length ||
				again.keep_alive != req.keep_alive || strcmp(again.method, req.method) != 0)
			abort();
	}
	for (size_t n = 0; n < size; n += 1 + n / 8) {
		int p = http_parse_request(copy, n, &lim, &again);
		if (p < 0 && r >= 0)
			abort();
		if (p > 0 && p != r)
			abort();
	}
	free(copy);
	return 0;
}
