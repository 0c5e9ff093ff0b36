/* Minimal assertion macros for the C unit tests: a failed check prints
 * both sides and the location, counts as a failure, and the test keeps
 * going so one run shows every broken case. main() ends with
 * `return check_report();`. */
#ifndef SESRELAY_CHECK_H
#define SESRELAY_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond) do { \
	check_count++; \
	if (!(cond)) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

#define CHECK_INT(a, b) do { \
	long long va_ = (long long)(a), vb_ = (long long)(b); \
	check_count++; \
	if (va_ != vb_) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, #b, va_, vb_); \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *sa_ = (a), *sb_ = (b); \
	check_count++; \
	if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: %s == %s:\n  \"%s\"\n  \"%s\"\n", __FILE__, __LINE__, #a, #b, \
			sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
	} \
} while (0)

#define CHECK_MEM(a, alen, b, blen) do { \
	size_t la_ = (alen), lb_ = (blen); \
	check_count++; \
	if (la_ != lb_ || memcmp((a), (b), la_) != 0) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: %s (%zu bytes) != %s (%zu bytes)\n", __FILE__, __LINE__, #a, la_, #b, lb_); \
	} \
} while (0)

static inline int check_report(void)
{
	fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif
