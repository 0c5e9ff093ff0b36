/* `workers N` with N > 1: the relay on N event loops in threads.
 *
 * The main thread loads the runtime and owns the main loop: the signal
 * handlers (SIGTERM/SIGINT drain every worker, SIGHUP reloads once and
 * hands the new runtime to every worker), the admin HTTP endpoint, and a
 * back end built as in the single-loop relay, which for `backend ses`
 * holds the one shared-account identity (STS client and credentials
 * cache) every worker signs with. Each worker has its own loop, its own
 * struct server in one server_group (SO_REUSEPORT listeners on the same
 * addresses) and its own back end (for ses: its own curl multi handle and
 * SES client borrowing the main cache). Workers talk to the main loop
 * only through uv_async_t and the thread-safe parts of the cache.
 *
 * Everything is created on the main thread before any worker starts, so
 * a bad address or an unusable back end fails the start as with one
 * loop; the threads then only run their loops.
 */
#ifndef SESRELAY_WORKERS_H
#define SESRELAY_WORKERS_H

#include <uv.h>

#include "config.h"

struct runtime;

/* cfg->workers, with 0 meaning the number of usable cores. */
unsigned workers_count(const struct config *cfg);
/* Run until SIGTERM/SIGINT; rt is borrowed. The exit status: 0 after a
 * clean drain, 2 for a configuration error, 1 when a listener or thread
 * cannot be set up. */
int workers_run(const char *config_path, struct runtime *rt, unsigned n);

#endif
