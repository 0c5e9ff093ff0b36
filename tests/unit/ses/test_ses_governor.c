/* The governor's arithmetic, on a clock the test moves: sends leave at the
 * rate, a wait over the caller's limit takes nothing, Throttling halves
 * the rate once per second and it climbs back, the daily quota pauses. */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "ses_governor.h"

static void test_bucket(void)
{
	struct ses_governor *g;
	uint64_t w;

	CHECK_INT(ses_governor_new(10, 600, &g), 0);
	/* Half a second of the rate at once, then one per 100 ms. */
	for (int i = 0; i < 5; i++) {
		CHECK_INT(ses_governor_reserve(g, 1, 1000, 0, &w), 0);
		CHECK_INT(w, 0);
	}
	CHECK_INT(ses_governor_reserve(g, 1, 1000, 0, &w), -EAGAIN);
	CHECK_INT(w, 100);
	/* Reserved ahead: the next two wait 100 and 200 ms. */
	CHECK_INT(ses_governor_reserve(g, 1, 1000, 5000, &w), 0);
	CHECK_INT(w, 100);
	CHECK_INT(ses_governor_reserve(g, 1, 1000, 5000, &w), 0);
	CHECK_INT(w, 200);
	/* 50 recipients at 10/s wait for a full bucket (0.7 s from -2 tokens);
	 * over the caller's 500 ms: refused, nothing taken. */
	CHECK_INT(ses_governor_reserve(g, 50, 1000, 500, &w), -EAGAIN);
	CHECK_INT(w, 700);
	CHECK_INT(ses_governor_reserve(g, 1, 1000, 5000, &w), 0);
	CHECK_INT(w, 300);
	/* Idle time refills, up to half a second's worth only. */
	CHECK_INT(ses_governor_reserve(g, 5, 60000, 0, &w), 0);
	CHECK_INT(ses_governor_reserve(g, 1, 60000, 0, &w), -EAGAIN);
	/* Taken when the bucket is full, then 45 recipients of debt: 4.6 s. */
	CHECK_INT(ses_governor_reserve(g, 50, 120000, 0, &w), 0);
	CHECK_INT(ses_governor_reserve(g, 1, 120000, 10000, &w), 0);
	CHECK_INT(w, 4600);
	ses_governor_free(g);
}

static void test_aimd(void)
{
	struct ses_governor *g;
	struct ses_governor_stats st;

	CHECK_INT(ses_governor_new(20, 600, &g), 0);
	ses_governor_throttled(g, 1000);
	ses_governor_throttled(g, 1100);	/* same burst: one cut */
	ses_governor_stats(g, 1100, &st);
	CHECK(st.rate > 9.99 && st.rate < 10.01);
	CHECK_INT(st.throttles, 2);
	ses_governor_throttled(g, 2100);
	ses_governor_stats(g, 2100, &st);
	CHECK(st.rate > 4.99 && st.rate < 5.1);
	/* + target/20 per second after the last cut's second: 5 -> 20 in 15 s. */
	ses_governor_stats(g, 3100, &st);
	CHECK(st.rate >= 5 && st.rate < 6.1);
	ses_governor_stats(g, 30000, &st);
	CHECK(st.rate > 19.99 && st.rate < 20.01);
	ses_governor_free(g);
}

static void test_pause_and_target(void)
{
	struct ses_governor *g;
	struct ses_governor_stats st;
	uint64_t w;

	CHECK_INT(ses_governor_new(1, 90, &g), 0);
	ses_governor_daily_quota(g, 1000);
	CHECK(ses_governor_paused(g, 1000));
	CHECK_INT(ses_governor_reserve(g, 1, 1000, UINT64_MAX, &w), -EAGAIN);
	CHECK_INT(w, 90 * 1000);	/* send_quota_pause */
	/* GetSendQuota shows room again: sending resumes, at the new target. */
	ses_governor_set_target(g, 14, true, 2000);
	CHECK(!ses_governor_paused(g, 2000));
	ses_governor_stats(g, 2000, &st);
	CHECK(st.rate > 13.99 && st.rate < 14.01);
	/* After a Throttling answer a higher quota is climbed to, not jumped to. */
	ses_governor_throttled(g, 2000);
	ses_governor_set_target(g, 28, true, 2500);
	ses_governor_stats(g, 2500, &st);
	CHECK(st.rate > 6.99 && st.rate < 7.01);
	CHECK_INT(ses_governor_reserve(g, 1, 2000, 0, &w), 0);
	ses_governor_set_target(g, 14, false, 3000);
	CHECK(ses_governor_paused(g, 3000));
	CHECK_INT(ses_governor_new(0, 600, &g), -EINVAL);
	CHECK_INT(ses_governor_new(1, 0, &g), -EINVAL);
	ses_governor_free(g);
}

int main(void)
{
	test_bucket();
	test_aimd();
	test_pause_and_target();
	return check_report();
}
