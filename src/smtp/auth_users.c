/* The users file (auth_users_file): loading, password hashing and verification. */
#include "auth.h"
#include "clients.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define SALT_LEN 16
#define KEY_LEN 32
#define DEFAULT_N 16384u
#define DEFAULT_R 8u
#define DEFAULT_P 1u
#define MIN_SALT 8
#define MAX_SALT 64
#define MIN_KEY 16
#define MAX_KEY 64

enum kdf_kind { KDF_SCRYPT, KDF_PBKDF2_SHA256 };

struct user {
	char *name;
	enum kdf_kind kind;
	uint64_t n;		/* scrypt N, or PBKDF2 iterations */
	uint32_t r, p;		/* scrypt only */
	unsigned char salt[MAX_SALT];
	size_t salt_len;
	unsigned char key[MAX_KEY];
	size_t key_len;
};

struct auth_db {
	atomic_int refs;
	struct user *users;	/* sorted by name, each owned */
	size_t n;
};

static int derive(const struct user *u, const char *pass, size_t passlen,
	unsigned char *out, size_t outlen)
{
	OSSL_PARAM params[7], *pp = params;
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;
	uint64_t n = u->n;
	uint32_t r = u->r, p = u->p;
	uint64_t maxmem = AUTH_SCRYPT_MAX_MEM + (1u << 20);
	unsigned iter = (unsigned)u->n;
	int rc;

	kdf = EVP_KDF_fetch(NULL, u->kind == KDF_SCRYPT ? "SCRYPT" : "PBKDF2", NULL);
	if (kdf == NULL)
		return -ENOMEM;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return -ENOMEM;
	/* An empty password is legal input; OpenSSL wants a non-NULL pointer. */
	*pp++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
		(void *)(passlen ? pass : ""), passlen);
	*pp++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		(void *)u->salt, u->salt_len);
	if (u->kind == KDF_SCRYPT) {
		*pp++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
		*pp++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
		*pp++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
		*pp++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	} else {
		*pp++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
		*pp++ = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter);
	}
	*pp = OSSL_PARAM_construct_end();
	rc = EVP_KDF_derive(kctx, out, outlen, params);
	EVP_KDF_CTX_free(kctx);
	if (rc != 1) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

/* base64 of a salt or key field inside a hash: the strict SASL decoder,
 * into a fixed buffer. */
static int field_decode(const char *s, size_t n, unsigned char *out, size_t min,
	size_t max, size_t *outlen)
{
	struct buf b = BUF_INIT;
	int r = n ? auth_b64_decode(s, n, &b) : -EINVAL;

	if (r == 0 && (b.len < min || b.len > max))
		r = -EINVAL;
	if (r == 0) {
		memcpy(out, b.data, b.len);
		*outlen = b.len;
	}
	buf_free_secret(&b);
	return r;
}

static int parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = v;
	return 0;
}

/* "N=16384,r=8,p=1", exactly that order. */
static int parse_scrypt_params(const char *s, size_t n, struct user *u, const char **why)
{
	const char *end = s + n, *c1, *c2;
	uint64_t N, r, p;

	*why = "scrypt parameters must be N=<n>,r=<r>,p=<p>";
	c1 = memchr(s, ',', n);
	c2 = c1 ? memchr(c1 + 1, ',', (size_t)(end - c1 - 1)) : NULL;
	if (c2 == NULL || n < 2 || memcmp(s, "N=", 2) != 0 ||
	    end - c1 < 3 || memcmp(c1 + 1, "r=", 2) != 0 ||
	    end - c2 < 3 || memcmp(c2 + 1, "p=", 2) != 0)
		return -EINVAL;
	if (parse_u64(s + 2, (size_t)(c1 - s - 2), UINT64_MAX >> 1, &N) ||
	    parse_u64(c1 + 3, (size_t)(c2 - c1 - 3), 1000000, &r) ||
	    parse_u64(c2 + 3, (size_t)(end - c2 - 3), 1000000, &p))
		return -EINVAL;
	if (N < 2 || (N & (N - 1)) != 0 || N > AUTH_SCRYPT_MAX_N) {
		*why = "scrypt N must be a power of two between 2 and 1048576";
		return -EINVAL;
	}
	if (r < 1 || r > AUTH_SCRYPT_MAX_R || p < 1 || p > AUTH_SCRYPT_MAX_P) {
		*why = "scrypt r or p out of range";
		return -EINVAL;
	}
	if (128 * N * r > AUTH_SCRYPT_MAX_MEM) {
		*why = "scrypt parameters need too much memory (128*N*r > 256 MiB)";
		return -EINVAL;
	}
	u->n = N;
	u->r = (uint32_t)r;
	u->p = (uint32_t)p;
	return 0;
}

