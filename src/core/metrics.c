#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "version.h"

typedef atomic_uint_least64_t counter;

#define ADD(c, n) atomic_fetch_add_explicit(&(c), (uint64_t)(n), memory_order_relaxed)
#define GET(c) atomic_load_explicit(&(c), memory_order_relaxed)

enum refusal { R_MAX_CONNECTIONS, R_MAX_PER_IP, R_NETWORK, R_SHUTDOWN, R_COUNT };
static const char *const refusal_label[R_COUNT] = {
	"max_connections", "max_per_ip", "network", "shutdown" };
/* The reasons as smtp.reject logs them, same order. */
static const char *const refusal_reason[R_COUNT] = {
	"max_connections", "max_connections_per_ip", "network", "shutting_down" };

enum txn_class { T_2XX, T_4XX, T_5XX, T_COUNT };

/* Upper bounds in seconds; SES answers in tens of milliseconds when
 * healthy and ses_timeout caps the slow end. */
static const double ses_bounds[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };
#define NBOUNDS (sizeof(ses_bounds) / sizeof(ses_bounds[0]))

struct api_slot {
	const char *api, *action, *outcome;	/* literals, set before publishing */
	counter n;
};

struct error_slot {
	char code[64];			/* written once, before the slot is published */
	counter n;
};

/* Counters by error code: slots claimed on first sight, then lock-free. */
struct error_table {
	struct error_slot slots[METRICS_MAX_ERROR_CODES];
	atomic_size_t n;			/* published slots */
	counter other;
};

static struct {
	atomic_int_least64_t conn_current;
	counter conn_total;
	counter refused[R_COUNT];
	counter txn[T_COUNT];
	counter messages;
	counter message_bytes;
	counter recipients;
	counter ses_buckets[NBOUNDS + 1];	/* per bucket, not cumulative; last: > 10 s */
	counter ses_count;
	counter ses_sum_ns;
	struct error_table ses_errors;
	struct error_table sts_errors;
	counter reloads_ok;
	counter reloads_failed;
	atomic_llong reload_last_success;	/* Unix time, 0: never */
	counter identity_reloads_ok;
	counter identity_reloads_failed;
	struct api_slot api[METRICS_MAX_API_SERIES];
	atomic_size_t napi;
	counter api_other;
	counter api_buckets[NBOUNDS + 1];
	counter api_sum_ns;
} m;

#define METRICS_MAX_TEXT (64 * 1024)

static pthread_mutex_t error_claim = PTHREAD_MUTEX_INITIALIZER;

void metrics_connection_opened(void)
{
	atomic_fetch_add_explicit(&m.conn_current, 1, memory_order_relaxed);
	ADD(m.conn_total, 1);
}

void metrics_connection_closed(void)
{
	atomic_fetch_sub_explicit(&m.conn_current, 1, memory_order_relaxed);
}

void metrics_connection_refused(const char *reason)
{
	for (int i = 0; reason && i < R_COUNT; i++)
		if (strcmp(reason, refusal_reason[i]) == 0) {
			ADD(m.refused[i], 1);
			return;
		}
}

void metrics_smtp_txn(int code, uint64_t size, size_t nrcpt)
{
	if (code >= 200 && code < 300) {
		ADD(m.txn[T_2XX], 1);
		ADD(m.messages, 1);
		ADD(m.message_bytes, size);
		ADD(m.recipients, nrcpt);
	} else if (code >= 400 && code < 500) {
		ADD(m.txn[T_4XX], 1);
	} else {
		ADD(m.txn[T_5XX], 1);
	}
}

void metrics_ses_request(double seconds)
{
	size_t i = 0;

	if (!(seconds >= 0))		/* NaN or negative: a clock oddity */
		seconds = 0;
	while (i < NBOUNDS && seconds > ses_bounds[i])
		i++;
	ADD(m.ses_buckets[i], 1);
	ADD(m.ses_sum_ns, (uint64_t)(seconds * 1e9 + 0.5));
	ADD(m.ses_count, 1);
}

void metrics_sanitize_code(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return;
	for (; in && in[n] && n + 1 < outlen && n < 63; n++) {
		unsigned char c = (unsigned char)in[n];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
		out[n] = ok ? (char)c : '_';
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, outlen, "unknown");
}

