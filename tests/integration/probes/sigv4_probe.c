/* Signs one AWS request with sesrelay's own encoder and signer, for
 * test_sigv4_moto.py to send to the emulator (whose SigV4 check is
 * botocore's, i.e. independent of ours); or reads a response with
 * aws_error_parse. Credentials come from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN as for an SDK.
 *
 *   sigv4_probe sign SERVICE REGION HOST PATH AMZDATE BODY_OUT [options] [key=value...]
 *     --raw FILE          stream FILE as base64 (chunks of --chunk bytes)
 *     --raw-key NAME      form key for it (default RawMessage.Data)
 *     --json PREFIX SUFFIX  body is PREFIX base64(FILE) SUFFIX (SESv2)
 *     --chunk N
 *   prints the headers to send, one "Name: value" per line.
 *
 *   sigv4_probe error STATUS FILE [X_AMZN_ERRORTYPE]
 *   prints rc, code, retryable, message, one per line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_query.h"
#include "aws_xml.h"
#include "sigv4.h"

static int slurp(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	char tmp[65536];
	size_t n;

	if (f == NULL)
		return -errno;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (buf_append(out, tmp, n))
			break;
	fclose(f);
	return buf_reserve(out, 0);
}

static int cmd_error(int argc, char **argv)
{
	struct buf body = BUF_INIT;
	struct aws_error e;
	int rc;

	if (argc < 4 || slurp(argv[3], &body))
		return 2;
	memset(&e, 0, sizeof(e));
	rc = aws_error_parse(atoi(argv[2]), body.data, body.len, argc > 4 ? argv[4] : NULL, &e);
	printf("%d\n%s\n%d\n%s\n", rc, e.code, e.retryable, e.message);
	buf_free(&body);
	return 0;
}

static int cmd_sign(int argc, char **argv)
{
	const char *akid = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	const char *raw = NULL, *raw_key = "RawMessage.Data", *jpre = NULL, *jsuf = NULL;
	struct sigv4_header hdrs[4];
	struct buf body = BUF_INIT, rawdata = BUF_INIT, auth = BUF_INIT;
	struct sigv4_hash h;
	struct sigv4_key key;
	size_t chunk = 4096, nh = 0;
	char hex[65];
	FILE *f;
	int i, rc = 0;

	if (argc < 8 || akid == NULL || secret == NULL)
		return 2;
	for (i = 8; i < argc; i++) {
		if (strcmp(argv[i], "--raw") == 0 && i + 1 < argc) {
			raw = argv[++i];
		} else if (strcmp(argv[i], "--raw-key") == 0 && i + 1 < argc) {
			raw_key = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0 && i + 2 < argc) {
			jpre = argv[++i];
			jsuf = argv[++i];
		} else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc) {
			chunk = strtoul(argv[++i], NULL, 10);
		} else {
			char *eq = strchr(argv[i], '=');

			if (eq == NULL || jpre)
				return 2;
			*eq = '\0';
			rc |= aws_query_add(&body, argv[i], eq + 1);
		}
	}
	if (chunk == 0 || sigv4_hash_init(&h))
		return 2;
	if (jpre)
		rc |= buf_puts(&body, jpre);
	else if (raw)
		rc |= buf_printf(&body, "%s%s=", body.len ? "&" : "", raw_key);
	rc |= sigv4_hash_update(&h, body.data, body.len);
	if (raw) {
		struct aws_b64_stream s;

		if (slurp(raw, &rawdata))
			return 2;
		aws_b64_stream_init(&s, jpre ? AWS_B64_PLAIN : AWS_B64_FORM, &body, &h);
		for (size_t off = 0; off < rawdata.len; off += chunk)
			rc |= aws_b64_stream_update(&s, rawdata.data + off,
				rawdata.len - off < chunk ? rawdata.len - off : chunk);
		rc |= aws_b64_stream_final(&s);
	}
	if (jsuf) {
		size_t before = body.len;

		rc |= buf_puts(&body, jsuf);
		rc |= sigv4_hash_update(&h, body.data + before, body.len - before);
	}
	rc |= sigv4_hash_final(&h, hex);
	if (rc)
		return 1;

	hdrs[nh++] = (struct sigv4_header){ "Host", argv[4] };
	hdrs[nh++] = (struct sigv4_header){ "Content-Type", jpre ? "application/json" :
		"application/x-www-form-urlencoded; charset=utf-8" };
	hdrs[nh++] = (struct sigv4_header){ "X-Amz-Date", argv[6] };
	if (token && *token)
		hdrs[nh++] = (struct sigv4_header){ "X-Amz-Security-Token", token };
	{
		struct sigv4_request r = {
			.method = "POST", .path = argv[5], .query = "", .headers = hdrs,
			.nheaders = nh, .payload_hash = hex, .region = argv[3], .service = argv[2],
			.amz_date = argv[6],
		};

		memset(&key, 0, sizeof(key));
		rc = sigv4_authorization(&r, akid, secret, &key, &auth);
		sigv4_key_clear(&key);
	}
	if (rc)
		return 1;
	f = fopen(argv[7], "wb");
	if (f == NULL || fwrite(body.data, 1, body.len, f) != body.len || fclose(f))
		return 1;
	for (size_t k = 1; k < nh; k++)
		printf("%s: %s\n", hdrs[k].name, hdrs[k].value);
	printf("Authorization: %s\n", auth.data);
	buf_free(&body);
	buf_free(&rawdata);
	buf_free(&auth);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc, argv);
	if (argc > 1 && strcmp(argv[1], "error") == 0)
		return cmd_error(argc, argv);
	fprintf(stderr, "usage: sigv4_probe sign|error ...\n");
	return 2;
}
