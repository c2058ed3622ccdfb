/* msg.c - NETCONF messages over libxml2 (RFC 6241).
 *
 * Every document goes through ch_xml_parse(), which refuses a DTD the
 * moment the parser meets "<!DOCTYPE" (so no entity is ever declared, let
 * alone expanded), never touches the network, keeps libxml2's messages off
 * stderr and bounds size and depth. Builders write into a scratch buffer
 * and append to the caller's buffer in one step, so a failure leaves the
 * caller's buffer as it was.
 */
#include "lib/nc/msg.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>

#define BASE_NS_ATTR	"xmlns=\"" CH_NC_NS "\""

/* ---- safe parsing ---- */

struct parse_state {
	int saw_dtd;
	int nerrors;
	char first_error[160];	/* first libxml2 message */
	int first_line;
};

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

/* libxml2 would print to stderr; keep the first message for a debug line. */
static void xml_error(void *ctx, xmlError *err)
{
	xmlParserCtxt *ctxt = ctx;
	struct parse_state *st = ctxt ? ctxt->_private : NULL;

	if (st == NULL || err == NULL)
		return;
	if (st->nerrors++ == 0 && err->message) {
		size_t n;

		snprintf(st->first_error, sizeof(st->first_error), "%s",
			 err->message);
		n = strlen(st->first_error);
		while (n && st->first_error[n - 1] == '\n')
			st->first_error[--n] = '\0';
		st->first_line = err->line;
	}
}

/* Called as soon as "<!DOCTYPE name ..." is read, before any internal
 * subset: stop right there, so no entity declaration is even parsed. */
static void xml_no_dtd(void *ctx, const xmlChar *name, const xmlChar *ext_id,
		       const xmlChar *sys_id)
{
	xmlParserCtxt *ctxt = ctx;
	struct parse_state *st = ctxt->_private;

	(void)name;
	(void)ext_id;
	(void)sys_id;
	if (st)
		st->saw_dtd = 1;
	ctxt->wellFormed = 0;
	xmlStopParser(ctxt);
}

/* Longest chain of nested elements under (and including) root. */
static int xml_too_deep(xmlNode *root)
{
	xmlNode *n = root;
	int depth = 1;

	while (n) {
		if (n->type == XML_ELEMENT_NODE && n->children) {
			if (depth >= CH_XML_MAX_DEPTH) {
				for (xmlNode *c = n->children; c; c = c->next)
					if (c->type == XML_ELEMENT_NODE)
						return 1;
			} else {
				n = n->children;
				depth++;
				continue;
			}
		}
		while (n != root && n->next == NULL) {
			n = n->parent;
			depth--;
		}
		if (n == root)
			break;
		n = n->next;
	}
	return 0;
}

int ch_xml_parse(const char *xml, size_t len, xmlDoc **doc)
{
	struct parse_state st;
	xmlParserCtxt *ctxt = NULL;
	xmlDoc *d = NULL;
	xmlNode *root;
	int r = CH_ERR_PROTO, ns_ok;
	const char *why = NULL;

	if (doc == NULL)
		return CH_ERR_INVAL;
	*doc = NULL;
	if (xml == NULL && len)
		return CH_ERR_INVAL;
	if (len > CH_XML_MAX_SIZE)
		return CH_ERR_LIMIT;
	if (len == 0) {
		ch_debug("empty document");
		return CH_ERR_PROTO;
	}
	pthread_once(&xml_once, xml_init);

	memset(&st, 0, sizeof(st));
	if ((ctxt = xmlNewParserCtxt()) == NULL)
		return CH_ERR_NOMEM;
	ctxt->_private = &st;
	ctxt->sax->serror = xml_error;
	ctxt->sax->internalSubset = xml_no_dtd;
	/* No NOENT, DTDLOAD, DTDATTR or HUGE: entities are never substituted
	 * and libxml2's own size limits stay on. NETCONF is UTF-8 only
	 * (RFC 6241 3), whatever the document declares. */
	d = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, "UTF-8",
			      XML_PARSE_NONET | XML_PARSE_NOERROR |
			      XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	ns_ok = ctxt->nsWellFormed;
	if (st.saw_dtd || (d && (d->intSubset || d->extSubset))) {
		why = "document has a DTD";
		goto out;
	}
	if (d == NULL || !ctxt->wellFormed) {
		if (ctxt->errNo == XML_ERR_NO_MEMORY) {
			r = CH_ERR_NOMEM;
			goto out;
		}
		why = "not well-formed";
		goto out;
	}
	if (!ns_ok) {
		why = "namespace error";
		goto out;
	}
	if ((root = xmlDocGetRootElement(d)) == NULL) {
		why = "no root element";
		goto out;
	}
	if (xml_too_deep(root)) {
		why = "elements nested too deep";
		goto out;
	}
	*doc = d;
	d = NULL;	/* transferred */
	r = CH_OK;
out:
	if (why && st.nerrors)
		ch_debug("XML refused: %s: line %d: %s", why, st.first_line,
			 st.first_error);
	else if (why)
		ch_debug("XML refused: %s", why);
	if (d)
		xmlFreeDoc(d);
	xmlFreeParserCtxt(ctxt);
	return r;
}

