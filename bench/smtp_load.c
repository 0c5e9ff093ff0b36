/* SMTP load generator for the benchmarks: S concurrent sessions (one
 * thread each, blocking sockets), K messages per connection, M messages
 * in all, at saturation or at a fixed offered rate, optionally over
 * STARTTLS. Reports throughput and the latency of each message from the
 * end of DATA (the final ".") to the server's reply.
 *
 * At a fixed rate message i is due at start + i/rate; a session waits for
 * its message's due time, so the offered load does not follow the
 * server's speed (while sessions are free to take it).
 *
 * --idle N opens N sessions (EHLO done) from the --source addresses in
 * turn, prints "idle_ready=N", and holds them until stdin closes or
 * --max-seconds pass: the server's memory per idle session is measured
 * meanwhile.
 *
 * Output: one line of key=value pairs on stdout. Every loop is bounded by
 * the message count and by --max-seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct opts {
	const char *host;
	int port;
	unsigned sessions;
	unsigned long messages;
	unsigned long per_conn;		/* 0: all of a session's messages on one connection */
	size_t size;
	double rate;			/* msg/s; 0: as fast as replies come */
	double max_seconds;
	bool tls;
	unsigned long idle;
	char **sources;
	size_t nsources;
};

static struct opts o = {
	.host = "127.0.0.1", .sessions = 1, .messages = 1000, .per_conn = 0,
	.size = 2048, .rate = 0, .max_seconds = 60,
};

static SSL_CTX *ssl_ctx;
static char *message;			/* dot-safe body incl. the final ".\r\n" */
static size_t message_len;
static uint32_t *lat_us;		/* per message index; UINT32_MAX: not done */
static atomic_ulong next_msg;
static atomic_ulong ok_count, fail_count, conn_count;
static atomic_uint source_rr;
static double t_start, t_stop_claims;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

struct conn {
	int fd;
	SSL *ssl;
	char buf[4096];
	size_t have, off;
};

static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;

		if (c->ssl) {
			int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);

			if (r <= 0)
				return -1;
			w = r;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int conn_fill(struct conn *c)
{
	ssize_t r;

	if (c->off == c->have)
		c->off = c->have = 0;
	if (c->have == sizeof(c->buf)) {
		memmove(c->buf, c->buf + c->off, c->have - c->off);
		c->have -= c->off;
		c->off = 0;
	}
	do {
		if (c->ssl)
			r = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof(c->buf) - c->have));
		else
			r = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0);
	} while (r < 0 && errno == EINTR && !c->ssl);
	if (r <= 0)
		return -1;
	c->have += (size_t)r;
	return 0;
}

/* Read one whole reply (continuation lines "NNN-"); return its code. */
static int read_reply(struct conn *c)
{
	for (;;) {
		char *nl;

		while ((nl = memchr(c->buf + c->off, '\n', c->have - c->off)) == NULL)
			if (conn_fill(c))
				return -1;
		char *line = c->buf + c->off;
		size_t len = (size_t)(nl - line) + 1;

		c->off += len;
		if (len < 4)
			return -1;
		if (line[3] == '-')
			continue;
		return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	}
}

static int command(struct conn *c, const char *cmd, int want)
{
	if (conn_write(c, cmd, strlen(cmd)))
		return -1;
	return read_reply(c) == want ? 0 : -1;
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int conn_open(struct conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o.port) };
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (o.nsources > 0) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		inet_pton(AF_INET, o.sources[atomic_fetch_add(&source_rr, 1) % o.nsources],
			&src.sin_addr);
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)))
			goto fail;
	}
	inet_pton(AF_INET, o.host, &sa.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	atomic_fetch_add(&conn_count, 1);
	if (read_reply(c) != 220 || command(c, "EHLO load.bench.example\r\n", 250))
		goto fail;
	if (o.tls) {
		if (command(c, "STARTTLS\r\n", 220) || c->off != c->have)
			goto fail;
		c->ssl = SSL_new(ssl_ctx);
		if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd) || SSL_connect(c->ssl) != 1)
			goto fail;
		if (command(c, "EHLO load.bench.example\r\n", 250))
			goto fail;
	}
	return 0;
