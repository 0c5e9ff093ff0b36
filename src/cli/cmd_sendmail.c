/* `sesrelay sendmail` (also run as `sesrelay-sendmail`): the sendmail
 * command line that cron, PHP's mail() and git send-email speak, turned
 * into one SMTP submission to the relay. Exit codes are sendmail's
 * sysexits, which those callers check:
 *
 *   0 accepted; EX_USAGE bad options or no recipients; EX_DATAERR a bad
 *   address, an unparsable header or a 5xx for the message;
 *   EX_NOPERM a 5xx refusing the sender or client (5.7.x); EX_TEMPFAIL
 *   a 4xx or the relay unreachable; EX_PROTOCOL a malformed reply;
 *   EX_IOERR reading the message; EX_CONFIG a bad configuration.
 */
#include <errno.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "commands.h"
#include "config.h"
#include "listener.h"
#include "sendmail_msg.h"
#include "smtp_parse.h"
#include "smtp_submit.h"
#include "version.h"

#define DEFAULT_CONFIG SESRELAY_SYSCONFDIR "/sesrelay/sesrelay.conf"
/* Seconds per read or write: the final reply waits for SES (with its
 * retries), RFC 5321 §4.5.3.2.6 gives the end of data 10 minutes. */
#define SUBMIT_TIMEOUT 600
#define PASSWORD_MAX 1024

static void usage(void)
{
	fprintf(stderr,
		"usage: sesrelay [--config FILE] sendmail [-t] [-i] [-f ADDR] [-F NAME]\n"
		"           [--server HOST:PORT] [--tls-ca FILE] [--auth-user USER\n"
		"           --auth-password-file FILE] [--] [RECIPIENT ...] < message\n"
		"       sesrelay-sendmail ... (the same options)\n");
}

struct args {
	struct sendmail_opts m;
	const char *server;
	const char *tls_ca;
	const char *auth_user;
	const char *auth_password_file;
	int first_rcpt;		/* index of the first recipient argument */
};

/* An option's value: the rest of this argument ("-fADDR") or the next
 * one ("-f ADDR"). NULL when missing. */
static const char *optval(int argc, char **argv, int *i, size_t skip)
{
	if (argv[*i][skip])
		return argv[*i] + skip;
	if (*i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *o = argv[i];
		const char **dst = NULL;

		if (strcmp(o, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(o, "-t") == 0)
			a->m.extract = true;
		else if (strcmp(o, "-i") == 0 || strcmp(o, "-oi") == 0)
			a->m.dot_is_data = true;
		else if (strncmp(o, "-f", 2) == 0 || strncmp(o, "-r", 2) == 0)
			dst = &a->m.env_from;
		else if (strncmp(o, "-F", 2) == 0)
			dst = &a->m.full_name;
		else if (strncmp(o, "-B", 2) == 0) {
			/* Body type (cron passes -B8BITMIME): BODY= follows the
			 * message's bytes anyway. */
			if (optval(argc, argv, &i, 2) == NULL)
				return -EINVAL;
		} else if (strcmp(o, "-bm") == 0 || strncmp(o, "-o", 2) == 0 ||
			strncmp(o, "-e", 2) == 0 || strcmp(o, "-U") == 0) {
			/* Delivery mode, queue and error-reporting options of
			 * sendmail: meaningless without a local queue. */
		} else if (strcmp(o, "--server") == 0) {
			dst = &a->server;
		} else if (strcmp(o, "--tls-ca") == 0) {
			dst = &a->tls_ca;
		} else if (strcmp(o, "--auth-user") == 0) {
			dst = &a->auth_user;
		} else if (strcmp(o, "--auth-password-file") == 0) {
			dst = &a->auth_password_file;
		} else {
			fprintf(stderr, "sesrelay sendmail: unsupported option %s\n", o);
			return -EINVAL;
		}
		/* Long options take the next argument; -fADDR or -f ADDR. */
		if (dst && (*dst = optval(argc, argv, &i, o[1] == '-' ? strlen(o) : 2)) == NULL)
			return -EINVAL;
	}
	a->first_rcpt = i;
	if (!a->auth_user != !a->auth_password_file) {
		fprintf(stderr, "sesrelay sendmail: --auth-user and --auth-password-file go together\n");
		return -EINVAL;
	}
	/* -F lands in a header field: no line breaks. */
	if (a->m.full_name && strpbrk(a->m.full_name, "\r\n")) {
		fprintf(stderr, "sesrelay sendmail: -F NAME must be one line\n");
		return -EINVAL;
	}
	return 0;
}

/* The configuration: --config/SESRELAY_CONFIG when given, else (without
 * --server, which names the relay itself) the packaged file when it
 * exists, else built-in defaults. */
static int load_config(const char *path, bool server, struct config *cfg)
{
	char err[512];
	int r;

	if (path == NULL && !server && access(DEFAULT_CONFIG, R_OK) == 0)
		path = DEFAULT_CONFIG;
	/* Without a file only the SMTP defaults matter here: the relay's own
	 * checks (role_arn for backend ses) are not sendmail's business. */
	if (path == NULL)
		return config_defaults(cfg);
	r = config_load(cfg, path, err, sizeof(err));
	if (r)
		fprintf(stderr, "sesrelay sendmail: %s\n", err);
	return r;
}

/* A listen address is where the relay binds: a wildcard means "reach it
 * on loopback". */
static void wildcard_to_loopback(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		if (in->sin_addr.s_addr == htonl(INADDR_ANY))
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
	}
}

