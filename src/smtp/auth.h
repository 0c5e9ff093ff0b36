/* SMTP AUTH: the users file, password hashing (auth_users.c), SASL
 * PLAIN/LOGIN decoding (auth_sasl.c), and verification off the event loop
 * (auth_async.c).
 *
 * Users file: one `user:hash` per line; blank lines and lines starting
 * with '#' are ignored. Hash formats (config/users.example documents them):
 *	$scrypt$N=<n>,r=<r>,p=<p>$<base64 salt>$<base64 key>
 *	$pbkdf2-sha256$<iterations>$<base64 salt>$<base64 key>
 * Base64 is standard alphabet with padding. KDFs come from OpenSSL
 * EVP_KDF ("SCRYPT", "PBKDF2"); keys are compared with CRYPTO_memcmp.
 *
 * Ownership: struct auth_db owns every user name and hash; it is
 * refcounted so a reload can swap in a new one while verifications still
 * running hold the old one. It is immutable after load, so verify may run
 * on worker threads; ref/unref are atomic.
 */
#ifndef SESRELAY_AUTH_H
#define SESRELAY_AUTH_H

#include <stddef.h>

#include <uv.h>

#include "buf.h"

/* Limits of the users file format; anything beyond them is rejected as
 * malformed rather than truncated. */
#define AUTH_MAX_LINE 1024		/* bytes per line, without newline */
#define AUTH_MAX_USERS 100000
#define AUTH_MAX_USER_LEN 255
#define AUTH_MAX_PASS_LEN 1024
#define AUTH_SCRYPT_MAX_N (1u << 20)
#define AUTH_SCRYPT_MAX_MEM (256u << 20)	/* 128 * N * r bytes per verify */
#define AUTH_SCRYPT_MAX_R 32
#define AUTH_SCRYPT_MAX_P 16
#define AUTH_PBKDF2_MIN_ITER 1000
#define AUTH_PBKDF2_MAX_ITER 10000000
/* Largest SASL response we decode (base64 text, without CRLF). */
#define AUTH_SASL_MAX_B64 4096

struct auth_db;

/* Returns 0, -ENOENT (cannot open), -EINVAL (malformed: err names the
 * file and line number), or -ENOMEM. Duplicate users are malformed. */
int auth_db_load(const char *path, struct auth_db **out, char *err, size_t errlen);
/* Add the clients file's entries that have a password hash, as users
 * named like the client, to *db (a fresh one when *db is NULL; *db must
 * not be shared yet). 0, -EINVAL (a hash that does not parse, or a name
 * already a user: err says which) or -ENOMEM. */
struct clients;
int auth_db_add_clients(struct auth_db **db, const struct clients *c, char *err, size_t errlen);
struct auth_db *auth_db_ref(struct auth_db *db);
void auth_db_unref(struct auth_db *db);		/* NULL is fine */
/* Number of users loaded. */
size_t auth_db_count(const struct auth_db *db);

/* 0 if user and password match, -EACCES otherwise (-ENOMEM if the KDF
 * could not run). Runs the KDF even for unknown users, with the default
 * scrypt parameters, so timing does not reveal which users exist; the key
 * comparison is constant-time. Blocks for the KDF (tens of ms): on the
 * event loop use auth_verify_async. */
int auth_db_verify(const struct auth_db *db, const char *user,
	const char *pass, size_t passlen);

/* Hash a password with a fresh 16-byte random salt and the default scrypt
 * parameters (N=16384, r=8, p=1); appends "$scrypt$..." to *out.
 * 0, -EINVAL (password too long), -ENOMEM or -EIO (RNG/KDF failure). */
int auth_hash_password(const char *pass, size_t len, struct buf *out);

/* Strict base64 (standard alphabet, padding required, no whitespace) of
 * at most AUTH_SASL_MAX_B64 characters; "=" alone decodes to empty, as
 * SASL uses it for an empty response. Appends to *out. 0 or -EINVAL. */
int auth_b64_decode(const char *b64, size_t n, struct buf *out);

/* SASL PLAIN (RFC 4616) initial response: base64 of
 * authzid NUL authcid NUL passwd. Rejects empty authcid or password,
 * fields over the limits, a NUL inside any field, and an authzid that is
 * neither empty nor equal to authcid (we do not support proxy auth).
 * On success sets the three buffers (reset first); on failure leaves them
 * empty. The decoded copy is wiped. 0 or -EINVAL/-ENOMEM. */
int auth_sasl_plain_decode(const char *b64, size_t n, struct buf *authzid,
	struct buf *user, struct buf *pass);

/* Verification on the libuv thread pool. Copies user and password (the
 * password copy is wiped when done) and takes a db ref. Returns 0 and
 * later calls cb(arg, result) exactly once on the loop thread, with result
 * as auth_db_verify's; or returns an error and never calls cb. *out (may
 * be NULL) receives a handle valid until cb runs or auth_job_cancel. */
struct auth_job;
int auth_verify_async(uv_loop_t *loop, struct auth_db *db, const char *user,
	const char *pass, size_t passlen, void (*cb)(void *arg, int result),
	void *arg, struct auth_job **out);
/* Call from the loop thread, before cb ran (e.g. the session is closing):
 * cb will not be called; the job frees itself once the worker finishes. */
void auth_job_cancel(struct auth_job *job);

#endif
