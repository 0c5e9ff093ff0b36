/* `sesrelay policy` arguments are pasted by operators; whatever the
 * builder accepts must become valid JSON whose only wildcard is the
 * Resource "*" of the read-only statement: an identity, role or account
 * that smuggles in '*' or '?' would widen a grant. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iam_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFIELDS 8

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *fields[NFIELDS] = { NULL }, *p, err[512];
	struct iam_policy_args a;
	unsigned flags = size ? data[0] : 0;
	cJSON *doc, *back;
	char *text;
	size_t nf = 0;

	if (size == 0 || size > 4096)
		return 0;
	buf = malloc(size);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	/* Fields separated by newlines: shared, sender, sender, identity,
	 * region, external id, role name, configuration set. */
	for (p = buf; nf < NFIELDS; nf++) {
		fields[nf] = p;
		p = strchr(p, '\n');
		if (p == NULL) {
			nf++;
			break;
		}
		*p++ = '\0';
	}
	memset(&a, 0, sizeof(a));
	a.shared_account = fields[0];
	for (size_t i = 1; i < 3 && fields[i]; i++)
		a.senders[a.n_senders++] = fields[i];
	a.identity = fields[3];
	a.region = fields[4];
	a.external_id = (flags & 1) ? fields[5] : NULL;
	a.role_name = (flags & 2) ? fields[6] : NULL;
	a.configuration_set = (flags & 4) ? fields[7] : NULL;
	a.read_only_checks = flags & 8;
	a.source_arn = flags & 16;

	if (iam_policy_build(&a, &doc, err, sizeof(err)) == 0) {
		text = cJSON_PrintUnformatted(doc);
		if (text == NULL)
			abort();
		back = cJSON_Parse(text);
		if (back == NULL)
			abort();
		cJSON_Delete(back);
		if (strchr(text, '?') != NULL)
			abort();
		if (count(text, "*") != count(text, "\"Resource\":\"*\""))
			abort();
		if (count(text, "\"Resource\":\"*\"") != (a.read_only_checks ? 1 : 0))
			abort();
		cJSON_free(text);
		cJSON_Delete(doc);
	} else if (doc != NULL || err[0] == '\0') {
		abort();
	}
	free(buf);
	return 0;
}
