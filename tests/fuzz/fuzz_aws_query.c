/* Message bytes come from SMTP clients: whatever they are and however the
 * DATA stream is cut, the streaming encoder must give exactly the one-shot
 * base64 (form-escaped or not), the predicted lengths, and a payload hash
 * of precisely what it wrote. The first input byte picks the chunking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "aws_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step, off = 0;
	unsigned char *b64;
	int n;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	b64 = malloc(aws_b64_len(size) + 1);
	if (b64 == NULL)
		return 0;
	n = EVP_EncodeBlock(b64, data, (int)size);
	if (n < 0 || (size_t)n != aws_b64_len(size))
		abort();
	for (int mode = AWS_B64_PLAIN; mode <= AWS_B64_FORM; mode++) {
		struct buf ref = BUF_INIT, out = BUF_INIT;
		struct aws_b64_stream s;
		struct sigv4_hash h;
		char hex[65], want[65];

		if (mode == AWS_B64_FORM) {
			if (aws_query_escape(&ref, b64, (size_t)n) ||
			    ref.len != aws_query_b64_len(data, size) ||
			    ref.len > aws_query_b64_len_max(size))
				abort();
		} else if (buf_append(&ref, b64, (size_t)n)) {
			abort();
		}
		if (sigv4_hash_init(&h))
			abort();
		aws_b64_stream_init(&s, (enum aws_b64_mode)mode, &out, &h);
		for (off = 0; off < size; off += step)
			if (aws_b64_stream_update(&s, data + off, size - off < step ? size - off : step))
				abort();
		if (aws_b64_stream_final(&s) || out.len != ref.len || s.out_len != out.len ||
		    (out.len && memcmp(out.data, ref.data, out.len) != 0))
			abort();
		if (sigv4_hash_final(&h, hex))
			abort();
		sigv4_sha256_hex(out.data ? out.data : "", out.len, want);
		if (strcmp(hex, want) != 0)
			abort();
		buf_free(&ref);
		buf_free(&out);
	}
	/* Plain form encoding of arbitrary bytes: only the safe set remains. */
	{
		struct buf q = BUF_INIT;

		if (aws_query_add_n(&q, "k", data, size) ||
		    q.len != 2 + aws_query_escaped_len(data, size))
			abort();
		for (size_t i = 2; i < q.len; i++) {
			char c = q.data[i];

			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || strchr("_.-~+%", c)))
				abort();
		}
		buf_free(&q);
	}
	free(b64);
	return 0;
}
