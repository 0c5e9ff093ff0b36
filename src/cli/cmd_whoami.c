/* `sesrelay whoami`: which identity does this relay start from, and which
 * account will its mail leave from? Runs the same chain the relay uses:
 * base credentials -> GetCallerIdentity (base) -> AssumeRole ->
 * GetCallerIdentity with the assumed credentials. Exit 0 only when the
 * assumed credentials provably belong to the account in role_arn; each
 * failure names its step and carries STS's code and message. Secrets are
 * never printed. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "aws_creds.h"
#include "aws_identity.h"
#include "commands.h"
#include "config.h"
#include "creds_cache.h"
#include "http_client.h"
#include "log.h"
#include "sts_client.h"

struct whoami {
	uv_loop_t loop;
	struct config cfg;
	struct aws_identity *id;	/* the relay's own stack: base chain, STS, AssumeRole, cache */
	struct aws_creds *base;		/* the base credentials shown, until proven */
	int rc;				/* exit code once done, -1 while running */
};

static void report_error(const char *what, int err, const struct aws_error *why)
{
	if (why && why->code[0]) {
		fprintf(stderr, "sesrelay whoami: %s failed at %s: %s: %s",
			what, why->step[0] ? why->step : what, why->code, why->message);
		if (why->status)
			fprintf(stderr, " (HTTP %d)", why->status);
		fprintf(stderr, "%s\n", why->retryable ? " [temporary]" : "");
	} else {
		fprintf(stderr, "sesrelay whoami: %s failed: %s\n", what, strerror(-err));
	}
}

static void on_assumed(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	struct whoami *w = arg;
	char exp[32] = "never";
	long left = 0;

	if (err) {
		report_error("assuming the shared-account role", err, why);
		printf("account check:    FAILED (%s)\n", why && why->code[0] ? why->code : "error");
		w->rc = 1;
		return;
	}
	if (c->expiration) {
		struct tm tm;

		gmtime_r(&c->expiration, &tm);
		strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		left = (long)(c->expiration - time(NULL));
	}
	printf("assumed identity: %s\n", c->arn ? c->arn : "?");
	printf("assumed account:  %s\n", c->account_id ? c->account_id : "?");
	printf("expires:          %s (in %ld s)\n", exp, left);
	if (sts_client_clock_skew(w->id->sts))
		printf("clock skew:       STS is %ld s %s this host (corrected)\n",
			labs(sts_client_clock_skew(w->id->sts)),
			sts_client_clock_skew(w->id->sts) > 0 ? "ahead of" : "behind");
	/* The account rule (creds_account_refusal: role_arn's account, not
	 * the base account, shared_account) was applied by the identity
	 * stack; refused credentials come back as an error above. */
	if (!c->verified || c->account_id == NULL) {
		printf("account check:    FAILED (role_arn names %s)\n", w->id->role_account);
		w->rc = 1;
		return;
	}
	printf("account check:    ok, proven by GetCallerIdentity with the assumed credentials\n");
	w->rc = 0;
}

static void on_base_identity(void *arg, int err, const struct sts_identity *id,
	const struct aws_error *why)
{
	struct whoami *w = arg;

	if (err) {
		report_error("checking the base credentials", err, why);
		w->rc = 1;
		return;
	}
	/* The account rule compares against this proof. */
	aws_identity_base_proven(w->id, w->base, id->account);
	printf("base identity:    %s\n", id->arn);
	printf("base account:     %s\n", id->account);
	printf("role:             %s\n", w->cfg.role_arn);
	if (creds_cache_get(w->id->cache, on_assumed, w, NULL)) {
		fprintf(stderr, "sesrelay whoami: cannot start AssumeRole\n");
		w->rc = 1;
	}
}

static void on_base(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	struct whoami *w = arg;
	int r;

	if (err) {
		report_error("finding base credentials", err, why);
		w->rc = 1;
		return;
	}
	printf("base credentials: %s (%s)\n", c->source ? c->source : "?",
		c->session_token ? "temporary" : "long-term");
	w->base = aws_creds_ref(c);
	r = sts_get_caller_identity(w->id->sts, c, on_base_identity, w, NULL);
	if (r) {
		fprintf(stderr, "sesrelay whoami: cannot call GetCallerIdentity: %s\n", strerror(-r));
		w->rc = 1;
	}
}

static int setup(struct whoami *w, char *err, size_t errlen)
{
	int r = aws_identity_new(&w->cfg, &w->loop, &w->id, err, errlen);

	if (r)
		return r;
	printf("region:           %s\n", w->id->region);
	printf("sts endpoint:     %s\n", w->id->sts_endpoint);
	return 0;
}

int cmd_whoami(const char *config_path, int argc, char **argv)
{
	struct whoami w;
	char err[512] = "";
	int r;

	if (argc > 1) {
		bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fprintf(help ? stdout : stderr, "usage: sesrelay [-c FILE] whoami\n"
			"Prints the base identity, the assumed identity and the account mail\n"
			"leaves from. Exit 0 only when the account is proven.\n");
		return help ? 0 : 2;
	}
	memset(&w, 0, sizeof(w));
	w.rc = -1;
	if (config_load(&w.cfg, config_path, err, sizeof(err))) {
		fprintf(stderr, "sesrelay: %s\n", err);
		return 2;
	}
	log_setup((enum log_format)w.cfg.log_format, (enum log_level)w.cfg.log_level, false);
	if (uv_loop_init(&w.loop) || http_global_init()) {
		config_free(&w.cfg);
		fprintf(stderr, "sesrelay whoami: cannot initialise the event loop\n");
		return 1;
	}
	r = setup(&w, err, sizeof(err));
	if (r) {
		fprintf(stderr, "sesrelay whoami: %s\n", err);
		w.rc = 2;
	} else {
		/* The stack's own base credentials: the AssumeRole that follows
		 * uses them, so the base source (credential_process...) runs once. */
		r = aws_identity_base_credentials(w.id, on_base, &w);
		if (r) {
			fprintf(stderr, "sesrelay whoami: cannot look for base credentials: %s\n",
				strerror(-r));
			w.rc = 1;
		}
	}
	while (w.rc < 0 && uv_run(&w.loop, UV_RUN_ONCE))
		;
	if (w.rc < 0)
		w.rc = 1;
	fflush(stdout);

	aws_identity_close(w.id);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	aws_identity_free(w.id);
	if (w.base)
		aws_creds_unref(w.base);
	uv_loop_close(&w.loop);
	http_global_cleanup();
	config_free(&w.cfg);
	return w.rc;
}
