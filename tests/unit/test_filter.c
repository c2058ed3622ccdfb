/* test_filter.c - subtree filtering (RFC 6241 6): every 6.4 example, then
 * namespaces, attributes, sibling rules, merging, limits and errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/nc/filter.h"
#include "lib/nc/msg.h"

#define BUF_MAX (1u << 24)
#define NC "urn:ietf:params:xml:ns:netconf:base:1.0"
#define CFG "http://example.com/schema/1.2/config"
#define STATS "http://example.com/schema/1.2/stats"

/* The RFC 6241 6.4 data: users (6.4.3-6.4.7), interfaces with ifName
 * attributes in the stats namespace, prefix declared on the top (6.4.8). */
#define U_ROOT "<user><name>root</name><type>superuser</type>" \
	"<full-name>Charlie Root</full-name>" \
	"<company-info><dept>1</dept><id>1</id></company-info></user>"
#define U_FRED "<user><name>fred</name><type>admin</type>" \
	"<full-name>Fred Flintstone</full-name>" \
	"<company-info><dept>2</dept><id>2</id></company-info></user>"
#define U_BARNEY "<user><name>barney</name><type>admin</type>" \
	"<full-name>Barney Rubble</full-name>" \
	"<company-info><dept>2</dept><id>3</id></company-info></user>"
#define USERS "<users>" U_ROOT U_FRED U_BARNEY "</users>"
#define CFG_IFS "<interfaces>" \
	"<interface><ifName>eth0</ifName><ifType>ethernet</ifType></interface>" \
	"<interface><ifName>eth1</ifName><ifType>ethernet</ifType></interface>" \
	"</interfaces>"
#define CFG_TOP "<top xmlns=\"" CFG "\">" USERS CFG_IFS "</top>"
#define ST_IF0 "<t:interface t:ifName=\"eth0\"><t:ifInOctets>45621" \
	"</t:ifInOctets><t:ifOutOctets>774344</t:ifOutOctets></t:interface>"
#define ST_IF1 "<t:interface t:ifName=\"eth1\"><t:ifInOctets>1" \
	"</t:ifInOctets><t:ifOutOctets>2</t:ifOutOctets></t:interface>"
#define ST_TOP "<t:top xmlns:t=\"" STATS "\"><t:interfaces>" ST_IF0 ST_IF1 \
	"</t:interfaces></t:top>"
#define RFC_DATA CFG_TOP ST_TOP

#define TOP_OPEN "<top xmlns=\"" CFG "\">"

/* ---- helpers ---- */

static xmlDoc *parse_doc(const char *xml)
{
	xmlDoc *doc = NULL;

	assert_int_equal(ch_xml_parse(xml, strlen(xml), &doc), CH_OK);
	assert_non_null(doc);
	return doc;
}

/* <data>content</data>, as the agent wraps running.xml. */
static xmlDoc *data_doc(const char *content)
{
	size_t n = strlen(content) + 16;
	char *s = malloc(n);
	xmlDoc *doc;

	assert_non_null(s);
	snprintf(s, n, "<data>%s</data>", content);
	doc = parse_doc(s);
	free(s);
	return doc;
}

/* The <filter> element filter_xml, inside <rpc><get> in the base
 * namespace as a client sends it. */
static struct ch_rpc *filter_rpc(const char *filter_xml, xmlNode **filter)
{
	struct ch_rpc *rpc = NULL;
	size_t n = strlen(filter_xml) + 128;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, "<rpc xmlns=\"" NC "\" message-id=\"1\"><get>%s</get>"
		 "</rpc>", filter_xml);
	assert_int_equal(ch_rpc_parse(s, strlen(s), &rpc), CH_OK);
	free(s);
	*filter = rpc->op->children;
	while (*filter && (*filter)->type != XML_ELEMENT_NODE)
		*filter = (*filter)->next;
	assert_non_null(*filter);
	assert_string_equal((const char *)(*filter)->name, "filter");
	return rpc;
}

/* No _private mark is left anywhere under n. */
static void assert_unmarked(xmlNode *n)
{
	for (; n; n = n->next) {
		assert_null(n->_private);
		if (n->type == XML_ELEMENT_NODE)
			assert_unmarked(n->children);
	}
}

/* Filters data (a whole document) with filter_xml; returns the code and
 * the output in *res (malloc'd) or the reason in *why. */
