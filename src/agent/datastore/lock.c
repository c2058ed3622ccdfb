/* lock.c - <lock> and <unlock> (RFC 6241 7.5, 7.6), and who may change
 * a locked datastore.
 */
#include "agent/datastore.h"

#include <stdio.h>
#include <time.h>

#include <libyang/libyang.h>

#include "agent/datastore/internal.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

int locked_by_other(struct ch_ds *ds, uint32_t sid, int id,
		    struct ch_ds_err *err)
{
	char s[16];

	if (ds->lock[id] == 0 || ds->lock[id] == sid)
		return 0;
	fail(err, "protocol", "in-use", "the %s datastore is locked by "
	     "session %u", ds_names[id], ds->lock[id]);
	snprintf(s, sizeof(s), "%u", ds->lock[id]);
	err_info(err, "session-id", s);
	return 1;
}

uint32_t ch_ds_lock_info(const struct ch_ds *ds, enum ch_ds_id target,
			 time_t *since)
{
	*since = 0;
	if ((unsigned)target >= CH_DS_COUNT || ds->lock[target] == 0)
		return 0;
	*since = ds->lock_time[target];
	return ds->lock[target];
}

uint32_t ch_ds_lock_holder(const struct ch_ds *ds, enum ch_ds_id target)
{
	return (unsigned)target < CH_DS_COUNT ? ds->lock[target] : 0;
}

static int lock_denied(struct ch_ds_err *err, uint32_t holder,
		       const char *why)
{
	char s[16];

	fail(err, "protocol", "lock-denied", "%s", why);
	snprintf(s, sizeof(s), "%u", holder);
	err_info(err, "session-id", s);
	return CH_ERR_INVAL;
}

int ch_ds_lock(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
	       struct ch_ds_err *err)
{
	char what[64];

	err_clear(err);
	if ((unsigned)target >= CH_DS_COUNT)
		return fail(err, "protocol", "invalid-value",
			    "no such datastore");
	if (ds->lock[target] != 0) {
		snprintf(what, sizeof(what), "the %s datastore is locked by "
			 "session %u", ds_names[target], ds->lock[target]);
		return lock_denied(err, ds->lock[target], what);
	}
	/* RFC 6241 7.5: not over someone's uncommitted changes, nor over a
	 * confirmed commit another session (or a persist token) owns. */
	if (target == CH_DS_CANDIDATE && candidate_modified(ds))
		return lock_denied(err, 0, "the candidate has "
				   "uncommitted changes: commit or "
				   "discard-changes first");
	if (target == CH_DS_RUNNING && ds->pending &&
	    (ds->persist != NULL || ds->owner != sid))
		return lock_denied(err, ds->owner, "a confirmed commit "
				   "is waiting for its confirmation");
	ds->lock[target] = sid;
	ds->lock_time[target] = time(NULL);
	ch_info("session-id=%u locked %s", sid, ds_names[target]);
	return CH_OK;
}

void release(struct ch_ds *ds, enum ch_ds_id target, const char *why)
{
	ds->lock[target] = 0;
	/* RFC 6241 8.3.5.2: the lock's end discards outstanding changes. */
	if (target == CH_DS_CANDIDATE && candidate_modified(ds)) {
		reset_candidate(ds);
		ch_info("candidate changes discarded: %s", why);
	}
}

int ch_ds_unlock(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
		 struct ch_ds_err *err)
{
	char s[16];

	err_clear(err);
	if ((unsigned)target >= CH_DS_COUNT)
		return fail(err, "protocol", "invalid-value",
			    "no such datastore");
	if (ds->lock[target] == 0)
		return fail(err, "protocol", "operation-failed",
			    "the %s datastore is not locked",
			    ds_names[target]);
	if (ds->lock[target] != sid) {
		fail(err, "protocol", "operation-failed", "the %s datastore "
		     "is locked by session %u: only it may unlock",
		     ds_names[target], ds->lock[target]);
		snprintf(s, sizeof(s), "%u", ds->lock[target]);
		err_info(err, "session-id", s);
		return CH_ERR_INVAL;
	}
	release(ds, target, "unlocked");
	ch_info("session-id=%u unlocked %s", sid, ds_names[target]);
	return CH_OK;
}
