/* AWS credentials and the provider interface.
 *
 * A credential set is immutable and reference-counted: providers hand out
 * references, callers keep what they need with aws_creds_ref() and drop
 * it with aws_creds_unref(); the last unref wipes the secrets
 * (OPENSSL_cleanse) and frees. Safe to ref/unref from several threads.
 *
 * A provider is a tiny vtable: get() resolves credentials asynchronously
 * on the uv loop and calls back exactly once (or returns an error and
 * never calls back); destroy() frees it, cancelling a get() in flight
 * silently. Providers compose: the STS AssumeRole provider signs with
 * credentials from a base provider; the cache wraps any provider.
 */
#ifndef SESRELAY_AWS_CREDS_H
#define SESRELAY_AWS_CREDS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

struct aws_creds {
	atomic_int refs;
	char *access_key_id;
	char *secret_access_key;
	char *session_token;		/* NULL for long-term keys */
	time_t expiration;		/* 0: does not expire */
	char *account_id;		/* proven or reported account, or NULL */
	char *arn;			/* caller ARN when known, or NULL */
	const char *source;		/* static name: "env", "profile", "assume_role", ... */
	bool verified;			/* account proven by GetCallerIdentity */
};

struct aws_creds *aws_creds_new(const char *akid, const char *secret,
	const char *token, time_t expiration, const char *source);
struct aws_creds *aws_creds_ref(struct aws_creds *c);
void aws_creds_unref(struct aws_creds *c);

/* Why a provider failed: carried to logs, `whoami`, `check` and the SMTP
 * reply. code is AWS's error code ("AccessDenied") or a local one
 * ("NoCredentials", "Timeout", "NetworkError"). */
struct aws_error {
	int status;			/* HTTP status, 0 when none */
	bool retryable;
	char code[64];
	char message[256];
	char step[64];			/* "AssumeRole", "GetCallerIdentity", "web_identity", ... */
};

/* creds is borrowed for the duration of the callback (NULL when err != 0);
 * take aws_creds_ref() to keep it. why is NULL when err == 0. */
typedef void (*creds_cb)(void *arg, int err, struct aws_creds *creds,
	const struct aws_error *why);

struct creds_provider;

struct creds_provider_vtable {
	const char *name;
	int (*get)(struct creds_provider *p, creds_cb cb, void *arg);
	void (*destroy)(struct creds_provider *p);
};

struct creds_provider {
	const struct creds_provider_vtable *vt;
};

static inline int creds_provider_get(struct creds_provider *p, creds_cb cb, void *arg)
{
	return p->vt->get(p, cb, arg);
}

static inline void creds_provider_destroy(struct creds_provider *p)
{
	if (p)
		p->vt->destroy(p);
}

#endif
