/* datastore.c - running, candidate and startup on libyang 2 (see
 * datastore.h for the contract and the files).
 *
 * An <edit-config> is applied in three steps:
 *  1. the <config> content (libxml2, from the rpc) is serialised element
 *     by element with every namespace in scope, its base-namespace
 *     "operation" attributes moved to our internal annotation module, and
 *     parsed by libyang with LYD_PARSE_ONLY | LYD_PARSE_OPAQ: values are
 *     typed and canonical, operations are metadata, and what does not fit
 *     the schema becomes an opaque node we report precisely;
 *  2. the edit tree is walked against a copy of the target (apply_*):
 *     list entries are found by key, leaf-lists by value (libyang's hash
 *     lookups), and nodes are created by duplicating the edit node, which
 *     marks them new for libyang;
 *  3. the copy is validated (lyd_validate_all, LYD_VALIDATE_PRESENT),
 *     which also adds defaults and drops the nodes of a choice's old case
 *     when the edit created nodes of another case, then swapped in.
 */
#include "datastore.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libyang/libyang.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

#define CAP "urn:ietf:params:netconf:capability:"
#define EDIT_NS "urn:callhome:params:xml:ns:yang:callhome-nc-edit"
#define EDIT_PREFIX "callhome-nc-edit"
#define MODULE_SPEC_MAX 512
#define FILE_MODE 0600

/* RFC 6241 7.2's operation attribute as a YANG annotation, so libyang
 * keeps it on the parsed edit nodes as metadata. Never advertised. */
static const char edit_module[] =
	"module callhome-nc-edit {\n"
	"  yang-version 1.1;\n"
	"  namespace \"" EDIT_NS "\";\n"
	"  prefix chnce;\n"
	"  import ietf-yang-metadata { prefix md; }\n"
	"  description \"callhomed internal: the NETCONF edit-config "
	"operation attribute.\";\n"
	"  md:annotation operation {\n"
	"    type string;\n"	/* checked by own_op: bad-attribute */
	"  }\n"
	"}\n";

static const char *const protocol_caps[] = {
	CAP "writable-running:1.0",
	CAP "candidate:1.0",
	CAP "confirmed-commit:1.1",
	CAP "rollback-on-error:1.0",
	CAP "validate:1.1",
	CAP "startup:1.0",
};

static const char *const ds_names[CH_DS_COUNT] = {
	[CH_DS_RUNNING] = "running",
	[CH_DS_CANDIDATE] = "candidate",
	[CH_DS_STARTUP] = "startup",
};

struct ch_ds {
	struct ly_ctx *ctx;
	const struct lys_module *emod;	/* the internal annotation module */
	char *dir;
	struct lyd_node *tree[CH_DS_COUNT];
	int startup_saved;		/* startup.xml exists */
	uint32_t lock[CH_DS_COUNT];	/* holder's session-id, 0: none */
	time_t lock_time[CH_DS_COUNT];	/* when it was taken */
	/* A confirmed commit waiting for its confirmation. */
	int pending;
	struct lyd_node *rollback;	/* running before it */
	uint32_t owner;			/* its session; 0 with persist */
	char *persist;			/* its <persist> token, or NULL */
	uv_timer_t timer;
	int timer_init;
	char **caps;
	size_t ncaps;
	/* Told of every change of running (ch_ds_on_change). */
	struct {
		void (*fn)(void *ctx, uint32_t sid, const char *edits,
			   size_t len);
		void *ctx;
	} on_change[CH_DS_MAX_LISTENERS];
	/* Checks a new running before it is made (ch_ds_on_check). */
	int (*check)(void *ctx, const struct lyd_node *tree, char *msg,
		     size_t len);
	void *check_ctx;
	/* Told when running settles (ch_ds_on_settle). */
	void (*on_settle)(void *ctx);
	void *settle_ctx;
	uint32_t cur_sid;		/* the session of the running call */
	/* The external check of changes of running (ch_ds_gate). */
	enum ch_ds_gate gate;
	struct lyd_node *gate_tree;	/* the last dry run's running */
	int in_commit;			/* inside ch_ds_commit's store */
};

/* ------------------------------------------------------------ errors */

static void err_clear(struct ch_ds_err *err)
{
	memset(err, 0, sizeof(*err));
}

__attribute__((format(printf, 4, 5)))
static int fail(struct ch_ds_err *err, const char *type, const char *tag,
		const char *fmt, ...)
{
	va_list ap;

	err->type = type;
	err->tag = tag;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return CH_ERR_INVAL;
}

/* Appends <name>text</name>, escaped, to err->info (truncation drops
 * the element rather than emitting broken XML). */
static void err_info(struct ch_ds_err *err, const char *name,
		     const char *text)
{
	struct ch_buf b;
	size_t have = strlen(err->info);

	ch_buf_init(&b, sizeof(err->info) - have - 1);
	if (ch_buf_printf(&b, "<%s>", name) == CH_OK &&
	    ch_xml_escape(&b, text, strlen(text)) == CH_OK &&
	    ch_buf_printf(&b, "</%s>", name) == CH_OK)
		memcpy(err->info + have, ch_buf_ptr(&b), ch_buf_len(&b) + 1);
	ch_buf_cleanup(&b);
}

static void err_path(struct ch_ds_err *err, const struct lyd_node *n)
{
	char *p = lyd_path(n, LYD_PATH_STD, NULL, 0);

	if (p != NULL)
		snprintf(err->path, sizeof(err->path), "%s", p);
	free(p);
}

static const char *node_name(const struct lyd_node *n)
{
	return n->schema ? n->schema->name
			 : ((const struct lyd_node_opaq *)n)->name.name;
}

/* The name inside the first pair of double quotes of msg, for
 * <bad-element>; libyang quotes the node a message is about. */
