/* What a connection needs from the configuration, loaded as one unit so a
 * reload (SIGHUP) can swap all of it at once: the config itself, the TLS
 * context, the users database and the client allow list.
 *
 * Ownership: struct runtime owns its config, TLS context ref, auth db ref
 * and netacl. It is refcounted (atomically: with `workers` > 1 a reload
 * on the main thread hands one runtime to every worker loop): each
 * smtp_server holds one ref for new connections, each session holds one
 * for its lifetime, so a reload never changes the rules under a
 * connection already open. Everything in it is read-only once loaded.
 */
#ifndef SESRELAY_RUNTIME_H
#define SESRELAY_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>

#include "config.h"

struct tls_ctx;
struct auth_db;
struct clients;
struct netacl;

struct runtime {
	atomic_uint refs;
	struct config cfg;
	struct tls_ctx *tls;		/* NULL when no tls_cert */
	struct auth_db *auth;		/* NULL when neither file gives a password */
	struct clients *clients;	/* clients_file: passwords and sending policy */
	struct netacl *acl;		/* allow_networks */
	char hostname[256];		/* cfg.hostname or gethostname() */
};

/* Load config file `path` (NULL: defaults and environment only) and
 * everything it names. 0, or a negative code with a one-line message. */
int runtime_load(const char *path, struct runtime **out, char *err, size_t errlen);
struct runtime *runtime_ref(struct runtime *rt);
void runtime_unref(struct runtime *rt);		/* NULL is fine */

#endif