#define MAX_ADDRS 8

/* Where the relay is: "host:port", "a.b.c.d:port" or "[v6]:port", read
 * by the listener's own address parser. A name may give several
 * addresses (localhost: ::1 and 127.0.0.1): up to MAX_ADDRS are kept, to
 * be tried in order. The host part is kept for certificate checks. */
static int resolve(const char *spec, const char *key, const char *where,
	struct sockaddr_storage *ss, size_t *nss, char *host, size_t hostlen)
{
	struct listen_spec sp = { .key = key, .addr = spec };
	struct listener_group g;
	const char *colon = strrchr(spec, ':');
	char err[512];
	size_t hl;
	int r = listener_group_init(&g, 1, &sp, 1, where, err, sizeof(err));

	if (r) {
		fprintf(stderr, "sesrelay sendmail: %s\n", err);
		return r;
	}
	r = g.naddrs ? 0 : -EINVAL;
	for (*nss = 0; *nss < g.naddrs && *nss < MAX_ADDRS; (*nss)++)
		ss[*nss] = g.addrs[*nss].ss;
	listener_group_free(&g);
	hl = (size_t)(colon - spec);	/* the parser found the colon */
	if (spec[0] == '[')
		snprintf(host, hostlen, "%.*s", (int)(hl - 2), spec + 1);
	else
		snprintf(host, hostlen, "%.*s", (int)hl, spec);
	return r;
}

