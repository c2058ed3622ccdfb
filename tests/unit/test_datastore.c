/* test_datastore.c - the schema-aware datastore on tests/yang's
 * callhome-test module: edit-config semantics, locks, candidate and
 * commit, confirmed commits, persistence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/datastore.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/nc/msg.h"

#define T "urn:callhome:params:xml:ns:yang:callhome-test"
#define SYS "<system xmlns=\"" T "\">"
#define IFS "<interfaces xmlns=\"" T "\">"
#define OP(o) " nc:operation=\"" o "\""

struct fx {
	char dir[64];
	char yang[4096];
	uv_loop_t loop;
	struct ch_ds *ds;
	struct ch_ds_err err;
};

static struct fx *F;

static int ds_open_in(struct fx *f, const char *module)
{
	const char *dirs[] = { f->yang };
	const char *mods[] = { module };
	struct ch_ds_config cfg = {
		.dir = f->dir, .yang_dirs = dirs, .nyang_dirs = 1,
		.modules = mods, .nmodules = 1, .loop = &f->loop,
	};

	return ch_ds_open(&cfg, &f->ds);
}

static void ds_reopen(struct fx *f)
{
	ch_ds_close(f->ds);
	f->ds = NULL;
	uv_run(&f->loop, UV_RUN_DEFAULT);	/* the timer's close */
	assert_int_equal(ds_open_in(f, "callhome-test:banner"), CH_OK);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char here[4096];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ch-ds-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(here, sizeof(here), "%s", __FILE__);
	snprintf(f->yang, sizeof(f->yang), "%s/../yang", dirname(here));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(ds_open_in(f, "callhome-test:banner"), CH_OK);
	F = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char path[512];
	DIR *d;
	struct dirent *e;

	ch_ds_close(f->ds);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	if ((d = opendir(f->dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ch_ds_edit with the content of a <config> (nc: is the base ns). */
static int edit_ex(uint32_t sid, enum ch_ds_id target, enum ch_ds_defop defop,
		   enum ch_ds_test test, const char *content)
{
	char xml[8192];
	xmlDoc *doc = NULL;
	int r;

	snprintf(xml, sizeof(xml), "<config xmlns=\"" CH_NC_NS "\" "
		 "xmlns:nc=\"" CH_NC_NS "\">%s</config>", content);
	assert_int_equal(ch_xml_parse(xml, strlen(xml), &doc), CH_OK);
	r = ch_ds_edit(F->ds, sid, target, defop, test,
		       xmlDocGetRootElement(doc), &F->err);
	xmlFreeDoc(doc);
	return r;
}

static int edit(enum ch_ds_id target, const char *content)
{
	return edit_ex(1, target, CH_DS_DEFOP_MERGE, CH_DS_TEST_THEN_SET,
		       content);
}

/* The datastore's content; a static buffer. */
static const char *get(enum ch_ds_id id)
{
	static char out[8192];
	char *x = NULL;
	size_t len;

	assert_int_equal(ch_ds_get(F->ds, id, &x, &len, &F->err), CH_OK);
	assert_int_equal(strlen(x), len);
	snprintf(out, sizeof(out), "%s", x);
	free(x);
	return out;
}

static char *file(const char *name)
{
	char path[128], *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", F->dir, name);
	if (ch_file_read(path, 1 << 20, &data, &len) != CH_OK)
		return NULL;
	return data;
}

static void put_file(const char *name, const char *data)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", F->dir, name);
	assert_int_equal(ch_file_write_atomic(path, data, strlen(data), 0600),
			 CH_OK);
}

static void assert_err(const char *tag)
{
	assert_non_null(F->err.tag);
	assert_string_equal(F->err.tag, tag);
}

/* ------------------------------------------------------------ schemas */

static void test_caps_advertise_module_and_features(void **state)
{
	size_t n, i;
	const char *const *caps = ch_ds_caps(F->ds, &n);
	int found = 0;

	(void)state;
	assert_int_equal(n, 7);	/* six protocol capabilities, one module */
	assert_string_equal(caps[0],
		"urn:ietf:params:netconf:capability:writable-running:1.0");
	for (i = 0; i < n; i++) {
		if (strcmp(caps[i], T "?module=callhome-test&revision=2024-05-01"
			   "&features=banner") == 0)
			found++;
		assert_null(strstr(caps[i], "callhome-nc-edit"));
	}
	assert_int_equal(found, 1);
	assert_string_equal(get(CH_DS_RUNNING), "");
}

static void test_unknown_module_refuses_to_open(void **state)
{
	struct ch_ds *ds = F->ds;

	(void)state;
	assert_int_equal(ds_open_in(F, "no-such-module"), CH_ERR_INVAL);
	assert_null(F->ds);
	F->ds = ds;
}

static void test_feature_off_hides_its_node(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<banner>hi</banner></system>"),
			 CH_OK);
	ch_ds_close(F->ds);
	F->ds = NULL;
	uv_run(&F->loop, UV_RUN_DEFAULT);
	/* stored data the schema no longer allows: refuse to start */
	assert_int_equal(ds_open_in(F, "callhome-test"), CH_ERR_INVAL);
	put_file("running.xml", "");
	assert_int_equal(ds_open_in(F, "callhome-test"), CH_OK);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<banner>hi</banner></system>"),
			 CH_ERR_INVAL);
	assert_err("unknown-element");
	assert_string_equal(F->err.info, "<bad-element>banner</bad-element>");
}

/* ------------------------------------------------------------ edits */

static void test_merge_creates_then_updates_a_leaf(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>a</hostname>"
			      "</system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>a</hostname>"
			    "</system>");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>b</hostname>"
			      "</system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>b</hostname>"
			    "</system>");
}

/* An identityref's prefix declared on the leaf itself. */
static void test_identityref_prefix_on_the_leaf(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<kind xmlns:b=\"" T "\">"
			      "b:plain</kind></system>"), CH_OK);
	assert_non_null(strstr(get(CH_DS_RUNNING), ":plain</kind>"));
}

