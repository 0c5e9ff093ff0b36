/* Users file, password hashes (known-answer vectors computed with
 * Python's hashlib.scrypt / hashlib.pbkdf2_hmac), SASL decoding, and
 * verification on the thread pool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <uv.h>

#include "auth.h"
#include "check.h"

/* hashlib.scrypt(b'correct horse battery staple', salt=b'sesrelay-kat-sal',
 *                n=16384, r=8, p=1, dklen=32) */
#define KAT_SCRYPT "$scrypt$N=16384,r=8,p=1$c2VzcmVsYXkta2F0LXNhbA==$FjXzABYkgux7FGUXnm1o1YMLyhoeOoQrfJAdmAxtCrE="
/* same password and salt, n=1024, r=4, p=2, dklen=24 */
#define KAT_SCRYPT2 "$scrypt$N=1024,r=4,p=2$c2VzcmVsYXkta2F0LXNhbA==$TPpEAnfb+2c2QShdVGG0lsVWFzEcUUp2"
/* hashlib.pbkdf2_hmac('sha256', 'pässwörd'.encode(), b'0123456789abcdef', 10000, 32) */
#define KAT_PBKDF2 "$pbkdf2-sha256$10000$MDEyMzQ1Njc4OWFiY2RlZg==$JOUI+PDl6IKz7XzgSqg3b4CApuXExkk5ZlYy5QWfFGE="
#define KAT_PASS "correct horse battery staple"

static char tmpdir[256];

