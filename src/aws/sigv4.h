/* AWS Signature Version 4, pure: no clock, no I/O.
 *
 * Stages are exposed so the test vectors can check each one: canonical
 * request, string to sign, signature. The payload hash is computed
 * incrementally by the caller (struct sigv4_hash) as the body is produced.
 *
 * Ownership: struct sigv4_key owns the derived signing key and wipes it in
 * sigv4_key_clear(); it caches one (date, region, service, secret) tuple
 * so the HMAC chain runs once per day per credential.
 */
#ifndef SESRELAY_SIGV4_H
#define SESRELAY_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

struct sigv4_hash {
	void *ctx;			/* EVP_MD_CTX */
};

int sigv4_hash_init(struct sigv4_hash *h);
int sigv4_hash_update(struct sigv4_hash *h, const void *p, size_t n);
/* Writes 64 lowercase hex digits + NUL and frees the context. */
int sigv4_hash_final(struct sigv4_hash *h, char hex[65]);
void sigv4_hash_free(struct sigv4_hash *h);
/* One-shot SHA-256 hex of a buffer. */
void sigv4_sha256_hex(const void *p, size_t n, char hex[65]);

struct sigv4_header {
	const char *name;		/* any case; lowercased for signing */
	const char *value;		/* trimmed, inner runs of blanks folded */
};

struct sigv4_request {
	const char *method;		/* "POST" */
	const char *path;		/* raw path, e.g. "/" or "/v2/email/outbound-emails";
					 * encoded here, so a '%' is signed as %25 as AWS
					 * expects from every service but S3 */
	const char *query;		/* raw query string without '?', or "" */
	const struct sigv4_header *headers;	/* every header to sign, incl. host and x-amz-date */
	size_t nheaders;
	const char *payload_hash;	/* hex SHA-256 of the body */
	const char *region;
	const char *service;		/* "sts", "ses", "email" ... */
	const char *amz_date;		/* "20150830T123600Z" */
	/* 0 (every service sesrelay calls): remove "."/".." and empty path
	 * segments before encoding; 1: sign the path as given (S3 rules). */
	int path_as_is;
};

struct sigv4_key {
	unsigned char key[32];
	char date[9];
	char region[32];
	char service[32];
	unsigned char secret_id[32];	/* SHA-256 of the secret: detects a new secret */
	int valid;
};

/* Format t as the x-amz-date value (UTC). */
void sigv4_amz_date(time_t t, char out[17]);

int sigv4_canonical_request(const struct sigv4_request *r, struct buf *out);
int sigv4_string_to_sign(const struct sigv4_request *r, const char *canonical_request,
	struct buf *out);
/* Derive (or reuse) the signing key for r's date/region/service. */
int sigv4_key_get(struct sigv4_key *k, const char *secret_access_key,
	const char *amz_date, const char *region, const char *service);
void sigv4_key_clear(struct sigv4_key *k);
/* Full Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=..."). key may be a cache reused across
 * calls, or a zeroed struct. */
int sigv4_authorization(const struct sigv4_request *r, const char *access_key_id,
	const char *secret_access_key, struct sigv4_key *key, struct buf *out);

#endif
