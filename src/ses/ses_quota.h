/* `send_rate auto`: reads SES GetSendQuota at start and every
 * send_quota_interval seconds (through the one AWS call path, signed with
 * the verified shared-account credentials) and gives the governor
 * MaxSendRate x send_rate_share as its target, and whether the 24-hour
 * quota has room (SentLast24Hours < Max24HourSend). When the call fails
 * (the role may not read the quota) it says so once in the log and the
 * governor keeps send_rate_fallback.
 *
 * Ownership: struct ses_quota owns its timer and its request body and
 * borrows the identity slot and the governor, which must outlive it; each
 * call holds a reference to the identity current when it started (a
 * reload may switch the slot meanwhile).
 * ses_quota_close() closes the timer and cancels a call in flight; the
 * object frees itself once the loop has run the close callback.
 */
#ifndef SESRELAY_SES_QUOTA_H
#define SESRELAY_SES_QUOTA_H

#include <stddef.h>

#include <uv.h>

#define SES_QUOTA_CREDS_WAIT 2	/* seconds between looks for credentials at start */

struct identity_slot;
struct ses_governor;
struct ses_quota;

int ses_quota_start(uv_loop_t *loop, struct identity_slot *slot, struct ses_governor *gov,
	double share, double fallback, unsigned interval_s, struct ses_quota **out);
void ses_quota_close(struct ses_quota *q);

/* Parse a GetSendQuota answer (pure). 0 or -EINVAL. */
int ses_quota_parse(const char *body, size_t len, double *max_rate, double *max24,
	double *sent24);

#endif
