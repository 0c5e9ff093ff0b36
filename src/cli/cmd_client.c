/* `sesrelay client NAME --senders LIST ...`: a clients-file line for a new
 * application with a fresh API key pair (SigV4 access key id and secret
 * from the system's random source), validated by the clients file's own
 * parser before it is printed. The secret is printed once, to stdout, and
 * wiped from memory; it is never logged. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "buf.h"
#include "clients.h"
#include "commands.h"

#define KEY_ID_PREFIX "SRLY"
#define KEY_ID_RANDOM 16		/* base32 characters after the prefix (80 bits) */
#define SECRET_LEN 40			/* as long as an AWS secret access key (238 bits) */

static void usage(FILE *f)
{
	fprintf(f, "usage: sesrelay client NAME --senders ADDR|@DOMAIN[,...] [--no-key]\n"
		"           [--password-hash HASH] [--configuration-set NAME [--force-configuration-set]]\n"
		"           [--tags NAME=VALUE[,...]]\n"
		"Prints a clients_file line; unless --no-key, with a fresh API key pair\n"
		"(key_id= and secret=) for the application's AWS SDK. HASH is the part\n"
		"after ':' of `sesrelay passwd NAME`, for SMTP AUTH.\n");
}

/* n characters of alphabet chosen uniformly by rejection sampling. */
static int random_text(char *out, size_t n, const char *alphabet)
{
	size_t an = strlen(alphabet), limit = 256 - 256 % an;

	for (size_t i = 0; i < n;) {
		unsigned char b[64];
		if (RAND_bytes(b, sizeof(b)) != 1)
			return -EIO;
		for (size_t k = 0; k < sizeof(b) && i < n; k++)
			if (b[k] < limit)
				out[i++] = alphabet[b[k] % an];
		OPENSSL_cleanse(b, sizeof(b));
	}
	out[n] = '\0';
	return 0;
}

int cmd_client(int argc, char **argv)
{
	const char *name = NULL, *senders = NULL, *hash = NULL, *cs = NULL, *tags = NULL;
	bool force = false, key = true;
	char key_id[sizeof(KEY_ID_PREFIX) + KEY_ID_RANDOM], secret[SECRET_LEN + 1], err[512];
	struct buf line = BUF_INIT;
	struct clients *check = NULL;
	int r;

	for (int i = 1; i < argc; i++) {
		const char **dst = NULL;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--senders") == 0) {
			dst = &senders;
		} else if (strcmp(argv[i], "--password-hash") == 0) {
			dst = &hash;
		} else if (strcmp(argv[i], "--configuration-set") == 0) {
			dst = &cs;
		} else if (strcmp(argv[i], "--tags") == 0) {
			dst = &tags;
		} else if (strcmp(argv[i], "--force-configuration-set") == 0) {
			force = true;
		} else if (strcmp(argv[i], "--no-key") == 0) {
			key = false;
		} else if (argv[i][0] != '-' && name == NULL) {
			name = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
		if (dst) {
			if (i + 1 >= argc) {
				usage(stderr);
				return 2;
			}
			*dst = argv[++i];
		}
	}
	if (name == NULL || senders == NULL || (force && cs == NULL)) {
		usage(stderr);
		return 2;
	}
	memcpy(key_id, KEY_ID_PREFIX, sizeof(KEY_ID_PREFIX) - 1);
	if (key && (random_text(key_id + sizeof(KEY_ID_PREFIX) - 1, KEY_ID_RANDOM,
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") ||
			random_text(secret, SECRET_LEN,
				"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))) {
		fprintf(stderr, "sesrelay: no random bytes from the system\n");
		return 1;
	}
	r = buf_printf(&line, "%s", name);
	if (r == 0 && hash)
		r = buf_printf(&line, " password=%s", hash);
	if (r == 0 && key)
		r = buf_printf(&line, " key_id=%s secret=%s", key_id, secret);
	if (r == 0)
		r = buf_printf(&line, " senders=%s", senders);
	if (r == 0 && cs)
		r = buf_printf(&line, " configuration_set=%s%s", cs,
			force ? " force_configuration_set=yes" : "");
	if (r == 0 && tags)
		r = buf_printf(&line, " tags=%s", tags);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (r == 0)
		r = clients_parse(line.data, line.len, "client", &check, err, sizeof(err));
	clients_unref(check);
	if (r == 0) {
		printf("%s\n", line.data);
		r = fflush(stdout) == 0 ? 0 : -EIO;
	} else if (r == -EINVAL) {
		/* "client:1: why": the arguments, not a file, are at fault */
		const char *why = strchr(err, ' ');
		fprintf(stderr, "sesrelay: %s\n", why ? why + 1 : err);
		buf_free_secret(&line);
		return 2;
	}
	buf_free_secret(&line);
	return r ? 1 : 0;
}