static void quoted_name(const char *msg, char *out, size_t outlen)
{
	const char *a = strchr(msg, '"'), *b = a ? strchr(a + 1, '"') : NULL;

	out[0] = '\0';
	if (b != NULL && (size_t)(b - a - 1) < outlen) {
		memcpy(out, a + 1, (size_t)(b - a - 1));
		out[b - a - 1] = '\0';
	}
}

/* Fills err from libyang's last error: YANG constraint violations are
 * mapped per RFC 7950 15 (app tags from libyang), a mandatory node to
 * missing-element, a bad value to invalid-value. */
static int fail_ly(struct ch_ds *ds, struct ch_ds_err *err, const char *what)
{
	const struct ly_err_item *i = ly_err_last(ds->ctx);
	const char *msg = i && i->msg ? i->msg : "internal libyang error";
	const char *tag = "operation-failed";
	char name[128];

	if (i && i->apptag && (strcmp(i->apptag, "missing-choice") == 0 ||
			       strcmp(i->apptag, "instance-required") == 0))
		tag = "data-missing";
	else if (i && i->apptag && i->apptag[0])
		tag = "operation-failed";
	else if (i && i->vecode == LYVE_DATA &&
		 strncmp(msg, "Mandatory node", 14) == 0)
		tag = "missing-element";
	else if (i && i->vecode == LYVE_DATA)
		tag = "invalid-value";
	fail(err, "application", tag, "%s: %s", what, msg);
	/* The path may come as 'Data location "/a:b/c", line number 1.' */
	if (i && i->path && strchr(i->path, '"') != NULL)
		quoted_name(i->path, err->path, sizeof(err->path));
	else if (i && i->path)
		snprintf(err->path, sizeof(err->path), "%s", i->path);
	if (i && i->apptag)
		snprintf(err->app_tag, sizeof(err->app_tag), "%s", i->apptag);
	if (strcmp(tag, "missing-element") == 0) {
		quoted_name(msg, name, sizeof(name));
		if (name[0])
			err_info(err, "bad-element", name);
	}
	ly_err_clean(ds->ctx, NULL);
	return CH_ERR_INVAL;
}

static int fail_nomem(struct ch_ds_err *err)
{
	fail(err, "application", "resource-denied", "out of memory");
	return CH_ERR_NOMEM;
}

/* libyang's own log lines are for debugging: what matters reaches the
 * client as an rpc-error, or the operator through ch_ds_open's errors. */
static void ly_log_to_ch(LY_LOG_LEVEL level, const char *msg,
			 const char *path)
{
	(void)level;
	ch_debug("libyang: %s%s%s", msg, path ? " at " : "", path ? path : "");
}

/* ------------------------------------------------------------ trees */

int ch_ds_id_parse(const char *name)
{
	for (int i = 0; i < CH_DS_COUNT; i++)
		if (strcmp(name, ds_names[i]) == 0)
			return i;
	return -1;
}

const char *ch_ds_id_name(enum ch_ds_id id)
{
	return (unsigned)id < CH_DS_COUNT ? ds_names[id] : "?";
}

/* What a datastore holds; startup, before one was saved, is what the
 * device boots from: the running configuration. */
static struct lyd_node *view(const struct ch_ds *ds, int id)
{
	if (id == CH_DS_STARTUP && !ds->startup_saved)
		return ds->tree[CH_DS_RUNNING];
	return ds->tree[id];
}

static int tree_dup(const struct lyd_node *t, struct lyd_node **out)
{
	*out = NULL;
	if (t == NULL)
		return CH_OK;
	/* With the flags: validated nodes are not "new", so a choice's case
	 * switch is seen only for what an edit adds. */
	if (lyd_dup_siblings(lyd_first_sibling(t), NULL,
			     LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS,
			     out) != LY_SUCCESS)
		return CH_ERR_NOMEM;
	return CH_OK;
}

static int trees_equal(const struct lyd_node *a, const struct lyd_node *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return lyd_compare_siblings(lyd_first_sibling(a), lyd_first_sibling(b),
				    LYD_COMPARE_FULL_RECURSION) == LY_SUCCESS;
}

static int candidate_modified(const struct ch_ds *ds)
{
	return !trees_equal(ds->tree[CH_DS_CANDIDATE], ds->tree[CH_DS_RUNNING]);
}

static int validate(struct ch_ds *ds, struct lyd_node **tree,
		    struct ch_ds_err *err)
{
	if (*tree == NULL)
		return CH_OK;
	if (lyd_validate_all(tree, ds->ctx,
			     LYD_VALIDATE_PRESENT | LYD_VALIDATE_NO_STATE,
			     NULL) != LY_SUCCESS)
		return fail_ly(ds, err, "validation failed");
	return CH_OK;
}

static void path_of(const struct ch_ds *ds, const char *name, char *out,
		    size_t len)
{
	snprintf(out, len, "%s/%s", ds->dir, name);
}

/* Serialises a configuration: explicit nodes only (defaults come back
 * with validation), "" for an empty one. */
static int print_tree(const struct lyd_node *t, uint32_t opts, char **out)
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