/* ---- escaping ---- */

/* Length of the UTF-8 sequence at s (n bytes available) if it is valid
 * and encodes a character XML 1.0 allows (section 2.2), else 0. */
static size_t xml_char_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return (s[0] >= 0x20 || s[0] == '\t' || s[0] == '\n' ||
			s[0] == '\r') ? 1 : 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

/* Escapes &, <, >, " always and tab, newline, carriage return as
 * character references, so the same text survives both as character data
 * and as an attribute value (where a parser would normalise them to
 * spaces). A byte that is not part of a character XML allows becomes
 * U+FFFD: the output is always well-formed. */
int ch_xml_escape(struct ch_buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, cl;
	const char *rep;
	int r;

	if (out == NULL || (s == NULL && len))
		return CH_ERR_INVAL;
	while (i < len) {
		rep = NULL;
		cl = 1;
		switch (p[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\t': rep = "&#9;"; break;
		case '\n': rep = "&#10;"; break;
		case '\r': rep = "&#13;"; break;
		default:
			if ((cl = xml_char_len(p + i, len - i)) == 0) {
				rep = "\xef\xbf\xbd";
				cl = 1;
			}
			break;
		}
		if (rep == NULL) {
			i += cl;
			continue;
		}
		if ((r = ch_buf_put(out, s + run, i - run)) != CH_OK ||
		    (r = ch_buf_puts(out, rep)) != CH_OK)
			return r;
		i += cl;
		run = i;
	}
	return ch_buf_put(out, s + run, i - run);
}

static int put_escaped(struct ch_buf *b, const char *s)
{
	return ch_xml_escape(b, s, strlen(s));
}

/* libxml2 without XML_PARSE_NOENT keeps every '&' of a namespace
 * declaration's value as the text "&#38;" (a raw '&' cannot occur there);
 * undo that before escaping. */
static int put_ns_uri(struct ch_buf *b, const char *href)
{
	const char *amp;
	int r;

	while ((amp = strstr(href, "&#38;")) != NULL) {
		if ((r = ch_xml_escape(b, href, (size_t)(amp - href))) !=
			    CH_OK ||
		    (r = ch_buf_puts(b, "&amp;")) != CH_OK)
			return r;
		href = amp + 5;
	}
	return put_escaped(b, href);
}

/* ---- helpers ---- */

static int is_nc(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       strcmp((const char *)n->ns->href, CH_NC_NS) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Trims XML whitespace in place. */
static char *trim(char *s)
{
	size_t n;

	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* New string (free()) with the trimmed text of element n: its text
 * children, comments skipped. With strict, an element child is
 * CH_ERR_PROTO; otherwise descendants' text counts too. */
static int elem_text(xmlNode *n, int strict, char **out)
{
	xmlChar *c = NULL;
	struct ch_buf b;
	int r = CH_OK;

	*out = NULL;
	ch_buf_init(&b, CH_XML_MAX_SIZE);
	if (!strict) {
		if ((c = xmlNodeGetContent(n)) == NULL) {
			r = CH_ERR_NOMEM;
			goto out;
		}
		r = ch_buf_puts(&b, (const char *)c);
		goto out;
	}
	for (xmlNode *k = n->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE) {
			r = CH_ERR_PROTO;
			goto out;
		}
		if ((k->type == XML_TEXT_NODE ||
		     k->type == XML_CDATA_SECTION_NODE) && k->content &&
		    (r = ch_buf_puts(&b, (const char *)k->content)) != CH_OK)
			goto out;
	}
out:
	if (r == CH_OK) {
		char *s = ch_buf_take(&b), *t;

		if (s == NULL) {
			r = CH_ERR_NOMEM;
		} else {
			t = trim(s);
			memmove(s, t, strlen(t) + 1);
			*out = s;
		}
	}
	xmlFree(c);
	ch_buf_cleanup(&b);
	return r;
}

/* Strict decimal 1..4294967295; surrounding whitespace already trimmed. */
static int parse_session_id(const char *s, uint32_t *v)
{
	uint64_t x = 0;

	*v = 0;
	if (*s == '\0')
		return CH_ERR_PROTO;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return CH_ERR_PROTO;
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > UINT32_MAX)
			return CH_ERR_PROTO;
	}
	if (x == 0)
		return CH_ERR_PROTO;
	*v = (uint32_t)x;
	return CH_OK;
}

