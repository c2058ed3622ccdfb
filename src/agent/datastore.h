/* datastore.h - the device's schema-aware NETCONF datastores (RFC 6241)
 * on libyang 2: running, candidate and startup as validated data trees,
 * persisted as XML, with locks and confirmed commits. The code is in
 * src/agent/datastore/, a file a concern (core.c lists them).
 *
 * One ch_ds per agent process; every NETCONF session shares it and names
 * itself by its session-id. Every operation is all-or-nothing: it works
 * on a copy, validates it and only then swaps it in (and writes the file
 * first when the datastore is persistent), so an error, a failed
 * validation or a failed write leaves memory and disk as they were.
 *
 * Files in the datastore directory (each written with
 * ch_file_write_atomic, content as lyd_print_mem prints it: explicit
 * nodes, no defaults):
 *   running.xml   the running configuration, after every change;
 *   startup.xml   the startup configuration, when one was saved
 *                 (copy-config to startup); absent: the device boots
 *                 from running.xml;
 *   rollback.xml  the configuration before a pending confirmed commit;
 *                 found at start (the agent stopped before the confirming
 *                 commit), it is restored as running.
 *
 * Errors: every function that answers an rpc returns CH_OK or a negative
 * CH_ERR_* with *err filled for the <rpc-error> (RFC 6241 appendix A).
 */
#ifndef CH_DATASTORE_H
#define CH_DATASTORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libxml/tree.h>
#include <uv.h>

#include "lib/core/limits.h"

struct lyd_node;

#define CH_DS_ERR_PATH_MAX	1024
#define CH_DS_ERR_MSG_MAX	1024
#define CH_DS_ERR_INFO_MAX	512
#define CH_DS_ERR_APPTAG_MAX	128

enum ch_ds_id {
	CH_DS_RUNNING = 0,
	CH_DS_CANDIDATE = 1,
	CH_DS_STARTUP = 2,
};
#define CH_DS_COUNT 3

enum ch_ds_defop {
	CH_DS_DEFOP_MERGE = 0,
	CH_DS_DEFOP_REPLACE,
	CH_DS_DEFOP_NONE,
};

enum ch_ds_test {
	CH_DS_TEST_THEN_SET = 0,
	CH_DS_TEST_SET,
	CH_DS_TEST_ONLY,
};

struct ch_ds_config {
	const char *dir;		/* the datastore directory */
	const char *const *yang_dirs;	/* schema search directories */
	size_t nyang_dirs;
	/* NAME[@REVISION][:FEATURE,...] or NAME[@REVISION]:* (all
	 * features); a module without a feature list has none enabled. */
	const char *const *modules;
	size_t nmodules;
	/* YANG texts of modules the agent itself implements (all their
	 * features off), loaded before the modules above. */
	const char *const *builtin;
	size_t nbuiltin;
	uv_loop_t *loop;		/* for the confirmed-commit timer */
};

/* One <rpc-error>: type and tag are static; empty strings are omitted. */
struct ch_ds_err {
	const char *type;
	const char *tag;
	char app_tag[CH_DS_ERR_APPTAG_MAX];
	char path[CH_DS_ERR_PATH_MAX];
	char message[CH_DS_ERR_MSG_MAX];
	char info[CH_DS_ERR_INFO_MAX];	/* XML inside <error-info> */
};

struct ch_ds;

/* Builds the schema context and loads the datastores from cfg->dir
 * (see above). Any problem (a module that does not load, stored data
 * that is not valid against the schemas) is logged with the reason and
 * returned: the agent must not start on a configuration it cannot
 * read. Borrows cfg's strings only during the call. */
int ch_ds_open(const struct ch_ds_config *cfg, struct ch_ds **out);
/* Frees everything. The timer handle is closed here unless it is
 * already closing (after uv_walk closed every handle); its memory is
 * then released by the loop's close callback, so run the loop once
 * more before uv_loop_close when it was not closed yet. NULL is fine. */
void ch_ds_close(struct ch_ds *ds);

/* The capabilities this datastore gives the hello, besides the base
 * ones: :writable-running, :candidate, :confirmed-commit:1.1,
 * :rollback-on-error, :validate:1.1, :startup, and one
 * NS?module=NAME[&revision=REV][&features=...] per implemented module
 * (RFC 6020 5.6.4). Borrowed; valid until ch_ds_close. */
