/* One SMTP connection (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
 * CHUNKING, STARTTLS, AUTH, ENHANCEDSTATUSCODES): reads commands, checks
 * them in order and against the policy, streams message data through the
 * body decoder into the back end, and answers.
 *
 * Ownership: a session owns its socket, timer, TLS connection, buffers,
 * envelope and any open back end transaction (aborted if the client goes
 * away). Its object is allocated by the listener (struct listener_conn
 * first) and handed over on accept; it holds a runtime ref, borrows the
 * smtp_server and back end, and frees itself (listener_conn_free) once its
 * handles are closed.
 */
#ifndef SESRELAY_SMTP_SESSION_H
#define SESRELAY_SMTP_SESSION_H

#include <stdbool.h>


#include "listener.h"
#include "smtp_server.h"

/* Run a session on a connection the listener accepted (c is a struct
 * session); refuse it with 421 when v says it is over a cap. */
void session_accept(struct smtp_server *srv, struct listener_conn *c, enum listener_verdict v);
/* Server shutdown: answer 421 4.3.2 and close now, or right after the
 * transaction in progress ends. `force`: close even mid-transaction. */
void session_shutdown(struct listener_conn *c, bool force);

#endif
