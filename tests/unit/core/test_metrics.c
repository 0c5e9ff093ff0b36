/* The metrics registry: what each recording call moves, the error code
 * table's sanitising and its bound, concurrent recording from threads,
 * and the exposition text (checked line by line here; the integration
 * suite parses it with a Prometheus parser). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "metrics.h"
#include "version.h"

/* The value of the sample line starting with `series ` or -1. */
static double sample(const struct buf *b, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = b->data; p && *p; ) {
		const char *eol = strchr(p, '\n');
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = eol ? eol + 1 : p + strlen(p);
	}
	return -1;
}

static double scrape(const char *series, const struct metrics_scrape *x)
{
	struct buf b = BUF_INIT;
	double v;

	CHECK_INT(metrics_render(&b, x), 0);
	v = sample(&b, series);
	buf_free(&b);
	return v;
}

static void counters(void)
{
	metrics_reset();
	metrics_connection_opened();
	metrics_connection_opened();
	metrics_connection_closed();
	metrics_connection_refused("max_connections_per_ip");
	metrics_connection_refused("shutting_down");
	metrics_connection_refused("something_else");
	metrics_smtp_txn(250, 1000, 3);
	metrics_smtp_txn(250, 24, 1);
	metrics_smtp_txn(451, 5000, 2);
	metrics_smtp_txn(554, 10, 1);
	metrics_smtp_txn(552, 10, 1);
	CHECK(scrape("sesrelay_connections_current", NULL) == 1);
	CHECK(scrape("sesrelay_connections_total", NULL) == 2);
	CHECK(scrape("sesrelay_connections_refused_total{reason=\"max_per_ip\"}", NULL) == 1);
	CHECK(scrape("sesrelay_connections_refused_total{reason=\"shutdown\"}", NULL) == 1);
	CHECK(scrape("sesrelay_connections_refused_total{reason=\"max_connections\"}", NULL) == 0);
	CHECK(scrape("sesrelay_smtp_transactions_total{outcome=\"accepted\",class=\"2xx\"}", NULL) == 2);
	CHECK(scrape("sesrelay_smtp_transactions_total{outcome=\"rejected\",class=\"4xx\"}", NULL) == 1);
	CHECK(scrape("sesrelay_smtp_transactions_total{outcome=\"rejected\",class=\"5xx\"}", NULL) == 2);
	CHECK(scrape("sesrelay_messages_sent_total", NULL) == 2);
	CHECK(scrape("sesrelay_message_bytes_total", NULL) == 1024);
	CHECK(scrape("sesrelay_recipients_total", NULL) == 4);
	CHECK(scrape("sesrelay_build_info{version=\"" SESRELAY_VERSION "\"}", NULL) == 1);
}

static void histogram(void)
{
	metrics_reset();
	metrics_ses_request(0.001);	/* <= .005 */
	metrics_ses_request(0.005);	/* le is inclusive */
	metrics_ses_request(0.3);	/* <= .5 */
	metrics_ses_request(30);	/* +Inf only */
	metrics_ses_request(-1);	/* clock oddity: counted as 0 */
	CHECK(scrape("sesrelay_ses_request_duration_seconds_bucket{le=\"0.005\"}", NULL) == 3);
	CHECK(scrape("sesrelay_ses_request_duration_seconds_bucket{le=\"0.25\"}", NULL) == 3);
	CHECK(scrape("sesrelay_ses_request_duration_seconds_bucket{le=\"0.5\"}", NULL) == 4);
	CHECK(scrape("sesrelay_ses_request_duration_seconds_bucket{le=\"10\"}", NULL) == 4);
	CHECK(scrape("sesrelay_ses_request_duration_seconds_bucket{le=\"+Inf\"}", NULL) == 5);
	CHECK(scrape("sesrelay_ses_request_duration_seconds_count", NULL) == 5);
	{
		double sum = scrape("sesrelay_ses_request_duration_seconds_sum", NULL);
		CHECK(sum > 30.3059 && sum < 30.3061);
	}
}

