/* test_devxml.c - the hub's parsers of device notifications and
 * get-config data (src/hub/devxml.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hub/devxml.h"
#include "lib/core/err.h"

#define NOTIF_OPEN "<notification xmlns=\"" DEVXML_NOTIF_NS "\">" \
	"<eventTime>2026-12-07T10:00:00Z</eventTime>"
#define NCC_OPEN "<netconf-config-change xmlns=\"" DEVXML_NCN_NS "\">"

static int parse(const char *xml, struct devxml_notif *n)
{
	return devxml_notif_parse(xml, strlen(xml), n);
}

static void test_config_change(void **state)
{
	static const char xml[] = NOTIF_OPEN NCC_OPEN
		"<changed-by><username>alice</username>"
		"<session-id>7</session-id>"
		"<source-host>192.0.2.1</source-host></changed-by>"
		"<datastore>running</datastore>"
		"<edit><target xmlns:t=\"urn:t\">/t:system/t:hostname</target>"
		"<operation>replace</operation></edit>"
		"<edit><target xmlns:t=\"urn:t\">/t:dns</target>"
		"<operation>create</operation></edit>"
		"</netconf-config-change></notification>";
	struct devxml_notif n;
	char text[CH_STORE_TEXT_MAX], who[64];

	(void)state;
	assert_int_equal(parse(xml, &n), CH_OK);
	assert_string_equal(n.event, "netconf-config-change");
	assert_string_equal(n.time, "2026-12-07T10:00:00Z");
	assert_true(n.config_change);
	assert_string_equal(n.username, "alice");
	assert_int_equal(n.session_id, 7);
	assert_string_equal(n.datastore, "running");
	assert_int_equal(n.nedits, 2);
	devxml_notif_text(&n, text, sizeof(text));
	assert_string_equal(text, "netconf-config-change at "
			    "2026-12-07T10:00:00Z by alice (session 7) from "
			    "192.0.2.1 on running: replace /t:system/t:hostname"
			    ", create /t:dns");
	devxml_notif_who(&n, who, sizeof(who));
	assert_string_equal(who, "alice@192.0.2.1");
	/* cut to the buffer, always terminated */
	devxml_notif_text(&n, text, 30);
	assert_int_equal(strlen(text), 29);
}

/* Many edits: the first CH_NOTIF_EDITS_SHOWN named, the rest counted;
 * <server/>; the datastore's default; control characters as spaces. */
static void test_config_change_bounds(void **state)
{
	char xml[8192], text[CH_STORE_TEXT_MAX];
	struct devxml_notif n;
	size_t off;

	(void)state;
	off = (size_t)snprintf(xml, sizeof(xml), NOTIF_OPEN NCC_OPEN
			       "<changed-by><server/></changed-by>");
	for (int i = 0; i < CH_NOTIF_EDITS_SHOWN + 3; i++)
		off += (size_t)snprintf(xml + off, sizeof(xml) - off,
					"<edit><target>/a%d&#10;b</target>"
					"</edit>", i);
	snprintf(xml + off, sizeof(xml) - off,
		 "</netconf-config-change></notification>");
	assert_int_equal(parse(xml, &n), CH_OK);
	assert_true(n.by_server);
	assert_string_equal(n.datastore, "running");
	assert_int_equal(n.nedits, CH_NOTIF_EDITS_SHOWN + 3);
	assert_string_equal(n.edits[0].target, "/a0 b");
	devxml_notif_text(&n, text, sizeof(text));
	assert_non_null(strstr(text, "by the device itself on running: "
			       "/a0 b, /a1 b"));
	assert_non_null(strstr(text, " (and 3 more)"));
	assert_null(strchr(text, '\n'));
}

