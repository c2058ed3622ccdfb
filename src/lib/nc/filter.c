/* filter.c - NETCONF subtree filtering (RFC 6241 section 6), see filter.h.
 *
 * The filter is first compiled into an array of nodes (kind decided once,
 * children contiguous). eval() then marks the data elements to return in
 * their _private field, PART (the element, with its marked children) or
 * FULL (the whole subtree), so that what several filter branches select is
 * marked, and later copied, once. eval() allocates nothing and cannot
 * fail. emit() copies the marked elements in document order into a new
 * tree, each copy carrying its source's namespace declarations, and
 * libxml2 serialises that tree.
 */
#include "lib/nc/filter.h"
#include "lib/core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum kind {
	K_SELECT,	/* empty leaf: the matching data subtrees */
	K_CONTENT,	/* text: a leaf whose trimmed text is equal */
	K_CONTAIN,	/* element children: recurse */
};

struct fnode {
	xmlNode *el;		/* the filter element, borrowed */
	const xmlChar *ns;	/* namespace to match, NULL for any */
	enum kind kind;
	struct fnode *kids;	/* K_CONTAIN: its element children */
	size_t nkids;
};

struct compiled {
	struct fnode *nodes;	/* one per filter element, owned */
	size_t n;
	size_t used;
};

#define MARK_PART ((void *)(uintptr_t)1)
#define MARK_FULL ((void *)(uintptr_t)2)

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ---- text of a node list (text and CDATA; comments and PIs skipped) ---- */

struct text_it {
	const xmlNode *n;	/* current node, NULL at the end */
	const xmlChar *p;	/* next byte in n, NULL before n is entered */
};

static void it_init(struct text_it *it, const xmlNode *first)
{
	it->n = first;
	it->p = NULL;
}

/* The next byte of the concatenated text, or -1 at the end. */
static int it_next(struct text_it *it)
{
	while (it->n != NULL) {
		if (it->p == NULL) {
			if ((it->n->type != XML_TEXT_NODE &&
			     it->n->type != XML_CDATA_SECTION_NODE) ||
			    it->n->content == NULL) {
				it->n = it->n->next;
				continue;
			}
			it->p = it->n->content;
		}
		if (*it->p != '\0')
			return *it->p++;
		it->p = NULL;
		it->n = it->n->next;
	}
	return -1;
}

/* Whether the rest of the text, starting with byte c, is whitespace. */
static int rest_ws(struct text_it *it, int c)
{
	for (; c != -1; c = it_next(it))
		if (!is_ws(c))
			return 0;
	return 1;
}

/* Text of list a equals text of list b, exactly (trim 0) or once leading
 * and trailing XML whitespace is removed from both (trim 1). */
static int text_eq(const xmlNode *a, const xmlNode *b, int trim)
{
	struct text_it x, y;
	int ca, cb;

	it_init(&x, a);
	it_init(&y, b);
	ca = it_next(&x);
	cb = it_next(&y);
	while (trim && ca != -1 && is_ws(ca))
		ca = it_next(&x);
	while (trim && cb != -1 && is_ws(cb))
		cb = it_next(&y);
	while (ca == cb) {
		if (ca == -1)
			return 1;
		ca = it_next(&x);
		cb = it_next(&y);
	}
	/* They differ here: equal only if what is left is trailing space. */
	return trim && rest_ws(&x, ca) && rest_ws(&y, cb);
}

/* The attribute's value is s, exactly. */
static int attr_is(const xmlAttr *a, const char *s)
{
	struct text_it it;
	int c;

	it_init(&it, a->children);
	while ((c = it_next(&it)) != -1)
		if (c != (unsigned char)*s++)
			return 0;
	return *s == '\0';
}

/* ---- compiling the filter ---- */

static enum kind classify(const xmlNode *el)
{
	struct text_it it;
	int c;