fail:
	conn_close(c);
	return -1;
}

static const char envelope[] =
	"MAIL FROM:<load@bench.example>\r\nRCPT TO:<sink@bench.example>\r\nDATA\r\n";

/* One transaction; returns 0 and sets *us on a 250. */
static int send_one(struct conn *c, uint32_t *us)
{
	double t0;

	if (conn_write(c, envelope, sizeof(envelope) - 1))
		return -1;
	if (read_reply(c) != 250 || read_reply(c) != 250 || read_reply(c) != 354)
		return -1;
	if (conn_write(c, message, message_len))
		return -1;
	t0 = now_s();
	if (read_reply(c) != 250)
		return -1;
	double d = (now_s() - t0) * 1e6;
	*us = d > 4e9 ? UINT32_MAX - 1 : (uint32_t)d;
	return 0;
}

static bool claim(unsigned long *idx)
{
	if (now_s() >= t_stop_claims)
		return false;
	*idx = atomic_fetch_add(&next_msg, 1);
	return *idx < o.messages;
}

static void *session(void *arg)
{
	struct conn c = { .fd = -1 };
	unsigned long idx;

	while (claim(&idx)) {
		unsigned long on_conn = 0;
		bool have = true;

		if (o.rate > 0)
			sleep_until(t_start + (double)idx / o.rate);
		if (conn_open(&c)) {
			atomic_fetch_add(&fail_count, 1);
			continue;
		}
		while (have) {
			if (o.rate > 0)
				sleep_until(t_start + (double)idx / o.rate);
			if (send_one(&c, &lat_us[idx])) {
				atomic_fetch_add(&fail_count, 1);
				conn_close(&c);
				break;
			}
			atomic_fetch_add(&ok_count, 1);
			on_conn++;
			if (o.per_conn && on_conn >= o.per_conn)
				break;
			have = claim(&idx);
		}
		if (c.fd >= 0) {
			command(&c, "QUIT\r\n", 221);
			conn_close(&c);
		}
		if (!have)
			break;
	}
	return arg;
}

static void build_message(void)
{
	size_t cap = o.size + 512;
	size_t n;

	message = malloc(cap);
	if (message == NULL)
		exit(2);
	n = (size_t)snprintf(message, cap,
		"From: <load@bench.example>\r\nTo: <sink@bench.example>\r\n"
		"Subject: sesrelay benchmark\r\nMessage-ID: <load@bench.example>\r\n"
		"Date: Thu, 26 Nov 2026 00:00:00 +0000\r\n\r\n");
	while (n + 3 < o.size) {
		size_t line = o.size - n - 3;

		if (line > 78)
			line = 78;
		if (line < 2)
			line = 2;
		for (size_t i = 0; i < line - 2; i++)
			message[n + i] = (char)('a' + (i + n) % 26);
		memcpy(message + n + line - 2, "\r\n", 2);
		n += line;
	}
	memcpy(message + n, ".\r\n", 3);
	message_len = n + 3;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)n);

	return v[i >= n ? n - 1 : i];
}