static int save(struct ch_ds *ds, const char *name, const struct lyd_node *t,
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

static void drop_file(struct ch_ds *ds, const char *name)
{
	char path[4096];

	path_of(ds, name, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		ch_error("%s: cannot remove: %s", path, strerror(errno));
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
		ch_error("%s: cannot read: %s", path, ch_strerror(r));
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

/* ------------------------------------------------------------ changes */

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
static void changed(struct ch_ds *ds, const struct lyd_node *old,
		    const struct lyd_node *new)
{
	struct lyd_node *diff = NULL;
	struct ch_buf b;

	if (ds->on_change[0].fn == NULL)
		return;
	if (lyd_diff_siblings(old, new, 0, &diff) != LY_SUCCESS) {
		ch_warn("running changed, but its diff failed: no "
			"notification");
		return;
	}
	ch_buf_init(&b, CH_DS_FILE_MAX);
	if (diff != NULL && diff_edits(diff, &b) == CH_OK)
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
static void settled(struct ch_ds *ds)
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
static int store(struct ch_ds *ds, int id, struct lyd_node **work,
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
static void reset_candidate(struct ch_ds *ds)
{
	struct lyd_node *c;

	if (tree_dup(ds->tree[CH_DS_RUNNING], &c) != CH_OK) {
		ch_error("out of memory: the candidate keeps its changes");
		return;
	}
	lyd_free_all(ds->tree[CH_DS_CANDIDATE]);
	ds->tree[CH_DS_CANDIDATE] = c;
}

/* ------------------------------------------------------------ edit */

enum ed_op {
	ED_BAD = -2,
	ED_INHERIT = -1,
	ED_NONE = 0,
	ED_MERGE,
	ED_REPLACE,
	ED_CREATE,
	ED_DELETE,
	ED_REMOVE,
};

static const char *const op_names[] = {
	[ED_NONE] = "none", [ED_MERGE] = "merge", [ED_REPLACE] = "replace",
	[ED_CREATE] = "create", [ED_DELETE] = "delete", [ED_REMOVE] = "remove",
};

struct edit {
	struct ch_ds *ds;
	struct ch_ds_err *err;
};

static enum ed_op op_parse(const char *v)
{
	for (int i = ED_MERGE; i <= ED_REMOVE; i++)
		if (v != NULL && strcmp(v, op_names[i]) == 0)
			return (enum ed_op)i;
	return ED_BAD;
}

/* The node's own operation attribute: ED_INHERIT when it has none,
 * ED_BAD for a value that is not an operation. */
static enum ed_op own_op(const struct ch_ds *ds, const struct lyd_node *e)
{
	const struct lyd_attr *a;
	const struct lyd_meta *m;

	if (e->schema != NULL) {
		m = lyd_find_meta(e->meta, ds->emod, "operation");
		return m ? op_parse(lyd_get_meta_value(m)) : ED_INHERIT;
	}
	for (a = ((const struct lyd_node_opaq *)e)->attr; a; a = a->next)
		if (strcmp(a->name.name, "operation") == 0 &&
		    a->name.module_ns &&
		    strcmp(a->name.module_ns, EDIT_NS) == 0)
			return op_parse(a->value);
	return ED_INHERIT;
}

/* The first node below e (not e) whose own operation is in mask (bits
 * 1 << op), or NULL. */
static const struct lyd_node *find_op(const struct ch_ds *ds,
				      const struct lyd_node *e, unsigned mask)
{
	const struct lyd_node *c, *f;
	enum ed_op op;

	for (c = lyd_child(e); c; c = c->next) {
		op = own_op(ds, c);
		if (op >= 0 && (mask & (1u << op)))
			return c;
		if ((f = find_op(ds, c, mask)) != NULL)
			return f;
	}
	return NULL;
}

static int edit_fail(struct edit *ed, const struct lyd_node *e,
		     const char *type, const char *tag, const char *what)
{
	fail(ed->err, type, tag, "%s \"%s\": %s",
	     e->schema ? lys_nodetype2str(e->schema->nodetype) : "element",
	     node_name(e), what);
	err_path(ed->err, e);
	return CH_ERR_INVAL;
}

/* The schema node of an opaque edit node, i.e. one libyang could not
 * make a data node of; the reason is reported unless it is a leaf to
 * delete or remove, whose value does not matter. */
static int resolve_opaq(struct edit *ed, const struct lyd_node *e,
			const struct lysc_node *psch, enum ed_op op,
			const struct lysc_node **out)
{
	const struct lyd_node_opaq *o = (const struct lyd_node_opaq *)e;
	const char *ns = o->name.module_ns ? o->name.module_ns : "";
	const struct lys_module *mod;
	const struct lysc_node *s = NULL, *k;
	const struct lyd_node *c;
	int found;

	*out = NULL;
	mod = ly_ctx_get_module_implemented_ns(ed->ds->ctx, ns);
	if (mod == NULL || mod == ed->ds->emod) {
		edit_fail(ed, e, "application", "unknown-namespace",
			  "no YANG module of this device has its namespace");
		err_info(ed->err, "bad-element", o->name.name);
		err_info(ed->err, "bad-namespace", ns);
		return CH_ERR_INVAL;
	}
	while ((s = lys_getnext(s, psch, psch ? NULL : mod->compiled, 0)))
		if (s->module == mod && strcmp(s->name, o->name.name) == 0)
			break;
	if (s == NULL) {
		edit_fail(ed, e, "application", "unknown-element",
			  psch ? "not a child of its parent in the schema"
			       : "not a top-level node of its module");
		err_info(ed->err, "bad-element", o->name.name);
		return CH_ERR_INVAL;
	}
	if (s->flags & LYS_CONFIG_R) {
		edit_fail(ed, e, "application", "invalid-value",
			  "state data cannot be configured");
		return CH_ERR_INVAL;
	}
	switch (s->nodetype) {
	case LYS_LEAF:
		if (op == ED_DELETE || op == ED_REMOVE) {
			*out = s;
			return CH_OK;
		}
		/* fall through */
	case LYS_LEAFLIST:
		edit_fail(ed, e, "application", "invalid-value",
			  "the value is not valid for its type");
		err_info(ed->err, "bad-element", o->name.name);
		return CH_ERR_INVAL;
	case LYS_LIST:
		for (k = lysc_node_child(s); k && lysc_is_key(k); k = k->next) {
			found = 0;
			for (c = lyd_child(e); c && !found; c = c->next)
				found = strcmp(node_name(c), k->name) == 0;
			if (!found) {
				edit_fail(ed, e, "application",
					  "missing-element",
					  "a list entry needs all its keys");
				err_info(ed->err, "bad-element", k->name);
				return CH_ERR_INVAL;
			}
		}
		edit_fail(ed, e, "application", "invalid-value",
			  "a key has a value not valid for its type");
		return CH_ERR_INVAL;
	default:
		edit_fail(ed, e, "application", "bad-element",
			  "the element does not fit its schema node");
		err_info(ed->err, "bad-element", o->name.name);
		return CH_ERR_INVAL;
	}
}

/* Removes m from the target (tparent's child, or a top-level node). */
static void target_free(struct lyd_node *tparent, struct lyd_node **top,
			struct lyd_node *m)
{
	if (tparent == NULL && m == *top)
		*top = m->next;
	lyd_free_tree(m);
}

static int apply_siblings(struct edit *ed, const struct lyd_node *efirst,
			  const struct lysc_node *psch,
			  struct lyd_node *tparent, struct lyd_node **top,
			  enum ed_op inherited);

/* Adds a copy of e (a list entry with its keys) to the target, then
 * applies e's children to it. */
static int create(struct edit *ed, const struct lyd_node *e,
		  const struct lysc_node *s, struct lyd_node *tparent,
		  struct lyd_node **top, enum ed_op op)
{
	struct lyd_node *n = NULL;

	if (e->schema == NULL)	/* an opaque leaf; cannot happen */
		return edit_fail(ed, e, "application", "operation-failed",
				 "cannot be created");
	if (lyd_dup_single(e, (struct lyd_node_inner *)tparent,
			   LYD_DUP_NO_META, &n) != LY_SUCCESS)
		return fail_ly(ed->ds, ed->err, "cannot create a node");
	if (tparent == NULL && lyd_insert_sibling(*top, n, top) != LY_SUCCESS) {
		lyd_free_tree(n);
		return fail_ly(ed->ds, ed->err, "cannot insert a node");
	}
	if (s->nodetype & LYD_NODE_INNER)
		return apply_siblings(ed, lyd_child(e), s, n, top, op);
	return CH_OK;
}

/* Applies one edit node e (whose schema parent is psch) to the children
 * of tparent, or to the top level *top when tparent is NULL. */
static int apply_node(struct edit *ed, const struct lyd_node *e,
		      const struct lysc_node *psch, struct lyd_node *tparent,
		      struct lyd_node **top, enum ed_op inherited)
{
	const struct lysc_node *s = e->schema;
	struct lyd_node *first = tparent ? lyd_child(tparent) : *top;
	struct lyd_node *m = NULL;
	const struct lyd_node *d;
	enum ed_op op = own_op(ed->ds, e);
	int r, exists;

	if (op == ED_BAD) {
		edit_fail(ed, e, "protocol", "bad-attribute",
			  "the operation attribute must be merge, replace, "
			  "create, delete or remove");
		err_info(ed->err, "bad-attribute", "operation");
		err_info(ed->err, "bad-element", node_name(e));
		return CH_ERR_INVAL;
	}
	if (op == ED_INHERIT)
		op = inherited;
	if (s == NULL && (r = resolve_opaq(ed, e, psch, op, &s)) != CH_OK)
		return r;
	if (lysc_is_key(s))	/* identifies its list entry: done there */
		return CH_OK;
	if (e->schema && (s->nodetype & (LYS_LIST | LYS_LEAFLIST)))
		lyd_find_sibling_first(first, e, &m);
	else
		lyd_find_sibling_val(first, s, NULL, 0, &m);
	/* An implicit default (a default leaf, a non-presence container
	 * libyang added) is not configuration the client created. */
	exists = m != NULL && !(m->flags & LYD_DEFAULT);

	switch (op) {
	case ED_CREATE:
		if (exists)
			return edit_fail(ed, e, "application", "data-exists",
					 "create: the data already exists");
		/* fall through */
	case ED_REPLACE:
		if (m != NULL)
			target_free(tparent, top, m);
		return create(ed, e, s, tparent, top, op);
	case ED_MERGE:
		if (m == NULL)
			return create(ed, e, s, tparent, top, op);
		if (s->nodetype & LYD_NODE_INNER)
			return apply_siblings(ed, lyd_child(e), s, m, top, op);
		if (exists && (s->nodetype == LYS_LEAFLIST ||
			       lyd_compare_single(m, e, 0) == LY_SUCCESS))
			return CH_OK;
		target_free(tparent, top, m);
		return create(ed, e, s, tparent, top, op);
	case ED_NONE:
		/* RFC 6241 7.2: "none" only walks; a level that does not
		 * exist is data-missing, unless something below creates
		 * (then the level is created, as a merge would). */
		if (m != NULL && (s->nodetype & LYD_NODE_INNER))
			return apply_siblings(ed, lyd_child(e), s, m, top, op);
		if (exists)
			return CH_OK;
		if (find_op(ed->ds, e, (1u << ED_MERGE) | (1u << ED_REPLACE) |
				       (1u << ED_CREATE)))
			return create(ed, e, s, tparent, top, op);
		d = find_op(ed->ds, e, 1u << ED_DELETE);
		if (d == NULL && find_op(ed->ds, e, 1u << ED_REMOVE))
			return CH_OK;	/* removing what is absent */
		return edit_fail(ed, d ? d : e, "application", "data-missing",
				 d ? "delete: the data does not exist"
				   : "default-operation none: the data does "
				     "not exist");
	case ED_DELETE:
		if (!exists)
			return edit_fail(ed, e, "application", "data-missing",
					 "delete: the data does not exist");
		target_free(tparent, top, m);
		return CH_OK;
	case ED_REMOVE:
		if (exists)
			target_free(tparent, top, m);
		return CH_OK;
	default:
		return edit_fail(ed, e, "application", "operation-failed",
				 "unexpected operation");
	}
}

static int apply_siblings(struct edit *ed, const struct lyd_node *efirst,
			  const struct lysc_node *psch,
			  struct lyd_node *tparent, struct lyd_node **top,
			  enum ed_op inherited)
{
	int r;

	for (const struct lyd_node *e = efirst; e; e = e->next)
		if ((r = apply_node(ed, e, psch, tparent, top, inherited)))
			return r;
	return CH_OK;
}

/* Moves base-namespace operation attributes of n and its descendants to
 * our annotation's namespace, declared on root when first needed. */
static int retag_ops(xmlNode *root, xmlNode *n, xmlNs **ens)
{
	for (xmlAttr *a = n->properties; a; a = a->next) {
		if (a->ns == NULL || a->ns->href == NULL ||
		    strcmp((const char *)a->ns->href, CH_NC_NS) != 0 ||
		    strcmp((const char *)a->name, "operation") != 0)
			continue;
		if (*ens == NULL &&
		    (*ens = xmlNewNs(root, BAD_CAST EDIT_NS,
				     BAD_CAST EDIT_PREFIX)) == NULL)
			return CH_ERR_NOMEM;
		a->ns = *ens;
	}
	for (xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && retag_ops(root, c, ens))
			return CH_ERR_NOMEM;
	return CH_OK;
}

/* Appends element k as a standalone XML text: a copy with every
 * namespace in scope at k declared on it (prefixes inside values, such
 * as identityrefs, refer to them) and its operations retagged. */
static int element_xml(const xmlNode *k, struct ch_buf *out)
{
	xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNs **scope = NULL, *ens = NULL;
	xmlBuffer *xb = NULL;
	xmlNode *copy;
	int r = CH_ERR_NOMEM;

	if (doc == NULL ||
	    (copy = xmlDocCopyNode((xmlNode *)k, doc, 1)) == NULL)
		goto out;
	xmlDocSetRootElement(doc, copy);
	scope = xmlGetNsList(k->doc, k);
	for (size_t i = 0; scope && scope[i]; i++)
		if (xmlSearchNs(doc, copy, scope[i]->prefix) == NULL &&
		    xmlNewNs(copy, scope[i]->href, scope[i]->prefix) == NULL)
			goto out;
	if (retag_ops(copy, copy, &ens) != CH_OK ||
	    (xb = xmlBufferCreate()) == NULL ||
	    xmlNodeDump(xb, doc, copy, 0, 0) < 0)
		goto out;
	r = ch_buf_put(out, xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
out:
	xmlBufferFree(xb);
	xmlFree(scope);
	xmlFreeDoc(doc);
	return r;
}

/* The content of a <config> element as a libyang edit tree (parsed
 * only: values typed, operations as metadata, misfits opaque). */
static int parse_config(struct ch_ds *ds, const xmlNode *config,
			struct lyd_node **edit, struct ch_ds_err *err)
{
	struct ch_buf xml;
	int r = CH_OK;

	*edit = NULL;
	ch_buf_init(&xml, CH_DS_FILE_MAX);
	for (const xmlNode *k = config ? config->children : NULL; k && !r;
	     k = k->next) {
		if (k->type == XML_ELEMENT_NODE)
			r = element_xml(k, &xml);
		else if (k->type == XML_TEXT_NODE &&
			 !xmlIsBlankNode((xmlNode *)k))
			r = CH_ERR_PROTO;
	}
	if (r == CH_ERR_PROTO) {
		fail(err, "protocol", "bad-element",
		     "<config> holds text: only configuration elements "
		     "belong there");
		err_info(err, "bad-element", "config");
	} else if (r == CH_ERR_LIMIT) {
		fail(err, "application", "too-big",
		     "the configuration is larger than %u bytes",
		     CH_DS_FILE_MAX);
	} else if (r != CH_OK) {
		fail_nomem(err);
	} else if (ch_buf_len(&xml) &&
		   lyd_parse_data_mem(ds->ctx, ch_buf_ptr(&xml), LYD_XML,
				      LYD_PARSE_ONLY | LYD_PARSE_OPAQ |
				      LYD_PARSE_NO_STATE, 0,
				      edit) != LY_SUCCESS) {
		*edit = NULL;
		r = fail_ly(ds, err, "the configuration cannot be parsed");
	}
	ch_buf_cleanup(&xml);
	return r;
}

/* Applies config to *work with default operation op. */
static int apply_config(struct ch_ds *ds, const xmlNode *config,
			enum ed_op op, struct lyd_node **work,
			struct ch_ds_err *err)
{
	struct edit ed = { .ds = ds, .err = err };
	struct lyd_node *edit;
	int r;

	if ((r = parse_config(ds, config, &edit, err)) != CH_OK)
		return r;
	r = apply_siblings(&ed, edit, NULL, NULL, work, op);
	lyd_free_all(edit);
	return r;
}

static int locked_by_other(struct ch_ds *ds, uint32_t sid, int id,
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

int ch_ds_edit(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
	       enum ch_ds_defop defop, enum ch_ds_test test,
	       const xmlNode *config, struct ch_ds_err *err)
{
	static const enum ed_op defops[] = {
		[CH_DS_DEFOP_MERGE] = ED_MERGE,
		[CH_DS_DEFOP_REPLACE] = ED_REPLACE,
		[CH_DS_DEFOP_NONE] = ED_NONE,
	};
	struct lyd_node *work = NULL;
	int r;

	err_clear(err);
	ly_err_clean(ds->ctx, NULL);
	ds->cur_sid = sid;
	if (target != CH_DS_RUNNING && target != CH_DS_CANDIDATE)
		return fail(err, "protocol", "invalid-value", "edit-config "
			    "works on running or candidate, not %s",
			    ch_ds_id_name(target));
	if (locked_by_other(ds, sid, target, err))
		return CH_ERR_INVAL;
	/* replace: the configuration completely replaces the datastore
	 * (RFC 6241 7.2), so it starts from nothing. */
	if (defop != CH_DS_DEFOP_REPLACE &&
	    tree_dup(ds->tree[target], &work) != CH_OK)
		return fail_nomem(err);
	r = apply_config(ds, config, defops[defop], &work, err);
	/* set (RFC 6241 8.6) skips validation: the candidate may hold an
	 * unfinished configuration; running never does. */
	if (r == CH_OK && (target == CH_DS_RUNNING || test != CH_DS_TEST_SET))
		r = validate(ds, &work, err);
	if (r == CH_OK && test != CH_DS_TEST_ONLY)
		r = store(ds, target, &work, err);
	lyd_free_all(work);
	if (r == CH_OK)
		ch_debug("session-id=%u edit-config on %s done", sid,
			 ds_names[target]);
	return r;
}

/* ------------------------------------------------------------ whole */

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

/* ------------------------------------------------------------ locks */

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

static void release(struct ch_ds *ds, enum ch_ds_id target, const char *why)
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

/* ------------------------------------------------------------ commit */

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

/* ------------------------------------------------------------ xpath */

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* The XPath with its XML prefixes (prefixes[i] for nss[i]) replaced by
 * module names, as libyang's JSON-format paths want. String literals
 * and axes (name::) are left alone. */
static int xpath_rewrite(struct ch_ds *ds, const char *xp,
			 const char *const *prefixes, const char *const *nss,
			 size_t nns, struct ch_buf *out, struct ch_ds_err *err)
{
	const char *p = xp;
	int r = CH_OK;

	while (r == CH_OK && *p) {
		const char *q;

		if (*p == '"' || *p == '\'') {
			if ((q = strchr(p + 1, *p)) == NULL)
				return fail(err, "protocol", "invalid-value",
					    "the XPath has an unterminated "
					    "string");
			r = ch_buf_put(out, p, (size_t)(q - p + 1));
			p = q + 1;
			continue;
		}
		if (!is_name_char(*p) || (p > xp && is_name_char(p[-1]))) {
			r = ch_buf_put(out, p, 1);
			p++;
			continue;
		}
		for (q = p; is_name_char(*q); q++)
			;
		if (q[0] == ':' && q[1] != ':' && !(p[0] >= '0' &&
						      p[0] <= '9')) {
			const struct lys_module *m = NULL;
			size_t i;

			for (i = 0; i < nns; i++)
				if (strlen(prefixes[i]) == (size_t)(q - p) &&
				    strncmp(prefixes[i], p, (size_t)(q - p)) ==
					    0)
					break;
			if (i == nns)
				return fail(err, "protocol", "invalid-value",
					    "XPath prefix '%.*s' is not "
					    "declared", (int)(q - p), p);
			m = ly_ctx_get_module_implemented_ns(ds->ctx, nss[i]);
			if (m == NULL)
				return fail(err, "protocol", "invalid-value",
					    "XPath prefix '%s': no module "
					    "with namespace %s", prefixes[i],
					    nss[i]);
			r = ch_buf_puts(out, m->name);
		} else {
			r = ch_buf_put(out, p, (size_t)(q - p));
		}
		p = q;
	}
	return r;
}

int ch_ds_xpath(struct ch_ds *ds, const char *xml, const char *select,
		const char *const *prefixes, const char *const *nss,
		size_t nns, char **out, struct ch_ds_err *err)
{
	struct lyd_node *tree = NULL, *result = NULL, *dup, *top;
	struct ly_set *set = NULL;
	struct ch_buf xp;
	int r;

	err_clear(err);
	*out = NULL;
	ly_err_clean(ds->ctx, NULL);
	ch_buf_init(&xp, CH_DS_ERR_MSG_MAX * 8);
	if ((r = xpath_rewrite(ds, select, prefixes, nss, nns, &xp, err)) !=
	    CH_OK)
		goto out;
	if (ch_buf_puts(&xp, "") != CH_OK) {	/* NUL-terminated */
		r = fail_nomem(err);
		goto out;
	}
	if (lyd_parse_data_mem(ds->ctx, xml, LYD_XML, LYD_PARSE_ONLY |
			       LYD_PARSE_STRICT, 0, &tree) != LY_SUCCESS) {
		r = fail_ly(ds, err, "the data to filter");
		goto out;
	}
	if (tree == NULL) {	/* nothing to select from */
		r = print_tree(NULL, 0, out) == CH_OK ? CH_OK :
			fail_nomem(err);
		goto out;
	}
	if (lyd_find_xpath(tree, ch_buf_ptr(&xp), &set) != LY_SUCCESS) {
		const struct ly_err_item *e = ly_err_last(ds->ctx);

		r = fail(err, "protocol", "invalid-value", "not a node-set "
			 "XPath expression: %s", e && e->msg ? e->msg : select);
		ly_err_clean(ds->ctx, NULL);
		goto out;
	}
	for (uint32_t i = 0; i < set->count; i++) {
		if (lyd_dup_single(set->dnodes[i], NULL, LYD_DUP_RECURSIVE |
				   LYD_DUP_WITH_PARENTS, &dup) != LY_SUCCESS) {
			r = fail_nomem(err);
			goto out;
		}
		for (top = dup; lyd_parent(top); top = lyd_parent(top))
			;
		if (lyd_merge_siblings(&result, top, LYD_MERGE_DESTRUCT) !=
		    LY_SUCCESS) {
			lyd_free_all(top);
			r = fail_nomem(err);
			goto out;
		}
	}
	if (print_tree(result, LYD_PRINT_SHRINK, out) != CH_OK)
		r = fail_nomem(err);
out:
	ly_set_free(set, NULL);
	lyd_free_all(tree);
	lyd_free_all(result);
	ch_buf_cleanup(&xp);
	return r;
}

/* ------------------------------------------------------------ yanglib */

uint32_t ch_ds_yanglib_id(const struct ch_ds *ds)
{
	return ly_ctx_get_change_count(ds->ctx);
}

int ch_ds_yanglib(struct ch_ds *ds, char **xml)
{
	static const char *const hide[] = {	/* the internal module */
		"/ietf-yang-library:yang-library/module-set/module"
		"[name='" EDIT_PREFIX "']",
		"/ietf-yang-library:modules-state/module[name='" EDIT_PREFIX
		"']",
	};
	struct lyd_node *tree = NULL;
	struct ly_set *set;
	int r;

	*xml = NULL;
	if (ly_ctx_get_yanglib_data(ds->ctx, &tree, "%u",
				    ly_ctx_get_change_count(ds->ctx)) !=
	    LY_SUCCESS)
		return CH_ERR_NOMEM;
	for (size_t i = 0; i < sizeof(hide) / sizeof(hide[0]); i++) {
		if (lyd_find_xpath(tree, hide[i], &set) != LY_SUCCESS)
			continue;
		for (uint32_t k = 0; k < set->count; k++)
			lyd_free_tree(set->dnodes[k]);
		ly_set_free(set, NULL);
	}
	r = print_tree(tree, LYD_PRINT_SHRINK, xml);
	lyd_free_all(tree);
	return r;
}

/* ------------------------------------------------------------ open */

/* Loads NAME[@REV][:FEATURE,...|:*]. */
static int load_module(struct ch_ds *ds, const char *spec)
{
	char buf[MODULE_SPEC_MAX], *name = buf, *rev, *feat, *p;
	const char *features[CH_DS_MAX_FEATURES + 1];
	const struct ly_err_item *i;
	size_t n = 0;

	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf)) {
		ch_error("--module %s: too long", spec);
		return CH_ERR_INVAL;
	}
	if ((feat = strchr(buf, ':')) != NULL) {
		*feat++ = '\0';
		for (p = feat; p; ) {
			char *comma = strchr(p, ',');

			if (comma)
				*comma++ = '\0';
			if (*p == '\0' || n == CH_DS_MAX_FEATURES) {
				ch_error("--module %s: bad feature list "
					 "(at most %d names, comma-separated)",
					 spec, CH_DS_MAX_FEATURES);
				return CH_ERR_INVAL;
			}
			features[n++] = p;
			p = comma;
		}
	}
	features[n] = NULL;
	if ((rev = strchr(buf, '@')) != NULL)
		*rev++ = '\0';
	if (*name == '\0') {
		ch_error("--module %s: no module name", spec);
		return CH_ERR_INVAL;
	}
	ly_err_clean(ds->ctx, NULL);
	if (ly_ctx_load_module(ds->ctx, name, rev, features) == NULL) {
		i = ly_err_last(ds->ctx);
		ch_error("--module %s: cannot load it: %s (modules are "
			 "looked for as NAME.yang or NAME@REVISION.yang in "
			 "the --yang-dir directories)", spec,
			 i && i->msg ? i->msg : "?");
		return CH_ERR_INVAL;
	}
	ch_info("YANG module %s%s%s loaded%s%s", name, rev ? "@" : "",
		rev ? rev : "", n ? " with features " : "", n ? feat : "");
	return CH_OK;
}

/* NS?module=NAME[&revision=REV][&features=..][&deviations=..]. */
static int module_cap(const struct lys_module *mod, char **out)
{
	const struct lysp_feature *f = NULL;
	struct ch_buf b;
	uint32_t idx = 0;
	const char *sep = "&features=";
	int r;

	ch_buf_init(&b, CH_HELLO_MAX_CAP_LEN);
	r = ch_buf_printf(&b, "%s?module=%s", mod->ns, mod->name);
	if (r == CH_OK && mod->revision)
		r = ch_buf_printf(&b, "&revision=%s", mod->revision);
	while (r == CH_OK && mod->parsed &&
	       (f = lysp_feature_next(f, mod->parsed, &idx)) != NULL) {
		if (f->flags & LYS_FENABLED) {
			r = ch_buf_printf(&b, "%s%s", sep, f->name);
			sep = ",";
		}
	}
	sep = "&deviations=";
	for (LY_ARRAY_COUNT_TYPE i = 0;
	     r == CH_OK && i < LY_ARRAY_COUNT(mod->deviated_by); i++) {
		r = ch_buf_printf(&b, "%s%s", sep, mod->deviated_by[i]->name);
		sep = ",";
	}
	if (r == CH_OK && (*out = ch_buf_take(&b)) == NULL)
		r = CH_ERR_NOMEM;
	ch_buf_cleanup(&b);
	return r;
}

static int build_caps(struct ch_ds *ds)
{
	const size_t nproto = sizeof(protocol_caps) / sizeof(protocol_caps[0]);
	const struct lys_module *mod;
	uint32_t idx = ly_ctx_internal_modules_count(ds->ctx), i0 = idx;
	size_t n = nproto;

	while ((mod = ly_ctx_get_module_iter(ds->ctx, &idx)) != NULL)
		n++;
	if ((ds->caps = calloc(n, sizeof(*ds->caps))) == NULL)
		return CH_ERR_NOMEM;
	for (size_t i = 0; i < nproto; i++)
		if ((ds->caps[ds->ncaps++] = strdup(protocol_caps[i])) == NULL)
			return CH_ERR_NOMEM;
	idx = i0;
	while ((mod = ly_ctx_get_module_iter(ds->ctx, &idx)) != NULL) {
		/* Modules only imported from are not implemented
		 * (RFC 7950 5.6.4 lists what the server implements). */
		if (!mod->implemented || mod == ds->emod)
			continue;
		if (module_cap(mod, &ds->caps[ds->ncaps]) != CH_OK)
			return CH_ERR_NOMEM;
		ds->ncaps++;
	}
	return CH_OK;
}

const char *const *ch_ds_caps(const struct ch_ds *ds, size_t *n)
{
	*n = ds->ncaps;
	return (const char *const *)ds->caps;
}

static void free_caps(struct ch_ds *ds)
{
	for (size_t k = 0; k < ds->ncaps; k++)
		free(ds->caps[k]);
	free(ds->caps);
	ds->caps = NULL;
	ds->ncaps = 0;
}

int ch_ds_load_module_file(struct ch_ds *ds, const char *path)
{
	const struct ly_err_item *i;
	struct lys_module *mod = NULL;
	int r;

	ly_err_clean(ds->ctx, NULL);
	if (lys_parse_path(ds->ctx, path, LYS_IN_YANG, &mod) != LY_SUCCESS) {
		i = ly_err_last(ds->ctx);
		ch_warn("%s: cannot load it: %s", path,
			i && i->msg ? i->msg : "?");
		return CH_ERR_INVAL;
	}
	/* The capability list grows by the module's. */
	free_caps(ds);
	if ((r = build_caps(ds)) != CH_OK)
		return r;
	ch_info("YANG module %s%s%s loaded from %s", mod->name,
		mod->revision ? "@" : "", mod->revision ? mod->revision : "",
		path);
	return CH_OK;
}

int ch_ds_module_next(const struct ch_ds *ds, uint32_t *idx,
		      struct ch_ds_module *m)
{
	const struct lys_module *mod;

	memset(m, 0, sizeof(*m));
	if (*idx < ly_ctx_internal_modules_count(ds->ctx))
		*idx = ly_ctx_internal_modules_count(ds->ctx);
	while ((mod = ly_ctx_get_module_iter(ds->ctx, idx)) != NULL) {
		if (!mod->implemented || mod == ds->emod)
			continue;
		m->name = mod->name;
		m->revision = mod->revision ? mod->revision : "";
		m->ns = mod->ns;
		return 1;
	}
	return 0;
}

int ch_ds_schema(struct ch_ds *ds, const char *name, const char *revision,
		 char **text, size_t *len)
{
	const struct lys_module *mod;
	char *t = NULL;

	*text = NULL;
	*len = 0;
	if (revision != NULL && revision[0] != '\0')
		mod = ly_ctx_get_module(ds->ctx, name, revision);
	else if ((mod = ly_ctx_get_module_implemented(ds->ctx, name)) == NULL)
		mod = ly_ctx_get_module_latest(ds->ctx, name);
	if (mod == NULL || mod == ds->emod)
		return CH_ERR_NOTFOUND;
	/* The text as written, comments included, when it came from a
	 * file; libyang's rendering otherwise (built-in modules). */
	if (mod->filepath != NULL &&
	    ch_file_read(mod->filepath, CH_DS_FILE_MAX, text, len) == CH_OK)
		return CH_OK;
	if (mod->parsed == NULL ||
	    lys_print_mem(&t, mod, LYS_OUT_YANG, 0) != LY_SUCCESS ||
	    t == NULL) {
		free(t);
		return CH_ERR_IO;
	}
	*text = t;
	*len = strlen(t);
	return CH_OK;
}

/* running := startup if saved, else running.xml, unless a confirmed
 * commit was left unconfirmed (rollback.xml): then what it replaced. */
static int load_all(struct ch_ds *ds)
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

int ch_ds_open(const struct ch_ds_config *cfg, struct ch_ds **out)
{
	struct ch_ds *ds;
	struct lys_module *emod = NULL;
	const struct ly_err_item *i;
	int r = CH_ERR_INVAL;

	*out = NULL;
	ly_set_log_clb(ly_log_to_ch, 1);
	ly_log_options(LY_LOLOG | LY_LOSTORE_LAST);
	if ((ds = calloc(1, sizeof(*ds))) == NULL ||
	    (ds->dir = strdup(cfg->dir)) == NULL) {
		free(ds);
		return CH_ERR_NOMEM;
	}
	/* ietf-yang-library stays implemented: ch_ds_yanglib serves it. */
	if (ly_ctx_new(NULL, LY_CTX_DISABLE_SEARCHDIR_CWD, &ds->ctx) !=
	    LY_SUCCESS) {
		ch_error("cannot create the libyang context");
		goto out;
	}
	for (size_t k = 0; k < cfg->nyang_dirs; k++) {
		if (ly_ctx_set_searchdir(ds->ctx, cfg->yang_dirs[k]) !=
		    LY_SUCCESS) {
			ch_error("--yang-dir %s: not a readable directory",
				 cfg->yang_dirs[k]);
			goto out;
		}
	}
	if (lys_parse_mem(ds->ctx, edit_module, LYS_IN_YANG, &emod) !=
	    LY_SUCCESS) {
		i = ly_err_last(ds->ctx);
		ch_error("internal YANG module: %s", i ? i->msg : "?");
		goto out;
	}
	ds->emod = emod;
	for (size_t k = 0; k < cfg->nbuiltin; k++) {
		if (lys_parse_mem(ds->ctx, cfg->builtin[k], LYS_IN_YANG,
				  NULL) != LY_SUCCESS) {
			i = ly_err_last(ds->ctx);
			ch_error("built-in YANG module %zu: %s", k,
				 i ? i->msg : "?");
			goto out;
		}
	}
	for (size_t k = 0; k < cfg->nmodules; k++)
		if ((r = load_module(ds, cfg->modules[k])) != CH_OK)
			goto out;
	if ((r = build_caps(ds)) != CH_OK || (r = load_all(ds)) != CH_OK)
		goto out;
	if (cfg->loop != NULL) {
		uv_timer_init(cfg->loop, &ds->timer);
		ds->timer.data = ds;
		ds->timer_init = 1;
	}
	ch_info("datastore %s: %zu YANG module(s) advertised; running, "
		"candidate and startup%s", ds->dir,
		ds->ncaps - sizeof(protocol_caps) / sizeof(protocol_caps[0]),
		ds->startup_saved ? " (from startup.xml)" : "");
	*out = ds;
	ds = NULL;	/* transferred */
	r = CH_OK;
out:
	ch_ds_close(ds);
	return r;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void ch_ds_close(struct ch_ds *ds)
{
	if (ds == NULL)
		return;
	for (int k = 0; k < CH_DS_COUNT; k++)
		lyd_free_all(ds->tree[k]);
	lyd_free_all(ds->rollback);
	lyd_free_all(ds->gate_tree);
	free(ds->persist);
	free_caps(ds);
	ly_ctx_destroy(ds->ctx);
	free(ds->dir);
	if (ds->timer_init && !uv_is_closing((uv_handle_t *)&ds->timer)) {
		uv_close((uv_handle_t *)&ds->timer, on_timer_closed);
		return;		/* freed by the loop */
	}
	free(ds);
}