static int read_all(int fd, struct buf *b, uint64_t max)
{
	for (;;) {
		ssize_t n;

		if (buf_reserve(b, 65536))
			return -ENOMEM;
		n = read(fd, b->data + b->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		if (b->len > max)
			return -EFBIG;
	}
}

/* First line of a file (the AUTH password), without its line end. */
static int read_password(const char *path, char *pw, size_t cap)
{
	FILE *f = fopen(path, "re");
	int r = 0;

	if (f == NULL)
		return -errno;
	if (fgets(pw, (int)cap, f) == NULL)
		r = -EINVAL;
	else
		pw[strcspn(pw, "\r\n")] = '\0';
	fclose(f);
	return r;
}

/* Check an address with the relay's own MAIL/RCPT parser and replace it
 * with the form that parser gives (a domain as A-labels), so nothing the
 * relay would refuse, and no line break, reaches the SMTP dialogue. */
static int normalize_addr(char **a, bool sender)
{
	struct buf b = BUF_INIT;
	const struct smtp_reply *err;
	struct smtp_mail m;
	char *copy;
	int r;

	if (buf_printf(&b, sender ? "FROM:<%s>" : "TO:<%s>", *a))
		return -ENOMEM;
	if (sender) {
		r = smtp_parse_mail(b.data, b.len, &m, &err);
	} else {
		struct smtp_rcpt rc;
		r = smtp_parse_rcpt(b.data, b.len, &rc, &err);
		if (r == 0)
			memcpy(m.addr, rc.addr, sizeof(m.addr));
	}
	buf_free(&b);
	if (r)
		return r;
	if ((copy = strdup(m.addr)) == NULL)
		return -ENOMEM;
	free(*a);
	*a = copy;
	return 0;
}

/* Exit code for a reply the relay refused with. */
static int reply_exit(const struct submit_reply *rep)
{
	if (rep->code / 100 == 4)
		return EX_TEMPFAIL;
	/* "5yz 5.7.n": the sender, client or authentication is not allowed;
	 * 530/535/538 carry the same meaning without an enhanced code. */
	if (strstr(rep->text, " 5.7.") == rep->text + 3 || rep->code == 530 ||
		rep->code == 535 || rep->code == 538)
		return EX_NOPERM;
	return EX_DATAERR;
}

static int submit_exit(int r, const struct submit_reply *rep)
{
	if (r == 0)
		return 0;
	fprintf(stderr, "sesrelay sendmail: %s: %s\n", rep->step ? rep->step : "submit", rep->text);
	if (r == -EPROTO)
		return reply_exit(rep);
	if (r == -EBADMSG)
		return EX_PROTOCOL;
	if (r == -ENOMEM)
		return EX_OSERR;
	/* Unreachable relay, timeouts, TLS not verified: nothing was accepted,
	 * the caller may try again later. */
	return EX_TEMPFAIL;
}

static void fallback_sender(char *out, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());
	char host[256] = "localhost";

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(out, len, "%s@%s", pw && pw->pw_name ? pw->pw_name : "nobody", host);
}