/* Appends b's content to out in one step (all or nothing). */
static int commit(struct ch_buf *out, const struct ch_buf *b)
{
	return ch_buf_put(out, ch_buf_ptr(b), ch_buf_len(b));
}

/* ---- hello ---- */

int ch_hello_build(struct ch_buf *out, const char *const *caps, size_t ncaps,
		   uint32_t session_id)
{
	struct ch_buf b;
	int r;

	if (out == NULL || (caps == NULL && ncaps))
		return CH_ERR_INVAL;
	for (size_t i = 0; i < ncaps; i++)
		if (caps[i] == NULL)
			return CH_ERR_INVAL;
	ch_buf_init(&b, out->max);
	r = ch_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
			"<hello " BASE_NS_ATTR "><capabilities>");
	if (r != CH_OK)
		goto out;
	for (size_t i = 0; i < ncaps; i++) {
		if ((r = ch_buf_puts(&b, "<capability>")) != CH_OK ||
		    (r = put_escaped(&b, caps[i])) != CH_OK ||
		    (r = ch_buf_puts(&b, "</capability>")) != CH_OK)
			goto out;
	}
	if ((r = ch_buf_puts(&b, "</capabilities>")) != CH_OK)
		goto out;
	if (session_id &&
	    (r = ch_buf_printf(&b, "<session-id>%u</session-id>",
			       (unsigned)session_id)) != CH_OK)
		goto out;
	if ((r = ch_buf_puts(&b, "</hello>")) != CH_OK)
		goto out;
	r = commit(out, &b);
out:
	ch_buf_cleanup(&b);
	return r;
}

void ch_hello_cleanup(struct ch_hello *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->ncaps; i++)
		free(h->caps[i]);
	free(h->caps);
	memset(h, 0, sizeof(*h));
}

static int hello_caps(xmlNode *caps, struct ch_hello *h)
{
	size_t alloc = 0;
	char *cap = NULL, **p;
	int r = CH_OK;

	for (xmlNode *c = caps->children; c; c = c->next) {
		if (!is_nc(c, "capability"))
			continue;	/* unknown elements are ignored */
		if ((r = elem_text(c, 1, &cap)) != CH_OK) {
			ch_debug("hello: capability is not plain text");
			goto out;
		}
		if (cap[0] == '\0') {
			free(cap);
			cap = NULL;
			continue;
		}
		if (strlen(cap) > CH_HELLO_MAX_CAP_LEN) {
			ch_debug("hello: capability longer than %d bytes",
				 CH_HELLO_MAX_CAP_LEN);
			r = CH_ERR_PROTO;
			goto out;
		}
		if (h->ncaps >= CH_HELLO_MAX_CAPS) {
			ch_debug("hello: more than %d capabilities",
				 CH_HELLO_MAX_CAPS);
			r = CH_ERR_PROTO;
			goto out;
		}
		if (h->ncaps == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			p = realloc(h->caps, alloc * sizeof(*p));
			if (p == NULL) {
				r = CH_ERR_NOMEM;
				goto out;
			}
			h->caps = p;
		}
		h->caps[h->ncaps++] = cap;
		cap = NULL;	/* transferred */
	}
out:
	free(cap);
	return r;
}

