/* Query API form encoding: byte-for-byte what Python's urlencode makes
 * (expected strings below were produced by Python 3.11's
 * urllib.parse.urlencode when this test was written), and the streaming
 * base64 encoder giving the same bytes however the input is chunked. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "aws_query.h"
#include "check.h"

static void test_python_urlencode(void)
{
	static const char tricky[] = "a b+c/d=e&f~g_h.i-j*k'l(m)n!o%p\"q\0r\xff\x80 \xc3\xbc"
		"\xe2\x82\xac\r\n\t;:,?#[]@$";
	/* urlencode([("Action", "SendRawEmail"),
	 *            ("Destinations.member.1", "a+b@example.com"),
	 *            ("Tricky key", tricky), ("Empty", "")]) */
	static const char want[] = "Action=SendRawEmail&Destinations.member.1=a%2Bb%40example.com"
		"&Tricky+key=a+b%2Bc%2Fd%3De%26f~g_h.i-j%2Ak%27l%28m%29n%21o%25p%22q%00r%FF%80+"
		"%C3%BC%E2%82%AC%0D%0A%09%3B%3A%2C%3F%23%5B%5D%40%24&Empty=";
	struct buf b = BUF_INIT;

	CHECK_INT(aws_query_add(&b, "Action", "SendRawEmail"), 0);
	CHECK_INT(aws_query_add(&b, "Destinations.member.1", "a+b@example.com"), 0);
	CHECK_INT(aws_query_add_n(&b, "Tricky key", tricky, sizeof(tricky) - 1), 0);
	CHECK_INT(aws_query_add(&b, "Empty", ""), 0);
	CHECK_STR(b.data, want);
	CHECK_INT(aws_query_escaped_len(tricky, sizeof(tricky) - 1),
		strlen("a+b%2Bc%2Fd%3De%26f~g_h.i-j%2Ak%27l%28m%29n%21o%25p%22q%00r%FF%80+"
			"%C3%BC%E2%82%AC%0D%0A%09%3B%3A%2C%3F%23%5B%5D%40%24"));

	/* Bad input leaves the body as it was. */
	CHECK_INT(aws_query_add(&b, "", "x"), -EINVAL);
	CHECK_INT(aws_query_add(&b, "k", NULL), -EINVAL);
	CHECK_STR(b.data, want);
	buf_free(&b);
}

