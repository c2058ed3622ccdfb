/* request.h - building run->req, the one JSON object sent to the hub.
 * Each call returns CLI_OK, or CLI_USAGE after saying why (out of memory,
 * or an argument JSON cannot carry). */
#ifndef CH_CLI_REQUEST_H
#define CH_CLI_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/core/limits.h"
#include "cli/cli.h"

/* Starts run->req as {"cmd": the command's name with '-' between its
 * words ("identity add": "identity-add")}, and "device": device unless it
 * is NULL. */
int req_start(struct run *run, const char *device);

/* Sets key in the request; takes v (NULL: allocation failed). */
int req_set(struct run *run, const char *key, json_t *v);

/* Sets key to the string s; what names s when JSON cannot carry it. */
int req_str(struct run *run, const char *key, const char *s,
	    const char *what);

/* Sets key to the text an operand stands for: "-" reads standard input;
 * otherwise arg is the text itself, or with is_path the name of a file
 * holding it (at most CH_CLI_MAX_XML bytes either way). Empty text is
 * refused. */
int req_text(struct run *run, const char *key, const char *arg, bool is_path,
	     const char *what);

/* Sets "limit" unless limit is 0 (not given). */
int req_limit(struct run *run, uint32_t limit);

#endif
