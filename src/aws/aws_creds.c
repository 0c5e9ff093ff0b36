#include "aws_creds.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

struct aws_creds *aws_creds_new(const char *akid, const char *secret,
	const char *token, time_t expiration, const char *source)
{
	struct aws_creds *c;

	if (akid == NULL || secret == NULL || *akid == '\0' || *secret == '\0')
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	atomic_init(&c->refs, 1);
	c->access_key_id = strdup(akid);
	c->secret_access_key = strdup(secret);
	c->session_token = token && *token ? strdup(token) : NULL;
	c->expiration = expiration;
	c->source = source ? source : "unknown";
	if (c->access_key_id == NULL || c->secret_access_key == NULL ||
	    (token && *token && c->session_token == NULL)) {
		aws_creds_unref(c);
		return NULL;
	}
	return c;
}

struct aws_creds *aws_creds_ref(struct aws_creds *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void aws_creds_unref(struct aws_creds *c)
{
	if (c == NULL)
		return;
	/* acq_rel: the thread that frees must see every write made by the
	 * threads that dropped their references before it. */
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	free_secret(c->secret_access_key);
	free_secret(c->session_token);
	free(c->access_key_id);
	free(c->account_id);
	free(c->arn);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}