static int run_doc(xmlDoc *doc, const char *filter_xml, char **res,
		   const char **why)
{
	struct ch_rpc *rpc;
	struct ch_buf b;
	xmlNode *filter;
	int r;

	rpc = filter_rpc(filter_xml, &filter);
	ch_buf_init(&b, BUF_MAX);
	*why = "unset";
	r = ch_filter_subtree(xmlDocGetRootElement(doc), filter, &b, why);
	assert_unmarked(doc->children);
	if (r == CH_OK)
		assert_null(*why);
	*res = strdup(ch_buf_ptr(&b));
	assert_non_null(*res);
	ch_buf_cleanup(&b);
	ch_rpc_free(rpc);
	return r;
}

/* Filters <data>content</data> and expects exactly want. */
static void expect(const char *content, const char *filter_xml,
		   const char *want)
{
	xmlDoc *doc = data_doc(content);
	const char *why;
	char *res;

	assert_int_equal(run_doc(doc, filter_xml, &res, &why), CH_OK);
	assert_string_equal(res, want);
	free(res);
	xmlFreeDoc(doc);
}

/* Expects CH_ERR_INVAL with reason want_why and nothing output. */
static void expect_inval(const char *content, const char *filter_xml,
			 const char *want_why)
{
	xmlDoc *doc = data_doc(content);
	const char *why;
	char *res;

	assert_int_equal(run_doc(doc, filter_xml, &res, &why), CH_ERR_INVAL);
	assert_string_equal(why, want_why);
	assert_string_equal(res, "");
	free(res);
	xmlFreeDoc(doc);
}

/* <a> nested depth times, the innermost one empty. */
static char *nested(int depth)
{
	size_t n = (size_t)depth * 8 + 1;
	char *s = malloc(n), *p = s;

	assert_non_null(s);
	for (int i = 0; i < depth - 1; i++)
		p += snprintf(p, n - (size_t)(p - s), "<a>");
	p += snprintf(p, n - (size_t)(p - s), "<a/>");
	for (int i = 0; i < depth - 1; i++)
		p += snprintf(p, n - (size_t)(p - s), "</a>");
	return s;
}

/* ---- RFC 6241 6.4 ---- */

/* 6.4.1 (no filter) is the agent's path without ch_filter_subtree; the
 * nearest filter, every top element in any namespace, returns it all. */
static void test_rfc_6_4_1_everything(void **state)
{
	(void)state;
	expect(RFC_DATA, "<filter type=\"subtree\"><top xmlns=\"\"/></filter>",
	       RFC_DATA);
}

static void test_rfc_6_4_2_empty_filter(void **state)
{
	(void)state;
	expect(RFC_DATA, "<filter type=\"subtree\"></filter>", "");
	expect(RFC_DATA, "<filter/>", "");
	expect(RFC_DATA, "<filter>\n  <!-- nothing --> <?pi x?>\n</filter>",
	       "");
}

static void test_rfc_6_4_3_users(void **state)
{
	(void)state;
	expect(RFC_DATA,
	       "<filter type=\"subtree\"><top xmlns=\"" CFG "\">"
	       "<users/></top></filter>",
	       TOP_OPEN USERS "</top>");
	/* The equivalent spelling the RFC gives, with <user/> inside. */
	expect(RFC_DATA,
	       "<filter type=\"subtree\"><top xmlns=\"" CFG "\">"
	       "<users><user/></users></top></filter>",
	       TOP_OPEN USERS "</top>");
}

static void test_rfc_6_4_4_names(void **state)
{
	(void)state;
	expect(RFC_DATA,
	       "<filter type=\"subtree\"><top xmlns=\"" CFG "\"><users>"
	       "<user><name/></user></users></top></filter>",
	       TOP_OPEN "<users><user><name>root</name></user>"
	       "<user><name>fred</name></user>"
	       "<user><name>barney</name></user></users></top>");
}

static void test_rfc_6_4_5_one_user(void **state)
{
	(void)state;
	expect(RFC_DATA,
	       "<filter type=\"subtree\"><top xmlns=\"" CFG "\"><users>"
	       "<user><name>fred</name></user></users></top></filter>",
	       TOP_OPEN "<users>" U_FRED "</users></top>");
}

