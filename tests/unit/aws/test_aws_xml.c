/* AWS response parsing: every body in proto/aws (described by
 * proto/aws/fixtures.json) gives the expected fields or error, plus the
 * XML corner cases AWS does not produce today but an attacker can. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws_retry.h"
#include "aws_xml.h"
#include "check.h"

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (buf_append(&b, tmp, n))
			break;
	fclose(f);
	if (buf_reserve(&b, 0))
		return NULL;
	*len = b.len;
	return buf_steal(&b);
}

/* An exact-size heap copy, so reading past len trips the sanitizers. */
static char *exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	memcpy(p, s, n);
	return p;
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static void check_success(const cJSON *fx, const char *body, size_t len)
{
	const cJSON *fields = cJSON_GetObjectItemCaseSensitive(fx, "fields"), *f, *ep;
	struct buf t = BUF_INIT;
	struct aws_error e;

	cJSON_ArrayForEach(f, fields) {
		CHECK_INT(aws_xml_text(body, len, f->string, &t), 0);
		CHECK_STR(t.data, f->valuestring);
	}
	ep = cJSON_GetObjectItemCaseSensitive(fx, "expiration_epoch");
	if (cJSON_IsNumber(ep)) {
		time_t when = 0;

		CHECK_INT(aws_xml_text(body, len, "Expiration", &t), 0);
		CHECK_INT(aws_parse_iso8601(t.data, &when), 0);
		CHECK_INT(when, (long long)ep->valuedouble);
	}
	/* A success body is not mistaken for an error. */
	memset(&e, 0, sizeof(e));
	CHECK_INT(aws_error_parse(200, body, len, NULL, &e), -ENOENT);
	CHECK_STR(e.code, "HTTP200");
	buf_free(&t);
}

static void check_error(const cJSON *fx, const char *body, size_t len)
{
	const cJSON *want = cJSON_GetObjectItemCaseSensitive(fx, "error");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(fx, "status");
	const char *hdr = jstr(fx, "x_amzn_errortype"), *msg, *prefix;
	bool found = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(want, "found"));
	bool retry = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(want, "retryable"));
	struct aws_error e;

	memset(&e, 0x55, sizeof(e));
	strcpy(e.step, "AssumeRole");
	CHECK_INT(aws_error_parse(st->valueint, body, len, hdr, &e), found ? 0 : -ENOENT);
	CHECK_INT(e.status, st->valueint);
	CHECK_STR(e.code, jstr(want, "code"));
	CHECK_INT(e.retryable, retry);
	CHECK_STR(e.step, "AssumeRole");
	msg = jstr(want, "message");
	prefix = jstr(want, "message_prefix");
	if (msg)
		CHECK_STR(e.message, msg);
	if (prefix) {
		CHECK(strncmp(e.message, prefix, strlen(prefix)) == 0);
		CHECK_INT(strlen(e.message), sizeof(e.message) - 1);
		CHECK_STR(e.message + sizeof(e.message) - 4, "...");
	}
}

static void test_fixtures(void)
{
	char dir[512], path[1024];
	cJSON *man, *fx;
	size_t mlen = 0, n = 0;
	char *mtxt;
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/proto/aws", PROJECT_ROOT);
	snprintf(path, sizeof(path), "%s/fixtures.json", dir);
	mtxt = read_all(path, &mlen);
	CHECK(mtxt != NULL);
	if (mtxt == NULL)
		return;
	man = cJSON_ParseWithLength(mtxt, mlen);
	CHECK(cJSON_IsArray(man));
	cJSON_ArrayForEach(fx, man) {
		const char *file = jstr(fx, "file");
		size_t len = 0;
		char *body, *copy;
		int before = check_failures;

		CHECK(file != NULL);
		if (file == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		body = read_all(path, &len);
		CHECK(body != NULL);
		if (body == NULL)
			continue;
		copy = exact(body, len);
		if (cJSON_GetObjectItemCaseSensitive(fx, "fields"))
			check_success(fx, copy, len);
		else if (cJSON_GetObjectItemCaseSensitive(fx, "error"))
			check_error(fx, copy, len);
		else if (cJSON_GetObjectItemCaseSensitive(fx, "json_fields")) {
			struct buf t = BUF_INIT;

			/* SESv2 JSON is read with cJSON; the XML reader finds nothing. */
			CHECK_INT(aws_xml_text(copy, len, "MessageId", &t), -ENOENT);
			buf_free(&t);
		} else {
			CHECK(0);
		}
		if (check_failures != before)
			fprintf(stderr, "fixture %s FAILED\n", file);
		n++;
		free(copy);
		free(body);
	}
	fprintf(stderr, "aws fixtures: %zu checked\n", n);
	CHECK(n >= 30);

	/* Every body in proto/aws is described (and so checked). */
	d = opendir(dir);
	CHECK(d != NULL);
	while (d && (de = readdir(d)) != NULL) {
		bool listed = false;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "fixtures.json") == 0 ||
		    strcmp(de->d_name, "README.md") == 0)
			continue;
		cJSON_ArrayForEach(fx, man) {
			const char *file = jstr(fx, "file");

			if (file && strcmp(file, de->d_name) == 0)
				listed = true;
		}
		if (!listed)
			fprintf(stderr, "proto/aws/%s is not in fixtures.json\n", de->d_name);
		CHECK(listed);
	}
	if (d)
		closedir(d);
	cJSON_Delete(man);
	free(mtxt);
}

