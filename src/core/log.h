/* Structured event log: one line per event, logfmt or JSON, to stderr
 * (and optionally syslog). Callers build a line field by field so the
 * same call renders correctly in both formats:
 *
 *	struct logline l;
 *	if (log_begin(&l, LVL_INFO, "smtp.connect")) {
 *		log_str(&l, "session", id);
 *		log_int(&l, "port", port);
 *		log_end(&l);
 *	}
 *
 * log_begin() returns false when the level is filtered out; nothing is
 * allocated then. Never pass secrets or message bodies: there is no
 * redaction layer behind this API on purpose, the call sites are it.
 * Thread-safe: each line is written with one write(2).
 */
#ifndef SESRELAY_LOG_H
#define SESRELAY_LOG_H

#include <stdbool.h>

#include "buf.h"

enum log_level { LVL_DEBUG, LVL_INFO, LVL_WARN, LVL_ERROR };
enum log_format { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

struct logline {
	struct buf b;
	enum log_level level;
	bool json;
};

void log_setup(enum log_format fmt, enum log_level level, bool use_syslog);
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);
bool log_enabled(enum log_level level);

bool log_begin(struct logline *l, enum log_level level, const char *event);
void log_str(struct logline *l, const char *key, const char *val);
void log_strn(struct logline *l, const char *key, const char *val, size_t n);
void log_int(struct logline *l, const char *key, long long val);
void log_uint(struct logline *l, const char *key, unsigned long long val);
void log_double(struct logline *l, const char *key, double val);
void log_bool(struct logline *l, const char *key, bool val);
void log_end(struct logline *l);

/* One-liner for the common case: an event with a free-text message. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
