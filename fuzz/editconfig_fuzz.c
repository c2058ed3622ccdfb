/* editconfig_fuzz.c - libFuzzer target for <edit-config> on callhomed's
 * libyang datastore (ch_ds_edit, src/agent/datastore/edit.c).
 *
 * The schema: tests/yang's callhome-test (feature banner; containers, a
 * presence container, keyed and nested lists, a two-key list, leaf-lists
 * ordered by the system and by the user, a choice, defaults, an
 * identityref, a unique, config false), examples/yang's example-system
 * and the built-in callhome-netconf-server module, as callhomed loads
 * them. The datastore lives in a scratch directory (/dev/shm when there
 * is one) and is opened once.
 *
 * The first input byte steers the run, the rest is the <config> element
 * (XML; its children are the edit, with nc:operation attributes in the
 * base namespace, and yang:insert ones for user-ordered entries):
 *   bit 0     target: candidate or running
 *   bits 1-2  default-operation: merge, replace, none (3: merge)
 *   bits 3-4  test-option: test-then-set, set, test-only (3: test-then-set)
 *   bit 5     another session holds the target's lock
 *   bit 6     the datastores start from BASE rather than empty
 * Checks: an edit is all-or-nothing (a refusal, test-only and a lock held
 * by another session change nothing, and every refusal carries an
 * error-type and error-tag); the datastore not targeted never changes;
 * running stays valid, and so does the candidate unless "set" was asked.
 * Every input starts from the same state, so a crash replays alone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libyang/libyang.h>

#include "agent/chconfig.h"
#include "agent/datastore.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

#define ME 1
#define OTHER 2
#define BASE \
	"<config xmlns=\"" CH_NC_NS "\">" \
	"<system xmlns=\"urn:callhome:params:xml:ns:yang:callhome-test\">" \
	"<hostname>base</hostname><dns-server>192.0.2.53</dns-server>" \
	"<logging><level>info</level><facility>auth</facility>" \
	"<facility>daemon</facility></logging></system>" \
	"<interfaces xmlns=\"urn:callhome:params:xml:ns:yang:callhome-test\">" \
	"<interface><name>eth0</name><description>up</description>" \
	"<tag>lan</tag><address><ip>192.0.2.1</ip>" \
	"<prefix-length>24</prefix-length></address></interface>" \
	"</interfaces>" \
	"<system xmlns=\"urn:example:system\"><hostname>dev1</hostname>" \
	"<ntp-server><address>192.0.2.123</address></ntp-server></system>" \
	"</config>"
#define EMPTY "<config xmlns=\"" CH_NC_NS "\"/>"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ch_ds *ds;
static char dir[64];
static int at_base = -1;	/* what the datastores hold now */

static void remove_all(void)
{
	static const char *const files[] = {
		"running.xml", "startup.xml", "rollback.xml",
	};
	char path[128];

	ch_ds_close(ds);	/* no loop: no timer */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void open_once(void)
{
	const char *yang_dirs[] = {
		CH_FUZZ_SOURCE_DIR "/tests/yang",
		CH_FUZZ_SOURCE_DIR "/examples/yang",
	};
	const char *modules[] = { "callhome-test:banner", "example-system" };
	const char *builtin[] = { chc_module_yang };
	struct ch_ds_config cfg = {
		.dir = dir, .yang_dirs = yang_dirs, .nyang_dirs = 2,
		.modules = modules, .nmodules = 2,
		.builtin = builtin, .nbuiltin = 1,
	};

	snprintf(dir, sizeof(dir), "%s/ch-fuzz-ds-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	ch_log_set_level(CH_LOG_ERROR - 1);	/* below every level */
	if (ch_ds_open(&cfg, &ds) != CH_OK)
		abort();
	ly_log_options(LY_LOSTORE_LAST);	/* errors kept, not printed */
	atexit(remove_all);
}

static char *get(enum ch_ds_id id)
{
	struct ch_ds_err err;
	char *xml;
	size_t len;

	if (ch_ds_get(ds, id, &xml, &len, &err) != CH_OK)
		abort();
	return xml;
}

/* Running and the candidate hold BASE (base) or nothing. */
static void reset(int base)
{
	const char *text = base ? BASE : EMPTY;
	struct ch_ds_err err;
	xmlDoc *doc = NULL;

	ch_ds_session_end(ds, OTHER);
	ch_ds_session_end(ds, ME);
	if (at_base != base) {
		if (ch_xml_parse(text, strlen(text), &doc) != CH_OK ||
		    ch_ds_copy(ds, ME, CH_DS_RUNNING, -1,
			       xmlDocGetRootElement(doc), &err) != CH_OK)
			abort();
		xmlFreeDoc(doc);
		at_base = base;
	}
	if (ch_ds_discard(ds, ME, &err) != CH_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ch_ds_id target, other;
	enum ch_ds_defop defop;
	enum ch_ds_test test;
	struct ch_ds_err err;
	char *before, *before_other, *after;
	xmlDoc *doc = NULL;
	unsigned int ctl;
	int r, locked;

	if (ds == NULL)
		open_once();
	if (size < 1)
		return 0;
	ctl = data[0];
	target = (ctl & 1) ? CH_DS_RUNNING : CH_DS_CANDIDATE;
	other = target == CH_DS_RUNNING ? CH_DS_CANDIDATE : CH_DS_RUNNING;
	defop = ((ctl >> 1) & 3) == 3 ? CH_DS_DEFOP_MERGE
				      : (enum ch_ds_defop)((ctl >> 1) & 3);
	test = ((ctl >> 3) & 3) == 3 ? CH_DS_TEST_THEN_SET
				     : (enum ch_ds_test)((ctl >> 3) & 3);
	locked = (ctl >> 5) & 1;
	if (ch_xml_parse((const char *)data + 1, size - 1, &doc) != CH_OK)
		return 0;
	reset((ctl >> 6) & 1);
	if (locked && ch_ds_lock(ds, OTHER, target, &err) != CH_OK)
		abort();
	before = get(target);
	before_other = get(other);
	r = ch_ds_edit(ds, ME, target, defop, test, xmlDocGetRootElement(doc),
		       &err);
	after = get(target);
	if (r != CH_OK && (err.type == NULL || err.tag == NULL))
		abort();
	if ((r != CH_OK || test == CH_DS_TEST_ONLY || locked) &&
	    strcmp(before, after) != 0)
		abort();
	if (locked && r == CH_OK)
		abort();
	free(after);
	after = get(other);
	if (strcmp(before_other, after) != 0)
		abort();
	if (ch_ds_validate(ds, CH_DS_RUNNING, NULL, &err) != CH_OK ||
	    (!(target == CH_DS_CANDIDATE && test == CH_DS_TEST_SET) &&
	     ch_ds_validate(ds, CH_DS_CANDIDATE, NULL, &err) != CH_OK))
		abort();
	if (r == CH_OK && target == CH_DS_RUNNING && test != CH_DS_TEST_ONLY)
		at_base = -1;	/* running changed: reset it next time */
	free(after);
	free(before_other);
	free(before);
	xmlFreeDoc(doc);
	return 0;
}
