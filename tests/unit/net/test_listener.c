/* The listener on real loopback sockets, driven from this thread: the
 * client connects with a blocking connect() (the kernel completes it from
 * the backlog) and the loop is run until the accept callback has seen it,
 * so every step waits for an event, never for time.
 *
 * Covers: address specs (literals, host names, what is refused), the
 * formatting of bound and client addresses, a group's members sharing
 * member 0's real port, the caps counted across a group (a connection
 * held by member 0 counts when member 1 accepts), a group of one not
 * sharing its port, and on_closed once everything is gone. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "check.h"
#include "listener.h"
#include "log.h"

#define MAXC 16

struct seen {
	struct listener_conn *c;
	enum listener_verdict v;
	unsigned member;
};

static uv_loop_t loop;
static struct seen seen[MAXC];
static size_t nseen;
static unsigned closed_calls;
static size_t freed;

static void on_accept(void *arg, struct listener_conn *c, enum listener_verdict v)
{
	if (nseen < MAXC)
		seen[nseen++] = (struct seen){ c, v, (unsigned)(size_t)arg };
}

static void on_closed(void *arg)
{
	(void)arg;
	closed_calls++;
}

static void conn_closed(uv_handle_t *h)
{
	listener_conn_free(h->data);
	freed++;
}

static void close_seen(void)
{
	freed = 0;
	for (size_t i = 0; i < nseen; i++)
		uv_close((uv_handle_t *)&seen[i].c->tcp, conn_closed);
	while (freed < nseen)
		uv_run(&loop, UV_RUN_ONCE);
	nseen = 0;
}

static struct listener_opts opts(unsigned member)
{
	struct listener_opts o = {
		.conn_size = sizeof(struct listener_conn),
		.on_accept = on_accept,
		.accept_arg = (void *)(size_t)member,
		.on_closed = on_closed,
	};
	return o;
}

static int port_of(const char *addr)
{
	return atoi(strrchr(addr, ':') + 1);
}

/* Connect to 127.0.0.1:port and run the loop until it is accepted. */
static int dial(int port, int *local_port)
{
	struct sockaddr_in a, me;
	socklen_t len = sizeof(me);
	size_t before = nseen;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	if (local_port) {
		getsockname(fd, (struct sockaddr *)&me, &len);
		*local_port = ntohs(me.sin_port);
	}
	while (nseen == before)
		uv_run(&loop, UV_RUN_ONCE);
	return fd;
}

static int group(struct listener_group *g, unsigned n, const char *key, const char *addr,
	char *err, size_t errlen)
{
	struct listen_spec s = { key, addr, 7 };

	return listener_group_init(g, n, &s, 1, "test.conf", err, errlen);
}

static void specs(void)
{
	static const char *bad[] = {
		"localhost", "127.0.0.1", ":25", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:2x",
		"::1:25", "[::1]", "[::1]25", "[not-v6]:25", "127.0.0.1:-1", "[]:25",
	};
	struct listener_group g;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_INT(group(&g, 1, "smtps_listen", bad[i], err, sizeof(err)), -EINVAL);
		if (strstr(err, "test.conf: smtps_listen: bad address") == NULL ||
		    strstr(err, bad[i]) == NULL)
			fprintf(stderr, "spec \"%s\": %s\n", bad[i], err);
		CHECK(strstr(err, "smtps_listen: bad address") != NULL);
	}
	CHECK_INT(group(&g, 2, "listen", "127.0.0.1:25", err, sizeof(err)), 0);
	CHECK_INT(g.naddrs, 1);
	CHECK_INT(g.addrs[0].tag, 7);
	CHECK(!g.addrs[0].from_name);
	CHECK_INT(listener_group_bound(&g), 0);
	listener_group_free(&g);

	/* A name: every address it has, from /etc/hosts, no DNS. */
	CHECK_INT(group(&g, 1, "listen", "localhost:2525", err, sizeof(err)), 0);
	CHECK(g.naddrs >= 1);
	{
		bool v4 = false;
		for (size_t i = 0; i < g.naddrs; i++) {
			char s[LISTENER_ADDR_LEN];
			listener_format_addr((struct sockaddr *)&g.addrs[i].ss, s, sizeof(s));
			v4 |= strcmp(s, "127.0.0.1:2525") == 0;
			CHECK(g.addrs[i].from_name);
		}
		CHECK(v4);
	}
	listener_group_free(&g);
}

static void formatting(void)
{
	struct sockaddr_storage ss;
	char s[LISTENER_ADDR_LEN];
	int port;
	bool v6;

	CHECK_INT(uv_ip4_addr("192.0.2.7", 587, (struct sockaddr_in *)&ss), 0);
	listener_format_addr((struct sockaddr *)&ss, s, sizeof(s));
	CHECK_STR(s, "192.0.2.7:587");
	listener_format_peer((struct sockaddr *)&ss, s, sizeof(s), &port, &v6);
	CHECK_STR(s, "192.0.2.7");
	CHECK_INT(port, 587);
	CHECK(!v6);
	CHECK_INT(uv_ip6_addr("2001:db8::1", 25, (struct sockaddr_in6 *)&ss), 0);
	listener_format_addr((struct sockaddr *)&ss, s, sizeof(s));
	CHECK_STR(s, "[2001:db8::1]:25");
	listener_format_peer((struct sockaddr *)&ss, s, sizeof(s), &port, &v6);
	CHECK_STR(s, "2001:db8::1");
	CHECK_INT(port, 25);
	CHECK(v6);
	memset(&ss, 0, sizeof(ss));
	listener_format_peer((struct sockaddr *)&ss, s, sizeof(s), &port, &v6);
	CHECK_STR(s, "unknown");
	CHECK_INT(port, 0);
}

