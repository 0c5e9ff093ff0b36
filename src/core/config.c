#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config_values.h"
#include "log.h"

/* A line of the file, with its newline and NUL; a whole file. */
#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1024 * 1024)

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
	/* Checks one value (one entry of a list) as it is read: 0, or
	 * -EINVAL with the reason in why. NULL: the type says it all. */
	int (*check)(const char *v, char *why, size_t whylen);
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
#define U(n, f, d, lo, hi) { n, T_UINT, OFF(f), d, lo, hi, NULL, NULL }
#define D(n, f, d, lo, hi) { n, T_DURATION, OFF(f), d, lo, hi, NULL, NULL }
#define Z(n, f, d, lo, hi) { n, T_SIZE, OFF(f), d, lo, hi, NULL, NULL }
#define S(n, f, d, chk) { n, T_STR, OFF(f), d, 0, 0, NULL, chk }
#define B(n, f, d) { n, T_BOOL, OFF(f), d, 0, 0, NULL, NULL }
#define L(n, f, d, chk) { n, T_LIST, OFF(f), d, 0, 0, NULL, chk }
#define E(n, f, d, t) { n, T_ENUM, OFF(f), d, 0, 0, t, NULL }

/* Every key, its type, its default and its bounds: the single source of
 * truth. config/sesrelay.conf documents the same list (a test checks). */