static void test_create_and_delete_report_exists_and_missing(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname" OP("create")
			      ">a</hostname></system>"), CH_OK);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname" OP("create")
			      ">b</hostname></system>"), CH_ERR_INVAL);
	assert_err("data-exists");
	assert_string_equal(F->err.type, "application");
	assert_string_equal(F->err.path, "/callhome-test:system/hostname");
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>a</hostname>"
			    "</system>");
	/* delete: the value given does not matter for a leaf */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname" OP("delete")
			      "/></system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), "");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname" OP("delete")
			      "/></system>"), CH_ERR_INVAL);
	assert_err("data-missing");
	assert_string_equal(F->err.path, "/callhome-test:system/hostname");
	/* remove: silently nothing */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname" OP("remove")
			      "/></system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), "");
}

static void test_lists_are_matched_by_key(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, IFS
		"<interface><name>eth0</name><description>up</description>"
		"<address><ip>10.0.0.1</ip><prefix-length>24</prefix-length>"
		"</address><address><ip>10.0.0.1</ip><prefix-length>32"
		"</prefix-length><label>host</label></address></interface>"
		"<interface><name>eth1</name></interface></interfaces>"),
		CH_OK);
	/* merge into eth0, delete one address by its two keys and eth1 */
	assert_int_equal(edit(CH_DS_RUNNING, IFS
		"<interface><name>eth0</name><enabled>false</enabled>"
		"<address" OP("delete") "><ip>10.0.0.1</ip><prefix-length>24"
		"</prefix-length></address></interface>"
		"<interface" OP("delete") "><name>eth1</name></interface>"
		"</interfaces>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), IFS
		"<interface><name>eth0</name><description>up</description>"
		"<enabled>false</enabled><address><ip>10.0.0.1</ip>"
		"<prefix-length>32</prefix-length><label>host</label>"
		"</address></interface></interfaces>");
	/* create of an existing entry, delete of an absent one */
	assert_int_equal(edit(CH_DS_RUNNING, IFS "<interface" OP("create")
			      "><name>eth0</name></interface></interfaces>"),
			 CH_ERR_INVAL);
	assert_err("data-exists");
	assert_string_equal(F->err.path, "/callhome-test:interfaces/"
			    "interface[name='eth0']");
	assert_int_equal(edit(CH_DS_RUNNING, IFS "<interface" OP("delete")
			      "><name>eth9</name></interface></interfaces>"),
			 CH_ERR_INVAL);
	assert_err("data-missing");
	/* a list entry without its key */
	assert_int_equal(edit(CH_DS_RUNNING, IFS "<interface><description>x"
			      "</description></interface></interfaces>"),
			 CH_ERR_INVAL);
	assert_err("missing-element");
	assert_string_equal(F->err.info, "<bad-element>name</bad-element>");
	/* replace on an entry drops what the new one does not say */
	assert_int_equal(edit(CH_DS_RUNNING, IFS "<interface" OP("replace")
			      "><name>eth0</name><description>new"
			      "</description></interface></interfaces>"),
			 CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), IFS
		"<interface><name>eth0</name><description>new</description>"
		"</interface></interfaces>");
	/* unique "description" */
	assert_int_equal(edit(CH_DS_RUNNING, IFS "<interface><name>eth2"
			      "</name><description>new</description>"
			      "</interface></interfaces>"), CH_ERR_INVAL);
	assert_err("operation-failed");
	assert_string_equal(F->err.app_tag, "data-not-unique");
	assert_string_equal(F->err.path, "/callhome-test:interfaces/"
			    "interface[name='eth2']");
}

static void test_leaf_lists_are_matched_by_value(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<dns-server>a</dns-server>"
			      "<dns-server>b</dns-server></system>"), CH_OK);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<dns-server" OP("delete")
			      ">a</dns-server><dns-server>c</dns-server>"
			      "</system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<dns-server>b"
			    "</dns-server><dns-server>c</dns-server></system>");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<dns-server" OP("create")
			      ">b</dns-server></system>"), CH_ERR_INVAL);
	assert_err("data-exists");
	assert_string_equal(F->err.path,
			    "/callhome-test:system/dns-server[.='b']");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<dns-server" OP("delete")
			      ">zz</dns-server></system>"), CH_ERR_INVAL);
	assert_err("data-missing");
	/* max-elements 3 */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<dns-server>d</dns-server>"
			      "<dns-server>e</dns-server></system>"),
			 CH_ERR_INVAL);
	assert_err("operation-failed");
	assert_string_equal(F->err.app_tag, "too-many-elements");
	assert_string_equal(get(CH_DS_RUNNING), SYS "<dns-server>b"
			    "</dns-server><dns-server>c</dns-server></system>");
}

static void test_choice_case_switch(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<udp-port>600</udp-port>"
			      "</system>"), CH_OK);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<tcp-port>700</tcp-port>"
			      "</system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<tcp-port>700</tcp-port>"
			    "</system>");
	/* both cases in one edit is a validation error */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<udp-port>1</udp-port>"
			      "<tcp-port>2</tcp-port></system>"),
			 CH_ERR_INVAL);
	assert_err("invalid-value");
	assert_string_equal(F->err.path, "/callhome-test:system/transport");
	assert_string_equal(get(CH_DS_RUNNING), SYS "<tcp-port>700</tcp-port>"
			    "</system>");
}

static void test_defaults_are_not_configuration(void **state)
{
	(void)state;
	/* mtu has a default: it is not data the client created */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>h</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<mtu" OP("delete")
			      "/></system>"), CH_ERR_INVAL);
	assert_err("data-missing");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<mtu" OP("create")
			      ">1500</mtu></system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>h</hostname>"
			    "<mtu>1500</mtu></system>");
	/* a value outside the type */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<mtu>10</mtu></system>"),
			 CH_ERR_INVAL);
	assert_err("invalid-value");
	assert_string_equal(F->err.path, "/callhome-test:system/mtu");
	assert_string_equal(F->err.info, "<bad-element>mtu</bad-element>");
}

