/* TLS module against an OpenSSL client, both ends on memory BIOs, with a
 * certificate generated at test time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check.h"
#include "tls.h"

static char dir[256];

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static EVP_PKEY *write_key(const char *name, int rsa)
{
	char p[512];
	EVP_PKEY *k = rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
		: EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	FILE *f;

	path(p, sizeof(p), name);
	f = fopen(p, "w");
	if (k == NULL || f == NULL || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)) {
		fprintf(stderr, "cannot write key %s\n", p);
		exit(1);
	}
	fclose(f);
	return k;
}

static void write_cert(const char *name, EVP_PKEY *k)
{
	char p[512];
	X509 *x = X509_new();
	X509_NAME *nm;
	FILE *f;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"relay.test", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	if (!X509_sign(x, k, EVP_sha256())) {
		fprintf(stderr, "cannot sign cert\n");
		exit(1);
	}
	path(p, sizeof(p), name);
	f = fopen(p, "w");
	if (f == NULL || !PEM_write_X509(f, x)) {
		fprintf(stderr, "cannot write cert %s\n", p);
		exit(1);
	}
	fclose(f);
	X509_free(x);
}

static void write_file(const char *name, const char *text)
{
	char p[512];
	FILE *f;

	path(p, sizeof(p), name);
	f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

struct client {
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rbio, *wbio;
};

static void client_new_ciphers(struct client *cl, int minv, int maxv, const char *ciphers)
{
	cl->ctx = SSL_CTX_new(TLS_client_method());
	if (minv) {
		/* Protocols before 1.2 are only reachable at level 0. */
		SSL_CTX_set_security_level(cl->ctx, 0);
		SSL_CTX_set_min_proto_version(cl->ctx, minv);
	}
	if (maxv)
		SSL_CTX_set_max_proto_version(cl->ctx, maxv);
	if (minv && minv < TLS1_2_VERSION)
		SSL_CTX_set_cipher_list(cl->ctx, "DEFAULT:@SECLEVEL=0");
	if (ciphers)
		SSL_CTX_set_cipher_list(cl->ctx, ciphers);
	cl->ssl = SSL_new(cl->ctx);
	cl->rbio = BIO_new(BIO_s_mem());
	cl->wbio = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(cl->rbio, -1);
	BIO_set_mem_eof_return(cl->wbio, -1);
	SSL_set_bio(cl->ssl, cl->rbio, cl->wbio);
	SSL_set_connect_state(cl->ssl);
	SSL_set_tlsext_host_name(cl->ssl, "relay.test");
}

static void client_new(struct client *cl, int minv, int maxv)
{
	client_new_ciphers(cl, minv, maxv, NULL);
}

static void client_free(struct client *cl)
{
	SSL_free(cl->ssl);
	SSL_CTX_free(cl->ctx);
}

/* Move the client's output to the server and back, driving both sides,
 * until neither produces anything. Server plaintext lands in *plain;
 * returns the last non-zero tls_conn_read result (or 0). */
static int pump(struct client *cl, struct tls_conn *s, struct buf *plain)
{
	int last = 0;

	for (int round = 0; round < 50; round++) {
		char tmp[16384];
		size_t n = 0, moved = 0;
		struct buf out = BUF_INIT;
		int r;

		if (!SSL_is_init_finished(cl->ssl))
			SSL_do_handshake(cl->ssl);
		ERR_clear_error();
		while (BIO_read_ex(cl->wbio, tmp, sizeof(tmp), &n) && n) {
			CHECK_INT(tls_conn_feed(s, tmp, n), 0);
			moved += n;
		}
		r = tls_conn_read(s, plain);
		if (r)
			last = r;
		CHECK_INT(tls_conn_pending_output(s, &out), 0);
		if (out.len) {
			BIO_write(cl->rbio, out.data, (int)out.len);
			moved += out.len;
		}
		buf_free(&out);
		if (moved == 0)
			break;
	}
	return last;
}

