/* The admin endpoint's view of a request head: the process's one HTTP
 * parser (http_parse.h) with the admin bounds and no body allowed, reduced
 * to the method and path the endpoint routes on. Pure. */
#include <string.h>

#include "admin_http.h"
#include "http_parse.h"

int admin_http_parse_request(const char *buf, size_t len, struct admin_request *req)
{
	static const struct http_limits lim = {
		.max_head = ADMIN_HTTP_MAX_HEAD,
		.max_target = ADMIN_HTTP_MAX_TARGET,
		.max_fields = ADMIN_HTTP_MAX_FIELDS,
		.max_body = 0,
	};
	struct http_request hr;
	int r;

	memset(req, 0, sizeof(*req));
	req->method = ADMIN_OTHER;
	r = http_parse_request(buf, len, &lim, &hr);
	if (r <= 0)
		return r;
	if (strcmp(hr.method, "GET") == 0)
		req->method = ADMIN_GET;
	else if (strcmp(hr.method, "HEAD") == 0)
		req->method = ADMIN_HEAD;
	memcpy(req->path, hr.target, hr.path_len);
	req->path[hr.path_len] = '\0';
	return r;
}
