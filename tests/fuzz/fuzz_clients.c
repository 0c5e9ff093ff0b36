/* The clients file (names, senders, keys) and the From-header check the
 * SMTP and API fronts apply to every message a client sends: on any file
 * text, any message head and any From value they must give a verdict
 * without crashing or reading past the input. The input is split at the
 * first NUL: a clients file, then a message (the From check runs on the
 * message against the clients the file defined, or a fixed set). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed[] =
	"billing senders=billing@example.com,@billing.example.org\n"
	"web senders=@example.com configuration_set=web-cs\n";

static void check_from(const struct clients *cs, const char *msg, size_t len)
{
	const char *value;
	size_t n;
	char bad[128];

	if (message_from_field(msg, len, &value, &n) == 0) {
		if (value < msg || value + n > msg + len)
			abort();
		for (size_t i = 0; i < clients_count(cs); i++) {
			const struct client *cl = clients_at(cs, i);

			bad[0] = '\0';
			if (client_check_from(cl, value, n, bad, sizeof(bad)) == -EPERM &&
			    strnlen(bad, sizeof(bad)) == sizeof(bad))
				abort();
			(void)client_may_send_as(cl, value, n);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct clients *fixed_clients;
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	size_t flen = nul ? (size_t)(nul - text) : size;
	const char *msg = nul ? nul + 1 : text;
	size_t mlen = nul ? size - flen - 1 : size;
	struct clients *cs = NULL;
	char err[512];

	if (fixed_clients == NULL &&
	    clients_parse(fixed, sizeof(fixed) - 1, "fixed", &fixed_clients, err, sizeof(err)))
		abort();
	if (clients_parse(text, flen, "clients", &cs, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < clients_count(cs); i++) {
			const struct client *cl = clients_at(cs, i);

			if (clients_by_name(cs, cl->name) == NULL)
				abort();
			if (cl->key_id && clients_by_key_id(cs, cl->key_id, strlen(cl->key_id)) == NULL)
				abort();
		}
		check_from(cs, msg, mlen);
		clients_unref(cs);
	}
	check_from(fixed_clients, msg, mlen);
	return 0;
}
