/* libcurl multi on the uv loop.
 *
 * curl tells us which sockets to watch (socket_cb) and when to call it
 * back (timer_cb); we watch with one uv_poll_t per socket and one
 * uv_timer_t, hand readiness back with curl_multi_socket_action() and
 * then collect finished transfers with curl_multi_info_read(). All easy
 * handles live in one multi, so they share its connection cache: a
 * kept-alive connection to SES or STS is reused by the next request.
 *
 * Reentrancy: a completion callback may send new requests, cancel other
 * calls or close the client. After each callback we re-check `closing`
 * before touching curl again, and the client's memory is only released
 * from the last uv close callback, never from inside our own stack.
 */
#include "http_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"

#define DEFAULT_MAX_RESPONSE (1u << 20)

/* A watched socket. Its poll handle outlives curl's interest between two
 * transfers on a kept-alive connection ("parked": stopped, still in the
 * list) and is closed only when curl closes the socket (close_socket_cb),
 * so a pooled connection costs no handle set-up per request. */
struct sock_ctx {
	uv_poll_t poll;
	curl_socket_t fd;
	bool parked;
	struct http_client *client;
	struct sock_ctx *next, *prev;	/* client's socket list */
};

struct http_call {
	struct http_client *client;
	CURL *easy;
	struct curl_slist *headers;
	const char *body;		/* borrowed from the request */
	size_t body_len, body_off;
	bool body_read;			/* curl took request body bytes */
	bool in_callback;
	bool too_large;
	size_t max_response;
	struct buf resp;
	char amzn_error_type[128];
	char request_id[128];
	time_t date;
	char errbuf[CURL_ERROR_SIZE];
	http_done_cb cb;
	void *arg;
	struct http_call *next, *prev;	/* client's call list */
};

struct http_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	char *ca_bundle;
	struct http_call *calls;
	struct sock_ctx *socks;
	unsigned open_handles;		/* uv handles not yet closed */
	bool closing;
	bool broken;			/* the multi refused to go on */
	/* The last Date header value parsed and its time: the answers of one
	 * second carry the same one, parsed once. */
	char date_text[64];
	time_t date_value;
};

static void check_multi_info(struct http_client *c);

/* ---- lifetime of uv handles ---- */

static void client_release(struct http_client *c)
{
	if (--c->open_handles == 0) {
		free(c->ca_bundle);
		free(c);
	}
}

static void sock_closed(uv_handle_t *h)
{
	struct sock_ctx *s = h->data;
	struct http_client *c = s->client;

	free(s);
	client_release(c);
}

static void timer_closed(uv_handle_t *h)
{
	client_release(h->data);
}

static void sock_close(struct sock_ctx *s)
{
	struct http_client *c = s->client;

	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/* ---- call bookkeeping ---- */

static void call_unlink(struct http_call *call)
{
	struct http_client *c = call->client;

	if (call->prev)
		call->prev->next = call->next;
	else if (c->calls == call)
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->next = call->prev = NULL;
}

static void call_free(struct http_call *call)
{
	if (call->easy) {
		if (call->client->multi)
			curl_multi_remove_handle(call->client->multi, call->easy);
		curl_easy_cleanup(call->easy);
	}
	curl_slist_free_all(call->headers);
	buf_free(&call->resp);
	free(call);
}

/* ---- error mapping ---- */

static int map_error(CURLcode rc, long os_errno, bool too_large)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH ||
		    os_errno == EADDRNOTAVAIL)
			return -(int)os_errno;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		/* The peer went away mid-exchange; retry logic treats all of
		 * these alike, whether RST or an early FIN. */
		return -ECONNRESET;
	case CURLE_WRITE_ERROR:
		return too_large ? -EMSGSIZE : -EIO;
	case CURLE_FILESIZE_EXCEEDED:
		return -EMSGSIZE;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return -EINVAL;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* ---- completion ---- */

