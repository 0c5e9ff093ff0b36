#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "log.h"

enum key_type { T_STR, T_BOOL, T_UINT, T_DURATION, T_SIZE, T_LIST, T_ENUM };

struct enum_name {
	const char *name;
	int value;
};

struct key {
	const char *name;
	enum key_type type;
	size_t off;
	const char *def;		/* text form, parsed like file input; NULL: unset */
	unsigned long long min, max;	/* T_UINT, T_DURATION, T_SIZE */
	const struct enum_name *names;	/* T_ENUM */
};

static const struct enum_name backend_names[] = {
	{ "outbox", BACKEND_OUTBOX }, { "ses", BACKEND_SES }, { NULL, 0 } };
static const struct enum_name ses_api_names[] = {
	{ "v1", SES_API_V1 }, { "v2", SES_API_V2 }, { NULL, 0 } };
static const struct enum_name ses_headers_names[] = {
	{ "strip", SES_HEADERS_STRIP }, { "reject", SES_HEADERS_REJECT }, { NULL, 0 } };
static const struct enum_name bare_lf_names[] = {
	{ "reject", BARE_LF_REJECT }, { "normalize", BARE_LF_NORMALIZE }, { NULL, 0 } };
static const struct enum_name api_auth_names[] = {
	{ "sigv4", API_AUTH_SIGV4 }, { "network", API_AUTH_NETWORK }, { NULL, 0 } };
static const struct enum_name delivery_names[] = {
	{ "sync", DELIVERY_SYNC }, { "queue", DELIVERY_QUEUE }, { NULL, 0 } };
static const struct enum_name log_format_names[] = {
	{ "logfmt", LOG_FORMAT_LOGFMT }, { "json", LOG_FORMAT_JSON }, { NULL, 0 } };
static const struct enum_name log_level_names[] = {
	{ "debug", LVL_DEBUG }, { "info", LVL_INFO }, { "warn", LVL_WARN },
	{ "error", LVL_ERROR }, { NULL, 0 } };
static const struct enum_name base_creds_names[] = {
	{ "chain", 0 }, { "env", 0 }, { "web_identity", 0 }, { "profile", 0 },
	{ "ecs", 0 }, { "imds", 0 }, { NULL, 0 } };

#define OFF(f) offsetof(struct config, f)
#define U(n, f, d, lo, hi) { n, T_UINT, OFF(f), d, lo, hi, NULL }
#define D(n, f, d, lo, hi) { n, T_DURATION, OFF(f), d, lo, hi, NULL }
#define S(n, f, d) { n, T_STR, OFF(f), d, 0, 0, NULL }
#define B(n, f, d) { n, T_BOOL, OFF(f), d, 0, 0, NULL }
#define L(n, f, d) { n, T_LIST, OFF(f), d, 0, 0, NULL }
#define E(n, f, d, t) { n, T_ENUM, OFF(f), d, 0, 0, t }

/* Every key, its type, its default and its bounds: the single source of
 * truth. config/sesrelay.conf documents the same list (a test checks). */
