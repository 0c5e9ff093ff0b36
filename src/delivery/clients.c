/* The clients file and the sender policy (see clients.h). */
#include "clients.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "buf.h"

struct clients {
	atomic_int refs;
	struct client *v;
	size_t n;
};

static void client_free(struct client *cl)
{
	free(cl->name);
	free(cl->password_hash);
	free(cl->key_id);
	if (cl->secret) {
		OPENSSL_cleanse(cl->secret, strlen(cl->secret));
		free(cl->secret);
	}
	for (size_t i = 0; i < cl->nsenders; i++)
		free(cl->senders[i]);
	free(cl->senders);
	free(cl->configuration_set);
	for (size_t i = 0; i < cl->ntags; i++) {
		free(cl->tags[i].name);
		free(cl->tags[i].value);
	}
	free(cl->tags);
}

static void clients_free(struct clients *c)
{
	for (size_t i = 0; i < c->n; i++)
		client_free(&c->v[i]);
	free(c->v);
	free(c);
}

struct clients *clients_ref(struct clients *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void clients_unref(struct clients *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		clients_free(c);
}

size_t clients_count(const struct clients *c)
{
	return c->n;
}

const struct client *clients_at(const struct clients *c, size_t i)
{
	return &c->v[i];
}

static int fail(char *err, size_t errlen, const char *where, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, const char *where, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s:%u: ", where, line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool name_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* Key ids and secrets: printable, no separators of this file's format. */
static bool token_ok(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == ',')
			return false;
	return true;
}

/* "local@domain" or "@domain": one '@', a dot-free local part allowed,
 * no blanks or angle brackets. Lowercased in place. */
static bool sender_ok(char *s)
{
	char *at = strchr(s, '@');

	if (at == NULL || strchr(at + 1, '@') || at[1] == '\0' || strlen(s) > 320)
		return false;
	for (char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c >= 0x7f || strchr("<>()[]\\\",;:", c))
			return false;
		if (c >= 'A' && c <= 'Z')
			*p = (char)(c - 'A' + 'a');
	}
	return true;
}

/* Split value at ',' into a fresh array of copies. */
static int split_list(const char *v, char ***out, size_t *n, size_t max)
{
	char **a = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	while (*v) {
		const char *e = strchr(v, ',');
		size_t len = e ? (size_t)(e - v) : strlen(v);
		char **na;
		if (len == 0 || k == max)
			goto bad;
		na = realloc(a, (k + 1) * sizeof(*a));
		if (na == NULL)
			goto nomem;
		a = na;
		a[k] = strndup(v, len);
		if (a[k] == NULL)
			goto nomem;
		k++;
		v += len;
		if (*v == ',' && *++v == '\0')
			goto bad;
	}
	*out = a;
	*n = k;
	return 0;
bad:
	for (size_t i = 0; i < k; i++)
		free(a[i]);
	free(a);
	return -EINVAL;
nomem:
	for (size_t i = 0; i < k; i++)
		free(a[i]);
	free(a);
	return -ENOMEM;
}

