/* test_msg.c - NETCONF messages: safe XML, hello, rpc, replies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/nc/msg.h"

#define NS CH_NC_NS
#define BUF_MAX (1u << 20)

static const char *const both_caps[] = { CH_NC_BASE10, CH_NC_BASE11 };

/* ---- helpers ---- */

static int parse_str(const char *xml)
{
	xmlDoc *doc = (xmlDoc *)1;
	int r = ch_xml_parse(xml, strlen(xml), &doc);

	if (r == CH_OK)
		xmlFreeDoc(doc);
	else
		assert_null(doc);
	return r;
}

static int hello_str(const char *xml, struct ch_hello *h)
{
	return ch_hello_parse(xml, strlen(xml), h);
}

static struct ch_rpc *rpc_ok(const char *xml)
{
	struct ch_rpc *rpc = NULL;

	assert_int_equal(ch_rpc_parse(xml, strlen(xml), &rpc), CH_OK);
	assert_non_null(rpc);
	return rpc;
}

/* Builds with ch_rpc_build and compares the whole output. */
static void build_expect(uint32_t id, const char *op, const char *want)
{
	struct ch_buf b;
	const char *why = "unset";

	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_rpc_build(&b, id, op, &why), CH_OK);
	assert_null(why);
	assert_string_equal(ch_buf_ptr(&b), want);
	ch_buf_cleanup(&b);
}

/* Expects ch_rpc_build to refuse with why, leaving the buffer alone. */
static void build_refuse(const char *op, const char *want_why)
{
	struct ch_buf b;
	const char *why = NULL;

	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_buf_puts(&b, "keep"), CH_OK);
	assert_int_equal(ch_rpc_build(&b, 1, op, &why), CH_ERR_PROTO);
	assert_non_null(why);
	assert_string_equal(why, want_why);
	assert_string_equal(ch_buf_ptr(&b), "keep");
	ch_buf_cleanup(&b);
}

static char *nested(int depth)
{
	size_t n = (size_t)depth * 8 + 1;
	char *s = malloc(n), *p = s;

	assert_non_null(s);
	for (int i = 0; i < depth; i++)
		p += snprintf(p, n - (size_t)(p - s), "<a>");
	for (int i = 0; i < depth; i++)
		p += snprintf(p, n - (size_t)(p - s), "</a>");
	return s;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- ch_xml_escape ---- */

static void test_escape(void **state)
{
	struct ch_buf b;
	const char in[] = "a&b<c>d\"e'f\tg\nh\ri\x01j\0k\xc3\xa9l\xffm"
			  "\xed\xa0\x80n\xef\xbf\xbeo\xf0\x9f\x98\x80";

	(void)state;
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_xml_escape(&b, in, sizeof(in) - 1), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"a&amp;b&lt;c&gt;d&quot;e'f&#9;g&#10;h&#13;i\xef\xbf\xbdj"
		"\xef\xbf\xbdk\xc3\xa9l\xef\xbf\xbdm"
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdn"
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdo\xf0\x9f\x98\x80");
	ch_buf_reset(&b);
	assert_int_equal(ch_xml_escape(&b, "", 0), CH_OK);
	assert_int_equal(ch_buf_len(&b), 0);
	/* Truncated sequence at the end. */
	assert_int_equal(ch_xml_escape(&b, "x\xe2\x82", 3), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "x\xef\xbf\xbd\xef\xbf\xbd");
	ch_buf_cleanup(&b);
}

/* ---- ch_xml_parse ---- */

static void test_parse_basic(void **state)
{
	(void)state;
	assert_int_equal(parse_str("<a/>"), CH_OK);
	assert_int_equal(parse_str("<?xml version=\"1.0\"?>\n<a>x</a>\n"),
			 CH_OK);
	assert_int_equal(parse_str(""), CH_ERR_PROTO);
	assert_int_equal(parse_str("<a>"), CH_ERR_PROTO);
	assert_int_equal(parse_str("<a/><b/>"), CH_ERR_PROTO);
	assert_int_equal(parse_str("text"), CH_ERR_PROTO);
	assert_int_equal(parse_str("<a>&undefined;</a>"), CH_ERR_PROTO);
	/* Namespace errors count: NETCONF needs namespace-well-formed XML. */
	assert_int_equal(parse_str("<a><p:b/></a>"), CH_ERR_PROTO);
	/* Bad UTF-8, and a declared non-UTF-8 encoding is not honoured. */
	assert_int_equal(parse_str("<a>\xff</a>"), CH_ERR_PROTO);
	assert_int_equal(parse_str("<a>\xc0\xaf</a>"), CH_ERR_PROTO);
	assert_int_equal(parse_str("<?xml version=\"1.0\" encoding="
				   "\"ISO-8859-1\"?><a>\xe9</a>"),
			 CH_ERR_PROTO);
	assert_int_equal(parse_str("<a>\xc3\xa9</a>"), CH_OK);
}

/* A document of exactly CH_XML_MAX_SIZE bytes: <a><b>xxx…</b>…</a>.
 * (libxml2 refuses any single text run over 10 MB on its own.) */
static char *max_doc(size_t n)
{
	char *big = malloc(n + 1), *p = big, *end = big + n - 4;

	assert_non_null(big);
	memcpy(p, "<a>", 3);
	p += 3;
	while (end - p >= 1007) {
		memcpy(p, "<b>", 3);
		memset(p + 3, 'x', 1000);
		memcpy(p + 1003, "</b>", 4);
		p += 1007;
	}
	memset(p, ' ', (size_t)(end - p));
	memcpy(end, "</a>", 4);
	big[n] = '\0';
	return big;
}

static void test_parse_size_limit(void **state)
{
	size_t n = CH_XML_MAX_SIZE;
	char *big = max_doc(n + 1);
	xmlDoc *doc = (xmlDoc *)1;

	(void)state;
	assert_int_equal(ch_xml_parse(big, n + 1, &doc), CH_ERR_LIMIT);
	assert_null(doc);
	free(big);
	big = max_doc(n);
	assert_int_equal(ch_xml_parse(big, n, &doc), CH_OK);
	assert_non_null(doc);
	xmlFreeDoc(doc);
	free(big);
}

static void test_parse_dtd_refused(void **state)
{
	(void)state;
	assert_int_equal(parse_str("<!DOCTYPE a><a/>"), CH_ERR_PROTO);
	assert_int_equal(parse_str("<!DOCTYPE a [<!ELEMENT a EMPTY>]><a/>"),
			 CH_ERR_PROTO);
	assert_int_equal(parse_str("<!DOCTYPE a SYSTEM \"a.dtd\"><a/>"),
			 CH_ERR_PROTO);
	assert_int_equal(parse_str("<!DOCTYPE a PUBLIC \"-//x//y\" "
				   "\"http://127.0.0.1:9/x.dtd\"><a/>"),
			 CH_ERR_PROTO);
	assert_int_equal(parse_str("<?xml version=\"1.0\"?>\n"
				   "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>"),
			 CH_ERR_PROTO);
}

/* The classic: lol9 expands to 10^9 "lol"s (3 GB). */
static char *billion_laughs(void)
{
	struct ch_buf b;

	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_buf_puts(&b, "<?xml version=\"1.0\"?>\n"
				     "<!DOCTYPE lolz [\n"
				     " <!ENTITY lol \"lol\">\n"), CH_OK);
	for (int i = 1; i <= 9; i++) {
		assert_int_equal(ch_buf_printf(&b, " <!ENTITY lol%d \"", i),
				 CH_OK);
		for (int j = 0; j < 10; j++) {
			if (i == 1)
				assert_int_equal(ch_buf_puts(&b, "&lol;"), CH_OK);
			else
				assert_int_equal(ch_buf_printf(&b, "&lol%d;",
							       i - 1), CH_OK);
		}
		assert_int_equal(ch_buf_puts(&b, "\">\n"), CH_OK);
	}
	assert_int_equal(ch_buf_puts(&b, "]>\n<hello xmlns=\"" NS "\">"
				     "<capabilities><capability>&lol9;"
				     "</capability></capabilities></hello>"),
			 CH_OK);
	return ch_buf_take(&b);
}