static void error_codes(void)
{
	char out[64], name[80], series[160];

	metrics_sanitize_code("Throttling", out, sizeof(out));
	CHECK_STR(out, "Throttling");
	metrics_sanitize_code("a\"b\\c\nd e{f}=g.h-i_j", out, sizeof(out));
	CHECK_STR(out, "a_b_c_d_e_f__g.h-i_j");
	metrics_sanitize_code("", out, sizeof(out));
	CHECK_STR(out, "unknown");
	metrics_sanitize_code(NULL, out, sizeof(out));
	CHECK_STR(out, "unknown");
	memset(name, 'x', 79);
	name[79] = '\0';
	metrics_sanitize_code(name, out, sizeof(out));
	CHECK_INT(strlen(out), 63);

	metrics_reset();
	metrics_ses_error("MessageRejected");
	metrics_ses_error("MessageRejected");
	metrics_ses_error("Bad\"Code");
	CHECK(scrape("sesrelay_ses_errors_total{code=\"MessageRejected\"}", NULL) == 2);
	CHECK(scrape("sesrelay_ses_errors_total{code=\"Bad_Code\"}", NULL) == 1);
	CHECK(scrape("sesrelay_ses_errors_total{code=\"other\"}", NULL) == -1);
	/* Fill the table: the 65th distinct code and later ones are "other". */
	for (int i = 0; i < METRICS_MAX_ERROR_CODES + 10; i++) {
		snprintf(name, sizeof(name), "Code%d", i);
		metrics_ses_error(name);
	}
	CHECK(scrape("sesrelay_ses_errors_total{code=\"Code61\"}", NULL) == 1);
	CHECK(scrape("sesrelay_ses_errors_total{code=\"Code62\"}", NULL) == -1);
	CHECK(scrape("sesrelay_ses_errors_total{code=\"other\"}", NULL) == 12);
	/* codes that own a slot still count there */
	metrics_ses_error("MessageRejected");
	CHECK(scrape("sesrelay_ses_errors_total{code=\"MessageRejected\"}", NULL) == 3);
	snprintf(series, sizeof(series), "sesrelay_ses_errors_total{code=\"Code0\"}");
	CHECK(scrape(series, NULL) == 1);
}

static void creds_series(void)
{
	struct metrics_scrape x = { .have_creds = true, .creds_ready = true,
		.creds_seconds_left = 1234.5, .sts_refresh_ok = 7, .sts_refresh_failed = 2 };

	metrics_reset();
	CHECK(scrape("sesrelay_credentials_ready", NULL) == -1);	/* outbox: absent */
	CHECK(scrape("sesrelay_credentials_ready", &x) == 1);
	CHECK(scrape("sesrelay_credentials_expiry_seconds", &x) == 1234.5);
	CHECK(scrape("sesrelay_sts_refreshes_total{outcome=\"ok\"}", &x) == 7);
	CHECK(scrape("sesrelay_sts_refreshes_total{outcome=\"failed\"}", &x) == 2);
	x.creds_ready = false;
	x.creds_seconds_left = -5;
	CHECK(scrape("sesrelay_credentials_ready", &x) == 0);
	CHECK(scrape("sesrelay_credentials_expiry_seconds", &x) == 0);
}

static void exposition_shape(void)
{
	struct buf b = BUF_INIT;
	struct metrics_scrape x = { .have_creds = true };

	metrics_reset();
	CHECK_INT(metrics_render(&b, &x), 0);
	/* every line is a comment or a sample, and every family has HELP
	 * then TYPE before its samples */
	for (const char *p = b.data; *p; ) {
		const char *eol = strchr(p, '\n');
		CHECK(eol != NULL);
		if (eol == NULL)
			break;
		if (*p == '#')
			CHECK(strncmp(p, "# HELP sesrelay_", 16) == 0 ||
				strncmp(p, "# TYPE sesrelay_", 16) == 0);
		else
			CHECK(strncmp(p, "sesrelay_", 9) == 0);
		p = eol + 1;
	}
	CHECK(strstr(b.data, "# TYPE sesrelay_ses_request_duration_seconds histogram\n") != NULL);
	CHECK(strstr(b.data, "# TYPE sesrelay_connections_total counter\n") != NULL);
	buf_free(&b);
}

