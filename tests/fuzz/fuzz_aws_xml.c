/* STS/SES response bodies are untrusted input (a proxy, a broken endpoint,
 * an attacker on the path if TLS is misconfigured). The readers must stay
 * inside the given length and keep their output contracts: codes are
 * identifiers, messages printable ASCII, decoded text never longer than
 * its source, and accepted timestamps round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct aws_error *e)
{
	size_t n = strnlen(e->code, sizeof(e->code));

	if (n == 0 || n == sizeof(e->code))
		abort();
	for (size_t i = 0; i < n; i++) {
		char c = e->code[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			abort();
	}
	n = strnlen(e->message, sizeof(e->message));
	if (n == sizeof(e->message))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)e->message[i] < 0x20 || (unsigned char)e->message[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "Code", "Message", "Expiration", "Error", "title" };
	const char *body = (const char *)data;
	struct aws_error e;
	struct buf t = BUF_INIT;
	char *s;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *inner;
		size_t inner_len;

		if (aws_xml_element(body, size, names[i], &inner, &inner_len) == 0 &&
		    (inner < body || inner + inner_len > body + size))
			abort();
		if (aws_xml_text(body, size, names[i], &t) == 0 && t.len > size)
			abort();
	}
	buf_free(&t);

	memset(&e, 0, sizeof(e));
	aws_error_parse(400, body, size, NULL, &e);
	check_error(&e);
	/* The first line doubles as an x-amzn-errortype header value. */
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&e, 0, sizeof(e));
	aws_error_parse(503, body, size, s, &e);
	check_error(&e);

	{
		time_t when;

		if (aws_parse_iso8601(s, &when) == 0 && strlen(s) == 20 && s[10] == 'T' &&
		    s[19] == 'Z') {
			char back[32];
			struct tm tm;

			if (when < 0 || gmtime_r(&when, &tm) == NULL ||
			    strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
				abort();
			/* Leap second 60 is accepted and normalised forward. */
			if (strcmp(back, s) != 0 && strcmp(s + 17, "60Z") != 0)
				abort();
		}
	}
	free(s);
	return 0;
}
