/* events.c - the events command, and events --follow: after the first
 * answer it polls the hub for newer events until SIGINT, one connection
 * per poll, so a restarted hub is simply the next connection. */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/conn.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "cli/select.h"
#include "cli/table.h"

int build_events(struct run *run, int argc, char **argv)
{
	struct cli_select sel = { NULL };
	const char *dev = NULL;
	uint32_t limit = 0;
	bool taken;
	int c, r;

	while ((c = args_next(run, argc, argv)) != -1) {
		if ((r = sel_option(run, &sel, c, optarg, &taken)) != CLI_OK)
			goto fail;
		if (taken)
			continue;
		if (c == 'f') {
			run->follow = true;
		} else if (c == 'n') {
			if ((r = args_limit(run, optarg, &limit)) != CLI_OK)
				goto fail;
		} else {
			r = args_opt_done(run, c);
			goto fail;
		}
	}
	if ((r = sel_device_or_glob(run, argc, argv, &sel, &dev)) != CLI_OK ||
	    (r = req_start(run, dev)) != CLI_OK ||
	    (r = sel_finish(run, &sel)) != CLI_OK ||
	    (r = req_limit(run, limit)) != CLI_OK)
		goto fail;
	if (run->follow) {
		/* each event as it comes, even into a pipe */
		setvbuf(stdout, NULL, _IOLBF, 0);
		cli_catch_sigint();
	}
	return CLI_OK;
fail:
	sel_drop(&sel);
	return r;
}

enum { EV_TIME, EV_DEV, EV_KIND, EV_DETAIL, EV_NCOLS };

static void event_row(json_t *ev, struct cells *c)
{
	c->cell[EV_TIME] = resp_str(ev, "time", "-");
	c->cell[EV_DEV] = resp_device_label(ev, c->buf[EV_DEV], CELL_MAX);
	c->cell[EV_KIND] = resp_str(ev, "kind", "?");
	c->cell[EV_DETAIL] = resp_str(ev, "detail", "");
}

/* Prints the events newer than *since (a row each, or a JSON line each)
 * and moves *since past them. Returns how many the hub sent. */
static size_t emit_events(struct run *run, const struct table *t,
			  json_t *resp, json_int_t *since)
{
	json_t *evs = json_object_get(resp, "events"), *ev;
	json_int_t id, last;
	struct cells c;
	size_t i;

	json_array_foreach(evs, i, ev) {
		id = json_integer_value(json_object_get(ev, "id"));
		if (id <= *since)
			continue;	/* seen already */
		*since = id;
		if (run->json) {
			resp_print_json_line(ev);
		} else {
			t->row(ev, &c);
			table_line(t, c.cell);
		}
	}
	/* Nothing matched up to last_id: start after it. With events in
	 * hand, the last of them is the cursor, in case the hub capped the
	 * batch below its newest. */
	last = json_integer_value(json_object_get(resp, "last_id"));
	if (json_array_size(evs) == 0 && last > *since)
		*since = last;
	return json_array_size(evs);
}

/* events --follow after the first answer: poll with since = the newest
 * event seen until SIGINT. A hub that goes away is said once, then asked
 * again every interval until it answers. */
static int follow_events(struct run *run, const struct table *t,
			 json_int_t since)
{
	char why[CLI_MSG_MAX];
	bool lost = false;
	json_t *resp = NULL;
	size_t n = 0;
	int r;

	r = req_set(run, "limit", json_integer(CH_CLI_FOLLOW_BATCH));
	if (r != CLI_OK)
		return r;
	for (;;) {
		/* a full batch: there may be more, ask again at once */
		if (n < CH_CLI_FOLLOW_BATCH && !cli_interrupted())
			poll(NULL, 0, CH_CLI_FOLLOW_INTERVAL_MS);
		if (cli_interrupted())
			break;
		if ((r = req_set(run, "since", json_integer(since))) != CLI_OK)
			return r;
		cli_fail_mute(true);
		r = conn_exchange(run, &resp);
		cli_fail_mute(false);
		if (cli_interrupted())
			break;
		n = 0;
		if (r != CLI_OK) {
			if (!lost) {
				snprintf(why, sizeof(why), "%s",
					 cli_last_failure());
				cli_fail("%s; retrying every %d s (Ctrl-C to "
					 "stop)", why,
					 CH_CLI_FOLLOW_INTERVAL_MS / 1000);
			}
			lost = true;
			continue;
		}
		if (json_is_false(json_object_get(resp, "ok"))) {
			r = resp_refused(run, resp);
			goto out;
		}
		if (resp_need(resp, "events", JSON_ARRAY) == NULL) {
			r = CLI_HUB;
			goto out;
		}
		if (lost)
			cli_fail("the hub at %s answers again", run->socket);
		lost = false;
		n = emit_events(run, t, resp, &since);
		json_decref(resp);
		resp = NULL;
	}
	r = CLI_OK;	/* SIGINT is how --follow ends */
out:
	json_decref(resp);
	return r;
}

int print_events(struct run *run, json_t *resp)
{
	struct table t = {
		{ "TIME", "DEVICE", "KIND", "DETAIL" },
		EV_NCOLS, event_row, { 0 },
	};
	json_t *evs;
	json_int_t since = 0;

	if (!run->follow)
		return resp_print_list(run, resp, "events", &t);
	if ((evs = resp_need(resp, "events", JSON_ARRAY)) == NULL)
		return CLI_HUB;
	/* rows to come are not known yet: leave room for typical ones */
	t.width[EV_TIME] = (int)strlen("2026-01-01T00:00:00Z");
	t.width[EV_DEV] = (int)(sizeof("SHA256:") - 1 + CLI_SHORT_FP);
	t.width[EV_KIND] = (int)strlen("disconnected");
	table_measure(&t, evs);
	if (!run->json)
		table_line(&t, t.head);
	emit_events(run, &t, resp, &since);
	return follow_events(run, &t, since);
}
