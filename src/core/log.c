#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* Written at start-up and on reload (main thread) while worker threads
 * log: atomic, so a line sees the old or the new setting, never a torn
 * one. */
static _Atomic enum log_format g_format = LOG_FORMAT_LOGFMT;
static _Atomic enum log_level g_level = LVL_INFO;
static _Atomic bool g_syslog;

void log_setup(enum log_format fmt, enum log_level level, bool use_syslog)
{
	g_format = fmt;
	g_level = level;
	if (use_syslog && !g_syslog)
		openlog("sesrelay", LOG_PID | LOG_NDELAY, LOG_MAIL);
	g_syslog = use_syslog;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "logfmt") == 0)
		*out = LOG_FORMAT_LOGFMT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

bool log_enabled(enum log_level level)
{
	return level >= g_level;
}

static void put_json_string(struct buf *b, const char *s, size_t n)
{
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(b, "\\u%04x", c);
		} else {
			buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

static void put_logfmt_value(struct buf *b, const char *s, size_t n)
{
	bool quote = n == 0;

	for (size_t i = 0; i < n && !quote; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			quote = true;
	}
	if (!quote) {
		buf_append(b, s, n);
		return;
	}
	/* Same escapes as JSON strings: logfmt readers accept them. */
	put_json_string(b, s, n);
}

static void put_key(struct logline *l, const char *key)
{
	if (l->json) {
		buf_putc(&l->b, ',');
		put_json_string(&l->b, key, strlen(key));
		buf_putc(&l->b, ':');
	} else {
		buf_putc(&l->b, ' ');
		buf_puts(&l->b, key);
		buf_putc(&l->b, '=');
	}
}

bool log_begin(struct logline *l, enum log_level level, const char *event)
{
	struct timeval tv;
	struct tm tm;
	char ts[64];

	if (!log_enabled(level))
		return false;
	buf_init(&l->b);
	l->level = level;
	l->json = g_format == LOG_FORMAT_JSON;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + 19, sizeof(ts) - 19, ".%03dZ", (int)(tv.tv_usec / 1000) % 1000);
	if (l->json)
		buf_printf(&l->b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level_names[level]);
	else
		buf_printf(&l->b, "ts=%s level=%s event=", ts, level_names[level]);
	if (l->json)
		put_json_string(&l->b, event, strlen(event));
	else
		put_logfmt_value(&l->b, event, strlen(event));
	return true;
}

void log_strn(struct logline *l, const char *key, const char *val, size_t n)
{
	put_key(l, key);
	if (val == NULL)
		val = "", n = 0;
	if (l->json)
		put_json_string(&l->b, val, n);
	else
		put_logfmt_value(&l->b, val, n);
}

void log_str(struct logline *l, const char *key, const char *val)
{
	log_strn(l, key, val, val ? strlen(val) : 0);
}

void log_int(struct logline *l, const char *key, long long val)
{
	put_key(l, key);
	buf_printf(&l->b, "%lld", val);
}

void log_uint(struct logline *l, const char *key, unsigned long long val)
{
	put_key(l, key);
	buf_printf(&l->b, "%llu", val);
}

void log_double(struct logline *l, const char *key, double val)
{
	put_key(l, key);
	buf_printf(&l->b, "%.6f", val);
}

void log_bool(struct logline *l, const char *key, bool val)
{
	put_key(l, key);
	buf_puts(&l->b, val ? "true" : "false");
}

void log_end(struct logline *l)
{
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };

	if (l->json)
		buf_putc(&l->b, '}');
	if (g_syslog && l->b.data)
		syslog(prio[l->level], "%s", l->b.data);
	buf_putc(&l->b, '\n');
	if (l->b.data) {
		ssize_t w = write(STDERR_FILENO, l->b.data, l->b.len);
		(void)w;
	}
	buf_free(&l->b);
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	struct logline l;
	struct buf m = BUF_INIT;
	va_list ap;

	if (!log_begin(&l, level, event))
		return;
	va_start(ap, fmt);
	buf_vprintf(&m, fmt, ap);
	va_end(ap);
	log_strn(&l, "msg", m.data, m.len);
	buf_free(&m);
	log_end(&l);
}