int ch_hello_parse(const char *xml, size_t len, struct ch_hello *h)
{
	xmlDoc *doc = NULL;
	xmlNode *root;
	char *sid = NULL;
	int r, seen_caps = 0;

	if (h == NULL)
		return CH_ERR_INVAL;
	memset(h, 0, sizeof(*h));
	if ((r = ch_xml_parse(xml, len, &doc)) != CH_OK)
		goto out;
	root = xmlDocGetRootElement(doc);
	if (!is_nc(root, "hello")) {
		ch_debug("hello: root is not <hello> in the base namespace");
		r = CH_ERR_PROTO;
		goto out;
	}
	for (xmlNode *c = root->children; c; c = c->next) {
		if (is_nc(c, "capabilities")) {
			if (seen_caps++) {
				ch_debug("hello: more than one <capabilities>");
				r = CH_ERR_PROTO;
				goto out;
			}
			if ((r = hello_caps(c, h)) != CH_OK)
				goto out;
		} else if (is_nc(c, "session-id")) {
			if (h->has_session_id) {
				ch_debug("hello: more than one <session-id>");
				r = CH_ERR_PROTO;
				goto out;
			}
			if ((r = elem_text(c, 1, &sid)) != CH_OK)
				goto out;
			if ((r = parse_session_id(sid, &h->session_id)) !=
			    CH_OK) {
				ch_debug("hello: bad session-id \"%.40s\"",
					 sid);
				goto out;
			}
			h->has_session_id = 1;
			free(sid);
			sid = NULL;
		}
	}
	r = CH_OK;
out:
	if (r != CH_OK) {
		if (r == CH_ERR_LIMIT)
			ch_debug("hello: larger than %u bytes",
				 CH_XML_MAX_SIZE);
		ch_hello_cleanup(h);
	}
	free(sid);
	if (doc)
		xmlFreeDoc(doc);
	return r;
}

static int has_cap(const struct ch_hello *h, const char *cap)
{
	for (size_t i = 0; i < h->ncaps; i++)
		if (strcmp(h->caps[i], cap) == 0)
			return 1;
	return 0;
}

int ch_hello_negotiate(const struct ch_hello *peer, int is_server,
		       int *chunked, const char **why)
{
	const char *reason = NULL;
	int r = CH_ERR_PROTO;

	if (chunked)
		*chunked = 0;
	if (why)
		*why = NULL;
	if (peer == NULL || chunked == NULL)
		return CH_ERR_INVAL;
	if (has_cap(peer, CH_NC_BASE11)) {
		*chunked = 1;
	} else if (!has_cap(peer, CH_NC_BASE10)) {
		reason = "no common NETCONF base version";
		goto out;
	}
	if (is_server && peer->has_session_id) {
		reason = "client hello has a session-id";
		goto out;
	}
	if (!is_server && !peer->has_session_id) {
		reason = "server hello has no session-id";
		goto out;
	}
	r = CH_OK;
out:
	if (r != CH_OK) {
		*chunked = 0;
		if (why)
			*why = reason;
	}
	return r;
}

/* ---- rpc (server side) ---- */

struct rpc_priv {
	struct ch_rpc pub;	/* first: ch_rpc_free casts back */
	xmlChar *message_id;
};

void ch_rpc_free(struct ch_rpc *rpc)
{
	struct rpc_priv *p = (struct rpc_priv *)rpc;

	if (p == NULL)
		return;
	xmlFree(p->message_id);
	if (p->pub.doc)
		xmlFreeDoc(p->pub.doc);
	free(p);
}

