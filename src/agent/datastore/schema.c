/* schema.c - the datastore's life (ch_ds_open, ch_ds_close) and its
 * schema context: modules loaded at start and later, the hello's
 * capabilities, module iteration, <get-schema>'s text and the
 * ietf-yang-library data.
 */
#include "agent/datastore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "agent/datastore/internal.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

#define CAP "urn:ietf:params:netconf:capability:"
#define MODULE_SPEC_MAX 512

/* RFC 6241 7.2's operation attribute as a YANG annotation, so libyang
 * keeps it on the parsed edit nodes as metadata. Never advertised. */
static const char edit_module[] =
	"module callhome-nc-edit {\n"
	"  yang-version 1.1;\n"
	"  namespace \"" EDIT_NS "\";\n"
	"  prefix chnce;\n"
	"  import ietf-yang-metadata { prefix md; }\n"
	"  description \"callhomed internal: the NETCONF edit-config "
	"operation attribute.\";\n"
	"  md:annotation operation {\n"
	"    type string;\n"	/* checked by own_op: bad-attribute */
	"  }\n"
	"}\n";

static const char *const protocol_caps[] = {
	CAP "writable-running:1.0",
	CAP "candidate:1.0",
	CAP "confirmed-commit:1.1",
	CAP "rollback-on-error:1.0",
	CAP "validate:1.1",
	CAP "startup:1.0",
};

/* libyang's own log lines are for debugging: what matters reaches the
 * client as an rpc-error, or the operator through ch_ds_open's errors. */
static void ly_log_to_ch(LY_LOG_LEVEL level, const char *msg,
			 const char *path)
{
	(void)level;
	ch_debug("libyang: %s%s%s", msg, path ? " at " : "", path ? path : "");
}

uint32_t ch_ds_yanglib_id(const struct ch_ds *ds)
{
	return ly_ctx_get_change_count(ds->ctx);
}

int ch_ds_yanglib(struct ch_ds *ds, char **xml)
{
	static const char *const hide[] = {	/* the internal module */
		"/ietf-yang-library:yang-library/module-set/module"
		"[name='" EDIT_PREFIX "']",
		"/ietf-yang-library:modules-state/module[name='" EDIT_PREFIX
		"']",
	};
	struct lyd_node *tree = NULL;
	struct ly_set *set;
	int r;

	*xml = NULL;
	if (ly_ctx_get_yanglib_data(ds->ctx, &tree, "%u",
				    ly_ctx_get_change_count(ds->ctx)) !=
	    LY_SUCCESS)
		return CH_ERR_NOMEM;
	for (size_t i = 0; i < sizeof(hide) / sizeof(hide[0]); i++) {
		if (lyd_find_xpath(tree, hide[i], &set) != LY_SUCCESS)
			continue;
		for (uint32_t k = 0; k < set->count; k++)
			lyd_free_tree(set->dnodes[k]);
		ly_set_free(set, NULL);
	}
	r = print_tree(tree, LYD_PRINT_SHRINK, xml);
	lyd_free_all(tree);
	return r;
}

/* Loads NAME[@REV][:FEATURE,...|:*]. */
static int load_module(struct ch_ds *ds, const char *spec)
{
	char buf[MODULE_SPEC_MAX], *name = buf, *rev, *feat, *p;
	const char *features[CH_DS_MAX_FEATURES + 1];
	const struct ly_err_item *i;
	size_t n = 0;

	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf)) {
		ch_error("--module %s: too long", spec);
		return CH_ERR_INVAL;
	}
	if ((feat = strchr(buf, ':')) != NULL) {
		*feat++ = '\0';
		for (p = feat; p; ) {
			char *comma = strchr(p, ',');

			if (comma)
				*comma++ = '\0';
			if (*p == '\0' || n == CH_DS_MAX_FEATURES) {
				ch_error("--module %s: bad feature list "
					 "(at most %d names, comma-separated)",
					 spec, CH_DS_MAX_FEATURES);
				return CH_ERR_INVAL;
			}
			features[n++] = p;
			p = comma;
		}
	}
	features[n] = NULL;
	if ((rev = strchr(buf, '@')) != NULL)
		*rev++ = '\0';
	if (*name == '\0') {
		ch_error("--module %s: no module name", spec);
		return CH_ERR_INVAL;
	}
	ly_err_clean(ds->ctx, NULL);
	if (ly_ctx_load_module(ds->ctx, name, rev, features) == NULL) {
		i = ly_err_last(ds->ctx);
		ch_error("--module %s: cannot load it: %s (modules are "
			 "looked for as NAME.yang or NAME@REVISION.yang in "
			 "the --yang-dir directories)", spec,
			 i && i->msg ? i->msg : "?");
		return CH_ERR_INVAL;
	}
	ch_info("YANG module %s%s%s loaded%s%s", name, rev ? "@" : "",
		rev ? rev : "", n ? " with features " : "", n ? feat : "");
	return CH_OK;
}

