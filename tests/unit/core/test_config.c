#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "check.h"

static const char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/sesrelay-test-config-%d.conf", (int)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text; expects an error containing every one of the NULL-ended
 * fragments. */
static void expect_error(const char *text, ...)
{
	struct config c;
	char err[1024] = "";
	va_list ap;
	const char *frag;

	CHECK_INT(config_load(&c, write_tmp(text), err, sizeof(err)), -EINVAL);
	va_start(ap, text);
	while ((frag = va_arg(ap, const char *)) != NULL) {
		if (strstr(err, frag) == NULL) {
			check_failures++;
			fprintf(stderr, "error for:\n%s\nlacks \"%s\": %s\n", text, frag, err);
		}
	}
	va_end(ap);
}

static void expect_ok(const char *text)
{
	struct config c;
	char err[1024] = "";
	int r = config_load(&c, write_tmp(text), err, sizeof(err));

	CHECK_INT(r, 0);
	if (r)
		fprintf(stderr, "refused:\n%s\n%s\n", text, err);
	else
		config_free(&c);
}

/* Repeated keys: single-valued ones are an error naming both lines; list
 * keys collect every line. */
static void test_repeats(void)
{
	struct config c;
	char err[512], w[256];
	const char *p;

	expect_error("backend outbox\nregion eu-west-1\n\nregion us-east-1\n",
		":4: region", "line 2", NULL);
	expect_error("backend outbox\nbackend outbox\n", ":2: backend", "line 1", NULL);

	p = write_tmp("backend outbox\n"
		"listen 127.0.0.1:2600\n"
		"listen [::1]:2601, localhost:2602\n"
		"allow_senders @example.com\n"
		"allow_senders app@example.org\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), 0);
	CHECK_INT(c.listen.n, 3);
	if (c.listen.n == 3) {
		CHECK_STR(c.listen.v[0], "127.0.0.1:2600");
		CHECK_STR(c.listen.v[1], "[::1]:2601");
		CHECK_STR(c.listen.v[2], "localhost:2602");
	}
	CHECK_INT(c.allow_senders.n, 2);
	CHECK(strstr(config_where(&c, "listen", "localhost:2602", w, sizeof(w)), ":3: listen") != NULL);
	CHECK(strstr(config_where(&c, "listen", "127.0.0.1:2600", w, sizeof(w)), ":2: listen") != NULL);
	CHECK(strstr(config_where(&c, "allow_senders", "app@example.org", w, sizeof(w)),
		":5: allow_senders") != NULL);
	CHECK(strstr(config_where(&c, "max_errors", NULL, w, sizeof(w)), ": max_errors") != NULL);
	config_free(&c);

	/* A later line of a list key with an empty value adds nothing. */
	p = write_tmp("backend outbox\nallow_senders @example.com\nallow_senders \"\"\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), 0);
	CHECK_INT(c.allow_senders.n, 1);
	config_free(&c);

	/* The environment replaces a list from the file; it is no repeat. */
	setenv("SESRELAY_LISTEN", "127.0.0.1:2700", 1);
	setenv("SESRELAY_REGION", "eu-west-2", 1);
	p = write_tmp("backend outbox\nlisten 127.0.0.1:2600\nlisten 127.0.0.1:2601\nregion eu-west-1\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), 0);
	CHECK_INT(c.listen.n, 1);
	CHECK_STR(c.region, "eu-west-2");
	CHECK_STR(config_where(&c, "listen", NULL, w, sizeof(w)), "environment SESRELAY_LISTEN");
	config_free(&c);
	unsetenv("SESRELAY_LISTEN");
	unsetenv("SESRELAY_REGION");
}

/* Values are checked as they are read, with file:line: key. */
static void test_values(void)
{
	expect_ok("backend ses\nrole_arn arn:aws:iam::111111111111:role/ses-relay-sender\n");
	expect_ok("backend ses\nrole_arn arn:aws-us-gov:iam::111111111111:role/team/mail/Sender+x=1,a.b@c_d-e\n");
	expect_error("backend ses\nrole_arn arn:aws:iam::111111111111:role/ses-relay-sender trailing\n",
		":2: role_arn", "IAM role ARN", NULL);
	expect_error("backend ses\nrole_arn arn:aws:iam::111111111111:role/ses-relay-sender;x\n",
		":2: role_arn", NULL);
	expect_error("backend ses\nrole_arn arn:aws:iam::11111111111:role/short-account\n",
		":2: role_arn", NULL);
	expect_error("backend ses\nrole_arn arn:aws:iam::111111111111:user/not-a-role\n",
		":2: role_arn", NULL);
	expect_error("backend ses\nrole_arn arn:aws:sts::111111111111:assumed-role/r/s\n",
		":2: role_arn", NULL);
	expect_error("backend ses\nrole_arn arn:aws:iam::111111111111:role/\n", ":2: role_arn", NULL);
	expect_error("backend outbox\nexternal_id \"\"\n", ":2: external_id", "empty", NULL);
	expect_error("backend outbox\nexternal_id has blank\"\n", ":2: external_id", NULL);
	expect_ok("backend outbox\nexternal_id relay-7f3a:prod/x=1\n");
	expect_error("backend outbox\nrole_session_name a\n", ":2: role_session_name", NULL);
	expect_error("backend outbox\nregion EU-West-1\n", ":2: region", NULL);
	expect_error("backend outbox\n\nshared_account 11111111111\n", ":3: shared_account", NULL);
	expect_ok("backend outbox\nshared_account 111111111111\n");
	expect_error("backend outbox\nsend_rate fast\n", ":2: send_rate", "auto", NULL);
	expect_error("backend outbox\n\nsend_rate_share 1.5\n", ":3: send_rate_share", NULL);
	expect_error("backend outbox\nbounce_from @example.com\n", ":2: bounce_from", NULL);
	expect_ok("backend outbox\nsend_rate 12.5\nsend_rate_share 0.5\nbounce_from postmaster@example.com\n");

	expect_ok("backend outbox\nallow_senders @example.com, app@example.com o'neil+x@mail.example.com\n");
	expect_error("backend outbox\nallow_senders @example.com\nallow_senders example.com\n",
		":3: allow_senders", "\"example.com\"", NULL);
	expect_error("backend outbox\nallow_senders user@\n", ":2: allow_senders", NULL);
	expect_error("backend outbox\nallow_senders <user@example.com>\n", ":2: allow_senders", NULL);
	expect_error("backend outbox\nallow_senders @exa mple.com\n", ":2: allow_senders", NULL);

	expect_ok("backend outbox\nlisten localhost:2525, [::1]:25, 127.0.0.1:0, relay.internal:2525\n");
	expect_error("backend outbox\nlisten 127.0.0.1\n", ":2: listen", NULL);
	expect_error("backend outbox\nlisten ::1:25\n", ":2: listen", NULL);
	expect_error("backend outbox\nlisten 127.0.0.1:65536\n", ":2: listen", NULL);
	expect_error("backend outbox\nlisten [not-v6]:25\n", ":2: listen", NULL);
	expect_error("backend outbox\n\nmetrics_listen 127.0.0.1:x\n", ":3: metrics_listen", NULL);
	expect_error("backend outbox\nmessage_tags a=b\nmessage_tags novalue\n", ":3: message_tags", NULL);
}

/* Errors found after the whole file is read still name the key's line. */
static void test_cross_key(void)
{
	expect_error("backend outbox\n\ntls_cert /etc/cert.pem\n", ":3: tls_cert", "tls_key", NULL);
	expect_error("backend outbox\ntls_key /etc/key.pem\n", ":2: tls_key", "tls_cert", NULL);
	expect_error("backend outbox\nrequire_auth yes\n", ":2: require_auth", "auth_users_file", NULL);
	expect_error("backend outbox\n#\nrefresh_min_remaining 1000\n", ":3: refresh_min_remaining", NULL);
}

/* A listener other hosts can reach, and every address allowed to send
 * without authentication: refused unless allow_open_relay. */
static void test_open_relay(void)
{
	expect_error("backend outbox\nlisten 0.0.0.0:2525\nallow_networks 10.0.0.0/8\nallow_networks 0.0.0.0/0\n",
		":4: allow_networks", "\"0.0.0.0/0\"", ":2: listen", "allow_open_relay", NULL);
	expect_error("backend outbox\nlisten [::]:2525\nallow_networks ::/0\n", ":3: allow_networks", NULL);
	expect_error("backend outbox\nlisten 127.0.0.1:25\nsmtps_listen 192.0.2.1:465\n"
		"tls_cert c\ntls_key k\nallow_networks ::ffff:0:0/96\n", ":3: smtps_listen", NULL);
	expect_error("backend outbox\nlisten relay.example.com:25\nallow_networks ::/1\n", ":3: allow_networks", NULL);
	/* Loopback only, authentication required, or said so: accepted. */
	expect_ok("backend outbox\nlisten 127.0.0.1:2525, [::1]:2525, localhost:2526\nallow_networks 0.0.0.0/0, ::/0\n");
	expect_ok("backend outbox\nlisten 0.0.0.0:2525\nallow_networks 0.0.0.0/0\nrequire_auth yes\nauth_users_file /x\n");
	expect_ok("backend outbox\nlisten 0.0.0.0:2525\nallow_networks 0.0.0.0/0\nallow_open_relay yes\n");
	expect_ok("backend outbox\nlisten 0.0.0.0:2525\nallow_networks 10.0.0.0/8, 8000::/1\n");
	/* The API front with api_auth network is the same hole. */
	expect_error("role_arn arn:aws:iam::111111111111:role/r\napi_listen 0.0.0.0:8080\n"
		"api_auth network\napi_allow_networks 0.0.0.0/0\n", ":4: api_allow_networks",
		"api_listen \"0.0.0.0:8080\"", NULL);
	expect_ok("role_arn arn:aws:iam::111111111111:role/r\napi_listen 127.0.0.1:8080\n"
		"api_auth network\napi_allow_networks 0.0.0.0/0\n");
}

/* The API front has no silent default: api_listen needs api_auth, sigv4
 * needs the clients file, the front needs the ses back end. */
static void test_api_keys(void)
{
	struct config c;
	char err[512];
	const char *p;

	p = write_tmp("role_arn arn:aws:iam::111111111111:role/r\napi_listen 127.0.0.1:0\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "\"api_listen\" needs api_auth") != NULL);
	p = write_tmp("role_arn arn:aws:iam::111111111111:role/r\napi_listen 127.0.0.1:0\napi_auth sigv4\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "needs clients_file") != NULL);
	p = write_tmp("role_arn arn:aws:iam::111111111111:role/r\napi_listen 127.0.0.1:0\napi_auth guess\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":3:") != NULL && strstr(err, "sigv4 network") != NULL);
	p = write_tmp("backend outbox\napi_listen 127.0.0.1:0\napi_auth network\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "needs backend ses") != NULL);
	p = write_tmp("role_arn arn:aws:iam::111111111111:role/r\napi_listen 127.0.0.1:0\n"
		"api_auth network\ndelivery queue\nbounce_from bounces@example.com\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "needs delivery sync") != NULL);
	p = write_tmp("role_arn arn:aws:iam::111111111111:role/r\napi_listen 127.0.0.1:0\n"
		"api_auth sigv4\nclients_file /etc/sesrelay/clients\napi_tls_cert /c.pem\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "api_tls_key") != NULL);
	p = write_tmp("role_arn arn:aws:iam::111111111111:role/r\napi_listen 127.0.0.1:0\n"
		"api_auth sigv4\nclients_file /etc/sesrelay/clients\napi_max_body_size 50M\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":5:") != NULL);
	p = write_tmp("role_arn arn:aws:iam::111111111111:role/r\napi_listen 127.0.0.1:0\n"
		"api_auth sigv4\nclients_file /etc/sesrelay/clients\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), 0);
	CHECK_INT(c.api_auth, API_AUTH_SIGV4);
	CHECK_INT(c.api_max_body_size, 41 << 20);
	CHECK_INT(c.api_timeout_idle, 60);
	config_free(&c);
	unlink(p);
}

/* Text in memory goes through the file's code: the same values, errors
 * naming the given name and line, a line of 4095 bytes (newline
 * included) accepted and one byte more refused, a NUL byte refused
 * rather than silently cutting its line short, and a last line without
 * a newline read like any other. */
static void test_buffer(void)
{
	static const char good[] = "backend outbox\nmax_recipients 7\ndrain_timeout 5m";
	static const char nul[] = "backend outbox\nmax_recipients 7\0 junk\n";
	char big[4200], err[512] = "", where[512];
	struct config c;
	size_t n;

	CHECK_INT(config_load_buffer(&c, "mem.conf", good, sizeof(good) - 1, err, sizeof(err)), 0);
	CHECK_INT(c.max_recipients, 7);
	CHECK_INT(c.drain_timeout, 300);
	CHECK_STR(config_where(&c, "max_recipients", NULL, where, sizeof(where)),
		"mem.conf:2: max_recipients");
	config_free(&c);

	CHECK_INT(config_load_buffer(&c, "mem.conf", nul, sizeof(nul) - 1, err, sizeof(err)),
		-EINVAL);
	CHECK(strstr(err, "mem.conf:2: NUL byte") != NULL);

	/* "# xxx...\n": 4095 bytes with the newline */
	n = 4094;
	memset(big, 'x', n);
	big[0] = '#';
	big[n] = '\n';
	memcpy(big + n + 1, "backend outbox\n", 15);
	CHECK_INT(config_load_buffer(&c, NULL, big, n + 16, err, sizeof(err)), 0);
	config_free(&c);
	memmove(big + 1, big, n + 16);
	CHECK_INT(config_load_buffer(&c, NULL, big, n + 17, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "configuration:1: line too long") != NULL);

	CHECK_INT(config_load_buffer(&c, "mem.conf", "max_recipients x\n", 17, err, sizeof(err)),
		-EINVAL);
	CHECK(strstr(err, "mem.conf:1: max_recipients") != NULL);
}

int main(void)
{
	struct config c;
	char err[512];
	const char *p;
	uint64_t sz;
	unsigned d;

	CHECK_INT(config_parse_size("10M", &sz), 0);
	CHECK_INT(sz, 10 << 20);
	CHECK_INT(config_parse_size("10X", &sz), -EINVAL);
	CHECK_INT(config_parse_size("-1", &sz), -EINVAL);
	CHECK_INT(config_parse_duration("5m", &d), 0);
	CHECK_INT(d, 300);
	CHECK_INT(config_parse_duration("99999999999999999999", &d), -ERANGE);

	/* Defaults alone are valid for the outbox back end. */
	setenv("SESRELAY_BACKEND", "outbox", 1);
	test_buffer();
	CHECK_INT(config_load(&c, NULL, err, sizeof(err)), 0);
	CHECK_INT(c.max_recipients, 50);
	CHECK_INT(c.max_message_size, 10 << 20);
	CHECK_INT(c.listen.n, 1);
	CHECK_STR(c.listen.v[0], "127.0.0.1:2525");
	config_free(&c);

	p = write_tmp("# comment\n"
		"listen 127.0.0.1:2600, [::1]:2600   # two\n"
		"hostname \"relay #1\"\n"
		"max_recipients 10\n"
		"timeout_data 2m\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), 0);
	CHECK_INT(c.listen.n, 2);
	CHECK_STR(c.listen.v[1], "[::1]:2600");
	CHECK_STR(c.hostname, "relay #1");
	CHECK_INT(c.max_recipients, 10);
	CHECK_INT(c.timeout_data, 120);
	config_free(&c);

	/* The environment wins over the file. */
	setenv("SESRELAY_MAX_RECIPIENTS", "7", 1);
	CHECK_INT(config_load(&c, p, err, sizeof(err)), 0);
	CHECK_INT(c.max_recipients, 7);
	config_free(&c);
	unsetenv("SESRELAY_MAX_RECIPIENTS");

	p = write_tmp("listen 127.0.0.1:1\nbogus_key 1\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":2:") != NULL && strstr(err, "bogus_key") != NULL);

	p = write_tmp("max_recipients 0\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":1:") != NULL && strstr(err, "max_recipients") != NULL);

	p = write_tmp("backend carrier-pigeon\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "outbox") != NULL);

	unsetenv("SESRELAY_BACKEND");
	p = write_tmp("backend ses\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "role_arn") != NULL);

	CHECK_INT(config_load(&c, "/nonexistent/sesrelay.conf", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/sesrelay.conf") != NULL);

	setenv("SESRELAY_LOG_LEVEL", "loud", 1);
	CHECK_INT(config_load(&c, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "SESRELAY_LOG_LEVEL") != NULL);
	unsetenv("SESRELAY_LOG_LEVEL");

	/* The governor's and the control socket's bounds: defaults, values,
	 * and file:line:key when out of range. */
	setenv("SESRELAY_BACKEND", "outbox", 1);
	CHECK_INT(config_load(&c, NULL, err, sizeof(err)), 0);
	CHECK_INT(c.send_quota_interval, 300);
	CHECK_INT(c.send_quota_pause, 600);
	CHECK_INT(c.control_timeout, 10);
	CHECK_INT(c.control_max_connections, 16);
	config_free(&c);
	p = write_tmp("send_quota_interval 30s\nsend_quota_pause 1h\ncontrol_timeout 3\n"
		"control_max_connections 2\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), 0);
	CHECK_INT(c.send_quota_interval, 30);
	CHECK_INT(c.send_quota_pause, 3600);
	CHECK_INT(c.control_timeout, 3);
	CHECK_INT(c.control_max_connections, 2);
	config_free(&c);
	p = write_tmp("# GetSendQuota more often than SES allows\nsend_quota_interval 1\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":2:") != NULL && strstr(err, "send_quota_interval") != NULL);
	p = write_tmp("send_quota_pause 0\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":1:") != NULL && strstr(err, "send_quota_pause") != NULL);
	p = write_tmp("control_timeout 1h\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":1:") != NULL && strstr(err, "control_timeout") != NULL);
	p = write_tmp("control_max_connections 0\n");
	CHECK_INT(config_load(&c, p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":1:") != NULL && strstr(err, "control_max_connections") != NULL);
	unsetenv("SESRELAY_BACKEND");
	test_repeats();
	test_values();
	test_cross_key();
	test_open_relay();

	unlink(p);
	test_api_keys();
	return check_report();
}