static void test_billion_laughs(void **state)
{
	char *lol = billion_laughs();
	struct ch_hello h;
	struct ch_rpc *rpc = (struct ch_rpc *)1;
	double t0 = now();

	(void)state;
	assert_non_null(strstr(lol, "<!ENTITY lol9 \"&lol8;&lol8;"));
	for (int i = 0; i < 100; i++)
		assert_int_equal(parse_str(lol), CH_ERR_PROTO);
	assert_int_equal(hello_str(lol, &h), CH_ERR_PROTO);
	assert_int_equal(h.ncaps, 0);
	assert_null(h.caps);
	assert_int_equal(ch_rpc_parse(lol, strlen(lol), &rpc), CH_ERR_PROTO);
	assert_null(rpc);
	/* An expansion would take seconds and gigabytes, even once. */
	assert_true(now() - t0 < 1.0);
	free(lol);
}

static void test_xxe(void **state)
{
	static const char xxe_hello[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE hello [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
		"<hello xmlns=\"" NS "\"><capabilities>"
		"<capability>" CH_NC_BASE10 "</capability>"
		"<capability>&x;</capability></capabilities>"
		"<session-id>1</session-id></hello>";
	static const char xxe_rpc[] =
		"<!DOCTYPE rpc [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<rpc message-id=\"&x;\" xmlns=\"" NS "\"><get>&x;</get></rpc>";
	struct ch_hello h;
	struct ch_rpc *rpc = NULL;
	struct ch_reply rep;
	struct ch_buf b;
	const char *why = NULL;

	(void)state;
	assert_int_equal(hello_str(xxe_hello, &h), CH_ERR_PROTO);
	assert_int_equal(h.ncaps, 0);
	assert_int_equal(ch_rpc_parse(xxe_rpc, strlen(xxe_rpc), &rpc),
			 CH_ERR_PROTO);
	assert_null(rpc);
	assert_int_equal(ch_reply_parse(xxe_rpc, strlen(xxe_rpc), &rep),
			 CH_ERR_PROTO);
	assert_null(rep.message_id);
	/* As an operation the DOCTYPE lands inside <rpc>: refused too. */
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_rpc_build(&b, 1, xxe_rpc, &why), CH_ERR_PROTO);
	assert_int_equal(ch_rpc_build(&b, 1, "<get>&x;</get>", &why),
			 CH_ERR_PROTO);
	assert_int_equal(ch_buf_len(&b), 0);
	assert_null(strstr(ch_buf_ptr(&b), "root:"));
	ch_buf_cleanup(&b);
}

static void test_depth(void **state)
{
	char *ok = nested(CH_XML_MAX_DEPTH);
	char *deep = nested(CH_XML_MAX_DEPTH + 1);
	char *deeper = nested(300);
	char wide[] = "<a><b><c/></b><b><c><d/></c></b>text<e/></a>";

	(void)state;
	assert_int_equal(parse_str(ok), CH_OK);
	assert_int_equal(parse_str(deep), CH_ERR_PROTO);
	assert_int_equal(parse_str(deeper), CH_ERR_PROTO);
	assert_int_equal(parse_str(wide), CH_OK);
	free(ok);
	free(deep);
	free(deeper);
}

/* Depth counts elements only: text under the deepest one is fine. */
static void test_depth_text_leaf(void **state)
{
	char *s = nested(CH_XML_MAX_DEPTH);
	size_t n = strlen(s);
	char *t = malloc(n + 16);
	size_t open = (size_t)CH_XML_MAX_DEPTH * 3;

	(void)state;
	memcpy(t, s, open);
	memcpy(t + open, "leaf<!--c-->", 12);
	memcpy(t + open + 12, s + open, n - open + 1);
	assert_int_equal(parse_str(t), CH_OK);
	free(s);
	free(t);
}

/* libxml2 must not print anything itself. */
static void test_parse_silent(void **state)
{
	FILE *tmp = tmpfile();
	int saved;
	long size;

	(void)state;
	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	parse_str("<a>");
	parse_str("<a>\xff</a>");
	parse_str("<a><p:b/></a>");
	parse_str("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>");
	parse_str("<a b='1' b='2'/>");
	parse_str("<a>]]></a>");
	build_refuse("</rpc><rpc>", "operation is not well-formed XML");
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	fseek(tmp, 0, SEEK_END);
	size = ftell(tmp);
	fclose(tmp);
	assert_int_equal(size, 0);
}

/* ---- hello ---- */

static void test_hello_build(void **state)
{
	static const char *const caps[] = {
		CH_NC_BASE10, CH_NC_BASE11,
		"urn:example:m?module=m&revision=2020-01-01",
	};
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_hello_build(&b, caps, 3, 0), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		"<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">"
		"<capabilities>"
		"<capability>urn:ietf:params:netconf:base:1.0</capability>"
		"<capability>urn:ietf:params:netconf:base:1.1</capability>"
		"<capability>urn:example:m?module=m&amp;revision=2020-01-01"
		"</capability>"
		"</capabilities></hello>");
	ch_buf_reset(&b);
	assert_int_equal(ch_hello_build(&b, caps, 1, 4294967295u), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		"<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">"
		"<capabilities>"
		"<capability>urn:ietf:params:netconf:base:1.0</capability>"
		"</capabilities><session-id>4294967295</session-id></hello>");
	ch_buf_cleanup(&b);
}