/* Read whatever plaintext the client has, into *got. */
static int client_read(struct client *cl, struct buf *got)
{
	char tmp[4096];
	size_t n;
	int r;

	while ((r = SSL_read_ex(cl->ssl, tmp, sizeof(tmp), &n)) == 1)
		buf_append(got, tmp, n);
	r = SSL_get_error(cl->ssl, r);
	ERR_clear_error();
	return r;
}

static int use_rsa;

static struct tls_ctx *load_good(void)
{
	char c[512], k[512], err[512];
	struct tls_ctx *ctx = NULL;

	path(c, sizeof(c), use_rsa ? "rsa-cert.pem" : "cert.pem");
	path(k, sizeof(k), use_rsa ? "rsa-key.pem" : "key.pem");
	CHECK_INT(tls_ctx_load(c, k, &ctx, err, sizeof(err)), 0);
	if (ctx == NULL) {
		fprintf(stderr, "load: %s\n", err);
		exit(1);
	}
	return ctx;
}

static void test_roundtrip(int maxv, const char *want_version)
{
	struct tls_ctx *ctx = load_good();
	struct tls_conn *s = NULL;
	struct client cl;
	struct buf plain = BUF_INIT, got = BUF_INIT, out = BUF_INIT;
	static const char c2s[] = "EHLO client.test\r\n";
	static const char s2c[] = "250-relay.test\r\n250 AUTH PLAIN LOGIN\r\n";
	size_t n;

	CHECK_INT(tls_conn_new(ctx, &s), 0);
	/* The connection keeps the context alive, as after a reload. */
	tls_ctx_unref(ctx);
	client_new(&cl, 0, maxv);
	CHECK_INT(tls_conn_handshake_done(s), 0);
	CHECK_STR(tls_conn_version(s), "");
	CHECK_INT(tls_conn_write(s, "x", 1), -EAGAIN);

	CHECK_INT(pump(&cl, s, &plain), 0);
	CHECK_INT(SSL_is_init_finished(cl.ssl), 1);
	CHECK_INT(tls_conn_handshake_done(s), 1);
	CHECK_STR(tls_conn_version(s), want_version);
	CHECK(strlen(tls_conn_cipher(s)) > 0);
	CHECK_STR(tls_conn_cipher(s), SSL_get_cipher_name(cl.ssl));
	CHECK_STR(tls_conn_error(s), "");
	CHECK_INT(plain.len, 0);

	/* client -> server */
	CHECK_INT(SSL_write_ex(cl.ssl, c2s, strlen(c2s), &n), 1);
	CHECK_INT(pump(&cl, s, &plain), 0);
	CHECK_MEM(plain.data, plain.len, c2s, strlen(c2s));

	/* server -> client, split in two writes */
	CHECK_INT(tls_conn_write(s, s2c, 10), 0);
	CHECK_INT(tls_conn_write(s, s2c + 10, strlen(s2c) - 10), 0);
	CHECK_INT(tls_conn_pending_output(s, &out), 0);
	CHECK(out.len > strlen(s2c));
	/* ciphertext, not plaintext, goes to the socket */
	CHECK(memmem(out.data, out.len, "AUTH PLAIN", 10) == NULL);
	BIO_write(cl.rbio, out.data, (int)out.len);
	CHECK_INT(client_read(&cl, &got), SSL_ERROR_WANT_READ);
	CHECK_MEM(got.data, got.len, s2c, strlen(s2c));

	/* Large transfer, more than one record each way. */
	{
		size_t big = 100000;
		char *data = malloc(big);
		for (size_t i = 0; i < big; i++)
			data[i] = (char)('a' + i % 26);
		buf_reset(&plain);
		CHECK_INT(SSL_write_ex(cl.ssl, data, big, &n), 1);
		CHECK_INT(pump(&cl, s, &plain), 0);
		CHECK_MEM(plain.data, plain.len, data, big);
		buf_reset(&out);
		buf_reset(&got);
		CHECK_INT(tls_conn_write(s, data, big), 0);
		CHECK_INT(tls_conn_pending_output(s, &out), 0);
		BIO_write(cl.rbio, out.data, (int)out.len);
		CHECK_INT(client_read(&cl, &got), SSL_ERROR_WANT_READ);
		CHECK_MEM(got.data, got.len, data, big);
		free(data);
	}

	/* Server closes: the client sees close_notify. */
	buf_reset(&out);
	CHECK_INT(tls_conn_shutdown(s), 0);
	CHECK_INT(tls_conn_pending_output(s, &out), 0);
	CHECK(out.len > 0);
	BIO_write(cl.rbio, out.data, (int)out.len);
	CHECK_INT(client_read(&cl, &got), SSL_ERROR_ZERO_RETURN);
	CHECK_INT(tls_conn_write(s, "x", 1), -EPROTO);

	buf_free(&plain);
	buf_free(&got);
	buf_free(&out);
	client_free(&cl);
	tls_conn_free(s);
}

