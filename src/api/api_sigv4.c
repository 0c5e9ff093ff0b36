/* SigV4 verification of API callers (see api_sigv4.h). */
#include "api_sigv4.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "sigv4.h"

#define ALGO "AWS4-HMAC-SHA256"
#define MAX_SIGNED 32			/* signed headers we recompute over */

const char *api_sigv4_code(enum api_sigv4_verdict v)
{
	switch (v) {
	case API_SIGV4_OK: return "";
	case API_SIGV4_MISSING: return "MissingAuthenticationToken";
	case API_SIGV4_INCOMPLETE: return "IncompleteSignature";
	case API_SIGV4_UNKNOWN_KEY: return "InvalidClientTokenId";
	case API_SIGV4_MISMATCH: return "SignatureDoesNotMatch";
	case API_SIGV4_EXPIRED: return "RequestExpired";
	}
	return "IncompleteSignature";
}

struct span {
	const char *p;
	size_t n;
};

static bool span_is(struct span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* "Credential=..., SignedHeaders=..., Signature=..." in any order, each
 * once, separated by ',' and optional blanks. */
static int parse_auth(const char *p, size_t n, struct span *cred, struct span *signed_hdrs,
	struct span *sig)
{
	const char *end = p + n;

	cred->p = signed_hdrs->p = sig->p = NULL;
	if (n < sizeof(ALGO) || memcmp(p, ALGO " ", sizeof(ALGO)) != 0)
		return -1;
	p += sizeof(ALGO);
	while (p < end) {
		const char *e, *eq;
		struct span *dst;
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		if (p == end)
			break;
		e = memchr(p, ',', (size_t)(end - p));
		if (e == NULL)
			e = end;
		eq = memchr(p, '=', (size_t)(e - p));
		if (eq == NULL)
			return -1;
		if ((size_t)(eq - p) == 10 && memcmp(p, "Credential", 10) == 0)
			dst = cred;
		else if ((size_t)(eq - p) == 13 && memcmp(p, "SignedHeaders", 13) == 0)
			dst = signed_hdrs;
		else if ((size_t)(eq - p) == 9 && memcmp(p, "Signature", 9) == 0)
			dst = sig;
		else
			return -1;
		if (dst->p)
			return -1;
		dst->p = eq + 1;
		dst->n = (size_t)(e - eq - 1);
		while (dst->n && dst->p[dst->n - 1] == ' ')
			dst->n--;
		p = e;
	}
	return cred->p && signed_hdrs->p && sig->p ? 0 : -1;
}

static bool all_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/* "YYYYMMDDTHHMMSSZ" -> UTC seconds; -1 when malformed. */
static time_t parse_amz_date(const char *p, size_t n)
{
	struct tm tm;

	if (n != 16 || p[8] != 'T' || p[15] != 'Z' || !all_digits(p, 8) || !all_digits(p + 9, 6))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0') - 1900;
	tm.tm_mon = (p[4] - '0') * 10 + (p[5] - '0') - 1;
	tm.tm_mday = (p[6] - '0') * 10 + (p[7] - '0');
	tm.tm_hour = (p[9] - '0') * 10 + (p[10] - '0');
	tm.tm_min = (p[11] - '0') * 10 + (p[12] - '0');
	tm.tm_sec = (p[13] - '0') * 10 + (p[14] - '0');
	if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
			tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	return timegm(&tm);
}

/* Copy a span into a NUL-terminated string of at most cap-1 bytes. */
static bool copy_span(char *dst, size_t cap, const char *p, size_t n)
{
	if (n >= cap)
		return false;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return true;
}

static int say(char *why, size_t whylen, int verdict, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
	return verdict;
}

/* The values of every field named name[0..n), joined with ',' as SigV4
 * does for repeated headers, appended NUL-terminated to b; its offset. */
static int joined_value(const struct http_request *req, const char *name, size_t n,
	struct buf *b, size_t *off, bool *found)
{
	bool first = true;
	int r = 0;

	*off = b->len;
	*found = false;
	for (unsigned i = 0; i < req->nfields && r == 0; i++) {
		const struct http_field *f = &req->fields[i];
		if (f->name_len != n || strncasecmp(f->name, name, n) != 0)
			continue;
		if (!first)
			r = buf_putc(b, ',');
		if (r == 0)
			r = buf_append(b, f->value, f->value_len);
		first = false;
		*found = true;
	}
	if (r == 0)
		r = buf_putc(b, '\0');
	return r;
}

int api_sigv4_verify(const struct http_request *req, const char *payload_hash,
	const char *service, time_t now, api_sigv4_secret_fn secret_of, void *arg,
	struct api_sigv4_caller *caller, char *why, size_t whylen)
{
	struct sigv4_key key;
	int r;

	memset(&key, 0, sizeof(key));
	r = api_sigv4_verify_cached(req, payload_hash, service, now, secret_of, arg, &key, caller,
		why, whylen);
	sigv4_key_clear(&key);
	return r;
}

int api_sigv4_verify_cached(const struct http_request *req, const char *payload_hash,
	const char *service, time_t now, api_sigv4_secret_fn secret_of, void *arg,
	struct sigv4_key *key, struct api_sigv4_caller *caller, char *why, size_t whylen)
{
	const struct http_field *auth = NULL, *datef = NULL;
	struct span cred, sh, sig, parts[5];
	char date[17], names[MAX_SIGNED][64], path[2048], query[2048], method[HTTP_MAX_METHOD + 1];
	struct sigv4_header hdrs[MAX_SIGNED];
	size_t offs[MAX_SIGNED], nh = 0;
	struct buf values = BUF_INIT, authz = BUF_INIT;
	struct sigv4_request sr;
	const char *secret, *p, *mine;
	bool have_host = false, have_date = false;
	time_t t;
	int r;

	memset(caller, 0, sizeof(*caller));
	for (unsigned i = 0; i < req->nfields; i++) {
		if (http_field_is(&req->fields[i], "authorization")) {
			if (auth)
				return say(why, whylen, API_SIGV4_INCOMPLETE, "more than one Authorization header");
			auth = &req->fields[i];
		} else if (http_field_is(&req->fields[i], "x-amz-date")) {
			if (datef)
				return say(why, whylen, API_SIGV4_INCOMPLETE, "more than one X-Amz-Date header");
			datef = &req->fields[i];
		}
	}
	if (auth == NULL)
		return say(why, whylen, API_SIGV4_MISSING, "Missing Authentication Token");
	if (parse_auth(auth->value, auth->value_len, &cred, &sh, &sig))
		return say(why, whylen, API_SIGV4_INCOMPLETE,
			"Authorization header requires AWS4-HMAC-SHA256 with Credential, SignedHeaders and Signature");
	/* Credential=KEY/DATE/REGION/SERVICE/aws4_request */
	p = cred.p;
	for (int i = 0; i < 5; i++) {
		const char *slash = i < 4 ? memchr(p, '/', (size_t)(cred.p + cred.n - p)) : cred.p + cred.n;
		if (slash == NULL)
			return say(why, whylen, API_SIGV4_INCOMPLETE, "Credential is not KEY/DATE/REGION/SERVICE/aws4_request");
		parts[i].p = p;
		parts[i].n = (size_t)(slash - p);
		p = slash + 1;
	}
	if (!span_is(parts[4], "aws4_request") || parts[1].n != 8 || !all_digits(parts[1].p, 8) ||
			!copy_span(caller->region, sizeof(caller->region), parts[2].p, parts[2].n) ||
			parts[2].n == 0 ||
			!copy_span(caller->service, sizeof(caller->service), parts[3].p, parts[3].n) ||
			!copy_span(caller->key_id, sizeof(caller->key_id), parts[0].p, parts[0].n) ||
			parts[0].n == 0)
		return say(why, whylen, API_SIGV4_INCOMPLETE, "Credential is not KEY/DATE/REGION/SERVICE/aws4_request");
	if (strcmp(caller->service, service) != 0)
		return say(why, whylen, API_SIGV4_INCOMPLETE, "Credential should be scoped to the service of this API");
	if (datef == NULL || !copy_span(date, sizeof(date), datef->value, datef->value_len) ||
			(t = parse_amz_date(date, strlen(date))) == -1)
		return say(why, whylen, API_SIGV4_INCOMPLETE, "X-Amz-Date header missing or not YYYYMMDDTHHMMSSZ");
	if (memcmp(date, parts[1].p, 8) != 0)
		return say(why, whylen, API_SIGV4_MISMATCH, "Credential should be scoped to the date of X-Amz-Date");
	if (sig.n != 64)
		return say(why, whylen, API_SIGV4_INCOMPLETE, "Signature is not 64 hex digits");
	/* SignedHeaders: lowercase names; host and x-amz-date among them */
	for (p = sh.p; p < sh.p + sh.n;) {
		const char *semi = memchr(p, ';', (size_t)(sh.p + sh.n - p));
		size_t len = semi ? (size_t)(semi - p) : (size_t)(sh.p + sh.n - p);
		bool found;
		if (len == 0 || len >= sizeof(names[0]) || nh == MAX_SIGNED) {
			r = say(why, whylen, API_SIGV4_INCOMPLETE, "SignedHeaders malformed or too many");
			goto out;
		}
		memcpy(names[nh], p, len);
		names[nh][len] = '\0';
		for (size_t k = 0; k < len; k++)
			if (names[nh][k] >= 'A' && names[nh][k] <= 'Z') {
				r = say(why, whylen, API_SIGV4_INCOMPLETE, "SignedHeaders must be lowercase");
				goto out;
			}
		have_host |= strcmp(names[nh], "host") == 0;
		have_date |= strcmp(names[nh], "x-amz-date") == 0;
		r = joined_value(req, p, len, &values, &offs[nh], &found);
		if (r)
			goto out;
		if (!found) {
			r = say(why, whylen, API_SIGV4_MISMATCH, "a signed header is not in the request");
			goto out;
		}
		nh++;
		p += len + (semi ? 1 : 0);
		if (semi && p == sh.p + sh.n) {
			r = say(why, whylen, API_SIGV4_INCOMPLETE, "SignedHeaders malformed or too many");
			goto out;
		}
	}
	if (!have_host || !have_date) {
		r = say(why, whylen, API_SIGV4_INCOMPLETE, "SignedHeaders must include host and x-amz-date");
		goto out;
	}
	/* The key is looked up after the request's form is judged, and the
	 * date is judged after the key, as AWS orders its answers. */
	secret = secret_of(arg, parts[0].p, parts[0].n);
	if (secret == NULL) {
		r = say(why, whylen, API_SIGV4_UNKNOWN_KEY, "The security token included in the request is invalid.");
		goto out;
	}
	if (t < now - API_SIGV4_MAX_SKEW || t > now + API_SIGV4_MAX_SKEW) {
		r = say(why, whylen, API_SIGV4_EXPIRED, "Request has expired: X-Amz-Date is more than 15 minutes from the server's time");
		goto out;
	}
	if (!copy_span(path, sizeof(path), req->target, req->path_len) ||
			!copy_span(query, sizeof(query), req->target + req->path_len + (req->target_len > req->path_len),
				req->target_len - req->path_len - (req->target_len > req->path_len))) {
		r = say(why, whylen, API_SIGV4_MISMATCH, "request target too long to verify");
		goto out;
	}
	for (size_t i = 0; i < nh; i++) {
		hdrs[i].name = names[i];
		hdrs[i].value = values.data + offs[i];
	}
	snprintf(method, sizeof(method), "%s", req->method);
	memset(&sr, 0, sizeof(sr));
	sr.method = method;
	sr.path = path;
	sr.query = query;
	sr.headers = hdrs;
	sr.nheaders = nh;
	sr.payload_hash = payload_hash;
	sr.region = caller->region;
	sr.service = caller->service;
	sr.amz_date = date;
	r = sigv4_authorization(&sr, caller->key_id, secret, key, &authz);
	if (r) {
		r = r == -ENOMEM ? -ENOMEM : say(why, whylen, API_SIGV4_MISMATCH,
			"The request signature we calculated does not match the signature you provided.");
		goto out;
	}
	/* ours ends with "SignedHeaders=<ours>, Signature=<64 hex>" */
	mine = strstr(authz.data, ", SignedHeaders=");
	if (mine == NULL || strlen(mine + 16) != sh.n + 12 + 64 ||
			memcmp(mine + 16, sh.p, sh.n) != 0 ||
			CRYPTO_memcmp(mine + 16 + sh.n + 12, sig.p, 64) != 0) {
		r = say(why, whylen, API_SIGV4_MISMATCH,
			"The request signature we calculated does not match the signature you provided.");
		goto out;
	}
	r = API_SIGV4_OK;
	if (why && whylen)
		why[0] = '\0';
out:
	buf_free(&values);
	buf_free_secret(&authz);
	return r;
}