static void test_rfc_6_4_6_user_elements(void **state)
{
	(void)state;
	expect(RFC_DATA,
	       "<filter type=\"subtree\"><top xmlns=\"" CFG "\"><users>"
	       "<user><name>fred</name><type/><full-name/></user>"
	       "</users></top></filter>",
	       TOP_OPEN "<users><user><name>fred</name><type>admin</type>"
	       "<full-name>Fred Flintstone</full-name></user></users></top>");
}

static void test_rfc_6_4_7_multiple_subtrees(void **state)
{
	(void)state;
	expect(RFC_DATA,
	       "<filter type=\"subtree\">\n"
	       "  <top xmlns=\"" CFG "\">\n"
	       "    <users>\n"
	       "      <user>\n"
	       "        <name>root</name>\n"
	       "        <company-info/>\n"
	       "      </user>\n"
	       "      <user>\n"
	       "        <name>fred</name>\n"
	       "        <company-info>\n"
	       "          <id/>\n"
	       "        </company-info>\n"
	       "      </user>\n"
	       "      <user>\n"
	       "        <name>barney</name>\n"
	       "        <type>superuser</type>\n"
	       "        <company-info>\n"
	       "          <dept/>\n"
	       "        </company-info>\n"
	       "      </user>\n"
	       "    </users>\n"
	       "  </top>\n"
	       "</filter>",
	       TOP_OPEN "<users>"
	       "<user><name>root</name>"
	       "<company-info><dept>1</dept><id>1</id></company-info></user>"
	       "<user><name>fred</name>"
	       "<company-info><id>2</id></company-info></user>"
	       "</users></top>");
}

/* The prefix t is declared on <t:top> only: each output element that
 * uses it must still have it in scope. */
static void test_rfc_6_4_8_attribute_naming(void **state)
{
	(void)state;
	expect(RFC_DATA,
	       "<filter type=\"subtree\"><t:top xmlns:t=\"" STATS "\">"
	       "<t:interfaces><t:interface t:ifName=\"eth0\"/>"
	       "</t:interfaces></t:top></filter>",
	       "<t:top xmlns:t=\"" STATS "\"><t:interfaces>" ST_IF0
	       "</t:interfaces></t:top>");
	/* The same filter with another prefix and a default namespace. */
	expect(RFC_DATA,
	       "<filter type=\"subtree\"><top xmlns=\"" STATS "\" "
	       "xmlns:s=\"" STATS "\"><interfaces>"
	       "<interface s:ifName=\"eth1\"/></interfaces></top></filter>",
	       "<t:top xmlns:t=\"" STATS "\"><t:interfaces>" ST_IF1
	       "</t:interfaces></t:top>");
}

/* ---- namespaces (6.2.2) ---- */

static void test_namespace_selects(void **state)
{
	(void)state;
	/* Only the config <top> has this namespace. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><interfaces/></top></filter>",
	       TOP_OPEN CFG_IFS "</top>");
	expect(RFC_DATA, "<filter><top xmlns=\"urn:other\"/></filter>", "");
	expect(RFC_DATA,
	       "<filter><t:top xmlns:t=\"" CFG "\"><t:users><t:user>"
	       "<t:name>root</t:name></t:user></t:users></t:top></filter>",
	       TOP_OPEN "<users>" U_ROOT "</users></top>");
	/* A namespaced child under a wildcard parent still selects. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"\"><t:interfaces xmlns:t=\"" STATS
	       "\"/></top></filter>",
	       "<t:top xmlns:t=\"" STATS "\"><t:interfaces>" ST_IF0 ST_IF1
	       "</t:interfaces></t:top>");
}

static void test_namespace_wildcard(void **state)
{
	(void)state;
	/* xmlns="": both tops match, output in document order. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"\"><interfaces/></top></filter>",
	       TOP_OPEN CFG_IFS "</top>"
	       "<t:top xmlns:t=\"" STATS "\"><t:interfaces>" ST_IF0 ST_IF1
	       "</t:interfaces></t:top>");
	/* No xmlns at all: the base namespace inherited from <rpc> is a
	 * wildcard too. A parent with no match drops out (the stats top has
	 * no users). */
	expect(RFC_DATA,
	       "<filter><top><users><user><name>barney</name></user></users>"
	       "</top></filter>",
	       TOP_OPEN "<users>" U_BARNEY "</users></top>");
	/* Explicitly in the base namespace under a prefix: same. */
	expect(RFC_DATA,
	       "<filter><nc:top xmlns:nc=\"" NC "\"><nc:users/></nc:top>"
	       "</filter>",
	       TOP_OPEN USERS "</top>");
}

