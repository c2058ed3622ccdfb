/* change.c - how a datastore changes (store: checked, gated, written,
 * swapped in) and who is told: the change listeners (RFC 6470 <edit>s of
 * the diff), the checker, the settle listener, the --on-commit gate.
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
#include "lib/nc/msg.h"

/* "/mod:name" (or without the slash) of n into b; n's module joins
 * mods, the prefixes to declare, once. */
static int path_step(const struct lyd_node *n, const char *sep,
		     struct ch_buf *b, const struct lys_module **mods,
		     size_t *nmods, size_t maxmods)
{
	const struct lys_module *m = n->schema->module;
	size_t i;

	for (i = 0; i < *nmods && mods[i] != m; i++)
		;
	if (i == *nmods && *nmods < maxmods)
		mods[(*nmods)++] = m;
	return ch_buf_printf(b, "%s%s:%s", sep, m->name, n->schema->name);
}

/* A key or leaf-list value as an XPath literal. */
static int put_literal(struct ch_buf *b, const char *v)
{
	char q = strchr(v, '\'') ? '"' : '\'';
	int r;

	if ((r = ch_buf_put(b, &q, 1)) != CH_OK ||
	    (r = ch_xml_escape(b, v, strlen(v))) != CH_OK)
		return r;
	return ch_buf_put(b, &q, 1);
}

/* One RFC 6470 <edit>: target as an XML instance-identifier (every step
 * prefixed by its module's name, declared on <target>), and the
 * operation. */
static int put_edit(const struct lyd_node *n, const char *op,
		    struct ch_buf *out)
{
	const struct lyd_node *chain[CH_DS_PATH_DEPTH_MAX];
	const struct lys_module *mods[CH_DS_PATH_DEPTH_MAX];
	size_t depth = 0, nmods = 0;
	struct ch_buf path;
	int r = CH_OK;

	for (const struct lyd_node *p = n; p && depth < CH_DS_PATH_DEPTH_MAX;
	     p = lyd_parent(p))
		chain[depth++] = p;
	ch_buf_init(&path, CH_DS_FILE_MAX);
	while (r == CH_OK && depth--) {
		const struct lyd_node *x = chain[depth];

		r = path_step(x, "/", &path, mods, &nmods,
			      CH_DS_PATH_DEPTH_MAX);
		if (r == CH_OK && x->schema->nodetype == LYS_LEAFLIST &&
		    (r = ch_buf_puts(&path, "[.=")) == CH_OK &&
		    (r = put_literal(&path, lyd_get_value(x))) == CH_OK)
			r = ch_buf_puts(&path, "]");
		if (r != CH_OK || x->schema->nodetype != LYS_LIST)
			continue;
		for (const struct lyd_node *k = lyd_child(x);
		     r == CH_OK && k && lysc_is_key(k->schema); k = k->next) {
			if ((r = ch_buf_puts(&path, "[")) == CH_OK &&
			    (r = path_step(k, "", &path, mods, &nmods,
					   CH_DS_PATH_DEPTH_MAX)) == CH_OK &&
			    (r = ch_buf_puts(&path, "=")) == CH_OK &&
			    (r = put_literal(&path, lyd_get_value(k))) == CH_OK)
				r = ch_buf_puts(&path, "]");
		}
	}
	if (r == CH_OK)
		r = ch_buf_puts(out, "<edit><target");
	for (size_t i = 0; r == CH_OK && i < nmods; i++) {
		if ((r = ch_buf_printf(out, " xmlns:%s=\"", mods[i]->name)) ==
			    CH_OK &&
		    (r = ch_xml_escape(out, mods[i]->ns,
				       strlen(mods[i]->ns))) == CH_OK)
			r = ch_buf_puts(out, "\"");
	}
	if (r == CH_OK && (r = ch_buf_puts(out, ">")) == CH_OK &&
	    (r = ch_buf_put(out, ch_buf_ptr(&path), ch_buf_len(&path))) ==
		    CH_OK)
		r = ch_buf_printf(out, "</target><operation>%s</operation>"
				  "</edit>", op);
	ch_buf_cleanup(&path);
	return r;
}

/* The edits of a lyd_diff_siblings diff: one per node whose own
 * operation is create, delete or replace; "none" nodes are walked. */
static int diff_edits(const struct lyd_node *first, struct ch_buf *out)
{
	int r = CH_OK;

	for (const struct lyd_node *n = first; r == CH_OK && n; n = n->next) {
		struct lyd_meta *m = lyd_find_meta(n->meta, NULL,
						   "yang:operation");
		const char *op = m ? lyd_get_meta_value(m) : "none";

		if (strcmp(op, "none") == 0)
			r = diff_edits(lyd_child_no_keys(n), out);
		else
			r = put_edit(n, op, out);
	}
	return r;
}

