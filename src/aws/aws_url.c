#include "aws_url.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

static int copy(char *dst, size_t cap, const char *src)
{
	return (size_t)snprintf(dst, cap, "%s", src) < cap ? 0 : -EINVAL;
}

/* curl's handle for an http(s) URL; NULL with *err set otherwise. */
static CURLU *open_url(const char *url, int *err)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL;
	const char *sep;

	*err = -ENOMEM;
	if (h == NULL)
		return NULL;
	*err = -EINVAL;
	/* curl reads "https:///x" as host "x"; an empty authority is an error
	 * in a configured endpoint, not something to guess around. */
	if (url == NULL || ((sep = strstr(url, "://")) != NULL && sep[3] == '/') ||
	    curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
		curl_free(scheme);
		curl_free(host);
		curl_url_cleanup(h);
		return NULL;
	}
	curl_free(scheme);
	curl_free(host);
	*err = 0;
	return h;
}

static int fill(CURLU *h, struct aws_url *out)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL;
	size_t hl;
	int r = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	/* Only a port written in the URL is part of Host: curl leaves the
	 * default one out of the header, and the signature must match. */
	if (curl_url_get(h, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	out->userinfo = curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK;
	out->https = strcasecmp(scheme, "https") == 0;
	if ((size_t)snprintf(out->authority, sizeof(out->authority), "%s%s%s", host,
		    port ? ":" : "", port ? port : "") >= sizeof(out->authority))
		goto out;
	hl = strlen(host);
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		if (hl - 2 >= sizeof(out->host))
			goto out;
		memcpy(out->host, host + 1, hl - 2);
		out->host[hl - 2] = '\0';
	} else if (copy(out->host, sizeof(out->host), host)) {
		goto out;
	}
	r = copy(out->path, sizeof(out->path), path[0] ? path : "/");
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	return r;
}

int aws_url_parse(const char *url, struct aws_url *out)
{
	int r;
	CURLU *h = open_url(url, &r);

	if (h == NULL)
		return r;
	r = fill(h, out);
	curl_url_cleanup(h);
	return r;
}

int aws_url_split(const char *url, char *host, size_t hostlen, char *path, size_t pathlen)
{
	struct aws_url u;
	int r = aws_url_parse(url, &u);

	if (r == 0)
		r = copy(host, hostlen, u.authority);
	if (r == 0)
		r = copy(path, pathlen, u.path);
	return r;
}

int aws_url_join(const char *url, const char *suffix, char *out, size_t outlen)
{
	char path[AWS_URL_MAX];
	char *cur = NULL, *full = NULL;
	size_t n;
	int r;
	CURLU *h = open_url(url, &r);

	if (h == NULL)
		return r;
	r = -EINVAL;
	if (curl_url_get(h, CURLUPART_PATH, &cur, 0) != CURLUE_OK)
		goto out;
	n = strlen(cur);
	while (n > 0 && cur[n - 1] == '/')
		n--;
	if ((size_t)snprintf(path, sizeof(path), "%.*s%s", (int)n, cur, suffix) >= sizeof(path))
		goto out;
	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/");
	if (curl_url_set(h, CURLUPART_PATH, path, 0) != CURLUE_OK ||
	    curl_url_set(h, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
	    curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_URL, &full, 0) != CURLUE_OK)
		goto out;
	r = copy(out, outlen, full);
out:
	curl_free(cur);
	curl_free(full);
	curl_url_cleanup(h);
	return r;
}
