#include "smtp_submit.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; the relay's own
 * lines carry SES messages and can be longer, so be generous but bounded. */
#define REPLY_LINE_MAX 4096
#define REPLY_LINES_MAX 100

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char in[REPLY_LINE_MAX];
	size_t inlen;
	/* EHLO keywords the server offered */
	bool starttls, auth_plain, size, eightbit;
};

static int fail(struct submit_reply *rep, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct submit_reply *rep, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->text, sizeof(rep->text), fmt, ap);
	va_end(ap);
	return r;
}

static int tls_error(struct submit_reply *rep, struct conn *c, const char *what)
{
	unsigned long e = ERR_get_error();
	long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	char msg[256];

	ERR_error_string_n(e, msg, sizeof(msg));
	ERR_clear_error();
	if (v != X509_V_OK)
		return fail(rep, -EACCES, "%s: certificate not verified: %s", what,
			X509_verify_cert_error_string(v));
	return fail(rep, -EACCES, "%s: %s", what, e ? msg : "connection closed");
}

static int io_errno(ssize_t n)
{
	if (n == 0)
		return -ECONNRESET;
	return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
}

static int write_all(struct conn *c, const char *p, size_t n, struct submit_reply *rep)
{
	while (n > 0) {
		ssize_t w;

		if (c->ssl) {
			int k = SSL_write(c->ssl, p, n > (1u << 30) ? 1 << 30 : (int)n);
			if (k <= 0)
				return tls_error(rep, c, "write");
			w = k;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int r = io_errno(w);
				return fail(rep, r, "write: %s", strerror(-r));
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fill(struct conn *c, struct submit_reply *rep)
{
	ssize_t n;

	if (c->inlen == sizeof(c->in))
		return fail(rep, -EBADMSG, "reply line longer than %d octets", REPLY_LINE_MAX);
	if (c->ssl) {
		int k = SSL_read(c->ssl, c->in + c->inlen, (int)(sizeof(c->in) - c->inlen));
		if (k <= 0)
			return tls_error(rep, c, "read");
		n = k;
	} else {
		do
			n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			int r = io_errno(n);
			return fail(rep, r, "read: %s", r == -ECONNRESET
				? "connection closed by the server" : strerror(-r));
		}
	}
	c->inlen += (size_t)n;
	return 0;
}

/* One reply, all its lines: "ddd-text" ... "ddd text". rep->text gets the
 * lines' text (with codes) joined by "\n". */
static int read_reply(struct conn *c, struct submit_reply *rep)
{
	size_t out = 0;

	rep->code = 0;
	rep->text[0] = '\0';
	for (int lines = 0; lines < REPLY_LINES_MAX; lines++) {
		char *nl;
		size_t n, used;
		int code, r;
		bool more;

		while ((nl = memchr(c->in, '\n', c->inlen)) == NULL)
			if ((r = fill(c, rep)) != 0)
				return r;
		n = (size_t)(nl - c->in);
		if (n && c->in[n - 1] == '\r')
			n--;
		if (n < 3 || !isdigit((unsigned char)c->in[0]) || !isdigit((unsigned char)c->in[1])
			|| !isdigit((unsigned char)c->in[2]) || (n > 3 && c->in[3] != ' ' && c->in[3] != '-'))
			return fail(rep, -EBADMSG, "malformed reply line: %.*s", (int)(n > 80 ? 80 : n), c->in);
		code = (c->in[0] - '0') * 100 + (c->in[1] - '0') * 10 + (c->in[2] - '0');
		if (rep->code && code != rep->code)
			return fail(rep, -EBADMSG, "reply lines with different codes");
		rep->code = code;
		if (out + n + 2 < sizeof(rep->text)) {
			if (out)
				rep->text[out++] = '\n';
			memcpy(rep->text + out, c->in, n);
			out += n;
			rep->text[out] = '\0';
		}
		if (n > 3 && c->in[3] == '-') {
			/* EHLO keywords: the text after "250-" on each line. */
			const char *k = c->in + 4;
			size_t kl = n - 4;
			if (kl >= 8 && strncasecmp(k, "STARTTLS", 8) == 0)
				c->starttls = true;
			else if (kl >= 4 && strncasecmp(k, "SIZE", 4) == 0)
				c->size = true;
			else if (kl >= 8 && strncasecmp(k, "8BITMIME", 8) == 0)
				c->eightbit = true;
			else if (kl >= 5 && strncasecmp(k, "AUTH ", 5) == 0) {
				char mechs[256];
				snprintf(mechs, sizeof(mechs), " %.*s ", (int)(kl - 5 > 250 ? 250 : kl - 5), k + 5);
				for (char *p = mechs; *p; p++)
					*p = (char)toupper((unsigned char)*p);
				if (strstr(mechs, " PLAIN "))
					c->auth_plain = true;
			}
		}
		more = n > 3 && c->in[3] == '-';
		used = (size_t)(nl + 1 - c->in);
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
		if (!more)
			return 0;
	}
	return fail(rep, -EBADMSG, "reply longer than %d lines", REPLY_LINES_MAX);
}

/* Send a command, read its reply, insist on the `want` class (2 or 3). */
static int step(struct conn *c, struct submit_reply *rep, const char *name, int want,
	const char *cmd, size_t len)
{
	int r;

	rep->step = name;
	if (cmd && (r = write_all(c, cmd, len, rep)) != 0)
		return r;
	if ((r = read_reply(c, rep)) != 0)
		return r;
	return rep->code / 100 == want ? 0 : -EPROTO;
}

static int ehlo(struct conn *c, const struct submission *s, struct submit_reply *rep)
{
	char cmd[300];
	int n = snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", s->helo);

	c->starttls = c->auth_plain = c->size = c->eightbit = false;
	return step(c, rep, "EHLO", 2, cmd, (size_t)n);
}

static int start_tls(struct conn *c, const struct submission *s, struct submit_reply *rep)
{
	unsigned char ip[16];
	bool is_ip = s->tls_host && (inet_pton(AF_INET, s->tls_host, ip) == 1
		|| inet_pton(AF_INET6, s->tls_host, ip) == 1);
	int r;

	rep->step = "STARTTLS";
	if (!c->starttls)
		return fail(rep, -EACCES, "the relay does not offer STARTTLS, but TLS is configured");
	if ((r = step(c, rep, "STARTTLS", 2, "STARTTLS\r\n", 10)) != 0)
		return r;
	if (c->inlen)	/* bytes before the handshake could be injected: refuse */
		return fail(rep, -EBADMSG, "data after the STARTTLS reply");
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (s->tls_ca) {
		if (SSL_CTX_load_verify_locations(c->ctx, s->tls_ca, NULL) != 1)
			return tls_error(rep, c, s->tls_ca);
		/* The relay's own (often self-signed) leaf certificate is the
		 * trust anchor, not necessarily a root. */
		X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(c->ctx), X509_V_FLAG_PARTIAL_CHAIN);
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		return tls_error(rep, c, "system certificate store");
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return -ENOMEM;
	if (!s->tls_pinned && s->tls_host) {
		if (is_ip)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), s->tls_host);
		else if (SSL_set1_host(c->ssl, s->tls_host) != 1)
			return -ENOMEM;
	}
	if (s->tls_host && !is_ip)
		SSL_set_tlsext_host_name(c->ssl, s->tls_host);
	if (SSL_connect(c->ssl) != 1)
		return tls_error(rep, c, "TLS handshake");
	return ehlo(c, s, rep);
}