static struct error_slot *find_code(struct error_table *t, const char *code, size_t from,
	size_t to)
{
	for (size_t i = from; i < to; i++)
		if (strcmp(t->slots[i].code, code) == 0)
			return &t->slots[i];
	return NULL;
}

static void count_error(struct error_table *t, const char *raw)
{
	char code[64];
	size_t n;
	struct error_slot *e;

	metrics_sanitize_code(raw, code, sizeof(code));
	/* Acquire pairs with the release below: a published slot's code is
	 * complete before anyone compares against it. */
	n = atomic_load_explicit(&t->n, memory_order_acquire);
	if ((e = find_code(t, code, 0, n)) != NULL) {
		ADD(e->n, 1);
		return;
	}
	pthread_mutex_lock(&error_claim);
	{
		size_t now = atomic_load_explicit(&t->n, memory_order_relaxed);
		e = find_code(t, code, n, now);
		if (e == NULL && now < METRICS_MAX_ERROR_CODES) {
			e = &t->slots[now];
			memcpy(e->code, code, sizeof(code));
			atomic_store_explicit(&e->n, 0, memory_order_relaxed);
			atomic_store_explicit(&t->n, now + 1, memory_order_release);
		}
	}
	pthread_mutex_unlock(&error_claim);
	if (e)
		ADD(e->n, 1);
	else
		ADD(t->other, 1);
}

void metrics_ses_error(const char *code)
{
	count_error(&m.ses_errors, code);
}

void metrics_sts_error(const char *code)
{
	count_error(&m.sts_errors, code);
}

void metrics_reload(bool ok)
{
	if (ok) {
		ADD(m.reloads_ok, 1);
		atomic_store_explicit(&m.reload_last_success, (long long)time(NULL),
			memory_order_relaxed);
	} else {
		ADD(m.reloads_failed, 1);
	}
}

void metrics_identity_reload(bool ok)
{
	if (ok)
		ADD(m.identity_reloads_ok, 1);
	else
		ADD(m.identity_reloads_failed, 1);
}

static struct api_slot *find_api(const char *api, const char *action, const char *outcome,
	size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (strcmp(m.api[i].api, api) == 0 && strcmp(m.api[i].action, action) == 0 &&
				strcmp(m.api[i].outcome, outcome) == 0)
			return &m.api[i];
	return NULL;
}

void metrics_api_request(const char *api, const char *action, const char *outcome,
	double seconds)
{
	size_t i = 0, n = atomic_load_explicit(&m.napi, memory_order_acquire);
	struct api_slot *s = find_api(api, action, outcome, 0, n);

	if (s == NULL) {
		pthread_mutex_lock(&error_claim);
		{
			size_t now = atomic_load_explicit(&m.napi, memory_order_relaxed);
			s = find_api(api, action, outcome, n, now);
			if (s == NULL && now < METRICS_MAX_API_SERIES) {
				s = &m.api[now];
				s->api = api;
				s->action = action;
				s->outcome = outcome;
				atomic_store_explicit(&s->n, 0, memory_order_relaxed);
				atomic_store_explicit(&m.napi, now + 1, memory_order_release);
			}
		}
		pthread_mutex_unlock(&error_claim);
	}
	if (s)
		ADD(s->n, 1);
	else
		ADD(m.api_other, 1);
	if (!(seconds >= 0))
		seconds = 0;
	while (i < NBOUNDS && seconds > ses_bounds[i])
		i++;
	ADD(m.api_buckets[i], 1);
	ADD(m.api_sum_ns, (uint64_t)(seconds * 1e9 + 0.5));
}

void metrics_reset(void)
{
	memset(&m, 0, sizeof(m));
}

/* ---- exposition ---- */

/* Label value escaping of the text format: backslash, quote, newline. */
static void put_label_value(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			buf_puts(b, "\\\\");
		else if (*v == '"')
			buf_puts(b, "\\\"");
		else if (*v == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *v);
	}
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct buf *b, const char *name, const char *type, const char *help,
	unsigned long long v)
{
	head(b, name, type, help);
	buf_printf(b, "%s %llu\n", name, v);
}