static void test_presence_container_and_mandatory(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<logging/></system>"),
			 CH_ERR_INVAL);
	assert_err("missing-element");
	assert_string_equal(F->err.info, "<bad-element>level</bad-element>");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<logging" OP("create")
			      "><level>info</level><facility>x</facility>"
			      "<facility>a</facility></logging></system>"),
			 CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<logging><level>info"
			    "</level><facility>x</facility><facility>a"
			    "</facility></logging></system>");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<logging" OP("delete")
			      "/></system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), "");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<logging" OP("delete")
			      "/></system>"), CH_ERR_INVAL);
	assert_err("data-missing");
}

static void test_identityref_prefix_declared_on_an_ancestor(void **state)
{
	const char *xml = "<rpc xmlns=\"" CH_NC_NS "\" xmlns:x=\"" T "\">"
			  "<config>" SYS "<kind>x:tls</kind></system>"
			  "</config></rpc>";
	xmlDoc *doc = NULL;
	xmlNode *config;

	(void)state;
	assert_int_equal(ch_xml_parse(xml, strlen(xml), &doc), CH_OK);
	config = xmlDocGetRootElement(doc)->children;
	assert_int_equal(ch_ds_edit(F->ds, 1, CH_DS_RUNNING, CH_DS_DEFOP_MERGE,
				    CH_DS_TEST_THEN_SET, config, &F->err),
			 CH_OK);
	xmlFreeDoc(doc);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<kind xmlns:cht=\"" T
			    "\">cht:tls</kind></system>");
	/* an undeclared prefix is an invalid value */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<kind>y:tls</kind>"
			      "</system>"), CH_ERR_INVAL);
	assert_err("invalid-value");
}

static void test_default_operation_none(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, IFS "<interface><name>eth0</name>"
			      "<description>d</description></interface>"
			      "</interfaces>"), CH_OK);
	/* no level for it: data-missing, nothing created */
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_NONE,
				 CH_DS_TEST_THEN_SET, IFS "<interface><name>"
				 "eth1</name><description>x</description>"
				 "</interface></interfaces>"), CH_ERR_INVAL);
	assert_err("data-missing");
	/* existing levels are walked, values under none are not set */
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_NONE,
				 CH_DS_TEST_THEN_SET, IFS "<interface><name>"
				 "eth0</name><description>ignored</description>"
				 "<tag" OP("create") ">t</tag></interface>"
				 "</interfaces>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), IFS "<interface><name>eth0"
			    "</name><description>d</description><tag>t</tag>"
			    "</interface></interfaces>");
	/* delete under none without creating the parents */
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_NONE,
				 CH_DS_TEST_THEN_SET, IFS "<interface><name>"
				 "eth5</name><tag" OP("delete") ">t</tag>"
				 "</interface></interfaces>"), CH_ERR_INVAL);
	assert_err("data-missing");
	assert_string_equal(F->err.path, "/callhome-test:interfaces/"
			    "interface[name='eth5']/tag[.='t']");
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_NONE,
				 CH_DS_TEST_THEN_SET, IFS "<interface><name>"
				 "eth5</name><tag" OP("remove") ">t</tag>"
				 "</interface></interfaces>"), CH_OK);
	/* a create below a missing level creates the level */
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_NONE,
				 CH_DS_TEST_THEN_SET, IFS "<interface><name>"
				 "eth6</name><tag" OP("create") ">u</tag>"
				 "</interface></interfaces>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), IFS "<interface><name>eth0"
			    "</name><description>d</description><tag>t</tag>"
			    "</interface><interface><name>eth6</name><tag>u"
			    "</tag></interface></interfaces>");
}

static void test_default_operation_replace_replaces_everything(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, IFS "<interface><name>eth0</name>"
			      "</interface></interfaces>" SYS "<hostname>h"
			      "</hostname></system>"), CH_OK);
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_REPLACE,
				 CH_DS_TEST_THEN_SET, SYS "<mtu>9000</mtu>"
				 "</system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<mtu>9000</mtu>"
			    "</system>");
}

static void test_test_only_changes_nothing(void **state)
{
	(void)state;
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_ONLY, SYS "<hostname>h</hostname>"
				 "</system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), "");
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_ONLY, SYS "<logging/></system>"),
			 CH_ERR_INVAL);
	assert_err("missing-element");
	assert_null(file("running.xml"));	/* never written */
}

static void test_set_leaves_the_candidate_unvalidated(void **state)
{
	struct ch_ds_commit c = { .confirmed = 0 };

	(void)state;
	assert_int_equal(edit_ex(1, CH_DS_CANDIDATE, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_SET, SYS "<logging/></system>"),
			 CH_OK);
	assert_int_equal(ch_ds_validate(F->ds, CH_DS_CANDIDATE, NULL, &F->err),
			 CH_ERR_INVAL);
	assert_err("missing-element");
	assert_int_equal(ch_ds_commit(F->ds, 1, &c, &F->err), CH_ERR_INVAL);
	assert_err("missing-element");
	assert_string_equal(get(CH_DS_RUNNING), "");
	/* finish it, then commit */
	assert_int_equal(edit_ex(1, CH_DS_CANDIDATE, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_SET, SYS "<logging><level>debug"
				 "</level></logging></system>"), CH_OK);
	assert_int_equal(ch_ds_commit(F->ds, 1, &c, &F->err), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<logging><level>debug"
			    "</level></logging></system>");
	/* running is never left invalid, even with set */
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_SET, SYS "<logging" OP("replace")
				 "/></system>"), CH_ERR_INVAL);
}

static void test_error_rolls_back_the_whole_edit(void **state)
{
	char *before, *after;

	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>a</hostname>"
			      "</system>"), CH_OK);
	before = file("running.xml");
	assert_non_null(before);
	/* the first change is fine, the second fails: neither is applied */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<mtu>9000</mtu><hostname"
			      OP("create") ">b</hostname></system>"),
			 CH_ERR_INVAL);
	assert_err("data-exists");
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>a</hostname>"
			    "</system>");
	/* and a failed validation never writes */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<mtu>9000</mtu><logging/>"
			      "</system>"), CH_ERR_INVAL);
	after = file("running.xml");
	assert_non_null(after);
	assert_string_equal(after, before);
	free(after);
	free(before);
}

