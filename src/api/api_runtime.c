/* The API front's configuration unit (see api_runtime.h). */
#include "api_runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "netacl.h"
#include "tls.h"

int api_runtime_load(const char *path, struct api_runtime **out, char *err, size_t errlen)
{
	struct api_runtime *rt = calloc(1, sizeof(*rt));
	char why[512];
	int r;

	*out = NULL;
	if (rt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&rt->refs, 1);
	r = config_load(&rt->cfg, path, err, errlen);
	if (r) {
		free(rt);
		return r == -ENOMEM ? r : -EINVAL;
	}
	if (rt->cfg.clients_file) {
		r = clients_load(rt->cfg.clients_file, &rt->clients, why, sizeof(why));
		if (r) {
			snprintf(err, errlen, "key \"clients_file\": %s", why);
			goto fail;
		}
	}
	if (rt->cfg.api_tls_cert) {
		r = tls_ctx_load(rt->cfg.api_tls_cert, rt->cfg.api_tls_key, &rt->tls, why, sizeof(why));
		if (r) {
			snprintf(err, errlen, "key \"api_tls_cert\": %s", why);
			goto fail;
		}
	}
	r = netacl_parse(&rt->cfg.api_allow_networks, &rt->acl, why, sizeof(why));
	if (r) {
		snprintf(err, errlen, "key \"api_allow_networks\": %s", why);
		goto fail;
	}
	*out = rt;
	return 0;
fail:
	api_runtime_unref(rt);
	return r == -ENOMEM ? r : -EINVAL;
}

struct api_runtime *api_runtime_ref(struct api_runtime *rt)
{
	atomic_fetch_add(&rt->refs, 1);
	return rt;
}

void api_runtime_unref(struct api_runtime *rt)
{
	if (rt == NULL || atomic_fetch_sub(&rt->refs, 1) != 1)
		return;
	clients_unref(rt->clients);
	tls_ctx_unref(rt->tls);
	netacl_free(rt->acl);
	config_free(&rt->cfg);
	free(rt);
}