/* ---- attribute match expressions (6.2.3) ---- */

static void test_attribute_match(void **state)
{
	(void)state;
	/* No such value: nothing, and the parents drop out. */
	expect(RFC_DATA,
	       "<filter><t:top xmlns:t=\"" STATS "\"><t:interfaces>"
	       "<t:interface t:ifName=\"eth9\"/></t:interfaces></t:top>"
	       "</filter>", "");
	/* An unqualified attribute is not the t: one. */
	expect(RFC_DATA,
	       "<filter><t:top xmlns:t=\"" STATS "\"><t:interfaces>"
	       "<t:interface ifName=\"eth0\"/></t:interfaces></t:top>"
	       "</filter>", "");
	/* Values compare exactly: no trimming. */
	expect(RFC_DATA,
	       "<filter><t:top xmlns:t=\"" STATS "\"><t:interfaces>"
	       "<t:interface t:ifName=\" eth0\"/></t:interfaces></t:top>"
	       "</filter>", "");
	expect(RFC_DATA,
	       "<filter><t:top xmlns:t=\"" STATS "\"><t:interfaces>"
	       "<t:interface t:ifName=\"eth0 \"/></t:interfaces></t:top>"
	       "</filter>", "");
	/* Every attribute must match; on a containment node too. */
	expect("<l xmlns=\"urn:l\"><e a=\"1\" b=\"2\"><v>x</v><w>y</w></e>"
	       "<e a=\"1\" b=\"3\"><v>z</v></e><e a=\"&lt;&amp;\"><v>q</v>"
	       "</e></l>",
	       "<filter><l xmlns=\"urn:l\"><e a=\"1\" b=\"2\"><v/></e></l>"
	       "</filter>",
	       "<l xmlns=\"urn:l\"><e a=\"1\" b=\"2\"><v>x</v></e></l>");
	expect("<l xmlns=\"urn:l\"><e a=\"1\" b=\"2\"><v>x</v></e>"
	       "<e a=\"1\" b=\"3\"><v>z</v></e><e a=\"&lt;&amp;\"><v>q</v>"
	       "</e></l>",
	       "<filter><l xmlns=\"urn:l\"><e a=\"1\"/></l></filter>",
	       "<l xmlns=\"urn:l\"><e a=\"1\" b=\"2\"><v>x</v></e>"
	       "<e a=\"1\" b=\"3\"><v>z</v></e></l>");
	/* Escaped values compare by value and are escaped again. */
	expect("<l xmlns=\"urn:l\"><e a=\"1\"><v>x</v></e>"
	       "<e a=\"&lt;&amp;&#34;\"><v>q</v></e></l>",
	       "<filter><l xmlns=\"urn:l\"><e a='&lt;&amp;\"'/></l></filter>",
	       "<l xmlns=\"urn:l\"><e a=\"&lt;&amp;&quot;\"><v>q</v></e></l>");
}

/* ---- content match and sibling rules (6.2.5) ---- */

static void test_content_match_and(void **state)
{
	static const char d[] = "<x xmlns=\"urn:x\"><v>1</v><v>2</v>"
				"<o>a</o><p>b</p></x>";

	(void)state;
	/* Only content match nodes, all matching: the whole parent. */
	expect(d, "<filter><x><v>1</v><v>2</v></x></filter>", d);
	/* One fails: the parent is not returned at all. */
	expect(d, "<filter><x><v>1</v><v>3</v></x></filter>", "");
	expect(d, "<filter><x><v>1</v><v>2</v><o/></x></filter>",
	       "<x xmlns=\"urn:x\"><v>1</v><v>2</v><o>a</o></x>");
	expect(d, "<filter><x><v>2</v><o/></x></filter>",
	       "<x xmlns=\"urn:x\"><v>2</v><o>a</o></x>");
	expect(d, "<filter><x><v>3</v><o/></x></filter>", "");
	/* Content matches succeed but the containment sibling selects
	 * nothing: the parent comes with its content match nodes only. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><users><user><name>fred</name>"
	       "<company-info><room/></company-info></user></users></top>"
	       "</filter>",
	       TOP_OPEN "<users><user><name>fred</name></user></users></top>");
	/* A selection node that matches nothing, alone: nothing. */
	expect(d, "<filter><x><nothing/></x></filter>", "");
	/* A content match node only matches a leaf. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><users><user><company-info>2"
	       "</company-info></user></users></top></filter>", "");
}

static void test_content_whitespace(void **state)
{
	static const char d[] = "<x xmlns=\"urn:x\">\n  <k>\n\t a b &#13;\n</k>"
				"\n  <w> y </w>\n</x>";

	(void)state;
	/* Trimmed on both sides (whole parent returned as is, with its
	 * whitespace). */
	expect(d, "<filter><x><k>a b</k></x></filter>", d);
	expect(d, "<filter><x><k>\r\n  a b\t</k><w/></x></filter>",
	       "<x xmlns=\"urn:x\"><k>\n\t a b &#13;\n</k><w> y </w></x>");
	/* Inner whitespace is significant. */
	expect(d, "<filter><x><k>a  b</k></x></filter>", "");
	expect(d, "<filter><x><k>ab</k></x></filter>", "");
	expect(d, "<filter><x><k>a</k></x></filter>", "");
	/* An empty-text leaf is matched by... nothing: empty is selection. */
	expect("<x xmlns=\"urn:x\"><e/><f>1</f></x>",
	       "<filter><x><e>  </e></x></filter>",
	       "<x xmlns=\"urn:x\"><e/></x>");
}