static void call_complete(struct http_call *call, CURLcode rc)
{
	struct http_response res;
	long os_errno = 0;
	curl_off_t t = 0;
	long req_size = 0;

	memset(&res, 0, sizeof(res));
	curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &os_errno);
	res.error = map_error(rc, os_errno, call->too_large);
	if (res.error) {
		res.error_text = res.error == -EMSGSIZE ? "response body too large"
			: call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc);
	} else {
		curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &res.status);
	}
	if (buf_reserve(&call->resp, 0) == 0)
		res.body = call->resp;
	res.amzn_error_type = call->amzn_error_type[0] ? call->amzn_error_type : NULL;
	res.request_id = call->request_id[0] ? call->request_id : NULL;
	res.date = call->date;
	if (curl_easy_getinfo(call->easy, CURLINFO_TOTAL_TIME_T, &t) == CURLE_OK)
		res.seconds = (double)t / 1e6;
	/* With a body: curl asked for body bytes only after the connection
	 * and the request head went out, and a server cannot act on a
	 * request it has not fully received. Without a body, the head is
	 * the request. Either way we err towards "maybe sent". */
	curl_easy_getinfo(call->easy, CURLINFO_REQUEST_SIZE, &req_size);
	res.sent_body = call->body_read || (call->body_len == 0 && req_size > 0) ||
		(res.error == 0);

	call_unlink(call);
	call->in_callback = true;
	call->cb(call->arg, &res);
	call_free(call);
}

static void check_multi_info(struct http_client *c)
{
	CURLMsg *msg;
	int pending;

	while (!c->closing && (msg = curl_multi_info_read(c->multi, &pending))) {
		struct http_call *call = NULL;
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		curl_multi_remove_handle(c->multi, msg->easy_handle);
		call_complete(call, rc);
	}
}

/* The multi is unusable (a socket could not be watched): fail every
 * call so no caller waits forever, and refuse new ones. */
static void fail_all(struct http_client *c, CURLMcode mrc)
{
	log_msg(LVL_ERROR, "http.multi_error", "%s", curl_multi_strerror(mrc));
	c->broken = true;
	while (!c->closing && c->calls) {
		struct http_call *call = c->calls;
		snprintf(call->errbuf, sizeof(call->errbuf), "%s", curl_multi_strerror(mrc));
		curl_multi_remove_handle(c->multi, call->easy);
		call_complete(call, CURLE_ABORTED_BY_CALLBACK);
	}
}

static void socket_action(struct http_client *c, curl_socket_t fd, int flags)
{
	int running = 0;
	CURLMcode mrc = curl_multi_socket_action(c->multi, fd, flags, &running);

	if (mrc != CURLM_OK && mrc != CURLM_BAD_SOCKET) {
		fail_all(c, mrc);
		return;
	}
	check_multi_info(c);
}

/* ---- uv side ---- */

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct sock_ctx *s = h->data;
	int flags = 0;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	socket_action(s->client, s->fd, flags);
}

static void timer_cb(uv_timer_t *t)
{
	socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* ---- curl side ---- */

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct http_client *c = userp;
	struct sock_ctx *s = sockp;
	int events = 0, r;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(c->multi, fd, NULL);
			if (c->closing) {
				sock_close(s);
			} else {
				uv_poll_stop(&s->poll);
				s->parked = true;
			}
		}
		return 0;
	}
	if (s == NULL) {
		for (s = c->socks; s && !(s->parked && s->fd == fd); s = s->next)
			;
		if (s) {
			s->parked = false;
			curl_multi_assign(c->multi, fd, s);
		}
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -1;
		r = uv_poll_init_socket(c->loop, &s->poll, fd);
		if (r) {
			log_msg(LVL_ERROR, "http.poll_init", "fd %d: %s", (int)fd, uv_strerror(r));
			free(s);
			return -1;
		}
		s->fd = fd;
		s->client = c;
		s->poll.data = s;
		s->next = c->socks;
		if (c->socks)
			c->socks->prev = s;
		c->socks = s;
		c->open_handles++;
		curl_multi_assign(c->multi, fd, s);
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	r = uv_poll_start(&s->poll, events, poll_cb);
	if (r) {
		log_msg(LVL_ERROR, "http.poll_start", "fd %d: %s", (int)fd, uv_strerror(r));
		return -1;
	}
	return 0;
}

/* curl closes a socket: stop watching it while the fd is still open. */
static int close_socket_cb(void *clientp, curl_socket_t fd)
{
	struct http_client *c = clientp;
	struct sock_ctx *s;

	for (s = c->socks; s && s->fd != fd; s = s->next)
		;
	if (s)
		sock_close(s);
	return close(fd);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	(void)multi;
	if (timeout_ms < 0)
		return uv_timer_stop(&c->timer) ? -1 : 0;
	/* Never call back into curl from here: curl forbids recursion, so a
	 * zero timeout also goes through the loop. */
	return uv_timer_start(&c->timer, timer_cb, (uint64_t)timeout_ms, 0) ? -1 : 0;
}

