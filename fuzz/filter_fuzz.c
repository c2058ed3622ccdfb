/* filter_fuzz.c - libFuzzer target for subtree filtering (RFC 6241 6).
 *
 * Input: datastore content, the line "====", then the filter's children
 * (put inside <filter> in the NETCONF base namespace, as in an <rpc>).
 * Without the separator the input is both. When both parse, filtering
 * must leave no mark behind, and on success its output must:
 *  - parse again under <data> (so namespace declarations are complete);
 *  - be a fixed point: filtering it again gives the same bytes (what a
 *    filter selects from the data it also selects from its own output).
 * On error the output buffer must be untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/nc/filter.h"
#include "lib/nc/msg.h"

#define SEP "\n====\n"
#define OUT_MAX (4u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses "<open>a[0..n)</close>"; NULL if not well-formed. */
static xmlDoc *wrap_parse(const char *open, const char *a, size_t n,
			  const char *close)
{
	struct ch_buf b;
	xmlDoc *doc = NULL;

	ch_buf_init(&b, CH_XML_MAX_SIZE);
	if (ch_buf_puts(&b, open) == CH_OK && ch_buf_put(&b, a, n) == CH_OK &&
	    ch_buf_puts(&b, close) == CH_OK)
		(void)ch_xml_parse(ch_buf_ptr(&b), ch_buf_len(&b), &doc);
	ch_buf_cleanup(&b);
	return doc;
}

static void check_unmarked(const xmlNode *n)
{
	for (; n; n = n->next) {
		if (n->_private != NULL)
			abort();
		if (n->type == XML_ELEMENT_NODE)
			check_unmarked(n->children);
	}
}

/* Filters doc with filter into out ("keep" first); returns the code. */
static int run(xmlDoc *doc, xmlNode *filter, struct ch_buf *out)
{
	const char *why = "unset";
	int r;

	ch_buf_reset(out);
	if (ch_buf_puts(out, "keep") != CH_OK)
		abort();
	r = ch_filter_subtree(xmlDocGetRootElement(doc), filter, out, &why);
	check_unmarked(doc->children);
	if (r == CH_OK ? why != NULL :
	    strcmp(ch_buf_ptr(out), "keep") != 0 ||
	    (r == CH_ERR_INVAL && why == NULL))
		abort();
	ch_buf_consume(out, 4);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *sep;
	xmlDoc *ddoc = NULL, *fdoc = NULL, *again = NULL;
	struct ch_buf out, out2;
	enum ch_filter_type type;
	size_t dlen = size, foff = 0;
	xmlNode *filter;

	sep = memmem(in, size, SEP, strlen(SEP));
	if (sep != NULL) {
		dlen = (size_t)(sep - in);
		foff = dlen + strlen(SEP);
	}
	ch_buf_init(&out, OUT_MAX);
	ch_buf_init(&out2, OUT_MAX);
	if ((ddoc = wrap_parse("<data>", in, dlen, "</data>")) == NULL ||
	    (fdoc = wrap_parse("<filter xmlns=\"" CH_NC_NS "\">", in + foff,
			       size - foff, "</filter>")) == NULL)
		goto out;
	filter = xmlDocGetRootElement(fdoc);
	if (ch_filter_type(filter, &type) != CH_OK || type != CH_FILTER_SUBTREE)
		abort();
	if (run(ddoc, filter, &out) != CH_OK)
		goto out;
	again = wrap_parse("<data>", ch_buf_ptr(&out), ch_buf_len(&out),
			   "</data>");
	if (again == NULL)
		abort();
	if (run(again, filter, &out2) != CH_OK ||
	    ch_buf_len(&out2) != ch_buf_len(&out) ||
	    memcmp(ch_buf_ptr(&out2), ch_buf_ptr(&out), ch_buf_len(&out)) != 0)
		abort();
out:
	xmlFreeDoc(again);
	xmlFreeDoc(fdoc);
	xmlFreeDoc(ddoc);
	ch_buf_cleanup(&out2);
	ch_buf_cleanup(&out);
	return 0;
}
