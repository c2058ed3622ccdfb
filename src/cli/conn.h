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

#endif