static size_t write_cb(char *p, size_t size, size_t n, void *userp)
{
	struct http_call *call = userp;
	size_t len = size * n;

	if (call->resp.len + len > call->max_response) {
		call->too_large = true;
		return 0;
	}
	if (buf_append(&call->resp, p, len))
		return 0;
	return len;
}

static size_t header_cb(char *p, size_t size, size_t n, void *userp)
{
	static const char name[] = "x-amzn-errortype:";
	struct http_call *call = userp;
	size_t len = size * n;

	if (len > 5 && len < 128 && strncasecmp(p, "date:", 5) == 0) {
		char v[128];
		time_t t;

		struct http_client *c = call->client;

		memcpy(v, p + 5, len - 5);
		v[len - 5] = '\0';
		if (strcmp(v, c->date_text) == 0) {
			t = c->date_value;
		} else {
			t = curl_getdate(v, NULL);
			if (strlen(v) < sizeof(c->date_text)) {
				strcpy(c->date_text, v);
				c->date_value = t;
			}
		}
		call->date = t > 0 ? t : 0;
	}

	if ((len > 17 && strncasecmp(p, "x-amzn-requestid:", 17) == 0) ||
			(len > 17 && strncasecmp(p, "x-amz-request-id:", 17) == 0)) {
		const char *v = p + 17, *end = p + len;
		size_t vl = 0;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		/* printable, bounded: it is passed on to API callers and logged */
		while (v + vl < end && vl < sizeof(call->request_id) - 1 &&
				(unsigned char)v[vl] > 0x20 && (unsigned char)v[vl] < 0x7f)
			vl++;
		memcpy(call->request_id, v, vl);
		call->request_id[vl] = '\0';
	}

	if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		const char *v = p + sizeof(name) - 1, *end = p + len;
		size_t vl;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		/* "Code:http://internal.amazon.com/..." carries a suffix
		 * after ':' that is not part of the code. */
		for (vl = 0; v + vl < end && v[vl] != ':' && v[vl] != '\r' &&
			v[vl] != '\n' && v[vl] != ' '; vl++)
			;
		if (vl >= sizeof(call->amzn_error_type))
			vl = sizeof(call->amzn_error_type) - 1;
		memcpy(call->amzn_error_type, v, vl);
		call->amzn_error_type[vl] = '\0';
	}
	return len;
}

static size_t read_cb(char *p, size_t size, size_t n, void *userp)
{
	struct http_call *call = userp;
	size_t room = size * n, left = call->body_len - call->body_off;

	if (room > left)
		room = left;
	memcpy(p, call->body + call->body_off, room);
	call->body_off += room;
	if (room)
		call->body_read = true;
	return room;
}

/* curl rewinds when it resends on a fresh connection (a kept-alive one
 * that the server had closed). */
static int seek_cb(void *userp, curl_off_t offset, int origin)
{
	struct http_call *call = userp;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > call->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	call->body_off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- public API ---- */

int http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

int http_client_new(uv_loop_t *loop, const struct http_client_opts *opts,
	struct http_client **out)
{
	struct http_client *c = calloc(1, sizeof(*c));
	int r;

	if (c == NULL)
		return -ENOMEM;
	c->loop = loop;
	if (opts && opts->ca_bundle && (c->ca_bundle = strdup(opts->ca_bundle)) == NULL) {
		free(c);
		return -ENOMEM;
	}
	c->multi = curl_multi_init();
	if (c->multi == NULL) {
		free(c->ca_bundle);
		free(c);
		return -ENOMEM;
	}
	r = uv_timer_init(loop, &c->timer);
	if (r) {
		curl_multi_cleanup(c->multi);
		free(c->ca_bundle);
		free(c);
		return r;
	}
	c->timer.data = c;
	c->open_handles = 1;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	if (opts && opts->max_host_connections) {
		curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			(long)opts->max_host_connections);
		/* Keep as many idle connections as we may open to one host. */
		curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
			(long)opts->max_host_connections);
	}
	if (opts && opts->max_total_connections)
		curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			(long)opts->max_total_connections);
	*out = c;
	return 0;
}

