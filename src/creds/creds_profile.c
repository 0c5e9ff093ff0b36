/* Base credentials from the shared AWS files: ~/.aws/credentials and
 * ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE), profile
 * AWS_PROFILE or "default".
 *
 * Within one profile the order is botocore's: static keys from the
 * credentials file, then credential_process (either file, the credentials
 * file winning), then static keys from the config file. Profiles that
 * need another provider (role_arn/source_profile chains, SSO, a web
 * identity token file) fail with a clear error rather than falling
 * through to a different identity. */
#include "creds_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_chain.h"
#include "ini.h"

struct profile_provider {
	struct creds_provider base;
	uv_loop_t *loop;
	unsigned process_timeout_ms;
	size_t process_max_output;
	struct creds_process *proc;	/* credential_process in flight */
	creds_cb cb;
	void *arg;
};

struct profile_files {
	char *name;			/* profile name */
	bool explicit_name;		/* from AWS_PROFILE */
	char *cred_path, *cfg_path;
	struct ini cred, cfg;
	char cfg_section[300];
};

static void files_free(struct profile_files *f)
{
	free(f->name);
	free(f->cred_path);
	free(f->cfg_path);
	ini_free(&f->cred);
	ini_free(&f->cfg);
}

static int load_one(const char *path, struct ini *ini, struct aws_error *why)
{
	struct buf b;
	unsigned line;
	const char *what;
	int r = creds_read_file(path, CREDS_MAX_FILE, &b);

	memset(ini, 0, sizeof(*ini));
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;	/* a missing file is an empty one, as in the SDKs */
	if (r) {
		creds_error_set(why, 0, false, "profile", "InvalidConfiguration",
			"cannot read %s: %s", path, r == -EFBIG ? "file too large" : uv_strerror(r));
		return r;
	}
	r = ini_parse(b.data, b.len, ini, &line, &what);
	buf_free_secret(&b);
	if (r)
		creds_error_set(why, 0, false, "profile", "InvalidConfiguration",
			"%s line %u: %s", path, line, what);
	return r;
}

/* Both files of the selected profile. */
static int load_files(struct profile_files *f, struct aws_error *why)
{
	const char *name = creds_getenv("AWS_PROFILE");
	const char *cp = creds_getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *fp = creds_getenv("AWS_CONFIG_FILE");
	int r;

	memset(f, 0, sizeof(*f));
	f->explicit_name = name != NULL;
	f->name = strdup(name ? name : "default");
	f->cred_path = creds_expand_home(cp ? cp : "~/.aws/credentials");
	f->cfg_path = creds_expand_home(fp ? fp : "~/.aws/config");
	if (!f->name || !f->cred_path || !f->cfg_path) {
		creds_error_set(why, 0, true, "profile", "InternalError",
			"out of memory or no home directory");
		return -ENOMEM;
	}
	/* Only [default] and [profile NAME] count in the config file. */
	if (strcmp(f->name, "default") == 0)
		snprintf(f->cfg_section, sizeof(f->cfg_section), "default");
	else
		snprintf(f->cfg_section, sizeof(f->cfg_section), "profile %s", f->name);
	if ((r = load_one(f->cred_path, &f->cred, why)) != 0)
		return r;
	if ((r = load_one(f->cfg_path, &f->cfg, why)) != 0)
		return r;
	if (strcmp(f->name, "default") == 0 && !ini_has_section(&f->cfg, "default") &&
	    ini_has_section(&f->cfg, "profile default"))
		snprintf(f->cfg_section, sizeof(f->cfg_section), "profile default");
	return 0;
}

/* A mistake inside the selected profile's section fails it: its values
 * cannot be trusted to be what was meant. Mistakes in other profiles do
 * not matter here (ini.h). 0 or -EINVAL with why set. */