/* Comments and PIs in a filter are ignored, also between text. */
static void test_comments_ignored(void **state)
{
	(void)state;
	expect(RFC_DATA,
	       "<filter><!-- a --><top xmlns=\"" CFG "\"><?pi x?><users>"
	       "<!-- b --><user><name>fr<!-- c -->ed</name></user></users>"
	       "</top></filter>",
	       TOP_OPEN "<users>" U_FRED "</users></top>");
	/* A comment alone does not make a content match node. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><users><user><name><!-- c -->"
	       "</name></user></users></top></filter>",
	       TOP_OPEN "<users><user><name>root</name></user>"
	       "<user><name>fred</name></user>"
	       "<user><name>barney</name></user></users></top>");
}

/* Text beside element children: a containment node, the text ignored. */
static void test_mixed_content(void **state)
{
	(void)state;
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><users>junk<user>"
	       "<name>fred</name></user>more</users></top></filter>",
	       TOP_OPEN "<users>" U_FRED "</users></top>");
}

/* ---- several branches ---- */

static void test_multiple_top_level(void **state)
{
	(void)state;
	/* OR-ed, output in document order whatever the filter order. */
	expect(RFC_DATA,
	       "<filter><t:top xmlns:t=\"" STATS "\"/>"
	       "<top xmlns=\"" CFG "\"><users><user><name>fred</name></user>"
	       "</users></top></filter>",
	       TOP_OPEN "<users>" U_FRED "</users></top>" ST_TOP);
	/* One branch failing does not hide the other. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><users><user><name>nobody"
	       "</name></user></users></top><t:top xmlns:t=\"" STATS "\">"
	       "<t:interfaces><t:interface t:ifName=\"eth1\"/>"
	       "</t:interfaces></t:top></filter>",
	       "<t:top xmlns:t=\"" STATS "\"><t:interfaces>" ST_IF1
	       "</t:interfaces></t:top>");
	/* A top-level content match node. */
	expect("<leaf xmlns=\"urn:l\">v</leaf><leaf xmlns=\"urn:l\">w</leaf>",
	       "<filter><leaf>w</leaf></filter>",
	       "<leaf xmlns=\"urn:l\">w</leaf>");
}

static void test_no_duplicates(void **state)
{
	(void)state;
	/* The same top twice: once, whole wins over partial. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><users><user><name/></user>"
	       "</users></top><top xmlns=\"" CFG "\"><users/></top>"
	       "<top xmlns=\"" CFG "\"><users><user><name>fred</name>"
	       "</user></users></top></filter>",
	       TOP_OPEN USERS "</top>");
	/* Overlapping siblings: fred once, in place, with the union. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><users>"
	       "<user><name/></user>"
	       "<user><name>fred</name><type/></user>"
	       "<user><name>fred</name><company-info><id/></company-info>"
	       "</user><user><name>fred</name></user>"
	       "</users><users><user><name/><full-name/></user></users>"
	       "</top></filter>",
	       TOP_OPEN "<users>"
	       "<user><name>root</name><full-name>Charlie Root</full-name>"
	       "</user>" U_FRED
	       "<user><name>barney</name><full-name>Barney Rubble</full-name>"
	       "</user></users></top>");
	/* Two partial selections of one element merge. */
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><users><user><name>barney"
	       "</name><type/></user><user><name>barney</name><full-name/>"
	       "</user></users></top></filter>",
	       TOP_OPEN "<users><user><name>barney</name><type>admin</type>"
	       "<full-name>Barney Rubble</full-name></user></users></top>");
}

