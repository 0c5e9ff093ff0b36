/* What the API front needs from the configuration, as one unit a reload
 * (SIGHUP) swaps at once for new requests: the configuration the relay
 * loaded (the very one the SMTP front uses, so both fronts always agree),
 * the clients file, the HTTPS context and the api_allow_networks list.
 *
 * Ownership: struct api_runtime borrows the configuration from its owner
 * and holds the owner until it is freed (release(owner) then); it owns
 * the rest. Refcounted atomically (the relay hands one to every worker
 * loop); each connection holds a ref for its lifetime. Read-only once
 * made.
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
	const struct config *cfg;	/* the owner's */
	void (*release)(void *owner);
	void *owner;
	struct clients *clients;	/* NULL without clients_file */
	struct tls_ctx *tls;		/* NULL without api_tls_cert: plain HTTP */
	struct netacl *acl;		/* api_allow_networks */
};

/* Load what cfg names for the API front. The owner (which keeps cfg alive)
 * is taken over on success: release(owner) runs when the runtime is
 * freed; on failure the caller keeps it. 0, or a negative code with a
 * one-line message (-EINVAL: the configuration is at fault). */
int api_runtime_new(const struct config *cfg, void (*release)(void *owner), void *owner,
	struct api_runtime **out, char *err, size_t errlen);
struct api_runtime *api_runtime_ref(struct api_runtime *rt);
void api_runtime_unref(struct api_runtime *rt);	/* NULL is fine */

#endif
