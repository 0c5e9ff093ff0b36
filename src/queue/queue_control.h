/* The queue's control socket, <queue_dir>/control: a Unix stream socket
 * (mode 0600: whoever may write the queue may run it) on the main loop,
 * through which `sesrelay queue ...` works against the running relay.
 *
 * One request per connection, one line: "list", "show ID", "flush",
 * "flush ID", "delete ID", "hold ID", "release ID". One answer, a line of
 * JSON: the list or the message for list/show, {"ok":true} for the
 * others, {"error":"..."} on failure; then the socket closes. Requests
 * are bounded in length (QUEUE_CONTROL_MAX_LINE) and in time
 * (control_timeout), connections in number (control_max_connections).
 *
 * Ownership: the control object owns its listening pipe and connections
 * and borrows the queue. queue_control_close() closes everything; the
 * object frees itself once the loop has run the close callbacks.
 */
#ifndef SESRELAY_QUEUE_CONTROL_H
#define SESRELAY_QUEUE_CONTROL_H

#include <stddef.h>

#include <uv.h>

#define QUEUE_CONTROL_NAME "control"
#define QUEUE_CONTROL_MAX_LINE 256

struct buf;
struct queue;
struct queue_control;

int queue_control_new(uv_loop_t *loop, struct queue *q, const char *dir, unsigned timeout_s,
	unsigned max_conns, struct queue_control **out, char *err, size_t errlen);
void queue_control_close(struct queue_control *c);

/* The answer to one request line: one JSON line appended to out. */
int queue_control_run(struct queue *q, const char *line, struct buf *out);

#endif
