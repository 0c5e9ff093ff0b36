/* SigV4: replays every case folder of proto/sigv4 (the AWS SigV4 test
 * suite, header-signing variants) and checks canonical request, string to
 * sign and Authorization header; then checks that every input byte is
 * covered by the signature, streaming hashing and the signing-key cache. */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "sigv4.h"

#define MAX_HDRS 32

static int read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	char tmp[4096];
	size_t n;
	int r = 0;

	if (f == NULL)
		return -errno;
	buf_reset(out);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0 && r == 0)
		r = buf_append(out, tmp, n);
	if (r == 0 && ferror(f))
		r = -EIO;
	if (r == 0 && out->data == NULL)
		r = buf_reserve(out, 0);
	fclose(f);
	return r;
}

static int read_case_file(const char *dir, const char *name, struct buf *out)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return read_file(path, out);
}

/* request.txt as the suite writes it: "METHOD path HTTP/1.1", header lines
 * (continuations start with blanks), blank line, body. */
struct vreq {
	char *method, *path, *query;
	struct sigv4_header hdrs[MAX_HDRS];
	char *owned[2 * MAX_HDRS];
	size_t nhdrs, nowned;
	const char *body;
	size_t body_len;
};

static int parse_request(char *txt, size_t len, struct vreq *v)
{
	char *eol = strchr(txt, '\n'), *sp1, *sp2, *p, *q;

	memset(v, 0, sizeof(*v));
	if (eol == NULL)
		return -EINVAL;
	*eol = '\0';
	sp1 = strchr(txt, ' ');
	sp2 = strrchr(txt, ' ');
	if (sp1 == NULL || sp2 == sp1)
		return -EINVAL;
	*sp1 = *sp2 = '\0';
	v->method = txt;
	v->path = sp1 + 1;
	q = strchr(v->path, '?');
	v->query = "";
	if (q) {
		*q = '\0';
		v->query = q + 1;
	}
	p = eol + 1;
	v->body = txt + len;
	while (p < txt + len) {
		char *line = p, *colon;

		eol = strchr(p, '\n');
		if (eol) {
			*eol = '\0';
			p = eol + 1;
		} else {
			p = txt + len;
		}
		if (*line == '\0') {
			v->body = p;
			break;
		}
		if ((*line == ' ' || *line == '\t') && v->nhdrs > 0) {
			/* Continuation: keep it in the value; signing folds it. */
			struct sigv4_header *h = &v->hdrs[v->nhdrs - 1];
			size_t n = strlen(h->value) + strlen(line) + 2;
			char *nv = malloc(n);

			if (nv == NULL)
				return -ENOMEM;
			snprintf(nv, n, "%s\n%s", h->value, line);
			h->value = nv;
			v->owned[v->nowned++] = nv;
			continue;
		}
		colon = strchr(line, ':');
		if (colon == NULL || v->nhdrs == MAX_HDRS - 3)
			return -EINVAL;
		*colon = '\0';
		v->hdrs[v->nhdrs].name = line;
		v->hdrs[v->nhdrs].value = colon + 1;
		v->nhdrs++;
	}
	v->body_len = (size_t)(txt + len - v->body);
	return 0;
}

