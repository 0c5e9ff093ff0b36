/* Checks of single configuration values, as config.c reads them: listen
 * addresses, sender rules, IAM and STS names, allow-list entries. Pure. */
#include "config_values.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

/* Every character an ASCII letter, digit or one of extra. */
static bool all_chars(const char *s, const char *extra)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (!(ch < 0x80 && isalnum(ch)) && strchr(extra, ch) == NULL)
			return false;
	}
	return true;
}

/* A DNS name or IPv4 literal: labels of letters, digits, '-' and '_'. */
static bool is_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return false;
	return all_chars(s, "-_.");
}

int config_split_hostport(const char *s, char *host, size_t hostlen, unsigned *port)
{
	const char *h = s, *colon, *p;
	size_t hl;
	unsigned long v = 0;

	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strchr(s, ':');
		if (colon == NULL || strchr(colon + 1, ':'))
			return -EINVAL;	/* IPv6 literals need brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	for (p = colon + 1; *p; p++) {
		if (!isdigit((unsigned char)*p) || p - colon > 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (p == colon + 1 || v > 65535)
		return -EINVAL;
	if (*s == '[') {
		struct in6_addr a6;
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return -EINVAL;
	} else if (!is_hostname(host)) {
		return -EINVAL;
	}
	*port = (unsigned)v;
	return 0;
}

int config_check_listen(const char *v, char *why, size_t whylen)
{
	char host[256];
	unsigned port;

	if (*v == '\0' || config_split_hostport(v, host, sizeof(host), &port) == 0)
		return 0;
	snprintf(why, whylen, "\"%s\" is not HOST:PORT or [IPv6]:PORT", v);
	return -EINVAL;
}

/* An address (local@domain) or @domain, as MAIL FROM is compared with. */
int config_check_sender(const char *v, char *why, size_t whylen)
{
	const char *at = strrchr(v, '@');
	bool ok = at != NULL && is_hostname(at + 1) && strchr(at + 1, '.') != NULL;

	for (const char *p = v; ok && p < at; p++) {
		unsigned char ch = (unsigned char)*p;
		ok = ch > ' ' && ch < 0x7f && strchr("<>()[]\\,;:\"@", ch) == NULL;
	}
	if (ok)
		return 0;
	snprintf(why, whylen, "\"%s\" is neither an address (user@example.com) nor @domain", v);
	return -EINVAL;
}

/* A full address (no @domain): the queue's bounce sender. */
int config_check_address(const char *v, char *why, size_t whylen)
{
	if (*v == '\0' || (v[0] != '@' && config_check_sender(v, why, whylen) == 0))
		return 0;
	snprintf(why, whylen, "\"%s\" is not an address (user@example.com)", v);
	return -EINVAL;
}

/* A positive number up to max, or "auto" where allowed. Empty is refused:
 * these keys have defaults, and an empty value is a mistake. */
static int check_rate(const char *v, bool allow_auto, double max, char *why, size_t whylen)
{
	char *end;
	double n;

	if (allow_auto && strcmp(v, "auto") == 0)
		return 0;
	n = strtod(v, &end);
	if (*v && end != v && *end == '\0' && n > 0 && n <= max)
		return 0;
	snprintf(why, whylen, "\"%s\" is not a number above 0 and at most %g%s", v, max,
		allow_auto ? " (or auto)" : "");
	return -EINVAL;
}

int config_check_send_rate(const char *v, char *why, size_t whylen)
{
	return check_rate(v, true, 100000, why, whylen);
}

int config_check_rate(const char *v, char *why, size_t whylen)
{
	return check_rate(v, false, 100000, why, whylen);
}

int config_check_rate_share(const char *v, char *why, size_t whylen)
{
	return check_rate(v, false, 1, why, whylen);
}

int config_check_tag(const char *v, char *why, size_t whylen)
{
	const char *eq = strchr(v, '=');

	if (eq && eq != v)
		return 0;
	snprintf(why, whylen, "\"%s\" is not name=value", v);
	return -EINVAL;
}

/* arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, PARTITION aws or aws-...,
 * ACCOUNT 12 digits, NAME IAM's [A-Za-z0-9+=,.@_-]{1,64}. Anything after
 * the name (a blank, a second ARN) is refused: STS would be asked for a
 * role that does not exist, and the account check compares the account. */
int config_check_role_arn(const char *v, char *why, size_t whylen)
{
	const char *p = v, *name;
	bool ok = strncmp(p, "arn:aws", 7) == 0;

	if (ok) {
		p += 7;
		if (*p == '-') {
			const char *q = ++p;
			while (islower((unsigned char)*p) || *p == '-')
				p++;
			ok = p > q && p[-1] != '-';
		}
	}
	ok = ok && strncmp(p, ":iam::", 6) == 0;
	if (ok) {
		p += 6;
		for (int i = 0; i < 12 && ok; i++)
			ok = isdigit((unsigned char)*p++);
		ok = ok && strncmp(p, ":role/", 6) == 0;
	}
	if (ok) {
		p += 5;		/* the path starts with its '/' */
		name = strrchr(p, '/') + 1;
		for (const char *q = p; ok && q < name; q++)
			ok = *q > ' ' && *q < 0x7f;
		ok = ok && strlen(name) >= 1 && strlen(name) <= 64 && strlen(p) <= 512 + 64 &&
			all_chars(name, "+=,.@_-");
	}
	if (*v == '\0' || ok)
		return 0;
	snprintf(why, whylen, "\"%s\" is not an IAM role ARN "
		"(arn:aws:iam::123456789012:role/NAME)", v);
	return -EINVAL;
}

/* STS ExternalId: 2-1224 of [A-Za-z0-9+=,.@:/_-]. An empty value is
 * refused rather than read as "no ExternalId": it is what an unset
 * secret or variable looks like, and the trust policy that asks for one
 * would then refuse every AssumeRole with an error far from the cause. */
int config_check_external_id(const char *v, char *why, size_t whylen)
{
	size_t n = strlen(v);

	if (n >= 2 && n <= 1224 && all_chars(v, "+=,.@:/_-"))
		return 0;
	if (n == 0)
		snprintf(why, whylen, "set but empty (remove the key when the role's "
			"trust policy asks for no ExternalId)");
	else
		snprintf(why, whylen, "must be 2-1224 characters of A-Z a-z 0-9 +=,.@:/_-");
	return -EINVAL;
}

int config_check_session_name(const char *v, char *why, size_t whylen)
{
	size_t n = strlen(v);

	if (n == 0 || (n >= 2 && n <= 64 && all_chars(v, "+=,.@_-")))
		return 0;
	snprintf(why, whylen, "\"%s\" must be 2-64 characters of A-Z a-z 0-9 +=,.@_-", v);
	return -EINVAL;
}

int config_check_account_id(const char *v, char *why, size_t whylen)
{
	if (*v == '\0' || (strlen(v) == 12 && strspn(v, "0123456789") == 12))
		return 0;
	snprintf(why, whylen, "\"%s\" is not a 12-digit AWS account ID", v);
	return -EINVAL;
}

int config_check_region(const char *v, char *why, size_t whylen)
{
	bool ok = strlen(v) <= 32;

	for (const char *p = v; ok && *p; p++)
		ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-';
	if (ok)
		return 0;
	snprintf(why, whylen, "\"%s\" is not a region name such as eu-west-1", v);
	return -EINVAL;
}

/* An allow_networks entry that admits every client of a family: a /0, or
 * an IPv6 block containing ::ffff:0:0/96, which the allow list matches
 * against every IPv4 client. Syntax errors are netacl's to report. */
bool config_network_admits_everyone(const char *cidr)
{
	static const unsigned char v4mapped[16] = { [10] = 0xff, [11] = 0xff };
	const char *slash = strchr(cidr, '/');
	unsigned char a[16];
	char host[64];
	unsigned long prefix;
	char *end;

	if (slash == NULL || (size_t)(slash - cidr) >= sizeof(host) || !isdigit((unsigned char)slash[1]))
		return false;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end)
		return false;
	if (prefix == 0)
		return true;
	memcpy(host, cidr, (size_t)(slash - cidr));
	host[slash - cidr] = '\0';
	if (prefix > 96 || inet_pton(AF_INET6, host, a) != 1)
		return false;
	for (unsigned long bit = 0; bit < prefix; bit++) {
		unsigned char m = (unsigned char)(0x80u >> (bit % 8));
		if ((a[bit / 8] & m) != (v4mapped[bit / 8] & m))
			return false;
	}
	return true;
}

bool config_listen_is_loopback(const char *spec)
{
	char host[256];
	unsigned port;
	unsigned char a[16];

	if (config_split_hostport(spec, host, sizeof(host), &port))
		return false;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char one[16] = { [15] = 1 };
		static const unsigned char mapped127[13] = { [10] = 0xff, [11] = 0xff, [12] = 127 };
		return memcmp(a, one, 16) == 0 || memcmp(a, mapped127, 13) == 0;
	}
	return false;	/* a host name may resolve to anything */
}