static void test_client_close(void)
{
	struct tls_ctx *ctx = load_good();
	struct tls_conn *s = NULL;
	struct client cl;
	struct buf plain = BUF_INIT;
	size_t n;

	CHECK_INT(tls_conn_new(ctx, &s), 0);
	client_new(&cl, 0, 0);
	CHECK_INT(pump(&cl, s, &plain), 0);
	CHECK_INT(SSL_write_ex(cl.ssl, "QUIT\r\n", 6, &n), 1);
	SSL_shutdown(cl.ssl);
	CHECK_INT(pump(&cl, s, &plain), -ECONNRESET);
	/* Data sent before close_notify is still delivered. */
	CHECK_MEM(plain.data, plain.len, "QUIT\r\n", 6);
	CHECK_INT(tls_conn_read(s, &plain), -ECONNRESET);
	buf_free(&plain);
	client_free(&cl);
	tls_conn_free(s);
	tls_ctx_unref(ctx);
}

static void test_old_protocol_refused(void)
{
	struct tls_ctx *ctx = load_good();
	struct tls_conn *s = NULL;
	struct client cl;
	struct buf plain = BUF_INIT;

	CHECK_INT(tls_conn_new(ctx, &s), 0);
	client_new(&cl, TLS1_1_VERSION, TLS1_1_VERSION);
	CHECK_INT(pump(&cl, s, &plain), -EPROTO);
	CHECK_INT(tls_conn_handshake_done(s), 0);
	CHECK_INT(SSL_is_init_finished(cl.ssl), 0);
	fprintf(stderr, "TLS 1.1 refused with: %s\n", tls_conn_error(s));
	CHECK(strstr(tls_conn_error(s), "unsupported protocol") != NULL);
	CHECK_INT(tls_conn_read(s, &plain), -EPROTO);
	CHECK_INT(plain.len, 0);
	buf_free(&plain);
	client_free(&cl);
	tls_conn_free(s);
	tls_ctx_unref(ctx);
}

/* TLS 1.2 without forward secrecy or with CBC suites is not offered. */
static void test_weak_ciphers_refused(const char *ciphers)
{
	struct tls_ctx *ctx = load_good();
	struct tls_conn *s = NULL;
	struct client cl;
	struct buf plain = BUF_INIT;

	CHECK_INT(tls_conn_new(ctx, &s), 0);
	client_new_ciphers(&cl, 0, TLS1_2_VERSION, ciphers);
	CHECK_INT(pump(&cl, s, &plain), -EPROTO);
	CHECK_INT(tls_conn_handshake_done(s), 0);
	if (strstr(tls_conn_error(s), "no shared cipher") == NULL) {
		fprintf(stderr, "%s: %s\n", ciphers, tls_conn_error(s));
		CHECK(0);
	}
	buf_free(&plain);
	client_free(&cl);
	tls_conn_free(s);
	tls_ctx_unref(ctx);
}