static void vreq_free(struct vreq *v)
{
	for (size_t i = 0; i < v->nowned; i++)
		free(v->owned[i]);
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* The Authorization value from header-signed-request.txt. */
static const char *expected_auth(char *signed_req)
{
	char *p = strstr(signed_req, "\nAuthorization:"), *e;

	if (p == NULL)
		return NULL;
	p += strlen("\nAuthorization:");
	e = strchr(p, '\n');
	if (e)
		*e = '\0';
	return p;
}

/* Returns 1 when the case ran, 0 when skipped. */
static int run_case(const char *dir, const char *name)
{
	struct buf req = BUF_INIT, ctx = BUF_INIT, exp = BUF_INIT, got = BUF_INIT, sts = BUF_INIT;
	struct buf auth = BUF_INIT;
	struct sigv4_key key;
	struct sigv4_request r;
	struct vreq v;
	cJSON *json = NULL;
	const cJSON *creds, *it;
	const char *ts, *akid, *secret, *token, *region, *service, *want;
	char amz_date[17], body_hash[65];
	bool normalize, sign_body, omit_token;
	int failures_before = check_failures;

	memset(&key, 0, sizeof(key));
	memset(&v, 0, sizeof(v));
	if (read_case_file(dir, "request.txt", &req) || read_case_file(dir, "context.json", &ctx)) {
		fprintf(stderr, "%s: unreadable case\n", name);
		CHECK(0);
		goto out;
	}
	json = cJSON_ParseWithLength(ctx.data, ctx.len);
	CHECK(json != NULL);
	if (json == NULL)
		goto out;
	creds = cJSON_GetObjectItemCaseSensitive(json, "credentials");
	akid = jstr(creds, "access_key_id");
	secret = jstr(creds, "secret_access_key");
	token = jstr(creds, "token");
	region = jstr(json, "region");
	service = jstr(json, "service");
	ts = jstr(json, "timestamp");
	normalize = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(json, "normalize"));
	sign_body = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "sign_body"));
	it = cJSON_GetObjectItemCaseSensitive(json, "omit_session_token");
	omit_token = cJSON_IsTrue(it);
	CHECK(akid && secret && region && service && ts && strlen(ts) == 20);
	if (!(akid && secret && region && service && ts && strlen(ts) == 20))
		goto out;
	/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
	snprintf(amz_date, sizeof(amz_date), "%.4s%.2s%.2sT%.2s%.2s%.2sZ",
		ts, ts + 5, ts + 8, ts + 11, ts + 14, ts + 17);

	CHECK_INT(parse_request(req.data, req.len, &v), 0);
	sigv4_sha256_hex(v.body, v.body_len, body_hash);
	/* What a signer adds to the request before signing. */
	v.hdrs[v.nhdrs].name = "X-Amz-Date";
	v.hdrs[v.nhdrs++].value = amz_date;
	if (token && !omit_token) {
		v.hdrs[v.nhdrs].name = "X-Amz-Security-Token";
		v.hdrs[v.nhdrs++].value = token;
	}
	if (sign_body) {
		v.hdrs[v.nhdrs].name = "X-Amz-Content-SHA256";
		v.hdrs[v.nhdrs++].value = body_hash;
	}
	memset(&r, 0, sizeof(r));
	r.method = v.method;
	r.path = v.path;
	r.query = v.query;
	r.headers = v.hdrs;
	r.nheaders = v.nhdrs;
	r.payload_hash = body_hash;
	r.region = region;
	r.service = service;
	r.amz_date = amz_date;
	r.path_as_is = !normalize;

	CHECK_INT(sigv4_canonical_request(&r, &got), 0);
	CHECK_INT(read_case_file(dir, "header-canonical-request.txt", &exp), 0);
	CHECK_STR(got.data, exp.data);
	CHECK_INT(sigv4_string_to_sign(&r, got.data ? got.data : "", &sts), 0);
	CHECK_INT(read_case_file(dir, "header-string-to-sign.txt", &exp), 0);
	CHECK_STR(sts.data, exp.data);
	CHECK_INT(sigv4_authorization(&r, akid, secret, &key, &auth), 0);
	CHECK_INT(read_case_file(dir, "header-signed-request.txt", &exp), 0);
	want = exp.data ? expected_auth(exp.data) : NULL;
	CHECK_STR(auth.data, want);
	CHECK_INT(read_case_file(dir, "header-signature.txt", &exp), 0);
	CHECK(auth.data && exp.data && exp.len == 64 &&
		strcmp(auth.data + auth.len - 64, exp.data) == 0);
out:
	if (check_failures != failures_before)
		fprintf(stderr, "vector case %s FAILED\n", name);
	sigv4_key_clear(&key);
	cJSON_Delete(json);
	vreq_free(&v);
	buf_free(&req);
	buf_free(&ctx);
	buf_free(&exp);
	buf_free(&got);
	buf_free(&sts);
	buf_free(&auth);
	return 1;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_vectors(void)
{
	char root[512], dir[1024];
	char *names[256];
	size_t n = 0, ran = 0;
	struct dirent *de;
	DIR *d;

	snprintf(root, sizeof(root), "%s/proto/sigv4", PROJECT_ROOT);
	d = opendir(root);
	CHECK(d != NULL);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL && n < 256) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s/request.txt", root, de->d_name);
		f = fopen(dir, "rb");
		if (f == NULL)
			continue;
		fclose(f);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
		ran += (size_t)run_case(dir, names[i]);
		free(names[i]);
	}
	fprintf(stderr, "sigv4 vectors: %zu cases found, %zu run\n", n, ran);
	/* The suite ships 38 cases; losing some silently must fail. */
	CHECK(ran >= 38);
}

/* Change one byte so the result is still printable and differs. */
static char mutate(char c)
{
	if (c >= '0' && c <= '8')
		return (char)(c + 1);
	if (c == '9')
		return '0';
	if ((c >= 'a' && c < 'z') || (c >= 'A' && c < 'Z'))
		return (char)(c + 1);
	if (c == 'z' || c == 'Z')
		return (char)(c - 1);
	return 'x';
}

