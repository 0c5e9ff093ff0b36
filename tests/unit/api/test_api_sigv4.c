/* SigV4 verification of API callers: the AWS SigV4 test suite's signed
 * requests (proto/sigv4) verify as they are and fail once their secret,
 * clock, body or any signed byte differs; requests our own signer makes
 * for the routes verify; the refusals name AWS's error codes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_sigv4.h"
#include "buf.h"
#include "check.h"
#include "sigv4.h"

#define SUITE PROJECT_ROOT "/proto/sigv4"
#define VEC_KEY "AKIDEXAMPLE"
#define VEC_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define VEC_NOW 1440938160		/* 2015-08-30T12:36:00Z */

static const char *secret_for_vectors(void *arg, const char *id, size_t n)
{
	const char *secret = arg;
	return n == strlen(VEC_KEY) && memcmp(id, VEC_KEY, n) == 0 ? secret : NULL;
}

static const struct http_limits lim = {
	.max_head = 16384, .max_target = 2048, .max_fields = 64, .max_body = 1 << 20,
};

/* A suite request (LF line ends) as a client sends it: CRLF, and the
 * body after the blank line. */
static int load_vector(const char *name, struct buf *wire, size_t *head_len, char hash[65])
{
	char path[512], tmp[4096];
	struct buf raw = BUF_INIT;
	FILE *f;
	size_t n;
	const char *blank;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s/header-signed-request.txt", SUITE, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return -errno;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&raw, tmp, n);
	fclose(f);
	buf_putc(&raw, '\0');
	blank = strstr(raw.data, "\n\n");
	if (blank == NULL) {
		buf_free(&raw);
		return -EINVAL;
	}
	buf_reset(wire);
	for (const char *p = raw.data; p <= blank; p++) {
		if (*p == '\n')
			buf_putc(wire, '\r');
		buf_putc(wire, *p);
	}
	buf_append(wire, "\r\n", 2);
	*head_len = wire->len;
	buf_puts(wire, blank + 2);
	sigv4_sha256_hex(blank + 2, strlen(blank + 2), hash);
	buf_free(&raw);
	return r;
}

static int verify_wire(const char *wire, size_t len, const char *hash, const char *secret,
	time_t now, const char *service)
{
	struct http_request req;
	struct api_sigv4_caller caller;
	char why[256];
	int r = http_parse_request(wire, len, &lim, &req);

	if (r <= 0)
		return 1000 + r;
	return api_sigv4_verify(&req, hash, service, now, secret_for_vectors, (void *)secret,
		&caller, why, sizeof(why));
}

static void test_suite_vectors(void)
{
	/* the suite's requests our strict parser accepts (no obs-fold, no
	 * spaces or dot segments in the request line) */
	static const char *const cases[] = {
		"get-vanilla", "get-vanilla-query", "get-vanilla-query-order-key-case",
		"get-vanilla-query-order-encoded", "get-vanilla-query-unreserved",
		"get-vanilla-empty-query-key", "get-unreserved", "get-header-key-duplicate",
		"get-header-value-order", "get-header-value-trim", "post-vanilla",
		"post-vanilla-query", "post-vanilla-empty-query-value", "post-header-key-case",
		"post-header-key-sort", "post-header-value-case", "post-x-www-form-urlencoded",
		"get-vanilla-with-session-token",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf wire = BUF_INIT;
		size_t head;
		char hash[65], other[65];
		int r = load_vector(cases[i], &wire, &head, hash);

		CHECK_INT(r, 0);
		if (r)
			continue;
		r = verify_wire(wire.data, wire.len, hash, VEC_SECRET, VEC_NOW, "service");
		if (r != API_SIGV4_OK)
			fprintf(stderr, "case %s: %d\n", cases[i], r);
		CHECK_INT(r, API_SIGV4_OK);
		/* within 15 minutes either way, not beyond */
		CHECK_INT(verify_wire(wire.data, wire.len, hash, VEC_SECRET, VEC_NOW + 900, "service"), API_SIGV4_OK);
		CHECK_INT(verify_wire(wire.data, wire.len, hash, VEC_SECRET, VEC_NOW - 900, "service"), API_SIGV4_OK);
		CHECK_INT(verify_wire(wire.data, wire.len, hash, VEC_SECRET, VEC_NOW + 901, "service"), API_SIGV4_EXPIRED);
		CHECK_INT(verify_wire(wire.data, wire.len, hash, VEC_SECRET, VEC_NOW - 901, "service"), API_SIGV4_EXPIRED);
		CHECK_INT(verify_wire(wire.data, wire.len, hash, VEC_SECRET "x", VEC_NOW, "service"), API_SIGV4_MISMATCH);
		CHECK_INT(verify_wire(wire.data, wire.len, hash, VEC_SECRET, VEC_NOW, "ses"), API_SIGV4_INCOMPLETE);
		/* another body */
		sigv4_sha256_hex("x", 1, other);
		CHECK_INT(verify_wire(wire.data, wire.len, other, VEC_SECRET, VEC_NOW, "service"), API_SIGV4_MISMATCH);
		/* any byte of the request line changed */
		for (size_t k = 0; wire.data[k] != '\r'; k++) {
			char saved = wire.data[k];
			wire.data[k] = saved == 'a' ? 'b' : saved == '/' ? '/' : (saved == ' ' ? ' ' : 'a');
			if (wire.data[k] != saved) {
				r = verify_wire(wire.data, wire.len, hash, VEC_SECRET, VEC_NOW, "service");
				CHECK(r != API_SIGV4_OK);
			}
			wire.data[k] = saved;
		}
		buf_free(&wire);
	}
}