/* NS?module=NAME[&revision=REV][&features=..][&deviations=..]. */
static int module_cap(const struct lys_module *mod, char **out)
{
	const struct lysp_feature *f = NULL;
	struct ch_buf b;
	uint32_t idx = 0;
	const char *sep = "&features=";
	int r;

	ch_buf_init(&b, CH_HELLO_MAX_CAP_LEN);
	r = ch_buf_printf(&b, "%s?module=%s", mod->ns, mod->name);
	if (r == CH_OK && mod->revision)
		r = ch_buf_printf(&b, "&revision=%s", mod->revision);
	while (r == CH_OK && mod->parsed &&
	       (f = lysp_feature_next(f, mod->parsed, &idx)) != NULL) {
		if (f->flags & LYS_FENABLED) {
			r = ch_buf_printf(&b, "%s%s", sep, f->name);
			sep = ",";
		}
	}
	sep = "&deviations=";
	for (LY_ARRAY_COUNT_TYPE i = 0;
	     r == CH_OK && i < LY_ARRAY_COUNT(mod->deviated_by); i++) {
		r = ch_buf_printf(&b, "%s%s", sep, mod->deviated_by[i]->name);
		sep = ",";
	}
	if (r == CH_OK && (*out = ch_buf_take(&b)) == NULL)
		r = CH_ERR_NOMEM;
	ch_buf_cleanup(&b);
	return r;
}

int build_caps(struct ch_ds *ds)
{
	const size_t nproto = sizeof(protocol_caps) / sizeof(protocol_caps[0]);
	const struct lys_module *mod;
	uint32_t idx = ly_ctx_internal_modules_count(ds->ctx), i0 = idx;
	size_t n = nproto;

	while ((mod = ly_ctx_get_module_iter(ds->ctx, &idx)) != NULL)
		n++;
	if ((ds->caps = calloc(n, sizeof(*ds->caps))) == NULL)
		return CH_ERR_NOMEM;
	for (size_t i = 0; i < nproto; i++)
		if ((ds->caps[ds->ncaps++] = strdup(protocol_caps[i])) == NULL)
			return CH_ERR_NOMEM;
	idx = i0;
	while ((mod = ly_ctx_get_module_iter(ds->ctx, &idx)) != NULL) {
		/* Modules only imported from are not implemented
		 * (RFC 7950 5.6.4 lists what the server implements). */
		if (!mod->implemented || mod == ds->emod)
			continue;
		if (module_cap(mod, &ds->caps[ds->ncaps]) != CH_OK)
			return CH_ERR_NOMEM;
		ds->ncaps++;
	}
	return CH_OK;
}

const char *const *ch_ds_caps(const struct ch_ds *ds, size_t *n)
{
	*n = ds->ncaps;
	return (const char *const *)ds->caps;
}

void free_caps(struct ch_ds *ds)
{
	for (size_t k = 0; k < ds->ncaps; k++)
		free(ds->caps[k]);
	free(ds->caps);
	ds->caps = NULL;
	ds->ncaps = 0;
}

int ch_ds_load_module_file(struct ch_ds *ds, const char *path)
{
	const struct ly_err_item *i;
	struct lys_module *mod = NULL;
	int r;

	ly_err_clean(ds->ctx, NULL);
	if (lys_parse_path(ds->ctx, path, LYS_IN_YANG, &mod) != LY_SUCCESS) {
		i = ly_err_last(ds->ctx);
		ch_warn("%s: cannot load it: %s", path,
			i && i->msg ? i->msg : "?");
		return CH_ERR_INVAL;
	}
	/* The capability list grows by the module's. */
	free_caps(ds);
	if ((r = build_caps(ds)) != CH_OK)
		return r;
	ch_info("YANG module %s%s%s loaded from %s", mod->name,
		mod->revision ? "@" : "", mod->revision ? mod->revision : "",
		path);
	return CH_OK;
}

int ch_ds_module_next(const struct ch_ds *ds, uint32_t *idx,
		      struct ch_ds_module *m)
{
	const struct lys_module *mod;

	memset(m, 0, sizeof(*m));
	if (*idx < ly_ctx_internal_modules_count(ds->ctx))
		*idx = ly_ctx_internal_modules_count(ds->ctx);
	while ((mod = ly_ctx_get_module_iter(ds->ctx, idx)) != NULL) {
		if (!mod->implemented || mod == ds->emod)
			continue;
		m->name = mod->name;
		m->revision = mod->revision ? mod->revision : "";
		m->ns = mod->ns;
		return 1;
	}
	return 0;
}

