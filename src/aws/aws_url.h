/* URLs, parsed and built by libcurl's URL API (CURLU) in this one place:
 * AWS endpoints (STS, SES), the container credentials endpoint and the
 * instance metadata endpoint all go through it, so what is signed (Host
 * and path) is what curl sends, down to dot segments and IPv6 brackets.
 *
 * Only http and https URLs with a host are accepted. Results are copied
 * into the caller's struct or buffers; nothing is kept.
 */
#ifndef SESRELAY_AWS_URL_H
#define SESRELAY_AWS_URL_H

#include <stdbool.h>
#include <stddef.h>

#define AWS_URL_MAX 512
#define AWS_HOST_MAX 256

struct aws_url {
	bool https;
	bool userinfo;			/* the URL named a user (never sent as Host) */
	char authority[AWS_HOST_MAX];	/* Host header as sent and signed: host[:port] */
	char host[AWS_HOST_MAX];	/* the host alone, IPv6 without brackets */
	char path[AWS_URL_MAX];		/* "/" when empty; query and fragment dropped */
};

/* 0, or -EINVAL (not an http(s) URL with a host, or too long), -ENOMEM. */
int aws_url_parse(const char *url, struct aws_url *out);

/* Host header value and path of an http(s) URL (see struct aws_url). */
int aws_url_split(const char *url, char *host, size_t hostlen, char *path, size_t pathlen);

/* `url` with `suffix` appended to its path (a trailing '/' of the path
 * dropped first; "" keeps the path, "/" when empty) and query and
 * fragment removed. An endpoint's path prefix (a proxy in front of AWS)
 * is thus kept in front of the API path. -EINVAL as aws_url_parse, or
 * when the result does not fit. */
int aws_url_join(const char *url, const char *suffix, char *out, size_t outlen);

#endif
