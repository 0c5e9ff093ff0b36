#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"
#include "check.h"

#define BIG (1u << 20)

struct result {
	struct buf out;
	size_t consumed;
	bool done;
	enum smtp_data_error err;
};

/* Feed `in` split at the positions in cuts[] (ascending, may be empty). */
static void run(const char *in, size_t n, const struct smtp_data_limits *lim,
	enum smtp_data_mode mode, const size_t *cuts, size_t ncuts, struct result *r)
{
	struct smtp_data d;
	size_t pos = 0;

	smtp_data_init(&d, lim, mode);
	buf_init(&r->out);
	r->consumed = 0;
	for (size_t k = 0; k <= ncuts && !d.done; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		while (pos < end && !d.done) {
			size_t c = smtp_data_feed(&d, in + pos, end - pos, &r->out);
			pos += c;
			r->consumed += c;
			if (c == 0)
				break;
		}
	}
	if (mode != SMTP_DATA_DOT)
		smtp_data_finish(&d, &r->out);
	r->done = d.done;
	r->err = d.err;
}

static const struct smtp_data_limits deflim = { BIG, 998, false };
static const struct smtp_data_limits normlim = { BIG, 998, true };

/* Whole input in one piece, then split at every single position and at
 * every pair of positions: the outcome must not depend on chunking. */
static void expect(const char *in, size_t n, struct smtp_data_limits lims,
	bool done, size_t consumed, const char *out, size_t outlen, enum smtp_data_error err)
{
	const struct smtp_data_limits *lim = &lims;
	struct result r;

	run(in, n, lim, SMTP_DATA_DOT, NULL, 0, &r);
	CHECK_INT(r.done, done);
	CHECK_INT(r.consumed, consumed);
	CHECK_INT(r.err, err);
	if (err == SMTP_DATA_OK)
		CHECK_MEM(r.out.data ? r.out.data : "", r.out.len, out, outlen);
	buf_free(&r.out);
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			size_t cuts[2] = { i, j };
			run(in, n, lim, SMTP_DATA_DOT, cuts, 2, &r);
			if (r.done != done || r.consumed != consumed || r.err != err ||
			    (err == SMTP_DATA_OK && (r.out.len != outlen ||
			     (outlen && memcmp(r.out.data, out, outlen) != 0)))) {
				CHECK(!"split changed the outcome");
				fprintf(stderr, "  input split at %zu,%zu\n", i, j);
				buf_free(&r.out);
				return;
			}
			buf_free(&r.out);
		}
	}
}

#define S(x) x, sizeof(x) - 1

static void test_dot(void)
{
	expect(S(".\r\n"), deflim, true, 3, S(""), SMTP_DATA_OK);
	expect(S("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"), deflim, true, 23,
		S("Subject: x\r\n\r\nbody\r\n"), SMTP_DATA_OK);
	/* dot-unstuffing */
	expect(S("..\r\n...x\r\n.y\r\n.\r\n"), deflim, true, 17, S(".\r\n..x\r\ny\r\n"), SMTP_DATA_OK);
	/* a dot inside a line is data */
	expect(S("a.\r\nb.c\r\n.\r\n"), deflim, true, 12, S("a.\r\nb.c\r\n"), SMTP_DATA_OK);
	/* never ends without the marker */
	expect(S("abc\r\n"), deflim, false, 5, S("abc\r\n"), SMTP_DATA_OK);
	expect(S("abc\r\n.\r"), deflim, false, 7, S("abc\r\n"), SMTP_DATA_OK);
	/* 8-bit data passes; a NUL byte fails the message (no BINARYMIME),
	 * read to its end all the same */
	expect(S("ab\xff\r\n.\r\n"), deflim, true, 8, S("ab\xff\r\n"), SMTP_DATA_OK);
	expect(S("a\0b\xff\r\n.\r\n"), deflim, true, 9, S(""), SMTP_DATA_NUL);
	expect(S("\0\r\n.\r\n"), deflim, true, 6, S(""), SMTP_DATA_NUL);
	/* the first error wins, wherever the input is split */
	{
		struct smtp_data_limits l = { BIG, 3, false };
		expect(S("abcd\0\r\n.\r\n"), l, true, 10, S(""), SMTP_DATA_LINE_TOO_LONG);
		expect(S("ab\0cd\r\n.\r\n"), l, true, 10, S(""), SMTP_DATA_NUL);
	}
}