static void test_hello_build_zero_caps(void **state)
{
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_hello_build(&b, NULL, 0, 7), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		"<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">"
		"<capabilities></capabilities>"
		"<session-id>7</session-id></hello>");
	ch_buf_cleanup(&b);
}

static void test_hello_build_limit(void **state)
{
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, 64);
	assert_int_equal(ch_buf_puts(&b, "prefix"), CH_OK);
	assert_int_equal(ch_hello_build(&b, both_caps, 2, 1), CH_ERR_LIMIT);
	assert_string_equal(ch_buf_ptr(&b), "prefix");
	ch_buf_cleanup(&b);
}

static void test_hello_parse_prefixed(void **state)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<nc:hello xmlns:nc=\"" NS "\">\n"
		"  <nc:capabilities>\n"
		"    <nc:capability>\n"
		"      urn:ietf:params:netconf:base:1.1\n"
		"    </nc:capability>\n"
		"    <nc:capability>\turn:ietf:params:netconf:capability:"
		"candidate:1.0 </nc:capability>\n"
		"    <nc:capability>urn:ietf:params:xml:ns:yang:ietf-interfaces"
		"?module=ietf-interfaces&amp;revision=2018-02-20"
		"</nc:capability>\n"
		"    <!-- a comment -->\n"
		"    <nc:capability>   </nc:capability>\n"
		"    <nc:other>ignored</nc:other>\n"
		"    <x:capability xmlns:x=\"urn:x\">not ours</x:capability>\n"
		"  </nc:capabilities>\n"
		"  <nc:session-id>\n 4711 \n</nc:session-id>\n"
		"  <vendor xmlns=\"urn:vendor\"><x/></vendor>\n"
		"</nc:hello>\n";
	struct ch_hello h;

	(void)state;
	assert_int_equal(hello_str(xml, &h), CH_OK);
	assert_int_equal(h.ncaps, 3);
	assert_string_equal(h.caps[0], CH_NC_BASE11);
	assert_string_equal(h.caps[1],
		"urn:ietf:params:netconf:capability:candidate:1.0");
	assert_string_equal(h.caps[2],
		"urn:ietf:params:xml:ns:yang:ietf-interfaces"
		"?module=ietf-interfaces&revision=2018-02-20");
	assert_int_equal(h.has_session_id, 1);
	assert_int_equal(h.session_id, 4711);
	ch_hello_cleanup(&h);
	assert_int_equal(h.ncaps, 0);
	assert_null(h.caps);
	ch_hello_cleanup(&h);	/* twice is harmless */
}

static void test_hello_parse_no_session_id(void **state)
{
	struct ch_hello h;

	(void)state;
	assert_int_equal(hello_str("<hello xmlns=\"" NS "\"><capabilities>"
				   "<capability>a</capability>"
				   "</capabilities></hello>", &h), CH_OK);
	assert_int_equal(h.ncaps, 1);
	assert_string_equal(h.caps[0], "a");
	assert_int_equal(h.has_session_id, 0);
	assert_int_equal(h.session_id, 0);
	ch_hello_cleanup(&h);
}

static void test_hello_parse_wrong_root(void **state)
{
	struct ch_hello h;

	(void)state;
	assert_int_equal(hello_str("<hello><capabilities/></hello>", &h),
			 CH_ERR_PROTO);
	assert_int_equal(hello_str("<hello xmlns=\"urn:other\"/>", &h),
			 CH_ERR_PROTO);
	assert_int_equal(hello_str("<rpc xmlns=\"" NS "\"/>", &h),
			 CH_ERR_PROTO);
	assert_int_equal(hello_str("<hello xmlns=\"" NS "\">", &h),
			 CH_ERR_PROTO);
	assert_int_equal(hello_str("<hello xmlns=\"" NS "\"><capabilities>"
				   "<capability>a<b/></capability>"
				   "</capabilities></hello>", &h),
			 CH_ERR_PROTO);
	assert_int_equal(hello_str("<hello xmlns=\"" NS "\"><capabilities>"
				   "<capability>a</capability></capabilities>"
				   "<capabilities/></hello>", &h),
			 CH_ERR_PROTO);
	assert_int_equal(h.ncaps, 0);
	assert_null(h.caps);
}

static int hello_sid(const char *sid, struct ch_hello *h)
{
	char xml[512];

	snprintf(xml, sizeof(xml),
		 "<hello xmlns=\"" NS "\"><capabilities><capability>"
		 CH_NC_BASE10 "</capability></capabilities>"
		 "<session-id>%s</session-id></hello>", sid);
	return hello_str(xml, h);
}

static void test_hello_session_id(void **state)
{
	static const char *const bad[] = {
		"0", "00", "-1", "+1", "1 2", "1\t2", "4294967296",
		"99999999999999999999999", "", "   ", "abc", "0x10", "1.0",
		"1e3", "&#x661;", "12a", "<x/>",
	};
	struct ch_hello h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hello_sid(bad[i], &h) != CH_ERR_PROTO)
			fail_msg("session-id \"%s\" accepted", bad[i]);
		assert_int_equal(h.has_session_id, 0);
		assert_int_equal(h.session_id, 0);
		assert_int_equal(h.ncaps, 0);
	}
	assert_int_equal(hello_sid("4294967295", &h), CH_OK);
	assert_int_equal(h.session_id, 4294967295u);
	ch_hello_cleanup(&h);
	assert_int_equal(hello_sid("1", &h), CH_OK);
	assert_int_equal(h.session_id, 1);
	ch_hello_cleanup(&h);
	assert_int_equal(hello_sid(" \n42\n ", &h), CH_OK);
	assert_int_equal(h.session_id, 42);
	ch_hello_cleanup(&h);
	assert_int_equal(hello_sid("007", &h), CH_OK);
	assert_int_equal(h.session_id, 7);
	ch_hello_cleanup(&h);
	assert_int_equal(hello_sid("0000000000004294967295", &h), CH_OK);
	assert_int_equal(h.session_id, 4294967295u);
	ch_hello_cleanup(&h);
}

static void test_hello_duplicate_session_id(void **state)
{
	struct ch_hello h;

	(void)state;
	assert_int_equal(hello_str("<hello xmlns=\"" NS "\"><capabilities>"
				   "<capability>" CH_NC_BASE10 "</capability>"
				   "</capabilities><session-id>1</session-id>"
				   "<session-id>1</session-id></hello>", &h),
			 CH_ERR_PROTO);
	assert_int_equal(h.has_session_id, 0);
}