struct base {
	char method[8], path[32], query[48], host[40], ctype[64], date_h[20], token[40];
	char hash[65], region[16], service[8], amz_date[17], secret[48], akid[24];
};

static int sign_base(struct base *b, struct buf *out)
{
	struct sigv4_header h[] = {
		{ "Host", b->host }, { "Content-Type", b->ctype },
		{ "X-Amz-Date", b->date_h }, { "X-Amz-Security-Token", b->token },
	};
	struct sigv4_request r = {
		.method = b->method, .path = b->path, .query = b->query,
		.headers = h, .nheaders = 4, .payload_hash = b->hash,
		.region = b->region, .service = b->service, .amz_date = b->amz_date,
	};

	buf_reset(out);
	return sigv4_authorization(&r, b->akid, b->secret, NULL, out);
}

static void test_every_byte_is_signed(void)
{
	static const struct base init = {
		"POST", "/v2/email/outbound-emails", "Action=SendRawEmail&Version=2010-12-01",
		"email.us-east-1.amazonaws.com", "application/x-www-form-urlencoded; charset=utf-8",
		"20261126T031630Z", "FQoGZXIvYXdzEBYaDtoken+/=",
		"9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
		"us-east-1", "ses", "20261126T031630Z", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		"ASIAEXAMPLE123",
	};
	struct { size_t off; const char *what; bool in_signature; } fields[] = {
		{ offsetof(struct base, method), "method", true },
		{ offsetof(struct base, path), "path", true },
		{ offsetof(struct base, query), "query", true },
		{ offsetof(struct base, host), "host header", true },
		{ offsetof(struct base, ctype), "content-type header", true },
		{ offsetof(struct base, date_h), "x-amz-date header", true },
		{ offsetof(struct base, token), "security token header", true },
		{ offsetof(struct base, hash), "payload hash", true },
		{ offsetof(struct base, region), "region", true },
		{ offsetof(struct base, service), "service", true },
		{ offsetof(struct base, amz_date), "date", true },
		{ offsetof(struct base, secret), "secret", true },
		/* The key id names the key; it is not an input of the HMAC. */
		{ offsetof(struct base, akid), "access key id", false },
	};
	struct buf ref = BUF_INIT, got = BUF_INIT;
	struct base b = init;
	size_t tried = 0;

	CHECK_INT(sign_base(&b, &ref), 0);
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		char *s = (char *)&b + fields[f].off;
		size_t len = strlen(s);

		for (size_t i = 0; i < len; i++) {
			char saved = s[i];
			bool same_auth, same_sig;

			/* Both dates' 'T'/'Z' are format markers, not data. */
			if ((fields[f].off == offsetof(struct base, amz_date)) && (i == 8 || i == 15))
				continue;
			s[i] = mutate(saved);
			tried++;
			CHECK_INT(sign_base(&b, &got), 0);
			same_auth = got.len == ref.len && memcmp(got.data, ref.data, ref.len) == 0;
			same_sig = got.len >= 64 && strcmp(got.data + got.len - 64,
				ref.data + ref.len - 64) == 0;
			if (same_auth || (fields[f].in_signature && same_sig))
				fprintf(stderr, "byte %zu of %s not covered\n", i, fields[f].what);
			CHECK(!same_auth);
			if (fields[f].in_signature)
				CHECK(!same_sig);
			s[i] = saved;
		}
	}
	CHECK(tried > 300);
	buf_free(&ref);
	buf_free(&got);
}

