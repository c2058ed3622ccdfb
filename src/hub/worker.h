/* worker.h - a worker's side of a hub with several workers
 * (supervisor.h): what it tells the supervisor (listening, which devices
 * it holds, jobs due and jobs changed, for the other workers) and what
 * it is told (a control connection to serve, a device that called
 * another worker, another worker's kicks and job changes, a question
 * for `status` or `sessions`).
 *
 * Every function here is a no-op in a hub of one process (hub->wlink
 * NULL), so the modules above call them unconditionally. What a message
 * does is the modules' business, through the ops given to worker_start
 * (service.c): this module knows no jobs, devices or API.
 */
#ifndef CH_HUB_WORKER_H
#define CH_HUB_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <jansson.h>

struct hub;

struct worker_ops {
	/* A control connection accepted by the supervisor (fd taken), with
	 * the bytes read of it so far. */
	void (*control)(struct hub *hub, int fd, const char *read,
			size_t len);
	/* Another worker queued jobs for fp: run them if fp is here. */
	void (*kick)(struct hub *hub, const char *fp);
	/* Job id changed state on another worker: answer who waits. */
	void (*job)(struct hub *hub, int64_t id);
	/* fp is up on another worker: close the session held here. */
	void (*drop)(struct hub *hub, const char *fp);
	/* Another worker saw a failed handshake from sa (ok 0), or an
	 * admitted device from it (ok 1): the blocklist counts it here too,
	 * so a source is blocked after the same number of failures
	 * whichever workers it reached. */
	void (*source)(struct hub *hub, const struct sockaddr *sa, int ok);
	/* The supervisor asks what (a word: "status", "sessions") with
	 * args: this worker's part, a new object, or NULL. */
	json_t *(*query)(struct hub *hub, const char *what, json_t *args);
};

/* Becomes worker hub->worker of hub->nworkers, talking to the
 * supervisor over fd (taken). CH_OK or an error (logged). */
int worker_start(struct hub *hub, int fd, const struct worker_ops *ops);
/* The listeners are open: the supervisor may call the hub ready. */
void worker_ready(struct hub *hub);
/* The device fp's NETCONF session is up here, or is gone. */
void worker_device_up(struct hub *hub, const char *fp);
void worker_device_gone(struct hub *hub, const char *fp);
/* Jobs were queued for fp, which is not here: the other workers look. */
void worker_kick(struct hub *hub, const char *fp);
/* Job id changed state here: the other workers' waiters look. */
void worker_job(struct hub *hub, int64_t id);
/* A failed handshake from sa (ok 0), or an admitted device (ok 1): the
 * other workers' blocklists hear of it. */
void worker_source(struct hub *hub, const struct sockaddr *sa, int ok);
/* Stops talking to the supervisor (the hub is stopping). */
void worker_stop(struct hub *hub);

#endif
