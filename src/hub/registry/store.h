/* store.h - the hub's registry in SQLite (style B4: all SQL lives under
 * src/hub/registry/: db.c opens and migrates, then one file per table).
 * WAL journal, prepared statements, one transaction per logical change
 * (the devices' own records grouped into one: "Group commit" below),
 * schema migrations by PRAGMA user_version, a busy_timeout.
 *
 * A device is identified by an identity string, never by address (the
 * kinds and their rules: lib/id/identity.h).
 * The device record is keyed by its first identity (still called its
 * "fingerprint" below); further identities are aliases of it. Its admission says whether it may connect; its
 * connection state is kept here too so that `callhome devices` shows
 * devices that are not connected now.
 */
#ifndef CH_STORE_H
#define CH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/limits.h"
#include "lib/id/identity.h"

enum ch_admission {
	CH_ADMIT_PENDING = 0,	/* seen, not admitted: refused until approved */
	CH_ADMIT_ADMITTED = 1,
	CH_ADMIT_REVOKED = 2,
};

struct ch_store;

/* ---- tags and selectors (docs/operations.md, "Groups and tags") ----
 *
 * A tag is key=value. A device has at most one value per key, except
 * for the key "group": a group is the tag group=NAME, and a device may
 * be in several groups. A selector picks devices by all of its tags, a
 * GLOB over the name and a state; hub/select.h makes one from an
 * operator's words.
 */
#define CH_TAG_GROUP "group"

struct ch_tag {
	char key[CH_TAG_KEY_MAX + 1];
	char value[CH_TAG_VALUE_MAX + 1];
};

enum ch_sel_state {
	CH_SEL_ANY = 0,
	CH_SEL_CONNECTED,
	CH_SEL_DISCONNECTED,
	CH_SEL_PENDING,		/* CH_SEL_PENDING + enum ch_admission */
	CH_SEL_ADMITTED,
	CH_SEL_REVOKED,
};

struct ch_select {
	struct ch_tag tags[CH_SEL_TAGS_MAX];	/* all of them (AND) */
	int ntags;
	char glob[CH_SEL_GLOB_MAX + 1];	/* SQLite GLOB of the name; "" any */
	int state;			/* enum ch_sel_state */
};

struct ch_device_rec {
	char fingerprint[128];
	char name[CH_NAME_MAX + 1];	/* "" when unnamed */
	int admission;			/* enum ch_admission */
	int connected;			/* 1 while a session is up */
	char address[64];		/* last peer address, "" if never */
	int64_t first_seen;		/* unix seconds; 0 if never called */
	int64_t last_seen;
	int64_t connected_since;	/* 0 when not connected */
	int capabilities;		/* count from the last hello */
	char last_error[256];		/* why the last session ended, or "" */
	int idle_close;			/* seconds; 0 never; -1 hub default */
	int kind;			/* enum ch_id_kind of fingerprint */
	char cert_fp[128];		/* TLS: "x509:SHA256:..." of the
					 * certificate last presented, or "" */
	char anchor[128];		/* TLS: "x509:SHA256:..." of the trust
					 * anchor it is bound to, or "" */
	int refused_calls;		/* calls refused (pending, revoked)
					 * since its admission changed */
	int64_t last_refused;		/* unix seconds; 0 never */
	int64_t refused_logged;		/* when a refusal was last logged */
};

/* Opens (creating and migrating) the database at path. Errors are logged
 * with the path and SQLite's text. */
int ch_store_open(const char *path, struct ch_store **out);
void ch_store_close(struct ch_store *st);	/* NULL is fine */

/* ---- group commit ----
 *
 * A call-home storm writes a few rows per handshake (the device seen, its
 * session up, "called" and "connected" events); one transaction each
 * would be several commits per handshake, each with its locks and WAL
 * frames. So the records of the devices' own doing are written in a
 * group: the writes made between ch_store_group_enter() and _leave() join
 * one open transaction, committed
 *   - by ch_store_group_leave() once it holds CH_STORE_GROUP_MAX writes
 *     or is CH_STORE_GROUP_MS old,
 *   - by ch_store_flush(), which its owner calls from a timer armed when
 *     ch_store_group_pending() turns 1, at most CH_STORE_GROUP_MS later,
 *   - before any write made outside a group (an operator's approve, a
 *     job's start, an audit record): what an operator is told is done is
 *     committed when told, with everything written before it,
 *   - and by ch_store_close().
 * Reads on this connection see the group's rows at once (`callhome
 * devices`, `callhome events`); other connections see them at its commit.
 * A crash of the hub loses at most the last CH_STORE_GROUP_MS of such
 * records, never an operator's change. Inside a group a multi-statement
 * call runs as a savepoint of the group's transaction.
 */