static void test_garbage(void)
{
	struct tls_ctx *ctx = load_good();
	struct tls_conn *s = NULL;
	struct buf plain = BUF_INIT, out = BUF_INIT;
	static const char junk[] = "EHLO not-tls.example\r\n";

	CHECK_INT(tls_conn_new(ctx, &s), 0);
	CHECK_INT(tls_conn_feed(s, junk, strlen(junk)), 0);
	CHECK_INT(tls_conn_read(s, &plain), -EPROTO);
	CHECK(strlen(tls_conn_error(s)) > 0);
	CHECK_INT(tls_conn_pending_output(s, &out), 0);
	CHECK_INT(plain.len, 0);
	CHECK_INT(tls_conn_shutdown(s), -EPROTO);
	buf_free(&plain);
	buf_free(&out);
	tls_conn_free(s);

	/* A peer that never reads can't make us buffer without bound. */
	CHECK_INT(tls_conn_new(ctx, &s), 0);
	{
		char *big = calloc(1, TLS_MAX_BUFFERED_INPUT);
		CHECK_INT(tls_conn_feed(s, big, TLS_MAX_BUFFERED_INPUT), 0);
		CHECK_INT(tls_conn_feed(s, big, 1), -ENOBUFS);
		free(big);
	}
	tls_conn_free(s);
	tls_ctx_unref(ctx);
}

static void test_load_errors(void)
{
	char c[512], k[512], k2[512], junk[512], missing[512], err[512];
	struct tls_ctx *ctx = (struct tls_ctx *)1;

	path(c, sizeof(c), "cert.pem");
	path(k, sizeof(k), "key.pem");
	path(k2, sizeof(k2), "other-key.pem");
	path(junk, sizeof(junk), "junk.pem");
	path(missing, sizeof(missing), "missing.pem");

	CHECK_INT(tls_ctx_load(missing, k, &ctx, err, sizeof(err)), -ENOENT);
	CHECK(ctx == NULL);
	CHECK(strstr(err, missing) != NULL);
	CHECK(strstr(err, "No such file") != NULL);
	CHECK_INT(tls_ctx_load(c, missing, &ctx, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, missing) != NULL);

	CHECK_INT(tls_ctx_load(junk, k, &ctx, err, sizeof(err)), -EINVAL);
	fprintf(stderr, "junk cert: %s\n", err);
	CHECK(strstr(err, junk) != NULL);
	CHECK(strstr(err, "certificate") != NULL);
	CHECK(strstr(err, "no start line") != NULL);

	CHECK_INT(tls_ctx_load(c, junk, &ctx, err, sizeof(err)), -EINVAL);
	fprintf(stderr, "junk key: %s\n", err);
	CHECK(strstr(err, junk) != NULL);
	CHECK(strstr(err, "private key") != NULL);

	/* Certificate file given as key and vice versa. */
	CHECK_INT(tls_ctx_load(k, c, &ctx, err, sizeof(err)), -EINVAL);
	CHECK(ctx == NULL);

	CHECK_INT(tls_ctx_load(c, k2, &ctx, err, sizeof(err)), -EINVAL);
	fprintf(stderr, "mismatch: %s\n", err);
	CHECK(ctx == NULL);
	CHECK(strstr(err, k2) != NULL);
	CHECK(strstr(err, "does not match") != NULL);
	CHECK(strstr(err, "values mismatch") != NULL);
}

static void rm_tree(void)
{
	static const char *const names[] = { "cert.pem", "key.pem", "other-key.pem", "junk.pem",
		"rsa-cert.pem", "rsa-key.pem" };
	char p[512];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path(p, sizeof(p), names[i]);
		unlink(p);
	}
	rmdir(dir);
}

int main(void)
{
	EVP_PKEY *k, *k2, *k3;
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/test_tls.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	k = write_key("key.pem", 0);
	write_cert("cert.pem", k);
	k2 = write_key("other-key.pem", 0);
	k3 = write_key("rsa-key.pem", 1);
	write_cert("rsa-cert.pem", k3);
	write_file("junk.pem", "this is not PEM\n");

	test_roundtrip(0, "TLSv1.3");
	test_roundtrip(TLS1_2_VERSION, "TLSv1.2");
	test_client_close();
	test_weak_ciphers_refused("AES128-SHA:AES256-GCM-SHA384");
	test_weak_ciphers_refused("ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256");
	use_rsa = 1;
	test_roundtrip(0, "TLSv1.3");
	test_roundtrip(TLS1_2_VERSION, "TLSv1.2");
	test_weak_ciphers_refused("AES128-SHA:AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA");
	use_rsa = 0;
	test_old_protocol_refused();
	test_garbage();
	test_load_errors();

	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
	rm_tree();
	return check_report();
}
