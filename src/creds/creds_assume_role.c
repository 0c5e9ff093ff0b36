#include "creds_assume_role.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "sts_client.h"

enum step { IDLE, BASE_ONLY, BASE, BASE_IDENTITY, ASSUME, IDENTITY };

struct assume_role {
	struct creds_provider p;
	struct creds_provider *base;
	struct sts_client *sts;
	char *role_arn;
	char *external_id;
	char session_name[65];
	char role_account[16];
	unsigned duration;
	bool allow_same_account;
	char shared_account[16];	/* "" when not pinned */
	char base_account[32];		/* proven for base_key, "" until then */
	char base_key[128];		/* access key id base_account was proven for */

	enum step step;
	struct sts_call *call;
	struct aws_creds *base_creds;	/* between the base proof and AssumeRole */
	struct aws_creds *assumed;	/* between AssumeRole and the identity check */
	struct aws_creds *next_base;	/* from creds_assume_role_base(), for the next get() */
	creds_cb cb;
	void *arg;
	int busy;			/* inside a callback we may not free under */
	bool dead;			/* destroy() came while busy */
};

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		strchr("_+=,.@-", c) != NULL;
}

bool creds_session_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

void creds_default_session_name(char *out, size_t outlen)
{
	char host[256] = "";
	size_t n;

	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, outlen, "sesrelay-%s", host);
	n = strlen(out);
	if (n > 64)
		out[n = 64] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!name_char(out[i]))
			out[i] = '-';
}

static void really_free(struct assume_role *a)
{
	creds_provider_destroy(a->base);
	aws_creds_unref(a->base_creds);
	aws_creds_unref(a->assumed);
	aws_creds_unref(a->next_base);
	free(a->role_arn);
	if (a->external_id) {
		OPENSSL_cleanse(a->external_id, strlen(a->external_id));
		free(a->external_id);
	}
	free(a);
}

/* The end of a stretch that held the provider (busy++): free it when it
 * was destroyed meanwhile. */
static void release(struct assume_role *a)
{
	a->busy--;
	if (a->dead && a->busy == 0)
		really_free(a);
}

/* Hand the result to the caller; the provider may be destroyed from
 * inside cb, which only marks it dead while we are still on its stack. */
static void finish(struct assume_role *a, int err, struct aws_creds *c, const struct aws_error *why)
{
	creds_cb cb = a->cb;
	void *arg = a->arg;

	a->step = IDLE;
	a->call = NULL;
	a->cb = NULL;
	a->busy++;
	cb(arg, err, c, why);
	a->busy--;
}

static void fail(struct assume_role *a, int err, const char *step, const char *code,
	const char *msg)
{
	struct aws_error why;

	memset(&why, 0, sizeof(why));
	snprintf(why.step, sizeof(why.step), "%s", step);
	snprintf(why.code, sizeof(why.code), "%s", code);
	snprintf(why.message, sizeof(why.message), "%s", msg);
	why.retryable = err != -EACCES && err != -EINVAL;
	finish(a, err, NULL, &why);
}

const char *creds_account_refusal(const char *role_account, const char *shared_account,
	bool allow_same_account, const char *base_account, const char *proven,
	char *msg, size_t msglen)
{
	if (strcmp(proven, role_account) != 0) {
		snprintf(msg, msglen, "assumed credentials belong to account %s, role_arn names %s",
			proven, role_account);
		return "AccountMismatch";
	}
	if (shared_account && *shared_account && strcmp(proven, shared_account) != 0) {
		snprintf(msg, msglen, "credentials prove account %s, shared_account pins %s: set "
			"role_arn to the role in account %s (or correct shared_account)",
			proven, shared_account, shared_account);
		return "NotSharedAccount";
	}
	if (!allow_same_account && base_account && strcmp(proven, base_account) == 0) {
		snprintf(msg, msglen, "role_arn is in the base account %s: mail would leave from the "
			"local account; set role_arn to the role in the shared account that owns the "
			"SES identity (allow_same_account yes only for a deliberate single-account "
			"set-up)", proven);
		return "SameAccount";
	}
	return NULL;
}

