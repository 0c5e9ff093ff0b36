#include "header_filter.h"

#include <errno.h>
#include <strings.h>

enum { HF_LINE_START, HF_NAME, HF_PASS_LINE, HF_DROP_LINE, HF_BODY };

static const char prefix[] = "X-SES-";
#define PREFIX_LEN (sizeof(prefix) - 1)

void header_filter_init(struct header_filter *f, bool reject, header_sink_fn sink, void *arg)
{
	f->state = HF_LINE_START;
	f->reject = reject;
	f->dropping = false;
	f->nname = 0;
	f->removed = 0;
	f->sink = sink;
	f->arg = arg;
}

static int emit(struct header_filter *f, const char *p, size_t n)
{
	return n ? f->sink(f->arg, p, n) : 0;
}

int header_filter_feed(struct header_filter *f, const char *p, size_t n)
{
	size_t i = 0, run = 0;	/* p[run..i) is passed through at the next flush */
	int r;

	while (i < n) {
		char c = p[i];

		switch (f->state) {
		case HF_BODY:
			return emit(f, p + run, n - run);
		case HF_LINE_START:
			if (c == '\r' || c == '\n') {
				f->state = HF_BODY;	/* the empty line: headers end */
				continue;
			}
			if (c == ' ' || c == '\t') {
				/* a folded continuation belongs to the previous field */
				f->state = f->dropping ? HF_DROP_LINE : HF_PASS_LINE;
				continue;
			}
			if ((r = emit(f, p + run, i - run)))
				return r;
			f->dropping = false;
			f->nname = 0;
			f->state = HF_NAME;
			run = i;
			continue;
		case HF_NAME:
			f->name[f->nname++] = c;
			i++;
			run = i;
			if (f->nname < PREFIX_LEN && c != '\n' && c != ':')
				continue;
			if (f->nname == PREFIX_LEN && strncasecmp(f->name, prefix, PREFIX_LEN) == 0) {
				if (f->reject)
					return -EPERM;
				f->dropping = true;
				f->removed++;
				f->state = c == '\n' ? HF_LINE_START : HF_DROP_LINE;
				continue;
			}
			if ((r = emit(f, f->name, f->nname)))
				return r;
			f->state = c == '\n' ? HF_LINE_START : HF_PASS_LINE;
			continue;
		case HF_PASS_LINE:
			i++;
			if (c == '\n')
				f->state = HF_LINE_START;
			continue;
		case HF_DROP_LINE:
			i++;
			run = i;
			if (c == '\n')
				f->state = HF_LINE_START;
			continue;
		}
	}
	if (f->state == HF_NAME)
		return 0;	/* name bytes are held in f->name */
	return emit(f, p + run, n - run);
}

int header_filter_finish(struct header_filter *f)
{
	int r = 0;

	if (f->state == HF_NAME)
		r = emit(f, f->name, f->nname);
	f->state = HF_BODY;
	return r;
}
