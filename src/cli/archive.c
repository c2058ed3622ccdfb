/* archive.c - config, history and diff: the hub's configuration archive
 * (docs/operations.md, "The configuration archive"). diff asks the hub
 * for both versions (two exchanges) and diffs them here, so that no diff
 * runs in the hub's loop. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/conn.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "cli/table.h"
#include "lib/core/buf.h"
#include "lib/core/cliopt.h"
#include "lib/core/err.h"
#include "lib/core/linediff.h"

/* diff's second version (B), kept from build to print: one command per
 * process. */
static const char *diff_to;

/* A version as the operator names it into the request: a whole number is
 * a version ("version"), anything else a time ("at", unix seconds). */
static int version_sel(struct run *run, const char *s, const char *what)
{
	int64_t t;
	json_int_t v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 18; i++)
		v = v * 10 + (s[i] - '0');
	json_object_del(run->req, "version");
	json_object_del(run->req, "at");
	if (i > 0 && s[i] == '\0') {
		if (v < 1)
			return cli_usage_error(run, "%s: versions start at 1, "
					       "not '%s'", what, s);
		return req_set(run, "version", json_integer(v));
	}
	if (ch_parse_time(s, (int64_t)time(NULL), &t) != CH_OK || t < 1)
		return cli_usage_error(run, "%s wants a version number or a "
				       "time such as 2026-12-07T14:05:00Z, "
				       "2026-12-07, 2h (ago), @1765116300 or "
				       "now, not '%s'", what, s);
	return req_set(run, "at", json_integer((json_int_t)t));
}

int build_config(struct run *run, int argc, char **argv)
{
	const char *at = NULL;
	int r;

	if ((r = args_opts(run, argc, argv, OPT_AT, &at, NULL)) != CLI_OK ||
	    (r = args_device_operands(run, argc, argv, 1,
				      "wants one DEVICE")) != CLI_OK ||
	    (r = req_start(run, argv[optind])) != CLI_OK ||
	    (at && (r = version_sel(run, at, "--at")) != CLI_OK))
		return r;
	return CLI_OK;
}

int print_config(struct run *run, json_t *resp)
{
	json_t *c;
	const char *text;

	if (run->json)
		return resp_print_json(resp);
	if ((c = resp_need(resp, "config", JSON_OBJECT)) == NULL)
		return CLI_HUB;
	text = resp_str(c, "content", "");
	fputs(text, stdout);
	return CLI_OK;
}

enum { HI_VERSION, HI_TIME, HI_SIZE, HI_TRIGGER, HI_NCOLS };

static void history_row(json_t *v, struct cells *c)
{
	table_cell_int(c, HI_VERSION,
		       json_integer_value(json_object_get(v, "version")));
	c->cell[HI_TIME] = resp_str(v, "time", "-");
	table_cell_int(c, HI_SIZE,
		       json_integer_value(json_object_get(v, "size")));
	c->cell[HI_TRIGGER] = resp_str(v, "trigger", "-");
}

int print_history(struct run *run, json_t *resp)
{
	struct table t = {
		{ "VERSION", "TIME", "SIZE", "TRIGGER" },
		HI_NCOLS, history_row, { 0 },
	};

	return resp_print_list(run, resp, "versions", &t);
}

int build_diff(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_device_operands(run, argc, argv, 3,
				      "wants DEVICE A B (versions or times)"))
	    != CLI_OK ||
	    (r = req_start(run, argv[optind])) != CLI_OK ||
	    (r = version_sel(run, argv[optind + 1], "A")) != CLI_OK)
		return r;
	/* B is checked now, asked for after A */
	if ((r = version_sel(run, argv[optind + 2], "B")) != CLI_OK ||
	    (r = version_sel(run, argv[optind + 1], "A")) != CLI_OK)
		return r;
	diff_to = argv[optind + 2];
	/* the request is "config" twice */
	return req_set(run, "cmd", json_string("config"));
}

/* "r1 version 3 (2026-12-07T14:05:00Z, call)" */
static void header(char mark, json_t *dev, json_t *c)
{
	printf("%c%c%c %s version %lld (%s, %s)\n", mark, mark, mark,
	       resp_str(dev, "name", resp_str(dev, "fingerprint", "?")),
	       (long long)json_integer_value(json_object_get(c, "version")),
	       resp_str(c, "time", "?"), resp_str(c, "trigger", "-"));
}

int print_diff(struct run *run, json_t *resp)
{
	json_t *a, *b, *rb = NULL, *out;
	const char *ta, *tb;
	struct ch_buf d;
	int r;

	if ((a = resp_need(resp, "config", JSON_OBJECT)) == NULL)
		return CLI_HUB;
	if ((r = version_sel(run, diff_to, "B")) != CLI_OK ||
	    (r = conn_exchange(run, &rb)) != CLI_OK)
		return r;
	if (json_is_false(json_object_get(rb, "ok"))) {
		r = resp_refused(run, rb);
		goto done;
	}
	if ((b = resp_need(rb, "config", JSON_OBJECT)) == NULL) {
		r = CLI_HUB;
		goto done;
	}
	ta = resp_str(a, "content", "");
	tb = resp_str(b, "content", "");
	ch_buf_init(&d, CH_CLI_MAX_RESPONSE);
	if (ch_linediff(ta, strlen(ta), tb, strlen(tb), CH_DIFF_CONTEXT, &d,
			NULL) != CH_OK) {
		ch_buf_cleanup(&d);
		cli_fail("cannot diff the two versions: out of memory");
		r = CLI_USAGE;
		goto done;
	}
	if (run->json) {
		json_object_del(a, "content");
		json_object_del(b, "content");
		out = json_pack("{s:b, s:O, s:O, s:O, s:s%}", "ok", 1,
				"device", json_object_get(resp, "device"),
				"from", a, "to", b, "diff", ch_buf_ptr(&d),
				ch_buf_len(&d));
		r = resp_print_json(out);
		json_decref(out);
	} else if (ch_buf_len(&d)) {
		header('-', json_object_get(resp, "device"), a);
		header('+', json_object_get(resp, "device"), b);
		fwrite(ch_buf_ptr(&d), 1, ch_buf_len(&d), stdout);
		r = CLI_OK;
	}
	ch_buf_cleanup(&d);
done:
	json_decref(rb);
	return r;
}
