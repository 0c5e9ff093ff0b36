/* Base credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN. Half a key pair is a configuration mistake, not
 * "not configured": it fails instead of silently falling through to a
 * different identity further down the chain. */
#include "creds_base.h"

#include <stdlib.h>

struct env_provider {
	struct creds_provider base;
};

static int env_get(struct creds_provider *p, creds_cb cb, void *arg)
{
	const char *akid = creds_getenv("AWS_ACCESS_KEY_ID");
	const char *secret = creds_getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = creds_getenv("AWS_SESSION_TOKEN");
	struct aws_creds *c;
	struct aws_error why;

	(void)p;
	if (akid == NULL && secret == NULL) {
		creds_error_set(&why, 0, false, "env", "NotConfigured",
			"AWS_ACCESS_KEY_ID unset");
		cb(arg, CREDS_NOT_CONFIGURED, NULL, &why);
		return 0;
	}
	if (akid == NULL || secret == NULL) {
		creds_error_set(&why, 0, false, "env", "IncompleteCredentials",
			"%s is set but %s is not",
			akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		cb(arg, -EINVAL, NULL, &why);
		return 0;
	}
	c = aws_creds_new(akid, secret, token, 0, "env");
	if (c == NULL)
		return -ENOMEM;
	cb(arg, 0, c, NULL);
	aws_creds_unref(c);
	return 0;
}

static void env_destroy(struct creds_provider *p)
{
	free(p);
}

static const struct creds_provider_vtable env_vt = {
	.name = "env",
	.get = env_get,
	.destroy = env_destroy,
};

int creds_env_new(const struct creds_source_opts *o, struct creds_provider **out)
{
	struct env_provider *p = calloc(1, sizeof(*p));

	(void)o;
	if (p == NULL)
		return -ENOMEM;
	p->base.vt = &env_vt;
	*out = &p->base;
	return 0;
}