static char *hello_with_caps(size_t ncaps, size_t caplen)
{
	struct ch_buf b;
	char *cap = malloc(caplen + 1);

	assert_non_null(cap);
	memset(cap, 'c', caplen);
	cap[caplen] = '\0';
	ch_buf_init(&b, 64u << 20);
	assert_int_equal(ch_buf_puts(&b, "<hello xmlns=\"" NS "\">"
				     "<capabilities>"), CH_OK);
	for (size_t i = 0; i < ncaps; i++)
		assert_int_equal(ch_buf_printf(&b, "<capability> %s "
					       "</capability>", cap), CH_OK);
	assert_int_equal(ch_buf_puts(&b, "</capabilities></hello>"), CH_OK);
	free(cap);
	return ch_buf_take(&b);
}

static void test_hello_limits(void **state)
{
	struct ch_hello h;
	char *s;

	(void)state;
	s = hello_with_caps(CH_HELLO_MAX_CAPS, 8);
	assert_int_equal(hello_str(s, &h), CH_OK);
	assert_int_equal(h.ncaps, CH_HELLO_MAX_CAPS);
	assert_string_equal(h.caps[CH_HELLO_MAX_CAPS - 1], "cccccccc");
	ch_hello_cleanup(&h);
	free(s);

	s = hello_with_caps(CH_HELLO_MAX_CAPS + 1, 8);
	assert_int_equal(hello_str(s, &h), CH_ERR_PROTO);
	assert_int_equal(h.ncaps, 0);
	free(s);

	s = hello_with_caps(1, CH_HELLO_MAX_CAP_LEN);
	assert_int_equal(hello_str(s, &h), CH_OK);
	assert_int_equal(strlen(h.caps[0]), CH_HELLO_MAX_CAP_LEN);
	ch_hello_cleanup(&h);
	free(s);

	s = hello_with_caps(1, CH_HELLO_MAX_CAP_LEN + 1);
	assert_int_equal(hello_str(s, &h), CH_ERR_PROTO);
	free(s);
}

/* Builder and parser agree, including awkward characters. */
static void test_hello_roundtrip(void **state)
{
	static const char *const caps[] = {
		CH_NC_BASE11, "urn:a?x=<1>&y=\"2\"", "in ner\tspace\r\nx",
		"\xc3\xa9t\xc3\xa9",
	};
	struct ch_buf b;
	struct ch_hello h;

	(void)state;
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_hello_build(&b, caps, 4, 99), CH_OK);
	assert_int_equal(ch_hello_parse(ch_buf_ptr(&b), ch_buf_len(&b), &h),
			 CH_OK);
	assert_int_equal(h.ncaps, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(h.caps[i], caps[i]);
	assert_int_equal(h.session_id, 99);
	ch_hello_cleanup(&h);
	ch_buf_cleanup(&b);
}

/* ---- negotiation ---- */

static void test_negotiate(void **state)
{
	static char base10[] = CH_NC_BASE10, base11[] = CH_NC_BASE11;
	static char other[] = "urn:ietf:params:netconf:capability:startup:1.0";
	static char base11q[] = CH_NC_BASE11 "?x=1";
	static char *only10[] = { other, base10 };
	static char *only11[] = { base11, other };
	static char *both[] = { base10, base11 };
	static char *none[] = { other, base11q };
	static const struct {
		char **caps;
		size_t ncaps;
		int has_sid, is_server;
		int r, chunked;
		const char *why;
	} cases[] = {
		/* we are the client: the server must send a session-id */
		{ only10, 2, 1, 0, CH_OK, 0, NULL },
		{ only11, 2, 1, 0, CH_OK, 1, NULL },
		{ both, 2, 1, 0, CH_OK, 1, NULL },
		{ none, 2, 1, 0, CH_ERR_PROTO, 0,
		  "no common NETCONF base version" },
		{ NULL, 0, 1, 0, CH_ERR_PROTO, 0,
		  "no common NETCONF base version" },
		{ both, 2, 0, 0, CH_ERR_PROTO, 0,
		  "server hello has no session-id" },
		{ only10, 2, 0, 0, CH_ERR_PROTO, 0,
		  "server hello has no session-id" },
		/* we are the server: the client must not */
		{ only10, 2, 0, 1, CH_OK, 0, NULL },
		{ only11, 2, 0, 1, CH_OK, 1, NULL },
		{ both, 2, 0, 1, CH_OK, 1, NULL },
		{ none, 2, 0, 1, CH_ERR_PROTO, 0,
		  "no common NETCONF base version" },
		{ both, 2, 1, 1, CH_ERR_PROTO, 0,
		  "client hello has a session-id" },
		{ only11, 2, 1, 1, CH_ERR_PROTO, 0,
		  "client hello has a session-id" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ch_hello h = {
			.caps = cases[i].caps, .ncaps = cases[i].ncaps,
			.session_id = cases[i].has_sid ? 5 : 0,
			.has_session_id = cases[i].has_sid,
		};
		int chunked = -1;
		const char *why = "unset";

		assert_int_equal(ch_hello_negotiate(&h, cases[i].is_server,
						    &chunked, &why),
				 cases[i].r);
		assert_int_equal(chunked, cases[i].chunked);
		if (cases[i].why)
			assert_string_equal(why, cases[i].why);
		else
			assert_null(why);
		/* why is optional */
		assert_int_equal(ch_hello_negotiate(&h, cases[i].is_server,
						    &chunked, NULL),
				 cases[i].r);
	}
}

/* ---- rpc parse and replies ---- */

#define RFC_RPC \
	"<rpc message-id=\"101\"\n" \
	"     xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"\n" \
	"     xmlns:ex=\"http://example.net/content/1.0\"\n" \
	"     ex:user-id=\"fred\">\n" \
	"  <get/>\n" \
	"</rpc>"
#define RFC_REPLY_OPEN \
	"<rpc-reply xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\" " \
	"xmlns:ex=\"http://example.net/content/1.0\" message-id=\"101\" " \
	"ex:user-id=\"fred\">"

static void test_rpc_parse_rfc_example(void **state)
{
	struct ch_rpc *rpc = rpc_ok(RFC_RPC);
	struct ch_buf b;
	struct ch_reply rep;

	(void)state;
	assert_string_equal(rpc->message_id, "101");
	assert_string_equal(rpc->op_name, "get");
	assert_string_equal(rpc->op_ns, NS);
	assert_string_equal((const char *)rpc->rpc->name, "rpc");
	assert_ptr_equal(rpc->op->parent, rpc->rpc);

	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_reply_ok(&b, rpc), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
			    RFC_REPLY_OPEN "<ok/></rpc-reply>");
	assert_int_equal(ch_reply_parse(ch_buf_ptr(&b), ch_buf_len(&b), &rep),
			 CH_OK);
	assert_string_equal(rep.message_id, "101");
	assert_int_equal(rep.is_ok, 1);
	ch_reply_cleanup(&rep);

	ch_buf_reset(&b);
	assert_int_equal(ch_reply_data(&b, rpc, "<top xmlns=\"urn:t\"/>", 20),
			 CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
			    RFC_REPLY_OPEN "<data><top xmlns=\"urn:t\"/></data>"
			    "</rpc-reply>");
	ch_buf_reset(&b);
	assert_int_equal(ch_reply_data(&b, rpc, NULL, 0), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
			    RFC_REPLY_OPEN "<data></data></rpc-reply>");
	ch_buf_cleanup(&b);
	ch_rpc_free(rpc);
}

