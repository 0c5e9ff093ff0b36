/* The SES request body: what the relay sends must decode back to the
 * exact message and parameters, whatever the chunking, and its payload
 * hash must be the SHA-256 of the bytes sent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "ses_message.h"
#include "check.h"

static const char *const rcpts[] = { "to@example.org", "bcc+x@example.net" };

/* Form value of `key` in an x-www-form-urlencoded body, decoded. */
static char *form_value(const char *body, const char *key, size_t *outlen)
{
	size_t klen = strlen(key);
	const char *p = body;

	while (p && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1, *e = v + strcspn(v, "&");
			char *out = malloc((size_t)(e - v) + 1), *o = out;
			for (; v < e; v++) {
				if (*v == '+') {
					*o++ = ' ';
				} else if (*v == '%') {
					char hex[3] = { v[1], v[2], 0 };
					*o++ = (char)strtol(hex, NULL, 16);
					v += 2;
				} else {
					*o++ = *v;
				}
			}
			*o = '\0';
			*outlen = (size_t)(o - out);
			return out;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return NULL;
}

static unsigned char *b64_decode(const char *s, size_t n, size_t *outlen)
{
	unsigned char *out = malloc(n / 4 * 3 + 3);
	int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);

	*outlen = (size_t)len;
	while (n && s[n - 1] == '=') {	/* EVP_DecodeBlock counts padding as data */
		(*outlen)--;
		n--;
	}
	return out;
}

static void build(struct ses_body *b, const struct ses_params *p, const char *msg, size_t len, size_t step)
{
	CHECK_INT(ses_body_begin(b, p, len), 0);
	for (size_t off = 0; off < len; off += step)
		CHECK_INT(ses_body_write(b, msg + off, len - off < step ? len - off : step), 0);
	CHECK_INT(ses_body_finish(b), 0);
}

static void check_hash(const struct ses_body *b)
{
	char hex[65];

	sigv4_sha256_hex(b->body.data, b->body.len, hex);
	CHECK_STR(b->payload_hash, hex);
}