static int set_field(struct client *cl, const char *key, size_t klen, char *v,
	const char *where, unsigned line, char *err, size_t errlen)
{
#define IS(k) (klen == strlen(k) && memcmp(key, k, klen) == 0)
#define ONCE(f) do { if (cl->f) return fail(err, errlen, where, line, "field \"%s\" given twice", #f); } while (0)
	int r;

	if (IS("password")) {
		ONCE(password_hash);
		if (strncmp(v, "$scrypt$", 8) && strncmp(v, "$pbkdf2-sha256$", 15))
			return fail(err, errlen, where, line, "password: not a $scrypt$ or $pbkdf2-sha256$ hash");
		cl->password_hash = strdup(v);
		return cl->password_hash ? 0 : -ENOMEM;
	}
	if (IS("key_id")) {
		ONCE(key_id);
		if (!token_ok(v, CLIENTS_KEY_ID_MIN, CLIENTS_KEY_ID_MAX))
			return fail(err, errlen, where, line, "key_id: %d to %d printable characters",
				CLIENTS_KEY_ID_MIN, CLIENTS_KEY_ID_MAX);
		cl->key_id = strdup(v);
		return cl->key_id ? 0 : -ENOMEM;
	}
	if (IS("secret")) {
		ONCE(secret);
		if (!token_ok(v, CLIENTS_SECRET_MIN, CLIENTS_SECRET_MAX))
			return fail(err, errlen, where, line, "secret: %d to %d printable characters",
				CLIENTS_SECRET_MIN, CLIENTS_SECRET_MAX);
		cl->secret = strdup(v);
		return cl->secret ? 0 : -ENOMEM;
	}
	if (IS("senders")) {
		if (cl->senders)
			return fail(err, errlen, where, line, "field \"senders\" given twice");
		r = split_list(v, &cl->senders, &cl->nsenders, CLIENTS_MAX_SENDERS);
		if (r == -EINVAL)
			return fail(err, errlen, where, line, "senders: a comma list of up to %d addresses or @domains",
				CLIENTS_MAX_SENDERS);
		if (r)
			return r;
		for (size_t i = 0; i < cl->nsenders; i++)
			if (!sender_ok(cl->senders[i]))
				return fail(err, errlen, where, line, "senders: \"%s\" is not an address or @domain",
					cl->senders[i]);
		return 0;
	}
	if (IS("configuration_set")) {
		ONCE(configuration_set);
		if (!name_ok(v, strlen(v), 64))
			return fail(err, errlen, where, line, "configuration_set: not a configuration set name");
		cl->configuration_set = strdup(v);
		return cl->configuration_set ? 0 : -ENOMEM;
	}
	if (IS("force_configuration_set")) {
		if (strcmp(v, "yes") == 0)
			cl->force_configuration_set = true;
		else if (strcmp(v, "no") == 0)
			cl->force_configuration_set = false;
		else
			return fail(err, errlen, where, line, "force_configuration_set: yes or no");
		return 0;
	}
	if (IS("tags")) {
		char **items;
		size_t n;
		if (cl->tags)
			return fail(err, errlen, where, line, "field \"tags\" given twice");
		r = split_list(v, &items, &n, CLIENTS_MAX_TAGS);
		if (r == -EINVAL)
			return fail(err, errlen, where, line, "tags: a comma list of up to %d NAME=VALUE",
				CLIENTS_MAX_TAGS);
		if (r)
			return r;
		cl->tags = calloc(n ? n : 1, sizeof(*cl->tags));
		for (size_t i = 0; i < n; i++) {
			char *eq = strchr(items[i], '=');
			if (cl->tags && eq && name_ok(items[i], (size_t)(eq - items[i]), 256) &&
					name_ok(eq + 1, strlen(eq + 1), 256)) {
				cl->tags[cl->ntags].name = strndup(items[i], (size_t)(eq - items[i]));
				cl->tags[cl->ntags].value = strdup(eq + 1);
				cl->ntags++;
				if (!cl->tags[cl->ntags - 1].name || !cl->tags[cl->ntags - 1].value)
					r = -ENOMEM;
			} else if (cl->tags && r == 0) {
				r = fail(err, errlen, where, line, "tags: \"%s\" is not NAME=VALUE (letters, digits, - _ .)",
					items[i]);
			}
			free(items[i]);
		}
		free(items);
		return cl->tags ? r : -ENOMEM;
	}
	return fail(err, errlen, where, line, "unknown field \"%.*s\"", (int)klen, key);
#undef IS
#undef ONCE
}

static int parse_line(struct clients *c, char *s, const char *where, unsigned line,
	char *err, size_t errlen)
{
	struct client *cl;
	char *tok, *save = NULL;
	int r;

	tok = strtok_r(s, " \t", &save);
	if (tok == NULL || *tok == '#')
		return 0;
	if (!name_ok(tok, strlen(tok), CLIENTS_MAX_NAME))
		return fail(err, errlen, where, line, "\"%s\" is not a client name (letters, digits, - _ ., up to %d)",
			tok, CLIENTS_MAX_NAME);
	if (clients_by_name(c, tok))
		return fail(err, errlen, where, line, "client \"%s\" given twice", tok);
	if (c->n == CLIENTS_MAX_ENTRIES)
		return fail(err, errlen, where, line, "more than %d clients", CLIENTS_MAX_ENTRIES);
	cl = &c->v[c->n];
	memset(cl, 0, sizeof(*cl));
	cl->name = strdup(tok);
	c->n++;
	if (cl->name == NULL)
		return -ENOMEM;
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		if (eq == NULL || eq == tok)
			return fail(err, errlen, where, line, "\"%s\" is not field=value", tok);
		r = set_field(cl, tok, (size_t)(eq - tok), eq + 1, where, line, err, errlen);
		if (r)
			return r;
	}
	if (!cl->key_id != !cl->secret)
		return fail(err, errlen, where, line, "client \"%s\": key_id and secret go together", cl->name);
	if (cl->nsenders == 0)
		return fail(err, errlen, where, line, "client \"%s\": no senders (it could send as nobody)", cl->name);
	if (cl->key_id) {
		for (size_t i = 0; i + 1 < c->n; i++)
			if (c->v[i].key_id && strcmp(c->v[i].key_id, cl->key_id) == 0)
				return fail(err, errlen, where, line, "key_id of \"%s\" is also that of \"%s\"",
					cl->name, c->v[i].name);
	}
	return 0;
}