static int text_of(const char *body, const char *name, struct buf *out)
{
	char *copy = exact(body, strlen(body));
	int r = aws_xml_text(copy, strlen(body), name, out);

	free(copy);
	return r;
}

static void test_xml_corners(void)
{
	static const char ns[] = "<?xml version=\"1.0\"?><!DOCTYPE x><a:Resp xmlns:a=\"urn:x\">"
		"<a:Error kind=\"x>y/\" other='q\"'><a:Code>Foo</a:Code><a:Message lang='en'>x &amp; "
		"&#233;&#x263A; &lt;&quot;&apos;&gt;</a:Message></a:Error></a:Resp>";
	const char *inner;
	size_t inner_len;
	struct buf t = BUF_INIT;
	struct aws_error e;

	CHECK_INT(text_of(ns, "Code", &t), 0);
	CHECK_STR(t.data, "Foo");
	CHECK_INT(text_of(ns, "Message", &t), 0);
	CHECK_STR(t.data, "x & \xc3\xa9\xe2\x98\xba <\"'>");
	memset(&e, 0, sizeof(e));
	CHECK_INT(aws_error_parse(400, ns, strlen(ns), NULL, &e), 0);
	CHECK_STR(e.code, "Foo");
	CHECK_STR(e.message, "x & ?? <\"'>");
	CHECK_INT(e.retryable, 0);

	/* Comments and CDATA inside text; names must match whole. */
	CHECK_INT(text_of("<M><!-- <M>no</M> --><![CDATA[a<b]]>&gt;</M>", "M", &t), 0);
	CHECK_STR(t.data, "a<b>");
	CHECK_INT(text_of("<CodeX>1</CodeX><XCode>2</XCode><Code>3</Code>", "Code", &t), 0);
	CHECK_STR(t.data, "3");
	CHECK_INT(text_of("<!-- <Code>1</Code> --><Code>2</Code>", "Code", &t), 0);
	CHECK_STR(t.data, "2");
	CHECK_INT(text_of("<R><Code/><Code>x</Code></R>", "Code", &t), 0);
	CHECK_STR(t.data, "");
	CHECK_INT(text_of("<Code></Code>", "Code", &t), 0);
	CHECK_STR(t.data, "");

	/* Nested same-name elements pair up; text with children is refused. */
	CHECK_INT(aws_xml_element("<A><A>x</A></A>", 15, "A", &inner, &inner_len), 0);
	CHECK_MEM(inner, inner_len, "<A>x</A>", 8);
	CHECK_INT(text_of("<A><A>x</A></A>", "A", &t), -EINVAL);

	/* Malformed or missing. */
	CHECK_INT(text_of("<Code>abc", "Code", &t), -EINVAL);
	CHECK_INT(text_of("<Code>a</Cod>", "Code", &t), -EINVAL);
	CHECK_INT(text_of("<Code attr=\"unterminated>x</Code>", "Code", &t), -EINVAL);
	CHECK_INT(text_of("<!-- <Code>x</Code>", "Code", &t), -EINVAL);
	CHECK_INT(text_of("<Other>x</Other>", "Code", &t), -ENOENT);
	CHECK_INT(text_of("no markup at all", "Code", &t), -ENOENT);
	CHECK_INT(text_of("", "Code", &t), -ENOENT);
	CHECK_INT(text_of("<Code>", "", &t), -EINVAL);
	CHECK_INT(text_of("<>", "Code", &t), -EINVAL);

	/* Entities: only the five and valid character references. */
	CHECK_INT(text_of("<C>&foo;</C>", "C", &t), -EINVAL);
	CHECK_INT(text_of("<C>&#0;</C>", "C", &t), -EINVAL);
	CHECK_INT(text_of("<C>&#xD800;</C>", "C", &t), -EINVAL);
	CHECK_INT(text_of("<C>&#1114112;</C>", "C", &t), -EINVAL);
	CHECK_INT(text_of("<C>&#x;</C>", "C", &t), -EINVAL);
	CHECK_INT(text_of("<C>&amp</C>", "C", &t), -EINVAL);
	CHECK_INT(text_of("<C>&#x10FFFF;&#65;&#x41;</C>", "C", &t), 0);
	CHECK_STR(t.data, "\xf4\x8f\xbf\xbf" "AA");

	/* The length bounds the search, not a NUL. */
	{
		char *p = exact("<Code>abc</Code>", 16);

		CHECK_INT(aws_xml_text(p, 10, "Code", &t), -EINVAL);
		CHECK_INT(aws_xml_text(p, 16, "Code", &t), 0);
		CHECK_STR(t.data, "abc");
		free(p);
	}
	buf_free(&t);
}