static void test_schema_errors(void **state)
{
	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<nope>1</nope></system>"),
			 CH_ERR_INVAL);
	assert_err("unknown-element");
	assert_string_equal(F->err.info, "<bad-element>nope</bad-element>");
	assert_int_equal(edit(CH_DS_RUNNING, "<x xmlns=\"urn:t\">1</x>"),
			 CH_ERR_INVAL);
	assert_err("unknown-namespace");
	assert_string_equal(F->err.info, "<bad-element>x</bad-element>"
			    "<bad-namespace>urn:t</bad-namespace>");
	/* state data is not configuration */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<uptime>5</uptime>"
			      "</system>"), CH_ERR_INVAL);
	assert_err("invalid-value");
	assert_string_equal(F->err.path, "/callhome-test:system/uptime");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname" OP("frobnicate")
			      ">a</hostname></system>"), CH_ERR_INVAL);
	assert_err("bad-attribute");
	assert_string_equal(F->err.info, "<bad-attribute>operation"
			    "</bad-attribute><bad-element>hostname"
			    "</bad-element>");
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<mtu" OP("frobnicate")
			      ">5</mtu></system>"), CH_ERR_INVAL);
	assert_err("bad-attribute");
	assert_string_equal(get(CH_DS_RUNNING), "");
}

/* ------------------------------------------------------------ store */

static void test_persistence_round_trip(void **state)
{
	const char *want = SYS "<hostname>h</hostname><mtu>1500</mtu>"
			   "</system>" IFS "<interface><name>eth0</name>"
			   "<tag>a</tag></interface></interfaces>";

	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>h</hostname>"
			      "<mtu>1500</mtu></system>" IFS "<interface>"
			      "<name>eth0</name><tag>a</tag></interface>"
			      "</interfaces>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), want);
	ds_reopen(F);
	assert_string_equal(get(CH_DS_RUNNING), want);
	assert_string_equal(get(CH_DS_CANDIDATE), want);
	assert_string_equal(get(CH_DS_STARTUP), want);	/* none saved */
}

static void test_invalid_stored_data_refuses_to_open(void **state)
{
	(void)state;
	ch_ds_close(F->ds);
	F->ds = NULL;
	uv_run(&F->loop, UV_RUN_DEFAULT);
	put_file("running.xml", SYS "<mtu>5</mtu></system>");
	assert_int_equal(ds_open_in(F, "callhome-test:banner"), CH_ERR_INVAL);
	put_file("running.xml", "<not-closed>");
	assert_int_equal(ds_open_in(F, "callhome-test:banner"), CH_ERR_INVAL);
	/* startup wins over running at start */
	put_file("running.xml", SYS "<hostname>r</hostname></system>");
	put_file("startup.xml", SYS "<hostname>s</hostname></system>");
	assert_int_equal(ds_open_in(F, "callhome-test:banner"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>s</hostname>"
			    "</system>");
	char *r = file("running.xml");
	assert_non_null(strstr(r, "<hostname>s</hostname>"));
	free(r);
}

static void test_copy_delete_validate(void **state)
{
	xmlDoc *doc = NULL;
	const char *inl = "<config xmlns=\"" CH_NC_NS "\">" SYS "<hostname>i"
			  "</hostname></system></config>";

	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>h</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(ch_ds_copy(F->ds, 1, CH_DS_RUNNING, CH_DS_RUNNING,
				    NULL, &F->err), CH_ERR_INVAL);
	assert_err("invalid-value");
	assert_null(file("startup.xml"));
	assert_int_equal(ch_ds_copy(F->ds, 1, CH_DS_STARTUP, CH_DS_RUNNING,
				    NULL, &F->err), CH_OK);
	char *s = file("startup.xml");
	assert_non_null(s);
	assert_non_null(strstr(s, "<hostname>h</hostname>"));
	free(s);
	assert_int_equal(ch_ds_delete(F->ds, 1, CH_DS_RUNNING, &F->err),
			 CH_ERR_INVAL);
	assert_err("operation-failed");
	assert_int_equal(ch_ds_delete(F->ds, 1, CH_DS_STARTUP, &F->err), CH_OK);
	assert_string_equal(get(CH_DS_STARTUP), "");
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>h</hostname>"
			    "</system>");
	/* an inline configuration */
	assert_int_equal(ch_xml_parse(inl, strlen(inl), &doc), CH_OK);
	assert_int_equal(ch_ds_validate(F->ds, -1, xmlDocGetRootElement(doc),
					&F->err), CH_OK);
	assert_int_equal(ch_ds_copy(F->ds, 1, CH_DS_CANDIDATE, -1,
				    xmlDocGetRootElement(doc), &F->err), CH_OK);
	xmlFreeDoc(doc);
	assert_string_equal(get(CH_DS_CANDIDATE), SYS "<hostname>i</hostname>"
			    "</system>");
	/* startup -> running, the restore path */
	assert_int_equal(ch_ds_copy(F->ds, 1, CH_DS_RUNNING, CH_DS_STARTUP,
				    NULL, &F->err), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), "");
}

/* ------------------------------------------------------------ locks */

static void test_locks(void **state)
{
	(void)state;
	assert_int_equal(ch_ds_lock(F->ds, 1, CH_DS_RUNNING, &F->err), CH_OK);
	assert_int_equal(ch_ds_lock(F->ds, 2, CH_DS_RUNNING, &F->err),
			 CH_ERR_INVAL);
	assert_err("lock-denied");
	assert_string_equal(F->err.info, "<session-id>1</session-id>");
	assert_int_equal(edit_ex(2, CH_DS_RUNNING, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_THEN_SET, SYS "<hostname>x"
				 "</hostname></system>"), CH_ERR_INVAL);
	assert_err("in-use");
	assert_int_equal(ch_ds_unlock(F->ds, 2, CH_DS_RUNNING, &F->err),
			 CH_ERR_INVAL);
	assert_err("operation-failed");
	/* the holder may edit */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>x</hostname>"
			      "</system>"), CH_OK);
	/* its session ends: the lock goes */
	ch_ds_session_end(F->ds, 1);
	assert_int_equal(ch_ds_lock_holder(F->ds, CH_DS_RUNNING), 0);
	assert_int_equal(ch_ds_lock(F->ds, 2, CH_DS_RUNNING, &F->err), CH_OK);
	assert_int_equal(ch_ds_unlock(F->ds, 2, CH_DS_RUNNING, &F->err), CH_OK);
	assert_int_equal(ch_ds_unlock(F->ds, 2, CH_DS_RUNNING, &F->err),
			 CH_ERR_INVAL);
	assert_err("operation-failed");
}