void http_client_close(struct http_client *c)
{
	if (c == NULL || c->closing)
		return;
	c->closing = true;
	while (c->calls) {
		struct http_call *call = c->calls;
		call_unlink(call);
		if (call->in_callback) {
			/* Freed by call_complete once its callback returns. */
			continue;
		}
		call_free(call);
	}
	/* Stop watching the idle kept-alive sockets while their fds are still
	 * open, then detach our callbacks so the multi's cleanup (which closes
	 * them) does not call back into handles being closed. */
	while (c->socks)
		sock_close(c->socks);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, NULL);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, NULL);
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, timer_closed);
}

static int add_headers(struct http_call *call, const char *const *headers)
{
	bool have_expect = false;
	struct curl_slist *l;

	for (size_t i = 0; headers && headers[i]; i++) {
		if (strncasecmp(headers[i], "expect:", 7) == 0)
			have_expect = true;
		l = curl_slist_append(call->headers, headers[i]);
		if (l == NULL)
			return -ENOMEM;
		call->headers = l;
	}
	/* An empty Expect: stops curl from waiting up to a second for
	 * "100 Continue" before sending a large body: AWS answers errors
	 * after reading the body anyway. */
	if (!have_expect) {
		l = curl_slist_append(call->headers, "Expect:");
		if (l == NULL)
			return -ENOMEM;
		call->headers = l;
	}
	return 0;
}

static int setup_easy(struct http_client *c, struct http_call *call,
	const struct http_request *req)
{
	CURL *e = call->easy;
	CURLcode rc = CURLE_OK;

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PRIVATE, call);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	/* The AWS Query endpoints speak HTTP/1.1; pinning it keeps one request
	 * per connection, so max_host_connections means what it says. */
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_ERRORBUFFER, call->errbuf);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, call);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, call);
	SET(CURLOPT_HTTPHEADER, call->headers);
	SET(CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
	SET(CURLOPT_CLOSESOCKETDATA, c);
	if (c->ca_bundle)
		SET(CURLOPT_CAINFO, c->ca_bundle);
	if (req->timeout_ms)
		SET(CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	if (req->connect_timeout_ms)
		SET(CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
	if (req->max_response)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response);

	if (strcmp(req->method, "GET") == 0 && req->body_len == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "PUT") == 0) {
		SET(CURLOPT_UPLOAD, 1L);
		SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	} else {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (strcmp(req->method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, req->method);
	}
	if (strcmp(req->method, "GET") != 0 || req->body_len) {
		SET(CURLOPT_READFUNCTION, read_cb);
		SET(CURLOPT_READDATA, call);
		SET(CURLOPT_SEEKFUNCTION, seek_cb);
		SET(CURLOPT_SEEKDATA, call);
	}
#undef SET
	if (rc == CURLE_OUT_OF_MEMORY)
		return -ENOMEM;
	return rc == CURLE_OK ? 0 : -EINVAL;
}

int http_client_send(struct http_client *c, const struct http_request *req,
	http_done_cb cb, void *arg, struct http_call **out)
{
	struct http_call *call;
	CURLMcode mrc;
	int r;

	if (c->closing || c->broken)
		return -ECANCELED;
	if (req->method == NULL || req->url == NULL || cb == NULL ||
	    (req->body_len && req->body == NULL))
		return -EINVAL;
	call = calloc(1, sizeof(*call));
	if (call == NULL)
		return -ENOMEM;
	call->client = c;
	call->body = req->body;
	call->body_len = req->body_len;
	call->max_response = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
	call->cb = cb;
	call->arg = arg;
	call->easy = curl_easy_init();
	if (call->easy == NULL) {
		free(call);
		return -ENOMEM;
	}
	r = add_headers(call, req->headers);
	if (r == 0)
		r = setup_easy(c, call, req);
	if (r) {
		call_free(call);
		return r;
	}
	mrc = curl_multi_add_handle(c->multi, call->easy);
	if (mrc != CURLM_OK) {
		curl_easy_cleanup(call->easy);
		call->easy = NULL;
		call_free(call);
		return mrc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	if (out)
		*out = call;
	return 0;
}

void http_call_cancel(struct http_call *call)
{
	if (call == NULL || call->in_callback)
		return;
	call_unlink(call);
	call_free(call);
}
