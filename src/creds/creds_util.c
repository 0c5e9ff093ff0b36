/* Small pieces every base credential source needs: error filling,
 * environment and file reading, and the credentials JSON shared by the
 * container endpoint, IMDS and credential_process. */
#include "creds_base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/crypto.h>

#include "aws_xml.h"

void creds_error_set(struct aws_error *e, int status, bool retryable,
	const char *step, const char *code, const char *fmt, ...)
{
	va_list ap;

	memset(e, 0, sizeof(*e));
	e->status = status;
	e->retryable = retryable;
	snprintf(e->step, sizeof(e->step), "%s", step ? step : "");
	snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

const char *creds_getenv(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int creds_read_file(const char *path, size_t max, struct buf *out)
{
	struct stat st;
	int fd, r = 0;

	buf_init(out);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto done;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
		r = -EINVAL;
		goto done;
	}
	for (;;) {
		ssize_t n;

		if ((r = buf_reserve(out, 4096)) != 0)
			goto done;
		n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto done;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		if (out->len > max) {
			r = -EFBIG;
			goto done;
		}
	}
	if (out->data == NULL)
		r = buf_reserve(out, 1);
done:
	close(fd);
	if (r)
		buf_free_secret(out);
	return r;
}

char *creds_expand_home(const char *path)
{
	char home[4096];
	size_t n = sizeof(home);
	char *r;

	if (path[0] != '~' || (path[1] != '/' && path[1] != '\0'))
		return strdup(path);
	if (uv_os_homedir(home, &n) != 0)
		return NULL;
	if (asprintf(&r, "%s%s", home, path + 1) < 0)
		return NULL;
	return r;
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* cJSON keeps parsed strings in its own heap blocks: wipe the secret ones
 * before cJSON_Delete() so they do not linger in freed memory. */
static void wipe_json(cJSON *o)
{
	for (cJSON *v = o ? o->child : NULL; v; v = v->next)
		if (cJSON_IsString(v) && v->valuestring)
			OPENSSL_cleanse(v->valuestring, strlen(v->valuestring));
	cJSON_Delete(o);
}

int creds_from_json(const char *body, size_t len, const char *token_key,
	bool need_expiration, const char *source, const char *step,
	struct aws_creds **out, struct aws_error *why)
{
	cJSON *o = cJSON_ParseWithLength(body, len);
	const char *akid, *secret, *token, *exp;
	time_t expiration = 0;
	int r = -EINVAL;

	*out = NULL;
	if (!cJSON_IsObject(o)) {
		creds_error_set(why, 0, false, step, "InvalidResponse",
			"%s: response is not a JSON object", step);
		goto done;
	}
	akid = json_str(o, "AccessKeyId");
	secret = json_str(o, "SecretAccessKey");
	token = token_key ? json_str(o, token_key) : NULL;
	exp = json_str(o, "Expiration");
	if (akid == NULL || secret == NULL) {
		creds_error_set(why, 0, false, step, "InvalidResponse",
			"%s: response lacks %s", step,
			akid == NULL ? "AccessKeyId" : "SecretAccessKey");
		goto done;
	}
	if (exp && aws_parse_iso8601(exp, &expiration) != 0) {
		creds_error_set(why, 0, false, step, "InvalidResponse",
			"%s: Expiration \"%.40s\" is not an ISO 8601 time", step, exp);
		goto done;
	}
	if (exp == NULL && need_expiration) {
		creds_error_set(why, 0, false, step, "InvalidResponse",
			"%s: response lacks Expiration", step);
		goto done;
	}
	*out = aws_creds_new(akid, secret, token, expiration, source);
	if (*out == NULL) {
		creds_error_set(why, 0, true, step, "InternalError", "out of memory");
		r = -ENOMEM;
		goto done;
	}
	r = 0;
done:
	wipe_json(o);
	return r;
}

void creds_http_error(struct aws_error *why, const char *step, int error,
	const char *error_text)
{
	creds_error_set(why, 0, true, step,
		error == -ETIMEDOUT ? "Timeout" : "NetworkError",
		"%s: %s", step, error_text ? error_text : uv_strerror(error));
}
