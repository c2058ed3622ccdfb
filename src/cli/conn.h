/* conn.h - one exchange with the hub: connect to run->socket, send
 * run->req as one line, read one response line, all within run->timeout_s
 * from the start. */
#ifndef CH_CLI_CONN_H
#define CH_CLI_CONN_H

#include <jansson.h>

#include "lib/core/limits.h"
#include "cli/cli.h"

/* Sends run->req and reads the response: an object with a boolean "ok"
 * (*resp, returns new; json_decref it). CLI_OK, or CLI_HUB after saying
 * why (unreachable, timed out, closed, too big, malformed). SIGINT cuts
 * the waits short. */
int conn_exchange(const struct run *run, json_t **resp);

struct ch_buf;

/* conn_exchange for a request that turns the connection into a stream
 * (exec, shell): on CLI_OK the socket stays open in *fd (non-blocking;
 * the caller closes it) and the bytes the hub sent after its response
 * line are appended to rest. */
int conn_open_stream(const struct run *run, json_t **resp, int *fd,
		     struct ch_buf *rest);

#endif