static const struct key keys[] = {
	L("listen", listen, "127.0.0.1:2525", config_check_listen),
	L("smtps_listen", smtps_listen, "", config_check_listen),
	S("hostname", hostname, NULL, NULL),
	E("backend", backend, "ses", backend_names),
	S("outbox_dir", outbox_dir, "outbox", NULL),
	Z("max_message_size", max_message_size, "10M", 1024, 64ULL << 20),
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
	S("tls_cert", tls_cert, NULL, NULL),
	S("tls_key", tls_key, NULL, NULL),
	B("require_tls", require_tls, "no"),
	S("auth_users_file", auth_users_file, NULL, NULL),
	B("require_auth", require_auth, "no"),
	B("allow_plaintext_auth", allow_plaintext_auth, "no"),
	B("allow_open_relay", allow_open_relay, "no"),
	L("allow_networks", allow_networks, "127.0.0.0/8,::1/128", NULL),
	L("allow_senders", allow_senders, "", config_check_sender),
	S("clients_file", clients_file, NULL, NULL),
	L("api_listen", api_listen, "", config_check_listen),
	E("api_auth", api_auth, NULL, api_auth_names),
	L("api_allow_networks", api_allow_networks, "127.0.0.0/8,::1/128", NULL),
	S("api_tls_cert", api_tls_cert, NULL, NULL),
	S("api_tls_key", api_tls_key, NULL, NULL),
	Z("api_max_header_size", api_max_header_size, "16K", 1024, 64 * 1024),
	U("api_max_header_fields", api_max_header_fields, "64", 8, 128),
	Z("api_max_body_size", api_max_body_size, "41M", 1024, 41ULL << 20),
	D("api_timeout_header", api_timeout_header, "10", 1, 300),
	D("api_timeout_body", api_timeout_body, "60", 1, 3600),
	D("api_timeout_idle", api_timeout_idle, "60", 1, 3600),
	U("api_max_connections", api_max_connections, "1000", 1, 1000000),
	U("api_max_connections_per_ip", api_max_connections_per_ip, "100", 1, 1000000),
	U("api_max_requests_per_connection", api_max_requests_per_connection, "10000", 1, 1000000),
	E("log_format", log_format, "logfmt", log_format_names),
	E("log_level", log_level, "info", log_level_names),
	B("log_syslog", log_syslog, "no"),
	S("metrics_listen", metrics_listen, NULL, config_check_listen),
	D("metrics_timeout", metrics_timeout, "10", 1, 300),
	U("metrics_max_connections", metrics_max_connections, "64", 1, 4096),
	U("workers", workers, "0", 0, 256),
	S("role_arn", role_arn, NULL, config_check_role_arn),
	S("external_id", external_id, NULL, config_check_external_id),
	S("role_session_name", role_session_name, NULL, config_check_session_name),
	D("role_duration", role_duration, "3600", 900, 43200),
	S("region", region, NULL, config_check_region),
	S("base_credentials", base_credentials, "chain", NULL),
	B("allow_same_account", allow_same_account, "no"),
	S("shared_account", shared_account, NULL, config_check_account_id),
	D("sts_timeout", sts_timeout, "10", 1, 300),
	D("refresh_before_expiry", refresh_before_expiry, "900", 60, 43200),
	D("refresh_min_remaining", refresh_min_remaining, "60", 5, 3600),
	D("credential_process_timeout", credential_process_timeout, "30", 1, 600),
	Z("credential_process_max_output", credential_process_max_output, "64K", 1024, 1 << 20),
	D("metadata_timeout", metadata_timeout, "2", 1, 60),
	E("ses_api", ses_api, "v1", ses_api_names),
	S("source_arn", source_arn, NULL, NULL),
	S("from_arn", from_arn, NULL, NULL),
	S("return_path_arn", return_path_arn, NULL, NULL),
	S("configuration_set", configuration_set, NULL, NULL),
	L("message_tags", message_tags, "", config_check_tag),
	D("ses_timeout", ses_timeout, "30", 1, 600),
	U("ses_max_retries", ses_max_retries, "2", 0, 10),
	U("ses_max_connections", ses_max_connections, "32", 1, 1024),
	E("ses_headers", ses_headers, "strip", ses_headers_names),
	E("delivery", delivery, "sync", delivery_names),
	S("queue_dir", queue_dir, "queue", NULL),
	D("queue_lifetime", queue_lifetime, "1d", 1, 30 * 86400),
	U("queue_max_messages", queue_max_messages, "100000", 1, 10000000),
	Z("queue_max_bytes", queue_max_bytes, "4G", 1 << 20, 1ULL << 42),
	Z("queue_min_free", queue_min_free, "256M", 0, 1ULL << 42),
	U("queue_concurrency", queue_concurrency, "16", 1, 1024),
	U("queue_threads", queue_threads, "16", 1, 128),
	D("queue_retry_min", queue_retry_min, "30", 1, 3600),
	D("queue_retry_max", queue_retry_max, "1h", 1, 86400),
	B("bounces", bounces, "on"),
	S("bounce_from", bounce_from, NULL, config_check_address),
	S("send_rate", send_rate, "auto", config_check_send_rate),
	S("send_rate_share", send_rate_share, "1", config_check_rate_share),
	S("send_rate_fallback", send_rate_fallback, "14", config_check_rate),
	D("rate_wait", rate_wait, "2", 0, 60),
	D("queue_rate_wait", queue_rate_wait, "60", 1, 3600),
	D("send_quota_interval", send_quota_interval, "5m", 5, 86400),
	D("send_quota_pause", send_quota_pause, "10m", 10, 86400),
	D("control_timeout", control_timeout, "10", 1, 300),
	U("control_max_connections", control_max_connections, "16", 1, 1024),
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
	"queue_min_free, queue_concurrency, queue_threads, queue_retry_min, queue_retry_max, bounces, "
	"bounce_from, send_rate, send_rate_share, send_rate_fallback, rate_wait, queue_rate_wait, "
	"send_quota_interval, send_quota_pause, control_timeout, control_max_connections";

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

/* Where each value came from. key[i]: ORIGIN_DEFAULT, the file line, or
 * ORIGIN_ENV; for list keys read from the file, line[i][j] is the line of
 * value j. */
#define ORIGIN_DEFAULT 0u
#define ORIGIN_ENV UINT_MAX

struct config_origins {
	unsigned key[NKEYS];
	unsigned *line[NKEYS];
	size_t nline[NKEYS];
};

static void origins_free(struct config_origins *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		free(o->line[i]);
	free(o);
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

/* Parse v as key k's type into a scratch value, then store it: a failed
 * value leaves the field as it was. A list replaces the field's values,
 * or with append adds to them. */
static int set_value(struct config *c, const struct key *k, const char *v, bool append,
	char *err, size_t errlen)
{
	void *field = (char *)c + k->off;
	unsigned long long n = 0;
	int r = 0;

	switch (k->type) {
	case T_STR: {
		char *d = NULL;
		if (k->check && (r = k->check(v, err, errlen)) != 0)
			return r;
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
	case T_LIST: {
		struct strlist *l = field, add = { NULL, 0 };
		char **nv;

		if ((r = strlist_split(&add, v)) != 0)
			return r;
		for (size_t i = 0; i < add.n && k->check; i++) {
			if ((r = k->check(add.v[i], err, errlen)) != 0) {
				strlist_free(&add);
				return r;
			}
		}
		if (!append) {
			strlist_free(l);
			*l = add;
			return 0;
		}
		nv = realloc(l->v, (l->n + add.n + 1) * sizeof(*nv));
		if (nv == NULL) {
			strlist_free(&add);
			return -ENOMEM;
		}
		l->v = nv;
		if (add.n)	/* an empty value adds nothing (and add.v is NULL) */
			memcpy(l->v + l->n, add.v, add.n * sizeof(*nv));
		l->n += add.n;
		free(add.v);
		return 0;
	}
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

/* Set key k from one source and record where the value came from. In the
 * file (origin = line) a single-valued key may appear once; a list key's
 * first line replaces the default and later lines add to it. */
static int set_from(struct config *c, const struct key *k, const char *value,
	unsigned origin, char *err, size_t errlen)
{
	struct config_origins *o = c->origins;
	size_t ki = (size_t)(k - keys);
	struct strlist *l = (struct strlist *)((char *)c + k->off);
	bool file = origin != ORIGIN_DEFAULT && origin != ORIGIN_ENV;
	bool append = file && k->type == T_LIST && o && o->key[ki] != ORIGIN_DEFAULT &&
		o->key[ki] != ORIGIN_ENV;
	size_t before = k->type == T_LIST ? (append ? l->n : 0) : 0;
	char why[300] = "";
	int r;

	if (file && k->type != T_LIST && o && o->key[ki] != ORIGIN_DEFAULT &&
	    o->key[ki] != ORIGIN_ENV) {
		snprintf(err, errlen, "%s: given again (first at line %u); it takes one value",
			k->name, o->key[ki]);
		return -EINVAL;
	}
	r = set_value(c, k, value, append, why, sizeof(why));
	if (r == -ENOMEM) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	if (r) {
		snprintf(err, errlen, "%s: %s", k->name, why);
		return r;
	}
	if (o == NULL)
		return 0;
	if (!append)
		o->key[ki] = origin;
	if (k->type == T_LIST) {
		unsigned *nl = realloc(o->line[ki], (l->n + 1) * sizeof(*nl));
		if (nl == NULL)
			return -ENOMEM;
		o->line[ki] = nl;
		for (size_t i = before; i < l->n; i++)
			nl[i] = origin;
		o->nline[ki] = l->n;
	}
	return 0;
}

int config_set(struct config *c, const char *key, const char *value,
	char *err, size_t errlen)
{
	const struct key *k = find_key(key);

	if (k == NULL) {
		snprintf(err, errlen, "unknown key \"%s\"", key);
		return -EINVAL;
	}
	return set_from(c, k, value, ORIGIN_DEFAULT, err, errlen);
}

const char *config_where(const struct config *c, const char *key, const char *entry,
	char *buf, size_t len)
{
	const struct key *k = find_key(key);
	const struct config_origins *o = c->origins;
	const char *path = c->path ? c->path : "configuration";
	unsigned line = ORIGIN_DEFAULT;

	if (k && o) {
		size_t ki = (size_t)(k - keys);
		const struct strlist *l = (const struct strlist *)((const char *)c + k->off);
		line = o->key[ki];
		for (size_t i = 0; k->type == T_LIST && entry && i < l->n && i < o->nline[ki]; i++)
			if (strcmp(l->v[i], entry) == 0) {
				line = o->line[ki][i];
				break;
			}
	}
	if (line == ORIGIN_ENV) {
		size_t j = (size_t)snprintf(buf, len, "environment SESRELAY_");
		for (const char *p = key; *p && j + 1 < len; p++)
			buf[j++] = (char)toupper((unsigned char)*p);
		if (j < len)
			buf[j] = '\0';
	} else if (line != ORIGIN_DEFAULT) {
		snprintf(buf, len, "%s:%u: %s", path, line, key);
	} else {
		snprintf(buf, len, "%s: %s", path, key);
	}
	return buf;
}

int config_defaults(struct config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	c->origins = calloc(1, sizeof(*c->origins));
	if (c->origins == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].def && config_set(c, keys[i].name, keys[i].def, err, sizeof(err))) {
			config_free(c);
			return -ENOMEM;
		}
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

/* The file's text, one line at a time: `name` names it in errors. A line
 * is at most CONFIG_LINE_MAX - 1 bytes with its newline, as it always was;
 * a NUL byte is refused (it would cut the line short unseen). */
static int load_text(struct config *c, const char *name, const char *text, size_t len,
	char *err, size_t errlen)
{
	char line[CONFIG_LINE_MAX], why[300];
	unsigned lineno = 0;
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) + 1 : len - pos;
		char *key, *value;
		int r;

		lineno++;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "%s:%u: line too long", name, lineno);
			return -EINVAL;
		}
		if (memchr(text + pos, '\0', n)) {
			snprintf(err, errlen, "%s:%u: NUL byte", name, lineno);
			return -EINVAL;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n;
		r = parse_line(line, &key, &value);
		if (r == 1)
			continue;
		if (r == 0) {
			const struct key *k = find_key(key);
			if (k)
				r = set_from(c, k, value, lineno, why, sizeof(why));
			else
				r = config_set(c, key, value, why, sizeof(why));
		} else {
			snprintf(why, sizeof(why), "unterminated quote");
		}
		if (r) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
			return r;
		}
	}
	return 0;
}

/* The whole file into *text (caller frees), at most CONFIG_FILE_MAX bytes:
 * a configuration is a few kilobytes, and a bigger file is a mistake (a
 * log or a device named by accident), not something to read to the end. */
static int read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -ENOENT;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		fclose(f);
		free(buf);
		return -EIO;
	}
	fclose(f);
	if (n > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, (unsigned)CONFIG_FILE_MAX);
		free(buf);
		return -EINVAL;
	}
	*text = buf;
	*len = n;
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
		if (set_from(c, &keys[i], v, ORIGIN_ENV, why, sizeof(why))) {
			snprintf(err, errlen, "environment %s: %s", name, why);
			return -EINVAL;
		}
	}
	return 0;
}

