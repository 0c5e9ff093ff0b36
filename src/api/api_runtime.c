/* The API front's configuration unit (see api_runtime.h). */
#include "api_runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "netacl.h"
#include "tls.h"

int api_runtime_new(const struct config *cfg, void (*release)(void *owner), void *owner,
	struct api_runtime **out, char *err, size_t errlen)
{
	struct api_runtime *rt = calloc(1, sizeof(*rt));
	const char *where = cfg->path ? cfg->path : "configuration";
	char why[512];
	int r = 0;

	*out = NULL;
	if (rt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&rt->refs, 1);
	rt->cfg = cfg;
	if (cfg->clients_file) {
		r = clients_load(cfg->clients_file, &rt->clients, why, sizeof(why));
		if (r) {
			snprintf(err, errlen, "%s: key \"clients_file\": %s", where, why);
			goto fail;
		}
	}
	if (cfg->api_tls_cert) {
		r = tls_ctx_load(cfg->api_tls_cert, cfg->api_tls_key, &rt->tls, why, sizeof(why));
		if (r) {
			snprintf(err, errlen, "%s: key \"api_tls_cert\": %s", where, why);
			goto fail;
		}
	}
	r = netacl_parse(&cfg->api_allow_networks, &rt->acl, why, sizeof(why));
	if (r) {
		snprintf(err, errlen, "%s: key \"api_allow_networks\": %s", where, why);
		goto fail;
	}
	rt->release = release;
	rt->owner = owner;
	*out = rt;
	return 0;
fail:
	api_runtime_unref(rt);		/* the owner stays the caller's */
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
	if (rt->release)
		rt->release(rt->owner);
	free(rt);
}