static void test_error_edges(void)
{
	struct aws_error e;
	struct buf big = BUF_INIT;
	const char *j;

	/* The header wins over the body's __type; ":http..." is dropped. */
	j = "{\"__type\":\"Other\",\"Message\":\"m\"}";
	CHECK_INT(aws_error_parse(400, j, strlen(j), "ThrottlingException:http://x/", &e), 0);
	CHECK_STR(e.code, "ThrottlingException");
	CHECK_STR(e.message, "m");
	CHECK_INT(e.retryable, 1);

	/* Message cut with a marker; CR/LF cannot split a reply line. */
	CHECK_INT(buf_puts(&big, "<Error><Code>Big</Code><Message>a\r\nb"), 0);
	for (int i = 0; i < 1000; i++)
		CHECK_INT(buf_putc(&big, 'x'), 0);
	CHECK_INT(buf_puts(&big, "</Message></Error>"), 0);
	CHECK_INT(aws_error_parse(400, big.data, big.len, NULL, &e), 0);
	CHECK_INT(strlen(e.message), sizeof(e.message) - 1);
	CHECK(strncmp(e.message, "a  bxxx", 7) == 0);
	CHECK_STR(e.message + sizeof(e.message) - 4, "...");
	buf_free(&big);

	/* Codes are identifiers: anything else is dropped. */
	j = "<Error><Code>Bad&#10; Code;&lt;x</Code></Error>";
	CHECK_INT(aws_error_parse(400, j, strlen(j), NULL, &e), 0);
	CHECK_STR(e.code, "BadCodex");

	/* No body at all. */
	CHECK_INT(aws_error_parse(503, NULL, 0, NULL, &e), -ENOENT);
	CHECK_STR(e.code, "HTTP503");
	CHECK_STR(e.message, "");
	CHECK_INT(e.retryable, 1);
	CHECK_INT(aws_error_parse(403, "", 0, NULL, &e), -ENOENT);
	CHECK_INT(e.retryable, 0);
	CHECK_INT(aws_error_parse(429, "{broken", 7, NULL, &e), -ENOENT);
	CHECK_STR(e.code, "HTTP429");
	CHECK_INT(e.retryable, 1);
	CHECK_INT(aws_error_parse(400, "x", 1, NULL, NULL), -EINVAL);

	CHECK_INT(aws_error_code_retryable("Throttling", NULL), 1);
	CHECK_INT(aws_error_code_retryable("MessageRejected", NULL), 0);
	CHECK_INT(aws_error_code_retryable("AccessDenied", NULL), 0);
	CHECK_INT(aws_error_code_retryable(NULL, NULL), 0);
}

static void test_iso8601(void)
{
	static const struct { const char *s; long long t; } ok[] = {
		{ "2026-11-26T03:16:30Z", 1795662990 },
		{ "2026-11-26T03:16:30.923013Z", 1795662990 },
		{ "2026-11-26T03:16:30.9Z", 1795662990 },
		{ "2026-11-26T03:16:30+00:00", 1795662990 },
		{ "2026-11-26T04:16:30+01:00", 1795662990 },
		{ "2026-11-26T01:46:30-0130", 1795662990 },
		{ "2026-11-26t03:16:30z", 1795662990 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-02-29T12:00:00Z", 1709208000 },
		{ "2000-03-01T00:00:00Z", 951868800 },
		{ "2100-01-01T00:00:00Z", 4102444800LL },
	};
	static const char *const bad[] = {
		"", "2026-11-26", "2026-11-26T03:16:30", "2026-11-26 03:16:30Z",
		"2026-11-26T03:16:30Zjunk", "2026-11-26T03:16:30.Z", "2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2026-11-31T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T03:60:00Z",
		"2026-11-26T03:16:61Z", "1969-12-31T23:59:59Z", "2026-11-26T03:16:30+24:00",
		"2026-11-26T03:16:30+01", "2026-11-26T03:16:30+01:0", "+026-11-26T03:16:30Z",
		"2026-11-26T03:16:30.1234567890123Z", "2026-11-26T03:16:3OZ",
	};
	time_t t;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		t = -1;
		CHECK_INT(aws_parse_iso8601(ok[i].s, &t), 0);
		CHECK_INT(t, ok[i].t);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (aws_parse_iso8601(bad[i], &t) != -EINVAL)
			fprintf(stderr, "accepted bad timestamp %s\n", bad[i]);
		CHECK_INT(aws_parse_iso8601(bad[i], &t), -EINVAL);
	}
	CHECK_INT(aws_parse_iso8601(NULL, &t), -EINVAL);

	/* Agrees with the C library over a wide range. */
	for (long long v = 0; v < 4102444800LL; v += 7777777) {
		char s[32];
		struct tm tm;
		time_t tv = (time_t)v;

		gmtime_r(&tv, &tm);
		strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
		CHECK_INT(aws_parse_iso8601(s, &t), 0);
		CHECK_INT(t, v);
	}
}

int main(void)
{
	test_fixtures();
	test_xml_corners();
	test_error_edges();
	test_iso8601();
	return check_report();
}
