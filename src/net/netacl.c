#include "netacl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IPv4 rules are stored as IPv4-mapped IPv6 (::ffff:0:0/96 + prefix), so
 * one comparison covers both families and mapped client addresses. */
struct rule {
	unsigned char addr[16];
	unsigned prefix;	/* 0..128, in the mapped space */
};

struct netacl {
	struct rule *rules;
	size_t n;
};

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool prefix_match(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff00u >> rest);
	return (a[full] & mask) == (b[full] & mask);
}

static bool host_bits_clear(const unsigned char *a, unsigned prefix)
{
	for (unsigned bit = prefix; bit < 128; bit++)
		if (a[bit / 8] & (0x80u >> (bit % 8)))
			return false;
	return true;
}

static int parse_one(const char *s, struct rule *r, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned maxlen, prefix;
	struct in_addr a4;

	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1) {
		memcpy(r->addr, v4mapped, 12);
		memcpy(r->addr + 12, &a4, 4);
		maxlen = 32;
	} else if (inet_pton(AF_INET6, host, r->addr) == 1) {
		maxlen = 128;
	} else {
		goto bad;
	}
	prefix = maxlen;
	if (slash) {
		const char *p = slash + 1;
		/* Decimal, no sign, no leading zeros beyond "0". */
		if (*p < '0' || *p > '9' || (p[0] == '0' && p[1]) || strlen(p) > 3)
			goto bad;
		prefix = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				goto bad;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > maxlen)
			goto bad;
	}
	r->prefix = maxlen == 32 ? prefix + 96 : prefix;
	if (!host_bits_clear(r->addr, r->prefix)) {
		snprintf(err, errlen, "allow_networks: \"%s\" has host bits set below /%u",
			s, prefix);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, "allow_networks: \"%s\" is not an address or CIDR block", s);
	return -EINVAL;
}

int netacl_parse(const struct strlist *cidrs, struct netacl **out,
	char *err, size_t errlen)
{
	struct netacl *acl = calloc(1, sizeof(*acl));

	*out = NULL;
	if (acl == NULL)
		return -ENOMEM;
	if (cidrs->n) {
		acl->rules = calloc(cidrs->n, sizeof(*acl->rules));
		if (acl->rules == NULL) {
			free(acl);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < cidrs->n; i++) {
		int r = parse_one(cidrs->v[i], &acl->rules[i], err, errlen);
		if (r) {
			netacl_free(acl);
			return r;
		}
		acl->n++;
	}
	*out = acl;
	return 0;
}

bool netacl_allows(const struct netacl *acl, const struct sockaddr *addr)
{
	unsigned char a[16];

	if (acl == NULL || addr == NULL)
		return false;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)addr;
		memcpy(a, v4mapped, 12);
		memcpy(a + 12, &s4->sin_addr, 4);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)addr;
		memcpy(a, &s6->sin6_addr, 16);
	} else {
		return false;
	}
	for (size_t i = 0; i < acl->n; i++)
		if (prefix_match(a, acl->rules[i].addr, acl->rules[i].prefix))
			return true;
	return false;
}

void netacl_free(struct netacl *acl)
{
	if (acl == NULL)
		return;
	free(acl->rules);
	free(acl);
}