/* An open relay: a listener reachable from other hosts that lets clients
 * from any address send without authenticating. Refused unless
 * allow_open_relay says it is meant. */
static int check_open_relay(const struct config *c, char *err, size_t errlen)
{
	const struct strlist *lists[] = { &c->listen, &c->smtps_listen };
	const char *names[] = { "listen", "smtps_listen" };
	const char *open = NULL, *exposed = NULL, *exposed_key = NULL;
	char w1[400], w2[400];

	if (c->allow_open_relay)
		return 0;
	/* The API front with api_auth network is the same hole over HTTP. */
	if (c->api_auth == API_AUTH_NETWORK) {
		for (size_t i = 0; i < c->api_allow_networks.n && !open; i++)
			if (config_network_admits_everyone(c->api_allow_networks.v[i]))
				open = c->api_allow_networks.v[i];
		for (size_t i = 0; i < c->api_listen.n && open && !exposed; i++)
			if (!config_listen_is_loopback(c->api_listen.v[i]))
				exposed = c->api_listen.v[i];
		if (exposed) {
			snprintf(err, errlen, "%s: \"%s\" lets every address send without "
				"authentication through api_listen \"%s\" (api_auth network), which is "
				"not loopback: an open relay. Narrow api_allow_networks, use api_auth "
				"sigv4, or set allow_open_relay yes if this is really meant",
				config_where(c, "api_allow_networks", open, w1, sizeof(w1)), open, exposed);
			return -EINVAL;
		}
		open = NULL;
	}
	if (c->require_auth)
		return 0;
	for (size_t i = 0; i < c->allow_networks.n && !open; i++)
		if (config_network_admits_everyone(c->allow_networks.v[i]))
			open = c->allow_networks.v[i];
	for (size_t j = 0; j < 2 && open && !exposed; j++)
		for (size_t i = 0; i < lists[j]->n && !exposed; i++)
			if (!config_listen_is_loopback(lists[j]->v[i])) {
				exposed = lists[j]->v[i];
				exposed_key = names[j];
			}
	if (!exposed)
		return 0;
	snprintf(err, errlen, "%s: \"%s\" lets every address send without authentication "
		"through %s \"%s\", which is not loopback: an open relay. Narrow allow_networks, "
		"set require_auth yes, or set allow_open_relay yes if this is really meant",
		config_where(c, "allow_networks", open, w1, sizeof(w1)), open,
		config_where(c, exposed_key, exposed, w2, sizeof(w2)), exposed);
	return -EINVAL;
}