static void test_candidate_commit_discard_and_lock(void **state)
{
	struct ch_ds_commit c = { .confirmed = 0 };

	(void)state;
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>c</hostname>"
			      "</system>"), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), "");
	/* a modified candidate cannot be locked */
	assert_int_equal(ch_ds_lock(F->ds, 2, CH_DS_CANDIDATE, &F->err),
			 CH_ERR_INVAL);
	assert_err("lock-denied");
	assert_string_equal(F->err.info, "<session-id>0</session-id>");
	assert_int_equal(ch_ds_discard(F->ds, 1, &F->err), CH_OK);
	assert_string_equal(get(CH_DS_CANDIDATE), "");
	/* lock, edit, commit */
	assert_int_equal(ch_ds_lock(F->ds, 2, CH_DS_CANDIDATE, &F->err), CH_OK);
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>x</hostname>"
			      "</system>"), CH_ERR_INVAL);
	assert_err("in-use");
	assert_int_equal(edit_ex(2, CH_DS_CANDIDATE, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_THEN_SET, SYS "<hostname>c"
				 "</hostname></system>"), CH_OK);
	assert_int_equal(ch_ds_commit(F->ds, 1, &c, &F->err), CH_ERR_INVAL);
	assert_err("in-use");
	assert_int_equal(ch_ds_commit(F->ds, 2, &c, &F->err), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>c</hostname>"
			    "</system>");
	/* unlocking discards what was not committed */
	assert_int_equal(edit_ex(2, CH_DS_CANDIDATE, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_THEN_SET, SYS "<hostname>d"
				 "</hostname></system>"), CH_OK);
	assert_int_equal(ch_ds_unlock(F->ds, 2, CH_DS_CANDIDATE, &F->err),
			 CH_OK);
	assert_string_equal(get(CH_DS_CANDIDATE), SYS "<hostname>c</hostname>"
			    "</system>");
}

/* ------------------------------------------------------------ confirm */

static void test_confirmed_commit_rolls_back_on_timeout(void **state)
{
	struct ch_ds_commit c = { .confirmed = 1, .timeout_s = 1 };
	char *rb;

	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>old</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>new</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(ch_ds_commit(F->ds, 1, &c, &F->err), CH_OK);
	assert_int_equal(ch_ds_confirm_pending(F->ds), 1);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>new</hostname>"
			    "</system>");
	rb = file("rollback.xml");
	assert_non_null(rb);
	assert_non_null(strstr(rb, "<hostname>old</hostname>"));
	free(rb);
	/* another session may not lock running meanwhile */
	assert_int_equal(ch_ds_lock(F->ds, 2, CH_DS_RUNNING, &F->err),
			 CH_ERR_INVAL);
	assert_err("lock-denied");
	uv_run(&F->loop, UV_RUN_DEFAULT);	/* until the timer fired */
	assert_int_equal(ch_ds_confirm_pending(F->ds), 0);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>old</hostname>"
			    "</system>");
	assert_string_equal(get(CH_DS_CANDIDATE), SYS "<hostname>old"
			    "</hostname></system>");
	assert_null(file("rollback.xml"));
	rb = file("running.xml");
	assert_non_null(strstr(rb, "<hostname>old</hostname>"));
	free(rb);
}

static void test_confirming_commit_and_session_end(void **state)
{
	struct ch_ds_commit conf = { .confirmed = 1, .timeout_s = 60 };
	struct ch_ds_commit plain = { .confirmed = 0 };

	(void)state;
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>a</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(ch_ds_commit(F->ds, 1, &conf, &F->err), CH_OK);
	/* only its session confirms */
	assert_int_equal(ch_ds_commit(F->ds, 2, &plain, &F->err),
			 CH_ERR_INVAL);
	assert_err("in-use");
	assert_int_equal(ch_ds_commit(F->ds, 1, &plain, &F->err), CH_OK);
	assert_int_equal(ch_ds_confirm_pending(F->ds), 0);
	assert_null(file("rollback.xml"));
	ch_ds_session_end(F->ds, 1);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>a</hostname>"
			    "</system>");
	/* a second one, whose session ends: rolled back */
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>b</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(ch_ds_commit(F->ds, 3, &conf, &F->err), CH_OK);
	/* an extension by the same session keeps the first rollback */
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>c</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(ch_ds_commit(F->ds, 3, &conf, &F->err), CH_OK);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>c</hostname>"
			    "</system>");
	ch_ds_session_end(F->ds, 3);
	assert_int_equal(ch_ds_confirm_pending(F->ds), 0);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>a</hostname>"
			    "</system>");
}

