/* supervisor.h - a hub of several workers (--workers N): one process per
 * worker, each an event loop with its own SO_REUSEPORT listeners on the
 * call-home ports (the kernel spreads the devices over them) and its own
 * registry connection; a device's session lives in the worker that
 * accepted it. The supervisor is the process the operator started:
 *
 * - it starts the workers (this program again, told which worker it is),
 *   starts again one that dies (its devices call again meanwhile and land
 *   on the others), and stops them all on SIGTERM or SIGINT;
 * - it serves the control socket, the one front to the operator: each
 *   connection goes, with what was read of it, to the worker that holds
 *   the device its request names (any worker when none does, or for the
 *   fleet), so jobs, shells and forwards run where the session is;
 *   `status` and `sessions` it answers itself from every worker's part;
 * - it knows which worker holds which device, tells a worker whose
 *   device has called another one to let its old session go, passes
 *   queued jobs' kicks and job changes from one worker to the others,
 *   and when a worker dies, records its devices disconnected and its
 *   running jobs in doubt (read-only ones queued again), as a hub's
 *   start does for the whole hub.
 *
 * In a hub of one process (--workers 1) none of this runs.
 */
#ifndef CH_HUB_SUPERVISOR_H
#define CH_HUB_SUPERVISOR_H

struct hub;

/* The environment variable that makes this program a worker: "K/N/FD"
 * (worker K of N, its channel on FD). Set by the supervisor only. */
#define SUPERVISOR_WORKER_ENV "CALLHOME_HUB_WORKER"

/* Runs the supervisor of hub->nworkers workers until it is stopped;
 * argv: this program's own, for the workers. hub has its configuration
 * and store open, its loop made. The exit status: 0 after a stop, 1 when
 * the hub could not start (a worker failed before it was ready). */
int supervisor_run(struct hub *hub, char **argv);

#endif