int main(void)
{
	struct strlist tags = { NULL, 0 };
	struct ses_body b;
	struct ses_params p = {
		.api = SES_API_V1, .source = "app@example.com", .destinations = rcpts,
		.ndestinations = 2, .source_arn = "arn:aws:ses:us-east-1:111111111111:identity/example.com",
		.configuration_set = "relay set", .tags = &tags,
	};
	char msg[3000];
	size_t n;
	char *v;
	unsigned char *raw;

	for (size_t i = 0; i < sizeof(msg); i++)	/* every byte value, '+' '/' '=' in base64 */
		msg[i] = (char)(i * 7 + 3);
	CHECK_INT(strlist_split(&tags, "team=mail,env=dev"), 0);

	for (size_t step = 1; step < 40; step += 7) {
		build(&b, &p, msg, sizeof(msg), step);
		check_hash(&b);
		v = form_value(b.body.data, "RawMessage.Data", &n);
		CHECK(v != NULL);
		if (v) {
			size_t rl;
			raw = b64_decode(v, n, &rl);
			CHECK_MEM(raw, rl, msg, sizeof(msg));
			free(raw);
			free(v);
		}
		ses_body_free(&b);
	}
	build(&b, &p, msg, 10, 10);
	v = form_value(b.body.data, "Action", &n);
	CHECK_STR(v, "SendRawEmail"); free(v);
	v = form_value(b.body.data, "Source", &n);
	CHECK_STR(v, "app@example.com"); free(v);
	v = form_value(b.body.data, "Destinations.member.2", &n);
	CHECK_STR(v, "bcc+x@example.net"); free(v);
	v = form_value(b.body.data, "ConfigurationSetName", &n);
	CHECK_STR(v, "relay set"); free(v);
	v = form_value(b.body.data, "Tags.member.2.Value", &n);
	CHECK_STR(v, "dev"); free(v);
	v = form_value(b.body.data, "SourceArn", &n);
	CHECK_STR(v, p.source_arn); free(v);
	CHECK(form_value(b.body.data, "FromArn", &n) == NULL);
	ses_body_free(&b);

	/* The null sender has no Source. */
	p.source = "";
	build(&b, &p, msg, 10, 10);
	CHECK(form_value(b.body.data, "Source", &n) == NULL);
	ses_body_free(&b);

	/* v2: JSON that a JSON parser reads back to the same message. */
	p.api = SES_API_V2;
	p.source = "app@example.com";
	p.return_path_arn = "arn:aws:ses:us-east-1:111111111111:identity/example.com";
	build(&b, &p, msg, sizeof(msg), 13);
	check_hash(&b);
	{
		cJSON *j = cJSON_ParseWithLength(b.body.data, b.body.len);
		const cJSON *data = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Content"), "Raw"), "Data");
		const cJSON *to = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Destination"), "ToAddresses");
		const cJSON *tag = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "EmailTags"), 0);
		CHECK(j != NULL);
		CHECK(cJSON_IsString(data));
		if (cJSON_IsString(data)) {
			size_t rl;
			raw = b64_decode(data->valuestring, strlen(data->valuestring), &rl);
			CHECK_MEM(raw, rl, msg, sizeof(msg));
			free(raw);
		}
		CHECK_INT(cJSON_GetArraySize(to), 2);
		CHECK_STR(cJSON_GetObjectItem(j, "FromEmailAddressIdentityArn")->valuestring, p.source_arn);
		CHECK_STR(cJSON_GetObjectItem(j, "FeedbackForwardingEmailAddressIdentityArn")->valuestring, p.return_path_arn);
		CHECK_STR(cJSON_GetObjectItem(tag, "Name")->valuestring, "team");
		cJSON_Delete(j);
	}
	ses_body_free(&b);

	/* The encoded size limit: the last byte that fits, then one more. */
	{
		size_t max_raw = SES_V1_MAX_ENCODED / 4 * 3;
		char *big = calloc(1, max_raw + 1);
		p.api = SES_API_V1;
		CHECK_INT(ses_body_begin(&b, &p, 0), 0);
		CHECK_INT(ses_body_write(&b, big, max_raw), 0);
		CHECK_INT(ses_body_write(&b, big, 1), -EMSGSIZE);
		ses_body_free(&b);
		free(big);
	}

	/* MessageId from both APIs' answers. */
	{
		char id[128];
		const char *x = "<SendRawEmailResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><SendRawEmailResult><MessageId>abc-123</MessageId></SendRawEmailResult></SendRawEmailResponse>";
		const char *js = "{\"MessageId\": \"def-456\"}";
		CHECK_INT(ses_parse_message_id(SES_API_V1, x, strlen(x), id, sizeof(id)), 0);
		CHECK_STR(id, "abc-123");
		CHECK_INT(ses_parse_message_id(SES_API_V2, js, strlen(js), id, sizeof(id)), 0);
		CHECK_STR(id, "def-456");
		CHECK_INT(ses_parse_message_id(SES_API_V1, "<x/>", 4, id, sizeof(id)), -ENOENT);
		CHECK_INT(ses_parse_message_id(SES_API_V2, "{}", 2, id, sizeof(id)), -ENOENT);
		/* An id is a printable token: one that is empty once a NUL or
		 * entity cuts it, or carries a line break, is no id. */
		{
			static const char nul[] = "<MessageId>\0\0abc</MessageId>";
			const char *lf = "<MessageId>abc&#13;&#10;250 x</MessageId>";
			const char *jlf = "{\"MessageId\": \"abc\\r\\n250 x\"}";
			const char *jsp = "{\"MessageId\": \"abc def\"}";

			CHECK_INT(ses_parse_message_id(SES_API_V1, nul, sizeof(nul) - 1, id,
				sizeof(id)), -ENOENT);
			CHECK_INT(ses_parse_message_id(SES_API_V1, lf, strlen(lf), id, sizeof(id)),
				-ENOENT);
			CHECK_INT(ses_parse_message_id(SES_API_V2, jlf, strlen(jlf), id, sizeof(id)),
				-ENOENT);
			CHECK_INT(ses_parse_message_id(SES_API_V2, jsp, strlen(jsp), id, sizeof(id)),
				-ENOENT);
		}
	}
	strlist_free(&tags);
	return check_report();
}