static void test_b64_known(void)
{
	/* urlencode([("RawMessage.Data", b64encode(b"\xfb\xff\xbf?>"))]) */
	static const struct { const char *raw, *plain, *form; } v[] = {
		{ "", "", "" },
		{ "M", "TQ==", "TQ%3D%3D" },
		{ "Ma", "TWE=", "TWE%3D" },
		{ "Man", "TWFu", "TWFu" },
		{ "\xfb\xff\xbf?>", "+/+/Pz4=", "%2B%2F%2B%2FPz4%3D" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		for (int mode = AWS_B64_PLAIN; mode <= AWS_B64_FORM; mode++) {
			struct buf out = BUF_INIT;
			struct aws_b64_stream s;
			const char *want = mode == AWS_B64_PLAIN ? v[i].plain : v[i].form;
			size_t n = strlen(v[i].raw);

			aws_b64_stream_init(&s, (enum aws_b64_mode)mode, &out, NULL);
			for (size_t k = 0; k < n; k++)
				CHECK_INT(aws_b64_stream_update(&s, v[i].raw + k, 1), 0);
			CHECK_INT(aws_b64_stream_final(&s), 0);
			CHECK_MEM(out.data ? out.data : "", out.len, want, strlen(want));
			CHECK_INT(s.out_len, strlen(want));
			CHECK_INT(s.raw_len, n);
			if (mode == AWS_B64_FORM)
				CHECK_INT(aws_query_b64_len(v[i].raw, n), strlen(want));
			else
				CHECK_INT(aws_b64_len(n), strlen(want));
			/* Spent stream refuses more input. */
			CHECK(aws_b64_stream_update(&s, "x", 1) < 0);
			CHECK(aws_b64_stream_final(&s) < 0);
			buf_free(&out);
		}
	}
}

static uint32_t rng = 88172645u;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* Reference: one EVP_EncodeBlock over everything, then form escaping. */
static void one_shot(const unsigned char *raw, size_t n, enum aws_b64_mode mode, struct buf *out)
{
	unsigned char *b64 = malloc(aws_b64_len(n) + 1);
	int m = EVP_EncodeBlock(b64, raw, (int)n);

	buf_reset(out);
	if (mode == AWS_B64_PLAIN)
		CHECK_INT(buf_append(out, b64, (size_t)m), 0);
	else
		CHECK_INT(aws_query_escape(out, b64, (size_t)m), 0);
	free(b64);
}

/* Feed raw in chunks of the sizes given (cycled; 0 = random 0..9000). */
static void stream(const unsigned char *raw, size_t n, enum aws_b64_mode mode,
	const size_t *sizes, size_t nsizes, struct buf *out, char hex[65])
{
	struct aws_b64_stream s;
	struct sigv4_hash h;
	size_t off = 0, k = 0;

	buf_reset(out);
	CHECK_INT(sigv4_hash_init(&h), 0);
	aws_b64_stream_init(&s, mode, out, &h);
	while (off < n) {
		size_t c = sizes[k++ % nsizes];

		if (c == 0)
			c = next_rand() % 9001;
		if (c > n - off)
			c = n - off;
		CHECK_INT(aws_b64_stream_update(&s, raw + off, c), 0);
		off += c;
	}
	CHECK_INT(aws_b64_stream_final(&s), 0);
	CHECK_INT(s.raw_len, n);
	CHECK_INT(s.out_len, out->len);
	CHECK_INT(sigv4_hash_final(&h, hex), 0);
}

static void test_chunking(void)
{
	static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 3071, 3072, 3073,
		3074, 6143, 6144, 6145, 100001, 1048576 + 2 };
	static const size_t chunkings[][4] = {
		{ 1, 1, 1, 1 }, { 2, 2, 2, 2 }, { 4, 4, 4, 4 }, { 5, 7, 11, 13 },
		{ 3071, 1, 3073, 2 }, { 3072, 3072, 3072, 3072 }, { 0, 0, 0, 0 },
		{ SIZE_MAX, 0, 0, 0 },
	};
	size_t maxlen = lens[sizeof(lens) / sizeof(lens[0]) - 1];
	unsigned char *raw = malloc(maxlen);
	struct buf ref = BUF_INIT, got = BUF_INIT;
	char hex[65], want_hex[65];
	size_t cases = 0;

	for (size_t i = 0; i < maxlen; i++)
		raw[i] = (unsigned char)next_rand();
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t n = lens[li];

		for (int mode = AWS_B64_PLAIN; mode <= AWS_B64_FORM; mode++) {
			one_shot(raw, n, (enum aws_b64_mode)mode, &ref);
			sigv4_sha256_hex(ref.data ? ref.data : "", ref.len, want_hex);
			CHECK_INT(mode == AWS_B64_FORM ? aws_query_b64_len(raw, n) : aws_b64_len(n),
				ref.len);
			CHECK(aws_query_b64_len_max(n) >= ref.len);
			for (size_t c = 0; c < sizeof(chunkings) / sizeof(chunkings[0]); c++) {
				/* Byte-at-a-time over a megabyte adds nothing but time. */
				if (n > 200000 && chunkings[c][0] < 3)
					continue;
				stream(raw, n, (enum aws_b64_mode)mode, chunkings[c], 4, &got, hex);
				CHECK_MEM(got.data ? got.data : "", got.len,
					ref.data ? ref.data : "", ref.len);
				CHECK_STR(hex, want_hex);
				cases++;
			}
		}
	}
	CHECK(cases > 300);
	free(raw);
	buf_free(&ref);
	buf_free(&got);
}

/* The encoder appends: a body prefix stays, and the prefix is not hashed
 * by the stream (the caller hashes what it writes itself). */
