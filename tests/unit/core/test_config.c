#include <errno.h>
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

	unlink(p);
	test_api_keys();
	return check_report();
}
