/* Queue ids: 12 hex digits of milliseconds since the epoch, then 8 random
 * hex digits, so ids sort by arrival and never repeat across restarts. */
#ifndef SESRELAY_QUEUE_ID_H
#define SESRELAY_QUEUE_ID_H

#include <stddef.h>

/* out must hold QUEUE_ID_LEN + 1 bytes. 0 or -EIO. */
int queue_id_new(char *out);
/* True when s is a well-formed queue id. */
int queue_id_valid(const char *s);

#endif