static const struct key keys[] = {
	L("listen", listen, "127.0.0.1:2525"),
	L("smtps_listen", smtps_listen, ""),
	S("hostname", hostname, NULL),
	E("backend", backend, "ses", backend_names),
	S("outbox_dir", outbox_dir, "outbox"),
	{ "max_message_size", T_SIZE, OFF(max_message_size), "10M", 1024, 64ULL << 20, NULL },
	U("max_recipients", max_recipients, "50", 1, 1000),
	U("max_connections", max_connections, "1000", 1, 1000000),
	U("max_connections_per_ip", max_connections_per_ip, "100", 1, 1000000),
	U("max_transactions", max_transactions, "1000", 1, 1000000),
	U("max_errors", max_errors, "10", 1, 1000),
	U("max_line_length", max_line_length, "998", 78, 1000000),
	B("allow_long_lines", allow_long_lines, "no"),
	U("max_command_length", max_command_length, "512", 512, 65536),
	E("bare_lf", bare_lf, "reject", bare_lf_names),
	D("timeout_command", timeout_command, "300", 1, 86400),
	D("timeout_data", timeout_data, "600", 1, 86400),
	D("drain_timeout", drain_timeout, "30", 0, 3600),
	S("tls_cert", tls_cert, NULL),
	S("tls_key", tls_key, NULL),
	B("require_tls", require_tls, "no"),
	S("auth_users_file", auth_users_file, NULL),
	B("require_auth", require_auth, "no"),
	B("allow_plaintext_auth", allow_plaintext_auth, "no"),
	L("allow_networks", allow_networks, "127.0.0.0/8,::1/128"),
	L("allow_senders", allow_senders, ""),
	S("clients_file", clients_file, NULL),
	L("api_listen", api_listen, ""),
	E("api_auth", api_auth, NULL, api_auth_names),
	L("api_allow_networks", api_allow_networks, "127.0.0.0/8,::1/128"),
	S("api_tls_cert", api_tls_cert, NULL),
	S("api_tls_key", api_tls_key, NULL),
	{ "api_max_header_size", T_SIZE, OFF(api_max_header_size), "16K", 1024, 64 * 1024, NULL },
	U("api_max_header_fields", api_max_header_fields, "64", 8, 128),
	{ "api_max_body_size", T_SIZE, OFF(api_max_body_size), "41M", 1024, 41ULL << 20, NULL },
	D("api_timeout_header", api_timeout_header, "10", 1, 300),
	D("api_timeout_body", api_timeout_body, "60", 1, 3600),
	D("api_timeout_idle", api_timeout_idle, "60", 1, 3600),
	U("api_max_connections", api_max_connections, "1000", 1, 1000000),
	U("api_max_connections_per_ip", api_max_connections_per_ip, "100", 1, 1000000),
	U("api_max_requests_per_connection", api_max_requests_per_connection, "10000", 1, 1000000),
	E("log_format", log_format, "logfmt", log_format_names),
	E("log_level", log_level, "info", log_level_names),
	B("log_syslog", log_syslog, "no"),
	S("metrics_listen", metrics_listen, NULL),
	D("metrics_timeout", metrics_timeout, "10", 1, 300),
	U("metrics_max_connections", metrics_max_connections, "64", 1, 4096),
	U("workers", workers, "0", 0, 256),
	S("role_arn", role_arn, NULL),
	S("external_id", external_id, NULL),
	S("role_session_name", role_session_name, NULL),
	D("role_duration", role_duration, "3600", 900, 43200),
	S("region", region, NULL),
	S("base_credentials", base_credentials, "chain"),
	B("allow_same_account", allow_same_account, "no"),
	S("shared_account", shared_account, NULL),
	D("sts_timeout", sts_timeout, "10", 1, 300),
	D("refresh_before_expiry", refresh_before_expiry, "900", 60, 43200),
	D("refresh_min_remaining", refresh_min_remaining, "60", 5, 3600),
	D("credential_process_timeout", credential_process_timeout, "30", 1, 600),
	{ "credential_process_max_output", T_SIZE, OFF(credential_process_max_output), "64K", 1024, 1 << 20, NULL },
	D("metadata_timeout", metadata_timeout, "2", 1, 60),
	E("ses_api", ses_api, "v1", ses_api_names),
	S("source_arn", source_arn, NULL),
	S("from_arn", from_arn, NULL),
	S("return_path_arn", return_path_arn, NULL),
	S("configuration_set", configuration_set, NULL),
	L("message_tags", message_tags, ""),
	D("ses_timeout", ses_timeout, "30", 1, 600),
	U("ses_max_retries", ses_max_retries, "2", 0, 10),
	U("ses_max_connections", ses_max_connections, "32", 1, 1024),
	E("ses_headers", ses_headers, "strip", ses_headers_names),
	E("delivery", delivery, "sync", delivery_names),
	S("queue_dir", queue_dir, "queue"),
	D("queue_lifetime", queue_lifetime, "1d", 1, 30 * 86400),
	U("queue_max_messages", queue_max_messages, "100000", 1, 10000000),
	{ "queue_max_bytes", T_SIZE, OFF(queue_max_bytes), "4G", 1 << 20, 1ULL << 42, NULL },
	{ "queue_min_free", T_SIZE, OFF(queue_min_free), "256M", 0, 1ULL << 42, NULL },
	U("queue_concurrency", queue_concurrency, "16", 1, 1024),
	D("queue_retry_min", queue_retry_min, "30", 1, 3600),
	D("queue_retry_max", queue_retry_max, "1h", 1, 86400),
	B("bounces", bounces, "on"),
	S("bounce_from", bounce_from, NULL),
	S("send_rate", send_rate, "auto"),
	S("send_rate_share", send_rate_share, "1"),
	S("send_rate_fallback", send_rate_fallback, "14"),
	D("rate_wait", rate_wait, "2", 0, 60),
	D("queue_rate_wait", queue_rate_wait, "60", 1, 3600),
	B("soft_bounce", soft_bounce, "no"),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* What SIGHUP cannot change: listeners and threads are made at start, and
 * the back end keeps these for its lifetime (the message encoding and
 * size limit, the SES connection pool, what every send carries). Named in
 * the config.reload log line and in sesrelay.conf(5). Everything else,
 * the shared-account identity included, applies on reload. */
static const char restart_keys[] =
	"listen, smtps_listen, api_listen, workers, backend, outbox_dir, metrics_listen, metrics_timeout, "
	"metrics_max_connections, ses_api, ses_max_connections, source_arn, from_arn, "
	"return_path_arn, configuration_set, message_tags, ses_headers, soft_bounce, "
	/* The queue and the governor are built once, with the back end. */
	"delivery, queue_dir, queue_lifetime, queue_max_messages, queue_max_bytes, "
	"queue_min_free, queue_concurrency, queue_retry_min, queue_retry_max, bounces, "
	"bounce_from, send_rate, send_rate_share, send_rate_fallback, rate_wait, queue_rate_wait";

const char *config_restart_keys(void)
{
	return restart_keys;
}

size_t config_key_count(void)
{
	return NKEYS;
}

const char *config_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

int config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Decimal number with an optional one-letter unit from `units`, whose
 * multipliers are in `mult`. Rejects signs, blanks and overflow. */
static int parse_unit_number(const char *s, const char *units,
	const unsigned long long *mult, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (ULLONG_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (*p) {
		const char *u = strchr(units, *p);
		if (u == NULL || p[1] != '\0')
			return -EINVAL;
		if (v > ULLONG_MAX / mult[u - units])
			return -ERANGE;
		v *= mult[u - units];
	}
	*out = v;
	return 0;
}

int config_parse_duration(const char *s, unsigned *out)
{
	static const unsigned long long mult[] = { 1, 60, 3600, 86400 };
	unsigned long long v;
	int r = parse_unit_number(s, "smhd", mult, &v);

	if (r)
		return r;
	if (v > UINT_MAX)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const unsigned long long mult[] = { 1ULL << 10, 1ULL << 20, 1ULL << 30 };
	unsigned long long v;
	int r = parse_unit_number(s, "KMG", mult, &v);

	if (r)
		return r;
	*out = v;
	return 0;
}

void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int strlist_split(struct strlist *l, const char *s)
{
	struct strlist nl = { NULL, 0 };
	const char *p = s;

	while (*p) {
		size_t n;
		char **nv;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		nv = realloc(nl.v, (nl.n + 1) * sizeof(*nv));
		if (nv == NULL)
			goto nomem;
		nl.v = nv;
		nl.v[nl.n] = strndup(p, n);
		if (nl.v[nl.n] == NULL)
			goto nomem;
		nl.n++;
		p += n;
	}
	strlist_free(l);
	*l = nl;
	return 0;
nomem:
	strlist_free(&nl);
	return -ENOMEM;
}

static int set_value(struct config *c, const struct key *k, const char *v,
	char *err, size_t errlen)
{
	void *field = (char *)c + k->off;
	unsigned long long n = 0;
	int r = 0;

	switch (k->type) {
	case T_STR: {
		char *d = NULL;
		if (*v && (d = strdup(v)) == NULL)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = d;	/* empty string means unset */
		return 0;
	}
	case T_BOOL:
		r = config_parse_bool(v, (bool *)field);
		if (r)
			snprintf(err, errlen, "expected yes or no, got \"%s\"", v);
		return r;
	case T_LIST:
		return strlist_split((struct strlist *)field, v);
	case T_ENUM:
		for (const struct enum_name *e = k->names; e->name; e++) {
			if (strcmp(e->name, v) == 0) {
				if (k->names == base_creds_names) {
					char *d = strdup(v);
					if (d == NULL)
						return -ENOMEM;
					free(*(char **)field);
					*(char **)field = d;
				} else {
					*(int *)field = e->value;
				}
				return 0;
			}
		}
		{
			size_t o = (size_t)snprintf(err, errlen, "expected one of");
			for (const struct enum_name *e = k->names; e->name && o < errlen; e++)
				o += (size_t)snprintf(err + o, errlen - o, " %s", e->name);
		}
		return -EINVAL;
	case T_UINT:
	case T_DURATION: {
		unsigned u;
		r = k->type == T_UINT ? parse_unit_number(v, "", NULL, &n)
			: config_parse_duration(v, &u);
		if (k->type == T_DURATION && r == 0)
			n = u;
		break;
	}
	case T_SIZE: {
		uint64_t s;
		r = config_parse_size(v, &s);
		n = s;
		break;
	}
	}
	if (r || n < k->min || n > k->max) {
		snprintf(err, errlen, "expected a %s between %llu and %llu, got \"%s\"",
			k->type == T_SIZE ? "size" : k->type == T_DURATION ? "duration" : "number",
			k->min, k->max, v);
		return -EINVAL;
	}
	if (k->type == T_SIZE)
		*(uint64_t *)field = n;
	else
		*(unsigned *)field = (unsigned)n;
	return 0;
}

int config_set(struct config *c, const char *key, const char *value,
	char *err, size_t errlen)
{
	const struct key *k = find_key(key);
	char why[200] = "";
	int r;

	if (k == NULL) {
		snprintf(err, errlen, "unknown key \"%s\"", key);
		return -EINVAL;
	}
	r = set_value(c, k, value, why, sizeof(why));
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	else if (r)
		snprintf(err, errlen, "bad value for \"%s\": %s", key, why);
	return r;
}

int config_defaults(struct config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].def && config_set(c, keys[i].name, keys[i].def, err, sizeof(err)))
			return -ENOMEM;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Values may be wrapped in double quotes to keep a leading '#' or blanks;
 * a '#' after whitespace starts a comment otherwise. */
static int parse_line(char *line, char **key, char **value)
{
	char *p = trim(line), *v;

	if (*p == '\0' || *p == '#')
		return 1;
	*key = p;
	p += strcspn(p, " \t");
	if (*p)
		*p++ = '\0';
	v = trim(p);
	if (*v == '"') {
		char *end = strrchr(v + 1, '"');
		if (end == NULL || trim(end + 1)[0] != '\0')
			return -EINVAL;
		*end = '\0';
		v++;
	} else {
		for (char *h = v; *h; h++) {
			if (*h == '#' && (h == v || h[-1] == ' ' || h[-1] == '\t')) {
				*h = '\0';
				break;
			}
		}
		v = trim(v);
	}
	*value = v;
	return 0;
}

static int load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096], why[300];
	unsigned lineno = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -ENOENT;
	}
	while (fgets(line, sizeof(line), f)) {
		char *key, *value;
		int r;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			fclose(f);
			return -EINVAL;
		}
		r = parse_line(line, &key, &value);
		if (r == 1)
			continue;
		if (r == 0)
			r = config_set(c, key, value, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "unterminated quote");
		if (r) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			fclose(f);
			return r;
		}
	}
	fclose(f);
	return 0;
}

