/* Configuration: defaults, then the `key value` file, then SESRELAY_<KEY>
 * environment variables (which win). One table in config.c names every
 * key, its type and its default; config/sesrelay.conf documents them.
 *
 * In the file a key is given once; list keys (listen, smtps_listen,
 * allow_networks, allow_senders, message_tags) may be repeated and collect
 * every value. Each value is checked when it is read, and every error names
 * where the value came from: FILE:LINE: key, or the environment variable.
 *
 * Ownership: struct config owns every string and list in it and the record
 * of where each value came from. config_free() releases them (wiping
 * external_id). A loaded config is immutable; reload builds a new one and
 * swaps it in.
 */
#ifndef SESRELAY_CONFIG_H
#define SESRELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strlist {
	char **v;		/* n entries, each owned */
	size_t n;
};

enum backend_kind { BACKEND_OUTBOX, BACKEND_SES };
enum ses_api { SES_API_V1, SES_API_V2 };
enum ses_headers_mode { SES_HEADERS_STRIP, SES_HEADERS_REJECT };
enum bare_lf_mode { BARE_LF_REJECT, BARE_LF_NORMALIZE };
/* No default: with api_listen set, the operator must choose. */
enum api_auth_mode { API_AUTH_UNSET, API_AUTH_SIGV4, API_AUTH_NETWORK };
enum delivery_mode { DELIVERY_SYNC, DELIVERY_QUEUE };

struct config_origins;

struct config {
	char *path;			/* file it came from, or NULL */
	struct config_origins *origins;	/* where each value came from (config_where) */

	/* SMTP front end */
	struct strlist listen;		/* host:port / [v6]:port */
	struct strlist smtps_listen;
	char *hostname;			/* NULL: gethostname() */
	enum backend_kind backend;
	char *outbox_dir;
	uint64_t max_message_size;	/* octets */
	unsigned max_recipients;
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned max_transactions;	/* per connection */
	unsigned max_errors;		/* before 421 and disconnect */
	unsigned max_line_length;	/* DATA line, without CRLF (RFC: 998) */
	bool allow_long_lines;		/* accept longer DATA lines instead of 500 */
	unsigned max_command_length;	/* command line incl. CRLF (RFC: 512) */
	enum bare_lf_mode bare_lf;
	unsigned timeout_command;	/* seconds */
	unsigned timeout_data;		/* seconds */
	unsigned drain_timeout;		/* seconds, at shutdown */
	char *tls_cert;
	char *tls_key;
	bool require_tls;
	char *auth_users_file;
	bool require_auth;
	bool allow_plaintext_auth;
	bool allow_open_relay;		/* dangerous: unauthenticated clients from anywhere */
	struct strlist allow_networks;	/* CIDRs; empty: loopback only */
	struct strlist allow_senders;	/* address or @domain; empty: any */

	/* Applications (both fronts) */
	char *clients_file;		/* per-application credentials and sending policy */

	/* AWS SDK front (SES v1, SESv2, Pinpoint) */
	struct strlist api_listen;	/* host:port / [v6]:port */
	enum api_auth_mode api_auth;
	struct strlist api_allow_networks;	/* CIDRs, api_auth network */
	char *api_tls_cert;
	char *api_tls_key;
	uint64_t api_max_header_size;	/* request line + fields, octets */
	unsigned api_max_header_fields;
	uint64_t api_max_body_size;	/* octets; v1 and Pinpoint also stop at SES's 10 MB */
	unsigned api_timeout_header;	/* seconds to receive a request head */
	unsigned api_timeout_body;	/* seconds to receive a request body */
	unsigned api_timeout_idle;	/* seconds a kept-alive connection may wait */
	unsigned api_max_connections;
	unsigned api_max_connections_per_ip;
	unsigned api_max_requests_per_connection;

	/* Logging and operation */
	int log_format;			/* enum log_format */
	int log_level;			/* enum log_level */
	bool log_syslog;
	char *metrics_listen;		/* NULL: off */
	unsigned metrics_timeout;	/* seconds to receive a request head */
	unsigned metrics_max_connections;	/* admin HTTP connections at once */
	unsigned workers;		/* 0: number of cores */

	/* Shared-account identity */
	char *role_arn;
	char *external_id;
	char *role_session_name;	/* NULL: derived from host name */
	unsigned role_duration;		/* seconds, 900..43200 */
	char *region;			/* NULL: AWS_REGION/AWS_DEFAULT_REGION */
	char *base_credentials;		/* chain|env|web_identity|profile|ecs|imds */
	bool allow_same_account;	/* may send with credentials of the base account */
	char *shared_account;		/* NULL, or the only account credentials may prove */
	unsigned sts_timeout;		/* seconds */
	unsigned refresh_before_expiry;	/* seconds: background refresh starts */
	unsigned refresh_min_remaining;	/* seconds: below this creds are not used */
	unsigned credential_process_timeout;	/* seconds */
	uint64_t credential_process_max_output;	/* octets of its stdout */
	unsigned metadata_timeout;	/* seconds, per ECS/IMDS request */

