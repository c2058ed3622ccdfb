/* chconfig.c - the call-home configuration, from a libyang data tree to
 * structs, and from the command line to XML.
 */
#include "agent/chconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

static char last_error[CHC_ERROR_MAX];

/* Logs why a configuration cannot be used and keeps the text for
 * chc_last_error (the rpc-error of a refused commit). */
__attribute__((format(printf, 1, 2)))
static void cfg_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	/* a manager may commit bad configurations as fast as it likes */
	ch_log_rl(CH_LOG_ERROR, "%s", last_error);
}

const char *chc_last_error(void)
{
	return last_error;
}

static const struct lyd_node *child(const struct lyd_node *n,
				    const char *name)
{
	const struct lyd_node *c;

	if (n == NULL)
		return NULL;
	LY_LIST_FOR(lyd_child(n), c)
		if (c->schema && strcmp(c->schema->name, name) == 0)
			return c;
	return NULL;
}

/* The value of leaf n/name, or NULL. */
static const char *str(const struct lyd_node *n, const char *name)
{
	const struct lyd_node *c = child(n, name);

	return c ? lyd_get_value(c) : NULL;
}

static uint32_t u32(const struct lyd_node *n, const char *name, uint32_t def)
{
	const char *v = str(n, name);
	char *end;
	unsigned long x;

	if (v == NULL)
		return def;
	x = strtoul(v, &end, 10);	/* libyang validated the range */
	return *end == '\0' && x <= UINT32_MAX ? (uint32_t)x : def;
}

static int dup_str(const char *v, char **out)
{
	*out = NULL;
	if (v == NULL)
		return CH_OK;
	return (*out = strdup(v)) ? CH_OK : CH_ERR_NOMEM;
}

static void endpoint_free(struct chc_endpoint *e)
{
	free(e->host);
	free(e->local_address);
	free(e->cert_file);
	free(e->key_file);
	free(e->chain_file);
	free(e->ca_file);
	free(e->crl_file);
	free(e->ctn);
}

static int read_tcp(const struct lyd_node *tcp, struct chc_endpoint *e)
{
	const struct lyd_node *ka = child(tcp, "keepalives");
	int r;

	if ((r = dup_str(str(tcp, "remote-address"), &e->host)) != CH_OK ||
	    (r = dup_str(str(tcp, "local-address"), &e->local_address)))
		return r;
	if (e->host == NULL)	/* mandatory: only a partial tree lacks it */
		return CH_ERR_INVAL;
	e->port = (uint16_t)u32(tcp, "remote-port", e->transport == CHC_TLS ?
				CH_PORT_TLS : CH_PORT_SSH);
	e->tcp_keepalives = ka != NULL;
	e->tcp_idle_s = u32(ka, "idle-time", CH_CHC_TCP_IDLE_S);
	e->tcp_probes = u32(ka, "max-probes", CH_CHC_TCP_PROBES);
	e->tcp_interval_s = u32(ka, "probe-interval", CH_CHC_TCP_INTERVAL_S);
	return CH_OK;
}

static void read_aliveness(const struct lyd_node *ka, struct chc_endpoint *e)
{
	e->keepalives = ka != NULL;
	e->ka_max_wait_s = u32(ka, "max-wait", CH_CHC_KA_MAX_WAIT_S);
	e->ka_max_attempts = u32(ka, "max-attempts", CH_CHC_KA_MAX_ATTEMPTS);
}

/* One rule; the schema checked its syntax, not a fingerprint's length
 * for its hash algorithm. */
static int read_rule(const struct lyd_node *c, struct chc_endpoint *e,
		     struct ch_ctn_rule *t)
{
	const char *fp = str(c, "fingerprint"), *name = str(c, "name");
	const char *mt = str(c, "map-type");
	char err[CH_CTN_ERR_LEN];

