/* commands.c - the command table (style A2): each command's name,
 * synopsis, help and options, and the functions that build its request
 * and print the answer. --help and `callhome help` come from it too
 * (help.c); docs/control-api.md lists the commands for operators. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/select.h"
#include "lib/core/limits.h"

static const struct option approve_opts[] = {
	{ "name", required_argument, NULL, OPT_NAME },
	{ NULL, 0, NULL, 0 },
};

static const struct option set_opts[] = {
	{ "idle-close", required_argument, NULL, OPT_IDLE_CLOSE },
	{ NULL, 0, NULL, 0 },
};

static const struct option add_opts[] = {
	{ "fingerprint", required_argument, NULL, OPT_FINGERPRINT },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "cert-fingerprint", required_argument, NULL, OPT_CERT_FINGERPRINT },
	{ NULL, 0, NULL, 0 },
};

/* The options every job command shares. */
#define JOB_LONGOPTS                                                     \
	{ "now", no_argument, NULL, OPT_NOW },                           \
	{ "queue", no_argument, NULL, OPT_QUEUE },                       \
	{ "wait", no_argument, NULL, OPT_WAIT },                         \
	{ "expires", required_argument, NULL, OPT_EXPIRES },             \
	SELECT_LONGOPTS,                                                 \
	{ "device-state", required_argument, NULL, OPT_DEVICE_STATE },   \
	{ "rate", required_argument, NULL, OPT_RATE }

static const struct option delete_opts[] = {
	{ "force", no_argument, NULL, OPT_FORCE },
	{ NULL, 0, NULL, 0 },
};

static const struct option import_opts[] = {
	{ "anchor", required_argument, NULL, OPT_ANCHOR },
	{ NULL, 0, NULL, 0 },
};

static const struct option job_opts[] = {
	JOB_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static const struct option edit_config_opts[] = {
	JOB_LONGOPTS,
	{ "no-startup", no_argument, NULL, OPT_NO_STARTUP },
	{ NULL, 0, NULL, 0 },
};

static const struct option get_config_opts[] = {
	JOB_LONGOPTS,
	{ "source", required_argument, NULL, 's' },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "xpath", required_argument, NULL, OPT_XPATH },
	{ "ns", required_argument, NULL, OPT_NS },
	{ NULL, 0, NULL, 0 },
};

static const struct option jobs_opts[] = {
	{ "state", required_argument, NULL, OPT_STATE },
	{ "limit", required_argument, NULL, 'n' },
	SELECT_LONGOPTS,
	{ "device-state", required_argument, NULL, OPT_DEVICE_STATE },
	{ NULL, 0, NULL, 0 },
};

static const struct option devices_opts[] = {
	SELECT_LONGOPTS,
	{ "state", required_argument, NULL, OPT_STATE },
	{ NULL, 0, NULL, 0 },
};

static const struct option batch_opts[] = {
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ NULL, 0, NULL, 0 },
};

static const struct option exec_opts[] = {
	{ "tty", no_argument, NULL, 't' },
	{ NULL, 0, NULL, 0 },
};

static const struct option audit_opts[] = {
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "actor", required_argument, NULL, OPT_ACTOR },
	{ "limit", required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

static const struct option config_opts[] = {
	{ "at", required_argument, NULL, OPT_AT },
	{ NULL, 0, NULL, 0 },
};

static const struct option shell_opts[] = {
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "watch", required_argument, NULL, OPT_WATCH },
	{ NULL, 0, NULL, 0 },
};

