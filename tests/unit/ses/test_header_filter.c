#include <errno.h>
#include <string.h>

#include "buf.h"
#include "header_filter.h"
#include "check.h"

static int sink(void *arg, const char *p, size_t n)
{
	return buf_append(arg, p, n);
}

/* Run the filter over `in` split into pieces of `step` bytes. */
static int run(const char *in, size_t step, bool reject, struct buf *out, unsigned *removed)
{
	struct header_filter f;
	size_t len = strlen(in);
	int r = 0;

	buf_reset(out);
	header_filter_init(&f, reject, sink, out);
	for (size_t off = 0; off < len && r == 0; off += step)
		r = header_filter_feed(&f, in + off, len - off < step ? len - off : step);
	if (r == 0)
		r = header_filter_finish(&f);
	if (removed)
		*removed = f.removed;
	return r;
}

int main(void)
{
	static const char in[] =
		"Received: from x\r\n"
		"X-SES-CONFIGURATION-SET: evil\r\n"
		"Subject: hi\r\n"
		"x-ses-source-arn: arn:aws:ses:us-east-1:999999999999:identity/x\r\n"
		"\tfolded continuation\r\n"
		"X-SESSION: keep me\r\n"
		"X-SE: short\r\n"
		"To: a@example.com\r\n"
		"\r\n"
		"X-SES-CONFIGURATION-SET: body text stays\r\n"
		".\r\n";
	static const char want[] =
		"Received: from x\r\n"
		"Subject: hi\r\n"
		"X-SESSION: keep me\r\n"
		"X-SE: short\r\n"
		"To: a@example.com\r\n"
		"\r\n"
		"X-SES-CONFIGURATION-SET: body text stays\r\n"
		".\r\n";
	struct buf out = BUF_INIT;
	unsigned removed;

	/* Every chunk size gives the same result. */
	for (size_t step = 1; step <= sizeof(in); step++) {
		CHECK_INT(run(in, step, false, &out, &removed), 0);
		CHECK_MEM(out.data, out.len, want, strlen(want));
		CHECK_INT(removed, 2);
	}
	CHECK_INT(run(in, 7, true, &out, NULL), -EPERM);
	CHECK(strstr(out.data ? out.data : "", "evil") == NULL);

	/* Nothing to remove: byte-exact, including a message with no body. */
	CHECK_INT(run("Subject: x\r\n\r\nbody\r\n", 3, true, &out, &removed), 0);
	CHECK_STR(out.data, "Subject: x\r\n\r\nbody\r\n");
	CHECK_INT(run("Sub", 1, false, &out, NULL), 0);
	CHECK_STR(out.data, "Sub");
	CHECK_INT(run("", 1, false, &out, NULL), 0);
	CHECK_INT(out.len, 0);
	/* Bare LF line endings are handled the same way. */
	CHECK_INT(run("X-SES-TAGS: a\nA: b\n\nX-SES-TAGS: c\n", 2, false, &out, NULL), 0);
	CHECK_STR(out.data, "A: b\n\nX-SES-TAGS: c\n");
	buf_free(&out);
	return check_report();
}