	t->id = u32(c, "id", 0);
	if (mt == NULL || ch_ctn_map_parse(mt, &t->map) != CH_OK) {
		cfg_error("endpoint %s: cert-to-name %u: map-type %s is not "
			 "supported", e->name, t->id, mt ? mt : "(none)");
		return CH_ERR_INVAL;
	}
	if (fp && ch_fingerprint_parse(fp, t->fp, &t->fp_len, err,
				       sizeof(err)) != CH_OK) {
		cfg_error("endpoint %s: cert-to-name %u: %s", e->name, t->id,
			 err);
		return CH_ERR_INVAL;
	}
	if (name && snprintf(t->name, sizeof(t->name), "%s", name) >=
	    (int)sizeof(t->name)) {
		cfg_error("endpoint %s: cert-to-name %u: name too long",
			 e->name, t->id);
		return CH_ERR_LIMIT;
	}
	return CH_OK;
}

/* The rules in id order (libyang keeps a keyed list in insertion
 * order): insertion sort, few entries. */
static int read_ctn(const struct lyd_node *maps, struct chc_endpoint *e)
{
	const struct lyd_node *c;
	size_t n = 0;
	int r;

	LY_LIST_FOR(lyd_child(maps), c)
		n++;
	if (n > CH_CHC_MAX_CTN) {
		cfg_error("endpoint %s: %zu cert-to-name rules (at most %d)",
			 e->name, n, CH_CHC_MAX_CTN);
		return CH_ERR_LIMIT;
	}
	if (n && (e->ctn = calloc(n, sizeof(*e->ctn))) == NULL)
		return CH_ERR_NOMEM;
	LY_LIST_FOR(lyd_child(maps), c) {
		size_t k;

		if (c->schema == NULL || strcmp(c->schema->name, "cert-to-name"))
			continue;
		if ((r = read_rule(c, e, &e->ctn[e->nctn])) != CH_OK)
			return r;
		for (k = e->nctn++; k > 0 && e->ctn[k - 1].id > e->ctn[k].id;
		     k--) {
			struct ch_ctn_rule tmp = e->ctn[k];

			e->ctn[k] = e->ctn[k - 1];
			e->ctn[k - 1] = tmp;
		}
	}
	return CH_OK;
}

static int read_endpoint(const struct lyd_node *n, struct chc_endpoint *e)
{
	const struct lyd_node *t;
	const char *name = str(n, "name");
	int r;

	snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
	if ((t = child(n, "ssh")) != NULL) {
		e->transport = CHC_SSH;
		if ((r = read_tcp(child(t, "tcp-client-parameters"), e)))
			return r;
		read_aliveness(child(child(t, "ssh-server-parameters"),
				     "keepalives"), e);
		return CH_OK;
	}
	if ((t = child(n, "tls")) == NULL)
		return CH_ERR_INVAL;
	e->transport = CHC_TLS;
	const struct lyd_node *tsp = child(t, "tls-server-parameters");
	const struct lyd_node *id = child(tsp, "server-identity");
	const struct lyd_node *ca = child(tsp, "client-authentication");

	if ((r = read_tcp(child(t, "tcp-client-parameters"), e)) ||
	    (r = dup_str(str(id, "certificate-file"), &e->cert_file)) ||
	    (r = dup_str(str(id, "private-key-file"), &e->key_file)) ||
	    (r = dup_str(str(id, "chain-file"), &e->chain_file)) ||
	    (r = dup_str(str(ca, "ca-certs-file"), &e->ca_file)) ||
	    (r = dup_str(str(ca, "crl-file"), &e->crl_file)))
		return r;
	read_aliveness(child(child(tsp, "keepalives"), "test-peer-aliveness"),
		       e);
	return read_ctn(child(child(t, "netconf-server-parameters"),
			      "client-identity-mappings"), e);
}