	/* SES */
	enum ses_api ses_api;
	char *source_arn;
	char *from_arn;
	char *return_path_arn;
	char *configuration_set;
	struct strlist message_tags;	/* name=value */
	unsigned ses_timeout;		/* seconds, per request */
	unsigned ses_max_retries;	/* retries of throttled/network-failed sends */
	unsigned ses_max_connections;	/* kept-alive connections to SES */
	enum ses_headers_mode ses_headers;

	/* Queue mode (src/queue) */
	enum delivery_mode delivery;
	char *queue_dir;
	unsigned queue_lifetime;	/* seconds a message is retried */
	unsigned queue_max_messages;
	uint64_t queue_max_bytes;	/* octets of queued messages */
	uint64_t queue_min_free;	/* free octets on the queue's file system */
	unsigned queue_concurrency;	/* messages being delivered at once */
	unsigned queue_threads;		/* threads writing queue files (the libuv pool) */
	unsigned queue_retry_min;	/* seconds: first retry delay */
	unsigned queue_retry_max;	/* seconds: retry delay cap */
	bool bounces;			/* send DSNs for failed messages */
	char *bounce_from;		/* From: of DSNs, verified in the shared account */

	/* Send-rate governor (both modes) */
	char *send_rate;		/* "auto" or recipients per second */
	char *send_rate_share;		/* fraction of MaxSendRate, (0, 1] */
	char *send_rate_fallback;	/* recipients per second when the quota cannot be read */
	unsigned rate_wait;		/* seconds a sync send may wait for tokens */
	unsigned queue_rate_wait;	/* seconds a queued send may wait for tokens */
	unsigned send_quota_interval;	/* seconds between GetSendQuota reads (send_rate auto) */
	unsigned send_quota_pause;	/* seconds paused on the daily quota when it cannot be read */
	unsigned control_timeout;	/* seconds for a control socket request */
	unsigned control_max_connections;	/* control socket connections at once */
	bool soft_bounce;		/* AWS's 5xx answered as the matching 4xx */
};

/* Fill with built-in defaults. Returns 0 or -ENOMEM. */
int config_defaults(struct config *c);
/* Defaults, then `path` (may be NULL), then the environment, then
 * cross-key validation. On error returns -EINVAL (or -ENOENT/-ENOMEM) and
 * writes a one-line message naming file, line and key into err. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
/* The same from text already in memory (len bytes, need not end in NUL);
 * `name` stands for the file in messages and config_where (NULL:
 * "configuration"). config_load reads the file and calls the same code. */
int config_load_buffer(struct config *c, const char *name, const char *text, size_t len,
	char *err, size_t errlen);
/* Set one key from its text form, as the file and environment do. */
int config_set(struct config *c, const char *key, const char *value,
	char *err, size_t errlen);
void config_free(struct config *c);

/* Where the value of `key` came from, for error messages about it:
 * "FILE:LINE: key" when read from the file (for a list key, the line of
 * `entry` when it is one of its values), "environment SESRELAY_KEY", or
 * "FILE: key" / "configuration: key" for a default. Returns buf. */
const char *config_where(const struct config *c, const char *key, const char *entry,
	char *buf, size_t len);

/* Helpers other modules use on config values. */
/* "host:port" or "[v6]:port": host (brackets removed) into host, port
 * 0-65535. A host is an IP literal or a DNS name. 0 or -EINVAL. */
/* The name this relay gives itself (Received:, queue IDs, DSNs): the
 * `hostname` key, else gethostname(), else "localhost". */
void config_hostname(const struct config *c, char *out, size_t n);
int config_split_hostport(const char *s, char *host, size_t hostlen, unsigned *port);
int config_parse_duration(const char *s, unsigned *out);	/* 30, 30s, 5m, 1h */
int config_parse_size(const char *s, uint64_t *out);		/* 1048576, 512K, 10M, 1G */
int config_parse_bool(const char *s, bool *out);
int strlist_split(struct strlist *l, const char *s);		/* comma/space list */
void strlist_free(struct strlist *l);

/* The keys a reload does not apply, as "a, b, c" (for the reload log). */
const char *config_restart_keys(void);

/* Iterate the key table (for docs tests and `--help`). */
size_t config_key_count(void);
const char *config_key_name(size_t i);

#endif
