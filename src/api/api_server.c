/* The API front of one event loop (see api_server.h). */
#include "api_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_pinpoint.h"
#include "api_reply.h"
#include "api_route.h"
#include "api_sigv4.h"
#include "api_translate.h"
#include "http_parse.h"
#include "log.h"
#include "metrics.h"
#include "netacl.h"
#include "ses_client.h"
#include "ses_message.h"
#include "sigv4.h"
#include "tls.h"

#define READ_CHUNK 16384

enum conn_state {
	C_IDLE,				/* between requests: nothing received */
	C_HEAD,				/* part of a request head received */
	C_BODY,				/* head parsed, body arriving */
	C_BUSY,				/* request with SES; reading paused */
};

struct pp_slot {
	struct api_conn *c;
	size_t idx;
	struct ses_send *send;
};

/* Allocated by the listener (struct listener_conn first). */
struct api_conn {
	struct listener_conn conn;
	struct api_server *srv;
	struct api_runtime *rt;		/* ref, for this connection's life */
	uv_timer_t timer;
	int handles_open;
	struct tls_conn *tls;
	struct buf in;			/* plaintext received, not yet consumed */
	struct buf out;			/* scratch for TLS output */
	enum conn_state state;
	bool reading, closing, close_after, freed;
	int writes_pending;
	unsigned nreq;
	/* the request under way */
	size_t head_len;
	uintptr_t head_at;		/* where c->in was when the head was parsed */
	uint64_t body_len;
	struct http_request req;
	struct api_route route;
	uint64_t t_start;		/* uv_hrtime() at the complete head */
	const struct client *client;	/* of rt->clients; NULL in network mode */
	struct api_forward fw;
	struct ses_send *send;
	struct api_pinpoint pp;
	struct pp_slot *slots;
	size_t pending;			/* SES calls in flight */
	struct api_answer ans;
	struct sigv4_key key;		/* the caller's derived signing key, wiped on free */
	char read_buf[READ_CHUNK];
};

struct write_req {
	uv_write_t req;
	struct api_conn *c;
	char data[];
};

static void advance(struct api_conn *c);
static void read_resume(struct api_conn *c);
static void arm(struct api_conn *c, unsigned seconds);

/* ---- lifetime ---- */

static void conn_maybe_free(struct api_conn *c)
{
	if (c->handles_open > 0 || c->pending > 0 || c->freed)
		return;
	c->freed = true;
	tls_conn_free(c->tls);
	buf_free(&c->in);
	buf_free(&c->out);
	api_forward_free(&c->fw);
	api_pinpoint_free(&c->pp);
	free(c->slots);
	api_answer_free(&c->ans);
	sigv4_key_clear(&c->key);
	api_runtime_unref(c->rt);
	listener_conn_free(&c->conn);
}

static void handle_closed(uv_handle_t *h)
{
	struct api_conn *c = h->data;

	c->handles_open--;
	conn_maybe_free(c);
}

static void conn_close(struct api_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->timer, handle_closed);
	uv_close((uv_handle_t *)&c->conn.tcp, handle_closed);
}

/* ---- output ---- */

static void on_written(uv_write_t *w, int status)
{
	struct write_req *wr = (struct write_req *)w;
	struct api_conn *c = wr->c;

	free(wr);
	c->writes_pending--;
	if (c->closing)
		return;
	if (status < 0 || (c->close_after && c->writes_pending == 0 && c->state != C_BUSY)) {
		conn_close(c);
		return;
	}
	/* the answer has left: the next request may be read and served */
	if (c->writes_pending == 0 && c->state == C_IDLE && !c->close_after && !c->reading) {
		read_resume(c);
		advance(c);
	}
}