void ch_store_group_enter(struct ch_store *st);
void ch_store_group_leave(struct ch_store *st);
/* 1 while a group holds writes not committed yet. */
int ch_store_group_pending(const struct ch_store *st);
/* Commits the group now (CH_OK when there is none). NULL is fine. */
int ch_store_flush(struct ch_store *st);

/* Returns a name for an admission value: "pending", "admitted", "revoked". */
const char *ch_admission_name(int admission);

/* CH_OK and *rec filled, or CH_ERR_NOTFOUND. */
int ch_store_device_get(struct ch_store *st, const char *fp,
			struct ch_device_rec *rec);
/* Inserts a device (name may be NULL). CH_ERR_EXISTS if fp is known or the
 * name is taken; CH_ERR_INVAL for a bad name. */
int ch_store_device_add(struct ch_store *st, const char *fp, const char *name,
			int admission);
/* A change of admission also zeroes refused_calls. */
int ch_store_device_set_admission(struct ch_store *st, const char *fp,
				  int admission);
/* A call of the device was refused (it is pending or revoked): counts it
 * in refused_calls and last_refused. *count gets the new count; *log_it
 * is 1 for the first refusal, or when the last one logged is log_every
 * seconds old or more (then refused_logged = now). CH_ERR_NOTFOUND. */
int ch_store_device_refused(struct ch_store *st, const char *fp,
			    int64_t now, int64_t log_every, int *count,
			    int *log_it);
/* The device's own idle-close time in seconds: 0 keeps its sessions open,
 * -1 returns it to the hub's default (--idle-close). CH_ERR_INVAL below
 * -1, CH_ERR_NOTFOUND for an unknown device. */
int ch_store_device_set_idle_close(struct ch_store *st, const char *fp,
				   int seconds);
/* A device called: sets first_seen if unset, last_seen, address. */
int ch_store_device_seen(struct ch_store *st, const char *fp,
			 const char *address, int64_t now);
/* Session up (connected=1: connected_since=now, capabilities=ncaps,
 * last_error cleared) or down (connected=0, reason stored in last_error). */
int ch_store_device_connected(struct ch_store *st, const char *fp,
			      int connected, int ncaps, const char *reason,
			      int64_t now);
/* A TLS device presented the certificate cert_fp: remembers it and
 * copies the one remembered before into prev (128 bytes; "" if none), so
 * the caller can tell a certificate rotation. CH_ERR_NOTFOUND. */
int ch_store_device_cert_seen(struct ch_store *st, const char *fp,
			      const char *cert_fp, char *prev);
/* A TLS device's chain led to the trust anchor `anchor`: the first time
 * it binds the device to it (CH_OK); after that CH_OK when it is the same
 * and CH_ERR_DENIED when not (a serial number is unique only within one
 * manufacturer). bound (128 bytes) gets the anchor the device is bound
 * to. CH_ERR_NOTFOUND, CH_ERR_INVAL. */
int ch_store_device_anchor(struct ch_store *st, const char *fp,
			   const char *anchor, char *bound);
/* At hub start: nobody is connected any more. */
int ch_store_reset_connections(struct ch_store *st);

/* Resolves an operator's DEVICE argument: an exact name, an exact
 * identity, a serial number without its "serial:" prefix, or a unique
 * prefix of an SSH fingerprint (with or without the "SHA256:" part), in
 * that order: an exact name wins over a prefix. CH_ERR_NOTFOUND,
 * CH_ERR_AMBIGUOUS. fp_out has room for 128 bytes. */
int ch_store_device_resolve(struct ch_store *st, const char *query,
			    char *fp_out);