static void test_smuggling(void)
{
	/* None of these end the data. In reject mode the transaction fails
	 * (bare LF/CR) and the decoder keeps looking for the real end. */
	static const char *const fake[] = {
		"a\n.\nMAIL FROM:<x@evil>\r\n",
		"a\n.\r\nMAIL FROM:<x@evil>\r\n",
		"a\r\n.\nMAIL FROM:<x@evil>\r\n",
		"a\r.\rMAIL FROM:<x@evil>\r\n",
		"a\r.\r\nMAIL FROM:<x@evil>\r\n",
		"a\r\n.\rMAIL FROM:<x@evil>\r\n",
		"a\n.\n",
		"a\r\n.\n\r\n",
	};
	for (size_t i = 0; i < sizeof(fake) / sizeof(fake[0]); i++) {
		char in[128];
		size_t n = strlen(fake[i]);
		struct result r;

		memcpy(in, fake[i], n);
		run(in, n, &deflim, SMTP_DATA_DOT, NULL, 0, &r);
		CHECK(!r.done);
		CHECK_INT(r.consumed, n);
		CHECK_INT(r.err, SMTP_DATA_BARE_LF);
		buf_free(&r.out);
		run(in, n, &normlim, SMTP_DATA_DOT, NULL, 0, &r);
		CHECK(!r.done);
		CHECK_INT(r.err, SMTP_DATA_OK);
		buf_free(&r.out);
		/* the real end is still found afterwards */
		memcpy(in + n, "\r\n.\r\n", 5);
		expect(in, n + 5, deflim, true, n + 5, "", 0, SMTP_DATA_BARE_LF);
	}
	/* normalize mode: bare line ends become CRLF, a dot after them is data */
	expect(S("a\nb\rc\r\n.\r\n"), normlim, true, 10, S("a\r\nb\r\nc\r\n"), SMTP_DATA_OK);
	expect(S("a\n.\nb\r\n.\r\n"), normlim, true, 10, S("a\r\n.\r\nb\r\n"), SMTP_DATA_OK);
	expect(S("a\r\n.\nb\r\n.\r\n"), normlim, true, 11, S("a\r\n.\r\nb\r\n"), SMTP_DATA_OK);
	expect(S("a\r\r\n.\r\n"), normlim, true, 7, S("a\r\n\r\n"), SMTP_DATA_OK);
	expect(S("x\r\n.\rb\r\n.\r\n"), normlim, true, 11, S("x\r\n.\r\nb\r\n"), SMTP_DATA_OK);
	/* bare LF right at the start */
	expect(S("\n.\r\n.\r\n"), deflim, true, 7, S(""), SMTP_DATA_BARE_LF);
}

static void test_limits(void)
{
	struct smtp_data_limits lim = { 10, 998, false };
	char line[1100];

	/* 10 octets fit exactly, 11 do not; the end is still found */
	expect(S("12345678\r\n.\r\n"), lim, true, 13, S("12345678\r\n"), SMTP_DATA_OK);
	expect(S("123456789\r\n.\r\n"), lim, true, 14, S(""), SMTP_DATA_TOO_BIG);
	{
		/* big message: output stops at the limit */
		struct result r;
		char *big = malloc(100000);
		memset(big, 'x', 100000);
		for (size_t i = 80; i < 100000; i += 80) {
			big[i - 2] = '\r';
			big[i - 1] = '\n';
		}
		memcpy(big + 100000 - 5, "\r\n.\r\n", 5);
		run(big, 100000, &lim, SMTP_DATA_DOT, NULL, 0, &r);
		CHECK(r.done);
		CHECK_INT(r.err, SMTP_DATA_TOO_BIG);
		CHECK(r.out.len <= 10);
		buf_free(&r.out);
		free(big);
	}
	/* line length: 998 ok, 999 not; a stuffed dot counts as on the wire */
	lim.max_size = BIG;
	memset(line, 'a', sizeof(line));
	memcpy(line + 998, "\r\n.\r\n", 5);
	{
		struct result r;
		run(line, 1003, &lim, SMTP_DATA_DOT, NULL, 0, &r);
		CHECK(r.done);
		CHECK_INT(r.err, SMTP_DATA_OK);
		CHECK_INT(r.out.len, 1000);
		buf_free(&r.out);
		memset(line, 'a', sizeof(line));
		memcpy(line + 999, "\r\n.\r\n", 5);
		run(line, 1004, &lim, SMTP_DATA_DOT, NULL, 0, &r);
		CHECK(r.done);
		CHECK_INT(r.err, SMTP_DATA_LINE_TOO_LONG);
		buf_free(&r.out);
		line[0] = '.';
		memcpy(line + 998, "\r\n.\r\n", 5);
		run(line, 1003, &lim, SMTP_DATA_DOT, NULL, 0, &r);
		CHECK_INT(r.err, SMTP_DATA_OK);
		CHECK_INT(r.out.len, 999);
		buf_free(&r.out);
		/* allow_long_lines: max_line 0 */
		lim.max_line = 0;
		memset(line, 'a', sizeof(line));
		memcpy(line + 1050, "\r\n.\r\n", 5);
		run(line, 1055, &lim, SMTP_DATA_DOT, NULL, 0, &r);
		CHECK_INT(r.err, SMTP_DATA_OK);
		CHECK_INT(r.out.len, 1052);
		buf_free(&r.out);
	}
	/* first error wins */
	{
		struct smtp_data_limits l2 = { 5, 998, false };
		expect(S("a\nbcdefgh\r\n.\r\n"), l2, true, 14, S(""), SMTP_DATA_BARE_LF);
		expect(S("abcdefgh\n\r\n.\r\n"), l2, true, 14, S(""), SMTP_DATA_TOO_BIG);
	}
	/* which limit a long run of text hits first does not depend on reads */
	{
		char in[200];
		struct smtp_data_limits l3 = { 64, 78, false }, l4 = { 90, 78, false };
		memset(in, 'I', 100);
		memcpy(in + 100, "\r\n.\r\n", 5);
		expect(in, 105, l3, true, 105, "", 0, SMTP_DATA_TOO_BIG);
		expect(in, 105, l4, true, 105, "", 0, SMTP_DATA_LINE_TOO_LONG);
	}
	CHECK_INT(smtp_data_error_reply(SMTP_DATA_TOO_BIG)->code, 552);
	CHECK_STR(smtp_data_error_reply(SMTP_DATA_TOO_BIG)->enhanced, "5.3.4");
	CHECK_INT(smtp_data_error_reply(SMTP_DATA_LINE_TOO_LONG)->code, 500);
	CHECK_INT(smtp_data_error_reply(SMTP_DATA_BARE_LF)->code, 550);
	CHECK_STR(smtp_data_error_reply(SMTP_DATA_BARE_LF)->enhanced, "5.6.2");
	CHECK(smtp_data_error_reply(SMTP_DATA_OK) == NULL);
}

