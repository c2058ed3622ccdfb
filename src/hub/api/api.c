/* api.c - the operator API's one command table and its dispatch. */
#include "hub/api/api.h"

#include <stdio.h>
#include <string.h>

#include "hub/api/devices.h"
#include "hub/api/events.h"
#include "hub/api/identity.h"
#include "hub/api/jobs.h"
#include "hub/api/term.h"
#include "hub/jobs.h"

static const struct {
	const char *name;
	void (*fn)(struct hub *, struct hub_ctl_req *, json_t *);
} commands[] = {
	{ "devices", cmd_devices },
	{ "device", cmd_device },
	{ "approve", cmd_approve },
	{ "add", cmd_add },
	{ "rename", cmd_rename },
	{ "revoke", cmd_revoke },
	{ "set", cmd_set },
	{ "identity-add", cmd_identity_add },
	{ "identity-remove", cmd_identity_remove },
	{ "import-serials", cmd_import_serials },
	{ "rpc", cmd_rpc },
	{ "get-config", cmd_get_config },
	{ "edit-config", cmd_edit_config },
	{ "jobs", cmd_jobs },
	{ "job", cmd_job },
	{ "cancel", cmd_cancel },
	{ "retry", cmd_retry },
	{ "events", cmd_events },
	{ "exec", cmd_exec },
	{ "shell", cmd_shell },
	{ "sessions", cmd_sessions },
	{ "recordings", cmd_recordings },
	{ "play", cmd_play },
};

static void dispatch(void *ctx, struct hub_ctl_req *req, const char *cmd,
		     json_t *args)
{
	char msg[160];

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) == 0) {
			commands[i].fn(ctx, req, args);
			return;
		}
	}
	snprintf(msg, sizeof(msg), "unknown command '%.100s'", cmd);
	hub_ctl_fail(req, "unknown-command", msg);
}

static void stopping(void *ctx)
{
	jobs_stop(ctx);
}

static struct hub_ctl_ops ops = {
	.handle = dispatch,
	.stop = stopping,
};

const struct hub_ctl_ops *api_ops(struct hub *hub)
{
	ops.ctx = hub;
	return &ops;
}
