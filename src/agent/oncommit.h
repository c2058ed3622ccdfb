/* oncommit.h - runs the integrator's --on-commit program
 * (docs/on-commit.md) without blocking the loop:
 *
 *     PROG RUNNING.xml DIFF.xml
 *
 * with both files in a fresh directory DATASTORE/on-commit-XXXXXX/
 * (removed after the run), standard input /dev/null, standard output on
 * our standard error (the log), CALLHOME_ON_COMMIT=check|rollback in its
 * environment, and a process group of its own, killed as a whole at its
 * timeout and, for what it leaves behind, when it exits.
 *
 * What the result means is the caller's (server/): a check decides a
 * change of running; a rollback's result is only reported.
 */
#ifndef CH_ONCOMMIT_H
#define CH_ONCOMMIT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define ONCOMMIT_ENV "CALLHOME_ON_COMMIT"
#define ONCOMMIT_WHY_MAX (1024 + 128)	/* its stderr's first KiB + ours */

enum oncommit_kind {
	ONCOMMIT_CHECK = 0,	/* a change of running, not made yet */
	ONCOMMIT_ROLLBACK,	/* a confirmed commit's rollback, made */
};

struct oncommit_spec {
	uv_loop_t *loop;
	const char *prog;
	const char *dir;	/* the datastore directory */
	uint32_t timeout_ms;
	size_t msg_max;		/* stderr bytes kept, <= 1024 */
	enum oncommit_kind kind;
	const char *running;	/* RUNNING.xml's content */
	const char *diff;	/* DIFF.xml's content */
};

struct oncommit_result {
	int accepted;		/* exited with status 0 in time */
	const char *why;	/* otherwise: why, for an rpc-error or a log
				 * line (its stderr when it wrote some) */
};

struct oncommit_run;

/* Writes the files and starts the program (spec is borrowed during the
 * call). The run joins *runs, the caller's list of live runs (start
 * with NULL), until its handles are closed or oncommit_cleanup. done(ctx, res) is called once when the program ended (res
 * borrowed during the call), unless oncommit_detach came first. CH_OK,
 * CH_ERR_IO (logged: the directory, a file, or the spawn failed; done is
 * never called) or CH_ERR_NOMEM. *out stays valid until done or
 * oncommit_detach. */
int oncommit_start(struct oncommit_run **runs,
		   const struct oncommit_spec *spec,
		   void (*done)(void *ctx, const struct oncommit_result *res),
		   void *ctx, struct oncommit_run **out);
/* The caller goes away: the program runs to its end, done is not
 * called. NULL is fine. */
void oncommit_detach(struct oncommit_run *run);
/* The process id of a live run (for log lines). */
int oncommit_pid(const struct oncommit_run *run);
/* After the loop closed every handle (the agent stops): frees the runs
 * left on *runs. A check still running is killed (its change will never be
 * made); a rollback still running is waited for, up to its timeout (the
 * device must follow running), and its result logged. */
void oncommit_cleanup(struct oncommit_run **runs);

#endif
