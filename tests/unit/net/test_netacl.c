#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "netacl.h"

static struct netacl *parse(const char *list)
{
	struct strlist l = { NULL, 0 };
	struct netacl *acl = NULL;
	char err[256] = "";

	CHECK_INT(strlist_split(&l, list), 0);
	CHECK_INT(netacl_parse(&l, &acl, err, sizeof(err)), 0);
	if (acl == NULL)
		fprintf(stderr, "parse \"%s\": %s\n", list, err);
	strlist_free(&l);
	return acl;
}

static int rejects(const char *entry, const char *want_in_err)
{
	struct strlist l = { NULL, 0 };
	struct netacl *acl = (struct netacl *)1;
	char err[256] = "";
	int r, ok;

	strlist_split(&l, "10.0.0.0/8");
	/* append the bad entry as the second element */
	l.v = realloc(l.v, 2 * sizeof(*l.v));
	l.v[1] = strdup(entry);
	l.n = 2;
	r = netacl_parse(&l, &acl, err, sizeof(err));
	ok = r == -EINVAL && acl == NULL && strstr(err, entry) != NULL &&
		strstr(err, want_in_err) != NULL;
	if (!ok)
		fprintf(stderr, "entry \"%s\": r=%d err=\"%s\"\n", entry, r, err);
	strlist_free(&l);
	return ok;
}

static bool allows(const struct netacl *acl, const char *ip)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, ip, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return netacl_allows(acl, (struct sockaddr *)&s4);
	}
	if (inet_pton(AF_INET6, ip, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		return netacl_allows(acl, (struct sockaddr *)&s6);
	}
	fprintf(stderr, "bad test address %s\n", ip);
	exit(1);
}

int main(void)
{
	struct netacl *acl;
	struct sockaddr_un_like { sa_family_t f; char pad[32]; } other = { AF_UNIX, { 0 } };

	/* The default: loopback only. */
	acl = parse("127.0.0.0/8,::1/128");
	CHECK(allows(acl, "127.0.0.1"));
	CHECK(allows(acl, "127.255.255.254"));
	CHECK(!allows(acl, "128.0.0.1"));
	CHECK(!allows(acl, "10.0.0.1"));
	CHECK(allows(acl, "::1"));
	CHECK(!allows(acl, "::2"));
	/* dual-stack socket: IPv4 client seen as ::ffff:a.b.c.d */
	CHECK(allows(acl, "::ffff:127.0.0.1"));
	CHECK(!allows(acl, "::ffff:10.0.0.1"));
	/* IPv4-compatible (deprecated) and NAT64 forms are not IPv4 */
	CHECK(!allows(acl, "::127.0.0.1"));
	CHECK(!allows(acl, "64:ff9b::127.0.0.1"));
	CHECK(!netacl_allows(acl, (struct sockaddr *)&other));
	CHECK(!netacl_allows(acl, NULL));
	netacl_free(acl);

	/* Odd prefix lengths and bare hosts. */
	acl = parse("192.168.4.0/22 10.1.2.3, fd00:1234::/31 2001:db8::5");
	CHECK(allows(acl, "192.168.4.0"));
	CHECK(allows(acl, "192.168.7.255"));
	CHECK(!allows(acl, "192.168.8.0"));
	CHECK(!allows(acl, "192.168.3.255"));
	CHECK(allows(acl, "10.1.2.3"));
	CHECK(!allows(acl, "10.1.2.4"));
	CHECK(allows(acl, "fd00:1234::1"));
	CHECK(allows(acl, "fd00:1235:ffff::1"));
	CHECK(!allows(acl, "fd00:1236::"));
	CHECK(allows(acl, "2001:db8::5"));
	CHECK(!allows(acl, "2001:db8::6"));
	CHECK(allows(acl, "::ffff:192.168.5.5"));
	netacl_free(acl);

	/* Everything, per family. */
	acl = parse("0.0.0.0/0");
	CHECK(allows(acl, "1.2.3.4"));
	CHECK(allows(acl, "::ffff:1.2.3.4"));
	CHECK(!allows(acl, "2001:db8::1"));
	netacl_free(acl);
	acl = parse("::/0");
	CHECK(allows(acl, "2001:db8::1"));
	netacl_free(acl);

	/* Empty list: nothing allowed. */
	acl = parse("");
	CHECK(acl != NULL);
	CHECK(!allows(acl, "127.0.0.1"));
	netacl_free(acl);

	CHECK(rejects("10.0.0.0/33", "not an address"));
	CHECK(rejects("::/129", "not an address"));
	CHECK(rejects("10.0.0.0/", "not an address"));
	CHECK(rejects("10.0.0.0/-1", "not an address"));
	CHECK(rejects("10.0.0.0/08", "not an address"));
	CHECK(rejects("10.0.0.0/8x", "not an address"));
	CHECK(rejects("10.0.0/8", "not an address"));
	CHECK(rejects("example.com", "not an address"));
	CHECK(rejects("/8", "not an address"));
	CHECK(rejects("[::1]/128", "not an address"));
	CHECK(rejects("10.1.2.3/8", "host bits"));
	CHECK(rejects("fd00::1/64", "host bits"));
	CHECK(rejects("192.168.5.0/22", "host bits"));

	return check_report();
}
