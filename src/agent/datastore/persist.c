/* persist.c - the datastore directory's files (datastore.h lists them):
 * printing a tree, writing one atomically, loading and validating one,
 * and what running is at start.
 */
#include "agent/datastore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libyang/libyang.h>

#include "agent/datastore/internal.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/log.h"

static void path_of(const struct ch_ds *ds, const char *name, char *out,
		    size_t len)
{
	snprintf(out, len, "%s/%s", ds->dir, name);
}

/* Serialises a configuration: explicit nodes only (defaults come back
 * with validation), "" for an empty one. */
int print_tree(const struct lyd_node *t, uint32_t opts, char **out)
{
	*out = NULL;
	if (t != NULL &&
	    lyd_print_mem(out, lyd_first_sibling(t), LYD_XML,
			  LYD_PRINT_WITHSIBLINGS | opts) != LY_SUCCESS)
		return CH_ERR_NOMEM;
	if (*out == NULL && (*out = strdup("")) == NULL)
		return CH_ERR_NOMEM;
	return CH_OK;
}

int save(struct ch_ds *ds, const char *name, const struct lyd_node *t,
	 struct ch_ds_err *err)
{
	char path[4096], *s;
	int r;

	path_of(ds, name, path, sizeof(path));
	if ((r = print_tree(t, 0, &s)) != CH_OK)
		return fail_nomem(err);
	r = ch_file_write_atomic(path, s, strlen(s), FILE_MODE);
	free(s);
	if (r != CH_OK)
		return fail(err, "application", "operation-failed",
			    "cannot write %s: the datastore is unchanged",
			    name);
	return CH_OK;
}

void drop_file(struct ch_ds *ds, const char *name)
{
	char path[4096];

	path_of(ds, name, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		ch_log_errno(CH_LOG_ERROR, "%s: cannot remove", path);
}

/* Loads and validates a stored datastore; *found is 0 when the file
 * does not exist (*tree is then NULL). */
static int load(struct ch_ds *ds, const char *name, struct lyd_node **tree,
		int *found)
{
	char path[4096], *data = NULL;
	const struct ly_err_item *i;
	size_t len;
	int r;

	*tree = NULL;
	*found = 0;
	path_of(ds, name, path, sizeof(path));
	r = ch_file_read(path, CH_DS_FILE_MAX, &data, &len);
	if (r == CH_ERR_NOTFOUND)
		return CH_OK;
	if (r != CH_OK) {
		ch_log_r(CH_LOG_ERROR, r, "%s: cannot read", path);
		return r;
	}
	*found = 1;
	ly_err_clean(ds->ctx, NULL);
	if (lyd_parse_data_mem(ds->ctx, data, LYD_XML,
			       LYD_PARSE_STRICT | LYD_PARSE_NO_STATE,
			       LYD_VALIDATE_PRESENT | LYD_VALIDATE_NO_STATE,
			       tree) != LY_SUCCESS) {
		i = ly_err_last(ds->ctx);
		ch_error("%s: not a valid configuration for the loaded YANG "
			 "modules: %s%s%s", path, i && i->msg ? i->msg : "?",
			 i && i->path ? " at " : "",
			 i && i->path ? i->path : "");
		*tree = NULL;
		r = CH_ERR_INVAL;
	}
	free(data);
	return r;
}

/* running := startup if saved, else running.xml, unless a confirmed
 * commit was left unconfirmed (rollback.xml): then what it replaced. */
int load_all(struct ch_ds *ds)
{
	struct lyd_node *t = NULL;
	struct ch_ds_err err;
	int found, r;

	if ((r = load(ds, "startup.xml", &t, &found)) != CH_OK)
		return r;
	ds->startup_saved = found;
	ds->tree[CH_DS_STARTUP] = t;
	if (found) {
		if ((r = tree_dup(t, &ds->tree[CH_DS_RUNNING])) != CH_OK)
			return r;
		drop_file(ds, "rollback.xml");	/* startup wins */
		if (save(ds, "running.xml", ds->tree[CH_DS_RUNNING], &err)) {
			ch_error("%s", err.message);
			return CH_ERR_IO;
		}
		ch_info("running configuration loaded from startup.xml");
	} else {
		if ((r = load(ds, "rollback.xml", &t, &found)) != CH_OK)
			return r;
		if (found) {
			ch_warn("a confirmed commit was never confirmed: "
				"restoring the configuration before it "
				"(rollback.xml)");
			if (save(ds, "running.xml", t, &err) != CH_OK) {
				lyd_free_all(t);
				ch_error("%s", err.message);
				return CH_ERR_IO;
			}
			drop_file(ds, "rollback.xml");
		} else if ((r = load(ds, "running.xml", &t, &found)) != CH_OK) {
			return r;
		}
		ds->tree[CH_DS_RUNNING] = t;
	}
	return tree_dup(ds->tree[CH_DS_RUNNING], &ds->tree[CH_DS_CANDIDATE]);
}
