/* commit.c - <commit> and the confirmed commit (RFC 6241 8.3, 8.4):
 * its rollback.xml, timer, persist token and owner; <cancel-commit>,
 * <discard-changes>, and what a session's end undoes.
 */
#include "agent/datastore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "agent/datastore/internal.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

int ch_ds_confirm_pending(const struct ch_ds *ds)
{
	return ds->pending;
}

static void end_pending(struct ch_ds *ds)
{
	ds->pending = 0;
	ds->owner = 0;
	free(ds->persist);
	ds->persist = NULL;
	lyd_free_all(ds->rollback);
	lyd_free_all(ds->gate_tree);
	ds->rollback = NULL;
	ds->gate_tree = NULL;
	if (ds->timer_init)
		uv_timer_stop(&ds->timer);
	settled(ds);
}

/* Restores running as it was before the pending confirmed commit (the
 * candidate follows). If the file cannot be written, rollback.xml stays
 * and the next start restores it. */
static void roll_back(struct ch_ds *ds, const char *why)
{
	struct ch_ds_err err;

	ch_warn("confirmed commit rolled back: %s", why);
	if (save(ds, "running.xml", ds->rollback, &err) == CH_OK)
		drop_file(ds, "rollback.xml");
	else
		ch_error("running.xml: %s; rollback.xml is kept and will be "
			 "restored at the next start", err.message);
	changed(ds, ds->tree[CH_DS_RUNNING], ds->rollback);
	lyd_free_all(ds->tree[CH_DS_RUNNING]);
	ds->tree[CH_DS_RUNNING] = ds->rollback;
	ds->rollback = NULL;	/* transferred */
	reset_candidate(ds);
	end_pending(ds);
}

static void on_confirm_timeout(uv_timer_t *t)
{
	struct ch_ds *ds = t->data;

	if (ds->pending) {
		ds->cur_sid = 0;	/* the server's doing */
		roll_back(ds, "the confirm-timeout expired");
	}
}

/* Who may confirm, extend or cancel the pending confirmed commit
 * (RFC 6241 8.4.5.1): its session, or anyone with its persist token. */
static int check_owner(struct ch_ds *ds, uint32_t sid, const char *persist_id,
		       struct ch_ds_err *err)
{
	if (ds->persist != NULL) {
		if (persist_id == NULL) {
			fail(err, "protocol", "missing-element",
			     "a confirmed commit with <persist> is pending: "
			     "give its <persist-id>");
			err_info(err, "bad-element", "persist-id");
			return CH_ERR_INVAL;
		}
		if (strcmp(persist_id, ds->persist) != 0)
			return fail(err, "protocol", "invalid-value",
				    "<persist-id> does not match the pending "
				    "confirmed commit's <persist>");
		return CH_OK;
	}
	if (persist_id != NULL)
		return fail(err, "protocol", "invalid-value", "<persist-id> "
			    "given, but the pending confirmed commit was made "
			    "without <persist>");
	if (ds->owner != sid)
		return fail(err, "protocol", "in-use", "a confirmed commit of "
			    "session %u is pending: only that session may "
			    "confirm, extend or cancel it", ds->owner);
	return CH_OK;
}

int ch_ds_commit(struct ch_ds *ds, uint32_t sid, const struct ch_ds_commit *c,
		 struct ch_ds_err *err)
{
	struct lyd_node *work = NULL, *before = NULL;
	uint64_t ms;
	int r, started = 0;