static const char *write_users(const char *name, const char *text)
{
	static char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

static int verify(const struct auth_db *db, const char *u, const char *p)
{
	return auth_db_verify(db, u, p, strlen(p));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_b64(void)
{
	static const struct { const char *in; const char *out; size_t outlen; } good[] = {
		{ "", "", 0 }, { "=", "", 0 }, { "Zm9v", "foo", 3 }, { "Zm9vYg==", "foob", 4 },
		{ "Zm9vYmE=", "fooba", 5 }, { "AGFsaWNlAHNlY3JldA==", "\0alice\0secret", 13 },
		{ "+/+/", "\xfb\xff\xbf", 3 },
	};
	static const char *const bad[] = {
		"Zm9", "Zm9v\r\n", "Zm 9v", " Zm9v", "Zm9vY===", "Zm=v", "Zm9vYh==", "Zm9vYmF=",
		"====", "A===", "Zm9-", "Zm9_", "==", "Zm9v=", "*",
	};
	struct buf b = BUF_INIT;
	char *big;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		buf_reset(&b);
		CHECK_INT(auth_b64_decode(good[i].in, strlen(good[i].in), &b), 0);
		CHECK_MEM(b.data ? b.data : "", b.len, good[i].out, good[i].outlen);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		if (auth_b64_decode(bad[i], strlen(bad[i]), &b) != -EINVAL) {
			fprintf(stderr, "accepted bad base64 \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
	/* embedded NUL in the text */
	CHECK_INT(auth_b64_decode("Zm\0v", 4, &b), -EINVAL);
	/* bounded */
	big = malloc(AUTH_SASL_MAX_B64 + 4);
	memset(big, 'A', AUTH_SASL_MAX_B64 + 4);
	buf_reset(&b);
	CHECK_INT(auth_b64_decode(big, AUTH_SASL_MAX_B64, &b), 0);
	CHECK_INT(b.len, AUTH_SASL_MAX_B64 / 4 * 3);
	CHECK_INT(auth_b64_decode(big, AUTH_SASL_MAX_B64 + 4, &b), -EINVAL);
	free(big);
	buf_free(&b);
}

static void b64(const char *raw, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw, (int)n);
}

static int plain(const char *raw, size_t n, const char *wz, const char *wu, const char *wp)
{
	char enc[4096];
	struct buf z = BUF_INIT, u = BUF_INIT, p = BUF_INIT;
	int r;

	b64(raw, n, enc);
	/* leave junk in the outputs: they must be reset */
	buf_puts(&z, "old");
	buf_puts(&u, "old");
	buf_puts(&p, "old");
	r = auth_sasl_plain_decode(enc, strlen(enc), &z, &u, &p);
	if (r == 0) {
		CHECK_MEM(z.data, z.len, wz, strlen(wz));
		CHECK_MEM(u.data, u.len, wu, strlen(wu));
		CHECK_MEM(p.data, p.len, wp, strlen(wp));
	} else {
		CHECK_INT(z.len + u.len + p.len, 0);
	}
	buf_free(&z);
	buf_free(&u);
	buf_free_secret(&p);
	return r;
}

#define P(lit) lit, sizeof(lit) - 1

static void test_sasl_plain(void)
{
	char longuser[300 + 20];
	struct buf z = BUF_INIT, u = BUF_INIT, p = BUF_INIT;

	CHECK_INT(plain(P("\0alice\0secret"), "", "alice", "secret"), 0);
	CHECK_INT(plain(P("alice\0alice\0secret"), "alice", "alice", "secret"), 0);
	/* RFC 4616 section 4 example */
	CHECK_INT(plain(P("\0tim\0tanstaaftanstaaf"), "", "tim", "tanstaaftanstaaf"), 0);
	CHECK_INT(plain(P("\0alice\0p\xc3\xa4ss w:rd"), "", "alice", "p\xc3\xa4ss w:rd"), 0);
	CHECK_INT(plain(P("bob\0alice\0secret"), "", "", ""), -EINVAL);	/* proxy auth */
	CHECK_INT(plain(P("Alice\0alice\0secret"), "", "", ""), -EINVAL);
	CHECK_INT(plain(P("\0\0secret"), "", "", ""), -EINVAL);		/* empty user */
	CHECK_INT(plain(P("\0alice\0"), "", "", ""), -EINVAL);		/* empty password */
	CHECK_INT(plain(P("\0alice\0sec\0ret"), "", "", ""), -EINVAL);	/* extra NUL */
	CHECK_INT(plain(P("alice\0secret"), "", "", ""), -EINVAL);		/* one NUL */
	CHECK_INT(plain(P("alicesecret"), "", "", ""), -EINVAL);
	CHECK_INT(plain(P("\0"), "", "", ""), -EINVAL);
	/* "\0" + user of 255 or 256 bytes + "\0pw" */
	memset(longuser, 'u', sizeof(longuser));
	longuser[0] = '\0';
	memcpy(longuser + 1 + AUTH_MAX_USER_LEN, "\0pw", 3);
	CHECK_INT(plain(longuser, 1 + AUTH_MAX_USER_LEN + 3, "", longuser + 1, "pw"), 0);
	memcpy(longuser + 1 + AUTH_MAX_USER_LEN, "u\0pw", 4);
	CHECK_INT(plain(longuser, 1 + AUTH_MAX_USER_LEN + 4, "", "", ""), -EINVAL);

	CHECK_INT(auth_sasl_plain_decode("not base64!", 11, &z, &u, &p), -EINVAL);
	CHECK_INT(auth_sasl_plain_decode("AGFsaWNlAHNlY3JldA", 18, &z, &u, &p), -EINVAL);
	CHECK_INT(auth_sasl_plain_decode("=", 1, &z, &u, &p), -EINVAL);
	CHECK_INT(auth_sasl_plain_decode("AGFsaWNlAHNlY3JldA==", 20, &z, &u, &p), 0);
	CHECK_STR(u.data, "alice");
	CHECK_STR(p.data, "secret");
	buf_free(&z);
	buf_free(&u);
	buf_free_secret(&p);
}

static void test_db(void)
{
	struct auth_db *db = NULL;
	char err[512];
	const char *path;
	double t0, t_known, t_unknown;

	path = write_users("users", "# users of the relay\n"
		"\n"
		"   # indented comment\n"
		"alice:" KAT_SCRYPT "\n"
		"bob:" KAT_PBKDF2 "\r\n"
		"carol@example.com:" KAT_SCRYPT2);	/* no final newline */
	CHECK_INT(auth_db_load(path, &db, err, sizeof(err)), 0);
	if (db == NULL) {
		fprintf(stderr, "load: %s\n", err);
		exit(1);
	}
	CHECK_INT(auth_db_count(db), 3);

	CHECK_INT(verify(db, "alice", KAT_PASS), 0);
	CHECK_INT(verify(db, "alice", "correct horse battery stapl"), -EACCES);
	CHECK_INT(verify(db, "alice", "correct horse battery staple "), -EACCES);
	CHECK_INT(verify(db, "alice", ""), -EACCES);
	CHECK_INT(verify(db, "Alice", KAT_PASS), -EACCES);
	CHECK_INT(auth_db_verify(db, "alice", KAT_PASS "\0x", sizeof(KAT_PASS) + 1), -EACCES);
	CHECK_INT(verify(db, "bob", "p\xc3\xa4ssw\xc3\xb6rd"), 0);
	CHECK_INT(verify(db, "bob", "password"), -EACCES);
	CHECK_INT(verify(db, "carol@example.com", KAT_PASS), 0);
	CHECK_INT(verify(db, "carol@example.com", "x"), -EACCES);

	/* Unknown users cost a KDF run too: no user enumeration by timing. */
	/* Best of three each, so a busy machine doesn't skew one sample;
	 * without the dummy run the unknown user would take microseconds. */
	t_known = t_unknown = 1e9;
	for (int i = 0; i < 3; i++) {
		double t;
		t0 = now();
		CHECK_INT(verify(db, "alice", "wrong"), -EACCES);
		t = now() - t0;
		t_known = t < t_known ? t : t_known;
		t0 = now();
		CHECK_INT(verify(db, "mallory", KAT_PASS), -EACCES);
		t = now() - t0;
		t_unknown = t < t_unknown ? t : t_unknown;
	}
	fprintf(stderr, "verify: known %.1f ms, unknown %.1f ms\n", t_known * 1e3, t_unknown * 1e3);
	CHECK(t_unknown > t_known * 0.25);
	CHECK_INT(verify(db, "", KAT_PASS), -EACCES);

	/* A reference keeps the users alive after the loader's unref. */
	{
		struct auth_db *ref = auth_db_ref(db);
		auth_db_unref(db);
		CHECK_INT(verify(ref, "bob", "p\xc3\xa4ssw\xc3\xb6rd"), 0);
		auth_db_unref(ref);
	}
	auth_db_unref(NULL);
}

static void test_hash_roundtrip(void)
{
	struct buf h1 = BUF_INIT, h2 = BUF_INIT, file = BUF_INIT;
	struct auth_db *db = NULL;
	char err[512];
	static const char pw[] = "s3cr\xc3\xa9t \t:$#";

	CHECK_INT(auth_hash_password(pw, strlen(pw), &h1), 0);
	CHECK_INT(auth_hash_password(pw, strlen(pw), &h2), 0);
	CHECK(strncmp(h1.data, "$scrypt$N=16384,r=8,p=1$", 24) == 0);
	/* 16-byte salt and 32-byte key, base64 */
	CHECK_INT(h1.len, 24 + 24 + 1 + 44);
	CHECK(strcmp(h1.data, h2.data) != 0);	/* fresh salt each time */
	CHECK_INT(auth_hash_password("x", AUTH_MAX_PASS_LEN + 1, &h2), -EINVAL);

	buf_printf(&file, "dave:%s\nerin:%s\n", h1.data, h2.data);
	CHECK_INT(auth_db_load(write_users("users2", file.data), &db, err, sizeof(err)), 0);
	if (db) {
		CHECK_INT(verify(db, "dave", pw), 0);
		CHECK_INT(verify(db, "erin", pw), 0);
		CHECK_INT(verify(db, "dave", "s3cret"), -EACCES);
		auth_db_unref(db);
	}
	buf_free(&h1);
	buf_free(&h2);
	buf_free(&file);
}

static void bad_file(const char *text, const char *want)
{
	struct auth_db *db = (struct auth_db *)1;
	char err[512] = "";
	int r = auth_db_load(write_users("bad", text), &db, err, sizeof(err));

	CHECK_INT(r, -EINVAL);
	CHECK(db == NULL);
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
		CHECK(0);
	}
}

#define GOOD "alice:" KAT_SCRYPT "\n# comment\n"

static void test_malformed(void)
{
	struct auth_db *db = (struct auth_db *)1;
	char err[512], *longline;
	const char *S16 = "c2VzcmVsYXkta2F0LXNhbA==", *K32 = "FjXzABYkgux7FGUXnm1o1YMLyhoeOoQrfJAdmAxtCrE=";
	char line[1024];

	CHECK_INT(auth_db_load("/nonexistent/users", &db, err, sizeof(err)), -ENOENT);
	CHECK(db == NULL);
	CHECK(strstr(err, "/nonexistent/users: cannot open") != NULL);

	bad_file(GOOD "alice\n", "bad:3: expected user:hash");
	bad_file(GOOD ":" KAT_SCRYPT "\n", "bad:3: user name");
	bad_file(GOOD " alice:" KAT_SCRYPT "\n", "bad:3: user name");
	bad_file(GOOD "al ice:" KAT_SCRYPT "\n", "bad:3: user name");
	bad_file(GOOD "bob:\n", ":3: hash must look like");
	bad_file(GOOD "bob:plaintext\n", ":3: hash must look like");
	bad_file(GOOD "bob:$md5$x$y$z\n", ":3: unknown hash scheme");
	bad_file(GOOD "bob:$scrypt$N=16384,r=8$a$b\n", ":3: scrypt parameters must be");
	bad_file(GOOD "bob:$scrypt$N=16384,r=8,p=1$c2VzcmVsYXkta2F0LXNhbA==\n", ":3: hash must look like");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=16384,r=8,p=1$%s$%s$extra\n", S16, K32);
	bad_file(line, ":3: hash must look like");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=16000,r=8,p=1$%s$%s\n", S16, K32);
	bad_file(line, ":3: scrypt N must be a power of two");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=2097152,r=1,p=1$%s$%s\n", S16, K32);
	bad_file(line, ":3: scrypt N must be a power of two");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=99999999999999999999999,r=1,p=1$%s$%s\n", S16, K32);
	bad_file(line, ":3: scrypt parameters must be");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=1048576,r=8,p=1$%s$%s\n", S16, K32);
	bad_file(line, ":3: scrypt parameters need too much memory");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=16384,r=0,p=1$%s$%s\n", S16, K32);
	bad_file(line, ":3: scrypt r or p out of range");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=16384,r=8,p=17$%s$%s\n", S16, K32);
	bad_file(line, ":3: scrypt r or p out of range");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$r=8,N=16384,p=1$%s$%s\n", S16, K32);
	bad_file(line, ":3: scrypt parameters must be");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=16384,r=8,p=1$%s$%s\n", "c2FsdA==", K32);
	bad_file(line, ":3: salt must be");	/* 4-byte salt */
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=16384,r=8,p=1$%s$%s\n", S16, "Zm9v");
	bad_file(line, ":3: key must be");
	snprintf(line, sizeof(line), GOOD "bob:$scrypt$N=16384,r=8,p=1$%s$%s\n", S16, "FjXzABYkgux7FGUXnm1o1YMLyhoeOoQrfJAdmAxtCr!=");
	bad_file(line, ":3: key must be");
	snprintf(line, sizeof(line), GOOD "bob:$pbkdf2-sha256$999$%s$%s\n", S16, K32);
	bad_file(line, ":3: pbkdf2 iterations");
	snprintf(line, sizeof(line), GOOD "bob:$pbkdf2-sha256$10000000000$%s$%s\n", S16, K32);
	bad_file(line, ":3: pbkdf2 iterations");
	snprintf(line, sizeof(line), GOOD "bob:$pbkdf2-sha256$-5$%s$%s\n", S16, K32);
	bad_file(line, ":3: pbkdf2 iterations");
	bad_file(GOOD "alice:" KAT_SCRYPT2 "\n", "user \"alice\" listed twice");

	longline = malloc(AUTH_MAX_LINE + 300);
	snprintf(longline, AUTH_MAX_LINE + 300, GOOD "\n\nbob:%0*d\n", AUTH_MAX_LINE, 0);
	bad_file(longline, ":5: line longer than 1024 bytes");
	free(longline);

	/* the longest allowed line loads */
	{
		struct buf b = BUF_INIT;
		size_t pad;
		buf_printf(&b, "u");
		pad = AUTH_MAX_LINE - 1 - 1 - strlen(KAT_SCRYPT);
		for (size_t i = 0; i < pad && i < AUTH_MAX_USER_LEN - 1; i++)
			buf_putc(&b, 'u');
		buf_printf(&b, ":%s\n", KAT_SCRYPT);
		CHECK_INT(auth_db_load(write_users("long", b.data), &db, err, sizeof(err)), 0);
		auth_db_unref(db);
		buf_free(&b);
	}
	db = NULL;
	CHECK_INT(auth_db_load(write_users("empty", "# nobody yet\n"), &db, err, sizeof(err)), 0);
	if (db) {
		CHECK_INT(auth_db_count(db), 0);
		CHECK_INT(verify(db, "alice", KAT_PASS), -EACCES);
		auth_db_unref(db);
	}
}

/* The documented example must stay a working line of the documented
 * format. */
static void test_example_file(void)
{
	char line[2048], err[512];
	struct auth_db *db = NULL;
	FILE *f = fopen(PROJECT_ROOT "/config/users.example", "r");
	int found = 0;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "#alice:", 7) == 0 && ++found)
			break;
	fclose(f);
	CHECK_INT(found, 1);
	CHECK_INT(auth_db_load(PROJECT_ROOT "/config/users.example", &db, err, sizeof(err)), 0);
	if (db) {
		CHECK_INT(auth_db_count(db), 0);	/* all commented out */
		auth_db_unref(db);
		db = NULL;
	}
	CHECK_INT(auth_db_load(write_users("example", line + 1), &db, err, sizeof(err)), 0);
	if (db) {
		CHECK_INT(verify(db, "alice", KAT_PASS), 0);
		auth_db_unref(db);
	}
}

