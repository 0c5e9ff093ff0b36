/* The API front of one event loop: for each connection its listener
 * (net/listener.h) accepts, HTTP/1.1 with keep-alive (HTTPS with
 * api_tls_cert), requests parsed by the one HTTP parser (http_parse.h)
 * under the api_* bounds and timeouts, callers verified (api_auth),
 * requests routed and translated under their policy (api_route.h,
 * api_translate.h, api_pinpoint.h) and forwarded through the loop's SES
 * client (ses_client_forward: the one AWS call path, the SMTP path's
 * credentials and retry rules); SES's answer goes back as SES gave it.
 * One request at a time per connection (reading pauses while one is in
 * flight); one `api.request` log line and one metrics sample per request.
 *
 * Binding, accepting and counting are the listener's; signals, reload
 * and drain are the relay's.
 *
 * Ownership: struct api_server holds one runtime ref (connections take
 * their own); the listener and SES client are borrowed and must outlive
 * it. Connections free themselves.
 */
#ifndef SESRELAY_API_SERVER_H
#define SESRELAY_API_SERVER_H

#include <stdbool.h>

#include <uv.h>

#include "api_runtime.h"
#include "listener.h"

struct ses_client;

struct api_server {
	uv_loop_t *loop;
	struct listener *listener;	/* borrowed */
	struct api_runtime *rt;		/* ref, for new connections */
	/* ref: the runtime the relay started with, for the keys that need a
	 * restart (identity ARNs, configuration set, tags, ses_headers) */
	struct api_runtime *boot;
	struct ses_client *ses;		/* borrowed: the loop's back end's */
	bool stopping;
};

/* The listener options the API front needs; the caller adds on_closed. */
void api_server_listener_opts(struct api_server *srv, struct listener_opts *o);
/* The listen_spec list for cfg->api_listen (caller frees the array). */
int api_server_listen_specs(const struct config *cfg, struct listen_spec **out, size_t *n);
/* srv must be the accept_arg of the listener's options. */
void api_server_init(struct api_server *srv, uv_loop_t *loop, struct listener *l,
	struct api_runtime *rt, struct ses_client *ses);
/* New connections use rt from now on. Loop thread. */
void api_server_set_runtime(struct api_server *srv, struct api_runtime *rt);
/* Close idle connections now; busy ones close after their answer (or
 * now with force, their request's SES call left to finish). */
void api_server_shutdown(struct api_server *srv, bool force);
void api_server_free(struct api_server *srv);

#endif
