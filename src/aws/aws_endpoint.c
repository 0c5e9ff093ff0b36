#include "aws_endpoint.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_url.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static bool region_ok(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n >= AWS_REGION_MAX)
		return false;
	for (const char *p = r; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

int aws_region_resolve(const char *config_region, char *out, size_t outlen)
{
	const char *r = config_region && *config_region ? config_region : NULL;

	if (r == NULL)
		r = env("AWS_REGION");
	if (r == NULL)
		r = env("AWS_DEFAULT_REGION");
	if (r == NULL)
		return -ENOENT;
	if (!region_ok(r) || (size_t)snprintf(out, outlen, "%s", r) >= outlen)
		return -EINVAL;
	return 0;
}

static int copy_url(const char *url, char *out, size_t outlen)
{
	size_t n = strlen(url);
	struct aws_url parsed;

	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n >= outlen)
		return -EINVAL;
	memcpy(out, url, n);
	out[n] = '\0';
	return aws_url_parse(out, &parsed);
}

int aws_endpoint_resolve(enum aws_service svc, const char *region, char *out, size_t outlen)
{
	const char *ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	const char *u = NULL;
	int n;

	if (ignore == NULL || strcasecmp(ignore, "true") != 0) {
		switch (svc) {
		case AWS_SERVICE_STS:
			u = env("AWS_ENDPOINT_URL_STS");
			break;
		case AWS_SERVICE_SESV2:
			u = env("AWS_ENDPOINT_URL_SESV2");
			if (u == NULL)
				u = env("AWS_ENDPOINT_URL_SES");
			break;
		case AWS_SERVICE_SES:
			u = env("AWS_ENDPOINT_URL_SES");
			break;
		}
		if (u == NULL)
			u = env("AWS_ENDPOINT_URL");
	}
	if (u)
		return copy_url(u, out, outlen);
	if (region == NULL || !region_ok(region))
		return -EINVAL;
	n = snprintf(out, outlen, "https://%s.%s.amazonaws.com",
		svc == AWS_SERVICE_STS ? "sts" : "email", region);
	return n < 0 || (size_t)n >= outlen ? -EINVAL : 0;
}

const char *aws_ca_bundle(void)
{
	return env("AWS_CA_BUNDLE");
}
