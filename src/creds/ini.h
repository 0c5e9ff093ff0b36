/* Parser for the AWS shared configuration and credentials files
 * (~/.aws/config, ~/.aws/credentials). Pure: text in, entries out.
 *
 * Accepted syntax, as the AWS SDKs read it:
 *   - blank lines; comment lines starting with '#' or ';'
 *   - `[section]` (blanks inside the brackets are trimmed; a comment may
 *     follow the closing bracket)
 *   - `key = value`: key and value trimmed; a '#' or ';' preceded by a blank
 *     starts a trailing comment (so secrets containing them still parse
 *     when written without blanks)
 *   - a line indented deeper than the key line before it continues that
 *     key's value, as in Python's configparser (what botocore and the AWS
 *     CLI read these files with): the value's lines are joined with '\n'
 *     (blank lines in between kept as empty lines, trailing ones dropped),
 *     so `credential_process = tool` + `    --flag x` is "tool\n--flag x";
 *     comment lines in between are skipped
 *   - when the key line's value is empty, its continuation lines are a
 *     nested block instead (e.g. `s3 =` followed by
 *     `  max_concurrent_requests = 10`), stored under "parent.child" so
 *     lookups of plain keys never see them.
 *
 * A mistake inside a section (a line without '=', an empty key, a nested
 * line without '=', text after the header) makes that section broken: its
 * values are not returned, and ini_section_error() tells which line and why,
 * so the one profile that is used fails with a clear message and every
 * other profile still works. botocore refuses the whole file instead; here
 * a typo in an unrelated profile must not stop the relay's credentials.
 * A mistake that cannot be pinned to a section (a property before any
 * section, a header without ']', an empty section name, a NUL byte, a line
 * too long) fails the whole file: the lines that follow might belong to the
 * profile in use.
 *
 * Ownership: struct ini owns every string in it; ini_free() wipes and frees
 * them (values may be secret keys).
 */
#ifndef SESRELAY_INI_H
#define SESRELAY_INI_H

#include <stdbool.h>
#include <stddef.h>

#define INI_MAX_ENTRIES 4096
#define INI_MAX_LINE 8192

struct ini_entry {
	char *section;
	char *key;
	char *value;
};

struct ini_broken {
	const char *section;		/* points into ini->sections */
	unsigned line;			/* first bad line, 1-based */
	const char *why;		/* static text */
};

struct ini {
	struct ini_entry *v;
	size_t n;
	char **sections;		/* every section header seen, in order */
	size_t nsections;
	struct ini_broken *broken;	/* sections with a mistake, once each */
	size_t nbroken;
};

/* Returns 0, -EINVAL (syntax; *errline set to the 1-based line and why to a
 * static description), -E2BIG (too many entries or a line too long) or
 * -ENOMEM. On error *out is left empty. */
int ini_parse(const char *text, size_t len, struct ini *out,
	unsigned *errline, const char **why);
/* Last value of key in section (later lines win, as in the SDKs), or NULL;
 * always NULL in a broken section. */
const char *ini_get(const struct ini *ini, const char *section, const char *key);
/* The first mistake in section: true with *line and *why set, or false. */
bool ini_section_error(const struct ini *ini, const char *section,
	unsigned *line, const char **why);
bool ini_has_section(const struct ini *ini, const char *section);
void ini_free(struct ini *ini);

#endif