static void test_other_events(void **state)
{
	struct devxml_notif n;
	char text[256];

	(void)state;
	assert_int_equal(parse(NOTIF_OPEN "<linkDown xmlns=\"urn:x\"><if>1"
			       "</if></linkDown></notification>", &n), CH_OK);
	assert_string_equal(n.event, "linkDown");
	assert_false(n.config_change);
	devxml_notif_text(&n, text, sizeof(text));
	assert_string_equal(text, "linkDown at 2026-12-07T10:00:00Z");
	/* not notifications */
	assert_int_equal(parse("<rpc-reply xmlns=\"urn:ietf:params:xml:ns:"
			       "netconf:base:1.0\"/>", &n), CH_ERR_PROTO);
	assert_int_equal(parse("<notification xmlns=\"urn:x\"><eventTime>1"
			       "</eventTime><e/></notification>", &n),
			 CH_ERR_PROTO);
	assert_int_equal(parse(NOTIF_OPEN "</notification>", &n),
			 CH_ERR_PROTO);
	assert_int_equal(parse("<notification xmlns=\"" DEVXML_NOTIF_NS
			       "\"><e/></notification>", &n), CH_ERR_PROTO);
	assert_int_equal(parse("<notification", &n), CH_ERR_PROTO);
}

#define REPLY_OPEN "<rpc-reply xmlns=\"urn:ietf:params:xml:ns:netconf:" \
	"base:1.0\" xmlns:t=\"urn:t\" message-id=\"1\">"

static int config(const char *reply, struct ch_buf *b, const char **why)
{
	return devxml_config(reply, strlen(reply), b, why);
}

static void test_config(void **state)
{
	static const char reply[] = REPLY_OPEN "<data>\n  "
		"<system xmlns=\"urn:t\"><hostname>r1</hostname>"
		"<motd> two  spaces </motd>\n<dns><server>10.0.0.1</server>"
		"</dns></system>\n<t:other>x</t:other></data></rpc-reply>";
	struct ch_buf b;
	const char *why;

	(void)state;
	ch_buf_init(&b, 4096);
	assert_int_equal(devxml_config(reply, strlen(reply), &b, &why), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
		"<system xmlns=\"urn:t\">\n"
		"  <hostname>r1</hostname>\n"
		"  <motd> two  spaces </motd>\n"
		"  <dns>\n"
		"    <server>10.0.0.1</server>\n"
		"  </dns>\n"
		"</system>\n"
		"<t:other xmlns:t=\"urn:t\">x</t:other>\n");
	ch_buf_reset(&b);
	/* whatever the whitespace the device sends, the same text */
	{
		static const char other[] = REPLY_OPEN "<data><system xmlns="
			"\"urn:t\">\n\n<hostname>r1</hostname><motd> two  "
			"spaces </motd><dns>  <server>10.0.0.1</server></dns>"
			"</system><t:other>x</t:other></data></rpc-reply>";
		assert_int_equal(devxml_config(other, strlen(other), &b, &why),
				 CH_OK);
		assert_non_null(strstr(ch_buf_ptr(&b), "  <dns>\n    <server>"));
	}
	ch_buf_reset(&b);
	assert_int_equal(config(REPLY_OPEN "<data/></rpc-reply>", &b, &why),
			 CH_OK);
	assert_int_equal(ch_buf_len(&b), 0);
	assert_int_equal(config(REPLY_OPEN "<rpc-error><error-tag>x"
				"</error-tag></rpc-error></rpc-reply>", &b,
				&why), CH_ERR_PROTO);
	assert_non_null(strstr(why, "rpc-error"));
	assert_int_equal(config(REPLY_OPEN "<ok/></rpc-reply>", &b, &why),
			 CH_ERR_PROTO);
	assert_int_equal(config("<data/>", &b, &why), CH_ERR_PROTO);
	ch_buf_cleanup(&b);
	/* past the buffer's bound: nothing kept */
	ch_buf_init(&b, 16);
	assert_int_equal(devxml_config(reply, strlen(reply), &b, &why),
			 CH_ERR_LIMIT);
	assert_int_equal(ch_buf_len(&b), 0);
	ch_buf_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_change),
		cmocka_unit_test(test_config_change_bounds),
		cmocka_unit_test(test_other_events),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
