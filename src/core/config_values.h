/* Checks of single configuration values (config_values.c), used by the
 * key table in config.c. Each config_check_* returns 0, or -EINVAL with
 * the reason in why; an empty value passes unless the key forbids one. */
#ifndef SESRELAY_CONFIG_VALUES_H
#define SESRELAY_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>

int config_check_listen(const char *v, char *why, size_t whylen);	/* HOST:PORT, [v6]:PORT */
int config_check_sender(const char *v, char *why, size_t whylen);	/* address or @domain */
int config_check_address(const char *v, char *why, size_t whylen);	/* user@domain */
int config_check_send_rate(const char *v, char *why, size_t whylen);	/* (0, 100000] or auto */
int config_check_rate(const char *v, char *why, size_t whylen);		/* (0, 100000] */
int config_check_rate_share(const char *v, char *why, size_t whylen);	/* (0, 1] */
int config_check_tag(const char *v, char *why, size_t whylen);		/* name=value */
int config_check_role_arn(const char *v, char *why, size_t whylen);	/* IAM role ARN */
int config_check_external_id(const char *v, char *why, size_t whylen);	/* STS ExternalId */
int config_check_session_name(const char *v, char *why, size_t whylen);	/* RoleSessionName */
int config_check_account_id(const char *v, char *why, size_t whylen);	/* 12 digits */
int config_check_region(const char *v, char *why, size_t whylen);	/* eu-west-1 */

/* An allow_networks entry that admits every client of a family. */
bool config_network_admits_everyone(const char *cidr);
/* A listen address only this host can reach (loopback, localhost). */
bool config_listen_is_loopback(const char *spec);

#endif