/* Split "$id$params$salt$key" and fill u; *why explains a rejection. */
static int parse_hash(const char *h, struct user *u, const char **why)
{
	const char *f[4];
	size_t fl[4];
	const char *p = h;

	*why = "hash must look like $scrypt$N=..,r=..,p=..$salt$key";
	if (*p != '$')
		return -EINVAL;
	p++;
	for (int i = 0; i < 4; i++) {
		const char *d = strchr(p, '$');
		f[i] = p;
		fl[i] = d ? (size_t)(d - p) : strlen(p);
		if ((i < 3) != (d != NULL))
			return -EINVAL;
		p = d ? d + 1 : p + fl[i];
	}
	if (fl[0] == 6 && memcmp(f[0], "scrypt", 6) == 0) {
		u->kind = KDF_SCRYPT;
		if (parse_scrypt_params(f[1], fl[1], u, why))
			return -EINVAL;
	} else if (fl[0] == 13 && memcmp(f[0], "pbkdf2-sha256", 13) == 0) {
		u->kind = KDF_PBKDF2_SHA256;
		if (parse_u64(f[1], fl[1], AUTH_PBKDF2_MAX_ITER, &u->n) ||
		    u->n < AUTH_PBKDF2_MIN_ITER) {
			*why = "pbkdf2 iterations must be a number between 1000 and 10000000";
			return -EINVAL;
		}
	} else {
		*why = "unknown hash scheme (expected $scrypt$ or $pbkdf2-sha256$)";
		return -EINVAL;
	}
	if (field_decode(f[2], fl[2], u->salt, MIN_SALT, MAX_SALT, &u->salt_len)) {
		*why = "salt must be base64 of 8 to 64 bytes";
		return -EINVAL;
	}
	if (field_decode(f[3], fl[3], u->key, MIN_KEY, MAX_KEY, &u->key_len)) {
		*why = "key must be base64 of 16 to 64 bytes";
		return -EINVAL;
	}
	*why = NULL;
	return 0;
}

static bool valid_user_name(const char *s, size_t n)
{
	if (n == 0 || n > AUTH_MAX_USER_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f || c == ':')
			return false;
	}
	return true;
}

static int user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct user *)a)->name, ((const struct user *)b)->name);
}

static void db_free(struct auth_db *db)
{
	for (size_t i = 0; i < db->n; i++)
		free(db->users[i].name);
	if (db->users)
		OPENSSL_cleanse(db->users, db->n * sizeof(*db->users));
	free(db->users);
	free(db);
}

int auth_db_load(const char *path, struct auth_db **out, char *err, size_t errlen)
{
	char line[AUTH_MAX_LINE + 2];
	struct auth_db *db;
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	*out = NULL;
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -ENOENT;
	}
	db = calloc(1, sizeof(*db));
	if (db == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&db->refs, 1);
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		const char *why = NULL;
		struct user u;
		char *colon, *s;

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%u: line longer than %u bytes", path, lineno, AUTH_MAX_LINE);
			r = -EINVAL;
			goto done;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (strlen(line) != len) {
			snprintf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			r = -EINVAL;
			goto done;
		}
		s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		colon = strchr(line, ':');
		memset(&u, 0, sizeof(u));
		if (colon == NULL)
			why = "expected user:hash";
		else if (!valid_user_name(line, (size_t)(colon - line)))
			why = "user name must be 1-255 characters without blanks, controls or ':'";
		else
			parse_hash(colon + 1, &u, &why);
		if (why == NULL && db->n == AUTH_MAX_USERS)
			why = "too many users";
		if (why) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			r = -EINVAL;
			goto done;
		}
		if (db->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct user *nu = realloc(db->users, ncap * sizeof(*nu));
			if (nu == NULL)
				goto nomem;
			db->users = nu;
			cap = ncap;
		}
		u.name = strndup(line, (size_t)(colon - line));
		if (u.name == NULL)
			goto nomem;
		db->users[db->n++] = u;
		OPENSSL_cleanse(&u, sizeof(u));
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		r = -EIO;
		goto done;
	}
	if (db->n)
		qsort(db->users, db->n, sizeof(*db->users), user_cmp);
	for (size_t i = 1; i < db->n; i++) {
		if (strcmp(db->users[i - 1].name, db->users[i].name) == 0) {
			snprintf(err, errlen, "%s: user \"%s\" listed twice", path, db->users[i].name);
			r = -EINVAL;
			goto done;
		}
	}
	goto done;