static void render_errors(struct buf *b, struct error_table *t, const char *name,
	const char *help)
{
	size_t n = atomic_load_explicit(&t->n, memory_order_acquire);

	head(b, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		buf_printf(b, "%s{code=\"", name);
		put_label_value(b, t->slots[i].code);
		buf_printf(b, "\"} %llu\n", (unsigned long long)GET(t->slots[i].n));
	}
	if (GET(t->other))
		buf_printf(b, "%s{code=\"other\"} %llu\n", name, (unsigned long long)GET(t->other));
}

/* A histogram over the ses_bounds buckets (per bucket, not cumulative). */
static void histogram(struct buf *b, const char *name, const char *help, counter *buckets,
	counter *sum_ns)
{
	unsigned long long cum = 0;

	head(b, name, "histogram", help);
	for (size_t i = 0; i < NBOUNDS; i++) {
		cum += GET(buckets[i]);
		buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, ses_bounds[i], cum);
	}
	cum += GET(buckets[NBOUNDS]);
	/* +Inf is the bucket total, not a count kept apart: a scrape racing
	 * a record must still see cumulative buckets that never decrease. */
	buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	buf_printf(b, "%s_sum %.9f\n", name, (double)GET(*sum_ns) / 1e9);
	buf_printf(b, "%s_count %llu\n", name, cum);
}