static int read_client(const struct lyd_node *n, struct chc_client *cl)
{
	const struct lyd_node *eps = child(n, "endpoints"), *e;
	const struct lyd_node *per =
		child(child(n, "connection-type"), "periodic");
	const struct lyd_node *rs = child(n, "reconnect-strategy");
	const char *v = str(n, "name");
	int r;

	snprintf(cl->name, sizeof(cl->name), "%s", v ? v : "");
	LY_LIST_FOR(lyd_child(eps), e)
		if (e->schema && strcmp(e->schema->name, "endpoint") == 0)
			cl->neps++;
	if (cl->neps == 0 || cl->neps > CH_CHC_MAX_ENDPOINTS) {
		cfg_error("call-home client %s: %zu endpoints (1 to %d)",
			 cl->name, cl->neps, CH_CHC_MAX_ENDPOINTS);
		cl->neps = 0;	/* none allocated: chc_free frees none */
		return CH_ERR_LIMIT;
	}
	if ((cl->eps = calloc(cl->neps, sizeof(*cl->eps))) == NULL) {
		cl->neps = 0;
		return CH_ERR_NOMEM;
	}
	cl->neps = 0;
	LY_LIST_FOR(lyd_child(eps), e) {
		if (e->schema == NULL || strcmp(e->schema->name, "endpoint"))
			continue;
		r = read_endpoint(e, &cl->eps[cl->neps++]);
		if (r != CH_OK) {
			cfg_error("call-home client %s endpoint %s: %s",
				 cl->name, cl->eps[cl->neps - 1].name,
				 ch_strerror(r));
			return r;
		}
	}
	cl->periodic = per != NULL;
	cl->period_min = u32(per, "period", CH_CHC_PERIOD_MIN);
	cl->idle_timeout_s = u32(per, "idle-timeout", CH_CHC_IDLE_TIMEOUT_S);
	if ((v = str(per, "anchor-time")) != NULL) {
		if (ch_sched_parse_time(v, &cl->anchor_ms) != CH_OK) {
			cfg_error("call-home client %s: anchor-time '%s' is "
				 "not a date-and-time", cl->name, v);
			return CH_ERR_INVAL;
		}
		cl->has_anchor = 1;
	}
	v = str(rs, "start-with");
	cl->start_with = v == NULL || strcmp(v, "first-listed") == 0
		? CH_START_FIRST_LISTED
		: strcmp(v, "last-connected") == 0 ? CH_START_LAST_CONNECTED
						     : CH_START_RANDOM;
	cl->max_wait_s = u32(rs, "max-wait", CH_CHC_RS_MAX_WAIT_S);
	cl->max_attempts = u32(rs, "max-attempts", CH_CHC_RS_MAX_ATTEMPTS);
	/* Every value, defaults too: equal text means equal behaviour. */
	if (lyd_print_mem(&cl->canon, n, LYD_XML,
			  LYD_PRINT_SHRINK | LYD_PRINT_WD_ALL) != LY_SUCCESS)
		return CH_ERR_NOMEM;
	return CH_OK;
}

int chc_from_tree(const struct lyd_node *tree, struct chc_config *out)
{
	struct lyd_node *ch = NULL;
	const struct lyd_node *c;
	int r = CH_OK;

	memset(out, 0, sizeof(*out));
	if (tree == NULL ||
	    lyd_find_path(tree, "/" CHC_MODULE ":netconf-server/call-home", 0,
			  &ch) != LY_SUCCESS || ch == NULL)
		return CH_OK;
	out->present = 1;
	LY_LIST_FOR(lyd_child(ch), c)
		if (c->schema && strcmp(c->schema->name, "netconf-client") == 0)
			out->n++;
	if (out->n > CH_CHC_MAX_CLIENTS) {
		cfg_error("call home: %zu netconf-client entries (at most %d)",
			 out->n, CH_CHC_MAX_CLIENTS);
		out->n = 0;
		return CH_ERR_LIMIT;
	}
	if (out->n && (out->clients = calloc(out->n, sizeof(*out->clients))) ==
	    NULL) {
		out->n = 0;
		return CH_ERR_NOMEM;
	}
	out->n = 0;
	LY_LIST_FOR(lyd_child(ch), c) {
		if (c->schema == NULL || strcmp(c->schema->name, "netconf-client"))
			continue;
		if ((r = read_client(c, &out->clients[out->n++])) != CH_OK)
			break;
	}
	if (r != CH_OK) {
		chc_free(out);
		memset(out, 0, sizeof(*out));
	}
	return r;
}

void chc_free(struct chc_config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		for (size_t k = 0; k < c->clients[i].neps; k++)
			endpoint_free(&c->clients[i].eps[k]);
		free(c->clients[i].eps);
		free(c->clients[i].canon);
	}
	free(c->clients);
	memset(c, 0, sizeof(*c));
}