/* Tells the on_change hook that running went from old to new. */
void changed(struct ch_ds *ds, const struct lyd_node *old,
	     const struct lyd_node *new)
{
	struct lyd_node *diff = NULL;
	struct ch_buf b;
	int r;

	if (ds->on_change[0].fn == NULL)
		return;
	if (lyd_diff_siblings(old, new, 0, &diff) != LY_SUCCESS) {
		ch_warn("running changed, but its diff failed: no "
			"notification");
		return;
	}
	if (diff == NULL)	/* nothing changed */
		return;
	ch_buf_init(&b, CH_DS_EDITS_MAX);
	if ((r = diff_edits(diff, &b)) == CH_ERR_LIMIT) {
		/* RFC 6470's edit list is optional: the change is still
		 * told (a notification, a rollback's on-commit run). */
		ch_warn("running changed, but its edits are over %u bytes "
			"(CH_DS_EDITS_MAX): told without them",
			(unsigned)CH_DS_EDITS_MAX);
		ch_buf_reset(&b);
		r = CH_OK;
	}
	if (r == CH_OK)
		for (int k = 0; k < CH_DS_MAX_LISTENERS &&
				ds->on_change[k].fn; k++)
			ds->on_change[k].fn(ds->on_change[k].ctx, ds->cur_sid,
					    ch_buf_ptr(&b), ch_buf_len(&b));
	ch_buf_cleanup(&b);
	lyd_free_all(diff);
}

void ch_ds_gate(struct ch_ds *ds, enum ch_ds_gate mode)
{
	ds->gate = mode;
	if (mode == CH_DS_GATE_DRY) {
		lyd_free_all(ds->gate_tree);
		ds->gate_tree = NULL;
	}
}

int ch_ds_gate_files(struct ch_ds *ds, char **running, char **diff)
{
	struct lyd_node *d = NULL;
	int r;

	*running = NULL;
	*diff = NULL;
	if (lyd_diff_siblings(ds->tree[CH_DS_RUNNING], ds->gate_tree, 0,
			      &d) != LY_SUCCESS)
		return CH_ERR_NOMEM;
	if ((r = print_tree(ds->gate_tree, 0, running)) == CH_OK &&
	    (r = print_tree(d, 0, diff)) != CH_OK) {
		free(*running);
		*running = NULL;
	}
	lyd_free_all(d);
	return r;
}

void ch_ds_on_change(struct ch_ds *ds,
		     void (*fn)(void *ctx, uint32_t sid, const char *edits,
				size_t len),
		     void *ctx)
{
	int k;

	if (fn == NULL) {
		memset(ds->on_change, 0, sizeof(ds->on_change));
		return;
	}
	for (k = 0; k < CH_DS_MAX_LISTENERS && ds->on_change[k].fn; k++)
		;
	if (k == CH_DS_MAX_LISTENERS) {
		ch_error("datastore: more than %d change listeners",
			 CH_DS_MAX_LISTENERS);
		return;
	}
	ds->on_change[k].fn = fn;
	ds->on_change[k].ctx = ctx;
}

void ch_ds_on_check(struct ch_ds *ds,
		    int (*fn)(void *ctx, const struct lyd_node *tree,
			      char *msg, size_t len),
		    void *ctx)
{
	ds->check = fn;
	ds->check_ctx = ctx;
}

void ch_ds_on_settle(struct ch_ds *ds, void (*fn)(void *ctx), void *ctx)
{
	ds->on_settle = fn;
	ds->settle_ctx = ctx;
}

/* Running is final: no confirmed commit waits (see ch_ds_on_settle). */
void settled(struct ch_ds *ds)
{
	if (ds->on_settle != NULL && !ds->pending)
		ds->on_settle(ds->settle_ctx);
}

const struct lyd_node *ch_ds_running_tree(const struct ch_ds *ds)
{
	return ds->tree[CH_DS_RUNNING];
}

/* Replaces datastore id by *work (taken): running and a saved startup
 * are written first, so a failed write changes nothing. */
int store(struct ch_ds *ds, int id, struct lyd_node **work,
	  struct ch_ds_err *err)
{
	struct lyd_node *old;
	char msg[CH_DS_ERR_MSG_MAX];
	int r;

	if (id == CH_DS_RUNNING && ds->check &&
	    ds->check(ds->check_ctx, *work, msg, sizeof(msg)) != CH_OK)
		return fail(err, "application", "operation-failed", "%s", msg);
	if (id == CH_DS_RUNNING && ds->gate == CH_DS_GATE_DRY) {
		lyd_free_all(ds->gate_tree);
		ds->gate_tree = *work;
		*work = NULL;	/* kept for ch_ds_gate_files */
		fail(err, "application", "operation-failed", "the change "
		     "waits for its check");
		return CH_ERR_AGAIN;
	}
	if (id == CH_DS_RUNNING && ds->gate == CH_DS_GATE_EXPECT &&
	    !trees_equal(*work, ds->gate_tree))
		return fail(err, "application", "operation-failed", "running "
			    "changed while this change was being checked: "
			    "nothing was done, try again");
	if (id == CH_DS_RUNNING && (r = save(ds, "running.xml", *work, err)))
		return r;
	if (id == CH_DS_STARTUP) {
		if ((r = save(ds, "startup.xml", *work, err)) != CH_OK)
			return r;
		ds->startup_saved = 1;
	}
	old = ds->tree[id];
	ds->tree[id] = *work;
	*work = NULL;	/* transferred */
	if (id == CH_DS_RUNNING) {
		changed(ds, old, ds->tree[id]);
		if (!ds->in_commit)
			settled(ds);
	}
	lyd_free_all(old);
	return CH_OK;
}

/* The candidate starts over as a copy of running. */
void reset_candidate(struct ch_ds *ds)
{
	struct lyd_node *c;

	if (tree_dup(ds->tree[CH_DS_RUNNING], &c) != CH_OK) {
		ch_error("out of memory: the candidate keeps its changes");
		return;
	}
	lyd_free_all(ds->tree[CH_DS_CANDIDATE]);
	ds->tree[CH_DS_CANDIDATE] = c;
}
