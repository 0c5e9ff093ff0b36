/* `sesrelay check`: the preflight that proves which account mail leaves
 * from. Each step prints one line; a failure prints the likely fix. The
 * steps run in order on one loop, each started by the previous one's
 * callback:
 *
 *   base credentials -> base identity -> AssumeRole (+ account proof)
 *   -> identity verification -> sending quota -> [test message]
 *
 * Read-only SES calls a least-privilege role may not make are warnings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "aws_call.h"
#include "aws_creds.h"
#include "aws_identity.h"
#include "aws_query.h"
#include "aws_xml.h"
#include "commands.h"
#include "config.h"
#include "creds_cache.h"
#include "http_client.h"
#include "log.h"
#include "ses_client.h"
#include "ses_message.h"
#include "sts_client.h"

struct check {
	uv_loop_t loop;
	struct config cfg;
	struct aws_identity *id;	/* the relay's own stack: base chain, STS, AssumeRole, cache */
	struct aws_creds *assumed;
	struct aws_creds *base;		/* the base credentials shown, until proven */
	struct ses_client *ses;
	struct identity_slot *slot;	/* for the test message's SES client */
	struct ses_body body;
	char base_account[32];
	const char *identity;		/* SES identity to check */
	const char *send_to;
	const char *send_from;
	char identity_buf[256];
	const char *answer_region;	/* region of the SES answer being handled */
	unsigned regions_pending;	/* other regions still to answer */
	char found[AWS_REGION_MAX];	/* first other region with the identity verified */
	bool found_more;
	char from_buf[320];
	int failures;
	int warnings;
};

typedef void (*step_fn)(struct check *c);

static void step_verification(struct check *c);
static void step_quota(struct check *c);
static void step_send(struct check *c);
static void done(struct check *c);

