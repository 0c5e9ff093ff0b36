/* Base credentials: the dev/staging account's own identity, used only to
 * call STS AssumeRole into the shared account. Found the way the AWS SDKs
 * find credentials, in their order:
 *
 *   env            AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   web_identity   AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (EKS IRSA)
 *   profile        ~/.aws/credentials and ~/.aws/config, AWS_PROFILE:
 *                  static keys or credential_process
 *   ecs            AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI
 *   imds           EC2 instance metadata, IMDSv2 only
 *
 * Config `base_credentials` = chain (all of them, in that order) or one
 * source name to pin it. A source that is not configured is skipped; a
 * source that IS configured and fails (half a key pair, a broken
 * credential_process, STS refusing the token) stops the search with its
 * own error, as in the SDKs: falling through would silently run as a
 * different identity. When nothing is found the error code is
 * "NoCredentials" and the message lists each source and why it was
 * skipped.
 *
 * Once a source has answered, later fetches ask it first (and go back to
 * the full order only if it is no longer configured). Credentials that
 * expire are cached until 5 minutes before their expiry; concurrent get()
 * calls share one fetch; if a refresh fails while the cached credentials
 * are still valid, those keep being served. Long-term keys are re-read on
 * every get() (cheap), so a rotated key file takes effect. The creds'
 * `source` names the source that answered: "env", "web_identity",
 * "profile", "credential_process", "ecs" or "imds".
 *
 * The returned provider follows aws_creds.h: its callback never runs
 * inside get(); destroy() cancels a fetch in flight silently, and frees
 * the provider once its uv handles are closed (keep running the loop).
 * Nothing of cfg is kept after creds_base_new() returns; `loop` and `http`
 * must outlive the provider.
 */
#ifndef SESRELAY_CREDS_CHAIN_H
#define SESRELAY_CREDS_CHAIN_H

#include <stddef.h>
#include <uv.h>

#include "aws_creds.h"

struct config;
struct http_client;

/* Seconds before expiry at which cached base credentials are re-fetched. */
#define CREDS_BASE_REFRESH_BEFORE 300

/* Returns 0, or -EINVAL (unknown base_credentials value) / -ENOMEM with a
 * message in err. */
int creds_base_new(const struct config *cfg, uv_loop_t *loop,
	struct http_client *http, struct creds_provider **out,
	char *err, size_t errlen);

/* `region` of the selected profile (AWS_PROFILE or "default") in
 * AWS_CONFIG_FILE (~/.aws/config), else in the credentials file. For
 * region resolution after config `region`, AWS_REGION and
 * AWS_DEFAULT_REGION. Returns 0, -ENOENT (none), -ENAMETOOLONG or the
 * error reading/parsing the files. */
int creds_profile_region(char *out, size_t outlen);

#endif