static int write_raw(struct api_conn *c, const char *p, size_t n)
{
	struct write_req *wr;
	uv_buf_t b;

	if (n == 0)
		return 0;
	wr = malloc(sizeof(*wr) + n);
	if (wr == NULL)
		return -ENOMEM;
	memcpy(wr->data, p, n);
	wr->c = c;
	b = uv_buf_init(wr->data, (unsigned)n);
	if (uv_write(&wr->req, (uv_stream_t *)&c->conn.tcp, &b, 1, on_written) != 0) {
		free(wr);
		return -EIO;
	}
	c->writes_pending++;
	return 0;
}

static int flush_tls(struct api_conn *c)
{
	int r;

	buf_reset(&c->out);
	r = tls_conn_pending_output(c->tls, &c->out);
	if (r == 0 && c->out.len)
		r = write_raw(c, c->out.data, c->out.len);
	return r;
}

static int send_bytes(struct api_conn *c, const char *p, size_t n)
{
	int r;

	if (c->tls == NULL)
		return write_raw(c, p, n);
	r = tls_conn_write(c->tls, p, n);
	return r ? r : flush_tls(c);
}

/* ---- timers and reading ---- */

static void on_timeout(uv_timer_t *t)
{
	struct api_conn *c = t->data;
	struct logline l;

	if (c->state != C_IDLE && log_begin(&l, LVL_INFO, "api.reject")) {
		log_str(&l, "client", c->conn.addr);
		log_str(&l, "reason", c->state == C_HEAD ? "timeout_header" : "timeout_body");
		log_end(&l);
	}
	conn_close(c);
}