/* A request for route (path, service) signed by our signer, as an SDK
 * would: host, x-amz-date and content-type signed. */
static void make_signed(struct buf *out, const char *path, const char *service, const char *key_id,
	const char *secret, const char *amz_date, const char *body, const char *extra_hdr)
{
	struct sigv4_header h[3] = {
		{ "Host", "127.0.0.1:8443" }, { "X-Amz-Date", amz_date },
		{ "Content-Type", "application/json" },
	};
	struct sigv4_request sr = {
		.method = "POST", .path = path, .query = "", .headers = h, .nheaders = 3,
		.region = "eu-west-1", .service = service, .amz_date = amz_date,
	};
	struct buf authz = BUF_INIT;
	char hash[65];

	sigv4_sha256_hex(body, strlen(body), hash);
	sr.payload_hash = hash;
	sigv4_authorization(&sr, key_id, secret, NULL, &authz);
	buf_reset(out);
	buf_printf(out, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:8443\r\nX-Amz-Date: %s\r\n"
		"Content-Type: application/json\r\n%sAuthorization: %s\r\nContent-Length: %zu\r\n\r\n%s",
		path, amz_date, extra_hdr, authz.data, strlen(body), body);
	buf_free(&authz);
}

struct keys {
	const char *id, *secret;
};

static const char *secret_from(void *arg, const char *id, size_t n)
{
	const struct keys *k = arg;
	return strlen(k->id) == n && memcmp(k->id, id, n) == 0 ? k->secret : NULL;
}

static int verify_api(const struct buf *w, const char *service, time_t now, struct api_sigv4_caller *c)
{
	struct keys k = { "SRLYAPPKEY0000000001", "0123456789abcdefghij0123456789abcdefghij" };
	struct http_request req;
	char why[256], hash[65];
	int r = http_parse_request(w->data, w->len, &lim, &req);
	const char *body;

	if (r <= 0)
		return 1000 + r;
	body = w->data + r;
	sigv4_sha256_hex(body, strlen(body), hash);
	return api_sigv4_verify(&req, hash, service, now, secret_from, &k, c, why, sizeof(why));
}