static void on_identity(void *arg, int err, const struct sts_identity *id,
	const struct aws_error *why)
{
	struct assume_role *a = arg;
	struct aws_creds *c = a->assumed;
	const char *refusal = NULL;
	char msg[256];

	a->assumed = NULL;
	a->busy++;
	if (err == 0)
		refusal = creds_account_refusal(a->role_account, a->shared_account,
			a->allow_same_account, a->allow_same_account ? NULL : a->base_account,
			id->account, msg, sizeof(msg));
	if (err) {
		finish(a, err, NULL, why);
	} else if (refusal) {
		struct logline l;

		if (log_begin(&l, LVL_ERROR, "sts.account_mismatch")) {
			log_str(&l, "code", refusal);
			log_str(&l, "role_arn", a->role_arn);
			log_str(&l, "role_account", a->role_account);
			log_str(&l, "actual_account", id->account);
			if (!a->allow_same_account)
				log_str(&l, "base_account", a->base_account);
			if (a->shared_account[0])
				log_str(&l, "shared_account", a->shared_account);
			log_str(&l, "arn", id->arn);
			log_str(&l, "fix", msg);
			log_end(&l);
		}
		fail(a, -EACCES, "GetCallerIdentity", refusal, msg);
	} else {
		char *acct = strdup(id->account), *arn = strdup(id->arn);

		if (acct == NULL || arn == NULL) {
			free(acct);
			free(arn);
			fail(a, -ENOMEM, "GetCallerIdentity", "OutOfMemory", "out of memory");
		} else {
			/* Nobody else holds c yet: safe to fill in. */
			free(c->account_id);
			free(c->arn);
			c->account_id = acct;
			c->arn = arn;
			c->source = "assume_role";
			c->verified = true;
			finish(a, 0, c, NULL);
		}
	}
	aws_creds_unref(c);
	release(a);
}

static void on_assumed(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	struct assume_role *a = arg;
	int r;

	a->busy++;
	if (err) {
		finish(a, err, NULL, why);
		goto out;
	}
	a->assumed = aws_creds_ref(c);
	a->step = IDENTITY;
	r = sts_get_caller_identity(a->sts, c, on_identity, a, &a->call);
	if (r) {
		aws_creds_unref(a->assumed);
		a->assumed = NULL;
		fail(a, r, "GetCallerIdentity", "RequestFailed", strerror(-r));
	}
out:
	release(a);
}

static void assume(struct assume_role *a, struct aws_creds *base)
{
	struct sts_assume_role_params p = {
		.role_arn = a->role_arn, .session_name = a->session_name,
		.external_id = a->external_id, .duration = a->duration,
	};
	int r;

	a->step = ASSUME;
	r = sts_assume_role(a->sts, base, &p, on_assumed, a, &a->call);
	if (r)
		fail(a, r, "AssumeRole", "RequestFailed", strerror(-r));
}

/* The base account, proven with the base credentials themselves: what
 * the account rule compares the assumed credentials against. */
static void on_base_identity(void *arg, int err, const struct sts_identity *id,
	const struct aws_error *why)
{
	struct assume_role *a = arg;
	struct aws_creds *base = a->base_creds;

	a->base_creds = NULL;
	a->busy++;
	if (err) {
		struct aws_error w = *why;

		snprintf(w.step, sizeof(w.step), "GetCallerIdentity(base)");
		finish(a, err, NULL, &w);
	} else {
		snprintf(a->base_account, sizeof(a->base_account), "%s", id->account);
		snprintf(a->base_key, sizeof(a->base_key), "%s", base->access_key_id);
		assume(a, base);
	}
	aws_creds_unref(base);
	release(a);
}

static void on_base(void *arg, int err, struct aws_creds *base, const struct aws_error *why)
{
	struct assume_role *a = arg;
	int r;

	a->busy++;
	if (a->step == BASE_ONLY) {
		if (err == 0) {
			aws_creds_unref(a->next_base);
			a->next_base = aws_creds_ref(base);
		}
		finish(a, err, err ? NULL : base, why);
		goto out;
	}
	if (err) {
		struct aws_error w;

		if (why) {
			w = *why;
		} else {
			memset(&w, 0, sizeof(w));
			snprintf(w.code, sizeof(w.code), "NoCredentials");
			snprintf(w.message, sizeof(w.message), "no base credentials");
		}
		if (w.step[0] == '\0')
			snprintf(w.step, sizeof(w.step), "base_credentials");
		finish(a, err, NULL, &w);
		goto out;
	}
	if (!a->allow_same_account &&
	    (a->base_account[0] == '\0' || strcmp(a->base_key, base->access_key_id) != 0)) {
		a->base_creds = aws_creds_ref(base);
		a->step = BASE_IDENTITY;
		r = sts_get_caller_identity(a->sts, base, on_base_identity, a, &a->call);
		if (r) {
			aws_creds_unref(a->base_creds);
			a->base_creds = NULL;
			fail(a, r, "GetCallerIdentity(base)", "RequestFailed", strerror(-r));
		}
		goto out;
	}
	assume(a, base);
out:
	release(a);
}