int clients_parse(const char *text, size_t len, const char *where, struct clients **out,
	char *err, size_t errlen)
{
	struct clients *c = calloc(1, sizeof(*c));
	char line[CLIENTS_MAX_LINE + 1];
	unsigned lineno = 0;
	size_t entries = 1;
	int r = 0;

	*out = NULL;
	if (c == NULL)
		return -ENOMEM;
	atomic_init(&c->refs, 1);
	for (size_t i = 0; i < len; i++)
		entries += text[i] == '\n';
	if (entries > CLIENTS_MAX_ENTRIES)
		entries = CLIENTS_MAX_ENTRIES;
	c->v = calloc(entries, sizeof(*c->v));
	if (c->v == NULL) {
		free(c);
		return -ENOMEM;
	}
	for (size_t pos = 0; pos < len && r == 0;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text - pos) : len - pos;
		lineno++;
		if (n && text[pos + n - 1] == '\r')
			n--;
		if (n > CLIENTS_MAX_LINE)
			r = fail(err, errlen, where, lineno, "line longer than %d bytes", CLIENTS_MAX_LINE);
		else if (memchr(text + pos, '\0', n))
			r = fail(err, errlen, where, lineno, "NUL byte");
		else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			r = parse_line(c, line, where, lineno, err, errlen);
			OPENSSL_cleanse(line, n);
		}
		pos += (nl ? (size_t)(nl - text - pos) + 1 : len - pos);
	}
	if (r) {
		clients_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int clients_load(const char *path, struct clients **out, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	char chunk[8192];
	FILE *f = fopen(path, "r");
	int r = 0;

	*out = NULL;
	if (f == NULL) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	for (;;) {
		size_t n = fread(chunk, 1, sizeof(chunk), f);
		if (n && buf_append(&b, chunk, n)) {
			r = -ENOMEM;
			break;
		}
		if (b.len > (size_t)CLIENTS_MAX_ENTRIES * (CLIENTS_MAX_LINE + 2)) {
			snprintf(err, errlen, "%s: file too large", path);
			r = -EINVAL;
			break;
		}
		if (n < sizeof(chunk)) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: read error", path);
				r = -EIO;
			}
			break;
		}
	}
	fclose(f);
	OPENSSL_cleanse(chunk, sizeof(chunk));
	if (r == 0)
		r = clients_parse(b.data ? b.data : "", b.len, path, out, err, errlen);
	buf_free_secret(&b);
	return r;
}

const struct client *clients_by_name(const struct clients *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].name, name) == 0)
			return &c->v[i];
	return NULL;
}

const struct client *clients_by_key_id(const struct clients *c, const char *id, size_t n)
{
	for (size_t i = 0; i < c->n; i++) {
		const char *k = c->v[i].key_id;
		if (k && strlen(k) == n && memcmp(k, id, n) == 0)
			return &c->v[i];
	}
	return NULL;
}

bool client_may_send_as(const struct client *cl, const char *addr, size_t n)
{
	const char *at = NULL;

	for (size_t i = 0; i < n; i++)
		if (addr[i] == '@')
			at = addr + i;
	if (at == NULL || at == addr || at + 1 == addr + n)
		return false;
	for (size_t i = 0; i < cl->nsenders; i++) {
		const char *s = cl->senders[i];
		size_t sl = strlen(s);
		if (s[0] == '@') {
			if ((size_t)(addr + n - at) == sl && strncasecmp(at, s, sl) == 0)
				return true;
		} else if (sl == n && strncasecmp(addr, s, n) == 0) {
			return true;
		}
	}
	return false;
}

/* Skip folding whitespace and (nested) comments. */
static const char *skip_cfws(const char *p, const char *end)
{
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			p++;
		} else if (*p == '(') {
			int depth = 0;
			for (; p < end; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')' && --depth == 0) {
					p++;
					break;
				}
			}
		} else {
			break;
		}
	}
	return p;
}