static void test_route_requests(void)
{
	struct buf w = BUF_INIT;
	struct api_sigv4_caller c;
	time_t now = 1765000000;
	char date[17], old[17];
	const char *secret = "0123456789abcdefghij0123456789abcdefghij";

	sigv4_amz_date(now, date);
	sigv4_amz_date(now - 3600, old);
	make_signed(&w, "/v2/email/outbound-emails", "ses", "SRLYAPPKEY0000000001", secret, date, "{}", "");
	CHECK_INT(verify_api(&w, "ses", now, &c), API_SIGV4_OK);
	CHECK_STR(c.key_id, "SRLYAPPKEY0000000001");
	CHECK_STR(c.region, "eu-west-1");
	make_signed(&w, "/v1/apps/0123456789abcdef/messages", "mobiletargeting", "SRLYAPPKEY0000000001",
		secret, date, "{\"MessageRequest\":{}}", "");
	CHECK_INT(verify_api(&w, "mobiletargeting", now, &c), API_SIGV4_OK);
	CHECK_INT(verify_api(&w, "ses", now, &c), API_SIGV4_INCOMPLETE);
	make_signed(&w, "/v2/email/outbound-emails", "ses", "SRLYUNKNOWN000000001", secret, date, "{}", "");
	CHECK_INT(verify_api(&w, "ses", now, &c), API_SIGV4_UNKNOWN_KEY);
	make_signed(&w, "/v2/email/outbound-emails", "ses", "SRLYAPPKEY0000000001",
		"wrong-secret-wrong-secret-wrong-secret!!", date, "{}", "");
	CHECK_INT(verify_api(&w, "ses", now, &c), API_SIGV4_MISMATCH);
	make_signed(&w, "/v2/email/outbound-emails", "ses", "SRLYAPPKEY0000000001", secret, old, "{}", "");
	CHECK_INT(verify_api(&w, "ses", now, &c), API_SIGV4_EXPIRED);
	/* a second Authorization header, an unsigned request */
	make_signed(&w, "/v2/email/outbound-emails", "ses", "SRLYAPPKEY0000000001", secret, date, "{}",
		"Authorization: AWS4-HMAC-SHA256 Credential=x/20250101/r/ses/aws4_request, SignedHeaders=host, Signature=00\r\n");
	CHECK_INT(verify_api(&w, "ses", now, &c), API_SIGV4_INCOMPLETE);
	buf_reset(&w);
	buf_puts(&w, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
	CHECK_INT(verify_api(&w, "ses", now, &c), API_SIGV4_MISSING);
	CHECK_STR(api_sigv4_code(API_SIGV4_MISMATCH), "SignatureDoesNotMatch");
	CHECK_STR(api_sigv4_code(API_SIGV4_UNKNOWN_KEY), "InvalidClientTokenId");
	CHECK_STR(api_sigv4_code(API_SIGV4_EXPIRED), "RequestExpired");
	buf_free(&w);
}

#define SIG "0000000000000000000000000000000000000000000000000000000000000000"

static void test_malformed_authorization(void)
{
	static const char *const bad[] = {
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA1 Credential=SRLYAPPKEY0000000001/20251206/r/ses/aws4_request, SignedHeaders=host;x-amz-date, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=SRLYAPPKEY0000000001/20251206/r/ses, SignedHeaders=host;x-amz-date, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=SRLYAPPKEY0000000001/20251206/r/ses/aws4_request, SignedHeaders=host, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=SRLYAPPKEY0000000001/20251206/r/ses/aws4_request, SignedHeaders=Host;x-amz-date, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=SRLYAPPKEY0000000001/20251206/r/ses/aws4_request, SignedHeaders=host;x-amz-date;, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=SRLYAPPKEY0000000001/20251206/r/ses/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab",
		"AWS4-HMAC-SHA256 Credential=SRLYAPPKEY0000000001/20251206/r/ses/aws4_request, Credential=x, SignedHeaders=host;x-amz-date, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=/20251206/r/ses/aws4_request, SignedHeaders=host;x-amz-date, Signature=" SIG,
	};
	struct api_sigv4_caller c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf w = BUF_INIT;
		const char *line = bad[i];
		buf_printf(&w, "POST / HTTP/1.1\r\nHost: a\r\nX-Amz-Date: 20251206T000000Z\r\n"
			"Authorization: %s\r\nContent-Length: 0\r\n\r\n", line);
		CHECK_INT(verify_api(&w, "ses", 1764979200, &c), API_SIGV4_INCOMPLETE);
		buf_free(&w);
	}
}

/* Requests botocore signed (proto/api_http, see its README) verify. */
static void test_botocore_requests(void)
{
	static const char *const files[] = {
		"sesv2_send_email_simple.http", "ses_v1_send_raw_email.http",
		"pinpoint_send_messages.http", "sesv2_get_account.http",
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[512], tmp[8192], hash[65];
		struct http_request req;
		struct api_sigv4_caller c;
		FILE *f;
		size_t n;
		int h;

		snprintf(path, sizeof(path), "%s/proto/api_http/%s", PROJECT_ROOT, files[i]);
		f = fopen(path, "rb");
		CHECK(f != NULL);
		if (f == NULL)
			continue;
		n = fread(tmp, 1, sizeof(tmp), f);
		fclose(f);
		h = http_parse_request(tmp, n, &lim, &req);
		CHECK(h > 0);
		if (h <= 0)
			continue;
		sigv4_sha256_hex(tmp + h, n - (size_t)h, hash);
		CHECK_INT(api_sigv4_verify(&req, hash, "service", VEC_NOW, secret_for_vectors,
			(void *)VEC_SECRET, &c, NULL, 0), API_SIGV4_OK);
	}
}

int main(void)
{
	test_suite_vectors();
	test_botocore_requests();
	test_route_requests();
	test_malformed_authorization();
	return check_report();
}
