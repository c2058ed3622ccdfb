/* filter.h - NETCONF subtree filtering (RFC 6241 section 6).
 *
 * A <filter>'s element children are matched against the children of a
 * <data> root; what matches is serialised, in the data's document order,
 * each data node at most once, with every namespace declaration its
 * output needs (copied from the data's own ancestors, so prefixes stay
 * valid, also inside values such as identityrefs).
 *
 * Semantics, per filter element (comments and PIs in a filter are ignored):
 *  - name and attributes: a data element matches when its local name is
 *    the same, its namespace is the filter element's (6.2.2; a filter
 *    element in no namespace, or in the NETCONF base namespace it
 *    inherits from <rpc>, matches any namespace) and it has every
 *    attribute of the filter element, same local name, same namespace
 *    (none for none), same value (6.2.3);
 *  - a filter element with element children is a containment node
 *    (6.2.4; text beside the children, i.e. mixed content, is ignored:
 *    the RFC defines content match nodes as holding simple content only);
 *  - one with only whitespace (or nothing) is a selection node (6.2.4):
 *    the matching data elements are returned whole;
 *  - one with other text is a content match node (6.2.5): it matches a
 *    data element without element children whose text, leading and
 *    trailing XML whitespace removed, is the filter's, likewise trimmed.
 * Among siblings, every content match node must match at least one data
 * child, or the parent is not returned. If they all match and there is no
 * selection or containment sibling, the parent is returned whole;
 * otherwise it is returned with its matching content match children,
 * selected children, and the containment children that themselves
 * returned something. A parent that returns nothing is left out.
 * The top-level filter elements are independent of each other (OR-ed):
 * each selects top-level data elements as described, and what several
 * select appears once. List keys are not added: there is no schema.
 *
 * Cost: O(F * D) time for F filter elements and D data elements (each
 * filter element is compared with the data children of each data element
 * its parent matched), O(depth) stack, output built as one libxml2 tree.
 */
#ifndef CH_FILTER_H
#define CH_FILTER_H

#include <libxml/tree.h>

#include "lib/core/buf.h"
#include "lib/nc/msg.h"

#define CH_FILTER_MAX_DEPTH	CH_XML_MAX_DEPTH	/* nested filter elements */

enum ch_filter_type {
	CH_FILTER_SUBTREE = 1,
	CH_FILTER_XPATH = 2,
};

/* The type of a <filter> element (borrowed): its "type" attribute,
 * unqualified or in the NETCONF base namespace; absent means subtree.
 * CH_ERR_INVAL for any other value than "subtree" or "xpath" (the caller
 * answers bad-attribute). */
int ch_filter_type(const xmlNode *filter, enum ch_filter_type *type);

/* Applies the subtree filter whose spec is the element children of filter
 * to the element children of data (the <data> root of a document from
 * ch_xml_parse), and appends the result, XML content for ch_reply_data, to
 * out; nothing when nothing matches, including for an empty filter.
 * Borrows both trees; the _private field of data's elements is used as
 * scratch: it must be NULL on entry (as after parsing) and is NULL again
 * on return. On error out is unchanged. CH_ERR_INVAL, with a reason in
 * why (static text; why may be NULL), for what is not a subtree filter:
 * text (not whitespace) directly in <filter>, or elements nested deeper
 * than CH_FILTER_MAX_DEPTH; CH_ERR_LIMIT when out would exceed its
 * maximum; CH_ERR_NOMEM. */
int ch_filter_subtree(xmlNode *data, xmlNode *filter, struct ch_buf *out,
		      const char **why);

#endif