/* Member 0 holds two connections; member 1 then takes every new one
 * (member 0 stopped accepting) and counts member 0's. */
static void caps_across_a_group(bool per_ip)
{
	struct listener_group g;
	struct listener l0, l1;
	struct listener_opts o0 = opts(0), o1 = opts(1);
	char err[256];
	int fds[4], port, lport;

	CHECK_INT(group(&g, 2, "listen", "127.0.0.1:0", err, sizeof(err)), 0);
	CHECK_INT(listener_init(&l0, &loop, &g, 0, &o0, err, sizeof(err)), 0);
	listener_set_caps(&l0, per_ip ? 100 : 3, per_ip ? 3 : 100);
	port = port_of(listener_addr(&l0, 0));
	CHECK(port > 0);
	CHECK_INT(listener_group_bound(&g), 1);
	fds[0] = dial(port, &lport);
	fds[1] = dial(port, NULL);
	CHECK_INT(nseen, 2);
	CHECK_INT(seen[0].member, 0);
	CHECK_INT(seen[0].v, LISTENER_ADMIT);
	CHECK_INT(seen[1].v, LISTENER_ADMIT);
	CHECK_STR(seen[0].c->addr, "127.0.0.1");
	CHECK_INT(seen[0].c->port, lport);
	CHECK(!seen[0].c->ipv6);
	CHECK_INT(seen[0].c->tag, 7);
	CHECK_INT(seen[0].c->peer.ss_family, AF_INET);

	/* Member 1 binds member 0's real port (SO_REUSEPORT). */
	CHECK_INT(listener_init(&l1, &loop, &g, 1, &o1, err, sizeof(err)), 0);
	listener_set_caps(&l1, per_ip ? 100 : 3, per_ip ? 3 : 100);
	CHECK_STR(listener_addr(&l1, 0), listener_addr(&l0, 0));
	CHECK(listener_addr(&l1, 1) == NULL);
	listener_close(&l0);		/* its two connections stay */
	CHECK_INT(closed_calls, 0);
	fds[2] = dial(port, NULL);
	fds[3] = dial(port, NULL);
	CHECK_INT(nseen, 4);
	CHECK_INT(seen[2].member, 1);
	CHECK_INT(seen[3].member, 1);
	CHECK_INT(seen[2].v, LISTENER_ADMIT);
	CHECK_INT(seen[3].v, per_ip ? LISTENER_OVER_PER_IP : LISTENER_OVER_TOTAL);
	CHECK_INT(g.nconns, 4);
	CHECK_INT(l0.nconns, 2);
	CHECK_INT(l1.nconns, 2);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	close_seen();
	CHECK_INT(g.nconns, 0);
	CHECK_INT(closed_calls, 1);	/* l0: closed and empty */
	listener_close(&l1);
	while (uv_run(&loop, UV_RUN_NOWAIT))
		;
	CHECK_INT(closed_calls, 2);
	listener_free(&l0);
	listener_free(&l1);
	listener_group_free(&g);
	closed_calls = 0;
}

/* Without a group to share with, the port is not shared. */
static void group_of_one_does_not_share(void)
{
	struct listener_group g1, g2;
	struct listener l1, l2;
	struct listener_opts o = opts(0);
	char err[256], spec[64];

	CHECK_INT(group(&g1, 1, "listen", "127.0.0.1:0", err, sizeof(err)), 0);
	CHECK_INT(listener_init(&l1, &loop, &g1, 0, &o, err, sizeof(err)), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port_of(listener_addr(&l1, 0)));
	CHECK_INT(group(&g2, 1, "metrics_listen", spec, err, sizeof(err)), 0);
	CHECK_INT(listener_init(&l2, &loop, &g2, 0, &o, err, sizeof(err)), UV_EADDRINUSE);
	CHECK(strstr(err, "metrics_listen: cannot listen on 127.0.0.1:") != NULL);
	listener_free(&l2);		/* right away after a failed init */
	listener_group_free(&g2);
	listener_close(&l1);
	while (uv_run(&loop, UV_RUN_NOWAIT))
		;
	CHECK_INT(closed_calls, 1);
	listener_free(&l1);
	listener_group_free(&g1);
	closed_calls = 0;
}

/* "localhost:0": bound, and reachable on 127.0.0.1. */
static void host_name_listens(void)
{
	struct listener_group g;
	struct listener l;
	struct listener_opts o = opts(0);
	char err[256];
	const char *a;
	int fd = -1;

	CHECK_INT(group(&g, 1, "listen", "localhost:0", err, sizeof(err)), 0);
	CHECK_INT(listener_init(&l, &loop, &g, 0, &o, err, sizeof(err)), 0);
	CHECK(listener_group_bound(&g) >= 1);
	for (size_t i = 0; (a = listener_addr(&l, i)) != NULL; i++)
		if (strncmp(a, "127.0.0.1:", 10) == 0)
			fd = dial(port_of(a), NULL);
	CHECK(fd >= 0);
	CHECK_INT(nseen, 1);
	CHECK_INT(seen[0].v, LISTENER_ADMIT);
	close(fd);
	close_seen();
	listener_close(&l);
	while (uv_run(&loop, UV_RUN_NOWAIT))
		;
	CHECK_INT(closed_calls, 1);
	listener_free(&l);
	listener_group_free(&g);
	closed_calls = 0;
}

int main(void)
{
	log_setup(LOG_FORMAT_LOGFMT, LVL_ERROR, false);
	CHECK_INT(uv_loop_init(&loop), 0);
	specs();
	formatting();
	caps_across_a_group(false);
	caps_across_a_group(true);
	group_of_one_does_not_share();
	host_name_listens();
	CHECK_INT(uv_loop_close(&loop), 0);
	return check_report();
}