static void test_bdat(void)
{
	struct result r;
	static const char in[] = "a\r\n.\r\n..b\r\nc";
	struct smtp_data d;
	struct buf out = BUF_INIT;

	/* no dot rules, no end marker: every byte is consumed and kept */
	run(in, sizeof(in) - 1, &deflim, SMTP_DATA_BDAT, NULL, 0, &r);
	CHECK(!r.done);
	CHECK_INT(r.consumed, sizeof(in) - 1);
	CHECK_MEM(r.out.data, r.out.len, in, sizeof(in) - 1);
	buf_free(&r.out);
	/* CRLF split across chunks is not a bare CR */
	smtp_data_init(&d, &deflim, SMTP_DATA_BDAT);
	CHECK_INT(smtp_data_feed(&d, "x\r", 2, &out), 2);
	CHECK_INT(smtp_data_feed(&d, "\ny", 2, &out), 2);
	smtp_data_finish(&d, &out);
	CHECK_INT(d.err, SMTP_DATA_OK);
	CHECK_MEM(out.data, out.len, "x\r\ny", 4);
	buf_reset(&out);
	/* CR at the very end of the last chunk is bare */
	smtp_data_init(&d, &deflim, SMTP_DATA_BDAT);
	smtp_data_feed(&d, "x\r", 2, &out);
	smtp_data_finish(&d, &out);
	CHECK_INT(d.err, SMTP_DATA_BARE_LF);
	buf_reset(&out);
	/* bare LF in BDAT text follows the same rule */
	run(S("a\nb"), &deflim, SMTP_DATA_BDAT, NULL, 0, &r);
	CHECK_INT(r.err, SMTP_DATA_BARE_LF);
	buf_free(&r.out);
	run(S("a\nb"), &normlim, SMTP_DATA_BDAT, NULL, 0, &r);
	CHECK_MEM(r.out.data, r.out.len, "a\r\nb", 4);
	buf_free(&r.out);
	/* and so does NUL */
	run(S("a\0b\r\n"), &deflim, SMTP_DATA_BDAT, NULL, 0, &r);
	CHECK_INT(r.err, SMTP_DATA_NUL);
	buf_free(&r.out);
	/* BINARYMIME: untouched, only the size counts */
	run(S("a\nb\r\0\r"), &deflim, SMTP_DATA_BINARY, NULL, 0, &r);
	CHECK_INT(r.err, SMTP_DATA_OK);
	CHECK_MEM(r.out.data, r.out.len, "a\nb\r\0\r", 6);
	buf_free(&r.out);
	{
		struct smtp_data_limits l = { 4, 998, false };
		run(S("abcde"), &l, SMTP_DATA_BINARY, NULL, 0, &r);
		CHECK_INT(r.err, SMTP_DATA_TOO_BIG);
		buf_free(&r.out);
	}
	buf_free(&out);
}

int main(void)
{
	test_dot();
	test_smuggling();
	test_limits();
	test_bdat();
	return check_report();
}