	err_clear(err);
	ly_err_clean(ds->ctx, NULL);
	ds->cur_sid = sid;
	if (locked_by_other(ds, sid, CH_DS_RUNNING, err) ||
	    locked_by_other(ds, sid, CH_DS_CANDIDATE, err))
		return CH_ERR_INVAL;
	if (c->confirmed && !ds->timer_init)
		return fail(err, "protocol", "operation-not-supported",
			    "confirmed commits need the event loop");
	if (ds->pending) {
		if ((r = check_owner(ds, sid, c->persist_id, err)) != CH_OK)
			return r;
	} else if (c->persist_id != NULL) {
		return fail(err, "protocol", "invalid-value", "<persist-id> "
			    "given, but no confirmed commit is pending");
	}
	if (c->persist != NULL && strlen(c->persist) > CH_DS_PERSIST_MAX)
		return fail(err, "protocol", "invalid-value", "<persist> is "
			    "longer than %d bytes", CH_DS_PERSIST_MAX);
	if (tree_dup(ds->tree[CH_DS_CANDIDATE], &work) != CH_OK)
		return fail_nomem(err);
	if ((r = validate(ds, &work, err)) != CH_OK)
		goto out;
	if (c->confirmed && !ds->pending) {
		/* Saved first: a stop before the confirmation restores it. */
		if (tree_dup(ds->tree[CH_DS_RUNNING], &before) != CH_OK) {
			r = fail_nomem(err);
			goto out;
		}
		if ((r = save(ds, "rollback.xml", before, err)) != CH_OK)
			goto out;
		started = 1;
	}
	ds->in_commit = 1;	/* settled once the commit is complete */
	r = store(ds, CH_DS_RUNNING, &work, err);
	ds->in_commit = 0;
	if (r != CH_OK) {
		if (started)
			drop_file(ds, "rollback.xml");
		goto out;
	}
	reset_candidate(ds);
	if (!c->confirmed) {
		if (ds->pending) {
			end_pending(ds);
			drop_file(ds, "rollback.xml");
			ch_info("session-id=%u confirmed the pending "
				"confirmed commit", sid);
		} else {
			ch_info("session-id=%u committed the candidate", sid);
			settled(ds);
		}
		goto out;
	}
	if (started) {
		ds->rollback = before;
		before = NULL;	/* transferred */
		ds->pending = 1;
	}
	/* A follow-up given with the persist-id keeps the token unless it
	 * sets a new one; without a token the commit is its session's. */
	if (c->persist != NULL) {
		free(ds->persist);
		ds->persist = strdup(c->persist);
	} else if (c->persist_id == NULL) {
		free(ds->persist);
		ds->persist = NULL;
	}
	ds->owner = ds->persist ? 0 : sid;
	ms = 1000ull * (c->timeout_s ? c->timeout_s
				     : CH_DS_CONFIRM_TIMEOUT_DEFAULT);
	uv_timer_start(&ds->timer, on_confirm_timeout, ms, 0);
	ch_info("session-id=%u %s a confirmed commit: rolled back in %llu s "
		"unless confirmed%s", sid, started ? "made" : "extended",
		(unsigned long long)(ms / 1000),
		ds->persist ? " (persist)" : "");
out:
	lyd_free_all(work);
	lyd_free_all(before);
	return r;
}

int ch_ds_cancel_commit(struct ch_ds *ds, uint32_t sid, const char *persist_id,
			struct ch_ds_err *err)
{
	char why[64];
	int r;

	err_clear(err);
	if (!ds->pending)
		return fail(err, "protocol", "operation-failed",
			    "no confirmed commit is pending");
	if ((r = check_owner(ds, sid, persist_id, err)) != CH_OK)
		return r;
	snprintf(why, sizeof(why), "cancel-commit from session-id=%u", sid);
	ds->cur_sid = sid;
	roll_back(ds, why);
	return CH_OK;
}

int ch_ds_discard(struct ch_ds *ds, uint32_t sid, struct ch_ds_err *err)
{
	err_clear(err);
	if (locked_by_other(ds, sid, CH_DS_CANDIDATE, err))
		return CH_ERR_INVAL;
	reset_candidate(ds);
	return CH_OK;
}

void ch_ds_session_end(struct ch_ds *ds, uint32_t sid)
{
	char why[64];

	if (ds == NULL || sid == 0)
		return;
	if (ds->pending && ds->persist == NULL && ds->owner == sid) {
		snprintf(why, sizeof(why), "session-id=%u ended before the "
			 "confirming commit", sid);
		ds->cur_sid = 0;	/* the server's doing */
		roll_back(ds, why);
	}
	for (int i = 0; i < CH_DS_COUNT; i++) {
		if (ds->lock[i] == sid) {
			snprintf(why, sizeof(why), "session-id=%u ended", sid);
			release(ds, (enum ch_ds_id)i, why);
			ch_info("session-id=%u ended: %s lock released", sid,
				ds_names[i]);
		}
	}
}
