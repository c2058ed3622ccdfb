/* internal.h - what the files of src/agent/datastore/ share, and no
 * one else: struct ch_ds, the rpc-error helpers, the trees' common
 * operations, and the one way a datastore changes (store). The public
 * API is datastore.h.
 */
#ifndef CH_AGENT_DATASTORE_INTERNAL_H
#define CH_AGENT_DATASTORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libxml/tree.h>
#include <libyang/libyang.h>
#include <uv.h>

#include "agent/datastore.h"

#define EDIT_NS "urn:callhome:params:xml:ns:yang:callhome-nc-edit"
#define EDIT_PREFIX "callhome-nc-edit"
#define FILE_MODE 0600

/* "running", "candidate", "startup", by enum ch_ds_id. */
extern const char *const ds_names[CH_DS_COUNT];

struct ch_ds {
	struct ly_ctx *ctx;
	const struct lys_module *emod;	/* the internal annotation module */
	char *dir;
	struct lyd_node *tree[CH_DS_COUNT];
	int startup_saved;		/* startup.xml exists */
	uint32_t lock[CH_DS_COUNT];	/* holder's session-id, 0: none */
	time_t lock_time[CH_DS_COUNT];	/* when it was taken */
	/* A confirmed commit waiting for its confirmation. */
	int pending;
	struct lyd_node *rollback;	/* running before it */
	uint32_t owner;			/* its session; 0 with persist */
	char *persist;			/* its <persist> token, or NULL */
	uv_timer_t timer;
	int timer_init;
	char **caps;
	size_t ncaps;
	/* Told of every change of running (ch_ds_on_change). */
	struct {
		void (*fn)(void *ctx, uint32_t sid, const char *edits,
			   size_t len);
		void *ctx;
	} on_change[CH_DS_MAX_LISTENERS];
	/* Checks a new running before it is made (ch_ds_on_check). */
	int (*check)(void *ctx, const struct lyd_node *tree, char *msg,
		     size_t len);
	void *check_ctx;
	/* Told when running settles (ch_ds_on_settle). */
	void (*on_settle)(void *ctx);
	void *settle_ctx;
	uint32_t cur_sid;		/* the session of the running call */
	/* The external check of changes of running (ch_ds_gate). */
	enum ch_ds_gate gate;
	struct lyd_node *gate_tree;	/* the last dry run's running */
	int in_commit;			/* inside ch_ds_commit's store */
};

/* RFC 6241 7.2's operations; ED_INHERIT: the parent's. */
enum ed_op {
	ED_BAD = -2,
	ED_INHERIT = -1,
	ED_NONE = 0,
	ED_MERGE,
	ED_REPLACE,
	ED_CREATE,
	ED_DELETE,
	ED_REMOVE,
};

/* ---- errors (core.c): fill *err for the <rpc-error> ---- */

/* err as "no error". */
void err_clear(struct ch_ds_err *err);

/* Sets err's type, tag and message; returns CH_ERR_INVAL. */
__attribute__((format(printf, 4, 5)))
int fail(struct ch_ds_err *err, const char *type, const char *tag,
	 const char *fmt, ...);

/* Appends <name>text</name>, escaped, to err->info (truncation drops
 * the element rather than emitting broken XML). */
void err_info(struct ch_ds_err *err, const char *name,
	      const char *text);

/* err's <error-path>: n's data path. */
void err_path(struct ch_ds_err *err, const struct lyd_node *n);

/* n's name, of its schema node or, opaque, its own. */
const char *node_name(const struct lyd_node *n);

/* Fills err from libyang's last error: YANG constraint violations are
 * mapped per RFC 7950 15 (app tags from libyang), a mandatory node to
 * missing-element, a bad value to invalid-value. */
int fail_ly(struct ch_ds *ds, struct ch_ds_err *err, const char *what);

/* resource-denied; returns CH_ERR_NOMEM. */
int fail_nomem(struct ch_ds_err *err);

/* ---- trees (core.c) ---- */

/* What a datastore holds; startup, before one was saved, is what the
 * device boots from: the running configuration. */
struct lyd_node *view(const struct ch_ds *ds, int id);

/* A copy of t's siblings with their flags (NULL for NULL). */
int tree_dup(const struct lyd_node *t, struct lyd_node **out);

/* Whether two configurations are the same data. */
int trees_equal(const struct lyd_node *a, const struct lyd_node *b);

/* Whether the candidate differs from running. */
int candidate_modified(const struct ch_ds *ds);

/* Validates *tree against the schemas, adding defaults. */
int validate(struct ch_ds *ds, struct lyd_node **tree,
	     struct ch_ds_err *err);

/* ---- files (persist.c) ---- */

/* Serialises a configuration: explicit nodes only (defaults come back
 * with validation), "" for an empty one. */
int print_tree(const struct lyd_node *t, uint32_t opts, char **out);

/* Writes t to the file name of the datastore directory, atomically;
 * operation-failed when it cannot. */
int save(struct ch_ds *ds, const char *name, const struct lyd_node *t,
	 struct ch_ds_err *err);

/* Removes the file name (an absent one is fine). */
void drop_file(struct ch_ds *ds, const char *name);

/* running := startup if saved, else running.xml, unless a confirmed
 * commit was left unconfirmed (rollback.xml): then what it replaced. */
int load_all(struct ch_ds *ds);

/* ---- changes (change.c) ---- */

/* Tells the on_change hook that running went from old to new. */
void changed(struct ch_ds *ds, const struct lyd_node *old,
	     const struct lyd_node *new);

/* Running is final: no confirmed commit waits (see ch_ds_on_settle). */
void settled(struct ch_ds *ds);

/* Replaces datastore id by *work (taken): running and a saved startup
 * are written first, so a failed write changes nothing. */
int store(struct ch_ds *ds, int id, struct lyd_node **work,
	  struct ch_ds_err *err);

/* The candidate starts over as a copy of running. */
void reset_candidate(struct ch_ds *ds);

/* ---- the rest ---- */

/* edit.c: applies config to *work with default operation op. */
int apply_config(struct ch_ds *ds, const xmlNode *config,
		 enum ed_op op, struct lyd_node **work,
		 struct ch_ds_err *err);

/* lock.c */
/* Whether id is locked by a session other than sid (in-use in err). */
int locked_by_other(struct ch_ds *ds, uint32_t sid, int id,
		    struct ch_ds_err *err);

/* Ends target's lock; the candidate's takes its changes along. */
void release(struct ch_ds *ds, enum ch_ds_id target, const char *why);

/* schema.c: the hello's capabilities of the schema context. */
int build_caps(struct ch_ds *ds);

/* Frees what build_caps made. */
void free_caps(struct ch_ds *ds);

#endif