/* Whether name may name the device fp (NULL or an unknown fp: a new
 * device). CH_OK; CH_ERR_INVAL when it is not a device name (1 to
 * CH_NAME_MAX of A-Z a-z 0-9 . _ -, not starting with '-', not "." or
 * "..", not shaped like a fingerprint); CH_ERR_EXISTS when another
 * device has it (regardless of case), or a lookup of it would find
 * another device (its bare serial number, a prefix of its SSH
 * fingerprint). why (len bytes) gets one line naming the name and the
 * reason. ch_store_device_add and _rename apply it. Names given before
 * this rule stay and resolve as before. */
int ch_store_name_check(struct ch_store *st, const char *fp,
			const char *name, char *why, size_t len);
/* Calls fn with the key of each device whose SSH fingerprint (or an
 * alias's) starts with the prefix query stands for, as resolve takes it,
 * in order: to list what an ambiguous query matched. */
int ch_store_device_matches(struct ch_store *st, const char *query,
			    int (*fn)(void *ctx, const char *fp), void *ctx);
/* Deletes the device (fp or an alias), its identities, its finished
 * jobs and its archived configurations, in one transaction; its events
 * stay under its fingerprint.
 * CH_ERR_EXISTS while it has a queued or running job (cancel them
 * first), CH_ERR_NOTFOUND. */
int ch_store_device_delete(struct ch_store *st, const char *fp);

/* Calls fn for each device ordered by name then fingerprint; a non-zero
 * return from fn stops the walk and is returned. */
int ch_store_device_foreach(struct ch_store *st,
			    int (*fn)(void *ctx, const struct ch_device_rec *),
			    void *ctx);

/* Appends to the device's event log (fp may name an unknown device, e.g.
 * a refusal). kind is a short word ("called", "refused", ...). */
int ch_store_event_add(struct ch_store *st, const char *fp, const char *kind,
		       const char *detail, int64_t now);
/* Keeps the newest keep events, dropping the older ones (one DELETE of an
 * id range). ch_store_event_add does it every CH_EVENTS_PRUNE_EVERY
 * events with CH_EVENTS_KEEP: devices feed the log. */
int ch_store_events_prune(struct ch_store *st, int64_t keep);

struct ch_event_rec {
	int64_t id;
	int64_t time;
	char fingerprint[128];
	char kind[32];
	char detail[CH_STORE_TEXT_MAX];
};
/* Newest last; fp NULL means every device; at most limit rows (the newest). */
int ch_store_event_foreach(struct ch_store *st, const char *fp, int limit,
			   int (*fn)(void *ctx, const struct ch_event_rec *),
			   void *ctx);

/* ---- identities: several keys for one device (key rotation) ----
 *
 * A device record is keyed by its first fingerprint; further fingerprints
 * are aliases of it. Every function above that takes a fingerprint also
 * accepts an alias and acts on the device it belongs to; *_get fills
 * rec->fingerprint with the device's key fingerprint (the first one).
 */

/* Adds fp as another identity of the device with key fingerprint dev_fp.
 * CH_ERR_EXISTS if fp already names a device or identity, CH_ERR_NOTFOUND
 * if dev_fp is unknown. */
int ch_store_identity_add(struct ch_store *st, const char *dev_fp,
			  const char *fp, int64_t now);
/* Removes an alias. CH_ERR_INVAL for the device's own first fingerprint
 * (revoke the device instead), CH_ERR_NOTFOUND if unknown. */
int ch_store_identity_remove(struct ch_store *st, const char *fp);
/* Calls fn for each fingerprint of the device (first one first). */
int ch_store_identity_foreach(struct ch_store *st, const char *dev_fp,
			      int (*fn)(void *ctx, const char *fp,
					int64_t added),
			      void *ctx);
/* ---- bulk import: a manufacturer's serial list, SSH host keys ---- */

struct ch_import_counts {
	int added;		/* new devices, admitted */
	int known;		/* already in the registry (left as they are) */
	int approved;		/* ...of which pending ones, now admitted */
	int invalid;		/* lines refused (bad serial, key or name, name
				 * of another device) */
};

enum ch_import_list {
	/* "SERIAL[,NAME]": devices "serial:SERIAL" (TLS) */
	CH_IMPORT_SERIALS,
	/* "[NAME] TYPE BASE64 [COMMENT]", as .pub files and OpenSSH
	 * known_hosts have them (a known_hosts host field names the
	 * device: its first host, [host]:port unwrapped, none if hashed):
	 * devices by the key's SHA256 fingerprint (SSH) */
	CH_IMPORT_HOST_KEYS,
};

