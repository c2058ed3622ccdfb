/* core.c - the datastores' names, the trees' common operations and the
 * rpc-error helpers (internal.h).
 * The other files of src/agent/datastore/: edit.c (edit-config), copy.c
 * (get, copy-config, delete-config, validate), lock.c, commit.c
 * (commit, confirmed commit, discard, a session's end), change.c (how
 * running changes, and who is told), persist.c (the files), xpath.c,
 * schema.c (ch_ds_open and ch_ds_close, modules, capabilities,
 * yang-library).
 */
#include "agent/datastore.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "agent/datastore/internal.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

const char *const ds_names[CH_DS_COUNT] = {
	[CH_DS_RUNNING] = "running",
	[CH_DS_CANDIDATE] = "candidate",
	[CH_DS_STARTUP] = "startup",
};

void err_clear(struct ch_ds_err *err)
{
	memset(err, 0, sizeof(*err));
}

__attribute__((format(printf, 4, 5)))
int fail(struct ch_ds_err *err, const char *type, const char *tag,
	 const char *fmt, ...)
{
	va_list ap;

	err->type = type;
	err->tag = tag;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return CH_ERR_INVAL;
}

/* Appends <name>text</name>, escaped, to err->info (truncation drops
 * the element rather than emitting broken XML). */
void err_info(struct ch_ds_err *err, const char *name,
	      const char *text)
{
	struct ch_buf b;
	size_t have = strlen(err->info);

	ch_buf_init(&b, sizeof(err->info) - have - 1);
	if (ch_buf_printf(&b, "<%s>", name) == CH_OK &&
	    ch_xml_escape(&b, text, strlen(text)) == CH_OK &&
	    ch_buf_printf(&b, "</%s>", name) == CH_OK)
		memcpy(err->info + have, ch_buf_ptr(&b), ch_buf_len(&b) + 1);
	ch_buf_cleanup(&b);
}

void err_path(struct ch_ds_err *err, const struct lyd_node *n)
{
	char *p = lyd_path(n, LYD_PATH_STD, NULL, 0);

	if (p != NULL)
		snprintf(err->path, sizeof(err->path), "%s", p);
	free(p);
}

const char *node_name(const struct lyd_node *n)
{
	return n->schema ? n->schema->name
			 : ((const struct lyd_node_opaq *)n)->name.name;
}

/* The name inside the first pair of double quotes of msg, for
 * <bad-element>; libyang quotes the node a message is about. */
static void quoted_name(const char *msg, char *out, size_t outlen)
{
	const char *a = strchr(msg, '"'), *b = a ? strchr(a + 1, '"') : NULL;

	out[0] = '\0';
	if (b != NULL && (size_t)(b - a - 1) < outlen) {
		memcpy(out, a + 1, (size_t)(b - a - 1));
		out[b - a - 1] = '\0';
	}
}

/* Fills err from libyang's last error: YANG constraint violations are
 * mapped per RFC 7950 15 (app tags from libyang), a mandatory node to
 * missing-element, a bad value to invalid-value. */
int fail_ly(struct ch_ds *ds, struct ch_ds_err *err, const char *what)
{
	const struct ly_err_item *i = ly_err_last(ds->ctx);
	const char *msg = i && i->msg ? i->msg : "internal libyang error";
	const char *tag = "operation-failed";
	char name[128];

	if (i && i->apptag && (strcmp(i->apptag, "missing-choice") == 0 ||
			       strcmp(i->apptag, "instance-required") == 0))
		tag = "data-missing";
	else if (i && i->apptag && i->apptag[0])
		tag = "operation-failed";
	else if (i && i->vecode == LYVE_DATA &&
		 strncmp(msg, "Mandatory node", 14) == 0)
		tag = "missing-element";
	else if (i && i->vecode == LYVE_DATA)
		tag = "invalid-value";
	fail(err, "application", tag, "%s: %s", what, msg);
	/* The path may come as 'Data location "/a:b/c", line number 1.' */
	if (i && i->path && strchr(i->path, '"') != NULL)
		quoted_name(i->path, err->path, sizeof(err->path));
	else if (i && i->path)
		snprintf(err->path, sizeof(err->path), "%s", i->path);
	if (i && i->apptag)
		snprintf(err->app_tag, sizeof(err->app_tag), "%s", i->apptag);
	if (strcmp(tag, "missing-element") == 0) {
		quoted_name(msg, name, sizeof(name));
		if (name[0])
			err_info(err, "bad-element", name);
	}
	ly_err_clean(ds->ctx, NULL);
	return CH_ERR_INVAL;
}

int fail_nomem(struct ch_ds_err *err)
{
	fail(err, "application", "resource-denied", "out of memory");
	return CH_ERR_NOMEM;
}

int ch_ds_id_parse(const char *name)
{
	for (int i = 0; i < CH_DS_COUNT; i++)
		if (strcmp(name, ds_names[i]) == 0)
			return i;
	return -1;
}

const char *ch_ds_id_name(enum ch_ds_id id)
{
	return (unsigned)id < CH_DS_COUNT ? ds_names[id] : "?";
}

/* What a datastore holds; startup, before one was saved, is what the
 * device boots from: the running configuration. */
struct lyd_node *view(const struct ch_ds *ds, int id)
{
	if (id == CH_DS_STARTUP && !ds->startup_saved)
		return ds->tree[CH_DS_RUNNING];
	return ds->tree[id];
}

int tree_dup(const struct lyd_node *t, struct lyd_node **out)
{
	*out = NULL;
	if (t == NULL)
		return CH_OK;
	/* With the flags: validated nodes are not "new", so a choice's case
	 * switch is seen only for what an edit adds. */
	if (lyd_dup_siblings(lyd_first_sibling(t), NULL,
			     LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS,
			     out) != LY_SUCCESS)
		return CH_ERR_NOMEM;
	return CH_OK;
}

int trees_equal(const struct lyd_node *a, const struct lyd_node *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return lyd_compare_siblings(lyd_first_sibling(a), lyd_first_sibling(b),
				    LYD_COMPARE_FULL_RECURSION) == LY_SUCCESS;
}

int candidate_modified(const struct ch_ds *ds)
{
	return !trees_equal(ds->tree[CH_DS_CANDIDATE], ds->tree[CH_DS_RUNNING]);
}

int validate(struct ch_ds *ds, struct lyd_node **tree,
	     struct ch_ds_err *err)
{
	if (*tree == NULL)
		return CH_OK;
	if (lyd_validate_all(tree, ds->ctx,
			     LYD_VALIDATE_PRESENT | LYD_VALIDATE_NO_STATE,
			     NULL) != LY_SUCCESS)
		return fail_ly(ds, err, "validation failed");
	return CH_OK;
}