static void test_rpc_parse_op(void **state)
{
	struct ch_rpc *rpc = rpc_ok(
		"<rpc xmlns=\"" NS "\" message-id=\"m\">\n"
		"  <!-- comment first -->\n  <?pi x?>\n"
		"  <ex:lock xmlns:ex=\"urn:ex\"><target/></ex:lock>\n"
		"  <get/>\n</rpc>");

	(void)state;
	assert_string_equal(rpc->op_name, "lock");
	assert_string_equal(rpc->op_ns, "urn:ex");
	assert_string_equal(rpc->message_id, "m");
	ch_rpc_free(rpc);

	rpc = rpc_ok("<rpc xmlns=\"" NS "\" message-id=\"1\">  </rpc>");
	assert_null(rpc->op);
	assert_null(rpc->op_name);
	assert_null(rpc->op_ns);
	ch_rpc_free(rpc);

	rpc = rpc_ok("<rpc xmlns=\"" NS "\"><x xmlns=\"\"/></rpc>");
	assert_string_equal(rpc->op_name, "x");
	assert_null(rpc->op_ns);
	ch_rpc_free(rpc);
	ch_rpc_free(NULL);
}

static void test_rpc_parse_refused(void **state)
{
	static const char *const bad[] = {
		"<rpc><get/></rpc>",
		"<rpc xmlns=\"urn:other\"><get/></rpc>",
		"<hello xmlns=\"" NS "\"/>",
		"<rpc-reply xmlns=\"" NS "\"/>",
		"<rpc xmlns=\"" NS "\"><get></rpc>",
		"<rpc xmlns=\"" NS "\" message-id=\"1\" message-id=\"2\"/>",
		"",
	};
	struct ch_rpc *rpc;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rpc = (struct ch_rpc *)1;
		assert_int_equal(ch_rpc_parse(bad[i], strlen(bad[i]), &rpc),
				 CH_ERR_PROTO);
		assert_null(rpc);
	}
}

static void test_rpc_missing_message_id(void **state)
{
	static const struct ch_rpc_error e = {
		.type = "rpc", .tag = "missing-attribute",
		.info_xml = "<bad-attribute>message-id</bad-attribute>"
			    "<bad-element>rpc</bad-element>",
	};
	/* A namespaced message-id is not the message-id, but is echoed. */
	struct ch_rpc *rpc = rpc_ok("<rpc xmlns=\"" NS "\" xmlns:x=\"urn:x\" "
				    "x:message-id=\"9\"><get/></rpc>");
	struct ch_buf b;
	struct ch_reply rep;

	(void)state;
	assert_null(rpc->message_id);
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_reply_error(&b, rpc, &e), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"<rpc-reply xmlns=\"" NS "\" xmlns:x=\"urn:x\" "
		"x:message-id=\"9\"><rpc-error>"
		"<error-type>rpc</error-type>"
		"<error-tag>missing-attribute</error-tag>"
		"<error-severity>error</error-severity>"
		"<error-info><bad-attribute>message-id</bad-attribute>"
		"<bad-element>rpc</bad-element></error-info>"
		"</rpc-error></rpc-reply>");
	ch_buf_reset(&b);
	assert_int_equal(ch_reply_error(&b, NULL, &e), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"<rpc-reply xmlns=\"" NS "\"><rpc-error>"
		"<error-type>rpc</error-type>"
		"<error-tag>missing-attribute</error-tag>"
		"<error-severity>error</error-severity>"
		"<error-info><bad-attribute>message-id</bad-attribute>"
		"<bad-element>rpc</bad-element></error-info>"
		"</rpc-error></rpc-reply>");
	assert_int_equal(ch_reply_parse(ch_buf_ptr(&b), ch_buf_len(&b), &rep),
			 CH_OK);
	assert_null(rep.message_id);
	assert_int_equal(rep.has_error, 1);
	assert_string_equal(rep.error_tag, "missing-attribute");
	assert_null(rep.error_message);
	ch_reply_cleanup(&rep);
	/* ok and data need the rpc */
	assert_int_equal(ch_reply_ok(&b, NULL), CH_ERR_INVAL);
	assert_int_equal(ch_reply_data(&b, NULL, "", 0), CH_ERR_INVAL);
	ch_buf_cleanup(&b);
	ch_rpc_free(rpc);
}

static void test_reply_error_full(void **state)
{
	static const struct ch_rpc_error e = {
		.type = "application", .tag = "invalid-value",
		.severity = "warning", .app_tag = "too-big",
		.path = "/t:top/t:name[.=\"a&b\"]",
		.message = "value <a> is \"bad\"",
		.info_xml = "<t:x xmlns:t=\"urn:t\"/>",
	};
	static const struct ch_rpc_error bad1 = { .tag = "x" };
	static const struct ch_rpc_error bad2 = { .type = "rpc" };
	struct ch_rpc *rpc = rpc_ok("<rpc xmlns=\"" NS "\" "
				    "message-id=\"a&amp;b&quot;&lt;&#10;\"/>");
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_reply_error(&b, rpc, &e), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"<rpc-reply xmlns=\"" NS "\" "
		"message-id=\"a&amp;b&quot;&lt;&#10;\"><rpc-error>"
		"<error-type>application</error-type>"
		"<error-tag>invalid-value</error-tag>"
		"<error-severity>warning</error-severity>"
		"<error-app-tag>too-big</error-app-tag>"
		"<error-path>/t:top/t:name[.=&quot;a&amp;b&quot;]</error-path>"
		"<error-message xml:lang=\"en\">value &lt;a&gt; is "
		"&quot;bad&quot;</error-message>"
		"<error-info><t:x xmlns:t=\"urn:t\"/></error-info>"
		"</rpc-error></rpc-reply>");
	ch_buf_reset(&b);
	assert_int_equal(ch_reply_error(&b, rpc, &bad1), CH_ERR_INVAL);
	assert_int_equal(ch_reply_error(&b, rpc, &bad2), CH_ERR_INVAL);
	assert_int_equal(ch_reply_error(&b, rpc, NULL), CH_ERR_INVAL);
	assert_int_equal(ch_buf_len(&b), 0);
	ch_buf_cleanup(&b);
	ch_rpc_free(rpc);
}