/* Imports text (len bytes) of the list kind: one device per line; blank
 * lines and '#' comments skipped, spaces around fields ignored. Each new
 * device is added admitted, with an "added" event; a known pending one is
 * admitted (an "approved" event); others are left as they are. With
 * anchor ("x509:SHA256:..." of the manufacturer's CA, or NULL; serial
 * lists only) every serial of the list is bound to it
 * (ch_store_device_anchor); a known one bound to another is a refused
 * line. One transaction for the whole list. bad (may be NULL) hears each
 * refused line. CH_ERR_LIMIT over CH_IMPORT_MAX_LINES lines (nothing
 * imported), CH_ERR_INVAL for a malformed anchor or one given with keys. */
int ch_store_import(struct ch_store *st, enum ch_import_list list,
		    const char *text, size_t len, const char *anchor,
		    int64_t now, struct ch_import_counts *counts,
		    void (*bad)(void *ctx, unsigned line, const char *why),
		    void *ctx);

/* The fleet in numbers, for `callhome status`: devices by admission
 * (enum ch_admission), those the registry has connected, jobs by state
 * (enum ch_job_state). */
#define CH_CENSUS_ADMISSIONS 3
#define CH_CENSUS_JOB_STATES 7
struct ch_census {
	int64_t devices;
	int64_t admission[CH_CENSUS_ADMISSIONS];
	int64_t connected;
	int64_t jobs[CH_CENSUS_JOB_STATES];
};
int ch_store_census(struct ch_store *st, struct ch_census *c);

/* Tags the device fp with key=value (checked: ch_tag_check): replaces
 * the key's value, or adds a group. One transaction. CH_ERR_NOTFOUND,
 * CH_ERR_INVAL, CH_ERR_LIMIT past CH_TAG_PER_DEVICE_MAX tags. *changed
 * (may be NULL) is 0 when the device had it already. */
int ch_store_tag_set(struct ch_store *st, const char *fp, const char *key,
		     const char *value, int *changed);
/* Removes the tag key=value, or every value of key when value is NULL.
 * *removed gets how many went. CH_ERR_NOTFOUND for an unknown device. */
int ch_store_tag_unset(struct ch_store *st, const char *fp, const char *key,
		       const char *value, int *removed);
/* Calls fn for each tag of the device, by key then value. */
int ch_store_tag_foreach(struct ch_store *st, const char *fp,
			 int (*fn)(void *ctx, const char *key,
				   const char *value),
			 void *ctx);
/* NULL when key (and value, unless NULL) make a tag, else why not. */
const char *ch_tag_check(const char *key, const char *value);
/* ch_store_device_foreach over the devices sel selects, in the same
 * order. */
int ch_store_device_select(struct ch_store *st, const struct ch_select *sel,
			   int (*fn)(void *ctx, const struct ch_device_rec *),
			   void *ctx);

/* Renames (name NULL or "" removes the name). CH_ERR_EXISTS, CH_ERR_INVAL
 * as for add. */
int ch_store_device_rename(struct ch_store *st, const char *fp,
			   const char *name);

/* ---- deferred jobs: operators' requests kept until the device calls ---- */

enum ch_job_state {
	CH_JOB_QUEUED = 0,	/* waiting for the device */
	CH_JOB_RUNNING = 1,	/* sent to the device, outcome not yet known */
	CH_JOB_DONE = 2,	/* the device answered (ok, data or rpc-error:
				 * see rpc_error) */
	CH_JOB_FAILED = 3,	/* could not be carried out; error says why */
	CH_JOB_IN_DOUBT = 4,	/* was running when the hub stopped: it may or
				 * may not have been applied */
	CH_JOB_CANCELLED = 5,
	CH_JOB_EXPIRED = 6,	/* its expiry passed while queued */
};

struct ch_job_rec {
	int64_t id;
	char fingerprint[128];	/* the device's key fingerprint */
	char kind[16];		/* "rpc", "get-config", "edit-config" */
	char *payload;		/* heap: the operation / config XML */
	int read_only;		/* safe to re-run (e.g. get-config) */
	int state;		/* enum ch_job_state */
	int64_t created;
	int64_t expires;	/* unix seconds, 0 = never */
	int64_t started;
	int64_t finished;
	char *result;		/* heap: the device's reply, or NULL */
	int rpc_error;		/* the reply carried an rpc-error */
	char method[64];	/* how it was applied, e.g.
				 * "candidate+confirmed-commit" */
	char error[CH_STORE_TEXT_MAX];
	int no_startup;		/* edit-config: not copied to startup */
	int64_t batch;		/* the batch it belongs to, 0 for none */
};

