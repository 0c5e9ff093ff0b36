#include "sigv4.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define SIGV4_ALGO "AWS4-HMAC-SHA256"

static const char hexdig[] = "0123456789abcdef";
static const char hexdig_upper[] = "0123456789ABCDEF";

static void to_hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[p[i] >> 4];
		out[2 * i + 1] = hexdig[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int sigv4_hash_init(struct sigv4_hash *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	h->ctx = NULL;
	if (ctx == NULL)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -EIO;
	}
	h->ctx = ctx;
	return 0;
}

int sigv4_hash_update(struct sigv4_hash *h, const void *p, size_t n)
{
	if (h->ctx == NULL)
		return -EINVAL;
	if (n == 0)
		return 0;
	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : -EIO;
}

int sigv4_hash_final(struct sigv4_hash *h, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok;

	if (h->ctx == NULL)
		return -EINVAL;
	ok = EVP_DigestFinal_ex(h->ctx, md, &mdlen) == 1 && mdlen == 32;
	sigv4_hash_free(h);
	if (!ok)
		return -EIO;
	to_hex(md, 32, hex);
	return 0;
}

void sigv4_hash_free(struct sigv4_hash *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void sigv4_sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		/* Cannot happen with a working libcrypto; an all-zero hash can
		 * never match a real body, so signing fails closed. */
		memset(md, 0, sizeof(md));
	}
	to_hex(md, 32, hex);
}

void sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		memcpy(out, "19700101T000000Z", 17);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 encoding as SigV4 wants it: unreserved kept, all else %XX. */
static int uri_encode(struct buf *out, const char *p, size_t n, bool keep_slash)
{
	int r = buf_reserve(out, n * 3);

	if (r)
		return r;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			out->data[out->len++] = (char)c;
		} else {
			out->data[out->len++] = '%';
			out->data[out->len++] = hexdig_upper[c >> 4];
			out->data[out->len++] = hexdig_upper[c & 15];
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

/* Remove "." and ".." segments and empty segments, keeping a trailing
 * slash: what every AWS service except S3 does before encoding. */
static int normalize_path(const char *path, struct buf *out)
{
	size_t n = strlen(path), i = 0;
	bool trailing = n > 0 && path[n - 1] == '/';
	int r;

	r = buf_reserve(out, n + 2);
	if (r)
		return r;
	while (i < n) {
		size_t j = i, seglen;

		while (j < n && path[j] != '/')
			j++;
		seglen = j - i;
		if (seglen == 0 || (seglen == 1 && path[i] == '.')) {
			/* skip */
		} else if (seglen == 2 && path[i] == '.' && path[i + 1] == '.') {
			while (out->len > 0 && out->data[out->len - 1] != '/')
				out->len--;
			if (out->len > 0)
				out->len--;
		} else {
			out->data[out->len++] = '/';
			memcpy(out->data + out->len, path + i, seglen);
			out->len += seglen;
		}
		i = j + 1;
	}
	if (out->len == 0 || trailing)
		out->data[out->len++] = '/';
	out->data[out->len] = '\0';
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Malformed escapes pass through literally (and get re-encoded). */
static int pct_decode(struct buf *out, const char *p, size_t n)
{
	int r = buf_reserve(out, n);

	if (r)
		return r;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 &&
		    (lo = hexval(p[i + 2])) >= 0) {
			out->data[out->len++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out->data[out->len++] = p[i];
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

struct qparam {
	char *key;
	char *val;
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->val, y->val);
}

static int encode_component(const char *p, size_t n, char **res)
{
	struct buf raw = BUF_INIT, enc = BUF_INIT;
	int r;

	r = pct_decode(&raw, p, n);
	if (r == 0)
		r = uri_encode(&enc, raw.data ? raw.data : "", raw.len, false);
	if (r == 0 && enc.data == NULL)
		r = buf_reserve(&enc, 0);
	buf_free(&raw);
	if (r) {
		buf_free(&enc);
		return r;
	}
	*res = buf_steal(&enc);
	return *res ? 0 : -ENOMEM;
}

/* Decode each name and value, re-encode it canonically, sort by name then
 * value: the form AWS compares, whatever encoding the caller used. */
static int canonical_query(const char *q, struct buf *out)
{
	struct qparam *ps = NULL;
	size_t np = 0, cap = 0;
	int r = 0;

	while (q && *q) {
		const char *amp = strchr(q, '&'), *eq;
		size_t len = amp ? (size_t)(amp - q) : strlen(q);

		if (len > 0) {
			if (np == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				struct qparam *nps = realloc(ps, ncap * sizeof(*ps));

				if (nps == NULL) {
					r = -ENOMEM;
					goto out;
				}
				ps = nps;
				cap = ncap;
			}
			eq = memchr(q, '=', len);
			ps[np].key = ps[np].val = NULL;
			np++;
			if (eq) {
				r = encode_component(q, (size_t)(eq - q), &ps[np - 1].key);
				if (r == 0)
					r = encode_component(eq + 1, len - (size_t)(eq - q) - 1,
						&ps[np - 1].val);
			} else {
				r = encode_component(q, len, &ps[np - 1].key);
				if (r == 0)
					r = encode_component("", 0, &ps[np - 1].val);
			}
			if (r)
				goto out;
		}
		q = amp ? amp + 1 : NULL;
	}
	if (np > 1)
		qsort(ps, np, sizeof(*ps), qparam_cmp);
	for (size_t i = 0; i < np && r == 0; i++)
		r = buf_printf(out, "%s%s=%s", i ? "&" : "", ps[i].key, ps[i].val);
out:
	for (size_t i = 0; i < np; i++) {
		free(ps[i].key);
		free(ps[i].val);
	}
	free(ps);
	return r;
}

struct hdr_ref {
	char *lname;
	const char *value;
	size_t idx;
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr_ref *x = a, *y = b;
	int c = strcmp(x->lname, y->lname);

	/* Index tiebreak keeps duplicate headers in their original order. */
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trim, and fold each inner run of whitespace (incl. obsolete line
 * folding) into one space. */
static int append_folded(struct buf *out, const char *v)
{
	const char *end;
	int r;

	while (blank(*v))
		v++;
	end = v + strlen(v);
	while (end > v && blank(end[-1]))
		end--;
	r = buf_reserve(out, (size_t)(end - v));
	if (r)
		return r;
	while (v < end) {
		if (blank(*v)) {
			out->data[out->len++] = ' ';
			while (blank(*v))
				v++;
		} else {
			out->data[out->len++] = *v++;
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

/* Appends "name:value\n..." lines to canon and "a;b;c" to signed_hdrs. */
static int canonical_headers(const struct sigv4_request *r, struct buf *canon,
	struct buf *signed_hdrs)
{
	struct hdr_ref *hs;
	size_t n = r->nheaders;
	int rc = 0;

	if (n == 0)
		return -EINVAL;
	hs = calloc(n, sizeof(*hs));
	if (hs == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *name = r->headers[i].name;
		size_t len;

		if (name == NULL || r->headers[i].value == NULL || *name == '\0') {
			rc = -EINVAL;
			goto out;
		}
		len = strlen(name);
		hs[i].lname = malloc(len + 1);
		if (hs[i].lname == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t k = 0; k <= len; k++) {
			char c = name[k];

			/* A name with ':', ';' or blanks would forge extra lines or
			 * entries in the signed header list. */
			if (c == ':' || c == ';' || blank(c) || (c && (unsigned char)c < 0x20)) {
				rc = -EINVAL;
				goto out;
			}
			hs[i].lname[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		hs[i].value = r->headers[i].value;
		hs[i].idx = i;
	}
	qsort(hs, n, sizeof(*hs), hdr_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool dup = i > 0 && strcmp(hs[i].lname, hs[i - 1].lname) == 0;

		if (dup) {
			rc = buf_putc(canon, ',');
		} else {
			if (i > 0)
				rc = buf_putc(canon, '\n');
			if (rc == 0 && signed_hdrs->len > 0)
				rc = buf_putc(signed_hdrs, ';');
			if (rc == 0)
				rc = buf_puts(signed_hdrs, hs[i].lname);
			if (rc == 0)
				rc = buf_puts(canon, hs[i].lname);
			if (rc == 0)
				rc = buf_putc(canon, ':');
		}
		if (rc == 0)
			rc = append_folded(canon, hs[i].value);
	}
	if (rc == 0)
		rc = buf_putc(canon, '\n');
out:
	for (size_t i = 0; i < n; i++)
		free(hs[i].lname);
	free(hs);
	return rc;
}

static bool valid_request(const struct sigv4_request *r)
{
	return r && r->method && *r->method && r->path && r->payload_hash && r->region &&
		r->service && r->amz_date && strlen(r->amz_date) == 16 && r->amz_date[8] == 'T' &&
		r->amz_date[15] == 'Z' && r->headers;
}

static int canonical_request_parts(const struct sigv4_request *r, struct buf *out,
	struct buf *signed_hdrs)
{
	struct buf path = BUF_INIT;
	int rc;

	if (!valid_request(r))
		return -EINVAL;
	rc = buf_printf(out, "%s\n", r->method);
	if (rc == 0) {
		if (r->path_as_is)
			rc = uri_encode(out, r->path, strlen(r->path), true);
		else if ((rc = normalize_path(r->path, &path)) == 0)
			rc = uri_encode(out, path.data, path.len, true);
	}
	buf_free(&path);
	if (rc == 0)
		rc = buf_putc(out, '\n');
	if (rc == 0)
		rc = canonical_query(r->query, out);
	if (rc == 0)
		rc = buf_putc(out, '\n');
	if (rc == 0)
		rc = canonical_headers(r, out, signed_hdrs);
	if (rc == 0)
		rc = buf_printf(out, "\n%s\n%s", signed_hdrs->data, r->payload_hash);
	return rc;
}

int sigv4_canonical_request(const struct sigv4_request *r, struct buf *out)
{
	struct buf sh = BUF_INIT;
	int rc = canonical_request_parts(r, out, &sh);

	buf_free(&sh);
	return rc;
}

int sigv4_string_to_sign(const struct sigv4_request *r, const char *canonical_request,
	struct buf *out)
{
	char hex[65];

	if (!valid_request(r) || canonical_request == NULL)
		return -EINVAL;
	sigv4_sha256_hex(canonical_request, strlen(canonical_request), hex);
	return buf_printf(out, SIGV4_ALGO "\n%s\n%.8s/%s/%s/aws4_request\n%s",
		r->amz_date, r->amz_date, r->region, r->service, hex);
}

/* The HMAC implementation fetched from the provider once per process:
 * the one-shot HMAC() fetches it on every call, a large part of the cost
 * of the two MACs per forwarded request (the caller's signature, ours).
 * Never freed: it lives as long as the process and its threads. */
static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static int hmac(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[32])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx;
	size_t len = 0;
	int ok;

	pthread_once(&hmac_once, hmac_fetch);
	if (hmac_alg == NULL || (ctx = EVP_MAC_CTX_new(hmac_alg)) == NULL)
		return -EIO;
	ok = EVP_MAC_init(ctx, key, keylen, params) == 1 && EVP_MAC_update(ctx, msg, n) == 1 &&
		EVP_MAC_final(ctx, out, &len, 32) == 1 && len == 32;
	EVP_MAC_CTX_free(ctx);	/* wipes the key schedule */
	return ok ? 0 : -EIO;
}

int sigv4_key_get(struct sigv4_key *k, const char *secret_access_key,
	const char *amz_date, const char *region, const char *service)
{
	unsigned char sid[32], a[32], b[32];
	unsigned int sidlen = 0;
	struct buf seed = BUF_INIT;
	int rc;

	if (k == NULL || secret_access_key == NULL || amz_date == NULL || region == NULL ||
	    service == NULL || strlen(amz_date) < 8 || strlen(region) >= sizeof(k->region) ||
	    strlen(service) >= sizeof(k->service))
		return -EINVAL;
	if (EVP_Digest(secret_access_key, strlen(secret_access_key), sid, &sidlen,
		    EVP_sha256(), NULL) != 1)
		return -EIO;
	if (k->valid && memcmp(k->date, amz_date, 8) == 0 && strcmp(k->region, region) == 0 &&
	    strcmp(k->service, service) == 0 && CRYPTO_memcmp(k->secret_id, sid, 32) == 0) {
		OPENSSL_cleanse(sid, sizeof(sid));
		return 0;
	}
	sigv4_key_clear(k);
	rc = buf_printf(&seed, "AWS4%s", secret_access_key);
	if (rc == 0)
		rc = hmac(seed.data, seed.len, amz_date, 8, a);
	if (rc == 0)
		rc = hmac(a, 32, region, strlen(region), b);
	if (rc == 0)
		rc = hmac(b, 32, service, strlen(service), a);
	if (rc == 0)
		rc = hmac(a, 32, "aws4_request", 12, k->key);
	buf_free_secret(&seed);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	if (rc == 0) {
		memcpy(k->date, amz_date, 8);
		k->date[8] = '\0';
		strcpy(k->region, region);
		strcpy(k->service, service);
		memcpy(k->secret_id, sid, 32);
		k->valid = 1;
	} else {
		sigv4_key_clear(k);
	}
	OPENSSL_cleanse(sid, sizeof(sid));
	return rc;
}

void sigv4_key_clear(struct sigv4_key *k)
{
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
}

int sigv4_authorization(const struct sigv4_request *r, const char *access_key_id,
	const char *secret_access_key, struct sigv4_key *key, struct buf *out)
{
	struct buf canon = BUF_INIT, sh = BUF_INIT, sts = BUF_INIT;
	struct sigv4_key local;
	unsigned char sig[32];
	char sighex[65];
	int rc;

	if (access_key_id == NULL || *access_key_id == '\0' || secret_access_key == NULL ||
	    out == NULL)
		return -EINVAL;
	memset(&local, 0, sizeof(local));
	if (key == NULL)
		key = &local;
	rc = canonical_request_parts(r, &canon, &sh);
	if (rc == 0)
		rc = sigv4_string_to_sign(r, canon.data, &sts);
	if (rc == 0)
		rc = sigv4_key_get(key, secret_access_key, r->amz_date, r->region, r->service);
	if (rc == 0)
		rc = hmac(key->key, sizeof(key->key), sts.data, sts.len, sig);
	if (rc == 0) {
		to_hex(sig, 32, sighex);
		rc = buf_printf(out, SIGV4_ALGO " Credential=%s/%.8s/%s/%s/aws4_request, "
			"SignedHeaders=%s, Signature=%s", access_key_id, r->amz_date, r->region,
			r->service, sh.data, sighex);
	}
	sigv4_key_clear(&local);
	buf_free(&canon);
	buf_free(&sh);
	buf_free(&sts);
	return rc;
}
