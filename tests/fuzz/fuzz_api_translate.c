/* The API front's translation reads bodies from any caller the SigV4
 * check let through (or, with `api_auth network`, any host allowed in):
 * SES v1 Query forms, SESv2 and Pinpoint JSON, the raw messages inside
 * them. On any body it must forward a request or refuse it with a status
 * and a code, never crash, leak or read past the body. The first byte
 * picks the route and the policy; the rest is the body. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_pinpoint.h"
#include "api_route.h"
#include "api_translate.h"
#include "clients.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;
static struct clients *clients;

static void setup(void)
{
	static const char text[] =
		"billing key_id=SRLYBILLING00000001 secret=abcdefghijklmnopqrstuvwxyz0123456789ABCD "
		"senders=billing@example.com,@billing.example.org configuration_set=billing-cs "
		"force_configuration_set=yes tags=app=billing\n"
		"web senders=@example.com configuration_set=web-cs\n";
	char err[256];

	if (config_defaults(&cfg) ||
	    config_set(&cfg, "source_arn", "arn:aws:ses:eu-west-1:111111111111:identity/example.com",
		err, sizeof(err)) ||
	    config_set(&cfg, "message_tags", "relay=sesrelay,app=relay", err, sizeof(err)) ||
	    config_set(&cfg, "allow_senders", "@example.com", err, sizeof(err)) ||
	    clients_parse(text, sizeof(text) - 1, "clients", &clients, err, sizeof(err)))
		abort();
}

static void check_verdict(int r, const struct api_forward *fw, const struct api_refusal *why)
{
	if (r == 0) {
		if (fw->method == NULL || fw->path == NULL || strlen(fw->payload_hash) != 64)
			abort();
	} else if (r == -EPERM || r == -EINVAL) {
		if (why->status < 400 || why->status > 599 || why->code[0] == '\0')
			abort();
	} else if (r != -ENOMEM) {
		abort();
	}
}

static void pinpoint(const struct api_policy *p, const char *body, size_t n)
{
	struct api_pinpoint pp;
	struct api_refusal why;
	struct buf out = BUF_INIT;
	int r;

	memset(&pp, 0, sizeof(pp));
	memset(&why, 0, sizeof(why));
	r = api_pinpoint_split(p, body, n, &pp, &why);
	if (r != 0) {
		if ((r == -EPERM || r == -EINVAL) && (why.status < 400 || why.code[0] == '\0'))
			abort();
		return;
	}
	/* SES's answers, one of each kind, as the runtime records them. */
	for (size_t i = 0; i < pp.n; i++) {
		if (!pp.v[i].send)
			continue;
		if (i % 3 == 0)
			api_pinpoint_result(&pp.v[i], 200, "{\"MessageId\":\"m-1\"}", 19, NULL, NULL);
		else if (i % 3 == 1)
			api_pinpoint_result(&pp.v[i], 400, body, n, "MessageRejected", "no");
		else
			api_pinpoint_result(&pp.v[i], 200, body, n, NULL, NULL);
	}
	if (api_pinpoint_response(&pp, "0123456789abcdef0123456789abcdef", "rid", &out) == 0 &&
	    out.len == 0)
		abort();
	buf_free(&out);
	api_pinpoint_free(&pp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const v2_paths[] = {
		"/v2/email/outbound-emails", "/v2/email/outbound-bulk-emails", "/v2/email/account",
	};
	struct api_policy pol;
	struct api_forward fw;
	struct api_refusal why;
	struct api_route r;
	const char *body;
	char *copy;
	size_t n;
	int v;

	if (clients == NULL)
		setup();
	if (size == 0)
		return 0;
	/* The front hands translation a body it owns, of the length it read. */
	n = size - 1;
	copy = malloc(n ? n : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, n);
	body = copy;

	memset(&pol, 0, sizeof(pol));
	pol.cfg = &cfg;
	/* bit 3: a client's policy or `api_auth network` with allow_senders */
	pol.client = (data[0] & 8) ? NULL : clients_by_name(clients, (data[0] & 16) ? "web" : "billing");
	memset(&why, 0, sizeof(why));
	api_forward_init(&fw);
	switch (data[0] % 8) {
	case 0: case 1: case 2:		/* SES v1 Query form */
		api_route("POST", "/", 1, &r);
		v = api_translate_ses(&pol, &r, body, n, &fw, &why);
		check_verdict(v, &fw, &why);
		break;
	case 3: case 4: case 5: {	/* SESv2 JSON */
		const char *path = v2_paths[data[0] % 8 - 3];
		api_route(data[0] % 8 == 5 ? "GET" : "POST", path, strlen(path), &r);
		v = api_translate_sesv2(&pol, &r, body, n, &fw, &why);
		check_verdict(v, &fw, &why);
		break;
	}
	default:			/* Pinpoint SendMessages */
		pinpoint(&pol, body, n);
		break;
	}
	api_forward_free(&fw);
	free(copy);
	return 0;
}
