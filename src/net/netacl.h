/* Client address allow lists (config key allow_networks).
 *
 * Rules are CIDR blocks, IPv4 ("10.0.0.0/8") or IPv6 ("fd00::/8"); a bare
 * address is a single host. An IPv4-mapped IPv6 client address
 * (::ffff:a.b.c.d, as seen on dual-stack sockets) is matched against the
 * IPv4 rules. Host bits set below the prefix are rejected as a likely
 * typo ("10.1.2.3/8").
 *
 * Ownership: struct netacl owns its rule array; immutable after parse, so
 * it can be read from several threads. netacl_free() releases it.
 */
#ifndef SESRELAY_NETACL_H
#define SESRELAY_NETACL_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

#include "config.h"

struct netacl;

/* Returns 0, -EINVAL with a message naming the bad entry in err, or
 * -ENOMEM. An empty list parses to an ACL that allows nothing. */
int netacl_parse(const struct strlist *cidrs, struct netacl **out,
	char *err, size_t errlen);
/* True if addr (AF_INET or AF_INET6) falls in any rule; false for other
 * families and for NULL. */
bool netacl_allows(const struct netacl *acl, const struct sockaddr *addr);
void netacl_free(struct netacl *acl);	/* NULL is fine */

#endif