int chc_uses_ssh(const struct chc_config *c)
{
	for (size_t i = 0; i < c->n; i++)
		for (size_t k = 0; k < c->clients[i].neps; k++)
			if (c->clients[i].eps[k].transport == CHC_SSH)
				return 1;
	return 0;
}

const struct chc_client *chc_find(const struct chc_config *c,
				  const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->clients[i].name, name) == 0)
			return &c->clients[i];
	return NULL;
}

/* <name>value</name>, escaped; nothing when value is NULL. */
static int leaf(struct ch_buf *b, const char *name, const char *value)
{
	int r;

	if (value == NULL)
		return CH_OK;
	if ((r = ch_buf_printf(b, "<%s>", name)) != CH_OK ||
	    (r = ch_xml_escape(b, value, strlen(value))) != CH_OK)
		return r;
	return ch_buf_printf(b, "</%s>", name);
}

/* FINGERPRINT or *, then MAP-TYPE, then NAME for specified. */
static int flag_ctn(struct ch_buf *b, uint32_t id, const char *rule)
{
	char tmp[512], *fp = tmp, *mt, *name;
	int r;

	if (snprintf(tmp, sizeof(tmp), "%s", rule) >= (int)sizeof(tmp) ||
	    (mt = strchr(tmp, ',')) == NULL) {
		cfg_error("--cert-to-name '%s': not FINGERPRINT|*,MAP-TYPE"
			 "[,NAME]", rule);
		return CH_ERR_INVAL;
	}
	*mt++ = '\0';
	if ((name = strchr(mt, ',')) != NULL)
		*name++ = '\0';
	if ((r = ch_buf_printf(b, "<cert-to-name><id>%u</id>", id)) ||
	    (strcmp(fp, "*") != 0 && (r = leaf(b, "fingerprint", fp))) ||
	    (r = ch_buf_puts(b, "<map-type>chns:")) ||
	    (r = ch_xml_escape(b, mt, strlen(mt))) ||
	    (r = ch_buf_puts(b, "</map-type>")) ||
	    (r = leaf(b, "name", name)))
		return r;
	return ch_buf_puts(b, "</cert-to-name>");
}

static int flag_endpoint(struct ch_buf *b, const struct chc_flags *f,
			 size_t i)
{
	const struct chc_flag_endpoint *e = &f->eps[i];
	const char *t = e->transport == CHC_TLS ? "tls" : "ssh";
	int r;

	if ((r = ch_buf_printf(b, "<endpoint><name>%s-%zu</name><%s>"
			       "<tcp-client-parameters>", t, i + 1, t)) ||
	    (r = leaf(b, "remote-address", e->host)) ||
	    (r = ch_buf_printf(b, "<remote-port>%u</remote-port>"
			       "</tcp-client-parameters>", e->port)))
		return r;
	if (e->transport == CHC_SSH) {
		if (f->keepalive_s && (r = ch_buf_printf(b,
			"<ssh-server-parameters><keepalives><max-wait>%u"
			"</max-wait><max-attempts>%u</max-attempts>"
			"</keepalives></ssh-server-parameters>",
			f->keepalive_s, f->keepalive_count)))
			return r;
		return ch_buf_puts(b, "</ssh></endpoint>");
	}
	if ((r = ch_buf_puts(b, "<tls-server-parameters><server-identity>")) ||
	    (r = leaf(b, "certificate-file", f->cert_file)) ||
	    (r = leaf(b, "private-key-file", f->key_file)) ||
	    (r = leaf(b, "chain-file", f->chain_file)) ||
	    (r = ch_buf_puts(b, "</server-identity><client-authentication>")) ||
	    (r = leaf(b, "ca-certs-file", f->ca_file)) ||
	    (r = leaf(b, "crl-file", f->crl_file)) ||
	    (r = ch_buf_puts(b, "</client-authentication>")))
		return r;
	if (f->keepalive_s && (r = ch_buf_printf(b, "<keepalives>"
		"<test-peer-aliveness><max-wait>%u</max-wait><max-attempts>%u"
		"</max-attempts></test-peer-aliveness></keepalives>",
		f->keepalive_s, f->keepalive_count)))
		return r;
	if ((r = ch_buf_puts(b, "</tls-server-parameters>"
			     "<netconf-server-parameters>"
			     "<client-identity-mappings>")))
		return r;
	for (size_t k = 0; k < f->nctn; k++)
		if ((r = flag_ctn(b, (uint32_t)(k + 1), f->ctn[k])) != CH_OK)
			return r;
	return ch_buf_puts(b, "</client-identity-mappings>"
			   "</netconf-server-parameters></tls></endpoint>");
}

