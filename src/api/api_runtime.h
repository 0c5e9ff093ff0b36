/* What the API front needs from the configuration, loaded as one unit so
 * a reload (SIGHUP) swaps all of it at once for new requests: the
 * configuration, the clients file, the HTTPS context and the
 * api_allow_networks list.
 *
 * Ownership: struct api_runtime owns all of it; refcounted atomically
 * (the relay hands one to every worker loop); each connection holds a ref
 * for its lifetime. Read-only once loaded.
 */
#ifndef SESRELAY_API_RUNTIME_H
#define SESRELAY_API_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>

#include "clients.h"
#include "config.h"

struct tls_ctx;
struct netacl;

struct api_runtime {
	atomic_uint refs;
	struct config cfg;
	struct clients *clients;	/* NULL without clients_file */
	struct tls_ctx *tls;		/* NULL without api_tls_cert: plain HTTP */
	struct netacl *acl;		/* api_allow_networks */
};

/* Load config file `path` (NULL: defaults and environment) and what it
 * names for the API front. 0, or a negative code with a one-line
 * message (-EINVAL: the configuration is at fault). */
int api_runtime_load(const char *path, struct api_runtime **out, char *err, size_t errlen);
struct api_runtime *api_runtime_ref(struct api_runtime *rt);
void api_runtime_unref(struct api_runtime *rt);	/* NULL is fine */

#endif
