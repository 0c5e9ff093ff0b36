#include "queue_id.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "queue_file.h"

int queue_id_new(char *out)
{
	unsigned char rnd[4];
	struct timespec ts;
	unsigned long long ms;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
	snprintf(out, QUEUE_ID_LEN + 1, "%012llx%02x%02x%02x%02x", ms & 0xffffffffffffULL,
		rnd[0], rnd[1], rnd[2], rnd[3]);
	return 0;
}

int queue_id_valid(const char *s)
{
	if (s == NULL || strlen(s) != QUEUE_ID_LEN)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}
