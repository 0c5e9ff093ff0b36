/* Test driver for the base credential chain: builds it from the default
 * configuration plus `-s key=value` settings, resolves credentials `-n`
 * times (waiting for a line on stdin between rounds, so a test can change
 * files or servers in between) and prints one JSON line per round:
 *
 *   {"ok":true,"source":"env","access_key_id":"AKIA...","expiration":0,
 *    "has_token":false,"secret_sha256":"<16 hex>","token_sha256":"<16 hex>"}
 *   {"ok":false,"code":"NoCredentials","message":"...","step":"...","status":0,
 *    "retryable":true}
 *
 * Secrets are never printed, only a SHA-256 prefix to compare against.
 * Exit status: 0 when every round ran (whatever the outcome), 2 on setup
 * errors, 3 when the loop still had handles after teardown.
 * `-p N` starts N get() calls at once per round (one line each: they
 * must share one fetch). `-a MS` destroys the provider MS milliseconds
 * into the last round instead and prints {"abandoned": true,
 * "callbacks": <how many ran: must be 0>}.
 * `-r` prints the selected profile's region instead: {"region": "...", "err": 0}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/evp.h>
#include <uv.h>

#include "aws_creds.h"
#include "config.h"
#include "creds_chain.h"
#include "http_client.h"

#define MAX_PAR 16

static void on_abandon(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

struct round {
	bool done;
	cJSON *out;
};

static void sha_prefix(const char *s, char out[17])
{
	unsigned char md[32];
	unsigned mdlen = 0;

	EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void on_creds(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	struct round *r = arg;
	cJSON *o = cJSON_CreateObject();
	char h[17];

	r->done = true;
	r->out = o;
	cJSON_AddBoolToObject(o, "ok", err == 0);
	if (err == 0) {
		cJSON_AddStringToObject(o, "source", c->source);
		cJSON_AddStringToObject(o, "access_key_id", c->access_key_id);
		cJSON_AddNumberToObject(o, "expiration", (double)c->expiration);
		cJSON_AddBoolToObject(o, "has_token", c->session_token != NULL);
		sha_prefix(c->secret_access_key, h);
		cJSON_AddStringToObject(o, "secret_sha256", h);
		if (c->session_token) {
			sha_prefix(c->session_token, h);
			cJSON_AddStringToObject(o, "token_sha256", h);
		}
		if (c->arn)
			cJSON_AddStringToObject(o, "arn", c->arn);
	} else {
		cJSON_AddNumberToObject(o, "err", err);
		cJSON_AddStringToObject(o, "code", why ? why->code : "");
		cJSON_AddStringToObject(o, "message", why ? why->message : "");
		cJSON_AddStringToObject(o, "step", why ? why->step : "");
		cJSON_AddNumberToObject(o, "status", why ? why->status : 0);
		cJSON_AddBoolToObject(o, "retryable", why ? why->retryable : false);
	}
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct http_client *http = NULL;
	struct creds_provider *p = NULL;
	struct http_client_opts hopts = { 0 };
	uv_loop_t loop;
	char err[512];
	int rounds = 1, par = 1, abandon_ms = -1, opt, r;

	if (config_defaults(&cfg) != 0)
		return 2;
	while ((opt = getopt(argc, argv, "s:n:rp:a:")) != -1) {
		if (opt == 'r') {
			char region[64];

			r = creds_profile_region(region, sizeof(region));
			printf("{\"region\": \"%s\", \"err\": %d}\n", r ? "" : region, r);
			config_free(&cfg);
			return 0;
		} else if (opt == 'n') {
			rounds = atoi(optarg);
		} else if (opt == 'p') {
			par = atoi(optarg);
			if (par < 1 || par > MAX_PAR)
				return 2;
		} else if (opt == 'a') {
			abandon_ms = atoi(optarg);
		} else if (opt == 's') {
			char *eq = strchr(optarg, '=');
			if (eq == NULL)
				return 2;
			*eq = '\0';
			if (config_set(&cfg, optarg, eq + 1, err, sizeof(err)) != 0) {
				printf("{\"setup_error\": \"%s\"}\n", err);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: %s [-s key=value]... [-n rounds] [-p parallel]"
				" [-a abandon_ms] | -r\n", argv[0]);
			return 2;
		}
	}
	uv_loop_init(&loop);
	if (http_global_init() != 0 || http_client_new(&loop, &hopts, &http) != 0)
		return 2;
	r = creds_base_new(&cfg, &loop, http, &p, err, sizeof(err));
	if (r) {
		cJSON *o = cJSON_CreateObject();
		char *s;

		cJSON_AddStringToObject(o, "setup_error", err);
		s = cJSON_PrintUnformatted(o);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
		http_client_close(http);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		http_global_cleanup();
		config_free(&cfg);
		return 2;
	}
	for (int i = 0; i < rounds && p; i++) {
		struct round rd[MAX_PAR];
		char line[64];
		int done;

		if (i > 0 && fgets(line, sizeof(line), stdin) == NULL)
			break;
		memset(rd, 0, sizeof(rd));
		for (int j = 0; j < par; j++) {
			r = creds_provider_get(p, on_creds, &rd[j]);
			if (r) {
				printf("{\"get_error\": %d}\n", r);
				return 2;
			}
			if (rd[j].done) {
				printf("{\"sync_callback\": true}\n");	/* the chain must defer */
				return 2;
			}
		}
		if (abandon_ms >= 0 && i == rounds - 1) {
			/* Destroy with the fetch in flight: no callback may follow,
			 * and every handle must still close. */
			uv_timer_t t;
			bool fired = false;

			uv_timer_init(&loop, &t);
			t.data = &fired;
			uv_timer_start(&t, on_abandon, (uint64_t)abandon_ms, 0);
			while (!fired)
				uv_run(&loop, UV_RUN_ONCE);
			uv_close((uv_handle_t *)&t, NULL);
			creds_provider_destroy(p);
			p = NULL;
			uv_run(&loop, UV_RUN_NOWAIT);
			done = 0;
			for (int j = 0; j < par; j++) {
				done += rd[j].done;
				cJSON_Delete(rd[j].out);
			}
			printf("{\"abandoned\": true, \"callbacks\": %d}\n", done);
			fflush(stdout);
			break;
		}
		do {
			uv_run(&loop, UV_RUN_ONCE);
			done = 0;
			for (int j = 0; j < par; j++)
				done += rd[j].done;
		} while (done < par);
		for (int j = 0; j < par; j++) {
			char *s = cJSON_PrintUnformatted(rd[j].out);

			printf("%s\n", s);
			free(s);
			cJSON_Delete(rd[j].out);
		}
		fflush(stdout);
	}
	creds_provider_destroy(p);
	http_client_close(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	r = uv_loop_close(&loop);
	http_global_cleanup();
	config_free(&cfg);
	return r == 0 ? 0 : 3;
}