static void test_persist_and_cancel_commit(void **state)
{
	struct ch_ds_commit conf = { .confirmed = 1, .persist = "tok" };
	struct ch_ds_commit follow = { .confirmed = 1, .timeout_s = 30 };
	struct ch_ds_commit plain = { .confirmed = 0 };

	(void)state;
	assert_int_equal(ch_ds_cancel_commit(F->ds, 1, NULL, &F->err),
			 CH_ERR_INVAL);
	assert_err("operation-failed");
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>p</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(ch_ds_commit(F->ds, 1, &conf, &F->err), CH_OK);
	ch_ds_session_end(F->ds, 1);	/* persist: survives its session */
	assert_int_equal(ch_ds_confirm_pending(F->ds), 1);
	assert_int_equal(ch_ds_commit(F->ds, 2, &plain, &F->err),
			 CH_ERR_INVAL);
	assert_err("missing-element");
	plain.persist_id = "nope";
	assert_int_equal(ch_ds_commit(F->ds, 2, &plain, &F->err),
			 CH_ERR_INVAL);
	assert_err("invalid-value");
	assert_int_equal(ch_ds_cancel_commit(F->ds, 2, "nope", &F->err),
			 CH_ERR_INVAL);
	assert_err("invalid-value");
	assert_int_equal(ch_ds_cancel_commit(F->ds, 2, "tok", &F->err), CH_OK);
	assert_int_equal(ch_ds_confirm_pending(F->ds), 0);
	assert_string_equal(get(CH_DS_RUNNING), "");
	/* extended with the token (it stays persistent), then confirmed
	 * with it from another session */
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>q</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(ch_ds_commit(F->ds, 1, &conf, &F->err), CH_OK);
	follow.persist_id = "tok";
	assert_int_equal(ch_ds_commit(F->ds, 3, &follow, &F->err), CH_OK);
	ch_ds_session_end(F->ds, 3);
	assert_int_equal(ch_ds_confirm_pending(F->ds), 1);
	plain.persist_id = "tok";
	assert_int_equal(ch_ds_commit(F->ds, 2, &plain, &F->err), CH_OK);
	assert_int_equal(ch_ds_confirm_pending(F->ds), 0);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>q</hostname>"
			    "</system>");
}

static void test_unconfirmed_commit_is_undone_at_the_next_start(void **state)
{
	struct ch_ds_commit conf = { .confirmed = 1, .timeout_s = 60 };

	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>before</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>unconfirmed"
			      "</hostname></system>"), CH_OK);
	assert_int_equal(ch_ds_commit(F->ds, 1, &conf, &F->err), CH_OK);
	ds_reopen(F);	/* the agent stopped: no rollback ran */
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>before"
			    "</hostname></system>");
	assert_null(file("rollback.xml"));
	assert_int_equal(ch_ds_confirm_pending(F->ds), 0);
}

#define EXTRA_YANG \
	"module extra-mod {\n" \
	"  namespace \"urn:x:extra\";\n" \
	"  prefix x;\n" \
	"  // kept as written\n" \
	"  revision 2020-02-02;\n" \
	"  container counters { config false; leaf n { type uint32; } }\n" \
	"}\n"

static void test_module_file_schemas_and_their_text(void **state)
{
	char path[128], *text = NULL;
	const char *const *caps;
	struct ch_ds_module m;
	uint32_t idx = 0;
	size_t n, len, i;
	int found = 0;

	(void)state;
	/* a file that is not YANG: refused, nothing changes */
	put_file("bad.yang", "module {");
	snprintf(path, sizeof(path), "%s/bad.yang", F->dir);
	assert_int_equal(ch_ds_load_module_file(F->ds, path), CH_ERR_INVAL);
	ch_ds_caps(F->ds, &n);
	assert_int_equal(n, 7);

	put_file("extra-mod.yang", EXTRA_YANG);
	snprintf(path, sizeof(path), "%s/extra-mod.yang", F->dir);
	assert_int_equal(ch_ds_load_module_file(F->ds, path), CH_OK);
	caps = ch_ds_caps(F->ds, &n);
	assert_int_equal(n, 8);
	for (i = 0; i < n; i++)
		if (strcmp(caps[i], "urn:x:extra?module=extra-mod&"
			   "revision=2020-02-02") == 0)
			found++;
	assert_int_equal(found, 1);

	/* the implemented modules, without the internal one */
	assert_int_equal(ch_ds_module_next(F->ds, &idx, &m), 1);
	assert_string_equal(m.name, "callhome-test");
	assert_string_equal(m.revision, "2024-05-01");
	assert_string_equal(m.ns, T);
	assert_int_equal(ch_ds_module_next(F->ds, &idx, &m), 1);
	assert_string_equal(m.name, "extra-mod");
	assert_string_equal(m.revision, "2020-02-02");
	assert_string_equal(m.ns, "urn:x:extra");
	assert_int_equal(ch_ds_module_next(F->ds, &idx, &m), 0);
	assert_null(m.name);

	/* the text as loaded from the file, comments included */
	assert_int_equal(ch_ds_schema(F->ds, "extra-mod", NULL, &text, &len),
			 CH_OK);
	assert_int_equal(len, strlen(EXTRA_YANG));
	assert_string_equal(text, EXTRA_YANG);
	free(text);
	assert_int_equal(ch_ds_schema(F->ds, "extra-mod", "2020-02-02", &text,
				      &len), CH_OK);
	assert_string_equal(text, EXTRA_YANG);
	free(text);
	/* a built-in module: libyang's rendering */
	assert_int_equal(ch_ds_schema(F->ds, "ietf-yang-types", "", &text,
				      &len), CH_OK);
	assert_int_equal(strncmp(text, "module ietf-yang-types {", 24), 0);
	assert_int_equal(strlen(text), len);
	free(text);
	assert_int_equal(ch_ds_schema(F->ds, "extra-mod", "2019-01-01", &text,
				      &len), CH_ERR_NOTFOUND);
	assert_null(text);
	assert_int_equal(ch_ds_schema(F->ds, "nosuch", NULL, &text, &len),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_ds_schema(F->ds, "callhome-nc-edit", NULL, &text,
				      &len), CH_ERR_NOTFOUND);
	assert_int_equal(len, 0);
}

static void test_lock_info(void **state)
{
	time_t since = 1, before = time(NULL);

	(void)state;
	assert_int_equal(ch_ds_lock_info(F->ds, CH_DS_RUNNING, &since), 0);
	assert_int_equal(since, 0);
	assert_int_equal(ch_ds_lock(F->ds, 7, CH_DS_RUNNING, &F->err), CH_OK);
	assert_int_equal(ch_ds_lock_info(F->ds, CH_DS_RUNNING, &since), 7);
	assert_true(since >= before && since <= time(NULL));
	assert_int_equal(ch_ds_lock_info(F->ds, CH_DS_CANDIDATE, &since), 0);
	assert_int_equal(since, 0);
	ch_ds_session_end(F->ds, 7);
	assert_int_equal(ch_ds_lock_info(F->ds, CH_DS_RUNNING, &since), 0);
}

