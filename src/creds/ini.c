#include "ini.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim blanks at both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && (is_blank((*e)[-1]) || (*e)[-1] == '\r'))
		(*e)--;
}

/* A '#' or ';' that follows a blank starts a trailing comment. */
static const char *comment_start(const char *s, const char *e)
{
	for (const char *p = s + 1; p < e; p++)
		if ((*p == '#' || *p == ';') && is_blank(p[-1]))
			return p;
	return e;
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void free_str(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void ini_free(struct ini *ini)
{
	for (size_t i = 0; i < ini->n; i++) {
		free_str(ini->v[i].key);
		free_str(ini->v[i].value);
	}
	for (size_t i = 0; i < ini->nsections; i++)
		free(ini->sections[i]);
	free(ini->v);
	free(ini->sections);
	memset(ini, 0, sizeof(*ini));
}

static int add_section(struct ini *ini, const char *s, size_t n)
{
	char **nv;

	if (ini->nsections >= INI_MAX_ENTRIES)
		return -E2BIG;
	nv = realloc(ini->sections, (ini->nsections + 1) * sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM;
	ini->sections = nv;
	if ((nv[ini->nsections] = dupn(s, n)) == NULL)
		return -ENOMEM;
	ini->nsections++;
	return 0;
}

static int add_entry(struct ini *ini, const char *section, const char *parent,
	const char *k, size_t kn, const char *v, size_t vn)
{
	struct ini_entry *nv, *ent;
	size_t pn = parent ? strlen(parent) + 1 : 0;

	if (ini->n >= INI_MAX_ENTRIES)
		return -E2BIG;
	nv = realloc(ini->v, (ini->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM;
	ini->v = nv;
	ent = &nv[ini->n];
	ent->section = (char *)section;	/* points into ini->sections */
	ent->key = malloc(pn + kn + 1);
	ent->value = dupn(v, vn);
	if (ent->key == NULL || ent->value == NULL) {
		free(ent->key);
		free_str(ent->value);
		return -ENOMEM;
	}
	if (parent) {
		memcpy(ent->key, parent, pn - 1);
		ent->key[pn - 1] = '.';
	}
	memcpy(ent->key + pn, k, kn);
	ent->key[pn + kn] = '\0';
	ini->n++;
	return 0;
}

int ini_parse(const char *text, size_t len, struct ini *out,
	unsigned *errline, const char **why)
{
	const char *p = text, *end = text + len;
	const char *section = NULL;
	const char *parent = NULL;	/* key with an empty value: may open a nested block */
	bool after_value = false;	/* last property had a value: indentation = continuation */
	unsigned line = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	*errline = 0;
	*why = NULL;
	if (len && memchr(text, '\0', len)) {
		*why = "NUL byte in file";
		*errline = 1;
		return -EINVAL;
	}
	while (p < end && r == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;
		bool indented;

		line++;
		p = nl ? nl + 1 : end;
		if (e - s > INI_MAX_LINE) {
			*why = "line too long";
			r = -E2BIG;
			break;
		}
		indented = s < e && is_blank(*s);
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(e - s));
			const char *ns = s + 1, *ne = close, *rest;

			if (close == NULL) {
				*why = "section header without ']'";
				r = -EINVAL;
				break;
			}
			rest = close + 1;
			while (rest < e && is_blank(*rest))
				rest++;
			if (rest < e && *rest != '#' && *rest != ';') {
				*why = "text after section header";
				r = -EINVAL;
				break;
			}
			trim(&ns, &ne);
			if (ns == ne) {
				*why = "empty section name";
				r = -EINVAL;
				break;
			}
			r = add_section(out, ns, (size_t)(ne - ns));
			if (r == 0)
				section = out->sections[out->nsections - 1];
			parent = NULL;
			after_value = false;
			continue;
		}
		if (section == NULL) {
			*why = "property outside a section";
			r = -EINVAL;
			break;
		}
		{
			const char *eq = memchr(s, '=', (size_t)(e - s));
			const char *ks = s, *ke = eq, *vs, *ve;

			if (eq == NULL) {
				*why = "expected key = value";
				r = -EINVAL;
				break;
			}
			trim(&ks, &ke);
			if (ks == ke) {
				*why = "empty key";
				r = -EINVAL;
				break;
			}
			vs = eq + 1;
			ve = comment_start(eq, e);
			trim(&vs, &ve);
			if (indented && parent) {
				r = add_entry(out, section, parent, ks, (size_t)(ke - ks),
					vs, (size_t)(ve - vs));
				continue;
			}
			if (indented && after_value) {
				*why = "continuation lines are not supported";
				r = -EINVAL;
				break;
			}
			r = add_entry(out, section, NULL, ks, (size_t)(ke - ks),
				vs, (size_t)(ve - vs));
			parent = (r == 0 && vs == ve) ? out->v[out->n - 1].key : NULL;
			after_value = vs != ve;
		}
	}
	if (r) {
		if (*why == NULL)
			*why = r == -ENOMEM ? "out of memory" : "too many entries";
		*errline = line;
		ini_free(out);
	}
	return r;
}

const char *ini_get(const struct ini *ini, const char *section, const char *key)
{
	for (size_t i = ini->n; i-- > 0;)
		if (strcmp(ini->v[i].section, section) == 0 && strcmp(ini->v[i].key, key) == 0)
			return ini->v[i].value;
	return NULL;
}

bool ini_has_section(const struct ini *ini, const char *section)
{
	for (size_t i = 0; i < ini->nsections; i++)
		if (strcmp(ini->sections[i], section) == 0)
			return true;
	return false;
}
