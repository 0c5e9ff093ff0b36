/* SES's 200 answers carry the MessageId the relay logs, puts in its SMTP
 * reply and hands API callers; a proxy or a broken endpoint can send any
 * body. Both readers (v1 XML, SESv2 JSON) must stay inside the body and
 * give back a non-empty, terminated id that fits, or -ENOENT. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ses_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ses_api apis[] = { SES_API_V1, SES_API_V2 };
	char *body = malloc(size ? size : 1);

	if (body == NULL)
		return 0;
	memcpy(body, data, size);	/* exactly size bytes: no terminator to lean on */
	for (size_t i = 0; i < 2; i++) {
		char id[128];
		int r;

		memset(id, 'x', sizeof(id));
		r = ses_parse_message_id(apis[i], body, size, id, sizeof(id));
		if (r == 0 && (id[0] == '\0' || strnlen(id, sizeof(id)) == sizeof(id)))
			abort();
		if (r != 0 && r != -ENOENT)
			abort();
	}
	free(body);
	return 0;
}