static int run(const char *config_path, struct args *a, int argc, char **argv)
{
	struct config cfg;
	struct submission s;
	struct sockaddr_storage addrs[MAX_ADDRS];
	size_t naddrs = 0;
	struct submit_reply rep;
	struct sendmail_msg msg;
	struct buf in = BUF_INIT;
	char date[64], from[320], helo[256] = "localhost", tlshost[256] = "";
	char pw[PASSWORD_MAX] = "", err[256] = "";
	time_t now = time(NULL);
	struct tm tm;
	int r, rc;

	memset(&cfg, 0, sizeof(cfg));
	if (load_config(config_path, a->server != NULL, &cfg))
		return EX_CONFIG;
	memset(&s, 0, sizeof(s));
	if (a->server) {
		if (resolve(a->server, "--server", "command line", addrs, &naddrs, tlshost,
				sizeof(tlshost))) {
			config_free(&cfg);
			return EX_USAGE;
		}
	} else if (cfg.listen.n == 0 || resolve(cfg.listen.v[0], "listen", cfg.path, addrs,
			&naddrs, tlshost, sizeof(tlshost))) {
		if (cfg.listen.n == 0)
			fprintf(stderr, "sesrelay sendmail: no listen address configured\n");
		config_free(&cfg);
		return EX_CONFIG;
	} else {
		for (size_t i = 0; i < naddrs; i++)
			wildcard_to_loopback(&addrs[i]);
		if (strcmp(tlshost, "0.0.0.0") == 0 || strcmp(tlshost, "::") == 0)
			getnameinfo((struct sockaddr *)&addrs[0], sizeof(addrs[0]), tlshost,
				sizeof(tlshost), NULL, 0, NI_NUMERICHOST);
	}

	/* The message. Bounded by the relay's own limit: anything larger
	 * would be refused after the upload. */
	r = read_all(STDIN_FILENO, &in, cfg.max_message_size);
	if (r) {
		fprintf(stderr, "sesrelay sendmail: reading the message: %s\n", r == -EFBIG
			? "larger than max_message_size" : strerror(-r));
		rc = r == -EFBIG ? EX_DATAERR : EX_IOERR;
		goto out_in;
	}
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	fallback_sender(from, sizeof(from));
	a->m.date = date;
	a->m.fallback_from = from;
	r = sendmail_msg_build(in.data ? in.data : "", in.len, &a->m, &msg, err, sizeof(err));
	if (r) {
		fprintf(stderr, "sesrelay sendmail: %s\n", r == -EINVAL ? err : strerror(-r));
		rc = r == -EINVAL ? EX_DATAERR : EX_OSERR;
		goto out_in;
	}
	for (int i = a->first_rcpt; i < argc; i++) {
		/* An argument may itself be a list ("a@x, b@y"), as in sendmail. */
		if (sendmail_addr_list(argv[i], strlen(argv[i]), &msg.rcpts)) {
			fprintf(stderr, "sesrelay sendmail: bad recipient %s\n", argv[i]);
			rc = EX_DATAERR;
			goto out_msg;
		}
	}
	if (msg.rcpts.n == 0) {
		fprintf(stderr, "sesrelay sendmail: no recipients (give them as arguments, or -t)\n");
		rc = EX_USAGE;
		goto out_msg;
	}
	if (normalize_addr(&msg.env_from, true)) {
		fprintf(stderr, "sesrelay sendmail: bad sender address <%s>\n", msg.env_from);
		rc = EX_DATAERR;
		goto out_msg;
	}
	for (size_t i = 0; i < msg.rcpts.n; i++) {
		if (normalize_addr(&msg.rcpts.v[i], false)) {
			fprintf(stderr, "sesrelay sendmail: bad recipient address <%s>\n", msg.rcpts.v[i]);
			rc = EX_DATAERR;
			goto out_msg;
		}
	}
	if (a->auth_password_file && (r = read_password(a->auth_password_file, pw, sizeof(pw))) != 0) {
		fprintf(stderr, "sesrelay sendmail: --auth-password-file %s: %s\n",
			a->auth_password_file, r == -EINVAL ? "empty" : strerror(-r));
		rc = EX_CONFIG;
		goto out_msg;
	}

	gethostname(helo, sizeof(helo) - 1);
	helo[sizeof(helo) - 1] = '\0';
	s.helo = helo;
	/* STARTTLS whenever TLS is configured: --tls-ca, or the relay's own
	 * certificate (tls_cert) as the pinned trust anchor. */
	s.tls_ca = a->tls_ca ? a->tls_ca : cfg.tls_cert;
	s.tls = s.tls_ca != NULL;
	s.tls_pinned = !a->tls_ca && cfg.tls_cert;
	s.tls_host = tlshost[0] ? tlshost : NULL;
	s.auth_user = a->auth_user;
	s.auth_password = a->auth_user ? pw : NULL;
	s.timeout = SUBMIT_TIMEOUT;
	s.env_from = msg.env_from;
	s.rcpts = &msg.rcpts;
	s.data = &msg.data;
	/* The next address of a name only when this one did not answer. */
	for (size_t i = 0; i < naddrs; i++) {
		s.addr = addrs[i];
		r = smtp_submit(&s, &rep);
		if (r == 0 || strcmp(rep.step, "connect") != 0)
			break;
	}
	rc = submit_exit(r, &rep);
out_msg:
	sendmail_msg_free(&msg);
out_in:
	OPENSSL_cleanse(pw, sizeof(pw));
	buf_free(&in);
	config_free(&cfg);
	return rc;
}

int cmd_sendmail(const char *config_path, int argc, char **argv)
{
	struct args a;

	memset(&a, 0, sizeof(a));
	if (parse_args(argc, argv, &a)) {
		usage();
		return EX_USAGE;
	}
	return run(config_path, &a, argc, argv);
}
