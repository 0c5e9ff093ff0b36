/* HTTP client against a real loopback HTTP/1.1 server (tests/integration/http_peer.py,
 * Python's http.server) started as a child process. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <uv.h>

#include "check.h"
#include "aws_call.h"
#include "aws_request.h"
#include "http_client.h"

static uv_loop_t *loop;
static struct http_client *client;
static char base[64];

struct result {
	bool done;
	int error;
	long status;
	char body[1024];
	size_t body_len;
	char errtype[64];
	int sent_body;
};

static int pending;

static void on_done(void *arg, const struct http_response *res)
{
	struct result *r = arg;

	CHECK(!r->done);
	r->done = true;
	r->error = res->error;
	r->status = res->status;
	r->sent_body = res->sent_body;
	r->body_len = res->body.len;
	if (res->body.len) {
		size_t n = res->body.len < sizeof(r->body) - 1 ? res->body.len : sizeof(r->body) - 1;
		memcpy(r->body, res->body.data, n);
		r->body[n] = '\0';
	}
	if (res->amzn_error_type)
		snprintf(r->errtype, sizeof(r->errtype), "%s", res->amzn_error_type);
	pending--;
}

static void deadline_cb(uv_timer_t *t)
{
	(void)t;
	fprintf(stderr, "deadline hit with %d pending\n", pending);
	uv_stop(loop);
}

/* Run the loop until no call is pending (bounded by a deadline). */
static void run_until_done(void)
{
	uv_timer_t dl;

	uv_timer_init(loop, &dl);
	uv_timer_start(&dl, deadline_cb, 20000, 0);
	uv_unref((uv_handle_t *)&dl);
	while (pending > 0 && uv_run(loop, UV_RUN_ONCE))
		;
	if (pending > 0)
		uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&dl, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static int send_req(const char *method, const char *path, const char *body,
	unsigned timeout_ms, size_t cap, struct result *r, struct http_call **out)
{
	static const char *const headers[] = { "Content-Type: text/plain", NULL };
	char url[256];
	struct http_request req = {
		.method = method, .url = url, .headers = headers,
		.body = body, .body_len = body ? strlen(body) : 0,
		.timeout_ms = timeout_ms, .max_response = cap,
	};
	int rc;

	snprintf(url, sizeof(url), "%s%s", base, path);
	memset(r, 0, sizeof(*r));
	rc = http_client_send(client, &req, on_done, r, out);
	if (rc == 0)
		pending++;
	return rc;
}

static char tls_base[64], tls_ca[256];

static pid_t start_peer(int *stdin_fd, bool tls)
{
	int in[2], outp[2];
	pid_t pid;
	char line[256] = "";
	FILE *f;

	if (pipe(in) || pipe(outp))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(outp[1], 1);
		close(in[1]);
		close(outp[0]);
		execlp("python3", "python3", PROJECT_ROOT "/tests/integration/http_peer.py",
			tls ? "--tls" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	/* The first all-digit line is the port; anything else (a warning
	 * from a python launcher) is skipped. */
	f = fdopen(outp[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (line[0] >= '0' && line[0] <= '9' && atoi(line) > 0)
			break;
		line[0] = '\0';
	}
	if (f)
		fclose(f);
	if (line[0] == '\0')
		return -1;
	if (tls) {
		char *sp = strchr(line, ' ');

		if (sp == NULL)
			return -1;
		sp[strcspn(sp, "\r\n")] = '\0';
		snprintf(tls_ca, sizeof(tls_ca), "%s", sp + 1);
		snprintf(tls_base, sizeof(tls_base), "https://127.0.0.1:%d", atoi(line));
	} else {
		snprintf(base, sizeof(base), "http://127.0.0.1:%d", atoi(line));
	}
	*stdin_fd = in[1];
	return pid;
}

static void test_status_and_body(void)
{
	struct result r, e, h;

	CHECK_INT(send_req("GET", "/status/503", NULL, 5000, 0, &r, NULL), 0);
	CHECK_INT(send_req("POST", "/echo?errtype=Throttling:http://internal.amazon.com/x",
		"a=1&b=2", 5000, 0, &e, NULL), 0);
	CHECK_INT(send_req("GET", "/headers", NULL, 5000, 0, &h, NULL), 0);
	run_until_done();
	CHECK(r.done);
	CHECK_INT(r.error, 0);
	CHECK_INT(r.status, 503);
	CHECK_STR(r.body, "status 503");
	CHECK(e.done);
	CHECK_INT(e.status, 200);
	CHECK_STR(e.body, "a=1&b=2");
	CHECK_STR(e.errtype, "Throttling");
	CHECK_INT(e.sent_body, 1);
	CHECK_INT(h.status, 200);
	CHECK(strstr(h.body, "Content-Type: text/plain") != NULL);
	CHECK(strstr(h.body, "Expect") == NULL);
}

static void test_big_post_no_expect_delay(void)
{
	static char big[200000];
	struct result r, h;

	memset(big, 'y', sizeof(big) - 1);
	CHECK_INT(send_req("POST", "/echo", big, 5000, sizeof(big), &r, NULL), 0);
	CHECK_INT(send_req("PUT", "/headers", big, 5000, 0, &h, NULL), 0);
	run_until_done();
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body_len, sizeof(big) - 1);
	/* curl would add "Expect: 100-continue" to a body this large and
	 * stall up to a second on servers that don't answer it. */
	CHECK_INT(h.status, 200);
	CHECK(strstr(h.body, "Content-Length: 199999") != NULL);
	CHECK(strstr(h.body, "Expect") == NULL);
}

static void test_response_cap(void)
{
	struct result r;

	CHECK_INT(send_req("GET", "/big?n=5000", NULL, 5000, 1000, &r, NULL), 0);
	run_until_done();
	CHECK_INT(r.error, -EMSGSIZE);
}

static void test_timeout(void)
{
	struct result r;

	CHECK_INT(send_req("GET", "/slow?ms=3000", NULL, 300, 0, &r, NULL), 0);
	run_until_done();
	CHECK_INT(r.error, -ETIMEDOUT);
	CHECK_INT(r.sent_body, 1);
}

static void test_refused(void)
{
	/* A bound socket that never listens: connects to it are refused,
	 * and no other process can take the port meanwhile. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char saved[64], url[64];
	struct result r;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	snprintf(saved, sizeof(saved), "%s", base);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	snprintf(base, sizeof(base), "%s", url);
	CHECK_INT(send_req("POST", "/echo", "x=1", 5000, 0, &r, NULL), 0);
	run_until_done();
	snprintf(base, sizeof(base), "%s", saved);
	close(fd);
	CHECK_INT(r.error, -ECONNREFUSED);
	CHECK_INT(r.sent_body, 0);
}

static void test_reset(void)
{
	struct result r;

	CHECK_INT(send_req("POST", "/reset", "x=1", 5000, 0, &r, NULL), 0);
	run_until_done();
	CHECK_INT(r.error, -ECONNRESET);
	CHECK_INT(r.sent_body, 1);
}

static void test_keepalive(void)
{
	struct result a, b;

	CHECK_INT(send_req("GET", "/port", NULL, 5000, 0, &a, NULL), 0);
	run_until_done();
	CHECK_INT(send_req("GET", "/port", NULL, 5000, 0, &b, NULL), 0);
	run_until_done();
	CHECK_INT(a.status, 200);
	CHECK(a.body_len > 0);
	CHECK_STR(a.body, b.body);	/* same source port: connection reused */
}

static void test_concurrent(void)
{
	enum { N = 100 };
	static struct result r[N];
	int ok = 0;

	for (int i = 0; i < N; i++)
		CHECK_INT(send_req("GET", "/slow?ms=200", NULL, 15000, 0, &r[i], NULL), 0);
	run_until_done();
	for (int i = 0; i < N; i++)
		ok += r[i].done && r[i].error == 0 && r[i].status == 200;
	CHECK_INT(ok, N);
}

static void test_cancel(void)
{
	struct result a, b;
	struct http_call *ca;

	CHECK_INT(send_req("GET", "/slow?ms=500", NULL, 5000, 0, &a, &ca), 0);
	CHECK_INT(send_req("GET", "/slow?ms=700", NULL, 5000, 0, &b, NULL), 0);
	http_call_cancel(ca);
	pending--;
	run_until_done();
	CHECK(!a.done);
	CHECK(b.done);
	CHECK_INT(b.status, 200);
}

/* max_host_connections bounds the connections to one host: 20 calls at
 * once over a limit of 2 use exactly two source ports, reused. */
static void test_connection_limit(void)
{
	enum { N = 20 };
	struct http_client_opts o = { .max_host_connections = 2 };
	struct http_client *saved = client, *limited;
	static struct result r[N];
	char ports[N][16];
	int distinct = 0, ok = 0;

	CHECK_INT(http_client_new(loop, &o, &limited), 0);
	client = limited;
	for (int i = 0; i < N; i++)
		CHECK_INT(send_req("GET", "/port", NULL, 10000, 0, &r[i], NULL), 0);
	run_until_done();
	for (int i = 0; i < N; i++) {
		bool seen = false;

		ok += r[i].status == 200;
		for (int j = 0; j < distinct; j++)
			seen |= strcmp(ports[j], r[i].body) == 0;
		if (!seen && distinct < N)
			snprintf(ports[distinct++], sizeof(ports[0]), "%s", r[i].body);
	}
	CHECK_INT(ok, N);
	CHECK_INT(distinct, 2);
	http_client_close(limited);
	client = saved;
}

/* HTTPS: the CA bundle from the options is what curl trusts; without it
 * a self-signed peer is refused as a TLS failure, not a network one. */
static void test_https(void)
{
	struct http_client_opts with_ca = { .ca_bundle = tls_ca };
	struct http_client_opts no_ca = { .ca_bundle = NULL };
	struct http_client *saved = client, *a, *b;
	char saved_base[64];
	struct result ok, bad;

	snprintf(saved_base, sizeof(saved_base), "%s", base);
	snprintf(base, sizeof(base), "%s", tls_base);
	CHECK_INT(http_client_new(loop, &with_ca, &a), 0);
	CHECK_INT(http_client_new(loop, &no_ca, &b), 0);
	client = a;
	CHECK_INT(send_req("POST", "/echo", "over=tls", 5000, 0, &ok, NULL), 0);
	client = b;
	CHECK_INT(send_req("POST", "/echo", "over=tls", 5000, 0, &bad, NULL), 0);
	run_until_done();
	CHECK_INT(ok.error, 0);
	CHECK_INT(ok.status, 200);
	CHECK_STR(ok.body, "over=tls");
	CHECK_INT(bad.error, -EPROTO);
	CHECK_INT(bad.sent_body, 0);
	http_client_close(a);
	http_client_close(b);
	client = saved;
	snprintf(base, sizeof(base), "%s", saved_base);
}

static struct http_call *close_victim;
static void on_done_close(void *arg, const struct http_response *res)
{
	on_done(arg, res);
	/* Closing from inside a callback cancels the other call silently. */
	http_client_close(client);
	pending--;	/* the victim will never call back */
}

static void test_close_in_flight(void)
{
	static const char *const none[] = { NULL };
	char u1[128], u2[128];
	struct result a, b;
	struct http_request ra = { .method = "GET", .url = u1, .headers = none, .timeout_ms = 5000 };
	struct http_request rb = { .method = "GET", .url = u2, .headers = none, .timeout_ms = 5000 };

	snprintf(u1, sizeof(u1), "%s/slow?ms=100", base);
	snprintf(u2, sizeof(u2), "%s/slow?ms=2000", base);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CHECK_INT(http_client_send(client, &ra, on_done_close, &a, NULL), 0);
	CHECK_INT(http_client_send(client, &rb, on_done, &b, &close_victim), 0);
	pending += 2;
	run_until_done();
	CHECK(a.done);
	CHECK(!b.done);
	client = NULL;
	/* Every handle closed: the loop has nothing left. */
	CHECK_INT(uv_run(loop, UV_RUN_DEFAULT), 0);
}

/* Header value from the peer's echo ("Name: value" lines), or "". */
static void header_of(const char *text, const char *name, char *out, size_t outlen)
{
	const char *p = strcasestr(text, name);

	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(name);
	p += strspn(p, ": ");
	snprintf(out, outlen, "%.*s", (int)strcspn(p, "\r\n"), p);
}

/* An endpoint's path prefix (a proxy in front of AWS) stays in front of
 * the API path: in the request curl sends AND in the signature. The peer
 * reports the path it received; the Authorization must be the signature
 * over exactly that path, and not over the API path alone. */
static void test_endpoint_prefix_signed(void)
{
	static struct result r;
	struct aws_creds *creds = aws_creds_new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		NULL, 0, "test");
	struct aws_target t;
	char endpoint[128], date[32], auth[256], path[128], hash[65];
	const char *body = "Action=SendRawEmail";
	struct aws_call_req req = {
		.target = &t, .creds = creds, .content_type = "application/x-www-form-urlencoded",
		.body = body, .body_len = strlen(body), .timeout_ms = 5000,
	};
	struct buf want = BUF_INIT, other = BUF_INIT;
	struct sigv4_key key;
	struct sigv4_header sh[3];
	struct sigv4_request sr;
	char host[64];

	snprintf(endpoint, sizeof(endpoint), "%s/prefix/ses/", base);
	CHECK_INT(aws_target_init(&t, endpoint, "/v2/email/outbound-emails", "eu-west-1", "ses"), 0);
	CHECK_STR(t.path, "/prefix/ses/v2/email/outbound-emails");
	memset(&r, 0, sizeof(r));
	CHECK_INT(aws_call_send(client, &req, on_done, &r, NULL), 0);
	pending++;
	run_until_done();
	CHECK_INT(r.status, 200);
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(r.body, "\n"), r.body);
	CHECK_STR(path, "/prefix/ses/v2/email/outbound-emails");
	header_of(r.body, "\nX-Amz-Date", date, sizeof(date));
	header_of(r.body, "\nAuthorization", auth, sizeof(auth));
	snprintf(host, sizeof(host), "%s", base + strlen("http://"));
	sigv4_sha256_hex(body, strlen(body), hash);
	sh[0] = (struct sigv4_header){ "host", host };
	sh[1] = (struct sigv4_header){ "x-amz-date", date };
	sh[2] = (struct sigv4_header){ "content-type", req.content_type };
	sr = (struct sigv4_request){
		.method = "POST", .path = path, .query = "", .headers = sh, .nheaders = 3,
		.payload_hash = hash, .region = "eu-west-1", .service = "ses", .amz_date = date,
	};
	memset(&key, 0, sizeof(key));
	CHECK_INT(sigv4_authorization(&sr, creds->access_key_id, creds->secret_access_key, &key,
		&want), 0);
	CHECK_STR(auth, want.data);
	sr.path = "/v2/email/outbound-emails";
	CHECK_INT(sigv4_authorization(&sr, creds->access_key_id, creds->secret_access_key, &key,
		&other), 0);
	CHECK(strcmp(auth, other.data) != 0);
	sigv4_key_clear(&key);
	buf_free(&want);
	buf_free(&other);
	aws_creds_unref(creds);
}

int main(void)
{
	struct http_client_opts opts = { .max_host_connections = 0 };
	int peer_stdin = -1, tls_stdin = -1;
	pid_t pid, tls_pid;

	signal(SIGPIPE, SIG_IGN);
	pid = start_peer(&peer_stdin, false);
	tls_pid = start_peer(&tls_stdin, true);
	if (pid < 0 || tls_pid < 0) {
		fprintf(stderr, "cannot start python3 http peer\n");
		return 77;
	}
	CHECK_INT(http_global_init(), 0);
	loop = uv_default_loop();
	CHECK_INT(http_client_new(loop, &opts, &client), 0);

	test_status_and_body();
	test_big_post_no_expect_delay();
	test_response_cap();
	test_timeout();
	test_refused();
	test_reset();
	test_keepalive();
	test_concurrent();
	test_cancel();
	test_connection_limit();
	test_https();
	test_endpoint_prefix_signed();
	test_close_in_flight();

	CHECK_INT(uv_loop_close(loop), 0);
	http_global_cleanup();
	close(peer_stdin);
	close(tls_stdin);
	waitpid(pid, NULL, 0);
	waitpid(tls_pid, NULL, 0);
	return check_report();
}
