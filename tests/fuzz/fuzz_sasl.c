/* SASL responses come straight from unauthenticated clients: the base64
 * decoder and the PLAIN splitter must never crash, and whatever they accept
 * must satisfy their contracts (canonical base64, RFC 4616 shape). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf out = BUF_INIT, z = BUF_INIT, u = BUF_INIT, p = BUF_INIT;

	if (auth_b64_decode(in, size, &out) == 0 && size > 1) {
		/* Strict means canonical: re-encoding gives the input back. */
		unsigned char *enc = malloc(size + 1);
		int n = EVP_EncodeBlock(enc, (const unsigned char *)out.data, (int)out.len);
		if (n < 0 || (size_t)n != size || memcmp(enc, in, size) != 0)
			abort();
		free(enc);
	}
	if (auth_sasl_plain_decode(in, size, &z, &u, &p) == 0) {
		struct buf joined = BUF_INIT;
		if (u.len == 0 || u.len > AUTH_MAX_USER_LEN || p.len == 0 ||
		    p.len > AUTH_MAX_PASS_LEN)
			abort();
		if (memchr(u.data, 0, u.len) || memchr(p.data, 0, p.len))
			abort();
		if (z.len && (z.len != u.len || memcmp(z.data, u.data, u.len) != 0))
			abort();
		/* Nothing lost or invented: the fields rebuild the message. */
		buf_append(&joined, z.data ? z.data : "", z.len);
		buf_append(&joined, "", 1);
		buf_append(&joined, u.data, u.len);
		buf_append(&joined, "", 1);
		buf_append(&joined, p.data, p.len);
		if (joined.len != out.len || memcmp(joined.data, out.data, out.len) != 0)
			abort();
		buf_free_secret(&joined);
	} else if (z.len || u.len || p.len) {
		abort();
	}
	buf_free(&out);
	buf_free(&z);
	buf_free(&u);
	buf_free_secret(&p);
	return 0;
}