static void test_reply_message_only(void **state)
{
	static const struct ch_rpc_error e = {
		.type = "protocol", .tag = "operation-not-supported",
		.message = "no such operation",
	};
	struct ch_rpc *rpc = rpc_ok("<rpc message-id=\"3\" xmlns=\"" NS "\">"
				    "<x:frob xmlns:x=\"urn:x\"/></rpc>");
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_reply_error(&b, rpc, &e), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"<rpc-reply xmlns=\"" NS "\" message-id=\"3\"><rpc-error>"
		"<error-type>protocol</error-type>"
		"<error-tag>operation-not-supported</error-tag>"
		"<error-severity>error</error-severity>"
		"<error-message xml:lang=\"en\">no such operation"
		"</error-message></rpc-error></rpc-reply>");
	ch_buf_cleanup(&b);
	ch_rpc_free(rpc);
}

/* Prefixed <rpc>, a foreign default namespace, xml: attributes. */
static void test_reply_namespaces(void **state)
{
	struct ch_rpc *rpc = rpc_ok(
		"<nc:rpc xmlns:nc=\"" NS "\" xmlns=\"urn:other\" "
		"xmlns:a=\"urn:a&amp;\" xmlns:b=\"urn:q?a=1&#38;b=2\" "
		"message-id=\"7\" a:tag='x\"y' b:t=\"\" "
		"xml:lang=\"de\"><get/></nc:rpc>");
	struct ch_buf b;
	struct ch_reply rep;

	(void)state;
	assert_string_equal(rpc->op_ns, "urn:other");
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_reply_ok(&b, rpc), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"<rpc-reply xmlns=\"" NS "\" xmlns:nc=\"" NS "\" "
		"xmlns:a=\"urn:a&amp;\" xmlns:b=\"urn:q?a=1&amp;b=2\" "
		"message-id=\"7\" a:tag=\"x&quot;y\" b:t=\"\" "
		"xml:lang=\"de\"><ok/></rpc-reply>");
	assert_int_equal(ch_reply_parse(ch_buf_ptr(&b), ch_buf_len(&b), &rep),
			 CH_OK);
	assert_string_equal(rep.message_id, "7");
	assert_int_equal(rep.is_ok, 1);
	ch_reply_cleanup(&rep);
	ch_buf_cleanup(&b);
	ch_rpc_free(rpc);
}

static void test_reply_limit_keeps_buffer(void **state)
{
	struct ch_rpc *rpc = rpc_ok(RFC_RPC);
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, 100);
	assert_int_equal(ch_buf_puts(&b, "abc"), CH_OK);
	assert_int_equal(ch_reply_ok(&b, rpc), CH_ERR_LIMIT);
	assert_int_equal(ch_reply_data(&b, rpc, "<x/>", 4), CH_ERR_LIMIT);
	assert_string_equal(ch_buf_ptr(&b), "abc");
	ch_buf_cleanup(&b);
	ch_rpc_free(rpc);
}

/* ---- rpc build ---- */

#define RPC_OPEN(id) "<rpc xmlns=\"" NS "\" message-id=\"" id "\">"

static void test_rpc_build_plain(void **state)
{
	(void)state;
	build_expect(1, "<get/>", RPC_OPEN("1") "<get/></rpc>");
	build_expect(4294967295u,
		     "<get-config><source><running/></source></get-config>",
		     RPC_OPEN("4294967295") "<get-config><source><running/>"
		     "</source></get-config></rpc>");
	build_expect(0, "<ex:op xmlns:ex=\"urn:ex\" a=\"&lt;\"/>",
		     RPC_OPEN("0") "<ex:op xmlns:ex=\"urn:ex\" a=\"&lt;\"/>"
		     "</rpc>");
	/* An XML declaration in front is dropped. */
	build_expect(2, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<get/>",
		     RPC_OPEN("2") "\n<get/></rpc>");
	/* An <rpc> outside the base namespace is just an operation. */
	build_expect(3, "<rpc xmlns=\"urn:x\"><y/></rpc>",
		     RPC_OPEN("3") "<rpc xmlns=\"urn:x\"><y/></rpc></rpc>");
}

static void test_rpc_build_multiple(void **state)
{
	struct ch_buf b;
	struct ch_rpc *rpc = NULL;

	(void)state;
	build_expect(5, "<lock><target><running/></target></lock>\n"
		     "<!-- then -->\n<get/>",
		     RPC_OPEN("5") "<lock><target><running/></target></lock>\n"
		     "<!-- then -->\n<get/></rpc>");
	/* The unprefixed op lands in the base namespace. */
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_rpc_build(&b, 6, " <commit/> <x/> ", NULL),
			 CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
			    RPC_OPEN("6") " <commit/> <x/> </rpc>");
	assert_int_equal(ch_rpc_parse(ch_buf_ptr(&b), ch_buf_len(&b), &rpc),
			 CH_OK);
	assert_string_equal(rpc->op_name, "commit");
	assert_string_equal(rpc->op_ns, NS);
	assert_string_equal(rpc->message_id, "6");
	ch_rpc_free(rpc);
	ch_buf_cleanup(&b);
}

