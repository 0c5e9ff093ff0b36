/* The relay's per-message CPU path without sockets or the loop, for a
 * stable instruction count under callgrind: DATA decoding (dot-unstuffing,
 * line checks), the X-SES- header filter, the SES request body (base64 +
 * form encoding + payload hash) and the SigV4 signature, for N messages.
 *
 *     hotpath [N [SIZE [v1|v2]]]
 *
 * bench/run runs it under `valgrind --tool=callgrind` with two values of
 * N and divides the difference in instructions by the difference in N,
 * so start-up costs cancel out. Without valgrind it prints the wall time
 * per message as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_creds.h"
#include "aws_request.h"
#include "buf.h"
#include "header_filter.h"
#include "ses_message.h"
#include "smtp_data.h"

static int to_body(void *arg, const char *p, size_t n)
{
	return ses_body_write(arg, p, n);
}

/* The message as it arrives on the wire: dot-stuffed, ends with ".". */
static void make_wire(struct buf *w, size_t size)
{
	buf_puts(w, "From: <load@bench.example>\r\nTo: <sink@bench.example>\r\n"
		"Subject: sesrelay benchmark\r\nMessage-ID: <load@bench.example>\r\n"
		"Date: Thu, 26 Nov 2026 00:00:00 +0000\r\n\r\n");
	while (w->len + 80 < size) {
		char line[80];

		for (int i = 0; i < 76; i++)
			line[i] = (char)('a' + (i + (int)w->len) % 26);
		/* Some lines start with a dot, so unstuffing is exercised. */
		if (w->len % 7 == 0)
			line[0] = line[1] = '.';
		memcpy(line + 76, "\r\n", 2);
		buf_append(w, line, 78);
	}
	buf_puts(w, ".\r\n");
}

static int one_message(const struct buf *wire, struct aws_creds *creds, struct sigv4_key *key,
	enum ses_api api, time_t now)
{
	static const char *const rcpt[] = { "sink@bench.example" };
	struct smtp_data_limits lim = { .max_size = 64u << 20, .max_line = 998 };
	struct ses_params p = {
		.api = api, .source = "load@bench.example", .destinations = rcpt,
		.ndestinations = 1,
	};
	struct smtp_data dec;
	struct header_filter f;
	struct ses_body body;
	struct buf out = BUF_INIT;
	struct aws_signed_headers h;
	int r;

	if (ses_body_begin(&body, &p, 0))
		return -1;
	header_filter_init(&f, false, to_body, &body);
	smtp_data_init(&dec, &lim, SMTP_DATA_DOT);
	r = header_filter_feed(&f, "Received: from load.bench.example (127.0.0.1)\r\n"
		"\tby relay.bench with ESMTP id 0123456789abcdef\r\n"
		"\tfor <sink@bench.example>; Thu, 26 Nov 2026 00:00:00 +0000\r\n", 150);
	/* Socket-sized reads, as the session sees them. */
	for (size_t off = 0; r == 0 && !dec.done && off < wire->len;) {
		size_t chunk = wire->len - off < 65536 ? wire->len - off : 65536;
		size_t used = smtp_data_feed(&dec, wire->data + off, chunk, &out);

		off += used;
		r = header_filter_feed(&f, out.data, out.len);
		buf_reset(&out);
	}
	if (r == 0)
		r = header_filter_finish(&f);
	if (r == 0)
		r = ses_body_finish(&body);
	if (r == 0) {
		struct aws_post post = {
			.host = "email.us-east-1.amazonaws.com",
			.path = ses_request_path(api),
			.region = "us-east-1",
			.service = "ses",
			.content_type = ses_content_type(api),
			.payload_hash = body.payload_hash,
		};
		r = aws_sign_post(&post, creds, now, key, &h);
		if (r == 0)
			aws_signed_headers_free(&h);
	}
	buf_free(&out);
	ses_body_free(&body);
	return r || !dec.done || dec.err != SMTP_DATA_OK ? -1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	size_t size = argc > 2 ? strtoul(argv[2], NULL, 10) : 2048;
	enum ses_api api = argc > 3 && strcmp(argv[3], "v2") == 0 ? SES_API_V2 : SES_API_V1;
	struct buf wire = BUF_INIT;
	struct sigv4_key key;
	struct aws_creds *creds = aws_creds_new("ASIABENCHBENCHBENCH1",
		"benchsecretbenchsecretbenchsecretbench12", "FQoGZXIvYXdzEBYaDbench-token",
		0, "bench");
	struct timespec a, b;
	time_t now = 1795651200;	/* fixed: the same date (and key) every run */

	memset(&key, 0, sizeof(key));
	if (creds == NULL)
		return 2;
	make_wire(&wire, size);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned long i = 0; i < n; i++)
		if (one_message(&wire, creds, &key, api, now)) {
			fprintf(stderr, "hotpath: message %lu failed\n", i);
			return 1;
		}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec));
	printf("messages=%lu size=%zu api=%s ns_per_msg=%.0f\n", n, wire.len - 3,
		api == SES_API_V2 ? "v2" : "v1", n ? ns / (double)n : 0.0);
	sigv4_key_clear(&key);
	aws_creds_unref(creds);
	buf_free(&wire);
	return 0;
}
