/* The clients file (`clients_file`) and the sending policy it gives each
 * application, shared by every front end: SMTP AUTH users and API callers
 * are the same applications and get the same policy.
 *
 * One entry per line, blank lines and '#' comments ignored:
 *
 *   NAME field=value ...
 *
 *   password=HASH            SMTP AUTH password hash ($scrypt$/$pbkdf2-sha256$)
 *   key_id=ID secret=SECRET  SigV4 access key pair of the API front (both or none)
 *   senders=LIST             addresses and @domains it may send as (required)
 *   configuration_set=NAME   configuration set for its mail
 *   force_configuration_set=yes|no
 *                            yes: NAME replaces the caller's; no (default):
 *                            NAME is used when the caller names none
 *   tags=NAME=VALUE,...      SES message tags added to its mail
 *
 * Names, key ids and fields are validated when the file is read; a
 * mistake fails the whole file with file:line. Senders are matched
 * case-insensitively on the domain and exactly (case-insensitively, as
 * SES treats them) on the address; `@example.com` does not cover
 * subdomains.
 *
 * Ownership: struct clients owns every entry and string; secrets are
 * wiped when it is freed. It is immutable once loaded and refcounted
 * (atomic), so a reload can swap in a new one while requests still hold
 * the old one, on any thread.
 */
#ifndef SESRELAY_CLIENTS_H
#define SESRELAY_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>

#define CLIENTS_MAX_LINE 4096
#define CLIENTS_MAX_ENTRIES 10000
#define CLIENTS_MAX_NAME 64
#define CLIENTS_MAX_SENDERS 64
#define CLIENTS_MAX_TAGS 10		/* SES: 50 tags per message, the caller's included */
#define CLIENTS_KEY_ID_MIN 16
#define CLIENTS_KEY_ID_MAX 128
#define CLIENTS_SECRET_MIN 32
#define CLIENTS_SECRET_MAX 128

struct client_tag {
	char *name;
	char *value;
};

struct client {
	char *name;
	char *password_hash;		/* NULL: no SMTP AUTH */
	char *key_id;			/* NULL: no API key */
	char *secret;			/* with key_id; wiped on free */
	char **senders;			/* "a@b.c" or "@b.c", lowercased */
	size_t nsenders;
	char *configuration_set;	/* NULL: the relay's */
	bool force_configuration_set;
	struct client_tag *tags;
	size_t ntags;
};

struct clients;

/* Parse a whole file's text; where names it in messages. 0, -EINVAL with
 * err = "where:line: why", -ENOMEM. Pure. */
int clients_parse(const char *text, size_t len, const char *where, struct clients **out,
	char *err, size_t errlen);
/* Read and parse path. Also -ENOENT/-EIO when it cannot be read. */
int clients_load(const char *path, struct clients **out, char *err, size_t errlen);
struct clients *clients_ref(struct clients *c);
void clients_unref(struct clients *c);		/* NULL is fine */
size_t clients_count(const struct clients *c);
/* The i-th entry, in file order (i < clients_count()). */
const struct client *clients_at(const struct clients *c, size_t i);

const struct client *clients_by_name(const struct clients *c, const char *name);
/* The client holding this access key id, or NULL (compared in full). */
const struct client *clients_by_key_id(const struct clients *c, const char *id, size_t n);

/* May cl send as this bare address (addr[0..n), "local@domain")? */
bool client_may_send_as(const struct client *cl, const char *addr, size_t n);

/* Every mailbox of a From header value (RFC 5322 mailbox-list: display
 * names, quoted strings, comments and angle addresses) must be one cl may
 * send as. 0 when all are; -EPERM with the first refused address in bad
 * (truncated to badlen) when one is not; -EINVAL when no address can be
 * read from it. */
int client_check_from(const struct client *cl, const char *value, size_t n, char *bad,
	size_t badlen);

/* The value of the From header field of a raw RFC 5322 message (only
 * its header section is read): 0 and *value and *n spanning it in msg, folded
 * continuation lines included (client_check_from() reads CR and LF as the
 * folding whitespace they are). -ENOENT when there is none, -EINVAL when
 * there are several (SES refuses those too). */
int message_from_field(const char *msg, size_t len, const char **value, size_t *n);

/* The recipients SES counts for a raw message sent without a destination
 * list: the addresses of its To, Cc and Bcc header fields (groups
 * included), each address one '@' outside quoted strings, comments and
 * domain literals. Only the header section is read. */
size_t message_header_recipients(const char *msg, size_t len);

#endif