static void arm(struct api_conn *c, unsigned seconds)
{
	uv_timer_start(&c->timer, on_timeout, (uint64_t)seconds * 1000, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct api_conn *c = h->data;

	(void)hint;
	*b = uv_buf_init(c->read_buf, sizeof(c->read_buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct api_conn *c = s->data;
	int r;

	if (n == 0 || c->closing)
		return;
	if (n < 0) {
		/* EOF or error: an answer under way is of no use to anyone */
		conn_close(c);
		return;
	}
	if (c->tls) {
		r = tls_conn_feed(c->tls, b->base, (size_t)n);
		if (r == 0)
			r = tls_conn_read(c->tls, &c->in);
		if (flush_tls(c) || (r && r != -ECONNRESET)) {
			conn_close(c);
			return;
		}
	} else if (buf_append(&c->in, b->base, (size_t)n)) {
		conn_close(c);
		return;
	}
	advance(c);
}

static void read_pause(struct api_conn *c)
{
	if (c->reading)
		uv_read_stop((uv_stream_t *)&c->conn.tcp);
	c->reading = false;
}

static void read_resume(struct api_conn *c)
{
	if (!c->reading && !c->closing &&
			uv_read_start((uv_stream_t *)&c->conn.tcp, on_alloc, on_read) == 0)
		c->reading = true;
}

/* ---- answers ---- */

static void log_request(struct api_conn *c, const char *outcome, const char *message_id)
{
	struct logline l;
	double secs = c->t_start ? (double)(uv_hrtime() - c->t_start) / 1e9 : 0;

	metrics_api_request(api_kind_name(c->route.api), c->route.name, outcome, secs);
	if (!log_begin(&l, c->ans.status == 200 ? LVL_INFO : LVL_WARN, "api.request"))
		return;
	log_str(&l, "client", c->conn.addr);
	log_str(&l, "app", c->client ? c->client->name :
		c->rt->cfg->api_auth == API_AUTH_NETWORK ? "network" : "-");
	log_str(&l, "api", api_kind_name(c->route.api));
	log_str(&l, "action", c->route.name);
	log_int(&l, "status", c->ans.status);
	log_str(&l, "outcome", outcome);
	if (message_id && *message_id)
		log_str(&l, "message_id", message_id);
	if (c->ans.code[0])
		log_str(&l, "code", c->ans.code);
	log_str(&l, "request_id", c->ans.request_id);
	log_double(&l, "seconds", secs);
	log_end(&l);
}

/* The request is answered: reset for the next one, or close. */
static void next_request(struct api_conn *c)
{
	size_t used = c->head_len + (size_t)c->body_len;

	api_forward_free(&c->fw);
	api_forward_init(&c->fw);
	api_pinpoint_free(&c->pp);
	free(c->slots);
	c->slots = NULL;
	api_answer_free(&c->ans);
	api_answer_init(&c->ans);
	c->client = NULL;
	c->t_start = 0;
	if (c->close_after) {
		c->state = C_IDLE;
		if (c->writes_pending == 0)
			conn_close(c);
		else
			arm(c, c->rt->cfg->api_timeout_idle);	/* a client that never reads */
		return;
	}
	buf_consume(&c->in, used < c->in.len ? used : c->in.len);
	c->state = C_IDLE;
	c->head_len = 0;
	c->body_len = 0;
	/* A client that sends requests without reading the answers must not
	 * make them pile up here: the next request waits for this answer to
	 * leave (on_written). */
	if (c->writes_pending == 0) {
		read_resume(c);
		advance(c);
	} else {
		arm(c, c->rt->cfg->api_timeout_idle);	/* a client that never reads */
	}
}

static void respond(struct api_conn *c, const char *outcome, const char *message_id)
{
	struct buf head = BUF_INIT;
	bool keep;

	c->nreq++;
	keep = c->req.keep_alive && !c->close_after && !c->srv->stopping &&
		c->nreq < c->rt->cfg->api_max_requests_per_connection;
	if (!keep)
		c->close_after = true;
	/* head and body in one write: two would meet Nagle and the client's
	 * delayed ACK and wait tens of milliseconds between them */
	if (api_answer_head(&c->ans, keep, time(NULL), &head) ||
			buf_append(&head, c->ans.body.data ? c->ans.body.data : "", c->ans.body.len) ||
			send_bytes(c, head.data, head.len)) {
		buf_free(&head);
		conn_close(c);
		return;
	}
	buf_free(&head);
	log_request(c, outcome, message_id);
	next_request(c);
}

static void respond_error(struct api_conn *c, int status, const char *code, const char *message)
{
	if (api_error(&c->ans, c->route.api, status, code, message)) {
		conn_close(c);
		return;
	}
	respond(c, "refused", NULL);
}

/* A request the parser refused: answered in the shape of the API its
 * path names when it got that far, and the connection closed, since
 * where the next request would start is not known. */
static void refuse_head(struct api_conn *c, int status)
{
	static const struct {
		int status;
		const char *code, *message;
	} why[] = {
		{ 400, "MalformedRequest", "the HTTP request is malformed" },
		{ 413, "RequestEntityTooLarge", "the request body is larger than sesrelay accepts" },
		{ 414, "RequestURITooLong", "the request target is too long" },
		{ 417, "ExpectationFailed", "only Expect: 100-continue is understood" },
		{ 431, "RequestHeaderFieldsTooLarge", "the request head is larger than api_max_header_size/api_max_header_fields" },
		{ 501, "NotImplemented", "Transfer-Encoding is not accepted: send Content-Length" },
		{ 505, "HTTPVersionNotSupported", "HTTP/1.1 only" },
	};
	struct logline l;

	if (log_begin(&l, LVL_INFO, "api.reject")) {
		log_str(&l, "client", c->conn.addr);
		log_int(&l, "status", status);
		log_end(&l);
	}
	c->close_after = true;
	c->t_start = uv_hrtime();
	if (c->route.name == NULL) {
		c->route.api = API_SES;
		c->route.name = "unknown";
	}
	for (size_t i = 0; i < sizeof(why) / sizeof(why[0]); i++)
		if (why[i].status == status) {
			respond_error(c, status, why[i].code, why[i].message);
			return;
		}
	respond_error(c, 400, "MalformedRequest", "the HTTP request is malformed");
}

/* ---- SES's answers ---- */

static void on_forwarded(void *arg, const struct ses_forward_result *res)
{
	struct api_conn *c = arg;
	char id[128] = "", msg[512];

	c->send = NULL;
	c->pending--;
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	c->state = C_IDLE;
	if (res->status) {
		/* SES's answer, as SES gave it */
		c->ans.status = res->status;
		c->ans.content_type = c->fw.answer == SES_API_V1 ? "text/xml" : "application/json";
		buf_reset(&c->ans.body);
		if (buf_append(&c->ans.body, res->body, res->body_len)) {
			conn_close(c);
			return;
		}
		if (res->request_id)
			snprintf(c->ans.request_id, sizeof(c->ans.request_id), "%s", res->request_id);
		else
			api_request_id(c->ans.request_id);
		snprintf(c->ans.error_type, sizeof(c->ans.error_type), "%s",
			res->error_type ? res->error_type : "");
		snprintf(c->ans.code, sizeof(c->ans.code), "%s", res->status == 200 ? "" : res->code);
		if (res->status == 200)
			ses_parse_message_id(c->fw.answer, res->body, res->body_len, id, sizeof(id));
		respond(c, res->status == 200 ? "sent" : "failed", id);
		return;
	}
	if (res->outcome_unknown) {
		/* SDKs retry 5xx and 429: after a request that may have been
		 * sent, that would send it twice. A 400 they do not retry. */
		snprintf(msg, sizeof(msg), "sesrelay sent the request to SES in the shared account "
			"but got no answer (%s: %.150s); the message may have been sent: check before "
			"sending it again", res->code, res->message);
		if (api_error(&c->ans, c->route.api, 400, "RequestOutcomeUnknown", msg) == 0)
			respond(c, "unknown", NULL);
		else
			conn_close(c);
		return;
	}
	/* Nothing reached SES (no credentials, no connection): safe to retry. */
	snprintf(msg, sizeof(msg), "sesrelay could not send to SES in the shared account (%s: %.150s)",
		res->code, res->message);
	if (api_error(&c->ans, c->route.api, 503, "ServiceUnavailable", msg) == 0) {
		snprintf(c->ans.code, sizeof(c->ans.code), "%s", res->code);
		respond(c, "failed", NULL);
	} else {
		conn_close(c);
	}
}

static void pinpoint_answer(struct api_conn *c)
{
	c->ans.status = 200;
	c->ans.content_type = "application/json";
	api_request_id(c->ans.request_id);
	buf_reset(&c->ans.body);
	if (api_pinpoint_response(&c->pp, c->route.app_id, c->ans.request_id, &c->ans.body)) {
		conn_close(c);
		return;
	}
	respond(c, "sent", NULL);
}

static void on_pinpoint_sent(void *arg, const struct ses_forward_result *res)
{
	struct pp_slot *s = arg;
	struct api_conn *c = s->c;
	int status = res->status ? res->status : res->outcome_unknown ? 0 : 503;

	s->send = NULL;
	c->pending--;
	api_pinpoint_result(&c->pp.v[s->idx], status, res->body, res->body_len,
		res->code[0] ? res->code : NULL, res->message);
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	if (c->pending == 0) {
		c->state = C_IDLE;
		pinpoint_answer(c);
	}
}

/* ---- one request ---- */

static const char *secret_of(void *arg, const char *id, size_t n)
{
	const struct client *cl = arg ? clients_by_key_id(arg, id, n) : NULL;
	return cl ? cl->secret : NULL;
}

static bool content_type_is(const struct http_request *req, const char *want)
{
	const struct http_field *f = http_field_find(req, "content-type");
	size_t n = strlen(want);

	return f && f->value_len >= n && strncasecmp(f->value, want, n) == 0 &&
		(f->value_len == n || f->value[n] == ';' || f->value[n] == ' ');
}

static int authenticate(struct api_conn *c, const char *body, size_t blen)
{
	const struct api_runtime *rt = c->rt;
	struct api_sigv4_caller caller;
	char hash[65], why[256];
	int v;

	if (rt->cfg->api_auth == API_AUTH_NETWORK) {
		if (netacl_allows(rt->acl, (const struct sockaddr *)&c->conn.peer))
			return 0;
		respond_error(c, 403, c->route.api == API_SES ? "AccessDenied" :
			c->route.api == API_PINPOINT ? "ForbiddenException" : "AccessDeniedException",
			"sesrelay: this client's network is not in api_allow_networks");
		return -EPERM;
	}
	sigv4_sha256_hex(body, blen, hash);
	v = api_sigv4_verify_cached(&c->req, hash, c->route.service, time(NULL), secret_of,
		rt->clients, &c->key, &caller, why, sizeof(why));
	if (v < 0) {
		conn_close(c);
		return v;
	}
	if (v != API_SIGV4_OK) {
		respond_error(c, v == API_SIGV4_INCOMPLETE || v == API_SIGV4_EXPIRED ? 400 : 403,
			api_sigv4_code((enum api_sigv4_verdict)v), why);
		return -EPERM;
	}
	c->client = clients_by_key_id(rt->clients, caller.key_id, strlen(caller.key_id));
	return 0;
}

static void start_forward(struct api_conn *c)
{
	struct ses_forward_req q = {
		.method = c->fw.method, .path = c->fw.path, .content_type = c->fw.content_type,
		.body = c->fw.body.data ? c->fw.body.data : "", .body_len = c->fw.body.len,
		.payload_hash = c->fw.payload_hash, .ndestinations = c->fw.recipients,
	};

	c->pending++;
	if (ses_client_forward(c->srv->ses, &q, on_forwarded, c, &c->send)) {
		c->pending--;
		c->state = C_IDLE;
		respond_error(c, 503, "ServiceUnavailable", "sesrelay could not start the SES call");
	}
}

static void start_pinpoint(struct api_conn *c)
{
	size_t sends = 0;

	c->slots = calloc(c->pp.n ? c->pp.n : 1, sizeof(*c->slots));
	if (c->slots == NULL) {
		conn_close(c);
		return;
	}
	for (size_t i = 0; i < c->pp.n; i++) {
		struct api_pinpoint_item *it = &c->pp.v[i];
		struct ses_forward_req q = {
			.method = it->fw.method, .path = it->fw.path, .content_type = it->fw.content_type,
			.body = it->fw.body.data, .body_len = it->fw.body.len,
			.payload_hash = it->fw.payload_hash, .ndestinations = it->fw.recipients,
		};
		if (!it->send)
			continue;
		c->slots[i].c = c;
		c->slots[i].idx = i;
		c->pending++;
		if (ses_client_forward(c->srv->ses, &q, on_pinpoint_sent, &c->slots[i],
				&c->slots[i].send)) {
			c->pending--;
			api_pinpoint_result(it, 503, "", 0, "ServiceUnavailable",
				"sesrelay could not start the SES call");
			continue;
		}
		sends++;
	}
	if (sends == 0) {
		c->state = C_IDLE;
		pinpoint_answer(c);
	}
}

static void process(struct api_conn *c)
{
	const struct api_runtime *rt = c->rt;
	const char *body = c->in.data + c->head_len;
	size_t blen = (size_t)c->body_len;
	struct api_policy pol;
	struct api_refusal why;
	int r;

	c->state = C_BUSY;
	read_pause(c);
	uv_timer_stop(&c->timer);
	/* the buffer may have moved since the head was parsed (its fields
	 * point into it): then parse it again where it is now */
	if ((uintptr_t)c->in.data != c->head_at && http_parse_request(c->in.data, c->in.len,
			&(struct http_limits){
			.max_head = rt->cfg->api_max_header_size, .max_target = 2048,
			.max_fields = rt->cfg->api_max_header_fields,
			.max_body = rt->cfg->api_max_body_size }, &c->req) != (int)c->head_len) {
		conn_close(c);
		return;
	}
	if (authenticate(c, body, blen))
		return;
	if (c->route.action == API_ACT_REFUSED) {
		respond_error(c, 403, c->route.api == API_SES ? "AccessDenied" :
			c->route.api == API_PINPOINT ? "ForbiddenException" : "AccessDeniedException",
			"sesrelay forwards only sending calls (SES SendEmail, SendRawEmail, "
			"SendTemplatedEmail, SendBulkTemplatedEmail, GetSendQuota; SESv2 SendEmail, "
			"SendBulkEmail, GetAccount; Pinpoint SendMessages)");
		return;
	}
	if (strcmp(c->req.method, "POST") == 0) {
		const char *want = c->route.api == API_SES ? "application/x-www-form-urlencoded" :
			"application/json";
		if (!content_type_is(&c->req, want)) {
			respond_error(c, 400, c->route.api == API_SES ? "InvalidParameterValue" :
				"BadRequestException", c->route.api == API_SES ?
				"Content-Type must be application/x-www-form-urlencoded" :
				"Content-Type must be application/json");
			return;
		}
	}
	pol.client = c->client;
	pol.cfg = c->srv->boot->cfg;
	pol.allow_senders = &rt->cfg->allow_senders;
	memset(&why, 0, sizeof(why));
	switch (c->route.api) {
	case API_SES:
		r = api_translate_ses(&pol, &c->route, body, blen, &c->fw, &why);
		break;
	case API_SESV2:
		r = api_translate_sesv2(&pol, &c->route, body, blen, &c->fw, &why);
		break;
	default:
		r = api_pinpoint_split(&pol, body, blen, &c->pp, &why);
		if (r == 0) {
			start_pinpoint(c);
			return;
		}
		break;
	}
	if (r == -ENOMEM) {
		respond_error(c, 503, "ServiceUnavailable", "sesrelay is out of memory");
		return;
	}
	if (r) {
		respond_error(c, why.status, why.code, why.message);
		return;
	}
	start_forward(c);
}

/* SES's own request limits: v1 and Pinpoint 10 MB, SESv2 40 MB. */
static uint64_t body_limit(const struct api_conn *c)
{
	uint64_t api = c->route.api == API_SESV2 ? API_V2_MAX_BODY : API_V1_MAX_BODY;

	return api < c->rt->cfg->api_max_body_size ? api : c->rt->cfg->api_max_body_size;
}

static void advance(struct api_conn *c)
{
	const struct config *cfg = c->rt->cfg;
	struct http_limits lim = {
		.max_head = cfg->api_max_header_size, .max_target = 2048,
		.max_fields = cfg->api_max_header_fields, .max_body = cfg->api_max_body_size,
	};
	int r;

	/* after the last answer (close_after) no new request is started */
	if (c->closing || c->state == C_BUSY || (c->close_after && c->state == C_IDLE))
		return;
	if (c->state == C_IDLE) {
		if (c->in.len == 0) {
			arm(c, cfg->api_timeout_idle);
			return;
		}
		/* the head must be complete within api_timeout_header of its
		 * first byte, however slowly it trickles in */
		c->state = C_HEAD;
		arm(c, cfg->api_timeout_header);
	}
	if (c->state == C_HEAD) {
		r = http_parse_request(c->in.data, c->in.len, &lim, &c->req);
		if (r == 0)
			return;
		if (r < 0) {
			refuse_head(c, -r);
			return;
		}
		c->head_len = (size_t)r;
		c->head_at = (uintptr_t)c->in.data;
		c->body_len = c->req.content_length;
		api_route(c->req.method, c->req.target, c->req.path_len, &c->route);
		if (c->body_len > body_limit(c)) {
			c->close_after = true;
			c->t_start = uv_hrtime();
			respond_error(c, 413, c->route.api == API_SES ? "InvalidParameterValue" :
				"BadRequestException", "the request body is larger than SES accepts for this API");
			return;
		}
		if (c->req.expect_continue && c->in.len == c->head_len &&
				send_bytes(c, "HTTP/1.1 100 Continue\r\n\r\n", 25)) {
			conn_close(c);
			return;
		}
		c->state = C_BODY;
		c->t_start = uv_hrtime();
		arm(c, cfg->api_timeout_body);
	}
	if (c->state == C_BODY && c->in.len >= c->head_len + c->body_len)
		process(c);
}

/* ---- accepting ---- */

static void on_accept(void *arg, struct listener_conn *lc, enum listener_verdict v)
{
	struct api_server *srv = arg;
	struct api_conn *c = (struct api_conn *)lc;

	c->srv = srv;
	c->rt = api_runtime_ref(srv->rt);
	buf_init(&c->in);
	buf_init(&c->out);
	api_forward_init(&c->fw);
	api_answer_init(&c->ans);
	uv_timer_init(srv->loop, &c->timer);
	c->conn.tcp.data = c->timer.data = c;
	c->handles_open = 2;
	if (v != LISTENER_ADMIT || srv->stopping) {
		struct logline l;
		if (log_begin(&l, LVL_INFO, "api.reject")) {
			log_str(&l, "client", c->conn.addr);
			log_str(&l, "reason", srv->stopping ? "shutting_down" :
				v == LISTENER_OVER_TOTAL ? "max_connections" : "max_connections_per_ip");
			log_end(&l);
		}
		conn_close(c);
		return;
	}
	/* answers are whole: nothing gains from waiting to coalesce them */
	uv_tcp_nodelay(&c->conn.tcp, 1);
	if (c->rt->tls && tls_conn_new(c->rt->tls, &c->tls)) {
		conn_close(c);
		return;
	}
	read_resume(c);
	if (!c->reading) {
		conn_close(c);
		return;
	}
	arm(c, c->rt->cfg->api_timeout_header);
}

void api_server_listener_opts(struct api_server *srv, struct listener_opts *o)
{
	listener_opts_front(o, sizeof(struct api_conn), on_accept, srv, "api.listen", "api.accept");
}

int api_server_listen_specs(const struct config *cfg, struct listen_spec **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return listen_specs_add(out, n, "api_listen", &cfg->api_listen, 0);
}

static void set_caps(struct api_server *srv)
{
	listener_set_caps(srv->listener, srv->rt->cfg->api_max_connections,
		srv->rt->cfg->api_max_connections_per_ip);
}

void api_server_init(struct api_server *srv, uv_loop_t *loop, struct listener *l,
	struct api_runtime *rt, struct ses_client *ses)
{
	srv->loop = loop;
	srv->listener = l;
	srv->rt = api_runtime_ref(rt);
	srv->boot = api_runtime_ref(rt);
	srv->ses = ses;
	srv->stopping = false;
	set_caps(srv);
}

void api_server_set_runtime(struct api_server *srv, struct api_runtime *rt)
{
	api_runtime_ref(rt);
	api_runtime_unref(srv->rt);
	srv->rt = rt;
	set_caps(srv);
}

static void shutdown_one(struct listener_conn *lc, void *arg)
{
	struct api_conn *c = (struct api_conn *)lc;
	bool force = *(bool *)arg;

	/* a request whose body is arriving or that is with SES is finished
	 * and answered (bounded by drain_timeout); the connection then closes */
	c->close_after = true;
	if (force || c->state == C_IDLE || c->state == C_HEAD)
		conn_close(c);
}

void api_server_shutdown(struct api_server *srv, bool force)
{
	srv->stopping = true;
	listener_each_conn(srv->listener, shutdown_one, &force);
}

void api_server_free(struct api_server *srv)
{
	api_runtime_unref(srv->rt);
	api_runtime_unref(srv->boot);
	srv->rt = srv->boot = NULL;
}
