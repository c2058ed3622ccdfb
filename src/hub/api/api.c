/* api.c - the operator API's one command table and its dispatch. */
#include "hub/api/api.h"

#include <stdio.h>
#include <string.h>

#include "hub/api/archive.h"
#include "hub/api/audit.h"
#include "hub/api/devices.h"
#include "hub/api/events.h"
#include "hub/api/fleet.h"
#include "hub/api/identity.h"
#include "hub/api/jobs.h"
#include "hub/api/req.h"
#include "hub/api/status.h"
#include "hub/api/term.h"
#include "hub/jobs.h"
#include "hub/term.h"

/* audit: the action a command is audited as (hub_audit), NULL for one
 * that only reads. */
static const struct {
	const char *name;
	void (*fn)(struct hub *, struct hub_ctl_req *, json_t *);
	const char *audit;
} commands[] = {
	{ "status", cmd_status, NULL },
	{ "devices", cmd_devices, NULL },
	{ "device", cmd_device, NULL },
	{ "approve", cmd_approve, "approve" },
	{ "add", cmd_add, "add" },
	{ "rename", cmd_rename, "rename" },
	{ "revoke", cmd_revoke, "revoke" },
	{ "unrevoke", cmd_unrevoke, "unrevoke" },
	{ "delete", cmd_delete, "delete" },
	{ "set", cmd_set, "set" },
	{ "identity-add", cmd_identity_add, "identity-add" },
	{ "identity-remove", cmd_identity_remove, "identity-remove" },
	{ "import-serials", cmd_import_serials, "import-serials" },
	{ "import-keys", cmd_import_keys, "import-keys" },
	{ "tag", cmd_tag, "tag" },
	{ "untag", cmd_untag, "untag" },
	{ "rpc", cmd_rpc, "job-submit" },
	{ "get-config", cmd_get_config, "job-submit" },
	{ "edit-config", cmd_edit_config, "job-submit" },
	{ "jobs", cmd_jobs, NULL },
	{ "job", cmd_job, NULL },
	{ "cancel", cmd_cancel, "job-cancel" },
	{ "retry", cmd_retry, "job-retry" },
	{ "batch", cmd_batch, NULL },
	{ "batches", cmd_batches, NULL },
	{ "batch-cancel", cmd_batch_cancel, "batch-cancel" },
	{ "events", cmd_events, NULL },
	{ "audit", cmd_audit, NULL },
	{ "config", cmd_config, NULL },
	{ "history", cmd_history, NULL },
	{ "exec", cmd_exec, "exec-start" },
	{ "shell", cmd_shell, "shell-start" },
	{ "connect", cmd_connect, "forward-start" },
	{ "snmp", cmd_snmp, "snmp-start" },
	{ "sessions", cmd_sessions, NULL },
	{ "recordings", cmd_recordings, NULL },
	{ "play", cmd_play, NULL },
};

static void dispatch(void *ctx, struct hub_ctl_req *req, const char *cmd,
		     json_t *args)
{
	char msg[160];

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) == 0) {
			if (commands[i].audit)
				api_audit_begin(req, commands[i].audit);
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

static void answered(void *ctx, struct hub_ctl_req *req, json_t *resp)
{
	api_answered(ctx, req, resp);
}

static struct hub_ctl_ops ops = {
	.handle = dispatch,
	.stop = stopping,
	.answered = answered,
};

json_t *api_query(struct hub *hub, const char *what, json_t *args)
{
	if (strcmp(what, "status") == 0)
		return api_status_live(hub);
	if (strcmp(what, "sessions") == 0)
		return json_pack("{s:o}", "sessions",
				 term_list(hub, api_arg(args, "fp")));
	return NULL;
}

const struct hub_ctl_ops *api_ops(struct hub *hub)
{
	ops.ctx = hub;
	return &ops;
}