static void test_streaming_hash(void)
{
	static const size_t chunks[] = { 1, 7, 4093, 65537, 3, 131071, 13 };
	size_t total = 10 * 1024 * 1024, off = 0, k = 0;
	unsigned char *data = malloc(total);
	struct sigv4_hash h;
	char one[65], inc[65];
	uint32_t x = 2463534242u;

	CHECK(data != NULL);
	if (data == NULL)
		return;
	for (size_t i = 0; i < total; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	sigv4_sha256_hex(data, total, one);
	CHECK_INT(sigv4_hash_init(&h), 0);
	while (off < total) {
		size_t n = chunks[k++ % 7];

		if (n > total - off)
			n = total - off;
		CHECK_INT(sigv4_hash_update(&h, data + off, n), 0);
		off += n;
	}
	CHECK_INT(sigv4_hash_final(&h, inc), 0);
	CHECK_STR(inc, one);
	CHECK(h.ctx == NULL);
	/* A finished hash refuses more input rather than hashing garbage. */
	CHECK_INT(sigv4_hash_update(&h, "x", 1), -EINVAL);
	/* Known answers. */
	sigv4_sha256_hex("", 0, one);
	CHECK_STR(one, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sigv4_sha256_hex("abc", 3, one);
	CHECK_STR(one, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	free(data);
}

static void key_hex(const struct sigv4_key *k, char out[65])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[k->key[i] >> 4];
		out[2 * i + 1] = hx[k->key[i] & 15];
	}
	out[64] = '\0';
}

static void test_key_cache(void)
{
	static const char secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	struct sigv4_key k, fresh;
	char hex[65];

	memset(&k, 0, sizeof(k));
	/* AWS's documented derivation example. */
	CHECK_INT(sigv4_key_get(&k, secret, "20120215T000000Z", "us-east-1", "iam"), 0);
	key_hex(&k, hex);
	CHECK_STR(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");

	/* Same day, same tuple: reused, not re-derived (a poisoned cache
	 * entry stays poisoned). */
	k.key[0] ^= 0xff;
	CHECK_INT(sigv4_key_get(&k, secret, "20120215T235959Z", "us-east-1", "iam"), 0);
	CHECK_INT(k.key[0], 0xf4 ^ 0xff);

	/* New day, region, service or secret: derived again. */
	CHECK_INT(sigv4_key_get(&k, secret, "20120216T000000Z", "us-east-1", "iam"), 0);
	memset(&fresh, 0, sizeof(fresh));
	CHECK_INT(sigv4_key_get(&fresh, secret, "20120216T120000Z", "us-east-1", "iam"), 0);
	CHECK_MEM(k.key, 32, fresh.key, 32);
	CHECK(memcmp(k.key + 1, "\x78\x0e\x2d", 3) != 0);

	k.key[0] ^= 0xff;
	CHECK_INT(sigv4_key_get(&k, "another-secret", "20120216T000000Z", "us-east-1", "iam"), 0);
	sigv4_key_clear(&fresh);
	CHECK_INT(sigv4_key_get(&fresh, "another-secret", "20120216T000000Z", "us-east-1", "iam"), 0);
	CHECK_MEM(k.key, 32, fresh.key, 32);

	k.key[0] ^= 0xff;
	CHECK_INT(sigv4_key_get(&k, "another-secret", "20120216T000000Z", "eu-west-1", "iam"), 0);
	CHECK(k.key[0] != (unsigned char)(fresh.key[0] ^ 0xff));
	CHECK_STR(k.region, "eu-west-1");
	k.key[0] ^= 0xff;
	CHECK_INT(sigv4_key_get(&k, "another-secret", "20120216T000000Z", "eu-west-1", "ses"), 0);
	CHECK_STR(k.service, "ses");
	CHECK(k.key[0] != (unsigned char)(fresh.key[0] ^ 0xff));

	/* Clearing wipes everything, including the secret fingerprint. */
	sigv4_key_clear(&k);
	{
		static const unsigned char zero[sizeof(k)];

		CHECK_MEM(&k, sizeof(k), zero, sizeof(zero));
	}
	CHECK_INT(sigv4_key_get(&k, secret, "2012", "us-east-1", "iam"), -EINVAL);
	CHECK_INT(sigv4_key_get(&k, secret, "20120215T000000Z",
		"a-region-name-far-too-long-for-the-cache", "iam"), -EINVAL);
	sigv4_key_clear(&fresh);
}

static void test_bad_input(void)
{
	struct sigv4_header h[] = { { "Host", "x" }, { "X-Amz-Date", "20261126T031630Z" } };
	struct sigv4_header bad[] = { { "Host\nx-evil", "x" } };
	struct sigv4_request r = {
		.method = "POST", .path = "/", .query = "", .headers = h, .nheaders = 2,
		.payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		.region = "us-east-1", .service = "ses", .amz_date = "20261126T031630Z",
	};
	struct buf out = BUF_INIT;
	char d[17];

	CHECK_INT(sigv4_authorization(&r, "", "secret", NULL, &out), -EINVAL);
	r.amz_date = "2026-11-26";
	CHECK_INT(sigv4_canonical_request(&r, &out), -EINVAL);
	r.amz_date = "20261126T031630Z";
	r.headers = bad;
	r.nheaders = 1;
	CHECK_INT(sigv4_canonical_request(&r, &out), -EINVAL);
	r.nheaders = 0;
	CHECK_INT(sigv4_canonical_request(&r, &out), -EINVAL);
	buf_free(&out);

	sigv4_amz_date(1795662990, d);
	CHECK_STR(d, "20261126T031630Z");
	sigv4_amz_date(0, d);
	CHECK_STR(d, "19700101T000000Z");
}

int main(void)
{
	test_vectors();
	test_every_byte_is_signed();
	test_streaming_hash();
	test_key_cache();
	test_bad_input();
	return check_report();
}
