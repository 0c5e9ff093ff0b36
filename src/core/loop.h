/* Event-loop helpers shared by every loop the process runs: the relay's
 * main and worker loops and the one-shot command loops (check, whoami).
 */
#ifndef SESRELAY_LOOP_H
#define SESRELAY_LOOP_H

#include <uv.h>

/* Run the loop until every handle is closed and the loop is freed: what
 * is still open once it runs dry is closed, so a forgotten handle cannot
 * keep uv_loop_close() failing. */
void loop_drain(uv_loop_t *loop);

#endif
