/* edit.c - the edit engine: <edit-config> (RFC 6241 7.2) with its
 * operations merge, replace, create, delete, remove and its
 * default-operation, on a copy of the target.
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
		/* no namespace is no module's: refused here, since libyang
		 * 2's opaque parsing dereferences the missing namespace */
		if (k->type == XML_ELEMENT_NODE &&
		    (k->ns == NULL || k->ns->href == NULL || !k->ns->href[0]))
			r = CH_ERR_INVAL;
		else if (k->type == XML_ELEMENT_NODE)
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
	} else if (r == CH_ERR_INVAL) {
		fail(err, "application", "unknown-namespace",
		     "a configuration element has no namespace: no YANG "
		     "module's");
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
int apply_config(struct ch_ds *ds, const xmlNode *config,
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