static void test_selects_nothing(void **state)
{
	(void)state;
	expect(RFC_DATA, "<filter><nothing/></filter>", "");
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><groups/></top></filter>", "");
	expect(RFC_DATA,
	       "<filter><top xmlns=\"" CFG "\"><users><user><name>wilma"
	       "</name></user></users></top></filter>", "");
	expect("", "<filter><top/></filter>", "");
}

/* ---- namespace declarations in the output ---- */

static void test_ns_declarations(void **state)
{
	xmlDoc *doc;
	const char *why;
	char *res;

	(void)state;
	/* A prefix used in a value, declared on an ancestor only. */
	expect("<interfaces xmlns=\"urn:if\" xmlns:ianaift=\"urn:iana\">"
	       "<interface><name>eth0</name><type>ianaift:ethernetCsmacd"
	       "</type></interface><interface><name>lo</name>"
	       "<type>ianaift:softwareLoopback</type></interface>"
	       "</interfaces>",
	       "<filter><interfaces xmlns=\"urn:if\"><interface><name>lo"
	       "</name><type/></interface></interfaces></filter>",
	       "<interfaces xmlns=\"urn:if\" xmlns:ianaift=\"urn:iana\">"
	       "<interface><name>lo</name><type>ianaift:softwareLoopback"
	       "</type></interface></interfaces>");
	/* A prefix redeclared deeper, and xmlns="" undoing a default. */
	expect("<a:r xmlns:a=\"urn:1\"><a:s xmlns:a=\"urn:2\"><a:t>1</a:t>"
	       "</a:s><u xmlns=\"urn:3\"><w xmlns=\"\"><z>2</z></w></u>"
	       "</a:r>",
	       "<filter><r><s><t/></s><u><w><z/></w></u></r></filter>",
	       "<a:r xmlns:a=\"urn:1\"><a:s xmlns:a=\"urn:2\"><a:t>1</a:t>"
	       "</a:s><u xmlns=\"urn:3\"><w xmlns=\"\"><z>2</z></w></u>"
	       "</a:r>");
	/* Declarations on the <data> root itself are carried down. */
	doc = parse_doc("<data xmlns:p=\"urn:p\" xmlns=\"urn:d\"><p:x>"
			"<p:y p:k=\"1\">v</p:y><q/></p:x><z/></data>");
	assert_int_equal(run_doc(doc, "<filter><x><y/></x><z/></filter>",
				 &res, &why), CH_OK);
	assert_string_equal(res, "<p:x xmlns:p=\"urn:p\"><p:y p:k=\"1\">v"
			    "</p:y></p:x><z xmlns=\"urn:d\"/>");
	free(res);
	xmlFreeDoc(doc);
	doc = parse_doc("<data xmlns=\"urn:d\"><x xmlns=\"\"><y/></x></data>");
	assert_int_equal(run_doc(doc, "<filter><x/></filter>", &res, &why),
			 CH_OK);
	assert_string_equal(res, "<x xmlns=\"\"><y/></x>");
	free(res);
	xmlFreeDoc(doc);
	/* xml:lang, text escaping, comments and UTF-8 in a whole subtree. */
	expect("<m xmlns=\"urn:m\"><d xml:lang=\"fr\">&lt;&amp;&gt; \xc3\xa9"
	       "<!-- c --><?p q?></d><e/></m>",
	       "<filter><m><d/></m></filter>",
	       "<m xmlns=\"urn:m\"><d xml:lang=\"fr\">&lt;&amp;&gt; \xc3\xa9"
	       "<!-- c --><?p q?></d></m>");
}

/* ---- limits and errors ---- */