#define THREADS 8
#define PER_THREAD 20000

static void *hammer(void *arg)
{
	char code[32];

	snprintf(code, sizeof(code), "T%d", (int)(long)arg % 4);
	for (int i = 0; i < PER_THREAD; i++) {
		metrics_smtp_txn(250, 10, 2);
		metrics_ses_request(0.02);
		metrics_ses_error(code);
		metrics_connection_opened();
		metrics_connection_closed();
	}
	return NULL;
}

static void threads(void)
{
	pthread_t t[THREADS];

	metrics_reset();
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(scrape("sesrelay_messages_sent_total", NULL) == THREADS * PER_THREAD);
	CHECK(scrape("sesrelay_message_bytes_total", NULL) == 10.0 * THREADS * PER_THREAD);
	CHECK(scrape("sesrelay_recipients_total", NULL) == 2.0 * THREADS * PER_THREAD);
	CHECK(scrape("sesrelay_ses_request_duration_seconds_count", NULL) == THREADS * PER_THREAD);
	CHECK(scrape("sesrelay_connections_current", NULL) == 0);
	CHECK(scrape("sesrelay_connections_total", NULL) == THREADS * PER_THREAD);
	/* each code claimed exactly one slot, and no count was lost */
	for (int k = 0; k < 4; k++) {
		char series[64];
		snprintf(series, sizeof(series), "sesrelay_ses_errors_total{code=\"T%d\"}", k);
		CHECK(scrape(series, NULL) == 2.0 * PER_THREAD);
	}
	CHECK(scrape("sesrelay_ses_errors_total{code=\"other\"}", NULL) == -1);
}

/* STS errors, reloads and the proven identity: series of their own. */
static void identity_series(void)
{
	struct metrics_scrape x = { .have_creds = true, .creds_ready = true,
		.identity_account = "111111111111",
		.identity_role_arn = "arn:aws:iam::111111111111:role/r" };

	metrics_reset();
	metrics_sts_error("SameAccount");
	metrics_sts_error("SameAccount");
	metrics_ses_error("Throttling");
	CHECK(scrape("sesrelay_sts_errors_total{code=\"SameAccount\"}", NULL) == 2);
	CHECK(scrape("sesrelay_ses_errors_total{code=\"SameAccount\"}", NULL) == -1);
	CHECK(scrape("sesrelay_sts_errors_total{code=\"Throttling\"}", NULL) == -1);
	CHECK(scrape("sesrelay_reloads_total{outcome=\"ok\"}", NULL) == 0);
	CHECK(scrape("sesrelay_reload_last_success_timestamp_seconds", NULL) == 0);
	metrics_reload(false);
	CHECK(scrape("sesrelay_reload_last_success_timestamp_seconds", NULL) == 0);
	metrics_reload(true);
	CHECK(scrape("sesrelay_reloads_total{outcome=\"ok\"}", NULL) == 1);
	CHECK(scrape("sesrelay_reloads_total{outcome=\"failed\"}", NULL) == 1);
	CHECK(scrape("sesrelay_reload_last_success_timestamp_seconds", NULL) > 1.7e9);
	metrics_identity_reload(false);
	CHECK(scrape("sesrelay_identity_reloads_total{outcome=\"failed\"}", NULL) == 1);
	CHECK(scrape("sesrelay_identity_reloads_total{outcome=\"ok\"}", NULL) == 0);
	CHECK(scrape("sesrelay_identity_info{account=\"111111111111\","
		"role_arn=\"arn:aws:iam::111111111111:role/r\"}", &x) == 1);
	x.identity_account[0] = '\0';
	CHECK(scrape("sesrelay_identity_info{account=\"111111111111\","
		"role_arn=\"arn:aws:iam::111111111111:role/r\"}", &x) == -1);
}

int main(void)
{
	identity_series();
	counters();
	histogram();
	error_codes();
	creds_series();
	exposition_shape();
	threads();
	return check_report();
}