static void test_rpc_build_full_rpc(void **state)
{
	struct ch_buf b;
	struct ch_rpc *rpc = NULL;

	(void)state;
	build_expect(7, "<rpc message-id=\"101\" xmlns=\"" NS "\">"
		     "<get-config><source><running/></source></get-config>"
		     "</rpc>",
		     RPC_OPEN("7") "<get-config><source><running/></source>"
		     "</get-config></rpc>");
	build_expect(8, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<nc:rpc xmlns:nc=\"" NS "\" message-id=\"x\">"
		     "<nc:get/></nc:rpc>",
		     RPC_OPEN("8") "<nc:get xmlns:nc=\"" NS "\"/></rpc>");
	/* op_xml is read with the base namespace as default, as in the
	 * plain case, and children keep the declarations they rely on. */
	build_expect(9, "<nc:rpc xmlns:nc=\"" NS "\" xmlns:ex=\"urn:ex\">"
		     "<foo><ex:bar/></foo></nc:rpc>",
		     RPC_OPEN("9") "<foo xmlns:nc=\"" NS "\" "
		     "xmlns:ex=\"urn:ex\"><ex:bar/></foo></rpc>");
	/* A child in no namespace must stay in no namespace. */
	build_expect(11, "<nc:rpc xmlns:nc=\"" NS "\" xmlns=\"\">"
		     "<foo><bar/></foo></nc:rpc>",
		     RPC_OPEN("11") "<foo xmlns:nc=\"" NS "\" "
		     "xmlns=\"\"><bar/></foo></rpc>");
	build_expect(10, "<nc:rpc xmlns:nc=\"" NS "\" xmlns=\"urn:d\">"
		     "<op/></nc:rpc>",
		     RPC_OPEN("10") "<op xmlns:nc=\"" NS "\" "
		     "xmlns=\"urn:d\"/></rpc>");

	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_rpc_build(&b, 9, "<nc:rpc xmlns:nc=\"" NS "\" "
				      "xmlns=\"\"><foo/></nc:rpc>", NULL),
			 CH_OK);
	assert_int_equal(ch_rpc_parse(ch_buf_ptr(&b), ch_buf_len(&b), &rpc),
			 CH_OK);
	assert_string_equal(rpc->op_name, "foo");
	assert_null(rpc->op_ns);
	assert_string_equal(rpc->message_id, "9");
	ch_rpc_free(rpc);
	ch_buf_cleanup(&b);
}

static void test_rpc_build_refused(void **state)
{
	(void)state;
	build_refuse("", "expected an XML element");
	build_refuse("   \n", "expected an XML element");
	build_refuse("just text", "expected an XML element");
	build_refuse("<!-- only a comment -->", "expected an XML element");
	build_refuse("<get/>trailing", "expected an XML element");
	build_refuse("<rpc xmlns=\"" NS "\" message-id=\"1\"/>",
		     "expected an XML element");
	build_refuse("<rpc xmlns=\"" NS "\">text</rpc>",
		     "expected an XML element");
	build_refuse("<get>", "operation is not well-formed XML");
	build_refuse("<a><b></a>", "operation is not well-formed XML");
	build_refuse("<x:get/>", "operation is not well-formed XML");
	build_refuse("<!DOCTYPE x><get/>", "operation is not well-formed XML");
}

/* op_xml must never close our <rpc> and smuggle in another one. */
static void test_rpc_build_injection(void **state)
{
	(void)state;
	build_refuse("</rpc><rpc>", "operation is not well-formed XML");
	build_refuse("<get/></rpc><rpc xmlns=\"" NS "\" message-id=\"666\">"
		     "<kill-session><session-id>1</session-id></kill-session>",
		     "operation is not well-formed XML");
	build_refuse("<get/></rpc>]]>]]><rpc xmlns=\"" NS "\" "
		     "message-id=\"666\"><get/>",
		     "operation is not well-formed XML");
	build_refuse("<get/></rpc><!--", "operation is not well-formed XML");
	build_refuse("<get/></rpc><?pi ", "operation is not well-formed XML");
	build_refuse("<![CDATA[", "operation is not well-formed XML");
	build_refuse("<get a=\"", "operation is not well-formed XML");
	build_refuse("</rpc>", "operation is not well-formed XML");
}

static void test_rpc_build_args(void **state)
{
	struct ch_buf b;
	const char *why = "unset";

	(void)state;
	ch_buf_init(&b, BUF_MAX);
	assert_int_equal(ch_rpc_build(&b, 1, NULL, &why), CH_ERR_INVAL);
	assert_null(why);
	ch_buf_cleanup(&b);
	ch_buf_init(&b, 40);
	assert_int_equal(ch_rpc_build(&b, 1, "<get/>", &why), CH_ERR_LIMIT);
	assert_int_equal(ch_buf_len(&b), 0);
	ch_buf_cleanup(&b);
}

/* ---- reply parse ---- */

static void test_reply_parse_ok(void **state)
{
	static const char xml[] =
		"<rpc-reply message-id=\"101\" xmlns=\"" NS "\">\n"
		"  <ok/>\n</rpc-reply>";
	struct ch_reply rep;

	(void)state;
	assert_int_equal(ch_reply_parse(xml, strlen(xml), &rep), CH_OK);
	assert_string_equal(rep.message_id, "101");
	assert_int_equal(rep.is_ok, 1);
	assert_int_equal(rep.has_error, 0);
	assert_null(rep.error_tag);
	assert_null(rep.error_message);
	ch_reply_cleanup(&rep);
	assert_null(rep.message_id);
}

static void test_reply_parse_data(void **state)
{
	static const char xml[] =
		"<nc:rpc-reply xmlns:nc=\"" NS "\" message-id=\"7\">"
		"<nc:data><top xmlns=\"urn:t\"><ok/></top></nc:data>"
		"</nc:rpc-reply>";
	struct ch_reply rep;

	(void)state;
	assert_int_equal(ch_reply_parse(xml, strlen(xml), &rep), CH_OK);
	assert_string_equal(rep.message_id, "7");
	assert_int_equal(rep.is_ok, 0);
	assert_int_equal(rep.has_error, 0);
	assert_null(rep.error_tag);
	ch_reply_cleanup(&rep);
}

static void test_reply_parse_error(void **state)
{
	static const char xml[] =
		"<rpc-reply message-id=\"9\" xmlns=\"" NS "\">\n"
		"<rpc-error><error-type>application</error-type>"
		"<error-tag>w-tag</error-tag>"
		"<error-severity>warning</error-severity>"
		"<error-message>just a warning</error-message></rpc-error>\n"
		"<rpc-error>\n<error-type>protocol</error-type>\n"
		"<error-tag>\n  lock-denied\n</error-tag>\n"
		"<error-severity> error </error-severity>\n"
		"<error-message xml:lang=\"en\">\n  Lock failed, held by "
		"&lt;3&gt;\n</error-message>\n"
		"<error-info><session-id>3</session-id></error-info>\n"
		"</rpc-error>\n"
		"<rpc-error><error-type>rpc</error-type>"
		"<error-tag>second</error-tag></rpc-error>\n"
		"</rpc-reply>";
	static const char noseverity[] =
		"<rpc-reply xmlns=\"" NS "\"><rpc-error>"
		"<error-tag>in-use</error-tag></rpc-error></rpc-reply>";
	static const char warning_only[] =
		"<rpc-reply xmlns=\"" NS "\" message-id=\"\"><ok/><rpc-error>"
		"<error-tag>x</error-tag><error-severity>warning"
		"</error-severity></rpc-error></rpc-reply>";
	struct ch_reply rep;

	(void)state;
	assert_int_equal(ch_reply_parse(xml, strlen(xml), &rep), CH_OK);
	assert_string_equal(rep.message_id, "9");
	assert_int_equal(rep.is_ok, 0);
	assert_int_equal(rep.has_error, 1);
	assert_string_equal(rep.error_tag, "lock-denied");
	assert_string_equal(rep.error_message, "Lock failed, held by <3>");
	ch_reply_cleanup(&rep);

	assert_int_equal(ch_reply_parse(noseverity, strlen(noseverity), &rep),
			 CH_OK);
	assert_null(rep.message_id);
	assert_int_equal(rep.has_error, 1);
	assert_string_equal(rep.error_tag, "in-use");
	assert_null(rep.error_message);
	ch_reply_cleanup(&rep);

	assert_int_equal(ch_reply_parse(warning_only, strlen(warning_only),
					&rep), CH_OK);
	assert_string_equal(rep.message_id, "");
	assert_int_equal(rep.is_ok, 1);
	assert_int_equal(rep.has_error, 0);
	assert_null(rep.error_tag);
	ch_reply_cleanup(&rep);
}

