/* TLS for the SMTP front end (STARTTLS and implicit-TLS listeners).
 *
 * Pure buffer-in/buffer-out on OpenSSL memory BIOs: the caller owns the
 * socket, feeds received ciphertext in, pulls decrypted plaintext out, and
 * writes whatever tls_conn_pending_output() produces back to the socket.
 * Keeping socket I/O out of here lets the unit tests run a real client
 * handshake entirely in memory.
 *
 * Typical use per socket read:
 *	tls_conn_feed(c, data, n);
 *	r = tls_conn_read(c, &plain);     (may advance the handshake)
 *	tls_conn_pending_output(c, &out); (always, even when r < 0: alerts)
 *	write `out` to the socket; if r < 0 close after the write.
 *
 * Ownership: struct tls_ctx is refcounted (tls_ctx_load returns one ref).
 * A reload loads a fresh ctx for new connections and drops its ref to the
 * old one; connections already open hold their own ref via tls_conn_new.
 * struct tls_conn owns its SSL and both BIOs and is owned by one session;
 * it is not thread-safe, all calls come from the session's loop thread.
 */
#ifndef SESRELAY_TLS_H
#define SESRELAY_TLS_H

#include <stddef.h>

#include "buf.h"

/* Ciphertext accepted by tls_conn_feed() but not yet consumed by
 * tls_conn_read(); more than this means the caller is not reading. */
#define TLS_MAX_BUFFERED_INPUT (256u * 1024u)

struct tls_ctx;

/* Server context, TLS 1.2 and later only, certificate chain and private
 * key from PEM files. Returns 0, or -ENOENT/-EINVAL/-ENOMEM with a
 * one-line message in err naming the file and the OpenSSL reason (also
 * when the key does not match the certificate). */
int tls_ctx_load(const char *cert_file, const char *key_file,
	struct tls_ctx **out, char *err, size_t errlen);
struct tls_ctx *tls_ctx_ref(struct tls_ctx *c);
void tls_ctx_unref(struct tls_ctx *c);	/* NULL is fine */

struct tls_conn;

/* Server-side connection; takes its own reference on ctx. 0 or -ENOMEM. */
int tls_conn_new(struct tls_ctx *ctx, struct tls_conn **out);
void tls_conn_free(struct tls_conn *c);	/* NULL is fine */

/* Queue ciphertext received from the socket. 0, -ENOMEM, or -ENOBUFS when
 * more than TLS_MAX_BUFFERED_INPUT would be waiting unread. */
int tls_conn_feed(struct tls_conn *c, const char *p, size_t n);
/* Drive the handshake and decrypt: appends all plaintext available so far
 * to *plain. Returns 0 (possibly with nothing appended yet), -EPROTO on a
 * TLS error (details in tls_conn_error), -ECONNRESET once the peer sent
 * close_notify (plaintext before it is still appended), -ENOMEM. After an
 * error, flush tls_conn_pending_output (it may hold an alert) and close. */
int tls_conn_read(struct tls_conn *c, struct buf *plain);
/* Encrypt plaintext; the records become pending output. Returns 0,
 * -EAGAIN before the handshake is done, -EPROTO after an error or
 * shutdown, -ENOMEM. */
int tls_conn_write(struct tls_conn *c, const char *p, size_t n);
/* Move all pending ciphertext (handshake records, application data,
 * alerts) to the end of *out. Returns 0 or -ENOMEM. */
int tls_conn_pending_output(struct tls_conn *c, struct buf *out);
int tls_conn_handshake_done(const struct tls_conn *c);	/* 1 or 0 */
/* Negotiated protocol and cipher names for logs, e.g. "TLSv1.3" and
 * "TLS_AES_256_GCM_SHA384"; "" before the handshake. */
const char *tls_conn_version(const struct tls_conn *c);
const char *tls_conn_cipher(const struct tls_conn *c);
/* Text of the last error, "" if none. Never contains plaintext. */
const char *tls_conn_error(const struct tls_conn *c);
/* Queue close_notify (then flush pending output). 0 or -EPROTO. */
int tls_conn_shutdown(struct tls_conn *c);

#endif