static int profile_broken(const struct profile_files *f, struct aws_error *why)
{
	const struct ini *inis[2] = { &f->cred, &f->cfg };
	const char *sections[2] = { f->name, f->cfg_section };
	const char *paths[2] = { f->cred_path, f->cfg_path };
	unsigned line;
	const char *what;

	for (int i = 0; i < 2; i++) {
		if (ini_section_error(inis[i], sections[i], &line, &what)) {
			creds_error_set(why, 0, false, "profile", "InvalidConfiguration",
				"%s line %u: %s (in [%s], the profile in use)", paths[i], line,
				what, sections[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static const char *cfg_get(const struct profile_files *f, const char *key)
{
	const char *v = ini_get(&f->cred, f->name, key);

	return v ? v : ini_get(&f->cfg, f->cfg_section, key);
}

int creds_profile_region(char *out, size_t outlen)
{
	struct profile_files f;
	struct aws_error why;
	const char *v;
	int r = load_files(&f, &why);

	if (r == 0) {
		v = ini_get(&f.cfg, f.cfg_section, "region");
		if (v == NULL)
			v = ini_get(&f.cred, f.name, "region");
		if (v == NULL || *v == '\0')
			r = -ENOENT;
		else if ((size_t)snprintf(out, outlen, "%s", v) >= outlen)
			r = -ENAMETOOLONG;
	}
	files_free(&f);
	return r;
}

/* Static keys from one file's section: 1 found, 0 absent, <0 error. */
static int static_keys(const struct ini *ini, const char *section, const char *path,
	struct aws_creds **out, struct aws_error *why)
{
	const char *akid = ini_get(ini, section, "aws_access_key_id");
	const char *secret = ini_get(ini, section, "aws_secret_access_key");
	const char *token = ini_get(ini, section, "aws_session_token");

	if ((akid == NULL || !*akid) && (secret == NULL || !*secret))
		return 0;
	if (akid == NULL || !*akid || secret == NULL || !*secret) {
		creds_error_set(why, 0, false, "profile", "IncompleteCredentials",
			"%s [%s]: %s is set but %s is not", path, section,
			akid && *akid ? "aws_access_key_id" : "aws_secret_access_key",
			akid && *akid ? "aws_secret_access_key" : "aws_access_key_id");
		return -EINVAL;
	}
	*out = aws_creds_new(akid, secret, token, 0, "profile");
	if (*out == NULL) {
		creds_error_set(why, 0, true, "profile", "InternalError", "out of memory");
		return -ENOMEM;
	}
	return 1;
}

static void on_process(void *arg, int err, struct aws_creds *c, const struct aws_error *why)
{
	struct profile_provider *p = arg;
	creds_cb cb = p->cb;

	p->proc = NULL;
	p->cb = NULL;
	cb(p->arg, err, c, why);
}

static int profile_get(struct creds_provider *base, creds_cb cb, void *arg)
{
	struct profile_provider *p = (struct profile_provider *)base;
	static const char *const unsupported[] = {
		"role_arn", "source_profile", "sso_session", "sso_start_url",
		"web_identity_token_file", "credential_source",
	};
	struct profile_files f;
	struct aws_error why;
	struct aws_creds *c = NULL;
	const char *proc;
	int r;

	if (p->proc)
		return -EBUSY;
	r = load_files(&f, &why);
	if (r == 0)
		r = profile_broken(&f, &why);
	if (r)
		goto fail;
	if (!ini_has_section(&f.cred, f.name) && !ini_has_section(&f.cfg, f.cfg_section)) {
		if (f.explicit_name) {
			creds_error_set(&why, 0, false, "profile", "ProfileNotFound",
				"AWS_PROFILE \"%s\" is in neither %s nor %s", f.name,
				f.cred_path, f.cfg_path);
			r = -EINVAL;	/* AWS_PROFILE set: configured, and broken */
			goto fail;
		}
		creds_error_set(&why, 0, false, "profile", "NotConfigured",
			"no profile \"%s\"", f.name);
		r = CREDS_NOT_CONFIGURED;
		goto fail;
	}
	if ((r = static_keys(&f.cred, f.name, f.cred_path, &c, &why)) != 0)
		goto done;
	if ((proc = cfg_get(&f, "credential_process")) != NULL && *proc) {
		p->cb = cb;
		p->arg = arg;
		r = creds_process_run(p->loop, proc, p->process_timeout_ms,
			p->process_max_output, on_process, p, &p->proc);
		if (r) {
			p->cb = NULL;
			creds_error_set(&why, 0, false, "credential_process", "InvalidConfiguration",
				"profile \"%s\": credential_process is not a valid command line",
				f.name);
			goto fail;
		}
		files_free(&f);
		return 0;
	}
	if ((r = static_keys(&f.cfg, f.cfg_section, f.cfg_path, &c, &why)) != 0)
		goto done;
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		if (cfg_get(&f, unsupported[i])) {
			creds_error_set(&why, 0, false, "profile", "InvalidConfiguration",
				"profile \"%s\" uses %s, which is not supported for base "
				"credentials; use static keys or credential_process",
				f.name, unsupported[i]);
			r = -ENOTSUP;
			goto fail;
		}
	}
	creds_error_set(&why, 0, false, "profile", "NotConfigured",
		"profile \"%s\" has no credentials", f.name);
	r = CREDS_NOT_CONFIGURED;
	goto fail;
done:
	files_free(&f);
	if (r < 0) {
		cb(arg, r, NULL, &why);
		return 0;
	}
	cb(arg, 0, c, NULL);
	aws_creds_unref(c);
	return 0;
fail:
	files_free(&f);
	cb(arg, r, NULL, &why);
	return 0;
}

static void profile_destroy(struct creds_provider *base)
{
	struct profile_provider *p = (struct profile_provider *)base;

	if (p->proc)
		creds_process_cancel(p->proc);
	free(p);
}

static const struct creds_provider_vtable profile_vt = {
	.name = "profile",
	.get = profile_get,
	.destroy = profile_destroy,
};

int creds_profile_new(const struct creds_source_opts *o, struct creds_provider **out)
{
	struct profile_provider *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->base.vt = &profile_vt;
	p->loop = o->loop;
	p->process_timeout_ms = o->process_timeout_ms;
	p->process_max_output = o->process_max_output;
	*out = &p->base;
	return 0;
}