/* What the change hook was told, in order. */
static struct {
	int calls;
	uint32_t sid[8];
	char edits[8][1024];
} seen;

static void on_change(void *ctx, uint32_t sid, const char *edits,
		      size_t len)
{
	assert_ptr_equal(ctx, &seen);
	assert_true(seen.calls < 8);
	seen.sid[seen.calls] = sid;
	snprintf(seen.edits[seen.calls], sizeof(seen.edits[0]), "%.*s",
		 (int)len, edits);
	seen.calls++;
}

#define XT "<target xmlns:callhome-test=\"" T "\">"
#define ED(path, op) "<edit>" XT path "</target><operation>" op \
	"</operation></edit>"

static void test_running_changes_reach_the_hook(void **state)
{
	struct ch_ds_commit conf = { .confirmed = 1, .timeout_s = 1 };
	struct ch_ds_commit plain = { .confirmed = 0 };

	(void)state;
	memset(&seen, 0, sizeof(seen));
	ch_ds_on_change(F->ds, on_change, &seen);
	assert_int_equal(edit_ex(7, CH_DS_RUNNING, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_THEN_SET, SYS "<hostname>a"
				 "</hostname><dns-server>x'y</dns-server>"
				 "</system>" IFS "<interface><name>e0"
				 "</name></interface></interfaces>"), CH_OK);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.sid[0], 7);
	assert_string_equal(seen.edits[0],
		ED("/callhome-test:system", "create")
		ED("/callhome-test:interfaces", "create"));
	assert_int_equal(edit_ex(8, CH_DS_RUNNING, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_THEN_SET, SYS "<hostname>b"
				 "</hostname><dns-server" OP("delete") ">x'y"
				 "</dns-server></system>" IFS "<interface>"
				 "<name>e0</name><description>d</description>"
				 "</interface></interfaces>"), CH_OK);
	assert_int_equal(seen.calls, 2);
	assert_int_equal(seen.sid[1], 8);
	assert_string_equal(seen.edits[1],
		ED("/callhome-test:system/callhome-test:hostname", "replace")
		ED("/callhome-test:system/callhome-test:dns-server"
		   "[.=\"x'y\"]", "delete")
		ED("/callhome-test:interfaces/callhome-test:interface"
		   "[callhome-test:name='e0']/callhome-test:description",
		   "create"));
	/* the candidate, test-only and failed edits change nothing */
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<hostname>c</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(edit_ex(1, CH_DS_RUNNING, CH_DS_DEFOP_MERGE,
				 CH_DS_TEST_ONLY, SYS "<mtu>100</mtu>"
				 "</system>"), CH_OK);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<mtu>1</mtu></system>"),
			 CH_ERR_INVAL);
	assert_int_equal(seen.calls, 2);
	/* a confirmed commit, then its rollback by the timer (sid 0) */
	assert_int_equal(ch_ds_commit(F->ds, 9, &conf, &F->err), CH_OK);
	assert_int_equal(seen.calls, 3);
	assert_int_equal(seen.sid[2], 9);
	/* the candidate was a copy of the empty running: no interfaces */
	assert_string_equal(seen.edits[2], ED("/callhome-test:system/"
		"callhome-test:hostname", "replace")
		ED("/callhome-test:interfaces", "delete"));
	uv_run(&F->loop, UV_RUN_DEFAULT);
	assert_int_equal(seen.calls, 4);
	assert_int_equal(seen.sid[3], 0);
	assert_string_equal(seen.edits[3], ED("/callhome-test:system/"
		"callhome-test:hostname", "replace")
		ED("/callhome-test:interfaces", "create"));
	/* a commit that changes nothing is no change; copy to startup
	 * neither; copy-config to running is one */
	assert_int_equal(ch_ds_commit(F->ds, 9, &plain, &F->err), CH_OK);
	assert_int_equal(ch_ds_copy(F->ds, 4, CH_DS_STARTUP, CH_DS_RUNNING,
				    NULL, &F->err), CH_OK);
	assert_int_equal(seen.calls, 4);
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<mtu>100</mtu></system>"),
			 CH_OK);
	assert_int_equal(ch_ds_copy(F->ds, 5, CH_DS_RUNNING, CH_DS_CANDIDATE,
				    NULL, &F->err), CH_OK);
	assert_int_equal(seen.calls, 5);
	assert_int_equal(seen.sid[4], 5);
	assert_string_equal(seen.edits[4], ED("/callhome-test:system/"
		"callhome-test:mtu", "create"));
	ch_ds_on_change(F->ds, NULL, NULL);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<mtu>200</mtu></system>"),
			 CH_OK);
	assert_int_equal(seen.calls, 5);
}

/* change.c: the --on-commit gate. A dry run computes a change of running
 * without making it; EXPECT makes only that same change. */
static void test_gate_dry_run_then_expect(void **state)
{
	char *run = NULL, *diff = NULL;

	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>a</hostname>"
			      "</system>"), CH_OK);
	ch_ds_gate(F->ds, CH_DS_GATE_DRY);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>b</hostname>"
			      "</system>"), CH_ERR_AGAIN);
	ch_ds_gate(F->ds, CH_DS_GATE_OFF);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>a</hostname>"
			    "</system>");
	assert_int_equal(ch_ds_gate_files(F->ds, &run, &diff), CH_OK);
	assert_non_null(strstr(run, "<hostname>b</hostname>"));
	assert_non_null(strstr(diff, "<hostname"));
	assert_non_null(strstr(diff, "replace"));
	free(run);
	free(diff);
	/* another change than the checked one is refused */
	ch_ds_gate(F->ds, CH_DS_GATE_EXPECT);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>c</hostname>"
			      "</system>"), CH_ERR_INVAL);
	assert_string_equal(F->err.tag, "operation-failed");
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>a</hostname>"
			    "</system>");
	/* the checked one is made */
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>b</hostname>"
			      "</system>"), CH_OK);
	ch_ds_gate(F->ds, CH_DS_GATE_OFF);
	assert_string_equal(get(CH_DS_RUNNING), SYS "<hostname>b</hostname>"
			    "</system>");
	/* a dry run that changes nothing has an empty diff; the candidate
	 * is never gated */
	ch_ds_gate(F->ds, CH_DS_GATE_DRY);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>b</hostname>"
			      "</system>"), CH_ERR_AGAIN);
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<mtu>100</mtu>"
			      "</system>"), CH_OK);
	ch_ds_gate(F->ds, CH_DS_GATE_OFF);
	assert_int_equal(ch_ds_gate_files(F->ds, &run, &diff), CH_OK);
	assert_string_equal(diff, "");
	free(run);
	free(diff);
}

