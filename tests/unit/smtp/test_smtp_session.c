/* The SMTP front end in-process: a real listener on 127.0.0.1 (port 0)
 * with the outbox back end, driven by a blocking client on another thread.
 * Covers what the protocol scripts cannot see from outside: the session
 * code under the sanitizers with a client vanishing mid-commit, and the
 * shutdown path answering an idle client. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <uv.h>

#include "delivery.h"
#include "listener.h"
#include "log.h"
#include "outbox.h"
#include "runtime.h"
#include "smtp_server.h"
#include "check.h"

static int port;
static char outdir[256];
static uv_async_t stop_async;

static int dial(void)
{
	struct sockaddr_in a;
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void say(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Read until `count` final reply lines (code + space) have arrived or EOF. */
static size_t replies(int fd, char *buf, size_t cap, int count)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len + 1 < cap) {
		int finals = 0;
		ssize_t r;
		for (char *line = buf; *line; ) {
			char *e = strstr(line, "\r\n");
			if (e == NULL)
				break;
			if (e - line >= 4 && line[3] == ' ')
				finals++;
			line = e + 2;
		}
		if (finals >= count)
			break;
		r = read(fd, buf + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
	}
	return len;
}

static int count_outbox(void)
{
	DIR *d = opendir(outdir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void *client(void *arg)
{
	char buf[8192];
	int fd;

	(void)arg;
	/* 1. a whole transaction in one write */
	fd = dial();
	CHECK(fd >= 0);
	replies(fd, buf, sizeof(buf), 1);
	CHECK(strncmp(buf, "220 test.example ", 17) == 0);
	say(fd, "EHLO c.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
		"RCPT TO:<bad>\r\nDATA\r\n");
	replies(fd, buf, sizeof(buf), 5);
	CHECK(strstr(buf, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n501 5.1.3 ") != NULL);
	CHECK(strstr(buf, "354 ") != NULL);
	CHECK(strstr(buf, "250-PIPELINING\r\n") != NULL);
	CHECK(strstr(buf, "250-CHUNKING\r\n") != NULL);
	say(fd, "Subject: x\r\n\r\n..dot\r\nbare\n.\nQUIT\r\n.\r\nNOOP\r\n");
	replies(fd, buf, sizeof(buf), 2);
	CHECK(strncmp(buf, "550 5.6.2 ", 10) == 0);
	CHECK(strstr(buf, "\r\n250 2.0.0 Ok\r\n") != NULL);
	say(fd, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT 5\r\nab\r\nc");
	replies(fd, buf, sizeof(buf), 3);
	CHECK(strstr(buf, "250 2.0.0 5 octets received\r\n") != NULL);
	say(fd, "BDAT 2 LAST\r\nd\n");
	replies(fd, buf, sizeof(buf), 1);
	CHECK(strncmp(buf, "550 5.6.2 ", 10) == 0);	/* bare LF in the last chunk */
	say(fd, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT 4 LAST\r\nhi\r\n");
	replies(fd, buf, sizeof(buf), 3);
	CHECK(strstr(buf, "250 2.0.0 Ok ") != NULL);
	say(fd, "QUIT\r\n");
	replies(fd, buf, sizeof(buf), 1);
	CHECK(strncmp(buf, "221 2.0.0 ", 10) == 0);
	close(fd);
	CHECK_INT(count_outbox(), 1);

	/* 2. the client vanishes around the commit: here for the sanitizers
	 * (no callback into a freed session, no leak). What must happen then
	 * (no reply, stored once, the next client served) is asserted where
	 * the back end can be held mid-commit: test_ses_e2e.py,
	 * VanishedClientTest. */
	for (int i = 0; i < 20; i++) {
		fd = dial();
		say(fd, "EHLO c.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
			"DATA\r\nhello\r\n.\r\n");
		if (i % 2)
			usleep(1000);
		close(fd);
	}
	fd = dial();
	replies(fd, buf, sizeof(buf), 1);
	say(fd, "EHLO c.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
		"DATA\r\n");
	replies(fd, buf, sizeof(buf), 4);
	CHECK(strstr(buf, "354 End data with <CR><LF>.<CR><LF>\r\n") != NULL);
	say(fd, "hello\r\n.\r\nQUIT\r\n");	/* after the 354 (RFC 2920 §3.1) */
	replies(fd, buf, sizeof(buf), 2);
	CHECK(strncmp(buf, "250 2.0.0 Ok ", 13) == 0);
	close(fd);

	/* 3. shutdown answers an idle client */
	fd = dial();
	replies(fd, buf, sizeof(buf), 1);
	say(fd, "EHLO c.example\r\n");
	replies(fd, buf, sizeof(buf), 1);
	uv_async_send(&stop_async);
	replies(fd, buf, sizeof(buf), 1);
	CHECK(strncmp(buf, "421 4.3.2 ", 10) == 0);
	close(fd);
	return NULL;
}

static struct listener_group group;
static struct listener lis;
static struct smtp_server srv;

/* What the relay does on SIGTERM, without its drain timer. */
static void on_stop(uv_async_t *a)
{
	uv_close((uv_handle_t *)a, NULL);
	smtp_server_shutdown(&srv, false);
	listener_close(&lis);
}

int main(void)
{
	char dir[] = "/tmp/sesrelay-session-XXXXXX", conf[300], err[512];
	struct runtime *rt;
	struct backend *be;
	struct listen_spec *specs;
	struct listener_opts o = { 0 };
	size_t nspecs;
	uv_loop_t loop;
	pthread_t th;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	log_setup(LOG_FORMAT_LOGFMT, LVL_ERROR, false);
	if (mkdtemp(dir) == NULL)
		return 77;
	snprintf(outdir, sizeof(outdir), "%s/outbox", dir);
	snprintf(conf, sizeof(conf), "%s/test.conf", dir);
	f = fopen(conf, "w");
	fprintf(f, "listen 127.0.0.1:0\nbackend outbox\noutbox_dir %s\nhostname test.example\n"
		"log_level warn\n", outdir);
	fclose(f);
	CHECK_INT(runtime_load(conf, &rt, err, sizeof(err)), 0);
	uv_loop_init(&loop);
	CHECK_INT(outbox_new(rt->cfg.outbox_dir, &loop, &be, err, sizeof(err)), 0);
	CHECK_INT(smtp_server_listen_specs(rt, &specs, &nspecs), 0);
	CHECK_INT(listener_group_init(&group, 1, specs, nspecs, conf, err, sizeof(err)), 0);
	free(specs);
	smtp_server_listener_opts(&srv, &o);
	CHECK_INT(listener_init(&lis, &loop, &group, 0, &o, err, sizeof(err)), 0);
	smtp_server_init(&srv, &loop, &lis, rt, be, -1);
	port = atoi(strrchr(listener_addr(&lis, 0), ':') + 1);
	CHECK(port > 0);
	uv_async_init(&loop, &stop_async, on_stop);
	pthread_create(&th, NULL, client, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	CHECK_INT(uv_loop_close(&loop), 0);
	smtp_server_free(&srv);
	listener_free(&lis);
	listener_group_free(&group);
	backend_free(be);
	runtime_unref(rt);
	{
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return check_report();
}
