/* Decoding of client SASL responses: untrusted input, so strict and
 * bounded, and every copy of a password is wiped. */
#include "auth.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static int b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '+' || c == '/';
}

static unsigned b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (unsigned)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0' + 52);
	return c == '+' ? 62u : 63u;
}

/* EVP_DecodeBlock skips blanks and decodes padding as zero bytes, so the
 * shape is checked here: length a multiple of 4, alphabet only, at most
 * two '=' and only at the end, unused bits zero (one canonical encoding
 * per value). */
int auth_b64_decode(const char *b64, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)b64;
	size_t pad = 0, dlen;
	int r;

	if (n == 1 && s[0] == '=')
		return 0;
	if (n > AUTH_SASL_MAX_B64 || n % 4 != 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char(s[i]))
			return -EINVAL;
	if (pad == 1 && (b64_value(s[n - 2]) & 0x3))
		return -EINVAL;
	if (pad == 2 && (b64_value(s[n - 3]) & 0xf))
		return -EINVAL;
	dlen = n / 4 * 3;
	if (buf_reserve(out, dlen))
		return -ENOMEM;
	r = EVP_DecodeBlock((unsigned char *)out->data + out->len, s, (int)n);
	if (r < 0 || (size_t)r != dlen) {
		OPENSSL_cleanse(out->data + out->len, dlen);
		return -EINVAL;
	}
	out->len += dlen - pad;
	out->data[out->len] = '\0';
	return 0;
}

static void wipe_reset(struct buf *b)
{
	if (b->cap)
		OPENSSL_cleanse(b->data, b->cap);
	buf_reset(b);
}

int auth_sasl_plain_decode(const char *b64, size_t n, struct buf *authzid,
	struct buf *user, struct buf *pass)
{
	struct buf d = BUF_INIT;
	const char *z, *u, *p, *nul1, *nul2;
	size_t zl, ul, pl;
	int r;

	buf_reset(authzid);
	buf_reset(user);
	wipe_reset(pass);
	/* Reserve once so no realloc leaves a stray copy of the password. */
	if (buf_reserve(&d, n / 4 * 3 + 3))
		return -ENOMEM;
	r = auth_b64_decode(b64, n, &d);
	if (r)
		goto out;
	r = -EINVAL;
	z = d.data;
	nul1 = memchr(z, '\0', d.len);
	if (nul1 == NULL)
		goto out;
	u = nul1 + 1;
	nul2 = memchr(u, '\0', d.len - (size_t)(u - z));
	if (nul2 == NULL)
		goto out;
	p = nul2 + 1;
	zl = (size_t)(nul1 - z);
	ul = (size_t)(nul2 - u);
	pl = d.len - (size_t)(p - z);
	if (memchr(p, '\0', pl) != NULL)
		goto out;
	if (ul == 0 || ul > AUTH_MAX_USER_LEN || pl == 0 || pl > AUTH_MAX_PASS_LEN)
		goto out;
	if (zl != 0 && (zl != ul || memcmp(z, u, ul) != 0))
		goto out;
	r = -ENOMEM;
	if (buf_append(authzid, z, zl) || buf_append(user, u, ul))
		goto out;
	if (pass->cap <= pl) {
		buf_free_secret(pass);
		if (buf_reserve(pass, pl))
			goto out;
	}
	if (buf_append(pass, p, pl))
		goto out;
	r = 0;
out:
	buf_free_secret(&d);
	if (r) {
		buf_reset(authzid);
		buf_reset(user);
		wipe_reset(pass);
	}
	return r;
}