static void say(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const char *label, const char *fmt, ...)
{
	va_list ap;

	printf("%-22s ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void fail(struct check *c, const char *label, const struct aws_error *why, const char *fix)
{
	c->failures++;
	if (why)
		say(label, "FAIL: %s%s%s (%s)", why->code, why->message[0] ? ": " : "",
			why->message, why->step[0] ? why->step : "?");
	else
		say(label, "FAIL");
	if (fix)
		say("", "fix: %s", fix);
}

/* The likely fix for an AssumeRole failure, by AWS error code. */
static const char *assume_fix(const char *code)
{
	if (strcmp(code, "AccessDenied") == 0)
		return "the role's trust policy must name the base account (arn:aws:iam::<base>:root) "
			"with the sts:ExternalId condition matching external_id, and the base identity "
			"needs sts:AssumeRole on role_arn (see `sesrelay policy`)";
	if (strcmp(code, "AccountMismatch") == 0)
		return "the credentials AssumeRole returned are not in role_arn's account";
	if (strcmp(code, "SameAccount") == 0)
		return "set role_arn to the role in the shared account that owns the SES identity "
			"(allow_same_account yes only for a deliberate single-account set-up)";
	if (strcmp(code, "NotSharedAccount") == 0)
		return "role_arn must name a role in the account shared_account pins";
	if (strcmp(code, "NoCredentials") == 0)
		return "give the relay base credentials (environment, profile, IRSA, ECS or instance role)";
	if (strcmp(code, "SignatureDoesNotMatch") == 0 || strcmp(code, "InvalidClientTokenId") == 0)
		return "the base access key or secret is wrong";
	if (strcmp(code, "RegionDisabledException") == 0)
		return "activate STS in this region in the base account, or set a different region";
	return NULL;
}

/* ---- signed SES Query calls for the read-only checks ---- */

struct query {
	struct check *c;
	const char *region;		/* static: c->id->region or ses_regions[] */
	struct buf body;
	void (*cb)(struct check *c, const struct http_response *res);
};

static void on_query(void *arg, const struct http_response *res)
{
	struct query *q = arg;

	q->c->answer_region = q->region;	/* the answer's region, for its callback */
	q->cb(q->c, res);
	buf_free(&q->body);
	free(q);
}

static int ses_query_in(struct check *c, const char *region, const char *action, const char *k,
	const char *v, void (*cb)(struct check *c, const struct http_response *res))
{
	struct query *q = calloc(1, sizeof(*q));
	struct aws_target t;
	char url[AWS_URL_MAX];
	int r;

	if (q == NULL)
		return -ENOMEM;
	q->c = c;
	q->region = region;
	q->cb = cb;
	r = aws_query_add(&q->body, "Action", action);
	if (r == 0)
		r = aws_query_add(&q->body, "Version", "2010-12-01");
	if (r == 0 && k)
		r = aws_query_add(&q->body, k, v);
	/* The read-only calls are v1 Query calls whichever API sends mail. */
	if (r == 0)
		r = aws_endpoint_resolve(AWS_SERVICE_SES, region, url, sizeof(url));
	if (r == 0)
		r = aws_target_init(&t, url, "", region, "ses");
	if (r == 0) {
		/* Signed on AWS's clock, as the relay signs: a skewed host
		 * clock must fail `check` exactly when it fails the relay. */
		struct aws_call_req req = {
			.target = &t, .creds = c->assumed, .clock = sts_client_clock(c->id->sts),
			.content_type = ses_content_type(SES_API_V1),
			.body = q->body.data, .body_len = q->body.len,
			.timeout_ms = c->cfg.ses_timeout * 1000, .max_response = 256 * 1024,
		};

		r = aws_call_send(c->id->http, &req, on_query, q, NULL);
	}
	if (r) {
		buf_free(&q->body);
		free(q);
	}
	return r;
}

static int ses_query(struct check *c, const char *action, const char *k, const char *v,
	void (*cb)(struct check *c, const struct http_response *res))
{
	return ses_query_in(c, c->id->region, action, k, v, cb);
}

/* A read-only call the role may not be allowed: warn, name the action. */
static bool read_only_refused(struct check *c, const char *label, const char *action,
	const struct http_response *res)
{
	struct aws_error e;

	if (aws_call_error(res, &e) == 0)
		return false;
	if (res->error) {
		c->failures++;
		say(label, "FAIL: SES unreachable: %s", e.message[0] ? e.message : "?");
		return true;
	}
	if (strncmp(e.code, "AccessDenied", 12) == 0) {
		c->warnings++;
		say(label, "WARN: the role may not call %s (fine for sending; "
			"allow it to let check verify this)", action);
	} else {
		c->failures++;
		say(label, "FAIL: %s: %s", e.code, e.message);
	}
	return true;
}

/* SES regions asked where the identity is verified when it is not in the
 * configured one (a region typo bounces every message): a fixed, bounded
 * list, asked at once, each call bounded by ses_timeout. A region the
 * account has not enabled answers with an error and is skipped. */
static const char *const ses_regions[] = {
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
	"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1",
	"eu-south-1", "il-central-1", "me-south-1", "me-central-1", "af-south-1", "ap-south-1",
	"ap-south-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
	"ap-southeast-2", "ap-southeast-3", "ap-southeast-5", "us-gov-west-1",
};
#define NREGIONS (sizeof(ses_regions) / sizeof(ses_regions[0]))

static void regions_done(struct check *c)
{
	if (c->found[0]) {
		say("", "fix: %s is verified in region %s%s: set `region %s` (or verify %s in "
			"SES of the shared account in region %s)", c->identity, c->found,
			c->found_more ? " (and others)" : "", c->found, c->identity, c->id->region);
	} else {
		say("", "fix: verify %s in SES of the shared account, in this region (no other "
			"region has it verified either)", c->identity);
	}
	step_quota(c);
}

static void on_other_region(struct check *c, const struct http_response *res)
{
	struct buf status = BUF_INIT;
	struct aws_error e;

	if (aws_call_error(res, &e) == 0 &&
	    aws_xml_text(res->body.data, res->body.len, "VerificationStatus", &status) == 0 &&
	    strcmp(status.data, "Success") == 0) {
		if (c->found[0] == '\0')
			snprintf(c->found, sizeof(c->found), "%s", c->answer_region);
		else
			c->found_more = true;
	}
	buf_free(&status);
	if (--c->regions_pending == 0)
		regions_done(c);
}

/* 0 when the questions went out (regions_done follows), else nothing was
 * asked. */
static int ask_other_regions(struct check *c)
{
	for (size_t i = 0; i < NREGIONS; i++) {
		if (strcmp(ses_regions[i], c->id->region) == 0)
			continue;
		if (ses_query_in(c, ses_regions[i], "GetIdentityVerificationAttributes",
			    "Identities.member.1", c->identity, on_other_region) == 0)
			c->regions_pending++;
	}
	if (c->regions_pending == 0)
		return -ENOENT;
	say("", "asking %u other SES regions where %s is verified", c->regions_pending,
		c->identity);
	return 0;
}

static void on_verification(struct check *c, const struct http_response *res)
{
	struct buf status = BUF_INIT;

	if (!read_only_refused(c, "identity", "ses:GetIdentityVerificationAttributes", res)) {
		if (aws_xml_text(res->body.data, res->body.len, "VerificationStatus", &status) == 0 &&
		    strcmp(status.data, "Success") == 0) {
			say("identity", "%s verified in account %s", c->identity,
				c->assumed->account_id);
		} else {
			c->failures++;
			say("identity", "FAIL: %s is %s in account %s, region %s", c->identity,
				status.len ? status.data : "not an identity", c->assumed->account_id,
				c->id->region);
			buf_free(&status);
			if (ask_other_regions(c) == 0)
				return;		/* they say the fix, then the quota step */
			say("", "fix: verify %s in SES of the shared account, in this region", c->identity);
		}
	}
	buf_free(&status);
	step_quota(c);
}

static void step_verification(struct check *c)
{
	if (c->identity == NULL) {
		c->warnings++;
		say("identity", "WARN: no identity to check (set source_arn or use --identity)");
		step_quota(c);
		return;
	}
	if (ses_query(c, "GetIdentityVerificationAttributes", "Identities.member.1", c->identity,
			on_verification)) {
		c->failures++;
		say("identity", "FAIL: cannot send the request");
		step_quota(c);
	}
}

static void on_quota(struct check *c, const struct http_response *res)
{
	if (!read_only_refused(c, "quota", "ses:GetSendQuota", res)) {
		struct buf max = BUF_INIT, rate = BUF_INIT, sent = BUF_INIT;

		aws_xml_text(res->body.data, res->body.len, "Max24HourSend", &max);
		aws_xml_text(res->body.data, res->body.len, "MaxSendRate", &rate);
		aws_xml_text(res->body.data, res->body.len, "SentLast24Hours", &sent);
		say("quota", "%s of %s sent in 24 h, at most %s/s", sent.len ? sent.data : "?",
			max.len ? max.data : "?", rate.len ? rate.data : "?");
		buf_free(&max);
		buf_free(&rate);
		buf_free(&sent);
	}
	step_send(c);
}

static void step_quota(struct check *c)
{
	if (ses_query(c, "GetSendQuota", NULL, NULL, on_quota)) {
		c->failures++;
		say("quota", "FAIL: cannot send the request");
		step_send(c);
	}
}

static void on_sent(void *arg, const struct delivery_result *res)
{
	struct check *c = arg;

	if (res->code == 250) {
		say("test message", "sent to %s, MessageId %s", c->send_to, res->message_id);
		say("", "it left from account %s as %s", c->assumed->account_id, c->assumed->arn);
	} else {
		c->failures++;
		say("test message", "FAIL: %d %s %s", res->code, res->enhanced, res->text);
	}
	done(c);
}

static void step_send(struct check *c)
{
	const char *rcpts[1] = { c->send_to };
	struct ses_params p = {
		.api = (enum ses_api)c->cfg.ses_api, .source = c->send_from, .destinations = rcpts,
		.ndestinations = 1, .source_arn = c->cfg.source_arn, .from_arn = c->cfg.from_arn,
		.return_path_arn = c->cfg.return_path_arn,
		.configuration_set = c->cfg.configuration_set, .tags = &c->cfg.message_tags,
	};
	struct ses_client_opts o = {
		.api = (enum ses_api)c->cfg.ses_api, .soft_bounce = c->cfg.soft_bounce,
	};
	struct ses_send *send;
	char msg[1024], date[64];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (c->send_to == NULL) {
		done(c);
		return;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	n = snprintf(msg, sizeof(msg),
		"From: %s\r\nTo: %s\r\nSubject: sesrelay check\r\nDate: %s\r\n"
		"Message-ID: <check.%ld.%d@sesrelay>\r\nMIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
		"This message was sent by `sesrelay check --send-test` through the\r\n"
		"role %s.\r\n", c->send_from, c->send_to, date, (long)now, (int)getpid(),
		c->cfg.role_arn);
	if (n < 0 || (size_t)n >= sizeof(msg) || ses_body_begin(&c->body, &p, (size_t)n) ||
	    ses_body_write(&c->body, msg, (size_t)n) || ses_body_finish(&c->body) ||
	    identity_slot_new(aws_identity_ref(c->id), &c->slot) ||
	    ses_client_new(&c->loop, c->id->http, c->slot, &o, &c->ses) ||
	    ses_client_send(c->ses, &c->body, "check", on_sent, c, &send)) {
		c->failures++;
		say("test message", "FAIL: cannot prepare the message");
		done(c);
	}
}

static void on_assumed(void *arg, int err, struct aws_creds *cr, const struct aws_error *why)
{
	struct check *c = arg;
	char exp[32] = "never";

	if (err) {
		fail(c, "assume role", why, why ? assume_fix(why->code) : NULL);
		done(c);
		return;
	}
	c->assumed = aws_creds_ref(cr);
	if (cr->expiration) {
		struct tm tm;
		gmtime_r(&cr->expiration, &tm);
		strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	say("assumed identity", "%s", cr->arn ? cr->arn : "?");
	say("assumed account", "%s (expires %s)", cr->account_id ? cr->account_id : "?", exp);
	/* The account rule (creds_account_refusal) has already been applied
	 * by the identity stack: a refused account never gets here. */
	say("account check", "ok: mail leaves from shared account %s, not base account %s",
		cr->account_id, c->base_account);
	step_verification(c);
}

static void on_base_identity(void *arg, int err, const struct sts_identity *id,
	const struct aws_error *why)
{
	struct check *c = arg;

	if (err) {
		fail(c, "base identity", why, why ? assume_fix(why->code) : NULL);
		done(c);
		return;
	}
	snprintf(c->base_account, sizeof(c->base_account), "%s", id->account);
	/* The account rule compares against this proof. */
	aws_identity_base_proven(c->id, c->base, id->account);
	say("base identity", "%s", id->arn);
	say("base account", "%s", id->account);
	say("role", "%s", c->cfg.role_arn);
	if (creds_cache_get(c->id->cache, on_assumed, c, NULL)) {
		c->failures++;
		say("assume role", "FAIL: cannot start");
		done(c);
	}
}

static void on_base(void *arg, int err, struct aws_creds *cr, const struct aws_error *why)
{
	struct check *c = arg;

	if (err) {
		fail(c, "base credentials", why, assume_fix("NoCredentials"));
		done(c);
		return;
	}
	say("base credentials", "%s (%s)", cr->source ? cr->source : "?",
		cr->session_token ? "temporary" : "long-term");
	c->base = aws_creds_ref(cr);
	if (sts_get_caller_identity(c->id->sts, cr, on_base_identity, c, NULL)) {
		c->failures++;
		say("base identity", "FAIL: cannot start GetCallerIdentity");
		done(c);
	}
}

static void done(struct check *c)
{
	if (c->failures)
		say("result", "FAILED: %d step(s) failed, %d warning(s)", c->failures, c->warnings);
	else
		say("result", "ok%s", c->warnings ? " (with warnings)" : "");
	aws_identity_close(c->id);
}

static void identity_from_arn(struct check *c, const char *arn)
{
	const char *p = arn ? strstr(arn, ":identity/") : NULL;

	if (p && c->identity == NULL) {
		snprintf(c->identity_buf, sizeof(c->identity_buf), "%s", p + 10);
		c->identity = c->identity_buf;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sesrelay [-c FILE] check [--identity DOMAIN_OR_ADDRESS] "
		"[--send-test ADDRESS [--from SENDER]]\n"
		"Preflight: base credentials, AssumeRole with the account proven, the SES\n"
		"identity and quota, and with --send-test a real message to ADDRESS.\n"
		"  --identity ID      SES identity to check; default: the identity of\n"
		"                     source_arn or from_arn\n"
		"  --send-test ADDR   send a test message to ADDR\n"
		"  --from SENDER      its sender. Needed unless the identity is an address\n"
		"                     (then it is the sender) or source_arn/from_arn name a\n"
		"                     domain identity (then sesrelay-check@DOMAIN)\n");
}

/* The test message's sender when --from is not given: the identity when
 * it is an address; an address in the domain only when source_arn or
 * from_arn authorise the whole domain identity. Otherwise NULL: a made-up
 * address in a domain the relay may not send from would fail in SES with
 * a message far less clear than asking for --from. (With source_arn or
 * from_arn, the identity policy authorises the domain's addresses.) */
static const char *default_sender(struct check *c)
{
	if (c->identity && strchr(c->identity, '@'))
		return c->identity;
	if (c->identity && (c->cfg.source_arn || c->cfg.from_arn)) {
		snprintf(c->from_buf, sizeof(c->from_buf), "sesrelay-check@%s", c->identity);
		return c->from_buf;
	}
	return NULL;
}

int cmd_check(const char *config_path, int argc, char **argv)
{
	struct check c;
	char err[512] = "";

	memset(&c, 0, sizeof(c));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (i + 1 < argc && strcmp(argv[i], "--identity") == 0) {
			c.identity = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--send-test") == 0) {
			c.send_to = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--from") == 0) {
			c.send_from = argv[++i];
		} else {
			bool known = strcmp(argv[i], "--identity") == 0 ||
				strcmp(argv[i], "--send-test") == 0 || strcmp(argv[i], "--from") == 0;
			fprintf(stderr, "sesrelay check: %s %s\n", argv[i],
				known ? "needs a value" : "is not an option");
			usage(stderr);
			return 2;
		}
	}
	if (config_load(&c.cfg, config_path, err, sizeof(err))) {
		fprintf(stderr, "sesrelay: %s\n", err);
		return 2;
	}
	log_setup((enum log_format)c.cfg.log_format, LVL_ERROR, false);
	identity_from_arn(&c, c.cfg.from_arn);
	identity_from_arn(&c, c.cfg.source_arn);
	if (c.send_to && c.send_from == NULL && (c.send_from = default_sender(&c)) == NULL) {
		fprintf(stderr, "sesrelay check: --send-test needs --from SENDER: %s%s%s\n",
			c.identity ? "the identity " : "no identity to send from",
			c.identity ? c.identity : "",
			c.identity ? " is not an address, and neither source_arn nor from_arn is set" : "");
		config_free(&c.cfg);
		return 2;
	}
	if (uv_loop_init(&c.loop) || http_global_init()) {
		fprintf(stderr, "sesrelay check: cannot initialise the event loop\n");
		config_free(&c.cfg);
		return 1;
	}
	if (aws_identity_new(&c.cfg, &c.loop, &c.id, err, sizeof(err))) {
		fprintf(stderr, "sesrelay check: %s\n", err);
		c.failures++;
		aws_identity_close(c.id);
	} else {
		say("region", "%s", c.id->region);
		say("sts endpoint", "%s", c.id->sts_endpoint);
		say("ses endpoint", "%s", c.id->ses_endpoint);
		/* The stack's own base credentials: the AssumeRole that follows
		 * uses them, so the base source (credential_process...) runs once. */
		if (aws_identity_base_credentials(c.id, on_base, &c)) {
			c.failures++;
			done(&c);
		}
	}
	uv_run(&c.loop, UV_RUN_DEFAULT);
	ses_client_free(c.ses);
	identity_slot_free(c.slot);
	if (c.body.body.data)
		ses_body_free(&c.body);
	if (c.assumed)
		aws_creds_unref(c.assumed);
	if (c.base)
		aws_creds_unref(c.base);
	aws_identity_free(c.id);
	uv_loop_close(&c.loop);
	http_global_cleanup();
	config_free(&c.cfg);
	return c.failures ? 1 : 0;
}
