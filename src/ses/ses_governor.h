/* The send-rate governor: one per process (every worker and the queue
 * draw on it), because SES counts one maximum send rate per account and
 * region, in recipients per second.
 *
 * A token bucket in recipients, holding at most half a second of the rate.
 * A send reserves its recipients up front: it waits until the bucket
 * holds them (or is full, for a send larger than the bucket), then takes
 * them all, and the bucket may go below zero; later sends wait that debt
 * off. So sends leave in the order they asked at the rate, with no
 * polling. A send that would have to wait longer than its caller allows
 * reserves nothing.
 *
 * The rate is the target (GetSendQuota's MaxSendRate x send_rate_share,
 * or send_rate set by hand) cut in half on a Throttling answer (at most
 * once a second, since one burst draws several) and raised back by a
 * twentieth of the target per second without Throttling (AIMD). When SES
 * says the daily quota is used up, sending pauses until GetSendQuota
 * shows room again, or for send_quota_pause seconds when the quota
 * cannot be read.
 *
 * Thread-safe (one mutex); the clock is passed in, so the arithmetic is
 * unit-tested without sleeping.
 *
 * Ownership: the governor owns nothing but itself.
 */
#ifndef SESRELAY_SES_GOVERNOR_H
#define SESRELAY_SES_GOVERNOR_H

#include <stdbool.h>
#include <stdint.h>

struct ses_governor;

struct ses_governor_stats {
	double rate;			/* recipients per second now */
	double target;			/* what AIMD climbs back to */
	double tokens;			/* may be negative: reserved ahead */
	uint64_t throttles;		/* Throttling answers seen */
	bool paused;			/* daily quota */
};

/* rate: recipients per second (> 0); quota_pause_s: how long the daily
 * quota pauses sending unless GetSendQuota shows room sooner (> 0). */
int ses_governor_new(double rate, unsigned quota_pause_s, struct ses_governor **out);
void ses_governor_free(struct ses_governor *g);

/* Take n recipients at time now_ms (monotonic). Returns 0 with *wait_ms
 * the delay before sending (0: now), or -EAGAIN when that delay would be
 * over max_wait_ms (or sending is paused); then nothing is taken and
 * *wait_ms says how long it would have been. */
int ses_governor_reserve(struct ses_governor *g, unsigned n, uint64_t now_ms,
	uint64_t max_wait_ms, uint64_t *wait_ms);
/* SES answered Throttling (the rate) at now_ms. */
void ses_governor_throttled(struct ses_governor *g, uint64_t now_ms);
/* SES answered that the daily quota is used up. */
void ses_governor_daily_quota(struct ses_governor *g, uint64_t now_ms);
/* A new target (GetSendQuota read, or the configuration); room_left is
 * false while the 24-hour quota is used up. */
void ses_governor_set_target(struct ses_governor *g, double rate, bool room_left,
	uint64_t now_ms);
bool ses_governor_paused(struct ses_governor *g, uint64_t now_ms);
void ses_governor_stats(struct ses_governor *g, uint64_t now_ms, struct ses_governor_stats *st);

#endif