nomem:
	snprintf(err, errlen, "out of memory");
	r = -ENOMEM;
done:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (r) {
		db_free(db);
		return r;
	}
	*out = db;
	return 0;
}

int auth_db_add_clients(struct auth_db **dbp, const struct clients *c, char *err, size_t errlen)
{
	struct auth_db *db = *dbp;
	size_t add = 0;

	for (size_t i = 0; i < clients_count(c); i++)
		add += clients_at(c, i)->password_hash != NULL;
	if (add == 0)
		return 0;
	if (db == NULL) {
		db = calloc(1, sizeof(*db));
		if (db == NULL)
			return -ENOMEM;
		atomic_init(&db->refs, 1);
		*dbp = db;
	}
	{
		struct user *nu = realloc(db->users, (db->n + add) * sizeof(*nu));
		if (nu == NULL)
			return -ENOMEM;
		db->users = nu;
	}
	for (size_t i = 0; i < clients_count(c); i++) {
		const struct client *cl = clients_at(c, i);
		const char *why = NULL;
		struct user u;

		if (cl->password_hash == NULL)
			continue;
		memset(&u, 0, sizeof(u));
		parse_hash(cl->password_hash, &u, &why);
		if (why) {
			snprintf(err, errlen, "client \"%s\": password: %s", cl->name, why);
			return -EINVAL;
		}
		u.name = strdup(cl->name);
		if (u.name == NULL)
			return -ENOMEM;
		db->users[db->n++] = u;
		OPENSSL_cleanse(&u, sizeof(u));
	}
	qsort(db->users, db->n, sizeof(*db->users), user_cmp);
	for (size_t i = 1; i < db->n; i++)
		if (strcmp(db->users[i - 1].name, db->users[i].name) == 0) {
			snprintf(err, errlen, "\"%s\" is both a user and a client", db->users[i].name);
			return -EINVAL;
		}
	return 0;
}

struct auth_db *auth_db_ref(struct auth_db *db)
{
	atomic_fetch_add(&db->refs, 1);
	return db;
}

void auth_db_unref(struct auth_db *db)
{
	if (db && atomic_fetch_sub(&db->refs, 1) == 1)
		db_free(db);
}

size_t auth_db_count(const struct auth_db *db)
{
	return db->n;
}

int auth_db_verify(const struct auth_db *db, const char *user,
	const char *pass, size_t passlen)
{
	static const struct user dummy = {
		.kind = KDF_SCRYPT, .n = DEFAULT_N, .r = DEFAULT_R, .p = DEFAULT_P,
		.salt_len = SALT_LEN, .key_len = KEY_LEN,
	};
	const struct user *u = NULL;
	unsigned char key[MAX_KEY];
	int r;

	if (user && db->n) {
		struct user k = { .name = (char *)user };
		u = bsearch(&k, db->users, db->n, sizeof(*db->users), user_cmp);
	}
	if (passlen > AUTH_MAX_PASS_LEN)
		u = NULL;
	/* Unknown users cost the same default scrypt run as real ones. */
	r = derive(u ? u : &dummy, pass, passlen, key, u ? u->key_len : KEY_LEN);
	if (r == 0)
		r = u && CRYPTO_memcmp(key, u->key, u->key_len) == 0 ? 0 : -EACCES;
	OPENSSL_cleanse(key, sizeof(key));
	return r == -EIO ? -EACCES : r;
}

int auth_hash_password(const char *pass, size_t len, struct buf *out)
{
	struct user u = {
		.kind = KDF_SCRYPT, .n = DEFAULT_N, .r = DEFAULT_R, .p = DEFAULT_P,
		.salt_len = SALT_LEN, .key_len = KEY_LEN,
	};
	unsigned char key[KEY_LEN];
	char salt64[4 * ((SALT_LEN + 2) / 3) + 1], key64[4 * ((KEY_LEN + 2) / 3) + 1];
	int r;

	if (len > AUTH_MAX_PASS_LEN)
		return -EINVAL;
	if (RAND_bytes(u.salt, SALT_LEN) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	r = derive(&u, pass, len, key, KEY_LEN);
	if (r == 0) {
		EVP_EncodeBlock((unsigned char *)salt64, u.salt, SALT_LEN);
		EVP_EncodeBlock((unsigned char *)key64, key, KEY_LEN);
		r = buf_printf(out, "$scrypt$N=%u,r=%u,p=%u$%s$%s",
			DEFAULT_N, DEFAULT_R, DEFAULT_P, salt64, key64);
	}
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(key64, sizeof(key64));
	return r;
}
