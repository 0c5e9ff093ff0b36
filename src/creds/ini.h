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
 *   - indented lines after a key with an empty value are a nested block
 *     (e.g. `s3 =` followed by `  max_concurrent_requests = 10`); they are
 *     stored under the key "parent.child" so lookups of plain keys never
 *     see them.
 * Anything else (a property outside a section, a line without '=', an
 * unterminated section header) is an error naming the line.
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

struct ini {
	struct ini_entry *v;
	size_t n;
	char **sections;		/* every section header seen, in order */
	size_t nsections;
};

/* Returns 0, -EINVAL (syntax; *errline set to the 1-based line and why to a
 * static description), -E2BIG (too many entries or a line too long) or
 * -ENOMEM. On error *out is left empty. */
int ini_parse(const char *text, size_t len, struct ini *out,
	unsigned *errline, const char **why);
/* Last value of key in section (later lines win, as in the SDKs), or NULL. */
const char *ini_get(const struct ini *ini, const char *section, const char *key);
bool ini_has_section(const struct ini *ini, const char *section);
void ini_free(struct ini *ini);

#endif