/* ch_store_job_add's flags */
#define CH_JOB_F_READ_ONLY	1	/* safe to re-run (e.g. get-config) */
#define CH_JOB_F_NO_STARTUP	2	/* a change stays in running only */

/* Returns a name for a state: "queued", "running", "done", "failed",
 * "in-doubt", "cancelled", "expired". */
const char *ch_job_state_name(int state);
/* Frees the heap fields (payload, result); the record is reusable. */
void ch_job_rec_cleanup(struct ch_job_rec *rec);

/* Queues a job for the device fp (an alias is resolved to the device).
 * payload is copied; flags are CH_JOB_F_*. CH_ERR_NOTFOUND for an
 * unknown device, CH_ERR_LIMIT
 * for a payload over CH_JOB_PAYLOAD_MAX. */
int ch_store_job_add(struct ch_store *st, const char *fp, const char *kind,
		     const char *payload, int flags, int64_t expires,
		     int64_t now, int64_t *id);
/* The nearest expiry (unix seconds) of a queued job; 0 when none. */
int ch_store_job_next_expiry(struct ch_store *st, int64_t *when);
/* Calls fn for each queued job whose expiry is at or before now, oldest
 * first, at most limit; fn must not change the jobs (collect, then act). */
int ch_store_job_foreach_due(struct ch_store *st, int64_t now, int limit,
			     int (*fn)(void *ctx, const struct ch_job_rec *),
			     void *ctx);
/* queued -> expired. CH_ERR_INVAL if not queued, CH_ERR_NOTFOUND. */
int ch_store_job_expire(struct ch_store *st, int64_t id, int64_t now);
/* The device's oldest queued job whose expiry has not passed; jobs found
 * expired on the way are marked expired (with finished = now).
 * CH_ERR_NOTFOUND when there is none. */
int ch_store_job_next(struct ch_store *st, const char *fp, int64_t now,
		      struct ch_job_rec *rec);
/* queued -> running, atomically; CH_ERR_INVAL if it was not queued. */
int ch_store_job_start(struct ch_store *st, int64_t id, int64_t now);
/* running -> done/failed/in-doubt (the device went away mid-way) with the
 * outcome; result, method and error may be NULL. CH_ERR_INVAL if it was
 * not running or for another state. */
int ch_store_job_finish(struct ch_store *st, int64_t id, int state,
			const char *result, int rpc_error, const char *method,
			const char *error, int64_t now);
/* queued -> cancelled. CH_ERR_INVAL if not queued, CH_ERR_NOTFOUND. */
int ch_store_job_cancel(struct ch_store *st, int64_t id, int64_t now);
/* in-doubt or failed -> queued again (the operator said so).
 * CH_ERR_INVAL in any other state. */
int ch_store_job_requeue(struct ch_store *st, int64_t id);
/* CH_OK and *rec filled (free with ch_job_rec_cleanup), CH_ERR_NOTFOUND. */
int ch_store_job_get(struct ch_store *st, int64_t id, struct ch_job_rec *rec);
/* Jobs of one device (fp) or of all (NULL), newest first, at most limit
 * (<= 0: all); states_mask selects states (bit 1 << state; 0 = all).
 * The record passed to fn is valid during the call only. */
int ch_store_job_foreach(struct ch_store *st, const char *fp, int limit,
			 unsigned states_mask,
			 int (*fn)(void *ctx, const struct ch_job_rec *),
			 void *ctx);
/* ch_store_job_add for a job of batch (0: none). */
int ch_store_job_add_in(struct ch_store *st, int64_t batch, const char *fp,
			const char *kind, const char *payload, int flags,
			int64_t expires, int64_t now, int64_t *id);
/* ch_store_job_foreach over the devices sel selects (NULL: all). */
int ch_store_job_foreach_sel(struct ch_store *st,
			     const struct ch_select *sel, int limit,
			     unsigned states_mask,
			     int (*fn)(void *ctx, const struct ch_job_rec *),
			     void *ctx);