int ch_rpc_parse(const char *xml, size_t len, struct ch_rpc **out)
{
	struct rpc_priv *p = NULL;
	xmlDoc *doc = NULL;
	xmlAttr *a;
	xmlNode *root;
	int r;

	if (out == NULL)
		return CH_ERR_INVAL;
	*out = NULL;
	if ((r = ch_xml_parse(xml, len, &doc)) != CH_OK) {
		if (r == CH_ERR_LIMIT)	/* as documented: not an rpc */
			r = CH_ERR_PROTO;
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!is_nc(root, "rpc")) {
		ch_debug("root is not <rpc> in the base namespace");
		r = CH_ERR_PROTO;
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		r = CH_ERR_NOMEM;
		goto out;
	}
	if ((a = xmlHasNsProp(root, BAD_CAST "message-id", NULL)) != NULL &&
	    a->ns == NULL) {
		if ((p->message_id = xmlNodeGetContent((xmlNode *)a)) == NULL)
			p->message_id = xmlStrdup(BAD_CAST "");
		if (p->message_id == NULL) {
			r = CH_ERR_NOMEM;
			goto out;
		}
		p->pub.message_id = (const char *)p->message_id;
	}
	p->pub.rpc = root;
	for (xmlNode *c = root->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			p->pub.op = c;
			p->pub.op_name = (const char *)c->name;
			p->pub.op_ns = c->ns ? (const char *)c->ns->href : NULL;
			break;
		}
	}
	p->pub.doc = doc;
	doc = NULL;	/* transferred */
	*out = &p->pub;
	p = NULL;
	r = CH_OK;
out:
	if (p)
		ch_rpc_free(&p->pub);
	if (doc)
		xmlFreeDoc(doc);
	return r;
}

/* Writes "<rpc-reply" with the base namespace as default, every prefixed
 * namespace declaration in scope on the <rpc>, and every attribute of the
 * <rpc> (RFC 6241 4.2), then ">". */
static int reply_open(struct ch_buf *b, const struct ch_rpc *rpc)
{
	xmlNode *e = rpc ? rpc->rpc : NULL;
	xmlChar *v;
	int r;

	if ((r = ch_buf_puts(b, "<rpc-reply " BASE_NS_ATTR)) != CH_OK)
		return r;
	for (xmlNode *k = e; k && k->type == XML_ELEMENT_NODE; k = k->parent) {
		for (xmlNs *ns = k->nsDef; ns; ns = ns->next) {
			/* Our default replaces theirs (attributes never use
			 * it); "xml" is predeclared; an outer declaration
			 * hidden by an inner one is not in scope. */
			if (ns->prefix == NULL || ns->href == NULL ||
			    strcmp((const char *)ns->prefix, "xml") == 0 ||
			    xmlSearchNs(e->doc, e, ns->prefix) != ns)
				continue;
			if ((r = ch_buf_printf(b, " xmlns:%s=\"",
					       (const char *)ns->prefix)) !=
				    CH_OK ||
			    (r = put_ns_uri(b, (const char *)ns->href)) !=
				    CH_OK ||
			    (r = ch_buf_puts(b, "\"")) != CH_OK)
				return r;
		}
	}
	for (xmlAttr *a = e ? e->properties : NULL; a; a = a->next) {
		if (a->type != XML_ATTRIBUTE_NODE)
			continue;
		if (a->ns && a->ns->prefix == NULL)
			continue;	/* not writable; never from a parse */
		if ((v = xmlNodeGetContent((xmlNode *)a)) == NULL &&
		    a->children != NULL)
			return CH_ERR_NOMEM;
		if (a->ns)
			r = ch_buf_printf(b, " %s:%s=\"",
					  (const char *)a->ns->prefix,
					  (const char *)a->name);
		else
			r = ch_buf_printf(b, " %s=\"", (const char *)a->name);
		if (r == CH_OK && v)
			r = put_escaped(b, (const char *)v);
		if (r == CH_OK)
			r = ch_buf_puts(b, "\"");
		xmlFree(v);
		if (r != CH_OK)
			return r;
	}
	return ch_buf_puts(b, ">");
}

int ch_reply_ok(struct ch_buf *out, const struct ch_rpc *rpc)
{
	struct ch_buf b;
	int r;

	if (out == NULL || rpc == NULL)
		return CH_ERR_INVAL;
	ch_buf_init(&b, out->max);
	if ((r = reply_open(&b, rpc)) != CH_OK ||
	    (r = ch_buf_puts(&b, "<ok/></rpc-reply>")) != CH_OK)
		goto out;
	r = commit(out, &b);
out:
	ch_buf_cleanup(&b);
	return r;
}

