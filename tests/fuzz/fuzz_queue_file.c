/* Queue files are read back after crashes, full disks and operators'
 * editors: the parser must refuse anything malformed without crashing,
 * and whatever it accepts must render and re-parse the same. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_file qf, qf2;
	char *copy;

	if (queue_file_parse((const char *)data, size, &qf) != 0)
		return 0;
	(void)queue_file_verify(&qf, (const char *)data, size);
	for (size_t b = 0; b < qf.nbatch; b++)
		(void)queue_batch_count(&qf, b);
	copy = malloc(size);
	if (copy) {
		memcpy(copy, data, size);
		qf.attempts++;
		queue_file_mut_render(&qf, copy + qf.mut_off);
		if (queue_file_parse(copy, size, &qf2) != 0 || qf2.attempts != qf.attempts ||
		    strcmp(qf2.state, qf.state) != 0 || qf2.header_len != qf.header_len)
			abort();
		queue_file_free(&qf2);
		free(copy);
	}
	queue_file_free(&qf);
	return 0;
}