int client_check_from(const struct client *cl, const char *value, size_t n, char *bad,
	size_t badlen)
{
	const char *p = value, *end = value + n;
	unsigned found = 0;

	while (p < end) {
		const char *start, *lt = NULL, *gt = NULL, *a, *ae;
		bool quoted = false;
		p = skip_cfws(p, end);
		if (p == end)
			break;
		start = p;
		/* one mailbox: up to a ',' outside quotes, comments and <> */
		for (; p < end; p++) {
			if (quoted) {
				if (*p == '\\' && p + 1 < end)
					p++;
				else if (*p == '"')
					quoted = false;
			} else if (*p == '"') {
				quoted = true;
			} else if (*p == '(') {
				const char *q = skip_cfws(p, end);
				p = q - 1;
			} else if (*p == '<' && lt == NULL) {
				lt = p;
			} else if (*p == '>' && lt && gt == NULL) {
				gt = p;
			} else if (*p == ',' && (lt == NULL || gt != NULL)) {
				break;
			}
		}
		if (quoted || (lt && !gt))
			return -EINVAL;
		if (lt) {
			a = lt + 1;
			ae = gt;
		} else {
			/* a bare address: the token, then nothing but comments */
			a = start;
			for (ae = a; ae < p && !strchr(" \t\r\n(", *ae); ae++)
				;
			if (skip_cfws(ae, p) != p)
				return -EINVAL;
		}
		a = skip_cfws(a, ae);
		while (ae > a && (ae[-1] == ' ' || ae[-1] == '\t' || ae[-1] == '\r' || ae[-1] == '\n'))
			ae--;
		if (ae == a || memchr(a, '@', (size_t)(ae - a)) == NULL)
			return -EINVAL;
		for (const char *q = a; q < ae; q++)
			if (*q == ' ' || *q == '\t' || *q == '"' || *q == '(' || *q == '\r' || *q == '\n')
				return -EINVAL;	/* quoted local parts and comments inside: not ours to judge */
		if (!client_may_send_as(cl, a, (size_t)(ae - a))) {
			if (badlen)
				snprintf(bad, badlen, "%.*s", (int)(ae - a), a);
			return -EPERM;
		}
		found++;
		if (p < end)
			p++;	/* the ',' */
	}
	return found ? 0 : -EINVAL;
}

/* The header field at *p (with its continuation lines): 0 with its name
 * [*name, *name + *nlen) and value [*value, *vend), *p moved past it; -1
 * at the blank line or the end of the header section. */
static int next_field(const char **p, const char *end, const char **name, size_t *nlen,
	const char **value, const char **vend)
{
	const char *s = *p, *eol, *le, *fe, *colon;

	if (s >= end)
		return -1;
	eol = memchr(s, '\n', (size_t)(end - s));
	le = eol ? eol : end;
	if (le == s || (le == s + 1 && *s == '\r'))
		return -1;	/* the blank line ends the header section */
	fe = le;
	while (fe < end && fe + 1 < end && (fe[1] == ' ' || fe[1] == '\t')) {
		const char *nx = memchr(fe + 1, '\n', (size_t)(end - fe - 1));
		fe = nx ? nx : end;
	}
	colon = memchr(s, ':', (size_t)(le - s));
	*name = s;
	*nlen = colon ? (size_t)(colon - s) : 0;
	*value = colon ? colon + 1 : le;
	*vend = fe;
	*p = fe < end ? fe + 1 : end;
	return 0;
}

static bool field_is(const char *name, size_t nlen, const char *want)
{
	size_t n = strlen(want);
	return nlen == n && strncasecmp(name, want, n) == 0;
}

int message_from_field(const char *msg, size_t len, const char **value, size_t *n)
{
	const char *p = msg, *end = msg + len, *found = NULL, *found_end = NULL;
	const char *name, *v, *ve;
	size_t nlen;

	while (next_field(&p, end, &name, &nlen, &v, &ve) == 0) {
		if (field_is(name, nlen, "from")) {
			if (found)
				return -EINVAL;
			found = v;
			found_end = ve;
		}
	}
	if (found == NULL)
		return -ENOENT;
	*value = found;
	*n = (size_t)(found_end - found);
	return 0;
}

/* Addresses in an address-list value: an addr-spec has exactly one '@'
 * outside quoted strings and comments, and a display name or group name
 * (atoms, quoted strings) has none outside them. */
static size_t count_addresses(const char *p, const char *end)
{
	size_t n = 0;
	bool quoted = false, literal = false;

	while (p < end) {
		if (quoted) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				quoted = false;
		} else if (literal) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == ']')
				literal = false;
		} else if (*p == '(') {
			p = skip_cfws(p, end);
			continue;
		} else if (*p == '"') {
			quoted = true;
		} else if (*p == '[') {
			literal = true;
		} else if (*p == '@') {
			n++;
		}
		p++;
	}
	return n;
}

size_t message_header_recipients(const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len, *name, *v, *ve;
	size_t nlen, n = 0;

	while (next_field(&p, end, &name, &nlen, &v, &ve) == 0)
		if (field_is(name, nlen, "to") || field_is(name, nlen, "cc") ||
				field_is(name, nlen, "bcc"))
			n += count_addresses(v, ve);
	return n;
}