static void test_append_after_prefix(void)
{
	struct buf body = BUF_INIT;
	struct aws_b64_stream s;
	struct sigv4_hash h;
	char hex[65], want[65];
	size_t prefix;

	CHECK_INT(aws_query_add(&body, "Action", "SendRawEmail"), 0);
	CHECK_INT(buf_puts(&body, "&RawMessage.Data="), 0);
	prefix = body.len;
	CHECK_INT(sigv4_hash_init(&h), 0);
	CHECK_INT(sigv4_hash_update(&h, body.data, body.len), 0);
	aws_b64_stream_init(&s, AWS_B64_FORM, &body, &h);
	CHECK_INT(aws_b64_stream_update(&s, "\xfb\xff", 2), 0);
	CHECK_INT(aws_b64_stream_update(&s, "\xbf?>", 3), 0);
	CHECK_INT(aws_b64_stream_final(&s), 0);
	CHECK_INT(sigv4_hash_final(&h, hex), 0);
	CHECK_STR(body.data, "Action=SendRawEmail&RawMessage.Data=%2B%2F%2B%2FPz4%3D");
	sigv4_sha256_hex(body.data, body.len, want);
	CHECK_STR(hex, want);
	CHECK_INT(s.out_len, body.len - prefix);
	buf_free(&body);
}

static void test_len_overflow(void)
{
	CHECK_INT(aws_b64_len(SIZE_MAX) == SIZE_MAX, 1);
	CHECK_INT(aws_query_b64_len_max(SIZE_MAX / 2) == SIZE_MAX, 1);
	/* SES's 10 MB: the base64 AWS counts. */
	CHECK_INT(aws_b64_len(10486060), 13981416);
}

/* What aws_query_add() encodes, aws_form_parse() decodes; the forms SDKs
 * send (spaces as '+' or %20, lowercase hex) too; malformed ones fail. */
static void test_form_parse(void)
{
	struct buf b = BUF_INIT;
	struct aws_form f;
	const struct aws_form_param *p;
	static const char bin[] = { 'a', 0, '&', '=', '%', '+', (char)0xff };

	aws_query_add(&b, "Action", "SendEmail");
	aws_query_add(&b, "Message.Subject.Data", "Hi & bye = 100% +1");
	aws_query_add_n(&b, "Raw", bin, sizeof(bin));
	CHECK_INT(aws_form_parse(b.data, b.len, 10, &f), 0);
	CHECK_INT(f.n, 3);
	p = aws_form_get(&f, "Message.Subject.Data");
	CHECK(p != NULL);
	if (p)
		CHECK_STR(p->value, "Hi & bye = 100% +1");
	p = aws_form_get(&f, "Raw");
	CHECK(p != NULL);
	if (p)
		CHECK_MEM(p->value, p->value_len, bin, sizeof(bin));
	CHECK(aws_form_get(&f, "Missing") == NULL);
	aws_form_free(&f);
	CHECK_INT(aws_form_parse("A=a%20b%2fc+d&&B=", 17, 10, &f), 0);
	CHECK_INT(f.n, 2);
	if (f.n == 2) {
		CHECK_STR(f.v[0].value, "a b/c d");
		CHECK_STR(f.v[1].value, "");
	}
	aws_form_free(&f);
	CHECK_INT(aws_form_parse("", 0, 10, &f), 0);
	CHECK_INT(f.n, 0);
	aws_form_free(&f);
	CHECK_INT(aws_form_parse("A=%4", 4, 10, &f), -EINVAL);
	CHECK_INT(aws_form_parse("A=%zz", 5, 10, &f), -EINVAL);
	CHECK_INT(aws_form_parse("A", 1, 10, &f), -EINVAL);
	CHECK_INT(aws_form_parse("=1", 2, 10, &f), -EINVAL);
	CHECK_INT(aws_form_parse("A=1&A=2", 7, 10, &f), -EINVAL);
	CHECK_INT(aws_form_parse("A%00=1", 6, 10, &f), -EINVAL);
	CHECK_INT(aws_form_parse("A=1&B=2&C=3", 11, 2, &f), -EINVAL);
	buf_free(&b);
}

int main(void)
{
	test_form_parse();
	test_python_urlencode();
	test_b64_known();
	test_chunking();
	test_append_after_prefix();
	test_len_overflow();
	return check_report();
}