int chc_flags_xml(const struct chc_flags *f, char **xml)
{
	struct ch_buf b;
	int r;

	*xml = NULL;
	ch_buf_init(&b, CH_CHC_XML_MAX);
	r = ch_buf_puts(&b, "<config><netconf-server xmlns=\"" CHC_NS "\" "
			"xmlns:chns=\"" CHC_NS "\"><call-home><netconf-client>"
			"<name>manager</name><endpoints>");
	for (size_t i = 0; r == CH_OK && i < f->neps; i++)
		r = flag_endpoint(&b, f, i);
	if (r == CH_OK)
		r = ch_buf_puts(&b, "</endpoints><connection-type>");
	if (r == CH_OK && f->period_min == 0)
		r = ch_buf_puts(&b, "<persistent/>");
	else if (r == CH_OK) {
		if ((r = ch_buf_printf(&b, "<periodic><period>%u</period>",
				       f->period_min)) == CH_OK &&
		    (r = leaf(&b, "anchor-time", f->anchor_time)) == CH_OK)
			r = ch_buf_printf(&b, "<idle-timeout>%u</idle-timeout>"
					  "</periodic>", f->idle_timeout_s);
	}
	if (r == CH_OK)
		r = ch_buf_printf(&b, "</connection-type><reconnect-strategy>"
				  "<max-wait>%u</max-wait>",
				  f->connect_timeout_s);
	if (r == CH_OK && f->max_attempts)
		r = ch_buf_printf(&b, "<max-attempts>%u</max-attempts>",
				  f->max_attempts);
	if (r == CH_OK)
		r = ch_buf_puts(&b, "</reconnect-strategy></netconf-client>"
				"</call-home></netconf-server></config>");
	if (r == CH_OK && (*xml = ch_buf_take(&b)) == NULL)
		r = CH_ERR_NOMEM;
	ch_buf_cleanup(&b);
	return r;
}

int chc_from_xml(const char *xml, struct chc_config *out)
{
	struct ly_ctx *ctx = NULL;
	struct lyd_node *tree = NULL;
	const struct ly_err_item *e;
	const char *body = xml;
	char *inner = NULL;
	size_t len;
	int r = CH_ERR_INVAL;

	memset(out, 0, sizeof(*out));
	/* The content of <config>, as libyang parses top-level data. */
	if (strncmp(xml, "<config>", 8) == 0 &&
	    (len = strlen(xml)) >= 17 &&
	    strcmp(xml + len - 9, "</config>") == 0) {
		if ((inner = strndup(xml + 8, len - 17)) == NULL)
			return CH_ERR_NOMEM;
		body = inner;
	}
	if (ly_ctx_new(NULL, LY_CTX_DISABLE_SEARCHDIR_CWD |
		       LY_CTX_NO_YANGLIBRARY, &ctx) != LY_SUCCESS)
		goto out;
	if (lys_parse_mem(ctx, chc_module_yang, LYS_IN_YANG, NULL) !=
	    LY_SUCCESS) {
		e = ly_err_last(ctx);
		cfg_error("call-home module: %s", e ? e->msg : "?");
		goto out;
	}
	if (lyd_parse_data_mem(ctx, body, LYD_XML, LYD_PARSE_STRICT, 0,
			       &tree) != LY_SUCCESS) {
		e = ly_err_last(ctx);
		cfg_error("call-home configuration: %s%s%s", e ? e->msg : "?",
			 e && e->path ? " at " : "", e && e->path ? e->path : "");
		goto out;
	}
	r = chc_from_tree(tree, out);
out:
	lyd_free_all(tree);
	ly_ctx_destroy(ctx);
	free(inner);
	return r;
}
