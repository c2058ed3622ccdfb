/* select.h - the CLI's one reading of device selectors, shared by
 * devices, jobs, events and the job commands (rpc, get-config,
 * edit-config): --tag KEY=VALUE and --group NAME (repeatable, all must
 * match), --name GLOB (fnmatch rules), and the device's state. They
 * become the request's "select" object, which the hub parses
 * (hub/select.h; docs/control-api.md, "Selectors"). */
#ifndef CH_CLI_SELECT_H
#define CH_CLI_SELECT_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "cli/cli.h"

/* The selector options as getopt_long entries (OPT_* of args.h). */
#define SELECT_LONGOPTS                                                  \
	{ "tag", required_argument, NULL, OPT_TAG },                     \
	{ "group", required_argument, NULL, OPT_GROUP },                 \
	{ "name", required_argument, NULL, OPT_NAME }

struct cli_select {
	json_t *obj;		/* NULL until an option selects */
};

/* Takes option c with its value arg if it is a selector option (--tag,
 * --group, --name; OPT_DEVICE_STATE and, where state_opt, OPT_STATE for
 * the device's state): *taken is then true. CLI_OK or CLI_USAGE. */
int sel_option(struct run *run, struct cli_select *sel, int c,
	       const char *arg, bool *taken);
/* Whether s reads as a name glob (has * ? or [) rather than a DEVICE. */
bool sel_is_glob(const char *s);
/* Adds --name GLOB as an operand gave it. */
int sel_glob(struct run *run, struct cli_select *sel, const char *glob);
/* [DEVICE] of jobs and events: *dev is the operand, or NULL when there
 * is none or it is a GLOB (then taken as --name). DEVICE with a
 * selection is refused. */
int sel_device_or_glob(struct run *run, int argc, char **argv,
		       struct cli_select *sel, const char **dev);
/* Whether anything was selected. */
bool sel_given(const struct cli_select *sel);
/* Sets "select" in run->req (after req_start) if anything was selected;
 * frees sel either way. */
int sel_finish(struct run *run, struct cli_select *sel);
/* Frees sel (a build that failed). */
void sel_drop(struct cli_select *sel);

#endif