/* Number of queued jobs of the device. */
int ch_store_job_count_queued(struct ch_store *st, const char *fp, int *n);
/* At hub start: every running job becomes in-doubt, except read-only ones,
 * which are queued again (re-running them is harmless). Sets *in_doubt to
 * how many became in-doubt. Each change is one event on the device. */
int ch_store_jobs_recover(struct ch_store *st, int64_t now, int *in_doubt);
/* This process of the hub, as the registry records who holds a device's
 * session and runs a job (its pid; 0 until set). */
void ch_store_set_holder(struct ch_store *st, int64_t holder);
/* How long a group's writes wait for their commit (CH_STORE_GROUP_MS
 * unless set): shorter when several processes share the file, since the
 * open group holds the write lock. */
void ch_store_set_group_ms(struct ch_store *st, int ms);
int ch_store_group_ms(const struct ch_store *st);
/* The process holder is gone (a worker of the hub died): the devices it
 * held are disconnected (why, an event each) and its running jobs
 * recovered as by ch_store_jobs_recover; a newer session or job of the
 * same device in another process is left alone. fn (may be NULL) hears
 * of each device concerned, before the change is committed. One
 * transaction. */
int ch_store_holder_lost(struct ch_store *st, int64_t holder,
			 const char *why, int64_t now,
			 void (*fn)(void *ctx, const char *fp), void *ctx,
			 int *in_doubt);

/* ---- batches: one job per selected device (bulk jobs) ---- */

struct ch_batch_rec {
	int64_t id;
	int64_t created;
	char kind[16];			/* as the jobs' */
	char selector[CH_STORE_TEXT_MAX];	/* as the operator gave it */
	int rate;			/* jobs/s started at most */
	char actor[CH_ACTOR_NAME_MAX];
	int count[CH_JOB_EXPIRED + 1];	/* jobs by enum ch_job_state */
	int total;
};

/* Makes batch *id of kind with a job (payload, flags, expires as for
 * ch_store_job_add) for each of the n devices fps, in one transaction;
 * job_ids (n of them, may be NULL) get the jobs' ids. CH_ERR_NOTFOUND
 * when a device went meanwhile (nothing is made). */
int ch_store_batch_add(struct ch_store *st, const char *kind,
		       const char *payload, int flags, int64_t expires,
		       const char *selector, int rate, const char *actor,
		       const char *const *fps, size_t n, int64_t now,
		       int64_t *id, int64_t *job_ids);
/* CH_OK with rec and its counts, or CH_ERR_NOTFOUND. */
/* *open: 1 while a job of batch id is queued or running (one index
 * probe, whatever the batch's size). */
int ch_store_batch_open(struct ch_store *st, int64_t id, int *open);
int ch_store_batch_get(struct ch_store *st, int64_t id,
		       struct ch_batch_rec *rec);
/* Batches newest first, at most limit (<= 0: all), with their counts. */
int ch_store_batch_foreach(struct ch_store *st, int limit,
			   int (*fn)(void *ctx, const struct ch_batch_rec *),
			   void *ctx);
/* The jobs of batch id, by id; states_mask as for ch_store_job_foreach. */
int ch_store_batch_jobs(struct ch_store *st, int64_t id, unsigned states_mask,
			int (*fn)(void *ctx, const struct ch_job_rec *),
			void *ctx);

/* Events with id > since_id, oldest first, at most limit (<= 0: all):
 * for `callhome events --follow`. fp NULL means every device. */
int ch_store_event_foreach_since(struct ch_store *st, const char *fp,
				 int64_t since_id, int limit,
				 int (*fn)(void *ctx,
					   const struct ch_event_rec *),
				 void *ctx);

/* Events of the devices sel selects: since_id < 0 the newest limit
 * (as ch_store_event_foreach), else those after since_id (as _since). */
int ch_store_event_foreach_sel(struct ch_store *st,
			       const struct ch_select *sel, int64_t since_id,
			       int limit,
			       int (*fn)(void *ctx,
					 const struct ch_event_rec *),
			       void *ctx);

/* ---- the audit log: who did what to which device (docs/terminal.md,
 * "Audit") ----
 *
 * One record per operator action, refused or failed ones too. The
 * events above are each device's story; this is the authoritative
 * who-did-what. At most CH_AUDIT_KEEP records are kept, the oldest
 * dropped first (every CH_AUDIT_PRUNE_EVERY records written).
 */

