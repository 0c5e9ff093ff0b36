/* Base credential sources: the dev/staging account's own credentials,
 * found the way the AWS SDKs find them. Each source is a creds_provider
 * (aws_creds.h); creds_chain.c strings them together.
 *
 * Contract between a source and the chain:
 *   - get() may call back before it returns (env, static profile keys);
 *     callers that must not be re-entered defer (the chain does).
 *   - A callback with err == CREDS_NOT_CONFIGURED means "this source is not
 *     set up here" (its environment variables are absent, no profile, no
 *     metadata service answering); why->message says what was looked for.
 *     Any other error means the source IS configured and failed, which
 *     stops the chain, as in the SDKs.
 *   - One get() at a time per source (-EBUSY otherwise): the chain already
 *     makes calls single flight.
 *   - Environment variables and files are read on every get(), so rotated
 *     tokens and keys are picked up.
 *
 * Options are copied: the caller's strings need not outlive the source.
 */
#ifndef SESRELAY_CREDS_BASE_H
#define SESRELAY_CREDS_BASE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "aws_creds.h"
#include "buf.h"

struct http_client;

/* Outside the errno range on purpose: a source passing on a failed
 * open() (-ENOENT) must never read as "not configured". */
#define CREDS_NOT_CONFIGURED (-100001)

/* Largest token, credentials or shared config file read. */
#define CREDS_MAX_FILE (1024 * 1024)

struct creds_source_opts {
	uv_loop_t *loop;
	struct http_client *http;
	const char *region;		/* config `region`, or NULL */
	unsigned sts_timeout_ms;	/* web identity STS call */
	unsigned metadata_timeout_ms;	/* ECS and IMDS, per request */
	unsigned process_timeout_ms;	/* credential_process */
	size_t process_max_output;	/* credential_process stdout cap */
};

int creds_env_new(const struct creds_source_opts *o, struct creds_provider **out);
int creds_web_identity_new(const struct creds_source_opts *o, struct creds_provider **out);
int creds_profile_new(const struct creds_source_opts *o, struct creds_provider **out);
int creds_ecs_new(const struct creds_source_opts *o, struct creds_provider **out);
int creds_imds_new(const struct creds_source_opts *o, struct creds_provider **out);

/* credential_process: run a command without a shell and parse its JSON.
 * Calls cb exactly once unless it returns an error or is cancelled. */
struct creds_process;
int creds_process_run(uv_loop_t *loop, const char *cmdline, unsigned timeout_ms,
	size_t max_output, creds_cb cb, void *arg, struct creds_process **out);
/* Kills the command (its whole process group); cb is never called. */
void creds_process_cancel(struct creds_process *p);
/* Split a command line into argv: blanks separate words, "..." and '...'
 * group (inside "..." a backslash escapes " and \). No shell expansion.
 * Returns 0 (*argv NULL-terminated, owned: creds_argv_free()), -EINVAL
 * (empty, unterminated quote, too many words) or -ENOMEM. */
int creds_split_argv(const char *cmdline, char ***argv);
void creds_argv_free(char **argv);

/* Helpers shared by the sources (creds_util.c). */

/* Fill *e; message is printf-formatted and truncated to fit. */
void creds_error_set(struct aws_error *e, int status, bool retryable,
	const char *step, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Environment variable, or NULL when unset or empty. */
const char *creds_getenv(const char *name);
/* Whole file into out (NUL-terminated). -ENOENT, -EFBIG when larger than
 * max, other negative errno. out is wiped and freed on error. */
int creds_read_file(const char *path, size_t max, struct buf *out);
/* "~/x" -> "$HOME/x". Returns a heap string or NULL. */
char *creds_expand_home(const char *path);
/* Credentials JSON as served by ECS/EKS, IMDS and credential_process:
 * AccessKeyId, SecretAccessKey, <token_key> (optional), Expiration
 * (optional unless need_expiration). Returns 0 with *out (one reference),
 * or -EINVAL with why filled (never quoting secrets). */
int creds_from_json(const char *body, size_t len, const char *token_key,
	bool need_expiration, const char *source, const char *step,
	struct aws_creds **out, struct aws_error *why);
/* Map an http_client transport error (negative errno) to why. */
void creds_http_error(struct aws_error *why, const char *step, int error,
	const char *error_text);

#endif