static int auth_plain(struct conn *c, const struct submission *s, struct submit_reply *rep)
{
	size_t ul = strlen(s->auth_user), pl = strlen(s->auth_password);
	size_t rawlen = ul + pl + 2, b64len = 4 * ((rawlen + 2) / 3);
	char *raw = malloc(rawlen), *cmd = malloc(b64len + 16);
	int r = -ENOMEM;

	rep->step = "AUTH";
	if (raw && cmd) {
		raw[0] = '\0';
		memcpy(raw + 1, s->auth_user, ul);
		raw[ul + 1] = '\0';
		memcpy(raw + ul + 2, s->auth_password, pl);
		memcpy(cmd, "AUTH PLAIN ", 11);
		EVP_EncodeBlock((unsigned char *)cmd + 11, (unsigned char *)raw, (int)rawlen);
		memcpy(cmd + 11 + b64len, "\r\n", 2);
		r = step(c, rep, "AUTH", 2, cmd, 11 + b64len + 2);
	}
	/* The password, plain and encoded, must not linger in freed memory. */
	if (raw)
		OPENSSL_cleanse(raw, rawlen);
	if (cmd)
		OPENSSL_cleanse(cmd, b64len + 16);
	free(raw);
	free(cmd);
	return r;
}

static bool has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return true;
	return false;
}

