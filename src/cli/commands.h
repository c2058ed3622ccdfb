/* commands.h - the command table (commands.c) and the functions its
 * entries point to, by the file that has them. */
#ifndef CH_CLI_COMMANDS_H
#define CH_CLI_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"

/* The table, in the order --help lists it. */
extern const struct command commands[];
extern const size_t ncommands;

/* The command named by the words at argv[0..]: one, or two such as
 * "identity add"; NULL if none. *nwords: how many words it took. */
const struct command *commands_find(int argc, char **argv, int *nwords);

/* Whether name is a two-word command whose first word is word. */
bool commands_in_group(const char *name, const char *word);

/* Whether word starts two-word commands ("identity"); lists their second
 * words into buf ("add, remove"). */
bool commands_group(const char *word, char *buf, size_t size);

/* devices.c: devices, device, approve, add, rename, revoke, identity */
int build_devices(struct run *run, int argc, char **argv);
int print_devices(struct run *run, json_t *resp);
int build_on_device(struct run *run, int argc, char **argv);
int print_device(struct run *run, json_t *resp);
int build_approve(struct run *run, int argc, char **argv);
int build_add(struct run *run, int argc, char **argv);
int build_rename(struct run *run, int argc, char **argv);
int build_set(struct run *run, int argc, char **argv);
int build_identity_add(struct run *run, int argc, char **argv);
int print_changed(struct run *run, json_t *resp);
int build_identity_remove(struct run *run, int argc, char **argv);
int print_identity_removed(struct run *run, json_t *resp);
int build_delete(struct run *run, int argc, char **argv);
int print_deleted(struct run *run, json_t *resp);
int build_import_serials(struct run *run, int argc, char **argv);
int build_import_keys(struct run *run, int argc, char **argv);
int build_status(struct run *run, int argc, char **argv);
int print_status(struct run *run, json_t *resp);
int print_import(struct run *run, json_t *resp);
int build_tags(struct run *run, int argc, char **argv);
int print_tags(struct run *run, json_t *resp);

/* jobs.c: rpc, get-config, edit-config, jobs, job, cancel, retry */
int build_rpc(struct run *run, int argc, char **argv);
int build_get_config(struct run *run, int argc, char **argv);
int build_edit_config(struct run *run, int argc, char **argv);
int print_job_result(struct run *run, json_t *resp);
int build_jobs(struct run *run, int argc, char **argv);
int print_jobs(struct run *run, json_t *resp);
int build_on_job(struct run *run, int argc, char **argv);
int print_job(struct run *run, json_t *resp);
int print_job_changed(struct run *run, json_t *resp);
/* batch, batches, batch-cancel; and a batch a job command made */
int build_batch(struct run *run, int argc, char **argv);
int print_batch(struct run *run, json_t *resp);
int build_batches(struct run *run, int argc, char **argv);
int print_batches(struct run *run, json_t *resp);

/* events.c: events, events --follow */
int build_events(struct run *run, int argc, char **argv);
int print_events(struct run *run, json_t *resp);

/* audit.c: audit */
int build_audit(struct run *run, int argc, char **argv);
int print_audit(struct run *run, json_t *resp);

/* archive.c: config, history (built by build_on_device), diff */
int build_config(struct run *run, int argc, char **argv);
int print_config(struct run *run, json_t *resp);
int print_history(struct run *run, json_t *resp);
int build_diff(struct run *run, int argc, char **argv);
int print_diff(struct run *run, json_t *resp);

/* term.c: exec, shell; the client of connect and of forward's
 * connections */
int build_exec(struct run *run, int argc, char **argv);
int build_shell(struct run *run, int argc, char **argv);
int stream_term(struct run *run);
int stream_connect(struct run *run);
/* The forward of run->req over fd (both ways); the exit code. */
int stream_fd(struct run *run, int fd);

/* forward.c: connect, forward */
int build_connect(struct run *run, int argc, char **argv);
int build_forward(struct run *run, int argc, char **argv);
int stream_forward(struct run *run);

/* snmp.c: snmp */
int build_snmp(struct run *run, int argc, char **argv);
int stream_snmp(struct run *run);

/* sessions.c: sessions, recordings; play.c: play */
int build_sessions(struct run *run, int argc, char **argv);
int print_sessions(struct run *run, json_t *resp);
int print_recordings(struct run *run, json_t *resp);
int build_play(struct run *run, int argc, char **argv);
int stream_play(struct run *run);

/* help.c: help */
int build_help(struct run *run, int argc, char **argv);

#endif