/* Start a get() (BASE) or a base-only lookup (BASE_ONLY) at the base
 * provider. It may answer before returning (env keys): on_base then runs
 * the next step from here, which is fine since every later step is
 * asynchronous. */
static int ask_base(struct assume_role *a, enum step step, creds_cb cb, void *arg)
{
	int r;

	if (a->step != IDLE)
		return -EBUSY;
	a->cb = cb;
	a->arg = arg;
	a->step = step;
	r = creds_provider_get(a->base, on_base, a);
	if (r) {
		a->step = IDLE;
		a->cb = NULL;
	}
	return r;
}

static int ar_get(struct creds_provider *p, creds_cb cb, void *arg)
{
	struct assume_role *a = (struct assume_role *)p;
	struct aws_creds *b = a->next_base;

	/* Base credentials creds_assume_role_base() just handed out are used
	 * once, while they have a minute left; else the base provider again. */
	if (b && a->step == IDLE) {
		a->next_base = NULL;
		if (b->expiration == 0 || b->expiration > time(NULL) + 60) {
			a->cb = cb;
			a->arg = arg;
			a->step = BASE;
			a->busy++;
			on_base(a, 0, b, NULL);
			aws_creds_unref(b);
			release(a);
			return 0;
		}
		aws_creds_unref(b);
	}
	return ask_base(a, BASE, cb, arg);
}

int creds_assume_role_base(struct creds_provider *p, creds_cb cb, void *arg)
{
	return ask_base((struct assume_role *)p, BASE_ONLY, cb, arg);
}

void creds_assume_role_base_proven(struct creds_provider *p, const char *access_key_id,
	const char *account)
{
	struct assume_role *a = (struct assume_role *)p;

	snprintf(a->base_account, sizeof(a->base_account), "%s", account);
	snprintf(a->base_key, sizeof(a->base_key), "%s", access_key_id);
}

static void ar_destroy(struct creds_provider *p)
{
	struct assume_role *a = (struct assume_role *)p;

	if (a->step == BASE_IDENTITY || a->step == ASSUME || a->step == IDENTITY)
		sts_call_cancel(a->call);
	a->call = NULL;
	a->step = IDLE;
	if (a->busy) {
		a->dead = true;
		return;
	}
	really_free(a);
}

static const struct creds_provider_vtable vt = { "assume_role", ar_get, ar_destroy };

int creds_assume_role_new(const struct creds_assume_role_opts *o, struct creds_provider **out)
{
	struct assume_role *a;

	if (o->base == NULL || o->sts == NULL || o->role_arn == NULL)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->p.vt = &vt;
	a->sts = o->sts;
	a->duration = o->duration;
	a->allow_same_account = o->allow_same_account;
	if (o->shared_account)
		snprintf(a->shared_account, sizeof(a->shared_account), "%s", o->shared_account);
	if (o->session_name)
		snprintf(a->session_name, sizeof(a->session_name), "%s", o->session_name);
	else
		creds_default_session_name(a->session_name, sizeof(a->session_name));
	if (sts_arn_account(o->role_arn, a->role_account, sizeof(a->role_account)) ||
	    !creds_session_name_valid(a->session_name) ||
	    (o->session_name && strlen(o->session_name) > 64) ||
	    (o->duration && (o->duration < 900 || o->duration > 43200))) {
		really_free(a);
		return -EINVAL;
	}
	a->role_arn = strdup(o->role_arn);
	if (a->role_arn == NULL ||
	    (o->external_id && (a->external_id = strdup(o->external_id)) == NULL)) {
		really_free(a);
		return -ENOMEM;
	}
	a->base = o->base;	/* taken only on success */
	*out = &a->p;
	return 0;
}