static int envelope(struct conn *c, const struct submission *s, struct submit_reply *rep)
{
	struct buf cmd = BUF_INIT;
	int r;

	r = buf_printf(&cmd, "MAIL FROM:<%s>", s->env_from);
	if (r == 0 && c->size)
		r = buf_printf(&cmd, " SIZE=%zu", s->data->len);
	if (r == 0 && c->eightbit && has_8bit(s->data->data, s->data->len))
		r = buf_puts(&cmd, " BODY=8BITMIME");
	if (r == 0)
		r = buf_puts(&cmd, "\r\n");
	if (r == 0)
		r = step(c, rep, "MAIL FROM", 2, cmd.data, cmd.len);
	for (size_t i = 0; r == 0 && i < s->rcpts->n; i++) {
		buf_reset(&cmd);
		r = buf_printf(&cmd, "RCPT TO:<%s>\r\n", s->rcpts->v[i]);
		if (r == 0)
			r = step(c, rep, "RCPT TO", 2, cmd.data, cmd.len);
	}
	buf_free(&cmd);
	return r;
}

/* DATA: the message dot-stuffed (RFC 5321 §4.5.2), then ".". */
static int data(struct conn *c, const struct submission *s, struct submit_reply *rep)
{
	struct buf out = BUF_INIT;
	const char *p = s->data->data, *end = p + s->data->len;
	int r = step(c, rep, "DATA", 3, "DATA\r\n", 6);

	while (r == 0 && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;

		if (*p == '.')
			r = buf_putc(&out, '.');
		if (r == 0)
			r = buf_append(&out, p, (size_t)(next - p));
		p = next;
	}
	if (r == 0 && (out.len < 2 || memcmp(out.data + out.len - 2, "\r\n", 2) != 0))
		r = buf_append(&out, "\r\n", 2);
	if (r == 0)
		r = buf_append(&out, ".\r\n", 3);
	if (r == 0) {
		rep->step = "end of data";
		r = write_all(c, out.data, out.len, rep);
	}
	if (r == 0)
		r = step(c, rep, "end of data", 2, NULL, 0);
	buf_free(&out);
	return r;
}

int smtp_submit(const struct submission *s, struct submit_reply *rep)
{
	struct conn c;
	struct timeval tv = { .tv_sec = s->timeout };
	socklen_t alen = s->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		: sizeof(struct sockaddr_in);
	int r;

	memset(&c, 0, sizeof(c));
	memset(rep, 0, sizeof(*rep));
	rep->step = "connect";
	c.fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c.fd < 0)
		return fail(rep, -errno, "socket: %s", strerror(errno));
	/* Bounds connect(), every read and every write. */
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c.fd, (const struct sockaddr *)&s->addr, alen) != 0) {
		r = errno == EINPROGRESS || errno == EAGAIN ? -ETIMEDOUT : -errno;
		fail(rep, r, "connect: %s", strerror(-r));
		goto out;
	}
	r = step(&c, rep, "greeting", 2, NULL, 0);
	if (r == 0)
		r = ehlo(&c, s, rep);
	if (r == 0 && s->tls)
		r = start_tls(&c, s, rep);
	if (r == 0 && s->auth_user) {
		if (!c.auth_plain)
			r = fail(rep, -EACCES, "the relay does not offer AUTH PLAIN%s",
				c.ssl ? "" : " without TLS");
		else
			r = auth_plain(&c, s, rep);
	}
	if (r == 0)
		r = envelope(&c, s, rep);
	if (r == 0)
		r = data(&c, s, rep);
	if (r == 0 || r == -EPROTO) {
		/* Say goodbye; the answer changes nothing. */
		struct submit_reply bye;
		memset(&bye, 0, sizeof(bye));
		step(&c, &bye, "QUIT", 2, "QUIT\r\n", 6);
	}
out:
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	SSL_CTX_free(c.ctx);
	close(c.fd);
	return r;
}