int ch_reply_data(struct ch_buf *out, const struct ch_rpc *rpc,
		  const char *inner, size_t inner_len)
{
	struct ch_buf b;
	int r;

	if (out == NULL || rpc == NULL || (inner == NULL && inner_len))
		return CH_ERR_INVAL;
	ch_buf_init(&b, out->max);
	if ((r = reply_open(&b, rpc)) != CH_OK ||
	    (r = ch_buf_puts(&b, "<data>")) != CH_OK ||
	    (r = ch_buf_put(&b, inner, inner_len)) != CH_OK ||
	    (r = ch_buf_puts(&b, "</data></rpc-reply>")) != CH_OK)
		goto out;
	r = commit(out, &b);
out:
	ch_buf_cleanup(&b);
	return r;
}

/* Appends <name>escaped text</name> when text is not NULL. */
static int put_elem(struct ch_buf *b, const char *name, const char *attrs,
		    const char *text)
{
	int r;

	if (text == NULL)
		return CH_OK;
	if ((r = ch_buf_printf(b, "<%s%s>", name, attrs)) != CH_OK ||
	    (r = put_escaped(b, text)) != CH_OK)
		return r;
	return ch_buf_printf(b, "</%s>", name);
}

int ch_reply_error(struct ch_buf *out, const struct ch_rpc *rpc,
		   const struct ch_rpc_error *e)
{
	struct ch_buf b;
	int r;

	if (out == NULL || e == NULL || e->type == NULL || e->tag == NULL)
		return CH_ERR_INVAL;
	ch_buf_init(&b, out->max);
	/* RFC 6241 appendix B fixes the order of the children. */
	if ((r = reply_open(&b, rpc)) != CH_OK ||
	    (r = ch_buf_puts(&b, "<rpc-error>")) != CH_OK ||
	    (r = put_elem(&b, "error-type", "", e->type)) != CH_OK ||
	    (r = put_elem(&b, "error-tag", "", e->tag)) != CH_OK ||
	    (r = put_elem(&b, "error-severity", "",
			  e->severity ? e->severity : "error")) != CH_OK ||
	    (r = put_elem(&b, "error-app-tag", "", e->app_tag)) != CH_OK ||
	    (r = put_elem(&b, "error-path", "", e->path)) != CH_OK ||
	    (r = put_elem(&b, "error-message", " xml:lang=\"en\"",
			  e->message)) != CH_OK)
		goto out;
	if (e->info_xml &&
	    ((r = ch_buf_puts(&b, "<error-info>")) != CH_OK ||
	     (r = ch_buf_puts(&b, e->info_xml)) != CH_OK ||
	     (r = ch_buf_puts(&b, "</error-info>")) != CH_OK))
		goto out;
	if ((r = ch_buf_puts(&b, "</rpc-error></rpc-reply>")) != CH_OK)
		goto out;
	r = commit(out, &b);
out:
	ch_buf_cleanup(&b);
	return r;
}

/* ---- rpc (client side) ---- */

/* 1 if n has element children and no text but whitespace beside them. */
static int only_elements(const xmlNode *n)
{
	int nelem = 0;

	for (const xmlNode *c = n->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			nelem++;
		} else if (c->type == XML_TEXT_NODE && c->content) {
			for (const xmlChar *s = c->content; *s; s++)
				if (!is_space((char)*s))
					return 0;
		}
	}
	return nelem > 0;
}

/* Makes element c (a child of an <rpc> we unwrap) self-contained: it gets
 * every namespace declaration in scope at its old parent that it does not
 * make itself, the default one adjusted for a new parent whose default
 * namespace is the base namespace. */