struct result {
	int calls;
	int result;
};

static void on_verified(void *arg, int result)
{
	struct result *r = arg;

	r->calls++;
	r->result = result;
}

static void test_async(void)
{
	uv_loop_t loop;
	struct auth_db *db = NULL;
	struct auth_job *job = NULL, *j2 = NULL;
	struct result ok = { 0, 99 }, bad = { 0, 99 }, cancelled = { 0, 99 }, nouser = { 0, 99 };
	char err[512], pass[64];

	CHECK_INT(uv_loop_init(&loop), 0);
	CHECK_INT(auth_db_load(write_users("users3", GOOD), &db, err, sizeof(err)), 0);
	if (db == NULL)
		exit(1);
	strcpy(pass, KAT_PASS);
	CHECK_INT(auth_verify_async(&loop, db, "alice", pass, strlen(pass), on_verified, &ok, &job), 0);
	CHECK(job != NULL);
	/* The job has its own copies: the caller's buffers can go away. */
	memset(pass, 'x', sizeof(pass) - 1);
	CHECK_INT(auth_verify_async(&loop, db, "alice", "wrong", 5, on_verified, &bad, NULL), 0);
	CHECK_INT(auth_verify_async(&loop, db, "nobody", "wrong", 5, on_verified, &nouser, NULL), 0);
	CHECK_INT(auth_verify_async(&loop, db, "alice", KAT_PASS, strlen(KAT_PASS), on_verified, &cancelled, &j2), 0);
	/* A reload may drop the db while jobs still run. */
	auth_db_unref(db);
	auth_job_cancel(j2);
	CHECK_INT(ok.calls, 0);	/* never synchronously */
	CHECK_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
	CHECK_INT(ok.calls, 1);
	CHECK_INT(ok.result, 0);
	CHECK_INT(bad.calls, 1);
	CHECK_INT(bad.result, -EACCES);
	CHECK_INT(nouser.calls, 1);
	CHECK_INT(nouser.result, -EACCES);
	CHECK_INT(cancelled.calls, 0);
	CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_auth.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_b64();
	test_sasl_plain();
	test_db();
	test_hash_roundtrip();
	test_malformed();
	test_async();
	test_example_file();
	{
		static const char *const names[] = { "users", "users2", "users3", "bad", "long", "empty", "example" };
		char p[512];
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
			unlink(p);
		}
		rmdir(tmpdir);
	}
	return check_report();
}
