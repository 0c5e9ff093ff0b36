/* The admin endpoint's request head parser: what it accepts, what it
 * refuses with which status, and that a bad byte is refused as soon as
 * it arrives rather than when the head ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_http.h"
#include "check.h"

static int parse(const char *s, struct admin_request *req)
{
	return admin_http_parse_request(s, strlen(s), req);
}

static void accepted(void)
{
	struct admin_request req;
	const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";

	CHECK_INT(parse(get, &req), (int)strlen(get));
	CHECK_INT(req.method, ADMIN_GET);
	CHECK_STR(req.path, "/metrics");
	CHECK_INT(parse("HEAD /readyz?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n", &req), 44);
	CHECK_INT(req.method, ADMIN_HEAD);
	CHECK_STR(req.path, "/readyz");
	/* HTTP/1.0 needs no Host */
	CHECK(parse("GET /healthz HTTP/1.0\r\n\r\n", &req) > 0);
	CHECK(parse("DELETE /metrics HTTP/1.1\r\nhOsT: x\r\n\r\n", &req) > 0);
	CHECK_INT(req.method, ADMIN_OTHER);
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &req) > 0);
	CHECK(parse("GET / HTTP/1.1\r\nHost:x\r\nX-Empty:\r\nX-Tab:\tv \t\r\n\r\n", &req) > 0);
	/* bytes after the head (pipelining) are not part of it */
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n", &req), 27);
}

static void incomplete(void)
{
	struct admin_request req;
	const char *full = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

	for (size_t n = 0; n < strlen(full); n++)
		CHECK_INT(admin_http_parse_request(full, n, &req), 0);
}

static void refused(void)
{
	struct admin_request req;
	static const struct { const char *in; int status; } cases[] = {
		{ "GET /metrics\r\n\r\n", -400 },			/* HTTP/0.9 */
		{ "GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", -400 },	/* two spaces */
		{ "GET /metrics HTTP/1.1 \r\nHost: x\r\n\r\n", -400 },
		{ "GET http://x/metrics HTTP/1.1\r\nHost: x\r\n\r\n", -400 },
		{ "GET * HTTP/1.1\r\nHost: x\r\n\r\n", -400 },
		{ "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", -400 },
		{ "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", -505 },
		{ "GET /metrics HTTX/1.1\r\nHost: x\r\n\r\n", -400 },
		{ "GET /metrics HTTP/1.1\r\n\r\n", -400 },		/* no Host */
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\nHost: x\n\n", -400 },		/* bare LF */
		{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", -413 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", -413 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", -413 },
		{ "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", -400 },
		/* refused early, before the head is complete */
		{ "\x16\x03\x01\x02\x00\x01", -400 },		/* a TLS ClientHello */
		{ "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\tfold", -400 },
		{ "GE\rT", -400 },
		{ "G\nET", -400 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse(cases[i].in, &req);
		if (r != cases[i].status)
			fprintf(stderr, "case %zu: %s\n", i, cases[i].in);
		CHECK_INT(r, cases[i].status);
	}
	/* NUL inside the head */
	CHECK_INT(admin_http_parse_request("GET /\0 HTTP/1.1\r\n\r\n", 20, &req), -400);
}

static void bounds(void)
{
	struct admin_request req;
	static char b[ADMIN_HTTP_MAX_HEAD + 64];
	size_t n;

	/* target at the limit, then one over */
	n = (size_t)sprintf(b, "GET /");
	memset(b + n, 'a', ADMIN_HTTP_MAX_TARGET - 1);
	n += ADMIN_HTTP_MAX_TARGET - 1;
	n += (size_t)sprintf(b + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK_INT(admin_http_parse_request(b, n, &req), (int)n);
	CHECK_INT(strlen(req.path), ADMIN_HTTP_MAX_TARGET);
	n = (size_t)sprintf(b, "GET /");
	memset(b + n, 'a', ADMIN_HTTP_MAX_TARGET);
	n += ADMIN_HTTP_MAX_TARGET;
	n += (size_t)sprintf(b + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK_INT(admin_http_parse_request(b, n, &req), -414);

	/* a head that fills the buffer without ending */
	n = (size_t)sprintf(b, "GET / HTTP/1.1\r\nHost: x\r\nX: ");
	memset(b + n, 'v', ADMIN_HTTP_MAX_HEAD - n);
	CHECK_INT(admin_http_parse_request(b, ADMIN_HTTP_MAX_HEAD - 1, &req), 0);
	CHECK_INT(admin_http_parse_request(b, ADMIN_HTTP_MAX_HEAD, &req), -431);
	/* a request line that never ends */
	memset(b, 'A', ADMIN_HTTP_MAX_HEAD);
	memcpy(b, "GET /", 5);
	CHECK_INT(admin_http_parse_request(b, ADMIN_HTTP_MAX_HEAD, &req), -414);

	/* field count */
	n = (size_t)sprintf(b, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 1; i < ADMIN_HTTP_MAX_FIELDS; i++)
		n += (size_t)sprintf(b + n, "X-%d: y\r\n", i);
	n += (size_t)sprintf(b + n, "\r\n");
	CHECK_INT(admin_http_parse_request(b, n, &req), (int)n);
	n = (size_t)sprintf(b, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < ADMIN_HTTP_MAX_FIELDS; i++)
		n += (size_t)sprintf(b + n, "X-%d: y\r\n", i);
	n += (size_t)sprintf(b + n, "\r\n");
	CHECK_INT(admin_http_parse_request(b, n, &req), -431);
}

/* proto/admin_http: heads as real scrapers and probes send them. */
static void recorded(void)
{
	static const struct { const char *file; int verdict; enum admin_method m; const char *path; }
	cases[] = {
		{ "prometheus_scrape.http", 1, ADMIN_GET, "/metrics" },
		{ "kube_probe_head.http", 1, ADMIN_HEAD, "/readyz" },
		{ "healthz_http10.http", 1, ADMIN_GET, "/healthz" },
		{ "post_with_body.http", -413, ADMIN_OTHER, NULL },
		{ "chunked_body.http", -413, ADMIN_OTHER, NULL },
		{ "obs_fold.http", -400, ADMIN_GET, NULL },
	};
	static char b[ADMIN_HTTP_MAX_HEAD];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[512];
		struct admin_request req;
		FILE *f;
		size_t n;
		int r;

		snprintf(path, sizeof(path), "%s/proto/admin_http/%s", PROJECT_ROOT, cases[i].file);
		f = fopen(path, "rb");
		CHECK(f != NULL);
		if (f == NULL)
			continue;
		n = fread(b, 1, sizeof(b), f);
		fclose(f);
		r = admin_http_parse_request(b, n, &req);
		if (cases[i].verdict > 0) {
			CHECK(r > 0 && (size_t)r <= n);
			CHECK_INT(req.method, cases[i].m);
			CHECK_STR(req.path, cases[i].path);
		} else {
			CHECK_INT(r, cases[i].verdict);
		}
	}
}

int main(void)
{
	recorded();
	accepted();
	incomplete();
	refused();
	bounds();
	return check_report();
}
