/* devxml.c - the hub's parsers of a device's notifications and of its
 * get-config data (devxml.h). */
#include "hub/devxml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "lib/core/err.h"
#include "lib/nc/msg.h"

static int is(const xmlNode *n, const char *ns, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       strcmp((const char *)n->ns->href, ns) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *n, const char *ns, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, ns, name))
			return c;
	return NULL;
}

/* Copies s into buf cut to len without splitting UTF-8, trimmed, control
 * characters as spaces: one line of text. */
static void copy_line(char *buf, size_t len, const char *s)
{
	size_t n, i;

	if (len == 0)
		return;
	s += strspn(s, " \t\r\n");
	n = strlen(s);
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	if (n >= len) {
		n = len - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' '
								    : s[i];
	buf[n] = '\0';
}

/* n's text content as one line into buf ("" for no node). */
static void text_of(const xmlNode *n, char *buf, size_t len)
{
	xmlChar *t;

	if (len)
		buf[0] = '\0';
	if (n == NULL || (t = xmlNodeGetContent(n)) == NULL)
		return;
	copy_line(buf, len, (const char *)t);
	xmlFree(t);
}

static void config_change(const xmlNode *ev, struct devxml_notif *n)
{
	const xmlNode *by = child(ev, DEVXML_NCN_NS, "changed-by");
	char num[16], *end;
	unsigned long v;

	n->config_change = 1;
	if (by) {
		n->by_server = child(by, DEVXML_NCN_NS, "server") != NULL;
		text_of(child(by, DEVXML_NCN_NS, "username"), n->username,
			sizeof(n->username));
		text_of(child(by, DEVXML_NCN_NS, "source-host"),
			n->source_host, sizeof(n->source_host));
		text_of(child(by, DEVXML_NCN_NS, "session-id"), num,
			sizeof(num));
		v = strtoul(num, &end, 10);
		if (num[0] >= '0' && num[0] <= '9' && *end == '\0' &&
		    v <= UINT32_MAX)
			n->session_id = (uint32_t)v;
	}
	text_of(child(ev, DEVXML_NCN_NS, "datastore"), n->datastore,
		sizeof(n->datastore));
	if (n->datastore[0] == '\0')	/* its default (RFC 6470) */
		snprintf(n->datastore, sizeof(n->datastore), "running");
	for (xmlNode *c = ev->children; c; c = c->next) {
		struct devxml_edit *e;

		if (!is(c, DEVXML_NCN_NS, "edit"))
			continue;
		if (n->nedits++ >= CH_NOTIF_EDITS_SHOWN)
			continue;
		e = &n->edits[n->nedits - 1];
		text_of(child(c, DEVXML_NCN_NS, "target"), e->target,
			sizeof(e->target));
		text_of(child(c, DEVXML_NCN_NS, "operation"), e->operation,
			sizeof(e->operation));
	}
}

int devxml_notif_parse(const char *xml, size_t len, struct devxml_notif *n)
{
	xmlDoc *doc = NULL;
	xmlNode *root, *ev = NULL;
	int r;

	memset(n, 0, sizeof(*n));
	if ((r = ch_xml_parse(xml, len, &doc)) != CH_OK)
		return r;
	root = xmlDocGetRootElement(doc);
	r = CH_ERR_PROTO;
	if (!is(root, DEVXML_NOTIF_NS, "notification"))
		goto out;
	text_of(child(root, DEVXML_NOTIF_NS, "eventTime"), n->time,
		sizeof(n->time));
	/* the event: the element after eventTime (RFC 5277 4) */
	for (xmlNode *c = root->children; c && ev == NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    !is(c, DEVXML_NOTIF_NS, "eventTime"))
			ev = c;
	if (ev == NULL || n->time[0] == '\0')
		goto out;
	copy_line(n->event, sizeof(n->event), (const char *)ev->name);
	if (is(ev, DEVXML_NCN_NS, "netconf-config-change"))
		config_change(ev, n);
	r = CH_OK;
out:
	xmlFreeDoc(doc);
	return r;
}

void devxml_notif_who(const struct devxml_notif *n, char *buf, size_t len)
{
	if (n->by_server)
		snprintf(buf, len, "the device itself");
	else if (n->username[0] && n->source_host[0])
		snprintf(buf, len, "%s@%s", n->username, n->source_host);
	else if (n->username[0])
		snprintf(buf, len, "%s", n->username);
	else if (n->source_host[0])
		snprintf(buf, len, "a session from %s", n->source_host);
	else
		snprintf(buf, len, "unknown");
}

void devxml_notif_text(const struct devxml_notif *n, char *buf, size_t len)
{
	size_t off;
	int w;

#define ADD(...)							\
	do {								\
		if (off < len) {					\
			w = snprintf(buf + off, len - off, __VA_ARGS__); \
			off += w > 0 ? (size_t)w : 0;			\
		}							\
	} while (0)

	if (len == 0)
		return;
	off = 0;
	buf[0] = '\0';
	ADD("%s at %s", n->event, n->time);
	if (!n->config_change)
		return;
	if (n->by_server)
		ADD(" by the device itself");
	else if (n->username[0])
		ADD(" by %s", n->username);
	if (n->session_id)
		ADD(" (session %u)", n->session_id);
	if (n->source_host[0])
		ADD(" from %s", n->source_host);
	ADD(" on %s", n->datastore);
	for (size_t i = 0; i < n->nedits && i < CH_NOTIF_EDITS_SHOWN; i++)
		ADD("%s%s%s%s", i ? ", " : ": ", n->edits[i].operation,
		    n->edits[i].operation[0] ? " " : "", n->edits[i].target);
	if (n->nedits > CH_NOTIF_EDITS_SHOWN)
		ADD(" (and %zu more)", n->nedits - CH_NOTIF_EDITS_SHOWN);
#undef ADD
}

/* Drops the text nodes of whitespace only between elements (not inside
 * a leaf's value): the indentation is the serialiser's. */
static void strip_blanks(xmlNode *n)
{
	int has_elem = 0;
	xmlNode *c, *next;

	for (c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			has_elem = 1;
	for (c = n->children; c; c = next) {
		next = c->next;
		if (c->type == XML_ELEMENT_NODE) {
			strip_blanks(c);
		} else if (has_elem && c->type == XML_TEXT_NODE &&
			   xmlIsBlankNode(c)) {
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		}
	}
}

/* One element of <data> as a document of its own (the namespaces it
 * uses from its ancestors declared on it), indented, into out. */
static int put_element(const xmlNode *e, struct ch_buf *out)
{
	xmlDoc *doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlBuffer *xb = NULL;
	xmlSaveCtxt *sc;
	xmlNode *copy;
	int r = CH_ERR_NOMEM;

	if (doc == NULL || (copy = xmlDocCopyNode((xmlNode *)e, doc, 1))
	    == NULL)
		goto out;
	xmlDocSetRootElement(doc, copy);
	strip_blanks(copy);
	if ((xb = xmlBufferCreate()) == NULL ||
	    (sc = xmlSaveToBuffer(xb, "UTF-8", XML_SAVE_FORMAT |
				  XML_SAVE_NO_DECL)) == NULL)
		goto out;
	xmlSaveTree(sc, copy);
	xmlSaveClose(sc);
	r = ch_buf_put(out, xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
	if (r == CH_OK && (xmlBufferLength(xb) == 0 ||
			   xmlBufferContent(xb)[xmlBufferLength(xb) - 1] !=
			   '\n'))
		r = ch_buf_puts(out, "\n");
out:
	if (xb)
		xmlBufferFree(xb);
	if (doc)
		xmlFreeDoc(doc);
	return r;
}

int devxml_config(const char *reply, size_t len, struct ch_buf *out,
		  const char **why)
{
	xmlDoc *doc = NULL;
	xmlNode *root, *data;
	int r;

	*why = NULL;
	if ((r = ch_xml_parse(reply, len, &doc)) != CH_OK) {
		*why = r == CH_ERR_LIMIT ? "the reply is too large to parse"
					 : "the reply is not well-formed XML";
		return r;
	}
	root = xmlDocGetRootElement(doc);
	r = CH_ERR_PROTO;
	if (!is(root, CH_NC_NS, "rpc-reply")) {
		*why = "not an <rpc-reply>";
		goto out;
	}
	if (child(root, CH_NC_NS, "rpc-error")) {
		*why = "the device answered with an rpc-error";
		goto out;
	}
	if ((data = child(root, CH_NC_NS, "data")) == NULL) {
		*why = "the reply has no <data>";
		goto out;
	}
	r = CH_OK;
	for (xmlNode *c = data->children; c && r == CH_OK; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			r = put_element(c, out);
	if (r == CH_ERR_LIMIT)
		*why = "the configuration is larger than the archive takes";
	else if (r != CH_OK)
		*why = "out of memory";
out:
	if (r != CH_OK)
		ch_buf_reset(out);	/* nothing half-written stays */
	xmlFreeDoc(doc);
	return r;
}