#define W(key) config_where(c, key, NULL, w, sizeof(w))

static int validate(struct config *c, char *err, size_t errlen)
{
	char w[400];

	if (c->listen.n == 0 && c->smtps_listen.n == 0) {
		snprintf(err, errlen, "%s: no address to listen on", W("listen"));
		return -EINVAL;
	}
	if (!c->tls_cert != !c->tls_key) {
		snprintf(err, errlen, "%s: needs %s, which is not set",
			c->tls_cert ? W("tls_cert") : W("tls_key"),
			c->tls_cert ? "tls_key" : "tls_cert");
		return -EINVAL;
	}
	if ((c->require_tls || c->smtps_listen.n) && !c->tls_cert) {
		snprintf(err, errlen, "%s: needs tls_cert and tls_key, which are not set",
			W(c->require_tls ? "require_tls" : "smtps_listen"));
		return -EINVAL;
	}
	if (c->require_auth && !c->auth_users_file && !c->clients_file) {
		snprintf(err, errlen, "%s: needs auth_users_file or clients_file, neither is set",
			W("require_auth"));
		return -EINVAL;
	}
	if (c->api_listen.n && c->api_auth == API_AUTH_UNSET) {
		snprintf(err, errlen, "%s: \"api_listen\" needs api_auth: sigv4 (callers sign with "
			"keys from clients_file) or network (anyone in api_allow_networks)",
			W("api_listen"));
		return -EINVAL;
	}
	if (c->api_listen.n && c->backend != BACKEND_SES) {
		snprintf(err, errlen, "%s: needs backend ses", W("api_listen"));
		return -EINVAL;
	}
	if (c->api_listen.n && c->delivery == DELIVERY_QUEUE) {
		/* an SDK caller gets SES's own answer, which a queue cannot give */
		snprintf(err, errlen, "%s: needs delivery sync: API callers get SES's own answer",
			W("api_listen"));
		return -EINVAL;
	}
	if (c->api_auth == API_AUTH_SIGV4 && !c->clients_file) {
		snprintf(err, errlen, "%s: sigv4 needs clients_file, which is not set", W("api_auth"));
		return -EINVAL;
	}
	if (!c->api_tls_cert != !c->api_tls_key) {
		snprintf(err, errlen, "%s: needs %s, which is not set",
			c->api_tls_cert ? W("api_tls_cert") : W("api_tls_key"),
			c->api_tls_cert ? "api_tls_key" : "api_tls_cert");
		return -EINVAL;
	}
	if (c->backend == BACKEND_SES && !c->role_arn) {
		snprintf(err, errlen, "%s: required with backend ses", W("role_arn"));
		return -EINVAL;
	}
	if (c->delivery == DELIVERY_QUEUE && c->backend != BACKEND_SES) {
		snprintf(err, errlen, "%s: queue needs backend ses", W("delivery"));
		return -EINVAL;
	}
	if (c->delivery == DELIVERY_SYNC && c->backend == BACKEND_SES && c->max_recipients > 50) {
		snprintf(err, errlen, "%s: above 50 (SES's limit per message) needs delivery queue",
			W("max_recipients"));
		return -EINVAL;
	}
	if (c->delivery == DELIVERY_QUEUE && c->bounces && !c->bounce_from) {
		snprintf(err, errlen, "%s: required with delivery queue (or set bounces off)",
			W("bounce_from"));
		return -EINVAL;
	}
	if (c->queue_retry_min > c->queue_retry_max) {
		snprintf(err, errlen, "%s: must not be above queue_retry_max", W("queue_retry_min"));
		return -EINVAL;
	}
	if (c->refresh_min_remaining >= c->refresh_before_expiry) {
		snprintf(err, errlen, "%s: must be below refresh_before_expiry",
			W("refresh_min_remaining"));
		return -EINVAL;
	}
	return check_open_relay(c, err, errlen);
}