static const struct option limit_opts[] = {
	{ "limit", required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

static const struct option play_opts[] = {
	{ "speed", required_argument, NULL, OPT_SPEED },
	{ "idle-limit", required_argument, NULL, OPT_IDLE_LIMIT },
	{ NULL, 0, NULL, 0 },
};

static const struct option events_opts[] = {
	{ "limit", required_argument, NULL, 'n' },
	{ "follow", no_argument, NULL, 'f' },
	SELECT_LONGOPTS,
	{ "state", required_argument, NULL, OPT_STATE },
	{ NULL, 0, NULL, 0 },
};

#define JOB_OPTS_HELP \
"\n" \
"Runs as a job: at once if the device is connected, else kept by the\n" \
"hub until the device calls home. A queued job prints one line,\n" \
"  queued as job 17 for r1 (not connected); see: callhome job 17\n" \
"and exits 0. Otherwise prints the device's <rpc-reply> as it came.\n" \
"  --now             run only if the device is connected now; if not,\n" \
"                    the hub refuses (exit 4) and nothing is queued\n" \
"  --queue           always queue, even behind other jobs of the device\n" \
"                    (runs at once if connected and nothing is ahead)\n" \
"  --wait            wait for the outcome even if the job is queued,\n" \
"                    as long as --timeout allows; when the CLI gives\n" \
"                    up it says so with the job's number (the job\n" \
"                    stays) and exits 6\n" \
"  --expires D       drop the job if it has not run within D: seconds,\n" \
"                    or 30m, 2h, 7d (at most " \
CH_STR(CH_CLI_MAX_EXPIRES_DAYS) "d)\n" \
"With --json, prints the hub's whole response object instead.\n" \
"Bulk: instead of DEVICE, a SELECTION of devices: --tag KEY=VALUE, --group\n" \
"NAME (both repeatable: all must match), --name GLOB (of names, as the\n" \
"shell's: 'lyon-*') and --device-state S (connected, disconnected): one\n" \
"job per admitted device selected, tracked as one batch (callhome batch\n" \
"ID). Jobs for devices that are not connected are queued; the others\n" \
"start at most --rate N per second (default " \
CH_STR(CH_BATCH_RATE_DEFAULT) "). The batch's\n" \
"summary is printed at once; with --wait, once no job of it is queued\n" \
"or running, exiting 5 and naming the devices if any did not succeed.\n" \
"An empty selection is refused (exit 4).\n"

const struct command commands[] = {
	{
		.name = "status",
		.args = "",
		.summary = "is the hub up, which build, what it serves, in numbers",
		.help =
"Shows the hub's build (version and commit, and the CLI's own), its\n"
"process and uptime, the Unix user and state directory it runs with, its\n"
"admission policy, every address it listens on and what for, its live\n"
"sessions (NETCONF over SSH and TLS, handshakes in progress, terminals,\n"
"forwards), the registry's devices by admission and how many are\n"
"connected, the queue's jobs by state, and how many source addresses\n"
"are blocked now. Exits 2 when the hub does not answer: a check for\n"
"monitoring scripts. --json gives the hub's answer as it is.\n",
		.build = build_status,
		.print = print_status,
	},
	{
		.name = "devices",
		.args = "[GLOB] [SELECTION]",
		.summary = "list the devices the hub knows, and their state",
		.help =
"Lists every device the hub has a record of, connected or not, named\n"
"devices first. Columns:\n"
"  NAME         the operator's name for it, or - if unnamed\n"
"  FINGERPRINT  its SSH host-key fingerprint: the device's identity\n"
"  STATE        connected or disconnected; for a device that is not\n"
"               admitted, its admission instead (pending, revoked)\n"
"  ADDRESS      where it called from last\n"
"  SINCE        when its session started; if not connected, when it was\n"
"               last seen (UTC)\n"
"  CAPS         NETCONF capabilities in its last hello\n"
"  TAGS         its tags, KEY=VALUE, and groups, group=NAME\n"
"Only the devices selected, when given (SELECTION, docs/operations.md):\n"
"  --tag KEY=VALUE   with this tag (repeatable: all of them)\n"
"  --group NAME      in this group, the tag group=NAME (repeatable)\n"
"  --name GLOB       named so, as the shell matches: 'lyon-*',\n"
"                    'r[0-9]'; GLOB as an operand is the same\n"
"  --state S         connected, disconnected, pending, admitted or\n"
"                    revoked\n"
"With --json, prints the hub's response, {\"ok\": true, \"devices\":\n"
"[...]} (fields in docs/control-api.md).\n",
		.longopts = devices_opts,
		.build = build_devices,
		.print = print_devices,
	},
	{
		.name = "device",
		.args = "DEVICE",
		.summary = "show one device: its fields, keys and queued jobs",
		.help =
"Shows everything the hub knows of one device: name, fingerprint,\n"
"admission, connection, its identities (the host keys it may call with)\n"
"and how many jobs wait for it. With --json, prints the hub's response.\n",
		.build = build_on_device,
		.print = print_device,
	},
	{
		.name = "approve",
		.args = "DEVICE [--name NAME]",
		.summary = "admit a pending device (and name it)",
		.help =
"Admits a device that called and is pending, so its next call is\n"
"served; with --name, names it too. Approving an admitted device only\n"
"sets the name. A revoked device is not approved but unrevoked\n"
"(callhome unrevoke). Prints the device as it is now.\n",
		.longopts = approve_opts,
		.done = "approved",
		.build = build_approve,
		.print = print_changed,
	},
	{
		.name = "add",
		.args = "NAME --fingerprint FP | --serial S | --cert-fingerprint FP",
		.summary = "pre-provision a device by its key, serial or certificate",
		.help =
"Records a device that has not called yet, admitted and named, so it\n"
"is served from its first call. Give exactly one identity:\n"
"  --fingerprint FP       its SSH host-key fingerprint, SHA256: and 43\n"
"                         base64 characters (ssh-keygen -lf KEY.pub)\n"
"  --serial S             TLS: the serialNumber in its certificate's\n"
"                         subject (the chain must also lead to a\n"
"                         --trust-anchor of the hub)\n"
"  --cert-fingerprint FP  TLS: its certificate pinned, by SHA-256\n"
"                         fingerprint: AB:CD:... as `openssl x509\n"
"                         -fingerprint -sha256` prints it, 04:AB:...\n"
"                         (RFC 7407) or SHA256:<64 hex digits>\n"
"Many at once: callhome import-keys (SSH), import-serials (TLS).\n",
		.longopts = add_opts,
		.done = "added",
		.build = build_add,
		.print = print_changed,
	},
	{
		.name = "rename",
		.args = "DEVICE NAME",
		.summary = "name a device, or '' to remove its name",
		.help =
"Sets the operator's name of a device (1 to " CH_STR(CH_NAME_MAX)
" of A-Z a-z 0-9 . _ -),\n"
"or removes it with NAME ''.\n",
		.done = "renamed",
		.build = build_rename,
		.print = print_changed,
	},
	{
		.name = "tag",
		.args = "DEVICE KEY=VALUE...",
		.summary = "tag a device (site=lyon, role=cpe, group=core)",
		.help =
"Sets tags on a device, to select it by later (--tag, --group). A key\n"
"has one value per device: tagging site=paris replaces site=lyon.\n"
"Groups are the exception: group=NAME adds the device to group NAME,\n"
"and a device may be in several. A KEY is 1 to " CH_STR(CH_TAG_KEY_MAX)
" of a-z 0-9 _ . -\n"
"(a letter first), a VALUE 1 to " CH_STR(CH_TAG_VALUE_MAX)
" of A-Z a-z 0-9 . _ : / @ + -; at most\n"
CH_STR(CH_TAG_PER_DEVICE_MAX) " tags per device. Each change is an event "
"naming who made it.\n",
		.build = build_tags,
		.print = print_tags,
	},
	{
		.name = "untag",
		.args = "DEVICE KEY[=VALUE]...",
		.summary = "remove tags from a device",
		.help =
"Removes tags: KEY removes the key whatever its value (group: every\n"
"group), KEY=VALUE only that one (group=core: that group).\n",
		.build = build_tags,
		.print = print_tags,
	},
	{
		.name = "set",
		.args = "DEVICE --idle-close SECONDS|default",
		.summary = "change a device's own settings",
		.help =
"Changes per-device settings kept in the hub's registry:\n"
"  --idle-close SECONDS  end the device's session politely (close-session)\n"
"                        after it has been idle this long with nothing\n"
"                        queued; 0 keeps it open; `default` returns to the\n"
"                        hub's --idle-close. Applies to a live session now.\n",
		.longopts = set_opts,
		.done = "changed",
		.build = build_set,
		.print = print_changed,
	},
	{
		.name = "revoke",
		.args = "DEVICE",
		.summary = "refuse a device from now on; close its session",
		.help =
"Revokes a device: its calls are refused from now on and its session,\n"
"if any, is closed; its queued jobs are cancelled. To let it back:\n"
"callhome unrevoke.\n",
		.done = "revoked",
		.build = build_on_device,
		.print = print_changed,
	},
	{
		.name = "unrevoke",
		.args = "DEVICE",
		.summary = "admit a revoked device again",
		.help =
"Undoes a revoke: the device is admitted again (not pending) and served\n"
"from its next call. Only a revoked device can be unrevoked.\n",
		.done = "unrevoked",
		.build = build_on_device,
		.print = print_changed,
	},
	{
		.name = "delete",
		.args = "DEVICE [--force]",
		.summary = "forget a device: its record and identities",
		.help =
"Deletes the device's record, its identities and its finished jobs;\n"
"its events stay, under its fingerprint. Its session, if any, is\n"
"closed; if it calls again it is a new device to the hub. Refused while\n"
"a job runs on it (the error names the jobs), and while jobs are queued\n"
"for it unless --force, which cancels them.\n",
		.longopts = delete_opts,
		.build = build_delete,
		.print = print_deleted,
	},
	{
		.name = "identity add",
		.args = "DEVICE FP",
		.summary = "let a device also call with another key",
		.help =
"Adds another host key (by its fingerprint FP) under which the device\n"
"is known, for key rotation: the device may call with either key. The\n"
"device's fingerprint (its identity) stays the same. For TLS, FP may be\n"
"serial:SERIAL or a certificate fingerprint (as for add\n"
"--cert-fingerprint).\n",
		.done = "added an identity to",
		.build = build_identity_add,
		.print = print_changed,
	},
	{
		.name = "identity remove",
		.args = "FP",
		.summary = "forget one key of a device",
		.help =
"Removes the identity FP from whichever device has it; a session that\n"
"came in with that key is closed.\n",
		.build = build_identity_remove,
		.print = print_identity_removed,
	},
	{
		.name = "import-serials",
		.args = "FILE|- [--anchor CA.pem]",
		.summary = "pre-provision TLS devices from a manufacturer's list",
		.help =
"Reads a manufacturer's list of device serial numbers, one per line,\n"
"optionally followed by ,NAME; blank lines and # comments are skipped.\n"
"Each new serial becomes an admitted device: it is served at its first\n"
"TLS call, with no other step, if its certificate's subject carries that\n"
"serialNumber and its chain leads to a --trust-anchor of the hub.\n"
"A serial already known is left as it is, except that a pending one is\n"
"admitted. Prints how many were added, already known and invalid, and\n"
"the first refused lines; exits 0 even with invalid lines. At most\n"
CH_STR(CH_IMPORT_MAX_LINES) " lines per call.\n"
"--anchor CA.pem (or its SHA-256 fingerprint) binds every serial of the\n"
"list to that manufacturer's CA: a certificate with one of these serials\n"
"is then admitted only if its chain leads to that CA, even when the hub\n"
"trusts other manufacturers too. Without it a device is bound to the CA\n"
"of its first admitted call.\n",
		.longopts = import_opts,
		.build = build_import_serials,
		.print = print_import,
	},
	{
		.name = "import-keys",
		.args = "FILE|-",
		.summary = "pre-provision SSH devices from their host keys",
		.help =
"Reads devices' SSH host public keys, one per line: the lines of their\n"
"ssh_host_*_key.pub files, each optionally preceded by a NAME, or an\n"
"OpenSSH known_hosts file as it is (the first host of a line names the\n"
"device; [host]:port is unwrapped; a hashed host leaves it unnamed).\n"
"Blank lines and # comments are skipped. Each new key becomes an\n"
"admitted device, served at its first call with no other step (what\n"
"`callhome add NAME --fingerprint FP` does, many at once). A key already\n"
"known is left as it is, except that a pending one is admitted.\n"
"Certificates, @cert-authority and @revoked lines, and a host that is\n"
"not a NAME (1 to " CH_STR(CH_NAME_MAX) " of A-Z a-z 0-9 . _ -: an IPv6 address is not)\n"
"are refused lines. Prints how many were added, already known and\n"
"invalid, and the first refused lines; exits 0 even with invalid\n"
"lines. At most " CH_STR(CH_IMPORT_MAX_LINES) " lines per call.\n",
		.build = build_import_keys,
		.print = print_import,
	},
	{
		.name = "rpc",
		.args = "DEVICE|SELECTION XML|- [--now|--queue] [--wait] "
			"[--expires D]",
		.summary = "send one NETCONF operation, print the rpc-reply",
		.help =
"Sends the operation XML (e.g. '<get/>', or a whole <rpc> whose\n"
"message-id the hub replaces). XML - reads the operation from standard\n"
"input (at most " CH_STR(CH_CLI_MAX_XML_MIB) " MiB).\n" JOB_OPTS_HELP,
		.longopts = job_opts,
		.build = build_rpc,
		.print = print_job_result,
	},
	{
		.name = "get-config",
		.args = "DEVICE|SELECTION [--source S] [--filter XML|FILE|- | "
			"--xpath X [--ns P=URI]...] [--now|--queue] [--wait]",
		.summary = "print a device's configuration (rpc-reply XML)",
		.help =
"Sends <get-config> for the datastore given by --source: running (the\n"
"default), candidate or startup; all of it, or what a filter selects:\n"
"  --filter XML   a subtree filter (RFC 6241 6): the content of its\n"
"                 <filter>, e.g. '<system xmlns=\"urn:example:system\"/>';\n"
"                 a value not starting with < names a file, - reads\n"
"                 standard input\n"
"  --xpath X      an XPath filter (RFC 6241 8.9; the device must offer\n"
"                 :xpath, or it answers with an rpc-error), e.g.\n"
"                 '/sys:system/sys:hostname'\n"
"  --ns P=URI     the namespace of prefix P in the --xpath expression\n"
"                 (repeat for each prefix, at most " CH_STR(CH_XPATH_NS_MAX) ")\n"
JOB_OPTS_HELP,
		.shortopts = "s:",
		.longopts = get_config_opts,
		.build = build_get_config,
		.print = print_job_result,
	},
	{
		.name = "edit-config",
		.args = "DEVICE|SELECTION FILE|- [--now|--queue] [--wait] "
			"[--no-startup]",
		.summary = "change a device's configuration",
		.help =
"Sends <edit-config> with the content of FILE (- for standard input,\n"
"at most " CH_STR(CH_CLI_MAX_XML_MIB) " MiB): the elements that go inside "
"<config> (a file\n"
"that is one <config> element is taken as its content). The hub chooses\n"
"how to apply it from the device's capabilities (see the job's METHOD)\n"
"and, when the device has :startup, copies running to startup before\n"
"the job is done, so the change survives the device's restart.\n"
"  --no-startup      leave startup as it is: the change is in running\n"
"                    only\n" JOB_OPTS_HELP,
		.longopts = edit_config_opts,
		.build = build_edit_config,
		.print = print_job_result,
	},
	{
		.name = "jobs",
		.args = "[DEVICE|GLOB] [--state S] [-n|--limit N] [SELECTION]",
		.summary = "list jobs, newest first",
		.help =
"Lists the hub's jobs, newest first (at most "
CH_STR(CH_HUB_LIST_DEFAULT) " unless --limit), of\n"
"one DEVICE or of all; --state keeps one state: queued, running, done,\n"
"failed, in-doubt, cancelled or expired. Columns:\n"
"  ID            the job's number, for callhome job, cancel, retry\n"
"  DEVICE        the device's name, or the start of its fingerprint\n"
"  KIND          rpc, get-config or edit-config\n"
"  STATE         as above\n"
"  CREATED       when it was submitted (UTC)\n"
"  FINISHED      when it ended, - if not yet\n"
"  METHOD/ERROR  why it failed, else how it was applied\n"
"Only the jobs of the devices selected, when given: --tag KEY=VALUE,\n"
"--group NAME, --name GLOB (or GLOB as the operand), --device-state S\n"
"(as for callhome devices).\n"
"With --json, prints the hub's response.\n",
		.shortopts = "n:",
		.longopts = jobs_opts,
		.build = build_jobs,
		.print = print_jobs,
	},
	{
		.name = "job",
		.args = "ID",
		.summary = "show one job: details, payload and result",
		.help =
"Shows one job: its fields, the payload sent (or to be sent) and the\n"
"device's reply, if it has one. With --json, prints the hub's response.\n",
		.build = build_on_job,
		.print = print_job,
	},
	{
		.name = "cancel",
		.args = "ID",
		.summary = "cancel a queued job",
		.help = "Cancels a job that is still queued; other states are "
			"refused (exit 4).\n",
		.build = build_on_job,
		.print = print_job_changed,
	},
	{
		.name = "retry",
		.args = "ID",
		.summary = "queue a failed or in-doubt job again",
		.help =
"Queues a failed or in-doubt job again; it runs when the device is\n"
"connected and nothing is ahead of it. Check an in-doubt job's device\n"
"first: its operation may have taken effect.\n",
		.build = build_on_job,
		.print = print_job_changed,
	},
	{
		.name = "batch",
		.args = "ID [--wait]",
		.summary = "show a batch of jobs: counts and each device's job",
		.help =
"Shows batch ID, made by rpc, get-config or edit-config with a\n"
"selection: what was asked, by whom, how many of its jobs are done,\n"
"failed, queued, running, in doubt, cancelled or expired, then its jobs\n"
"(as callhome jobs lists them).\n"
"  --wait            first wait until none of its jobs is queued or\n"
"                    running (within --timeout; if it runs out, exit 6\n"
"                    and the jobs stay); exit 5 naming the devices whose\n"
"                    job did not succeed\n"
"With --json, prints the hub's response.\n",
		.longopts = batch_opts,
		.build = build_batch,
		.print = print_batch,
	},
	{
		.name = "batches",
		.args = "[-n|--limit N]",
		.summary = "list batches of jobs, newest first",
		.help =
"Lists the batches, newest first (at most " CH_STR(CH_HUB_LIST_DEFAULT)
" unless --limit): ID, KIND,\n"
"SELECTION, JOBS, DONE, NOT DONE (failed, in doubt, cancelled or\n"
"expired), OPEN (queued or running) and CREATED.\n",
		.shortopts = "n:",
		.longopts = limit_opts,
		.build = build_batches,
		.print = print_batches,
	},
	{
		.name = "batch-cancel",
		.args = "ID",
		.summary = "cancel a batch's jobs not yet started",
		.help =
"Cancels every job of batch ID that is still queued (a device not\n"
"connected, or waiting for the batch's rate); running jobs finish.\n"
"Prints the batch as it is then.\n",
		.build = build_batch,
		.print = print_batch,
	},
	{
		.name = "events",
		.args = "[DEVICE|GLOB] [-n|--limit N] [-f|--follow] [SELECTION]",
		.summary = "show the hub's event log; -f to keep watching",
		.help =
"Shows the newest events (" CH_STR(CH_HUB_LIST_DEFAULT)
" unless --limit), oldest first, of one\n"
"DEVICE or of all: calls, admissions, sessions ending, jobs. Columns\n"
"TIME (UTC), DEVICE (name, or the start of its fingerprint), KIND and\n"
"DETAIL. With --follow, then prints new events as they come, polling\n"
"the hub every second, until Ctrl-C (exit 0); if the hub goes away it\n"
"says so once on standard error and keeps asking. With --json, prints\n"
"the hub's response; with --follow, one JSON object per event per line.\n"
"Only the events of the devices selected, when given: --tag KEY=VALUE,\n"
"--group NAME, --name GLOB (or GLOB as the operand), --state S (as for\n"
"callhome devices).\n",
		.shortopts = "n:f",
		.longopts = events_opts,
		.build = build_events,
		.print = print_events,
	},
	{
		.name = "audit",
		.args = "[--device D] [--since T] [--until T] [--actor A] "
			"[-n|--limit N]",
		.summary = "show who did what to which device",
		.help =
"Shows the hub's audit log, oldest first: every operator action that\n"
"changes a device or the fleet (approve, add, rename, revoke,\n"
"unrevoke, delete, set, identity add/remove, import-serials,\n"
"import-keys, tag, untag, jobs and batches submitted, jobs cancelled or\n"
"retried, batches cancelled, shell and exec sessions started and ended),\n"
"refused ones too, with who did it: the local user whose process talked\n"
"to the hub's socket, as the kernel says. The newest "
CH_STR(CH_HUB_LIST_DEFAULT) " unless --limit.\n"
"  --device D        only the records of device D (a name or a\n"
"                    fingerprint, as elsewhere)\n"
"  --since T         only from T on; --until T only up to T (both\n"
"                    included). T is a UTC time, 2026-12-07T14:05:00Z,\n"
"                    2026-12-07 14:05 or 2026-12-07; a time ago, 30m,\n"
"                    2h, 7d, 2w; @UNIX-SECONDS; or now\n"
"  --actor A         only what user A (a name or a uid) did\n"
"  -n, --limit N     the newest N records\n"
"Columns TIME (UTC), ACTOR (user(uid=N)), DEVICE, ACTION, OUTCOME (ok,\n"
"refused, failed, lost) and DETAIL. With --json, prints the hub's\n"
"response: an \"audit\" array, with the exit status, byte counts and\n"
"duration of each session (docs/control-api.md). See docs/terminal.md.\n",
		.shortopts = "n:",
		.longopts = audit_opts,
		.build = build_audit,
		.print = print_audit,
	},
	{
		.name = "config",
		.args = "DEVICE [--at T]",
		.summary = "show a device's archived running configuration",
		.help =
"Prints the device's running configuration as the hub archived it:\n"
"the newest version, or with --at the one in force at T. The hub\n"
"fetches it when the device calls, when the device reports a change\n"
"(netconf-config-change) and after a job of the hub's that changed it,\n"
"and keeps a version when the bytes differ (callhome history). The\n"
"text is indented, one element a line.\n"
"  --at T            the version in force at T: a UTC time,\n"
"                    2026-12-07T14:05:00Z, 2026-12-07 14:05 or\n"
"                    2026-12-07; a time ago, 30m, 2h, 7d; @UNIX-SECONDS;\n"
"                    or a version number, as `history` lists them\n"
"With --json, prints the hub's response: {\"ok\": true, \"device\":\n"
"{...}, \"config\": {\"version\", \"time\", \"size\", \"hash\",\n"
"\"trigger\", \"content\"}} (docs/control-api.md).\n",
		.longopts = config_opts,
		.build = build_config,
		.print = print_config,
	},
	{
		.name = "history",
		.args = "DEVICE",
		.summary = "list the archived configurations of a device",
		.help =
"Lists the versions of the device's running configuration the hub\n"
"keeps, oldest first (at most " CH_STR(CH_ARCHIVE_VERSIONS) " a device: "
"the oldest is deleted\n"
"when a new one comes). Columns VERSION, TIME (UTC, when it was\n"
"fetched), SIZE (bytes) and TRIGGER, why the hub fetched it: call (the\n"
"device called), config-change by USER@HOST (the device reported a\n"
"change made by another manager), job N (a job of the hub's). With\n"
"--json, prints the hub's response, a \"versions\" array.\n",
		.build = build_on_device,
		.print = print_history,
	},
	{
		.name = "diff",
		.args = "DEVICE A B",
		.summary = "show what changed between two archived versions",
		.help =
"Prints a unified diff (as diff -u) from version A of the device's\n"
"archived configuration to version B, line by line on the indented\n"
"text. A and B are version numbers (callhome history) or times (the\n"
"version in force then; as config --at takes them). Nothing is printed\n"
"when they are the same. With --json, prints {\"ok\": true, \"device\":\n"
"{...}, \"from\": {...}, \"to\": {...}, \"diff\": \"...\"}, the two\n"
"versions without their content.\n",
		.build = build_diff,
		.print = print_diff,
	},
	{
		.name = "exec",
		.args = "DEVICE [-t|--tty] -- COMMAND...",
		.summary = "run a command on a connected device",
		.help =
"Runs COMMAND (its words joined by spaces) on the device, through the\n"
"connection it called in on, as the account its agent serves shells as\n"
"(callhomed --shell-user). Standard input goes to the command (so it\n"
"works in pipes: tar c . | callhome exec r1 -- tar x); its output comes\n"
"to standard output (the agent merges its stderr into it for now). The\n"
"exit status is the command's; 255 when the session ended without one\n"
"(the device went away, a signal).\n"
"  -t, --tty         ask for a pty (of this terminal's TERM and size); on\n"
"                    a terminal, raw mode and the ~. escape as for shell\n"
"The device must be connected: offline or refusing, one line on stderr\n"
"and exit 4. See docs/terminal.md.\n",
		.shortopts = "t",
		.longopts = exec_opts,
		.build = build_exec,
		.stream = stream_term,
	},
	{
		.name = "shell",
		.args = "DEVICE [--attach ID] | --watch ID",
		.summary = "an interactive shell on a connected device",
		.help =
"Opens a login shell on the device, through the connection it called in\n"
"on. On a terminal: a pty of its TERM and size, the terminal in raw mode\n"
"(restored on exit), every window size change sent on, and ~. after a\n"
"newline leaves (~~ sends one ~), as with ssh. Without a terminal the\n"
"shell reads standard input. The exit status is the shell's; 255 when\n"
"the session ended without one (the device went away, ~.). Offline or\n"
"refusing shells: one line on stderr and exit 4.\n"
"If the CLI's connection drops (killed, SIGHUP: the terminal went away)\n"
"a pty session stays at the hub for its --term-grace (300 s by default):\n"
"  --attach ID       resume session ID (callhome sessions lists them): the\n"
"                    recent output redraws the screen, then it goes on\n"
"  --watch ID        follow session ID read-only (no DEVICE needed);\n"
"                    nothing typed is sent. Ctrl-C leaves\n"
"See docs/terminal.md.\n",
		.longopts = shell_opts,
		.build = build_shell,
		.stream = stream_term,
	},
	{
		.name = "forward",
		.args = "DEVICE [BIND:]LPORT:HOST:PORT",
		.summary = "forward a local port to a host behind a device",
		.help =
"Like ssh -L, in the foreground: listens on BIND (127.0.0.1 unless\n"
"given; [ADDRESS] for IPv6) port LPORT (0: any, the one chosen is said\n"
"on standard error), and carries each connection it accepts to HOST\n"
"port PORT through the device: one direct-tcpip channel through the hub\n"
"per connection, each independent of the others. The device decides\n"
"where it forwards to (its border and --forward-allow rules) and\n"
"resolves HOST itself. A connection the hub or the device refuses is\n"
"closed, with one line on standard error saying why. Ctrl-C ends it and\n"
"every connection it carries (exit 0). See docs/remote-access.md.\n",
		.build = build_forward,
		.stream = stream_forward,
	},
	{
		.name = "connect",
		.args = "DEVICE HOST:PORT",
		.summary = "standard input and output to a host behind a device",
		.help =
"Like ssh -W: standard input goes to HOST port PORT ([ADDRESS]:PORT for\n"
"IPv6) through the device, what comes back to standard output; its end\n"
"closes standard output. For OpenSSH, to log in to a host behind r1:\n"
"  ssh -o ProxyCommand='callhome connect r1 %h:%p' admin@10.1.2.3\n"
"Exit 0 when the stream ended; 4 with one line on standard error when\n"
"the hub or the device refused it (device not connected, the device's\n"
"forwarding policy, the destination unreachable); 255 when it was lost\n"
"or closed by the device before the destination's end.\n",
		.build = build_connect,
		.stream = stream_connect,
	},
	{
		.name = "snmp",
		.args = "DEVICE [BIND:]PORT",
		.summary = "a UDP endpoint for an NMS to reach a device's snmpd",
		.help =
"In the foreground: the hub listens on UDP BIND (127.0.0.1 unless\n"
"given; a numeric address) port PORT, and relays each SNMP datagram\n"
"unchanged to DEVICE's own snmpd through its call-home connection (an\n"
"RFC 5592 snmp channel per source address; SNMPv3 stays end to end),\n"
"each reply back to its sender. The device's agent must serve it\n"
"(callhomed --snmp-agent). For example, then:\n"
"  snmpget -v2c -c public 127.0.0.1:1161 sysDescr.0\n"
"A port below 1024 needs root. Ctrl-C ends it (exit 0). For a lasting\n"
"endpoint, the hub's --snmp-map. See docs/snmp.md.\n",
		.build = build_snmp,
		.stream = stream_snmp,
	},
	{
		.name = "sessions",
		.args = "[DEVICE]",
		.summary = "list the live shells and execs at the hub",
		.help =
"Lists the terminal sessions the hub holds now, of DEVICE or of all:\n"
"ID (for shell --attach/--watch), DEVICE, KIND, STATE (attached, or\n"
"detached: waiting for an attach within the hub's --term-grace),\n"
"OPERATOR (who started it), STARTED (UTC), WATCHERS and the bytes typed\n"
"and shown. With --json, the hub's response ({\"ok\": true,\n"
"\"sessions\": [...]}).\n",
		.build = build_sessions,
		.print = print_sessions,
	},
	{
		.name = "recordings",
		.args = "[DEVICE] [-n|--limit N]",
		.summary = "list the recorded terminal sessions",
		.help =
"Lists the recordings the hub keeps (asciicast v2 files under\n"
"STATE/recordings), newest first (" CH_STR(CH_HUB_LIST_DEFAULT)
" unless --limit), of DEVICE or of all:\n"
"ID (the session's), DEVICE, KIND, STARTED (UTC), DURATION, SIZE in\n"
"bytes and OPERATOR. Replay one with callhome play ID. With --json, the\n"
"hub's response ({\"ok\": true, \"recordings\": [...]}).\n",
		.shortopts = "n:",
		.longopts = limit_opts,
		.build = build_sessions,
		.print = print_recordings,
	},
	{
		.name = "play",
		.args = "ID [--speed X] [--idle-limit S]",
		.summary = "replay a recorded terminal session",
		.help =
"Replays recording ID to standard output with its timing, streamed\n"
"from the hub (the file stays the hub's).\n"
"  --speed X         X times as fast (2, 0.5, 100) [1]\n"
"  --idle-limit S    cut every pause to at most S seconds [the\n"
"                    recording's idle_time_limit, else none]\n"
"asciinema play also replays the file itself.\n",
		.longopts = play_opts,
		.build = build_play,
		.stream = stream_play,
	},
	{
		.name = "help",
		.args = "[COMMAND]",
		.summary = "describe all commands, or one",
		.help = "Without COMMAND, the same as callhome --help.\n",
		.build = build_help,
	},
};

const size_t ncommands = CLI_NELEMS(commands);

/* How many of name's words the words argv[0..argc) spell, from the first;
 * -1 at the first that differs. */
static int words_matched(const char *name, int argc, char **argv)
{
	int n;

	for (n = 0; n < argc && *name; n++) {
		size_t len = strcspn(name, " ");

		if (strlen(argv[n]) != len || strncmp(argv[n], name, len))
			return -1;
		name += len;
		name += *name == ' ';
	}
	return *name ? -1 : n;
}

/* The command named by the words at argv[0..]: one, or two such as
 * "identity add". *nwords: how many words it took. */
const struct command *commands_find(int argc, char **argv, int *nwords)
{
	for (size_t i = 0; i < ncommands; i++) {
		if ((*nwords = words_matched(commands[i].name, argc,
					     argv)) > 0)
			return &commands[i];
	}
	*nwords = 0;
	return NULL;
}

/* Whether name is a two-word command whose first word is word. */
bool commands_in_group(const char *name, const char *word)
{
	size_t len = strlen(word);

	return strncmp(name, word, len) == 0 && name[len] == ' ';
}

/* Whether word starts two-word commands ("identity"); lists their second
 * words into buf. */
bool commands_group(const char *word, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ncommands && used < size; i++)
		if (commands_in_group(commands[i].name, word))
			used += (size_t)snprintf(buf + used, size - used,
						 "%s%s", used ? ", " : "",
						 commands[i].name +
						 strlen(word) + 1);
	return buf[0] != '\0';
}