static void test_depth_limit(void **state)
{
	/* The deepest data ch_xml_parse allows under <data>, and the
	 * deepest filter that fits in <rpc><get><filter>. */
	char *data = nested(CH_XML_MAX_DEPTH - 1);
	char *spec = nested(CH_XML_MAX_DEPTH - 3);
	size_t n = strlen(spec) + 32;
	char *filter = malloc(n);

	(void)state;
	assert_non_null(filter);
	snprintf(filter, n, "<filter>%s</filter>", spec);
	expect(data, filter, data);
	free(filter);
	free(spec);
	free(data);
}

/* Filters and data built by hand, past what the parser lets through. */
static void test_depth_built(void **state)
{
	xmlDoc *fdoc = xmlNewDoc(BAD_CAST "1.0");
	xmlDoc *ddoc = xmlNewDoc(BAD_CAST "1.0");
	xmlNode *f, *d, *n;
	struct ch_buf b;
	const char *why;

	(void)state;
	f = xmlNewDocNode(fdoc, NULL, BAD_CAST "filter", NULL);
	xmlDocSetRootElement(fdoc, f);
	d = xmlNewDocNode(ddoc, NULL, BAD_CAST "data", NULL);
	xmlDocSetRootElement(ddoc, d);
	n = f;
	for (int i = 0; i < CH_FILTER_MAX_DEPTH; i++)
		n = xmlNewChild(n, NULL, BAD_CAST "a", NULL);
	n = d;
	for (int i = 0; i < 2 * CH_XML_MAX_DEPTH; i++)
		n = xmlNewChild(n, NULL, BAD_CAST "a", NULL);
	ch_buf_init(&b, BUF_MAX);
	/* Exactly at the limit: accepted; the 128th <a> is a selection
	 * node, so the data is copied whole from there: too deep to copy. */
	assert_int_equal(ch_filter_subtree(d, f, &b, &why), CH_ERR_LIMIT);
	assert_null(why);
	assert_int_equal(ch_buf_len(&b), 0);
	assert_unmarked(d);
	/* One deeper: refused as a filter. */
	for (n = f; xmlGetLastChild(n) != NULL; n = xmlGetLastChild(n))
		;
	assert_non_null(xmlNewChild(n, NULL, BAD_CAST "a", NULL));
	assert_int_equal(ch_filter_subtree(d, f, &b, &why), CH_ERR_INVAL);
	assert_string_equal(why, "the subtree filter nests elements too deep");
	assert_int_equal(ch_buf_len(&b), 0);
	assert_unmarked(d);
	/* why may be NULL. */
	assert_int_equal(ch_filter_subtree(d, f, &b, NULL), CH_ERR_INVAL);
	ch_buf_cleanup(&b);
	xmlFreeDoc(fdoc);
	xmlFreeDoc(ddoc);
}

static void test_bad_filter(void **state)
{
	(void)state;
	expect_inval(RFC_DATA, "<filter>users</filter>",
		     "a subtree filter holds elements, not text");
	expect_inval(RFC_DATA, "<filter><top/>x</filter>",
		     "a subtree filter holds elements, not text");
	expect_inval(RFC_DATA, "<filter><![CDATA[<top/>]]></filter>",
		     "a subtree filter holds elements, not text");
}

static void test_output_limit(void **state)
{
	xmlDoc *doc = data_doc(RFC_DATA);
	struct ch_rpc *rpc;
	struct ch_buf b;
	xmlNode *filter;
	const char *why;

	(void)state;
	rpc = filter_rpc("<filter><top/></filter>", &filter);
	ch_buf_init(&b, 64);
	assert_int_equal(ch_buf_puts(&b, "keep"), CH_OK);
	assert_int_equal(ch_filter_subtree(xmlDocGetRootElement(doc), filter,
					   &b, &why), CH_ERR_LIMIT);
	assert_string_equal(ch_buf_ptr(&b), "keep");
	assert_unmarked(doc->children);
	/* Appends after what is there. */
	ch_buf_cleanup(&b);
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_buf_puts(&b, "keep"), CH_OK);
	assert_int_equal(ch_filter_subtree(xmlDocGetRootElement(doc), filter,
					   &b, &why), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "keep" RFC_DATA);
	assert_int_equal(ch_filter_subtree(NULL, filter, &b, &why),
			 CH_ERR_INVAL);
	ch_buf_cleanup(&b);
	ch_rpc_free(rpc);
	xmlFreeDoc(doc);
}