static int carry_ns(xmlNode *c)
{
	xmlNode *parent = c->parent;
	xmlNs *def;
	const char *def_uri;
	int own_default = 0;

	for (xmlNs *ns = c->nsDef; ns; ns = ns->next)
		if (ns->prefix == NULL)
			own_default = 1;
	for (xmlNode *k = parent; k && k->type == XML_ELEMENT_NODE;
	     k = k->parent) {
		for (xmlNs *ns = k->nsDef; ns; ns = ns->next) {
			int mine = 0;

			if (ns->prefix == NULL || ns->href == NULL ||
			    strcmp((const char *)ns->prefix, "xml") == 0 ||
			    xmlSearchNs(c->doc, parent, ns->prefix) != ns)
				continue;
			for (xmlNs *o = c->nsDef; o; o = o->next)
				if (o->prefix &&
				    xmlStrEqual(o->prefix, ns->prefix))
					mine = 1;
			if (!mine && xmlNewNs(c, ns->href, ns->prefix) == NULL)
				return CH_ERR_NOMEM;
		}
	}
	if (own_default)
		return CH_OK;
	def = xmlSearchNs(c->doc, parent, NULL);
	def_uri = def && def->href && def->href[0] ?
		  (const char *)def->href : NULL;
	if (def_uri && strcmp(def_uri, CH_NC_NS) == 0)
		return CH_OK;
	if (xmlNewNs(c, BAD_CAST(def_uri ? def_uri : ""), NULL) == NULL)
		return CH_ERR_NOMEM;
	return CH_OK;
}

/* Serialises the children of an <rpc> found inside op_xml. */
static int unwrap_rpc(struct ch_buf *b, xmlNode *rpc)
{
	xmlBuffer *xb = NULL;
	int r = CH_OK;

	if ((xb = xmlBufferCreate()) == NULL)
		return CH_ERR_NOMEM;
	for (xmlNode *c = rpc->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE && (r = carry_ns(c)) != CH_OK)
			goto out;
		xmlBufferEmpty(xb);
		if (xmlNodeDump(xb, c->doc, c, 0, 0) < 0) {
			r = CH_ERR_NOMEM;
			goto out;
		}
		if ((r = ch_buf_put(b, xmlBufferContent(xb),
				    (size_t)xmlBufferLength(xb))) != CH_OK)
			goto out;
	}
out:
	xmlBufferFree(xb);
	return r;
}

int ch_rpc_build(struct ch_buf *out, uint32_t message_id, const char *op_xml,
		 const char **why)
{
	const char *reason = NULL, *op, *p;
	struct ch_buf b;
	xmlDoc *doc = NULL;
	xmlNode *root, *first = NULL;
	int r, nelem = 0;
	char head[128];

	if (why)
		*why = NULL;
	if (out == NULL || op_xml == NULL)
		return CH_ERR_INVAL;
	ch_buf_init(&b, out->max);
	/* A text-only or empty op is checked below; an XML declaration (as
	 * at the top of a file holding the rpc) cannot sit inside <rpc>. */
	op = op_xml;
	for (p = op; is_space(*p); p++)
		;
	if (strncmp(p, "<?xml", 5) == 0 && is_space(p[5]) &&
	    (p = strstr(p, "?>")) != NULL)
		op = p + 2;
	snprintf(head, sizeof(head), "<rpc " BASE_NS_ATTR " message-id=\"%u\">",
		 (unsigned)message_id);
	/* The wrapper's last "</rpc>" can only close the root in a
	 * well-formed document, so op cannot escape from it. */
	if ((r = ch_buf_puts(&b, head)) != CH_OK ||
	    (r = ch_buf_puts(&b, op)) != CH_OK ||
	    (r = ch_buf_puts(&b, "</rpc>")) != CH_OK)
		goto out;
	if ((r = ch_xml_parse(ch_buf_ptr(&b), ch_buf_len(&b), &doc)) != CH_OK) {
		if (r == CH_ERR_LIMIT)
			reason = "operation too large";
		else if (r == CH_ERR_PROTO)
			reason = "operation is not well-formed XML";
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!only_elements(root)) {
		reason = "expected an XML element";
		r = CH_ERR_PROTO;
		goto out;
	}
	for (xmlNode *c = root->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			nelem++;
			first = c;
		}
	}
	if (nelem == 1 && is_nc(first, "rpc")) {
		/* A whole <rpc>: keep its operation, use our message-id. */
		if (!only_elements(first)) {
			reason = "expected an XML element";
			r = CH_ERR_PROTO;
			goto out;
		}
		ch_buf_reset(&b);
		if ((r = ch_buf_puts(&b, head)) != CH_OK ||
		    (r = unwrap_rpc(&b, first)) != CH_OK ||
		    (r = ch_buf_puts(&b, "</rpc>")) != CH_OK)
			goto out;
	}
	r = commit(out, &b);
