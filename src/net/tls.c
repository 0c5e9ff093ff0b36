#include "tls.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* TLS 1.2: ECDHE only. Finite-field DHE is left out rather than given a
 * bigger group: clients that offer it also offer ECDHE, and a DHE key
 * exchange costs the server far more per handshake. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

struct tls_ctx {
	atomic_int refs;
	SSL_CTX *ssl;
};

struct tls_conn {
	struct tls_ctx *ctx;
	SSL *ssl;
	BIO *rbio;		/* ciphertext from the peer; owned by ssl */
	BIO *wbio;		/* ciphertext to the peer; owned by ssl */
	int failed;		/* a fatal error happened: no more I/O */
	int closed;		/* close_notify received */
	char err[256];
};

/* Drain the thread's OpenSSL error queue into one line; the first error is
 * the reason, later ones are context OpenSSL pushed while unwinding. */
static void ssl_reason(char *out, size_t outlen)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(out, outlen, "unknown error");
	else
		ERR_error_string_n(e, out, outlen);
	ERR_clear_error();
}

int tls_ctx_load(const char *cert_file, const char *key_file,
	struct tls_ctx **out, char *err, size_t errlen)
{
	struct tls_ctx *c;
	char why[200];
	FILE *f;

	*out = NULL;
	ERR_clear_error();
	/* Say "cannot open" rather than OpenSSL's "system lib" for the
	 * common misconfiguration. */
	if ((f = fopen(cert_file, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", cert_file, strerror(errno));
		return -ENOENT;
	}
	fclose(f);
	if ((f = fopen(key_file, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", key_file, strerror(errno));
		return -ENOENT;
	}
	fclose(f);

	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->ssl = SSL_CTX_new(TLS_server_method())) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&c->refs, 1);
	if (!SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION)) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "cannot set minimum TLS version: %s", why);
		goto fail;
	}
	/* TLS 1.2: forward-secret AEAD suites only (the TLS 1.3 suites all
	 * are). The server's order decides, so an old client's odd
	 * preference cannot pick the weakest suite both support; ChaCha20
	 * still wins for a client that lists it first (no AES hardware). */
	if (!SSL_CTX_set_cipher_list(c->ssl, TLS12_CIPHERS)) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "cannot set TLS 1.2 ciphers: %s", why);
		goto fail;
	}
	SSL_CTX_set_options(c->ssl, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
	/* Renegotiation is an old DoS and injection vector; SMTP never needs
	 * it. Compression: CRIME. */
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* Resumption buys little for mail submission and would need a
	 * session id context kept stable across reloads. */
	SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(c->ssl, 0);
	/* The memory BIO takes everything we write; partial writes would only
	 * complicate tls_conn_write's contract. */
	SSL_CTX_clear_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);

	if (SSL_CTX_use_certificate_chain_file(c->ssl, cert_file) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "%s: cannot load certificate: %s", cert_file, why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ssl, key_file, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL already compares the key with the certificate here;
		 * name that case plainly, it is the usual renewal mistake. */
		int mismatch = ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH;
		ssl_reason(why, sizeof(why));
		if (mismatch)
			snprintf(err, errlen, "%s: private key does not match certificate %s: %s",
				key_file, cert_file, why);
		else
			snprintf(err, errlen, "%s: cannot load private key: %s", key_file, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ssl) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "%s: private key does not match certificate %s: %s",
			key_file, cert_file, why);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	SSL_CTX_free(c->ssl);
	free(c);
	return -EINVAL;
}

struct tls_ctx *tls_ctx_ref(struct tls_ctx *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void tls_ctx_unref(struct tls_ctx *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	SSL_CTX_free(c->ssl);
	free(c);
}

int tls_conn_new(struct tls_ctx *ctx, struct tls_conn **out)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return -ENOMEM;
	c->ssl = SSL_new(ctx->ssl);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
		SSL_free(c->ssl);
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		free(c);
		ERR_clear_error();
		return -ENOMEM;
	}
	/* An empty memory BIO must read as "retry later", not EOF. */
	BIO_set_mem_eof_return(c->rbio, -1);
	BIO_set_mem_eof_return(c->wbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_accept_state(c->ssl);
	c->ctx = tls_ctx_ref(ctx);
	*out = c;
	return 0;
}

void tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);	/* frees both BIOs and wipes record keys */
	tls_ctx_unref(c->ctx);
	free(c);
}

int tls_conn_feed(struct tls_conn *c, const char *p, size_t n)
{
	size_t done = 0;

	if (n > TLS_MAX_BUFFERED_INPUT ||
	    BIO_ctrl_pending(c->rbio) > TLS_MAX_BUFFERED_INPUT - n)
		return -ENOBUFS;
	while (done < n) {
		size_t w = 0;
		if (!BIO_write_ex(c->rbio, p + done, n - done, &w)) {
			ERR_clear_error();
			return -ENOMEM;
		}
		done += w;
	}
	return 0;
}

/* Record why the connection failed; later calls keep the first reason. */
static int fail(struct tls_conn *c, const char *what)
{
	unsigned long e = ERR_get_error();

	if (!c->failed) {
		if (e)
			ERR_error_string_n(e, c->err, sizeof(c->err));
		else
			snprintf(c->err, sizeof(c->err), "%s", what);
	}
	ERR_clear_error();
	c->failed = 1;
	return -EPROTO;
}

int tls_conn_read(struct tls_conn *c, struct buf *plain)
{
	if (c->failed)
		return -EPROTO;
	if (c->closed)
		return -ECONNRESET;
	ERR_clear_error();
	for (;;) {
		size_t got = 0;
		int r, e;

		if (buf_reserve(plain, 16384))
			return -ENOMEM;
		r = SSL_read_ex(c->ssl, plain->data + plain->len, plain->cap - plain->len - 1, &got);
		if (r == 1) {
			plain->len += got;
			plain->data[plain->len] = '\0';
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		switch (e) {
		case SSL_ERROR_WANT_READ:
			return 0;
		case SSL_ERROR_ZERO_RETURN:
			c->closed = 1;
			return -ECONNRESET;
		case SSL_ERROR_SYSCALL:
			/* With memory BIOs this means the peer's stream ended
			 * mid-record, i.e. a truncation. */
			return fail(c, "unexpected end of TLS stream");
		default:
			return fail(c, "TLS protocol error");
		}
	}
}

int tls_conn_write(struct tls_conn *c, const char *p, size_t n)
{
	size_t done = 0;

	if (c->failed || c->closed || (SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN))
		return -EPROTO;
	if (!SSL_is_init_finished(c->ssl))
		return -EAGAIN;
	ERR_clear_error();
	while (done < n) {
		size_t w = 0;
		if (SSL_write_ex(c->ssl, p + done, n - done, &w) != 1)
			return fail(c, "TLS write failed");
		done += w;
	}
	return 0;
}

int tls_conn_pending_output(struct tls_conn *c, struct buf *out)
{
	size_t pending;

	while ((pending = BIO_ctrl_pending(c->wbio)) > 0) {
		size_t got = 0;
		if (buf_reserve(out, pending))
			return -ENOMEM;
		if (!BIO_read_ex(c->wbio, out->data + out->len, pending, &got)) {
			ERR_clear_error();
			break;
		}
		out->len += got;
		out->data[out->len] = '\0';
	}
	return 0;
}

int tls_conn_handshake_done(const struct tls_conn *c)
{
	return SSL_is_init_finished(c->ssl) ? 1 : 0;
}

const char *tls_conn_version(const struct tls_conn *c)
{
	return SSL_is_init_finished(c->ssl) ? SSL_get_version(c->ssl) : "";
}

const char *tls_conn_cipher(const struct tls_conn *c)
{
	const char *n = SSL_is_init_finished(c->ssl) ? SSL_get_cipher_name(c->ssl) : NULL;

	return n ? n : "";
}

const char *tls_conn_error(const struct tls_conn *c)
{
	return c->err;
}

int tls_conn_shutdown(struct tls_conn *c)
{
	int r;

	if (c->failed)
		return -EPROTO;
	/* Before the handshake finished there is no session to close;
	 * the caller just drops the socket. */
	if (!SSL_is_init_finished(c->ssl))
		return 0;
	ERR_clear_error();
	r = SSL_shutdown(c->ssl);
	if (r < 0) {
		int e = SSL_get_error(c->ssl, r);
		/* WANT_READ: close_notify queued, peer's not seen yet. */
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return fail(c, "TLS shutdown failed");
		ERR_clear_error();
	}
	return 0;
}