/* Wide sibling sets: one pass per filter node, whatever the width. */
static void test_wide(void **state)
{
	enum { N = 20000 };
	struct ch_buf d;
	char want[128];
	const char *why;
	xmlDoc *doc;
	char *res;

	(void)state;
	ch_buf_init(&d, BUF_MAX);
	assert_int_equal(ch_buf_puts(&d, "<data><l xmlns=\"urn:l\">"), CH_OK);
	for (int i = 0; i < N; i++)
		assert_int_equal(ch_buf_printf(&d, "<e><k>%d</k><v>%d</v></e>",
					       i, i * 2), CH_OK);
	assert_int_equal(ch_buf_puts(&d, "</l></data>"), CH_OK);
	doc = parse_doc(ch_buf_ptr(&d));
	assert_int_equal(run_doc(doc, "<filter><l><e><k>19999</k><v/></e>"
				 "<e><k>7</k></e></l></filter>", &res, &why),
			 CH_OK);
	snprintf(want, sizeof(want), "<l xmlns=\"urn:l\"><e><k>7</k><v>14</v>"
		 "</e><e><k>19999</k><v>39998</v></e></l>");
	assert_string_equal(res, want);
	free(res);
	xmlFreeDoc(doc);
	ch_buf_cleanup(&d);
}

/* ---- ch_filter_type ---- */

static enum ch_filter_type type_of(const char *filter_xml, int *r)
{
	enum ch_filter_type t = 99;
	struct ch_rpc *rpc;
	xmlNode *filter;

	rpc = filter_rpc(filter_xml, &filter);
	*r = ch_filter_type(filter, &t);
	ch_rpc_free(rpc);
	return t;
}

static void test_filter_type(void **state)
{
	int r;

	(void)state;
	assert_int_equal(type_of("<filter/>", &r), CH_FILTER_SUBTREE);
	assert_int_equal(r, CH_OK);
	assert_int_equal(type_of("<filter type=\"subtree\"/>", &r),
			 CH_FILTER_SUBTREE);
	assert_int_equal(r, CH_OK);
	assert_int_equal(type_of("<filter type=\"xpath\" select=\"/a\"/>", &r),
			 CH_FILTER_XPATH);
	assert_int_equal(r, CH_OK);
	assert_int_equal(type_of("<filter xmlns:n=\"" NC "\" n:type=\"xpath\"/>",
				 &r), CH_FILTER_XPATH);
	assert_int_equal(r, CH_OK);
	assert_int_equal(type_of("<filter type=\"bogus\"/>", &r), 0);
	assert_int_equal(r, CH_ERR_INVAL);
	assert_int_equal(type_of("<filter type=\"subtree \"/>", &r), 0);
	assert_int_equal(r, CH_ERR_INVAL);
	assert_int_equal(type_of("<filter type=\"\"/>", &r), 0);
	assert_int_equal(r, CH_ERR_INVAL);
	/* Another namespace's type attribute is not ours. */
	assert_int_equal(type_of("<filter xmlns:o=\"urn:o\" o:type=\"x\"/>",
				 &r), CH_FILTER_SUBTREE);
	assert_int_equal(r, CH_OK);
	assert_int_equal(ch_filter_type(NULL, NULL), CH_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_6_4_1_everything),
		cmocka_unit_test(test_rfc_6_4_2_empty_filter),
		cmocka_unit_test(test_rfc_6_4_3_users),
		cmocka_unit_test(test_rfc_6_4_4_names),
		cmocka_unit_test(test_rfc_6_4_5_one_user),
		cmocka_unit_test(test_rfc_6_4_6_user_elements),
		cmocka_unit_test(test_rfc_6_4_7_multiple_subtrees),
		cmocka_unit_test(test_rfc_6_4_8_attribute_naming),
		cmocka_unit_test(test_namespace_selects),
		cmocka_unit_test(test_namespace_wildcard),
		cmocka_unit_test(test_attribute_match),
		cmocka_unit_test(test_content_match_and),
		cmocka_unit_test(test_content_whitespace),
		cmocka_unit_test(test_comments_ignored),
		cmocka_unit_test(test_mixed_content),
		cmocka_unit_test(test_multiple_top_level),
		cmocka_unit_test(test_no_duplicates),
		cmocka_unit_test(test_selects_nothing),
		cmocka_unit_test(test_ns_declarations),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_depth_built),
		cmocka_unit_test(test_bad_filter),
		cmocka_unit_test(test_output_limit),
		cmocka_unit_test(test_wide),
		cmocka_unit_test(test_filter_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
