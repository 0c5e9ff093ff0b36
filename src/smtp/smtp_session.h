/* One SMTP connection (RFC 5321 with PIPELINING, 8BITMIME, SMTPUTF8,
 * CHUNKING, STARTTLS, AUTH, ENHANCEDSTATUSCODES): reads commands, checks
 * them in order and against the policy, streams message data through the
 * body decoder into the back end, and answers.
 *
 * Ownership: a session owns its socket, timer, TLS connection, buffers,
 * envelope and any open back end transaction (aborted if the client goes
 * away). It holds a runtime ref and borrows the server and back end. It
 * frees itself once its handles are closed.
 */
#ifndef SESRELAY_SMTP_SESSION_H
#define SESRELAY_SMTP_SESSION_H

#include <stdbool.h>

#include <uv.h>

#include "server.h"

/* Accept one connection from `listener` and run a session on it. */
void session_accept(struct server *srv, uv_stream_t *listener, bool implicit_tls);
/* Server shutdown: answer 421 4.3.2 and close now, or right after the
 * transaction in progress ends. `force`: close even mid-transaction. */
void session_shutdown(struct server_conn *c, bool force);

#endif
