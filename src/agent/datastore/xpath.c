/* xpath.c - XPath filters (RFC 6241 8.9) evaluated by libyang.
 */
#include "agent/datastore.h"

#include <string.h>

#include <libyang/libyang.h>

#include "agent/datastore/internal.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* The XPath with its XML prefixes (prefixes[i] for nss[i]) replaced by
 * module names, as libyang's JSON-format paths want. String literals
 * and axes (name::) are left alone. */
static int xpath_rewrite(struct ch_ds *ds, const char *xp,
			 const char *const *prefixes, const char *const *nss,
			 size_t nns, struct ch_buf *out, struct ch_ds_err *err)
{
	const char *p = xp;
	int r = CH_OK;

	while (r == CH_OK && *p) {
		const char *q;

		if (*p == '"' || *p == '\'') {
			if ((q = strchr(p + 1, *p)) == NULL)
				return fail(err, "protocol", "invalid-value",
					    "the XPath has an unterminated "
					    "string");
			r = ch_buf_put(out, p, (size_t)(q - p + 1));
			p = q + 1;
			continue;
		}
		if (!is_name_char(*p) || (p > xp && is_name_char(p[-1]))) {
			r = ch_buf_put(out, p, 1);
			p++;
			continue;
		}
		for (q = p; is_name_char(*q); q++)
			;
		if (q[0] == ':' && q[1] != ':' && !(p[0] >= '0' &&
						      p[0] <= '9')) {
			const struct lys_module *m = NULL;
			size_t i;

			for (i = 0; i < nns; i++)
				if (strlen(prefixes[i]) == (size_t)(q - p) &&
				    strncmp(prefixes[i], p, (size_t)(q - p)) ==
					    0)
					break;
			if (i == nns)
				return fail(err, "protocol", "invalid-value",
					    "XPath prefix '%.*s' is not "
					    "declared", (int)(q - p), p);
			m = ly_ctx_get_module_implemented_ns(ds->ctx, nss[i]);
			if (m == NULL)
				return fail(err, "protocol", "invalid-value",
					    "XPath prefix '%s': no module "
					    "with namespace %s", prefixes[i],
					    nss[i]);
			r = ch_buf_puts(out, m->name);
		} else {
			r = ch_buf_put(out, p, (size_t)(q - p));
		}
		p = q;
	}
	return r;
}

int ch_ds_xpath(struct ch_ds *ds, const char *xml, const char *select,
		const char *const *prefixes, const char *const *nss,
		size_t nns, char **out, struct ch_ds_err *err)
{
	struct lyd_node *tree = NULL, *result = NULL, *dup, *top;
	struct ly_set *set = NULL;
	struct ch_buf xp;
	int r;

	err_clear(err);
	*out = NULL;
	ly_err_clean(ds->ctx, NULL);
	ch_buf_init(&xp, CH_DS_ERR_MSG_MAX * 8);
	if ((r = xpath_rewrite(ds, select, prefixes, nss, nns, &xp, err)) !=
	    CH_OK)
		goto out;
	if (ch_buf_puts(&xp, "") != CH_OK) {	/* NUL-terminated */
		r = fail_nomem(err);
		goto out;
	}
	if (lyd_parse_data_mem(ds->ctx, xml, LYD_XML, LYD_PARSE_ONLY |
			       LYD_PARSE_STRICT, 0, &tree) != LY_SUCCESS) {
		r = fail_ly(ds, err, "the data to filter");
		goto out;
	}
	if (tree == NULL) {	/* nothing to select from */
		r = print_tree(NULL, 0, out) == CH_OK ? CH_OK :
			fail_nomem(err);
		goto out;
	}
	if (lyd_find_xpath(tree, ch_buf_ptr(&xp), &set) != LY_SUCCESS) {
		const struct ly_err_item *e = ly_err_last(ds->ctx);

		r = fail(err, "protocol", "invalid-value", "not a node-set "
			 "XPath expression: %s", e && e->msg ? e->msg : select);
		ly_err_clean(ds->ctx, NULL);
		goto out;
	}
	for (uint32_t i = 0; i < set->count; i++) {
		if (lyd_dup_single(set->dnodes[i], NULL, LYD_DUP_RECURSIVE |
				   LYD_DUP_WITH_PARENTS, &dup) != LY_SUCCESS) {
			r = fail_nomem(err);
			goto out;
		}
		for (top = dup; lyd_parent(top); top = lyd_parent(top))
			;
		if (lyd_merge_siblings(&result, top, LYD_MERGE_DESTRUCT) !=
		    LY_SUCCESS) {
			lyd_free_all(top);
			r = fail_nomem(err);
			goto out;
		}
	}
	if (print_tree(result, LYD_PRINT_SHRINK, out) != CH_OK)
		r = fail_nomem(err);
out:
	ly_set_free(set, NULL);
	lyd_free_all(tree);
	lyd_free_all(result);
	ch_buf_cleanup(&xp);
	return r;
}
