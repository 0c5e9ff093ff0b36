/* Streaming filter over a message's header section that removes (or
 * refuses) fields whose name starts with "X-SES-": SES treats those as
 * instructions (configuration set, source ARN, tags), and only the
 * operator's configuration may give them.
 *
 * Pure and allocation-free: it looks at each field's first six bytes,
 * never buffers more than that, and passes everything after the first
 * empty line through untouched. Output goes to a sink callback in runs.
 */
#ifndef SESRELAY_HEADER_FILTER_H
#define SESRELAY_HEADER_FILTER_H

#include <stdbool.h>
#include <stddef.h>

typedef int (*header_sink_fn)(void *arg, const char *p, size_t n);

struct header_filter {
	int state;
	bool reject;		/* refuse instead of strip */
	bool dropping;		/* the current field is being removed */
	size_t nname;
	char name[6];
	unsigned removed;	/* fields removed so far */
	header_sink_fn sink;
	void *arg;
};

void header_filter_init(struct header_filter *f, bool reject, header_sink_fn sink, void *arg);
/* Returns 0, the sink's error, or -EPERM in reject mode when an X-SES-
 * field is seen (nothing after it is emitted). */
int header_filter_feed(struct header_filter *f, const char *p, size_t n);
/* Flush what is held back (a message that ends inside a field name). */
int header_filter_finish(struct header_filter *f);

#endif