static int load_env(struct config *c, char *err, size_t errlen)
{
	char name[96], why[300];

	for (size_t i = 0; i < NKEYS; i++) {
		const char *v;
		size_t j;

		j = (size_t)snprintf(name, sizeof(name), "SESRELAY_");
		for (const char *k = keys[i].name; *k && j < sizeof(name) - 1; k++)
			name[j++] = (char)toupper((unsigned char)*k);
		name[j] = '\0';
		v = getenv(name);
		if (v == NULL)
			continue;
		if (config_set(c, keys[i].name, v, why, sizeof(why))) {
			snprintf(err, errlen, "environment %s: %s", name, why);
			return -EINVAL;
		}
	}
	return 0;
}

/* A positive rate or share up to max ("auto" too where allowed). */
static bool rate_ok(const char *s, bool allow_auto, double max)
{
	char *end;
	double v;

	if (s == NULL)
		return false;
	if (allow_auto && strcmp(s, "auto") == 0)
		return true;
	v = strtod(s, &end);
	return end != s && *end == '\0' && v > 0 && v <= max;
}

static int validate(struct config *c, char *err, size_t errlen)
{
	const char *where = c->path ? c->path : "configuration";

	if (c->listen.n == 0 && c->smtps_listen.n == 0) {
		snprintf(err, errlen, "%s: key \"listen\": no address to listen on", where);
		return -EINVAL;
	}
	if (!c->tls_cert != !c->tls_key) {
		snprintf(err, errlen, "%s: keys \"tls_cert\" and \"tls_key\" must be set together", where);
		return -EINVAL;
	}
	if ((c->require_tls || c->smtps_listen.n) && !c->tls_cert) {
		snprintf(err, errlen, "%s: key \"%s\" needs tls_cert and tls_key", where,
			c->require_tls ? "require_tls" : "smtps_listen");
		return -EINVAL;
	}
	if (c->require_auth && !c->auth_users_file && !c->clients_file) {
		snprintf(err, errlen, "%s: key \"require_auth\" needs auth_users_file or clients_file", where);
		return -EINVAL;
	}
	if (c->api_listen.n && c->api_auth == API_AUTH_UNSET) {
		snprintf(err, errlen, "%s: key \"api_listen\" needs api_auth: sigv4 (callers sign with "
			"keys from clients_file) or network (anyone in api_allow_networks)", where);
		return -EINVAL;
	}
	if (c->api_listen.n && c->backend != BACKEND_SES) {
		snprintf(err, errlen, "%s: key \"api_listen\" needs backend ses", where);
		return -EINVAL;
	}
	if (c->api_listen.n && c->delivery == DELIVERY_QUEUE) {
		/* an SDK caller gets SES's own answer, which a queue cannot give */
		snprintf(err, errlen, "%s: key \"api_listen\" needs delivery sync: API callers get "
			"SES's own answer", where);
		return -EINVAL;
	}
	if (c->api_auth == API_AUTH_SIGV4 && !c->clients_file) {
		snprintf(err, errlen, "%s: key \"api_auth\" sigv4 needs clients_file", where);
		return -EINVAL;
	}
	if (!c->api_tls_cert != !c->api_tls_key) {
		snprintf(err, errlen, "%s: keys \"api_tls_cert\" and \"api_tls_key\" must be set together", where);
		return -EINVAL;
	}
	if (c->backend == BACKEND_SES && !c->role_arn) {
		snprintf(err, errlen, "%s: key \"role_arn\" is required with backend ses", where);
		return -EINVAL;
	}
	if (c->delivery == DELIVERY_QUEUE && c->backend != BACKEND_SES) {
		snprintf(err, errlen, "%s: key \"delivery\": queue needs backend ses", where);
		return -EINVAL;
	}
	if (c->delivery == DELIVERY_SYNC && c->backend == BACKEND_SES && c->max_recipients > 50) {
		snprintf(err, errlen, "%s: key \"max_recipients\": above 50 (SES's limit per "
			"message) needs delivery queue", where);
		return -EINVAL;
	}
	if (c->delivery == DELIVERY_QUEUE && c->bounces && !c->bounce_from) {
		snprintf(err, errlen, "%s: key \"bounce_from\" is required with delivery queue "
			"(or set bounces off)", where);
		return -EINVAL;
	}
	if (!rate_ok(c->send_rate, true, 100000) || !rate_ok(c->send_rate_fallback, false, 100000) ||
	    !rate_ok(c->send_rate_share, false, 1)) {
		snprintf(err, errlen, "%s: key \"%s\": not a number in range%s", where,
			!rate_ok(c->send_rate, true, 100000) ? "send_rate" :
			!rate_ok(c->send_rate_fallback, false, 100000) ? "send_rate_fallback" :
			"send_rate_share",
			!rate_ok(c->send_rate, true, 100000) ? " (or auto)" : "");
		return -EINVAL;
	}
	if (c->queue_retry_min > c->queue_retry_max) {
		snprintf(err, errlen, "%s: key \"queue_retry_min\" must not be above queue_retry_max", where);
		return -EINVAL;
	}
	if (c->shared_account && (strlen(c->shared_account) != 12 ||
		strspn(c->shared_account, "0123456789") != 12)) {
		snprintf(err, errlen, "%s: key \"shared_account\": \"%s\" is not a 12-digit AWS "
			"account ID", where, c->shared_account);
		return -EINVAL;
	}
	if (c->refresh_min_remaining >= c->refresh_before_expiry) {
		snprintf(err, errlen, "%s: key \"refresh_min_remaining\" must be below refresh_before_expiry", where);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->message_tags.n; i++) {
		const char *eq = strchr(c->message_tags.v[i], '=');
		if (eq == NULL || eq == c->message_tags.v[i]) {
			snprintf(err, errlen, "%s: key \"message_tags\": \"%s\" is not name=value",
				where, c->message_tags.v[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	int r = config_defaults(c);

	if (r) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	if (path) {
		c->path = strdup(path);
		if (c->path == NULL)
			return -ENOMEM;
		r = load_file(c, path, err, errlen);
	}
	if (r == 0)
		r = load_env(c, err, errlen);
	if (r == 0)
		r = validate(c, err, errlen);
	if (r)
		config_free(c);
	return r;
}

void config_free(struct config *c)
{
	for (size_t i = 0; i < NKEYS; i++) {
		void *field = (char *)c + keys[i].off;
		if (keys[i].type == T_STR || keys[i].names == base_creds_names) {
			char *s = *(char **)field;
			if (s && strcmp(keys[i].name, "external_id") == 0)
				OPENSSL_cleanse(s, strlen(s));
			free(s);
			*(char **)field = NULL;
		} else if (keys[i].type == T_LIST) {
			strlist_free((struct strlist *)field);
		}
	}
	free(c->path);
	c->path = NULL;
}
