#include "ini.h"

#include <errno.h>
#include <stdint.h>
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
	free(ini->broken);
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

bool ini_section_error(const struct ini *ini, const char *section,
	unsigned *line, const char **why)
{
	for (size_t i = 0; i < ini->nbroken; i++) {
		if (strcmp(ini->broken[i].section, section) == 0) {
			*line = ini->broken[i].line;
			*why = ini->broken[i].why;
			return true;
		}
	}
	return false;
}

/* Records the first mistake of a section; later ones add nothing. */
static int mark_broken(struct ini *ini, const char *section, unsigned line, const char *why)
{
	struct ini_broken *nb;
	unsigned l;
	const char *w;

	if (ini_section_error(ini, section, &l, &w))
		return 0;
	nb = realloc(ini->broken, (ini->nbroken + 1) * sizeof(*nb));
	if (nb == NULL)
		return -ENOMEM;
	ini->broken = nb;
	nb[ini->nbroken++] = (struct ini_broken){ section, line, why };
	return 0;
}

/* Adds blank_lines empty lines and then [s, e) to an entry's value. */
static int continue_value(struct ini_entry *ent, unsigned blank_lines, const char *s,
	const char *e)
{
	size_t old = strlen(ent->value), n = (size_t)(e - s);
	char *v;

	if (old + blank_lines + 1 + n > INI_MAX_LINE)
		return -E2BIG;
	v = malloc(old + blank_lines + 1 + n + 1);
	if (v == NULL)
		return -ENOMEM;
	memcpy(v, ent->value, old);
	memset(v + old, '\n', blank_lines + 1);
	memcpy(v + old + blank_lines + 1, s, n);
	v[old + blank_lines + 1 + n] = '\0';
	free_str(ent->value);
	ent->value = v;
	return 0;
}

static size_t indent_of(const char *s, const char *e)
{
	const char *p = s;

	while (p < e && is_blank(*p))
		p++;
	return (size_t)(p - s);
}

int ini_parse(const char *text, size_t len, struct ini *out,
	unsigned *errline, const char **why)
{
	const char *p = text, *end = text + len;
	const char *section = NULL;
	size_t key_indent = 0;		/* indentation of the last key or header line */
	size_t last = SIZE_MAX;		/* entry a deeper-indented line continues */
	const char *parent = NULL;	/* that key when its value was empty: nested block */
	unsigned blanks = 0;		/* blank lines since the last value line */
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
		const char *bad = NULL;	/* a mistake inside the current section */
		size_t indent;

		line++;
		p = nl ? nl + 1 : end;
		if (e - s > INI_MAX_LINE) {
			*why = "line too long";
			r = -E2BIG;
			break;
		}
		indent = indent_of(s, e);
		trim(&s, &e);
		if (s == e) {
			blanks++;
			continue;
		}
		if (*s == '#' || *s == ';')
			continue;
		if (last != SIZE_MAX && indent > key_indent) {
			/* A continuation line (configparser's rule: deeper than
			 * the key line). */
			if (parent == NULL) {
				r = continue_value(&out->v[last], blanks, s, comment_start(s, e));
				blanks = 0;
				continue;
			}
			const char *eq = memchr(s, '=', (size_t)(e - s));
			const char *ks = s, *ke = eq, *vs, *ve;
			if (eq == NULL) {
				bad = "nested line without '='";
			} else {
				trim(&ks, &ke);
				vs = eq + 1;
				ve = comment_start(eq, e);
				trim(&vs, &ve);
				if (ks == ke)
					bad = "empty key in nested block";
				else
					r = add_entry(out, section, parent, ks, (size_t)(ke - ks),
						vs, (size_t)(ve - vs));
			}
			if (bad)
				r = mark_broken(out, section, line, bad);
			continue;
		}
		key_indent = indent;
		last = SIZE_MAX;
		parent = NULL;
		blanks = 0;
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(e - s));
			const char *ns = s + 1, *ne = close, *rest;

			if (close == NULL) {
				*why = "section header without ']'";
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
			if (r)
				break;
			section = out->sections[out->nsections - 1];
			rest = close + 1;
			while (rest < e && is_blank(*rest))
				rest++;
			if (rest < e && *rest != '#' && *rest != ';')
				r = mark_broken(out, section, line, "text after section header");
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
				r = mark_broken(out, section, line, "expected key = value");
				continue;
			}
			trim(&ks, &ke);
			if (ks == ke) {
				r = mark_broken(out, section, line, "empty key");
				continue;
			}
			vs = eq + 1;
			ve = comment_start(eq, e);
			trim(&vs, &ve);
			r = add_entry(out, section, NULL, ks, (size_t)(ke - ks),
				vs, (size_t)(ve - vs));
			if (r == 0) {
				last = out->n - 1;
				parent = vs == ve ? out->v[last].key : NULL;
			}
		}
	}
	if (r) {
		if (*why == NULL)
			*why = r == -ENOMEM ? "out of memory" :
				r == -E2BIG ? "value or file too large" : "syntax error";
		*errline = line;
		ini_free(out);
	}
	return r;
}

const char *ini_get(const struct ini *ini, const char *section, const char *key)
{
	unsigned line;
	const char *why;

	if (ini_section_error(ini, section, &line, &why))
		return NULL;
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