static void test_reply_parse_refused(void **state)
{
	static const char *const bad[] = {
		"<rpc-reply><ok/></rpc-reply>",
		"<rpc-reply xmlns=\"urn:x\"><ok/></rpc-reply>",
		"<rpc xmlns=\"" NS "\"/>",
		"<rpc-reply xmlns=\"" NS "\">",
	};
	struct ch_reply rep;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ch_reply_parse(bad[i], strlen(bad[i]), &rep),
				 CH_ERR_PROTO);
		assert_null(rep.message_id);
		assert_int_equal(rep.is_ok, 0);
	}
}

/* Client builds, server parses and answers, client reads the answer. */
static void test_roundtrip(void **state)
{
	static const struct ch_rpc_error e = {
		.type = "application", .tag = "data-missing",
		.message = "nothing & nobody",
	};
	struct ch_buf req, rsp;
	struct ch_rpc *rpc = NULL;
	struct ch_reply rep;

	(void)state;
	ch_buf_init(&req, BUF_MAX);
	ch_buf_init(&rsp, BUF_MAX);
	assert_int_equal(ch_rpc_build(&req, 42, "<get><filter type=\"subtree\">"
				      "<t xmlns=\"urn:t\"/></filter></get>",
				      NULL), CH_OK);
	assert_int_equal(ch_rpc_parse(ch_buf_ptr(&req), ch_buf_len(&req),
				      &rpc), CH_OK);
	assert_string_equal(rpc->message_id, "42");
	assert_string_equal(rpc->op_name, "get");
	assert_int_equal(ch_reply_error(&rsp, rpc, &e), CH_OK);
	assert_int_equal(ch_reply_parse(ch_buf_ptr(&rsp), ch_buf_len(&rsp),
					&rep), CH_OK);
	assert_string_equal(rep.message_id, "42");
	assert_int_equal(rep.has_error, 1);
	assert_string_equal(rep.error_tag, "data-missing");
	assert_string_equal(rep.error_message, "nothing & nobody");
	ch_reply_cleanup(&rep);
	ch_rpc_free(rpc);
	ch_buf_cleanup(&req);
	ch_buf_cleanup(&rsp);
}

/* A leaf's text as parameters are read: trimmed, bounded. */
static void test_xml_text(void **state)
{
	static const char xml[] = "<r><a>\n  some-id \t</a><b/><c>x<d>y</d>"
				  "</c><e>12345</e></r>";
	xmlDoc *doc = xmlReadMemory(xml, sizeof(xml) - 1, NULL, NULL, 0);
	xmlNode *a, *b, *c, *e;
	char buf[6];

	(void)state;
	assert_non_null(doc);
	a = xmlDocGetRootElement(doc)->children;
	b = a->next;
	c = b->next;
	e = c->next;
	assert_int_equal(ch_xml_text(b, buf, sizeof(buf)), CH_OK);
	assert_string_equal(buf, "");
	assert_int_equal(ch_xml_text(c, buf, sizeof(buf)), CH_OK);
	assert_string_equal(buf, "xy");		/* all text below */
	assert_int_equal(ch_xml_text(e, buf, sizeof(buf)), CH_OK);
	assert_string_equal(buf, "12345");	/* exactly fits */
	assert_int_equal(ch_xml_text(a, buf, sizeof(buf)), CH_ERR_LIMIT);
	assert_string_equal(buf, "");
	{
		char big[16];

		assert_int_equal(ch_xml_text(a, big, sizeof(big)), CH_OK);
		assert_string_equal(big, "some-id");
	}
	xmlFreeDoc(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_xml_text),
		cmocka_unit_test(test_parse_basic),
		cmocka_unit_test(test_parse_size_limit),
		cmocka_unit_test(test_parse_dtd_refused),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_xxe),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_depth_text_leaf),
		cmocka_unit_test(test_parse_silent),
		cmocka_unit_test(test_hello_build),
		cmocka_unit_test(test_hello_build_zero_caps),
		cmocka_unit_test(test_hello_build_limit),
		cmocka_unit_test(test_hello_parse_prefixed),
		cmocka_unit_test(test_hello_parse_no_session_id),
		cmocka_unit_test(test_hello_parse_wrong_root),
		cmocka_unit_test(test_hello_session_id),
		cmocka_unit_test(test_hello_duplicate_session_id),
		cmocka_unit_test(test_hello_limits),
		cmocka_unit_test(test_hello_roundtrip),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_rpc_parse_rfc_example),
		cmocka_unit_test(test_rpc_parse_op),
		cmocka_unit_test(test_rpc_parse_refused),
		cmocka_unit_test(test_rpc_missing_message_id),
		cmocka_unit_test(test_reply_error_full),
		cmocka_unit_test(test_reply_message_only),
		cmocka_unit_test(test_reply_namespaces),
		cmocka_unit_test(test_reply_limit_keeps_buffer),
		cmocka_unit_test(test_rpc_build_plain),
		cmocka_unit_test(test_rpc_build_multiple),
		cmocka_unit_test(test_rpc_build_full_rpc),
		cmocka_unit_test(test_rpc_build_refused),
		cmocka_unit_test(test_rpc_build_injection),
		cmocka_unit_test(test_rpc_build_args),
		cmocka_unit_test(test_reply_parse_ok),
		cmocka_unit_test(test_reply_parse_data),
		cmocka_unit_test(test_reply_parse_error),
		cmocka_unit_test(test_reply_parse_refused),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
