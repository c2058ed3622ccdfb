/* sessions.c - the terminal sessions the hub holds, and its recordings:
 * `callhome sessions`, `callhome recordings` (docs/terminal.md). */
#include <stdio.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "cli/table.h"

int build_sessions(struct run *run, int argc, char **argv)
{
	const char *dev;
	uint32_t limit = 0;
	int r;

	if ((r = args_opts(run, argc, argv, 0, NULL,
			   run->cmd->shortopts ? &limit : NULL)) != CLI_OK ||
	    (r = args_optional_device(run, argc, argv, &dev)) != CLI_OK ||
	    (r = req_start(run, dev)) != CLI_OK)
		return r;
	return req_limit(run, limit);
}

/* Unix seconds as UTC. */
static const char *utc(json_t *v, char *buf, size_t size)
{
	time_t t = (time_t)json_integer_value(v);
	struct tm tm;

	if (!json_is_integer(v) || t <= 0 || gmtime_r(&t, &tm) == NULL)
		return "-";
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static const char *who(json_t *o, char *buf, size_t size)
{
	const char *user = resp_str(o, "user", NULL);
	json_t *uid = json_object_get(o, "uid");

	if (user)
		return user;
	if (!json_is_integer(uid))
		return "-";
	snprintf(buf, size, "uid %lld", (long long)json_integer_value(uid));
	return buf;
}

enum { SE_ID, SE_DEV, SE_KIND, SE_STATE, SE_USER, SE_STARTED, SE_WATCH,
       SE_BYTES, SE_NCOLS };

static void session_row(json_t *s, struct cells *c)
{
	json_t *pty = json_object_get(s, "pty");

	table_cell_int(c, SE_ID, json_integer_value(json_object_get(s, "id")));
	c->cell[SE_DEV] = resp_device_label(s, c->buf[SE_DEV], CELL_MAX);
	snprintf(c->buf[SE_KIND], CELL_MAX, "%s%s", resp_str(s, "kind", "?"),
		 json_is_true(pty) ? "" : " (no pty)");
	c->cell[SE_KIND] = c->buf[SE_KIND];
	c->cell[SE_STATE] = resp_str(s, "state", "?");
	c->cell[SE_USER] = who(s, c->buf[SE_USER], CELL_MAX);
	c->cell[SE_STARTED] = utc(json_object_get(s, "started"),
				  c->buf[SE_STARTED], CELL_MAX);
	table_cell_int(c, SE_WATCH, json_integer_value(json_object_get(s,
			"watchers")));
	snprintf(c->buf[SE_BYTES], CELL_MAX, "%lld/%lld",
		 (long long)json_integer_value(json_object_get(s, "bytes_in")),
		 (long long)json_integer_value(json_object_get(s,
			"bytes_out")));
	c->cell[SE_BYTES] = c->buf[SE_BYTES];
}

int print_sessions(struct run *run, json_t *resp)
{
	struct table t = {
		{ "ID", "DEVICE", "KIND", "STATE", "OPERATOR", "STARTED",
		  "WATCHERS", "IN/OUT" },
		SE_NCOLS, session_row, { 0 },
	};

	return resp_print_list(run, resp, "sessions", &t);
}

enum { RE_ID, RE_DEV, RE_KIND, RE_STARTED, RE_DURATION, RE_SIZE, RE_USER,
       RE_NCOLS };

static void recording_row(json_t *o, struct cells *c)
{
	const char *cmd = resp_str(o, "command", NULL);

	table_cell_int(c, RE_ID, json_integer_value(json_object_get(o, "id")));
	c->cell[RE_DEV] = resp_device_label(o, c->buf[RE_DEV], CELL_MAX);
	if (cmd)
		snprintf(c->buf[RE_KIND], CELL_MAX, "%s '%.40s'",
			 resp_str(o, "kind", "?"), cmd);
	else
		snprintf(c->buf[RE_KIND], CELL_MAX, "%s",
			 resp_str(o, "kind", "?"));
	c->cell[RE_KIND] = c->buf[RE_KIND];
	c->cell[RE_STARTED] = utc(json_object_get(o, "started"),
				  c->buf[RE_STARTED], CELL_MAX);
	snprintf(c->buf[RE_DURATION], CELL_MAX, "%.1fs",
		 json_number_value(json_object_get(o, "duration")));
	c->cell[RE_DURATION] = c->buf[RE_DURATION];
	table_cell_int(c, RE_SIZE, json_integer_value(json_object_get(o,
			"size")));
	c->cell[RE_USER] = who(o, c->buf[RE_USER], CELL_MAX);
}

int print_recordings(struct run *run, json_t *resp)
{
	struct table t = {
		{ "ID", "DEVICE", "KIND", "STARTED", "DURATION", "SIZE",
		  "OPERATOR" },
		RE_NCOLS, recording_row, { 0 },
	};

	return resp_print_list(run, resp, "recordings", &t);
}