struct ch_audit_rec {
	int64_t id;			/* set by the registry */
	int64_t time;			/* unix seconds */
	char actor[CH_ACTOR_NAME_MAX];	/* the operator's name */
	int64_t uid;			/* a local operator's uid, else -1 */
	char via[CH_ACTOR_VIA_MAX];	/* the front end: "local", "hub" */
	char fingerprint[128];		/* the device's key; "" for none
					 * (the fleet, or never resolved) */
	char action[CH_AUDIT_ACTION_MAX];	/* "approve", "shell-end" */
	char outcome[CH_AUDIT_OUTCOME_MAX];	/* "ok", "refused", ... */
	char detail[CH_STORE_TEXT_MAX];
	/* a shell, exec or forward: -1 (or "") when it does not apply */
	char recording[CH_AUDIT_RECORDING_MAX];
	int64_t exit_status;
	int64_t bytes_in;		/* from the operator */
	int64_t bytes_out;		/* to the operator */
	int64_t duration_ms;
};

/* Clears rec: every optional field "not applicable". */
void ch_audit_rec_init(struct ch_audit_rec *rec);
/* Appends rec (its id is ignored; an alias fingerprint is stored as its
 * device's key). CH_ERR_INVAL without an action, outcome or actor. */
int ch_store_audit_add(struct ch_store *st, const struct ch_audit_rec *rec);

struct ch_audit_filter {
	const char *fp;		/* one device (its key or an alias), or NULL */
	const char *actor;	/* a name, or a uid in decimal; NULL: all */
	int64_t since, until;	/* unix seconds, both included; 0: open */
	int limit;		/* the newest limit; <= 0: all */
};
/* Calls fn for each matching record, oldest first (by time, then id):
 * the newest f->limit of them. A non-zero return from fn stops the walk
 * and is returned. */
int ch_store_audit_foreach(struct ch_store *st,
			   const struct ch_audit_filter *f,
			   int (*fn)(void *ctx, const struct ch_audit_rec *),
			   void *ctx);
/* Drops all but the newest keep records. */
int ch_store_audit_prune(struct ch_store *st, int64_t keep);

/* ---- the configuration archive (docs/operations.md, "The
 * configuration archive") ----
 *
 * Each device's running configuration as the hub fetched it, in versions
 * 1, 2, ...: a new version only when its hash differs from the newest
 * one's. A device's versions are deleted with it.
 */

struct ch_config_rec {
	int64_t version;		/* 1, 2, ... per device */
	int64_t time;			/* unix seconds, when it was fetched */
	char hash[CH_CONFIG_HASH_LEN];	/* "sha256:<hex>" of content */
	int64_t size;			/* bytes of content */
	char trigger[CH_STORE_TEXT_MAX];	/* why it was fetched: "call",
					 * "config-change by ...", "job N" */
	char *content;			/* heap, NUL-terminated; NULL in a
					 * walk */
};

/* Frees content; the record is reusable. */
void ch_config_rec_cleanup(struct ch_config_rec *rec);
/* Archives content (len bytes) fetched from the device fp (or an alias)
 * at now, its hash and why: when hash equals the newest version's,
 * nothing is written (*added 0, *version the newest); else a new version
 * (*added 1, *version its number) and the versions older than the
 * newest keep are deleted, in one transaction. CH_ERR_INVAL (no hash,
 * keep < 1), CH_ERR_DB (an unknown device among others). */
int ch_store_config_add(struct ch_store *st, const char *fp, int64_t now,
			const char *hash, const char *trigger,
			const char *content, size_t len, int keep,
			int64_t *version, int *added);
/* One version with its content (free with ch_config_rec_cleanup):
 * version > 0 that one; else the one in force at `at` (the newest
 * fetched at or before it; at <= 0: the newest). CH_ERR_NOTFOUND. */
int ch_store_config_get(struct ch_store *st, const char *fp, int64_t version,
			int64_t at, struct ch_config_rec *rec);
/* Calls fn for each version of fp, oldest first, without content; a
 * non-zero return from fn stops the walk and is returned. */
int ch_store_config_foreach(struct ch_store *st, const char *fp,
			    int (*fn)(void *ctx,
				      const struct ch_config_rec *rec),
			    void *ctx);

#endif
