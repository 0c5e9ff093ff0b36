/* The DATA/BDAT decoder sees every byte a client sends. Besides not
 * crashing it must (1) give the same result however the input is split
 * into reads, and (2) end DATA exactly at the first <CRLF>.<CRLF> of the
 * wire stream and nowhere else (SMTP smuggling). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t feed_all(struct smtp_data *d, const char *p, size_t n, size_t step,
	struct buf *out)
{
	size_t used = 0;

	while (used < n && !d->done) {
		size_t k = n - used < step ? n - used : step;
		size_t c = smtp_data_feed(d, p + used, k, out);
		used += c;
		if (c < k && !d->done)
			abort();	/* only the end marker stops it early */
	}
	if (d->mode != SMTP_DATA_DOT)
		smtp_data_finish(d, out);
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_data_limits lim;
	struct smtp_data a, b;
	struct buf oa = BUF_INIT, ob = BUF_INIT;
	enum smtp_data_mode mode;
	size_t step, ua, ub;
	const char *p;

	if (size < 3)
		return 0;
	mode = (enum smtp_data_mode)(data[0] % 3);
	lim.normalize_bare = data[0] & 0x10;
	lim.max_line = data[0] & 0x20 ? 0 : 78 + data[1];
	lim.max_size = data[0] & 0x40 ? 64 + data[1] * 4u : 1u << 20;
	step = 1 + data[2] % 17;
	p = (const char *)data + 3;
	size -= 3;

	smtp_data_init(&a, &lim, mode);
	smtp_data_init(&b, &lim, mode);
	ua = feed_all(&a, p, size, size ? size : 1, &oa);
	ub = feed_all(&b, p, size, step, &ob);
	if (ua != ub || a.done != b.done || a.err != b.err || a.size != b.size)
		abort();
	if (a.err == SMTP_DATA_OK && (oa.len != ob.len || (oa.len && memcmp(oa.data, ob.data, oa.len))))
		abort();
	if (a.err == SMTP_DATA_OK && oa.len > lim.max_size)
		abort();
	if (mode == SMTP_DATA_DOT) {
		/* Where does a strict reader see the end? "\r\n" + input. */
		char *w = malloc(size + 2);
		size_t end = 0;
		bool found = false;
		memcpy(w, "\r\n", 2);
		memcpy(w + 2, p, size);
		for (size_t i = 0; i + 5 <= size + 2; i++) {
			if (memcmp(w + i, "\r\n.\r\n", 5) == 0) {
				found = true;
				end = i + 5 - 2;
				break;
			}
		}
		free(w);
		if (found != a.done || (found && end != ua))
			abort();
	} else if (a.done || ua != size) {
		abort();
	}
	buf_free(&oa);
	buf_free(&ob);
	return 0;
}