#undef W

/* Defaults, the text (when there is one), the environment, validation:
 * the one sequence both entry points share. */
static int load(struct config *c, const char *name, const char *text, size_t len,
	char *err, size_t errlen)
{
	int r = 0;

	if (name) {
		c->path = strdup(name);
		if (c->path == NULL) {
			snprintf(err, errlen, "out of memory");
			r = -ENOMEM;
		}
	}
	if (r == 0 && text)
		r = load_text(c, name, text, len, err, errlen);
	if (r == 0)
		r = load_env(c, err, errlen);
	if (r == 0)
		r = validate(c, err, errlen);
	if (r)
		config_free(c);
	return r;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int r = config_defaults(c);

	if (r) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	if (path) {
		r = read_file(path, &text, &len, err, errlen);
		if (r) {
			config_free(c);
			return r;
		}
	}
	r = load(c, path, text, len, err, errlen);
	if (text) {
		/* The file may hold external_id. */
		OPENSSL_cleanse(text, len);
		free(text);
	}
	return r;
}

int config_load_buffer(struct config *c, const char *name, const char *text, size_t len,
	char *err, size_t errlen)
{
	int r = config_defaults(c);

	if (r) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	return load(c, name ? name : "configuration", text ? text : "", text ? len : 0,
		err, errlen);
}

void config_hostname(const struct config *c, char *out, size_t n)
{
	if (c->hostname)
		snprintf(out, n, "%s", c->hostname);
	else if (n < 2 || gethostname(out, n - 1) != 0 || !out[0])
		snprintf(out, n, "localhost");
	else
		out[n - 1] = '\0';
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
	origins_free(c->origins);
	c->origins = NULL;
}