const char *const *ch_ds_caps(const struct ch_ds *ds, size_t *n);

/* Loads and implements one more module from a YANG file (the agent's
 * own, such as ietf-netconf-monitoring); its capability joins
 * ch_ds_caps, whose earlier list is then invalid. A failure is logged
 * (warning) and returned; the datastore is unchanged. */
int ch_ds_load_module_file(struct ch_ds *ds, const char *path);

/* An implemented module (borrowed strings, valid until ch_ds_close);
 * revision is "" when the module has none. */
struct ch_ds_module {
	const char *name;
	const char *revision;
	const char *ns;
};

/* Iterates the implemented modules, the advertised ones: start with
 * *idx = 0; 1 while *m is filled, 0 at the end. */
int ch_ds_module_next(const struct ch_ds *ds, uint32_t *idx,
		      struct ch_ds_module *m);

/* The YANG text of a module of the schema context (implemented or
 * imported) in a new string the caller frees: the file it was loaded
 * from, or libyang's rendering. revision NULL or "": the implemented
 * revision, else the latest. CH_ERR_NOTFOUND when there is no such
 * module. */
int ch_ds_schema(struct ch_ds *ds, const char *name, const char *revision,
		 char **text, size_t *len);

/* ietf-yang-library (RFC 8525, revision 2019-01-04, and the deprecated
 * modules-state) state data for the schema context, as XML content in a
 * new string the caller frees, content-id/module-set-id being
 * ch_ds_yanglib_id; the internal callhome-nc-edit module is left out. */
int ch_ds_yanglib(struct ch_ds *ds, char **xml);
uint32_t ch_ds_yanglib_id(const struct ch_ds *ds);

/* "running", "candidate", "startup" -> the id; -1 otherwise. */
int ch_ds_id_parse(const char *name);
const char *ch_ds_id_name(enum ch_ds_id id);

/* The configuration in id as XML content (top-level elements, each with
 * its namespace; "" when empty) in a new string the caller frees. */
int ch_ds_get(struct ch_ds *ds, enum ch_ds_id id, char **xml, size_t *len,
	      struct ch_ds_err *err);

/* An XPath filter (RFC 6241 8.9) on xml (XML content such as ch_ds_get
 * gives, state data of loaded modules too): select, whose prefixes are
 * prefixes[i] for namespace nss[i] (the filter element's in-scope
 * declarations), is evaluated by libyang; the selected nodes with their
 * ancestors and list keys are printed to *out (a new string, "" when
 * nothing matched). invalid-value for an expression that does not parse
 * or whose result is not a node-set, or an undeclared prefix. */
int ch_ds_xpath(struct ch_ds *ds, const char *xml, const char *select,
		const char *const *prefixes, const char *const *nss,
		size_t nns, char **out, struct ch_ds_err *err);

/* <edit-config> on target (running or candidate) with the element
 * children of config (the <config> element; libxml2, borrowed) and their
 * base-namespace operation attributes: merge, replace, create (error
 * data-exists when present), delete (data-missing when absent), remove.
 * List entries are matched by their keys, leaf-list entries by value;
 * default-operation replace replaces the whole datastore. Always
 * all-or-nothing, which is also what rollback-on-error asks. test-only
 * validates and changes nothing; set skips validation, on the candidate
 * only (running is always valid). */
int ch_ds_edit(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
	       enum ch_ds_defop defop, enum ch_ds_test test,
	       const xmlNode *config, struct ch_ds_err *err);

/* <copy-config>: source is a datastore id, or -1 with config the inline
 * <config> element. Source equal to target is invalid-value. */
int ch_ds_copy(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
	       int source, const xmlNode *config, struct ch_ds_err *err);
/* <delete-config>: startup only (running and candidate cannot be). */
int ch_ds_delete(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
		 struct ch_ds_err *err);
/* <validate>: source is a datastore id, or -1 with config inline. */
int ch_ds_validate(struct ch_ds *ds, int source, const xmlNode *config,
		   struct ch_ds_err *err);

int ch_ds_lock(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
	       struct ch_ds_err *err);
int ch_ds_unlock(struct ch_ds *ds, uint32_t sid, enum ch_ds_id target,
		 struct ch_ds_err *err);
/* The session holding target's lock and since when (*since), 0 and 0
 * when none. */
uint32_t ch_ds_lock_info(const struct ch_ds *ds, enum ch_ds_id target,
			 time_t *since);
