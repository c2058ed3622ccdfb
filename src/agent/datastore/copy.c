/* copy.c - whole datastores: <get-config>'s content, <copy-config>,
 * <delete-config> and <validate>.
 */
#include "agent/datastore.h"

#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "agent/datastore/internal.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

int ch_ds_get(struct ch_ds *ds, enum ch_ds_id id, char **xml, size_t *len,
	      struct ch_ds_err *err)
{
	err_clear(err);
	*len = 0;
	if ((unsigned)id >= CH_DS_COUNT) {
		*xml = NULL;
		return fail(err, "protocol", "invalid-value",
			    "no such datastore");
	}
	if (print_tree(view(ds, id), LYD_PRINT_SHRINK, xml) != CH_OK)
		return fail_nomem(err);
	*len = strlen(*xml);
	return CH_OK;
}

/* A copy of source (a datastore, or the inline <config> when -1),
 * validated. */
static int source_tree(struct ch_ds *ds, int source, const xmlNode *config,
		       struct lyd_node **work, struct ch_ds_err *err)
{
	int r;

	*work = NULL;
	if (source < 0)
		r = apply_config(ds, config, ED_MERGE, work, err);
	else if (source >= CH_DS_COUNT)
		r = fail(err, "protocol", "invalid-value", "no such datastore");
	else if ((r = tree_dup(view(ds, source), work)) != CH_OK)
		r = fail_nomem(err);
	if (r == CH_OK)
		r = validate(ds, work, err);
	if (r != CH_OK) {
		lyd_free_all(*work);
		*work = NULL;
	}
	return r;
}

int ch_ds_copy(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
	       int source, const xmlNode *config, struct ch_ds_err *err)
{
	struct lyd_node *work = NULL;
	int r;

	err_clear(err);
	ly_err_clean(ds->ctx, NULL);
	ds->cur_sid = sid;
	if ((unsigned)target >= CH_DS_COUNT)
		return fail(err, "protocol", "invalid-value",
			    "no such datastore");
	if (source == (int)target)
		return fail(err, "protocol", "invalid-value", "copy-config: "
			    "the source and the target are the same "
			    "datastore (%s)", ds_names[target]);
	if (locked_by_other(ds, sid, target, err))
		return CH_ERR_INVAL;
	if ((r = source_tree(ds, source, config, &work, err)) == CH_OK)
		r = store(ds, target, &work, err);
	lyd_free_all(work);
	if (r == CH_OK)
		ch_info("session-id=%u copied %s to %s", sid,
			source < 0 ? "a configuration" : ds_names[source],
			ds_names[target]);
	return r;
}

int ch_ds_delete(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
		 struct ch_ds_err *err)
{
	struct lyd_node *empty = NULL;
	int r;

	err_clear(err);
	if (target == CH_DS_RUNNING)
		return fail(err, "protocol", "operation-failed",
			    "the running datastore cannot be deleted "
			    "(RFC 6241 7.4)");
	if (target != CH_DS_STARTUP)
		return fail(err, "protocol", "operation-failed",
			    "the candidate cannot be deleted: use "
			    "discard-changes to reset it");
	if (locked_by_other(ds, sid, target, err))
		return CH_ERR_INVAL;
	/* An empty startup: the device would boot with no configuration. */
	if ((r = store(ds, CH_DS_STARTUP, &empty, err)) == CH_OK)
		ch_info("session-id=%u deleted the startup configuration",
			sid);
	return r;
}

int ch_ds_validate(struct ch_ds *ds, int source, const xmlNode *config,
		   struct ch_ds_err *err)
{
	struct lyd_node *work = NULL;
	int r;

	err_clear(err);
	ly_err_clean(ds->ctx, NULL);
	r = source_tree(ds, source, config, &work, err);
	lyd_free_all(work);
	return r;
}