out:
	if (r != CH_OK && why)
		*why = reason;
	if (doc)
		xmlFreeDoc(doc);
	ch_buf_cleanup(&b);
	return r;
}

/* ---- rpc-reply (client side) ---- */

void ch_reply_cleanup(struct ch_reply *r)
{
	if (r == NULL)
		return;
	free(r->message_id);
	free(r->error_tag);
	free(r->error_message);
	memset(r, 0, sizeof(*r));
}

/* The first child of n that is <name> in the base namespace. */
static xmlNode *nc_child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n->children; c; c = c->next)
		if (is_nc(c, name))
			return c;
	return NULL;
}

/* Looks at one <rpc-error>; fills tag and message from the first error. */
static int reply_error(xmlNode *e, struct ch_reply *rep)
{
	xmlNode *sev = nc_child(e, "error-severity"), *k;
	char *s = NULL;
	int r = CH_OK, is_error = 1;

	if (sev) {
		if ((r = elem_text(sev, 0, &s)) != CH_OK)
			goto out;
		is_error = strcmp(s, "error") == 0;
	}
	if (!is_error || rep->has_error)
		goto out;
	rep->has_error = 1;
	if ((k = nc_child(e, "error-tag")) != NULL &&
	    (r = elem_text(k, 0, &rep->error_tag)) != CH_OK)
		goto out;
	if ((k = nc_child(e, "error-message")) != NULL &&
	    (r = elem_text(k, 0, &rep->error_message)) != CH_OK)
		goto out;
out:
	free(s);
	return r;
}

int ch_reply_parse(const char *xml, size_t len, struct ch_reply *rep)
{
	xmlDoc *doc = NULL;
	xmlNode *root;
	xmlAttr *a;
	xmlChar *v = NULL;
	int r;

	if (rep == NULL)
		return CH_ERR_INVAL;
	memset(rep, 0, sizeof(*rep));
	if ((r = ch_xml_parse(xml, len, &doc)) != CH_OK)
		goto out;
	root = xmlDocGetRootElement(doc);
	if (!is_nc(root, "rpc-reply")) {
		ch_debug("root is not <rpc-reply> in the base namespace");
		r = CH_ERR_PROTO;
		goto out;
	}
	if ((a = xmlHasNsProp(root, BAD_CAST "message-id", NULL)) != NULL &&
	    a->ns == NULL) {
		v = xmlNodeGetContent((xmlNode *)a);
		rep->message_id = strdup(v ? (const char *)v : "");
		if (rep->message_id == NULL) {
			r = CH_ERR_NOMEM;
			goto out;
		}
	}
	for (xmlNode *c = root->children; c; c = c->next) {
		if (is_nc(c, "ok"))
			rep->is_ok = 1;
		else if (is_nc(c, "rpc-error") &&
			 (r = reply_error(c, rep)) != CH_OK)
			goto out;
	}
	r = CH_OK;
out:
	if (r != CH_OK)
		ch_reply_cleanup(rep);
	xmlFree(v);
	if (doc)
		xmlFreeDoc(doc);
	return r;
}

int ch_xml_text(xmlNode *n, char *buf, size_t len)
{
	xmlChar *t = xmlNodeGetContent(n);
	const char *p = t ? (const char *)t : "";
	size_t l;
	int r = CH_OK;

	p += strspn(p, " \t\r\n");
	l = strlen(p);
	while (l && strchr(" \t\r\n", p[l - 1]) != NULL)
		l--;
	if (l >= len) {
		if (len)
			buf[0] = '\0';
		r = CH_ERR_LIMIT;
	} else {
		memcpy(buf, p, l);
		buf[l] = '\0';
	}
	xmlFree(t);
	return r;
}
