/* audit.c - the audit command: the hub's record of who did what, with
 * filters by device, time and actor. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "cli/table.h"
#include "lib/core/cliopt.h"
#include "lib/core/err.h"

/* --since/--until: T into the request as unix seconds. */
static int time_opt(struct run *run, const char *key, const char *s)
{
	int64_t t;

	if (ch_parse_time(s, (int64_t)time(NULL), &t) != CH_OK)
		return cli_usage_error(run, "--%s wants a time such as "
				       "2026-12-07T14:05:00Z, 2026-12-07, 2h "
				       "(ago), 7d, @1765116300 or now, not "
				       "'%s'", key, s);
	return req_set(run, key, json_integer((json_int_t)t));
}

int build_audit(struct run *run, int argc, char **argv)
{
	const char *dev = NULL, *since = NULL, *until = NULL, *actor = NULL;
	uint32_t limit = 0;
	int c, r;

	while ((c = args_next(run, argc, argv)) != -1) {
		switch (c) {
		case OPT_DEVICE:
			dev = optarg;
			break;
		case OPT_SINCE:
			since = optarg;
			break;
		case OPT_UNTIL:
			until = optarg;
			break;
		case OPT_ACTOR:
			actor = optarg;
			break;
		case 'n':
			if ((r = args_limit(run, optarg, &limit)) != CLI_OK)
				return r;
			break;
		default:
			return args_opt_done(run, c);
		}
	}
	if ((r = args_operands(run, argc, 0, 0, "takes no operands (the "
			       "device is --device D)")) != CLI_OK ||
	    (dev && (r = args_nonempty(run, dev, "--device")) != CLI_OK) ||
	    (actor && (r = args_nonempty(run, actor, "--actor")) != CLI_OK) ||
	    (r = req_start(run, dev)) != CLI_OK ||
	    (r = req_limit(run, limit)) != CLI_OK ||
	    (since && (r = time_opt(run, "since", since)) != CLI_OK) ||
	    (until && (r = time_opt(run, "until", until)) != CLI_OK) ||
	    (actor && (r = req_str(run, "actor", actor, "--actor")) != CLI_OK))
		return r;
	return CLI_OK;
}

enum { AU_TIME, AU_ACTOR, AU_DEV, AU_ACTION, AU_OUTCOME, AU_DETAIL,
       AU_NCOLS };

static void audit_row(json_t *a, struct cells *c)
{
	json_t *uid = json_object_get(a, "uid");
	const char *actor = resp_str(a, "actor", "?");

	c->cell[AU_TIME] = resp_str(a, "time", "-");
	if (json_is_integer(uid))
		snprintf(c->buf[AU_ACTOR], CELL_MAX, "%s(uid=%lld)", actor,
			 (long long)json_integer_value(uid));
	else
		snprintf(c->buf[AU_ACTOR], CELL_MAX, "%s(%s)", actor,
			 resp_str(a, "via", "?"));
	c->cell[AU_ACTOR] = c->buf[AU_ACTOR];
	c->cell[AU_DEV] = json_is_string(json_object_get(a, "device"))
		? resp_device_label(a, c->buf[AU_DEV], CELL_MAX) : "-";
	c->cell[AU_ACTION] = resp_str(a, "action", "?");
	c->cell[AU_OUTCOME] = resp_str(a, "outcome", "?");
	c->cell[AU_DETAIL] = resp_str(a, "detail", "");
}

int print_audit(struct run *run, json_t *resp)
{
	struct table t = {
		{ "TIME", "ACTOR", "DEVICE", "ACTION", "OUTCOME", "DETAIL" },
		AU_NCOLS, audit_row, { 0 },
	};

	return resp_print_list(run, resp, "audit", &t);
}