static int refuse(void *ctx, const struct lyd_node *tree, char *msg,
		  size_t len)
{
	(void)ctx;
	assert_non_null(tree);
	snprintf(msg, len, "no change today");
	return CH_ERR_INVAL;
}

static void count_settle(void *ctx)
{
	(*(int *)ctx)++;
}

/* change.c: the checker refuses a new running with its message; the
 * settle listener hears of running once it is final. */
static void test_check_and_settle(void **state)
{
	struct ch_ds_commit conf = { .confirmed = 1, .timeout_s = 60 };
	struct ch_ds_commit plain = { .confirmed = 0 };
	int settles = 0;

	(void)state;
	ch_ds_on_settle(F->ds, count_settle, &settles);
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>a</hostname>"
			      "</system>"), CH_OK);
	assert_int_equal(settles, 1);
	ch_ds_on_check(F->ds, refuse, NULL);
	assert_int_equal(edit(CH_DS_CANDIDATE, SYS "<mtu>100</mtu>"
			      "</system>"), CH_OK);	/* not running */
	assert_int_equal(ch_ds_commit(F->ds, 1, &plain, &F->err),
			 CH_ERR_INVAL);
	assert_string_equal(F->err.tag, "operation-failed");
	assert_string_equal(F->err.message, "no change today");
	assert_null(strstr(get(CH_DS_RUNNING), "<mtu>"));
	assert_int_equal(settles, 1);
	ch_ds_on_check(F->ds, NULL, NULL);
	/* a confirmed commit settles when it is confirmed */
	assert_int_equal(ch_ds_commit(F->ds, 1, &conf, &F->err), CH_OK);
	assert_int_equal(settles, 1);
	assert_int_equal(ch_ds_commit(F->ds, 1, &plain, &F->err), CH_OK);
	assert_int_equal(settles, 2);
	assert_non_null(strstr(get(CH_DS_RUNNING), "<mtu>100</mtu>"));
	assert_non_null(ch_ds_running_tree(F->ds));
	ch_ds_on_settle(F->ds, NULL, NULL);
}

/* xpath.c: the filter's prefixes are its own declarations; the result
 * keeps the selected nodes' ancestors. */
static void test_xpath_filter(void **state)
{
	const char *prefixes[] = { "t" }, *nss[] = { T };
	char *out = NULL;

	(void)state;
	assert_int_equal(edit(CH_DS_RUNNING, SYS "<hostname>a</hostname>"
			      "<mtu>1400</mtu></system>"), CH_OK);
	assert_int_equal(ch_ds_xpath(F->ds, get(CH_DS_RUNNING),
				     "/t:system/t:hostname", prefixes, nss, 1,
				     &out, &F->err), CH_OK);
	assert_string_equal(out, SYS "<hostname>a</hostname></system>");
	free(out);
	assert_int_equal(ch_ds_xpath(F->ds, get(CH_DS_RUNNING),
				     "/t:system/t:banner", prefixes, nss, 1,
				     &out, &F->err), CH_OK);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(ch_ds_xpath(F->ds, get(CH_DS_RUNNING),
				     "/x:system", prefixes, nss, 1, &out,
				     &F->err), CH_ERR_INVAL);
	assert_null(out);
	assert_string_equal(F->err.tag, "invalid-value");
	assert_int_equal(ch_ds_id_parse("candidate"), CH_DS_CANDIDATE);
	assert_int_equal(ch_ds_id_parse("nope"), -1);
	assert_string_equal(ch_ds_id_name(CH_DS_STARTUP), "startup");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T_(test_caps_advertise_module_and_features),
		T_(test_identityref_prefix_on_the_leaf),
		T_(test_unknown_module_refuses_to_open),
		T_(test_feature_off_hides_its_node),
		T_(test_merge_creates_then_updates_a_leaf),
		T_(test_create_and_delete_report_exists_and_missing),
		T_(test_lists_are_matched_by_key),
		T_(test_leaf_lists_are_matched_by_value),
		T_(test_choice_case_switch),
		T_(test_defaults_are_not_configuration),
		T_(test_presence_container_and_mandatory),
		T_(test_identityref_prefix_declared_on_an_ancestor),
		T_(test_default_operation_none),
		T_(test_default_operation_replace_replaces_everything),
		T_(test_test_only_changes_nothing),
		T_(test_set_leaves_the_candidate_unvalidated),
		T_(test_error_rolls_back_the_whole_edit),
		T_(test_schema_errors),
		T_(test_persistence_round_trip),
		T_(test_invalid_stored_data_refuses_to_open),
		T_(test_copy_delete_validate),
		T_(test_locks),
		T_(test_candidate_commit_discard_and_lock),
		T_(test_confirmed_commit_rolls_back_on_timeout),
		T_(test_confirming_commit_and_session_end),
		T_(test_persist_and_cancel_commit),
		T_(test_unconfirmed_commit_is_undone_at_the_next_start),
		T_(test_module_file_schemas_and_their_text),
		T_(test_lock_info),
		T_(test_running_changes_reach_the_hook),
		T_(test_gate_dry_run_then_expect),
		T_(test_check_and_settle),
		T_(test_xpath_filter),
#undef T_
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
