/* The SigV4 verifier judges requests from anyone who can reach the API
 * front: on any head it must return a verdict (never crash, never read
 * past the input), and a request it accepts must stop being accepted
 * when a byte of its signature, its date or its body changes. The input
 * is a raw request: head, then body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_sigv4.h"
#include "http_parse.h"
#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1440938160			/* 2015-08-30T12:36:00Z, the test suite's clock */

static const struct http_limits lim = {
	.max_head = 8192, .max_target = 2048, .max_fields = 64, .max_body = 1 << 20,
};

static const char *secret_of(void *arg, const char *id, size_t n)
{
	(void)arg;
	return n == 11 && memcmp(id, "AKIDEXAMPLE", 11) == 0 ?
		"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" : NULL;
}

static int verify(const char *buf, size_t size, const char *service, struct api_sigv4_caller *c)
{
	struct http_request req;
	char hash[65], why[256];
	int h = http_parse_request(buf, size, &lim, &req);

	if (h <= 0)
		return -1;
	sigv4_sha256_hex(buf + h, size - (size_t)h, hash);
	return api_sigv4_verify(&req, hash, service, NOW, secret_of, NULL, c, why, sizeof(why));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_sigv4_caller c;
	char *copy;
	int v;

	if (size > 16384)
		size = 16384;
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	v = verify(copy, size, "service", &c);
	if (v > API_SIGV4_EXPIRED)
		abort();
	if (v == API_SIGV4_OK) {
		char *sig = strstr(copy, "Signature=");
		if (c.key_id[0] == '\0' || strcmp(c.service, "service") != 0)
			abort();
		/* the same request for another service is not accepted */
		if (verify(copy, size, "ses", &c) == API_SIGV4_OK)
			abort();
		/* nor with a byte of its signature changed */
		if (sig && sig + 10 < copy + size) {
			sig[10] = sig[10] == '0' ? '1' : '0';
			if (verify(copy, size, "service", &c) == API_SIGV4_OK)
				abort();
			sig[10] = sig[10] == '0' ? '1' : '0';
		}
		/* nor with another body */
		if (size > 0) {
			copy[size - 1] ^= 1;
			if (verify(copy, size, "service", &c) == API_SIGV4_OK)
				abort();
		}
	}
	free(copy);
	return 0;
}
