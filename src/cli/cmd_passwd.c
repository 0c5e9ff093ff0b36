/* `sesrelay passwd USER`: read a password from stdin and print the
 * users-file line for it. The password is never echoed or logged. On a
 * terminal it is asked for twice, as a typo cannot be seen. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "buf.h"
#include "commands.h"

static bool valid_user(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > AUTH_MAX_USER_LEN)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == 0x7f || c == ':')
			return false;
	}
	return true;
}

/* First line of stdin into pw (without the line end). Reads byte by byte
 * so nothing past the line sits in a stdio buffer. 0, -EINVAL when empty
 * or too long, -EIO. */
static int read_password(char *pw, size_t cap, size_t *len)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -EIO;
		if (r == 0 || c == '\n')
			break;
		if (n == cap)
			return -EINVAL;
		pw[n++] = c;
	}
	if (n && pw[n - 1] == '\r')
		n--;
	*len = n;
	return n ? 0 : -EINVAL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sesrelay passwd [--] USER   (password on stdin)\n"
		"Prints the users-file line (auth_users_file) for USER. The password is\n"
		"the first line of stdin; on a terminal it is asked for twice, without echo.\n"
		"USER: 1-%d characters, no blanks, control characters or ':'; a USER\n"
		"starting with '-' must follow --.\n", AUTH_MAX_USER_LEN);
}

/* Prompts on the terminal with echo off, reads one password. */
static int ask(const char *prompt, const char *user, char *pw, size_t cap, size_t *len)
{
	struct termios saved, quiet;
	bool echo_off = false;
	int r;

	/* Echo off before the prompt: whatever is typed after the prompt
	 * appears must be neither shown nor flushed. */
	if (tcgetattr(STDIN_FILENO, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	fprintf(stderr, "%s%s: ", prompt, user);
	fflush(stderr);
	r = read_password(pw, cap, len);
	if (echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	return r;
}

int cmd_passwd(int argc, char **argv)
{
	char pw[AUTH_MAX_PASS_LEN + 1], again[AUTH_MAX_PASS_LEN + 1];
	struct buf line = BUF_INIT;
	bool tty = isatty(STDIN_FILENO) == 1;
	const char *user;
	size_t len = 0, len2 = 0;
	int r;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	/* Anything that looks like an option is one: a user named "--help"
	 * or "-c" is far more likely a mistake than a wish. */
	if (argc == 3 && strcmp(argv[1], "--") == 0)
		user = argv[2];
	else if (argc == 2 && argv[1][0] != '-')
		user = argv[1];
	else
		user = NULL;
	if (user == NULL || !valid_user(user)) {
		usage(stderr);
		return 2;
	}
	if (tty)
		r = ask("Password for ", user, pw, sizeof(pw) - 1, &len);
	else
		r = read_password(pw, sizeof(pw) - 1, &len);
	if (r == 0 && tty) {
		r = ask("Again, password for ", user, again, sizeof(again) - 1, &len2);
		if (r == 0 && (len2 != len || CRYPTO_memcmp(pw, again, len) != 0)) {
			OPENSSL_cleanse(pw, sizeof(pw));
			OPENSSL_cleanse(again, sizeof(again));
			fprintf(stderr, "sesrelay: the passwords do not match; nothing written\n");
			return 1;
		}
		OPENSSL_cleanse(again, sizeof(again));
	}
	if (r == -EINVAL) {
		fprintf(stderr, "sesrelay: password must be 1-%d bytes on the first line of stdin\n",
			AUTH_MAX_PASS_LEN);
		OPENSSL_cleanse(pw, sizeof(pw));
		return 1;
	}
	if (r == 0)
		r = auth_hash_password(pw, len, &line);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (r) {
		fprintf(stderr, "sesrelay: cannot hash password: %s\n", strerror(-r));
		return 1;
	}
	printf("%s:%s\n", user, line.data);
	buf_free(&line);
	return fflush(stdout) == 0 ? 0 : 1;
}