int ch_ds_schema(struct ch_ds *ds, const char *name, const char *revision,
		 char **text, size_t *len)
{
	const struct lys_module *mod;
	char *t = NULL;

	*text = NULL;
	*len = 0;
	if (revision != NULL && revision[0] != '\0')
		mod = ly_ctx_get_module(ds->ctx, name, revision);
	else if ((mod = ly_ctx_get_module_implemented(ds->ctx, name)) == NULL)
		mod = ly_ctx_get_module_latest(ds->ctx, name);
	if (mod == NULL || mod == ds->emod)
		return CH_ERR_NOTFOUND;
	/* The text as written, comments included, when it came from a
	 * file; libyang's rendering otherwise (built-in modules). */
	if (mod->filepath != NULL &&
	    ch_file_read(mod->filepath, CH_DS_FILE_MAX, text, len) == CH_OK)
		return CH_OK;
	if (mod->parsed == NULL ||
	    lys_print_mem(&t, mod, LYS_OUT_YANG, 0) != LY_SUCCESS ||
	    t == NULL) {
		free(t);
		return CH_ERR_IO;
	}
	*text = t;
	*len = strlen(t);
	return CH_OK;
}

int ch_ds_open(const struct ch_ds_config *cfg, struct ch_ds **out)
{
	struct ch_ds *ds;
	struct lys_module *emod = NULL;
	const struct ly_err_item *i;
	int r = CH_ERR_INVAL;

	*out = NULL;
	ly_set_log_clb(ly_log_to_ch, 1);
	ly_log_options(LY_LOLOG | LY_LOSTORE_LAST);
	if ((ds = calloc(1, sizeof(*ds))) == NULL ||
	    (ds->dir = strdup(cfg->dir)) == NULL) {
		free(ds);
		return CH_ERR_NOMEM;
	}
	/* ietf-yang-library stays implemented: ch_ds_yanglib serves it. */
	if (ly_ctx_new(NULL, LY_CTX_DISABLE_SEARCHDIR_CWD, &ds->ctx) !=
	    LY_SUCCESS) {
		ch_error("cannot create the libyang context");
		goto out;
	}
	for (size_t k = 0; k < cfg->nyang_dirs; k++) {
		if (ly_ctx_set_searchdir(ds->ctx, cfg->yang_dirs[k]) !=
		    LY_SUCCESS) {
			ch_error("--yang-dir %s: not a readable directory",
				 cfg->yang_dirs[k]);
			goto out;
		}
	}
	if (lys_parse_mem(ds->ctx, edit_module, LYS_IN_YANG, &emod) !=
	    LY_SUCCESS) {
		i = ly_err_last(ds->ctx);
		ch_error("internal YANG module: %s", i ? i->msg : "?");
		goto out;
	}
	ds->emod = emod;
	for (size_t k = 0; k < cfg->nbuiltin; k++) {
		if (lys_parse_mem(ds->ctx, cfg->builtin[k], LYS_IN_YANG,
				  NULL) != LY_SUCCESS) {
			i = ly_err_last(ds->ctx);
			ch_error("built-in YANG module %zu: %s", k,
				 i ? i->msg : "?");
			goto out;
		}
	}
	for (size_t k = 0; k < cfg->nmodules; k++)
		if ((r = load_module(ds, cfg->modules[k])) != CH_OK)
			goto out;
	if ((r = build_caps(ds)) != CH_OK || (r = load_all(ds)) != CH_OK)
		goto out;
	if (cfg->loop != NULL) {
		uv_timer_init(cfg->loop, &ds->timer);
		ds->timer.data = ds;
		ds->timer_init = 1;
	}
	ch_info("datastore %s: %zu YANG module(s) advertised; running, "
		"candidate and startup%s", ds->dir,
		ds->ncaps - sizeof(protocol_caps) / sizeof(protocol_caps[0]),
		ds->startup_saved ? " (from startup.xml)" : "");
	*out = ds;
	ds = NULL;	/* transferred */
	r = CH_OK;
out:
	ch_ds_close(ds);
	return r;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void ch_ds_close(struct ch_ds *ds)
{
	if (ds == NULL)
		return;
	for (int k = 0; k < CH_DS_COUNT; k++)
		lyd_free_all(ds->tree[k]);
	lyd_free_all(ds->rollback);
	lyd_free_all(ds->gate_tree);
	free(ds->persist);
	free_caps(ds);
	ly_ctx_destroy(ds->ctx);
	free(ds->dir);
	if (ds->timer_init && !uv_is_closing((uv_handle_t *)&ds->timer)) {
		uv_close((uv_handle_t *)&ds->timer, on_timer_closed);
		return;		/* freed by the loop */
	}
	free(ds);
}