static int run_idle(void)
{
	struct conn *cs = calloc(o.idle, sizeof(*cs));
	unsigned long open = 0;
	char line[16];

	if (cs == NULL)
		return 2;
	for (unsigned long i = 0; i < o.idle && now_s() < t_stop_claims; i++) {
		if (conn_open(&cs[i]) == 0)
			open++;
		else
			cs[i].fd = -1;
	}
	printf("idle_ready=%lu\n", open);
	fflush(stdout);
	/* Hold until the caller closes stdin, within the time bound. */
	struct pollfd p = { .fd = 0, .events = POLLIN };
	while (now_s() < t_stop_claims) {
		int r = poll(&p, 1, 200);

		if (r > 0 && (read(0, line, sizeof(line)) <= 0))
			break;
	}
	unsigned long alive = 0;
	for (unsigned long i = 0; i < o.idle; i++) {
		if (cs[i].fd >= 0) {
			struct pollfd q = { .fd = cs[i].fd, .events = POLLIN };

			/* Still open: no EOF pending from the server. */
			if (poll(&q, 1, 0) == 0)
				alive++;
			close(cs[i].fd);
		}
	}
	printf("idle_open=%lu idle_alive_at_end=%lu seconds=%.3f\n", open, alive,
		now_s() - t_start);
	free(cs);
	return open == o.idle ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: smtp_load --port N [--host A] [--sessions S] [--messages M]\n"
		"  [--per-conn K] [--size BYTES] [--rate MSG_PER_S] [--max-seconds T]\n"
		"  [--tls] [--source 127.0.0.2 ...] [--idle N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	o.sources = calloc((size_t)argc, sizeof(char *));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--tls") == 0) {
			o.tls = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--host") == 0)
			o.host = v;
		else if (strcmp(a, "--port") == 0)
			o.port = atoi(v);
		else if (strcmp(a, "--sessions") == 0)
			o.sessions = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--messages") == 0)
			o.messages = strtoul(v, NULL, 10);
		else if (strcmp(a, "--per-conn") == 0)
			o.per_conn = strtoul(v, NULL, 10);
		else if (strcmp(a, "--size") == 0)
			o.size = strtoul(v, NULL, 10);
		else if (strcmp(a, "--rate") == 0)
			o.rate = strtod(v, NULL);
		else if (strcmp(a, "--max-seconds") == 0)
			o.max_seconds = strtod(v, NULL);
		else if (strcmp(a, "--idle") == 0)
			o.idle = strtoul(v, NULL, 10);
		else if (strcmp(a, "--source") == 0)
			o.sources[o.nsources++] = (char *)v;
		else
			usage();
	}
	if (o.port <= 0 || o.sessions == 0 || o.sessions > 10000 || o.size < 200 ||
		o.size > (256u << 20))
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (o.tls) {
		ssl_ctx = SSL_CTX_new(TLS_client_method());
		if (ssl_ctx == NULL)
			return 2;
		SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
	}
	t_start = now_s();
	t_stop_claims = t_start + o.max_seconds;
	if (o.idle)
		return run_idle();

	build_message();
	lat_us = malloc(o.messages * sizeof(*lat_us));
	if (lat_us == NULL)
		return 2;
	memset(lat_us, 0xff, o.messages * sizeof(*lat_us));

	pthread_t *th = calloc(o.sessions, sizeof(*th));
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (unsigned i = 0; i < o.sessions; i++)
		if (pthread_create(&th[i], &attr, session, NULL))
			return 2;
	for (unsigned i = 0; i < o.sessions; i++)
		pthread_join(th[i], NULL);
	double secs = now_s() - t_start;

	size_t n = 0;
	for (unsigned long i = 0; i < o.messages; i++)
		if (lat_us[i] != UINT32_MAX)
			lat_us[n++] = lat_us[i];
	qsort(lat_us, n, sizeof(*lat_us), cmp_u32);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("ok=%lu failed=%lu connections=%lu seconds=%.3f msgs_per_s=%.1f "
		"p50_us=%u p99_us=%u p999_us=%u max_us=%u size=%zu sessions=%u tls=%d "
		"client_cpu_s=%.3f\n",
		(unsigned long)ok_count, (unsigned long)fail_count, (unsigned long)conn_count,
		secs, (double)ok_count / secs, pct(lat_us, n, 0.50), pct(lat_us, n, 0.99),
		pct(lat_us, n, 0.999), n ? lat_us[n - 1] : 0, message_len - 3, o.sessions, o.tls,
		ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	return fail_count ? 1 : 0;
}
