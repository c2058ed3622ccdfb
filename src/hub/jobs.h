/* jobs.h - operators' requests kept in the registry and run on the
 * device, one at a time and in order, when it is connected (jobs.c says
 * how a change is applied), and the operators waiting for outcomes.
 */
#ifndef CH_HUB_JOBS_H
#define CH_HUB_JOBS_H

#include <stdint.h>

#include <jansson.h>

#include "hub/control.h"
#include "hub/registry/store.h"

struct hub;
struct device;

/* Hub started: queued jobs expire on time from now on (a timer on the
 * nearest expiry, followed by jobs_kick). */
void jobs_start(struct hub *hub);
/* A job was queued for fp, or the device became ready: run what is due
 * (the other workers look too when fp is not here). */
void jobs_kick(struct hub *hub, const char *fp);
/* jobs_kick without telling the other workers (they told us). */
void jobs_kick_here(struct hub *hub, const char *fp);
/* Answers whoever waits for job id (its state changed outside a run),
 * here and on the other workers. */
void jobs_notify(struct hub *hub, int64_t id);
/* jobs_notify without telling the other workers (they told us). */
void jobs_notify_here(struct hub *hub, int64_t id);
/* Responds to req when job id has an outcome (now, if it has one). */
void jobs_wait(struct hub *hub, int64_t id, struct hub_ctl_req *req);
/* The response object for a finished or queued job (new reference). */
json_t *jobs_response(struct hub *hub, const struct ch_job_rec *rec);
/* The JSON form of a job (with payload and result when full). */
json_t *jobs_json(struct hub *hub, const struct ch_job_rec *rec, int full);
/* A registry time as the API shows it: ISO 8601 UTC, or null for 0 (a
 * new reference). */
json_t *jobs_time_json(int64_t t);
/* 1 while a job runs on d (between its rpcs too: not idle). */
int jobs_running_on(struct hub *hub, const struct device *d);
/* d is gone: a job waiting on it with no rpc out (the soak before a
 * confirming commit) ends in doubt now; one with an rpc out ends when
 * that rpc fails. */
void jobs_device_gone(struct hub *hub, struct device *d);
/* Batch id starts at most rate jobs per second across its devices (the
 * rate is read from the registry when not given here: after a restart,
 * or on another worker; each of N workers takes rate/N). */
void jobs_batch_pace(struct hub *hub, int64_t id, int rate);
/* Responds to req with the batch's summary when none of its jobs is
 * queued or running any more (now, if so). */
void jobs_batch_wait(struct hub *hub, int64_t id, struct hub_ctl_req *req);
/* The JSON form of a batch: its fields and counts (new reference). */
json_t *jobs_batch_json(const struct ch_batch_rec *rec);
/* {"ok": true, "batch": {...}, "jobs": [...]} for batch id, the jobs as
 * in `jobs`; NULL when the registry has no such batch. */
json_t *jobs_batch_response(struct hub *hub, int64_t id);
/* Hub stopping: waiters get an error, running jobs are abandoned (they
 * become in-doubt at the next start). */
void jobs_stop(struct hub *hub);

#endif
