/* Where to reach AWS: region and service endpoint, resolved the way the
 * AWS SDKs do, so an operator's AWS_* environment means the same thing
 * to sesrelay as to the aws CLI.
 *
 *   region:   config `region`, else AWS_REGION, else AWS_DEFAULT_REGION.
 *   endpoint: AWS_ENDPOINT_URL_<SERVICE> (STS, SES; SESV2 falls back to
 *             SES), else AWS_ENDPOINT_URL, else the regional default
 *             https://sts.<region>.amazonaws.com or
 *             https://email.<region>.amazonaws.com. With
 *             AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true only the default.
 *
 * Results are copied into caller buffers; nothing is kept.
 */
#ifndef SESRELAY_AWS_ENDPOINT_H
#define SESRELAY_AWS_ENDPOINT_H

#include <stddef.h>

enum aws_service { AWS_SERVICE_STS, AWS_SERVICE_SES, AWS_SERVICE_SESV2 };

#define AWS_REGION_MAX 32	/* with the NUL; matches sigv4_key.region */

/* 0, or -ENOENT when no source names a region, or -EINVAL when the name
 * is not [a-z0-9-] (1..31 characters). */
int aws_region_resolve(const char *config_region, char *out, size_t outlen);

/* The endpoint URL without a trailing '/'. -EINVAL when an override is
 * not an http:// or https:// URL or does not fit. */
int aws_endpoint_resolve(enum aws_service svc, const char *region, char *out, size_t outlen);

/* AWS_CA_BUNDLE, or NULL (the system store). */
const char *aws_ca_bundle(void);

#endif
