#include "runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "clients.h"
#include "netacl.h"
#include "tls.h"

/* The first entry the allow list refuses on its own, so the error can
 * name the line it came from. */
static const char *bad_network(const struct strlist *l)
{
	char why[256];

	for (size_t i = 0; i < l->n; i++) {
		struct strlist one = { &l->v[i], 1 };
		struct netacl *acl = NULL;
		int r = netacl_parse(&one, &acl, why, sizeof(why));

		netacl_free(acl);
		if (r == -EINVAL)
			return l->v[i];
	}
	return NULL;
}

int runtime_load(const char *path, struct runtime **out, char *err, size_t errlen)
{
	struct runtime *rt = calloc(1, sizeof(*rt));
	char why[512], where[400];
	int r;

	if (rt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&rt->refs, 1);
	r = config_load(&rt->cfg, path, err, errlen);
	if (r) {
		free(rt);
		return r;
	}
	if (rt->cfg.tls_cert) {
		r = tls_ctx_load(rt->cfg.tls_cert, rt->cfg.tls_key, &rt->tls, why, sizeof(why));
		if (r) {
			snprintf(err, errlen, "%s: %s",
				config_where(&rt->cfg, "tls_cert", NULL, where, sizeof(where)), why);
			goto fail;
		}
	}
	if (rt->cfg.auth_users_file) {
		r = auth_db_load(rt->cfg.auth_users_file, &rt->auth, why, sizeof(why));
		if (r) {
			snprintf(err, errlen, "%s: %s",
				config_where(&rt->cfg, "auth_users_file", NULL, where, sizeof(where)), why);
			goto fail;
		}
	}
	if (rt->cfg.clients_file) {
		r = clients_load(rt->cfg.clients_file, &rt->clients, why, sizeof(why));
		if (r == 0)
			r = auth_db_add_clients(&rt->auth, rt->clients, why, sizeof(why));
		if (r) {
			snprintf(err, errlen, "%s: key \"clients_file\": %s",
				rt->cfg.path ? rt->cfg.path : "configuration", why);
			goto fail;
		}
	}
	r = netacl_parse(&rt->cfg.allow_networks, &rt->acl, why, sizeof(why));
	if (r) {
		snprintf(err, errlen, "%s: %s", config_where(&rt->cfg, "allow_networks",
			bad_network(&rt->cfg.allow_networks), where, sizeof(where)),
			strncmp(why, "allow_networks: ", 16) == 0 ? why + 16 : why);
		goto fail;
	}
	config_hostname(&rt->cfg, rt->hostname, sizeof(rt->hostname));
	*out = rt;
	return 0;
fail:
	runtime_unref(rt);
	return r;
}

struct runtime *runtime_ref(struct runtime *rt)
{
	atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
	return rt;
}

void runtime_unref(struct runtime *rt)
{
	if (rt == NULL || atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
		return;
	tls_ctx_unref(rt->tls);
	auth_db_unref(rt->auth);
	clients_unref(rt->clients);
	netacl_free(rt->acl);
	config_free(&rt->cfg);
	free(rt);
}
