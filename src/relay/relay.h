/* The relay: the SMTP front end on `workers` event loops, run from the
 * main thread until SIGTERM/SIGINT. One code path for any number of
 * workers, 1 included.
 *
 * The main thread loads the runtime and owns the main loop: the signal
 * handlers (SIGTERM/SIGINT drain every worker, SIGHUP reloads once and
 * hands the new runtime to every worker), the admin HTTP endpoint (which
 * asks the relay whether the listeners are up and not draining, and the
 * back end whether it can deliver), and the back end the configuration
 * names, which for `backend ses` holds the shared-account identity
 * (credentials cache with its STS and HTTP clients) in the identity slot
 * every worker's sends take it from; SIGHUP rebuilds it through the back
 * end's reload operation. Each
 * worker has a loop, a listener (one member of one listener group:
 * SO_REUSEPORT on the same addresses, connection caps counted across the
 * group), an SMTP front end and a back end (for ses: its own curl multi
 * handle and SES client reading the main identity slot, built through
 * the back end's new_worker operation).
 *
 * Everything is built on the main thread before any worker runs, so a
 * bad address or an unusable back end fails the start whatever the
 * number of workers; the threads then only run their loops. Workers talk
 * to the main loop only through uv_async_t both ways (stop and new
 * runtime to a worker; "reload applied" and "ended" back) and what is
 * made to be shared: the credentials cache's thread-safe calls, the
 * identity slot, the listener group's counts, atomic refcounts and metrics.
 */
#ifndef SESRELAY_RELAY_H
#define SESRELAY_RELAY_H

#include "config.h"

/* cfg->workers, with 0 meaning the number of usable cores. */
unsigned relay_workers(const struct config *cfg);
/* Load config_path (NULL: defaults and environment) and run until
 * SIGTERM/SIGINT. The exit status: 0 after a clean drain, 2 for a
 * configuration error, 1 when a listener, loop or thread cannot be set
 * up. */
int relay_run(const char *config_path);

#endif