/* The session holding target's lock, 0 when none. */
uint32_t ch_ds_lock_holder(const struct ch_ds *ds, enum ch_ds_id target);

/* <commit> parameters (RFC 6241 8.3.4.1, 8.4.5.1). persist and
 * persist_id are NULL when absent. */
struct ch_ds_commit {
	int confirmed;
	uint32_t timeout_s;		/* 0 means the default */
	const char *persist;
	const char *persist_id;
};

int ch_ds_commit(struct ch_ds *ds, uint32_t sid, const struct ch_ds_commit *c,
		 struct ch_ds_err *err);
int ch_ds_cancel_commit(struct ch_ds *ds, uint32_t sid, const char *persist_id,
			struct ch_ds_err *err);
int ch_ds_discard(struct ch_ds *ds, uint32_t sid, struct ch_ds_err *err);
/* Whether a confirmed commit waits for its confirmation. */
int ch_ds_confirm_pending(const struct ch_ds *ds);

/* fn is told of every change of running, after it is made (edit-config,
 * copy-config, commit, a confirmed commit's rollback): sid is the session
 * that made it, 0 for the agent itself (a confirm-timeout, the end of the
 * session that made the confirmed commit), and edits is the change as
 * RFC 6470 <edit> elements (ietf-netconf-notifications namespace left to
 * the parent), each with <target> (an XML instance-identifier whose
 * prefixes are the module names, declared on it) and <operation>
 * (create, delete, replace). Borrowed during the call; fn must not call
 * back into the datastore. Adds fn to at most CH_DS_MAX_LISTENERS
 * listeners, told in the order they were added; NULL removes them
 * all. */
void ch_ds_on_change(struct ch_ds *ds,
		     void (*fn)(void *ctx, uint32_t sid, const char *edits,
				size_t len),
		     void *ctx);

/* fn is told when running is final after a change: at once for a change
 * outside a confirmed commit, and when a pending confirmed commit is
 * confirmed or rolled back (not when it is made or extended). Settings
 * whose change would cut the manager off (the call-home configuration)
 * are applied then. fn must not call back into the datastore from the
 * call (it may schedule work). One listener; NULL removes it. */
void ch_ds_on_settle(struct ch_ds *ds, void (*fn)(void *ctx), void *ctx);

/* fn checks every new running configuration before it is made (after
 * the schema's validation, before --on-commit's program): CH_OK lets it
 * through; anything else refuses the change with operation-failed and
 * the text fn puts in msg. For what the schema cannot say (the agent's
 * own limits). One checker; NULL removes it. */
void ch_ds_on_check(struct ch_ds *ds,
		    int (*fn)(void *ctx, const struct lyd_node *tree,
			      char *msg, size_t len),
		    void *ctx);

/* Running as a libyang data tree (defaults included), borrowed: valid
 * until the next change of running. NULL when empty. */
const struct lyd_node *ch_ds_running_tree(const struct ch_ds *ds);

/* An external check of every change of running (callhomed --on-commit):
 *  DRY     the next change of running (edit-config, copy-config, commit)
 *          is computed and validated but not made: the call returns
 *          CH_ERR_AGAIN (err says so) and ch_ds_gate_files gives what it
 *          would be. Changes of other datastores are made as usual;
 *  EXPECT  a change of running is made only when it gives the same
 *          configuration as the last dry run (operation-failed
 *          otherwise, nothing changed): another session may have changed
 *          running while the check ran;
 *  OFF     as usual (the rollback of a confirmed commit is never gated).
 */
enum ch_ds_gate {
	CH_DS_GATE_OFF = 0,
	CH_DS_GATE_DRY,
	CH_DS_GATE_EXPECT,
};
void ch_ds_gate(struct ch_ds *ds, enum ch_ds_gate mode);
/* After a dry run: the new running configuration and the diff from the
 * current one (lyd_diff_siblings, with yang:operation attributes), both
 * XML in new strings the caller frees; *diff is "" when nothing would
 * change. */
int ch_ds_gate_files(struct ch_ds *ds, char **running, char **diff);

/* A session ended: its locks are released (the candidate's with its
 * uncommitted changes) and its pending confirmed commit, unless made
 * with <persist>, is rolled back (RFC 6241 8.4.1). */
void ch_ds_session_end(struct ch_ds *ds, uint32_t sid);

#endif
