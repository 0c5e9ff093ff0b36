/* The shared-account credentials cache, in front of the AssumeRole
 * provider. Every SES request asks it for credentials.
 *
 * Windows, with E = expiration of the current credentials:
 *
 *   now < E - before - jitter        fresh: hand out, no refresh
 *   E - before - jitter <= now       refresh window: hand out, and start a
 *     < E - min_remaining            background refresh (at most one)
 *   now >= E - min_remaining         too close to expiry: never handed out
 *                                    (a request signed now could reach AWS
 *                                    expired); callers wait for the refresh
 *
 * `before` is refresh_before_expiry (default 900 s), `min_remaining` is
 * refresh_min_remaining (60 s). jitter is drawn per credential set,
 * uniformly in [0, before/10], so many relays started together spread
 * their STS calls. A set that lives shorter than the window (role_duration
 * 900 with the default window) would be due on arrival; its window opens
 * half-way through its usable life instead, never sooner. A timer starts
 * the refresh at the window's start even when no mail flows, so an idle
 * relay keeps fresh credentials.
 *
 * Single flight: exactly one provider call runs at a time, however many
 * callers wait. A failed refresh is retried after an exponential backoff
 * (initial 1 s, doubling, capped at backoff_max 60 s, "equal jitter":
 * half fixed, half random), and the failure is kept: waiters arriving
 * during the backoff with no usable credentials fail at once with it
 * (err < 0, why->retryable as the provider said) instead of hanging.
 * Credentials that are still usable keep being handed out while a
 * refresh runs and while refreshes fail.
 *
 * Fail closed: the cache only ever stores credentials with verified ==
 * true; anything else from the provider counts as a failed refresh.
 *
 * Threads: creds_cache_current(), creds_cache_invalidate() and
 * creds_cache_status() may be called from any thread (a mutex guards the
 * state; refreshes are started on the loop thread through a uv_async_t).
 * Everything else runs on the loop thread.
 *
 * Ownership: the cache OWNS `source` (destroyed by creds_cache_free(),
 * also when creds_cache_new() fails). creds_cache_current() returns a
 * new reference (aws_creds_unref() it). creds_cache_get()'s callback
 * borrows the credentials for its duration. A struct creds_wait belongs
 * to the cache; creds_wait_cancel() before the callback frees it and the
 * callback never runs. creds_cache_free() drops pending waits silently
 * and releases memory once its uv handles are closed.
 */
#ifndef SESRELAY_CREDS_CACHE_H
#define SESRELAY_CREDS_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "aws_creds.h"

struct creds_cache;
struct creds_wait;

/* Seconds since the epoch (fractional); the same scale as expiration. */
typedef double (*creds_clock_fn)(void *arg);

struct creds_cache_opts {
	unsigned refresh_before_expiry;	/* s; 0: 900 */
	unsigned min_remaining;		/* s; 0: 60 */
	unsigned backoff_initial_ms;	/* 0: 1000 */
	unsigned backoff_max_ms;	/* 0: 60000 */
	creds_clock_fn clock;		/* NULL: wall clock */
	void *clock_arg;
	uint64_t seed;			/* jitter PRNG seed; 0: from the clock */
};

struct creds_cache_stats {
	unsigned long refresh_ok;
	unsigned long refresh_failed;
	unsigned consecutive_failures;
	double next_attempt;		/* clock time of the next try when backing off, else 0 */
	double refresh_at;		/* clock time the current set enters its window */
	char last_error[64];		/* code of the last failure, "" if none */
	char last_message[256];		/* its message (what to fix), "" if none */
};

int creds_cache_new(uv_loop_t *loop, struct creds_provider *source,
	const struct creds_cache_opts *opts, struct creds_cache **out);
/* Start the first refresh now, so the first message doesn't wait. */
int creds_cache_start(struct creds_cache *c);
/* New reference to usable verified credentials (at least min_remaining
 * left), or NULL. Inside the refresh window it also starts a background
 * refresh. Cheap: one mutex, no allocation. */
struct aws_creds *creds_cache_current(struct creds_cache *c);
/* Usable credentials, waiting for a refresh when there are none. Returns
 * 0 and calls cb exactly once, never before returning; or an error and
 * never. On failure err < 0 and why says why (retryable or not). */
int creds_cache_get(struct creds_cache *c, creds_cb cb, void *arg, struct creds_wait **out);
void creds_wait_cancel(struct creds_wait *w);
/* AWS refused these credentials (ExpiredToken, InvalidClientTokenId):
 * drop them if they are still the current set, so the next request
 * refreshes instead of failing again. */
void creds_cache_invalidate(struct creds_cache *c, const struct aws_creds *bad);
void creds_cache_status(struct creds_cache *c, bool *ready, double *seconds_left,
	struct creds_cache_stats *stats);
void creds_cache_free(struct creds_cache *c);

#endif
