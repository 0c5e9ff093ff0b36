/* The admin HTTP endpoint on `metrics_listen`: GET/HEAD /metrics
 * (Prometheus text format), /healthz (the process runs) and /readyz
 * (verified shared-account credentials held, SMTP listeners up and not
 * draining). A deliberately small HTTP/1.1 responder on the relay's main
 * loop: one request per connection, no bodies, the head bounded in size
 * and time; every answer closes. Binding, accepting and the connection
 * cap (metrics_max_connections) are the listener's (net/listener.h);
 * what to report is asked of the relay through struct admin_source.
 *
 * Ownership: admin_http_new() returns an object that owns its listener
 * and connections; admin_http_close() closes them all and the object
 * frees itself once the loop has run their close callbacks. The source
 * is copied; what its arg points at must outlive the object.
 *
 * admin_http_parse_request() is pure (no loop, no clock) and fuzzed.
 */
#ifndef SESRELAY_ADMIN_HTTP_H
#define SESRELAY_ADMIN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct config;
struct metrics_scrape;

#define ADMIN_HTTP_MAX_HEAD 8192	/* request line + header fields + blank line */
#define ADMIN_HTTP_MAX_TARGET 1024	/* request-target; longer: 414 */
#define ADMIN_HTTP_MAX_FIELDS 64	/* header field lines; more: 431 */

enum admin_method { ADMIN_GET, ADMIN_HEAD, ADMIN_OTHER };

struct admin_request {
	enum admin_method method;
	char path[ADMIN_HTTP_MAX_TARGET + 1];	/* request-target up to '?' */
};

/* Parse the request head at the start of buf[0..len). Returns its length
 * (> 0) once a complete, valid head is there; 0 when more bytes are
 * needed; or a negative HTTP status to answer with (-400 malformed, -413
 * a body announced, -414 target too long, -431 head too large, -505
 * version). Bytes that make the head invalid are refused as soon as they
 * are seen, not when the head ends. */
int admin_http_parse_request(const char *buf, size_t len, struct admin_request *req);

struct admin_http;

/* What the endpoint reports, asked on each request (loop thread). */
struct admin_source {
	/* /readyz: mail would be taken and delivered now; else why not. */
	bool (*ready)(void *arg, char *why, size_t n);
	/* /metrics: figures beyond the process-wide counters. */
	void (*metrics)(void *arg, struct metrics_scrape *x);
	void *arg;
};

/* Listen on cfg->metrics_listen (as the listener takes addresses, port 0:
 * any) and log event=metrics.listen with the bound address. 0, or a
 * negative code with err filled (-EINVAL: a bad address; nothing left
 * open but handles closing). */
int admin_http_new(uv_loop_t *loop, const struct config *cfg, const struct admin_source *src,
	struct admin_http **out, char *err, size_t errlen);
/* Stop listening and close every connection. NULL is fine. */
void admin_http_close(struct admin_http *a);

#endif