	for (const xmlNode *k = el->children; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			return K_CONTAIN;
	it_init(&it, el->children);
	while ((c = it_next(&it)) != -1)
		if (!is_ws(c))
			return K_CONTENT;
	return K_SELECT;
}

/* Element descendants of root, iteratively: no depth limit applies yet. */
static size_t count_elements(const xmlNode *root)
{
	const xmlNode *n = root->children;
	size_t count = 0;

	while (n != NULL) {
		if (n->type == XML_ELEMENT_NODE) {
			count++;
			if (n->children != NULL) {
				n = n->children;
				continue;
			}
		}
		while (n->next == NULL && n->parent != root)
			n = n->parent;
		n = n->next;
	}
	return count;
}

/* Compiles parent's element children, at depth, as fn's kids. */
static int compile_kids(struct compiled *c, struct fnode *fn,
			xmlNode *parent, int depth, const char **why)
{
	size_t k = 0, i;

	if (depth > CH_FILTER_MAX_DEPTH) {
		*why = "the subtree filter nests elements too deep";
		return CH_ERR_INVAL;
	}
	for (xmlNode *e = parent->children; e; e = e->next)
		if (e->type == XML_ELEMENT_NODE)
			k++;
	if (k > c->n - c->used)		/* cannot happen: counted before */
		return CH_ERR_INVAL;
	fn->kids = c->nodes + c->used;
	fn->nkids = k;
	c->used += k;
	i = 0;
	for (xmlNode *e = parent->children; e; e = e->next) {
		struct fnode *f;
		const xmlChar *href;

		if (e->type != XML_ELEMENT_NODE)
			continue;
		f = &fn->kids[i++];
		href = e->ns ? e->ns->href : NULL;
		/* No namespace matches all (6.2.2); so does the base one,
		 * which an unqualified filter inherits from <rpc> and in
		 * which no data node lives. */
		if (href != NULL && (href[0] == '\0' ||
				     xmlStrEqual(href, BAD_CAST CH_NC_NS)))
			href = NULL;
		f->el = e;
		f->ns = href;
		f->kind = classify(e);
		f->kids = NULL;
		f->nkids = 0;
	}
	for (i = 0; i < k; i++) {
		struct fnode *f = &fn->kids[i];
		int r;

		if (f->kind == K_CONTAIN &&
		    (r = compile_kids(c, f, f->el, depth + 1, why)) != CH_OK)
			return r;
	}
	return CH_OK;
}

/* ---- matching and marking ---- */

static void mark(xmlNode *n, void *m)
{
	if (n->_private != MARK_FULL)
		n->_private = m;
}

/* Name, namespace and attributes of f match data node d (6.2.2, 6.2.3). */
static int node_matches(const struct fnode *f, const xmlNode *d)
{
	if (d->type != XML_ELEMENT_NODE || !xmlStrEqual(d->name, f->el->name))
		return 0;
	if (f->ns != NULL && (d->ns == NULL || !xmlStrEqual(d->ns->href, f->ns)))
		return 0;
	for (const xmlAttr *a = f->el->properties; a; a = a->next) {
		const xmlAttr *da = xmlHasNsProp(d, a->name,
						 a->ns ? a->ns->href : NULL);

		if (da == NULL || da->type != XML_ATTRIBUTE_NODE ||
		    !text_eq(a->children, da->children, 0))
			return 0;
	}
	return 1;
}

/* Content match node f matches data node d (6.2.5): same name, namespace
 * and attributes, no element children, same trimmed text. */
static int content_matches(const struct fnode *f, const xmlNode *d)
{
	if (!node_matches(f, d))
		return 0;
	for (const xmlNode *k = d->children; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			return 0;
	return text_eq(f->el->children, d->children, 1);
}

/* Data element d matched containment node f: marks what f selects in it.
 * Returns whether d is returned. Recursion is bounded by the compiled
 * filter's depth. */
static int eval(const struct fnode *f, xmlNode *d)
{
	size_t i, ncontent = 0, nother = 0;
	int in;
	xmlNode *c;

	/* Content match siblings are ANDed: each needs a match. */
	for (i = 0; i < f->nkids; i++) {
		if (f->kids[i].kind != K_CONTENT) {
			nother++;
			continue;
		}
		ncontent++;
		for (c = d->children; c; c = c->next)
			if (content_matches(&f->kids[i], c))
				break;
		if (c == NULL)
			return 0;
	}
	if (nother == 0) {
		mark(d, MARK_FULL);
		return 1;
	}
	in = ncontent > 0;
	for (i = 0; i < f->nkids; i++) {
		const struct fnode *k = &f->kids[i];

		for (c = d->children; c; c = c->next) {
			switch (k->kind) {
			case K_CONTENT:
				if (content_matches(k, c))
					mark(c, MARK_FULL);
				break;
			case K_SELECT:
				if (node_matches(k, c)) {
					mark(c, MARK_FULL);
					in = 1;
				}
				break;
			case K_CONTAIN:
				if (node_matches(k, c) && eval(k, c))
					in = 1;
				break;
			}
		}
	}
	if (in)
		mark(d, MARK_PART);
	return in;
}

/* Top-level filter elements are independent of each other. */
static void eval_top(const struct fnode *root, xmlNode *data)
{
	for (size_t i = 0; i < root->nkids; i++) {
		const struct fnode *k = &root->kids[i];

		for (xmlNode *c = data->children; c; c = c->next) {
			switch (k->kind) {
			case K_CONTENT:
				if (content_matches(k, c))
					mark(c, MARK_FULL);
				break;
			case K_SELECT:
				if (node_matches(k, c))
					mark(c, MARK_FULL);
				break;
			case K_CONTAIN:
				if (node_matches(k, c))
					(void)eval(k, c);
				break;
			}
		}
	}
}

/* Clears the marks under parent. A marked node's parent is always marked
 * (or is the root), so unmarked subtrees are skipped. */
static void unmark(xmlNode *parent)
{
	for (xmlNode *c = parent->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || c->_private == NULL)
			continue;
		c->_private = NULL;
		unmark(c);
	}
}

/* ---- copying the result ---- */

/* The namespace in c's scope of the output tree to use for sns, declared
 * on c when it is not in scope with the same URI. */
static int map_ns(xmlDoc *odoc, xmlNode *c, xmlNs *sns, xmlNs **out)
{
	xmlNs *ns;

	*out = NULL;
	if (sns == NULL)
		return CH_OK;
	ns = xmlSearchNs(odoc, c, sns->prefix);
	if (ns == NULL || !xmlStrEqual(ns->href, sns->href))
		ns = xmlNewNs(c, sns->href, sns->prefix);
	if (ns == NULL)
		return CH_ERR_NOMEM;
	*out = ns;
	return CH_OK;
}

/* Appends to oparent a copy of element src without its children: name,
 * namespace declarations, namespace, attributes. */
static int copy_elem(xmlDoc *odoc, xmlNode *oparent, xmlNode *src,
		     xmlNode **copy)
{
	xmlNode *c;
	xmlNs *ns;
	int r;

	*copy = NULL;
	if ((c = xmlNewDocNode(odoc, NULL, src->name, NULL)) == NULL)
		return CH_ERR_NOMEM;
	xmlAddChild(oparent, c);
	for (ns = src->nsDef; ns; ns = ns->next)
		if (xmlNewNs(c, ns->href, ns->prefix) == NULL &&
		    !xmlStrEqual(ns->prefix, BAD_CAST "xml"))
			return CH_ERR_NOMEM;
	if ((r = map_ns(odoc, c, src->ns, &c->ns)) != CH_OK)
		return r;
	/* No namespace, under a default one (only possible when the data
	 * root declares it): undeclare it. */
	if (src->ns == NULL && (ns = xmlSearchNs(odoc, c, NULL)) != NULL &&
	    ns->href != NULL && ns->href[0] != '\0' &&
	    xmlNewNs(c, BAD_CAST "", NULL) == NULL)
		return CH_ERR_NOMEM;
	for (xmlAttr *a = src->properties; a; a = a->next) {
		xmlChar *v = NULL;
		xmlAttr *na;

		if ((r = map_ns(odoc, c, a->ns, &ns)) != CH_OK)
			return r;
		if (a->children != NULL &&
		    (v = xmlNodeListGetString(src->doc, a->children, 1)) == NULL)
			return CH_ERR_NOMEM;
		na = xmlNewNsProp(c, ns, a->name, v ? v : BAD_CAST "");
		xmlFree(v);
		if (na == NULL)
			return CH_ERR_NOMEM;
	}
	*copy = c;
	return CH_OK;
}

/* Appends to oparent a copy of src and all it holds. */
static int copy_tree(xmlDoc *odoc, xmlNode *oparent, xmlNode *src,
		     int depth)
{
	xmlNode *c, *n;
	int r;

	if (depth > CH_XML_MAX_DEPTH)
		return CH_ERR_LIMIT;
	if ((r = copy_elem(odoc, oparent, src, &c)) != CH_OK)
		return r;
	for (xmlNode *k = src->children; k; k = k->next) {
		switch (k->type) {
		case XML_ELEMENT_NODE:
			if ((r = copy_tree(odoc, c, k, depth + 1)) != CH_OK)
				return r;
			continue;
		case XML_TEXT_NODE:
			n = xmlNewDocText(odoc, k->content);
			break;
		case XML_CDATA_SECTION_NODE:
			n = xmlNewCDataBlock(odoc, k->content,
					     xmlStrlen(k->content));
			break;
		case XML_COMMENT_NODE:
			n = xmlNewDocComment(odoc, k->content);
			break;
		case XML_PI_NODE:
			n = xmlNewDocPI(odoc, k->name, k->content);
			break;
		default:	/* no entity references: no DTD */
			continue;
		}
		if (n == NULL)
			return CH_ERR_NOMEM;
		xmlAddChild(c, n);	/* may merge text into c->last */
	}
	return CH_OK;
}

/* Appends to oparent copies of dparent's marked children, in order. */
static int emit(xmlDoc *odoc, xmlNode *oparent, xmlNode *dparent, int depth)
{
	xmlNode *c;
	int r;

	if (depth > CH_XML_MAX_DEPTH)
		return CH_ERR_LIMIT;
	for (xmlNode *d = dparent->children; d; d = d->next) {
		if (d->type != XML_ELEMENT_NODE || d->_private == NULL)
			continue;
		if (d->_private == MARK_FULL)
			r = copy_tree(odoc, oparent, d, depth);
		else if ((r = copy_elem(odoc, oparent, d, &c)) == CH_OK)
			r = emit(odoc, c, d, depth + 1);
		if (r != CH_OK)
			return r;
	}
	return CH_OK;
}

/* Serialises oroot's children into out, whole or not at all. */
static int serialise(xmlDoc *odoc, xmlNode *oroot, struct ch_buf *out)
{
	xmlBuffer *xb;
	int r = CH_OK;

	if (oroot->children == NULL)
		return CH_OK;
	if ((xb = xmlBufferCreate()) == NULL)
		return CH_ERR_NOMEM;
	for (xmlNode *c = oroot->children; c; c = c->next) {
		if (xmlNodeDump(xb, odoc, c, 0, 0) < 0) {
			r = CH_ERR_NOMEM;
			goto out;
		}
		if ((size_t)xmlBufferLength(xb) > out->max - out->len) {
			r = CH_ERR_LIMIT;
			goto out;
		}
	}
	r = ch_buf_put(out, xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
out:
	xmlBufferFree(xb);
	return r;
}

/* ---- public ---- */

int ch_filter_type(const xmlNode *filter, enum ch_filter_type *type)
{
	const xmlAttr *a;

	if (type == NULL)
		return CH_ERR_INVAL;
	*type = 0;
	if (filter == NULL)
		return CH_ERR_INVAL;
	a = xmlHasNsProp(filter, BAD_CAST "type", NULL);
	if (a == NULL)
		a = xmlHasNsProp(filter, BAD_CAST "type", BAD_CAST CH_NC_NS);
	if (a == NULL || attr_is(a, "subtree"))
		*type = CH_FILTER_SUBTREE;
	else if (attr_is(a, "xpath"))
		*type = CH_FILTER_XPATH;
	else
		return CH_ERR_INVAL;
	return CH_OK;
}

int ch_filter_subtree(xmlNode *data, xmlNode *filter, struct ch_buf *out,
		      const char **why)
{
	struct compiled comp = { 0 };
	struct fnode root = { 0 };
	struct text_it it;
	const char *ignored;
	xmlDoc *odoc = NULL;
	xmlNode *oroot;
	int r, c;

	if (why == NULL)
		why = &ignored;
	*why = NULL;
	if (data == NULL || filter == NULL || out == NULL)
		return CH_ERR_INVAL;
	it_init(&it, filter->children);
	while ((c = it_next(&it)) != -1)
		if (!is_ws(c)) {
			*why = "a subtree filter holds elements, not text";
			return CH_ERR_INVAL;
		}
	comp.n = count_elements(filter);
	if (comp.n == 0)	/* empty filter: nothing (6.4.2) */
		return CH_OK;
	if ((comp.nodes = calloc(comp.n, sizeof(*comp.nodes))) == NULL)
		return CH_ERR_NOMEM;
	root.el = filter;
	root.kind = K_CONTAIN;
	if ((r = compile_kids(&comp, &root, filter, 1, why)) != CH_OK)
		goto out;

	eval_top(&root, data);

	r = CH_ERR_NOMEM;
	if ((odoc = xmlNewDoc(BAD_CAST "1.0")) == NULL ||
	    (oroot = xmlNewDocNode(odoc, NULL, BAD_CAST "data", NULL)) == NULL)
		goto out;
	xmlDocSetRootElement(odoc, oroot);
	if ((r = emit(odoc, oroot, data, 1)) != CH_OK)
		goto out;
	r = serialise(odoc, oroot, out);
out:
	unmark(data);
	xmlFreeDoc(odoc);
	free(comp.nodes);
	return r;
}