int metrics_render(struct buf *b, const struct metrics_scrape *x)
{
	long long cur = (long long)atomic_load_explicit(&m.conn_current, memory_order_relaxed);

	/* The exposition is bounded (fixed series, at most 64 codes of 63
	 * bytes per error series, one role ARN of 255): reserving once means
	 * no append below can fail. */
	if (buf_reserve(b, METRICS_MAX_TEXT) != 0)
		return -ENOMEM;
	head(b, "sesrelay_build_info", "gauge", "Build of the running relay; always 1.");
	buf_puts(b, "sesrelay_build_info{version=\"");
	put_label_value(b, SESRELAY_VERSION);
	buf_puts(b, "\"} 1\n");

	head(b, "sesrelay_connections_current", "gauge", "SMTP connections open now.");
	buf_printf(b, "sesrelay_connections_current %lld\n", cur < 0 ? 0 : cur);
	one(b, "sesrelay_connections_total", "counter",
		"SMTP connections accepted, including those then refused.", GET(m.conn_total));
	head(b, "sesrelay_connections_refused_total", "counter",
		"SMTP connections answered 421/554 at connect, by reason.");
	for (int i = 0; i < R_COUNT; i++)
		buf_printf(b, "sesrelay_connections_refused_total{reason=\"%s\"} %llu\n",
			refusal_label[i], (unsigned long long)GET(m.refused[i]));

	head(b, "sesrelay_smtp_transactions_total", "counter",
		"Mail transactions finished (reply to the end of data), by outcome and reply class.");
	buf_printf(b, "sesrelay_smtp_transactions_total{outcome=\"accepted\",class=\"2xx\"} %llu\n",
		(unsigned long long)GET(m.txn[T_2XX]));
	buf_printf(b, "sesrelay_smtp_transactions_total{outcome=\"rejected\",class=\"4xx\"} %llu\n",
		(unsigned long long)GET(m.txn[T_4XX]));
	buf_printf(b, "sesrelay_smtp_transactions_total{outcome=\"rejected\",class=\"5xx\"} %llu\n",
		(unsigned long long)GET(m.txn[T_5XX]));
	one(b, "sesrelay_messages_sent_total", "counter",
		"Messages the back end accepted (SES MessageId or outbox file).", GET(m.messages));
	one(b, "sesrelay_message_bytes_total", "counter",
		"Octets of accepted messages as received (after dot-unstuffing).",
		GET(m.message_bytes));
	one(b, "sesrelay_recipients_total", "counter",
		"Recipients of accepted messages.", GET(m.recipients));

	histogram(b, "sesrelay_ses_request_duration_seconds",
		"Duration of each SES HTTP request (every attempt, retries included).",
		m.ses_buckets, &m.ses_sum_ns);

	render_errors(b, &m.ses_errors, "sesrelay_ses_errors_total",
		"SES sends that failed, by AWS error code (or the relay's own: NetworkError, "
		"Timeout, ...); codes past the first 64 count as \"other\".");
	render_errors(b, &m.sts_errors, "sesrelay_sts_errors_total",
		"Failed shared-account credential refreshes, by STS error code (or the relay's "
		"own: NoCredentials, SameAccount, AccountMismatch, NotSharedAccount, ...).");

	head(b, "sesrelay_reloads_total", "counter",
		"Configuration reloads (SIGHUP): ok, or failed and the running configuration kept.");
	buf_printf(b, "sesrelay_reloads_total{outcome=\"ok\"} %llu\n",
		(unsigned long long)GET(m.reloads_ok));
	buf_printf(b, "sesrelay_reloads_total{outcome=\"failed\"} %llu\n",
		(unsigned long long)GET(m.reloads_failed));
	head(b, "sesrelay_reload_last_success_timestamp_seconds", "gauge",
		"Unix time of the last configuration reload applied (0: none since start).");
	buf_printf(b, "sesrelay_reload_last_success_timestamp_seconds %lld\n",
		(long long)atomic_load_explicit(&m.reload_last_success, memory_order_relaxed));
	head(b, "sesrelay_identity_reloads_total", "counter",
		"Shared-account identity rebuilds on reload: ok (proven and switched to), or "
		"failed (the running identity kept serving when it worked).");
	buf_printf(b, "sesrelay_identity_reloads_total{outcome=\"ok\"} %llu\n",
		(unsigned long long)GET(m.identity_reloads_ok));
	buf_printf(b, "sesrelay_identity_reloads_total{outcome=\"failed\"} %llu\n",
		(unsigned long long)GET(m.identity_reloads_failed));

	head(b, "sesrelay_api_requests_total", "counter",
		"Requests of the AWS SDK front answered, by API, action and outcome (sent: SES "
		"accepted; refused: by the relay; failed: SES or the network refused; unknown: no "
		"answer after SES may have taken it).");
	{
		size_t n = atomic_load_explicit(&m.napi, memory_order_acquire);
		for (size_t i = 0; i < n; i++)
			buf_printf(b, "sesrelay_api_requests_total{api=\"%s\",action=\"%s\","
				"outcome=\"%s\"} %llu\n", m.api[i].api, m.api[i].action,
				m.api[i].outcome, (unsigned long long)GET(m.api[i].n));
	}
	if (GET(m.api_other))
		buf_printf(b, "sesrelay_api_requests_total{api=\"other\",action=\"other\","
			"outcome=\"other\"} %llu\n", (unsigned long long)GET(m.api_other));
	histogram(b, "sesrelay_api_request_duration_seconds",
		"Time from an API request's head to its answer.", m.api_buckets, &m.api_sum_ns);

	if (x && x->have_creds && x->identity_account[0]) {
		head(b, "sesrelay_identity_info", "gauge",
			"The proven sending identity: the account GetCallerIdentity reported for the "
			"held credentials and the role assumed; always 1.");
		buf_puts(b, "sesrelay_identity_info{account=\"");
		put_label_value(b, x->identity_account);
		buf_puts(b, "\",role_arn=\"");
		put_label_value(b, x->identity_role_arn);
		buf_puts(b, "\"} 1\n");
	}
	if (x && x->have_creds) {
		head(b, "sesrelay_sts_refreshes_total", "counter",
			"Shared-account credential refreshes (AssumeRole + GetCallerIdentity).");
		buf_printf(b, "sesrelay_sts_refreshes_total{outcome=\"ok\"} %lu\n", x->sts_refresh_ok);
		buf_printf(b, "sesrelay_sts_refreshes_total{outcome=\"failed\"} %lu\n",
			x->sts_refresh_failed);
		head(b, "sesrelay_credentials_ready", "gauge",
			"1 while verified shared-account credentials are held and usable.");
		buf_printf(b, "sesrelay_credentials_ready %d\n", x->creds_ready ? 1 : 0);
		head(b, "sesrelay_credentials_expiry_seconds", "gauge",
			"Seconds until the held shared-account credentials expire (0: none held).");
		if (isinf(x->creds_seconds_left))	/* credentials that never expire */
			buf_puts(b, "sesrelay_credentials_expiry_seconds +Inf\n");
		else
			buf_printf(b, "sesrelay_credentials_expiry_seconds %.3f\n",
				x->creds_seconds_left > 0 ? x->creds_seconds_left : 0.0);
	}
	return x ? metrics_queue_render(b, &x->queue) : 0;
}
