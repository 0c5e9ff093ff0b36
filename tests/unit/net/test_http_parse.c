/* The one HTTP/1.1 request parser: bodies by Content-Length within the
 * caller's bound, keep-alive, fields, and the refusals that keep requests
 * from being smuggled (Transfer-Encoding, differing lengths, obs-fold). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http_parse.h"

static const struct http_limits api = {
	.max_head = 4096, .max_target = 256, .max_fields = 8, .max_body = 1000,
};
static const struct http_limits nobody = {
	.max_head = 4096, .max_target = 256, .max_fields = 8, .max_body = 0,
};

static int parse(const char *s, const struct http_limits *lim, struct http_request *r)
{
	return http_parse_request(s, strlen(s), lim, r);
}

static void test_request_with_body(void)
{
	struct http_request r;
	const char *s = "POST /v2/email/outbound-emails?x=1 HTTP/1.1\r\nHost: relay:8080\r\n"
		"Content-Type: application/json\r\nContent-Length:  12 \r\n\r\n{\"a\":\"b\"}...";
	const struct http_field *f;
	int n = parse(s, &api, &r);

	CHECK_INT(n, (int)(strstr(s, "\r\n\r\n") - s + 4));
	CHECK_STR(r.method, "POST");
	CHECK_INT(r.version, 11);
	CHECK_INT(r.target_len, strlen("/v2/email/outbound-emails?x=1"));
	CHECK_INT(r.path_len, strlen("/v2/email/outbound-emails"));
	CHECK_INT(r.content_length, 12);
	CHECK(r.keep_alive);
	CHECK(!r.expect_continue);
	CHECK_INT(r.nfields, 3);
	f = http_field_find(&r, "content-type");
	CHECK(f != NULL);
	if (f)
		CHECK_MEM(f->value, f->value_len, "application/json", 16);
	f = http_field_find(&r, "HOST");
	CHECK(f != NULL);
	if (f)
		CHECK_MEM(f->value, f->value_len, "relay:8080", 10);
	CHECK(http_field_find(&r, "x-amz-date") == NULL);
}

static void test_body_bounds(void)
{
	struct http_request r;

	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n", &api, &r) > 0, 1);
	CHECK_INT(r.content_length, 1000);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", &api, &r), -413);
	/* refused as soon as the field is complete, before the head ends */
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n", &api, &r), -413);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n", &api, &r), -413);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", &nobody, &r), -413);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &nobody, &r) > 0, 1);
	/* two lengths that differ, a signed or empty one */
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &api, &r), -400);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &api, &r) > 0, 1);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", &api, &r), -400);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", &api, &r), -400);
	/* no chunked bodies: no length ambiguity to smuggle a request in */
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &api, &r), -501);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &nobody, &r), -413);
}

static void test_keep_alive(void)
{
	struct http_request r;

	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &api, &r) > 0, 1);
	CHECK(!r.keep_alive);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, Close\r\n\r\n", &api, &r) > 0, 1);
	CHECK(!r.keep_alive);
	CHECK_INT(parse("GET / HTTP/1.0\r\n\r\n", &api, &r), 18);
	CHECK(!r.keep_alive);
	CHECK_INT(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &api, &r) > 0, 1);
	CHECK(r.keep_alive);
}

static void test_expect(void)
{
	struct http_request r;

	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", &api, &r) > 0, 1);
	CHECK(r.expect_continue);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", &api, &r), -417);
}

static void test_malformed(void)
{
	struct http_request r;

	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", &api, &r), -400);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &api, &r), -400);
	CHECK_INT(parse("GET / HTTP/1.1\nHost: a\n\n", &api, &r), -400);
	CHECK_INT(parse("GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", &api, &r), -400);
	CHECK_INT(parse("GET / HTTP/1.1\r\n\r\n", &api, &r), -400);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &api, &r), -400);
	CHECK_INT(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n", &api, &r), -505);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", &api, &r), -400);
	/* incomplete but valid so far: more bytes needed */
	CHECK_INT(parse("POST /v2/email/outbound-emails HTTP/1.1\r\nHost: a\r\nContent-Le", &api, &r), 0);
}

static void test_bounds(void)
{
	struct http_request r;
	char b[8192];
	size_t n;

	n = (size_t)snprintf(b, sizeof(b), "GET /%0256d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	CHECK_INT(http_parse_request(b, n, &api, &r), -414);
	n = (size_t)snprintf(b, sizeof(b), "GET /%0255d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	CHECK_INT(http_parse_request(b, n, &api, &r), (int)n);
	n = (size_t)snprintf(b, sizeof(b), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 7; i++)
		n += (size_t)snprintf(b + n, sizeof(b) - n, "X-%d: y\r\n", i);
	n += (size_t)snprintf(b + n, sizeof(b) - n, "\r\n");
	CHECK_INT(http_parse_request(b, n, &api, &r), (int)n);
	CHECK_INT(r.nfields, 8);
	memcpy(b + n - 2, "Z: 1\r\n\r\n", 8);
	CHECK_INT(http_parse_request(b, n + 6, &api, &r), -431);
	/* a head growing past max_head without its end */
	n = (size_t)snprintf(b, sizeof(b), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(b + n, 'v', sizeof(b) - n);
	CHECK_INT(http_parse_request(b, 4095, &api, &r), 0);
	CHECK_INT(http_parse_request(b, 4096, &api, &r), -431);
}

int main(void)
{
	test_request_with_body();
	test_body_bounds();
	test_keep_alive();
	test_expect();
	test_malformed();
	test_bounds();
	return check_report();
}
