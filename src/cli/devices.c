/* devices.c - the commands about devices: devices, device, approve, add,
 * rename, revoke, identity add, identity remove. */
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "cli/select.h"
#include "cli/table.h"
#include "lib/core/limits.h"
#include "lib/id/certid.h"
#include "lib/core/cliopt.h"
#include "lib/core/err.h"

int build_devices(struct run *run, int argc, char **argv)
{
	struct cli_select sel = { NULL };
	bool taken;
	int c, r;

	while ((c = args_next(run, argc, argv)) != -1) {
		if ((r = sel_option(run, &sel, c, optarg, &taken)) != CLI_OK)
			goto fail;
		if (!taken) {
			r = args_opt_done(run, c);
			goto fail;
		}
	}
	if ((r = args_operands(run, argc, 0, 1, "takes at most one GLOB "
			       "(of device names)")) != CLI_OK ||
	    (optind < argc &&
	     (r = sel_glob(run, &sel, argv[optind])) != CLI_OK) ||
	    (r = req_start(run, NULL)) != CLI_OK)
		goto fail;
	return sel_finish(run, &sel);
fail:
	sel_drop(&sel);
	return r;
}

/* "site=lyon,role=cpe,group=core": a device's tags in one cell */
static const char *tags_cell(json_t *dev, char *buf, size_t size)
{
	json_t *tags = json_object_get(dev, "tags"), *v;
	json_t *groups = json_object_get(dev, "groups");
	const char *key;
	size_t used = 0, i;
	int k;

	buf[0] = '\0';
	json_object_foreach(tags, key, v) {
		k = snprintf(buf + used, size - used, "%s%s=%s",
			     used ? "," : "", key, json_string_value(v)
			     ? json_string_value(v) : "?");
		if (k < 0 || used + (size_t)k >= size)
			return buf;
		used += (size_t)k;
	}
	json_array_foreach(groups, i, v) {
		k = snprintf(buf + used, size - used, "%sgroup=%s",
			     used ? "," : "", json_string_value(v)
			     ? json_string_value(v) : "?");
		if (k < 0 || used + (size_t)k >= size)
			return buf;
		used += (size_t)k;
	}
	return used ? buf : "-";
}

enum { DEV_NAME, DEV_FP, DEV_STATE, DEV_ADDR, DEV_SINCE, DEV_CAPS, DEV_TAGS,
       DEV_NCOLS };

static void device_row(json_t *dev, struct cells *c)
{
	const char *adm = resp_str(dev, "admission", "?");
	const char *state = resp_str(dev, "state", "?");
	json_int_t ncaps = json_integer_value(json_object_get(dev,
							     "capabilities"));

	c->cell[DEV_NAME] = resp_str(dev, "name", "-");
	c->cell[DEV_FP] = resp_str(dev, "fingerprint", "?");
	/* an admitted device shows its connection; others why they are out */
	c->cell[DEV_STATE] = strcmp(adm, "admitted") == 0 ? state : adm;
	c->cell[DEV_ADDR] = resp_str(dev, "address", "-");
	c->cell[DEV_SINCE] = strcmp(state, "connected") == 0
				     ? resp_str(dev, "connected_since", "-")
				     : resp_str(dev, "last_seen", "-");
	if (ncaps > 0)
		table_cell_int(c, DEV_CAPS, ncaps);
	else
		c->cell[DEV_CAPS] = "-";
	c->cell[DEV_TAGS] = tags_cell(dev, c->buf[DEV_TAGS], CELL_MAX);
}

int print_devices(struct run *run, json_t *resp)
{
	struct table t = {
		{ "NAME", "FINGERPRINT", "STATE", "ADDRESS", "SINCE", "CAPS",
		  "TAGS" },
		DEV_NCOLS, device_row, { 0 },
	};

	return resp_print_list(run, resp, "devices", &t);
}

/* COMMAND DEVICE and nothing else: device, revoke, history. */
int build_on_device(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_device_operands(run, argc, argv, 1,
				      "wants one DEVICE")) != CLI_OK)
		return r;
	return req_start(run, argv[optind]);
}

static const struct resp_field device_fields[] = {
	{ "name:", "name", FIELD_STR, "-" },
	{ "fingerprint:", "fingerprint", FIELD_STR, "?" },
	{ "identity kind:", "kind", FIELD_STR, "-" },
	{ "admission:", "admission", FIELD_STR, "?" },
	{ "state:", "state", FIELD_STR, "?" },
	{ "address:", "address", FIELD_STR, "-" },
	{ "connected since:", "connected_since", FIELD_STR, "-" },
	{ "first seen:", "first_seen", FIELD_STR, "-" },
	{ "last seen:", "last_seen", FIELD_STR, "-" },
	{ "capabilities:", "capabilities", FIELD_INT, NULL },
	{ "last error:", "last_error", FIELD_STR, "-" },
	{ "TLS certificate:", "certificate", FIELD_STR, "-" },
	{ "trust anchor:", "trust_anchor", FIELD_STR, "-" },
	{ "queued jobs:", "queued_jobs", FIELD_INT, NULL },
	{ "refused calls:", "refused_calls", FIELD_INT, NULL },
	{ "last refused:", "last_refused", FIELD_STR, "-" },
};

static void show_device(struct run *run, json_t *resp, json_t *dev)
{
	json_t *ids = json_object_get(dev, "identities"), *id;
	const char *label = "identities:";
	char tags[CH_STORE_TEXT_MAX];
	size_t i;

	(void)run;
	(void)resp;
	resp_print_fields(dev, device_fields,
			  CLI_NELEMS(device_fields));
	json_array_foreach(ids, i, id) {
		table_field(label, json_is_string(id) ? json_string_value(id)
						      : "?");
		label = "";
	}
	if (json_array_size(ids) == 0)
		table_field(label, "-");
	table_field("tags:", tags_cell(dev, tags, sizeof(tags)));
}

int print_device(struct run *run, json_t *resp)
{
	return resp_print_object(run, resp, "device", show_device);
}

/* "approved r1 SHA256:... (admitted, connected)" */
static void show_changed(struct run *run, json_t *resp, json_t *dev)
{
	const char *name = resp_str(dev, "name", NULL);

	printf("%s %s%s%s (%s, %s)%s\n", run->cmd->done, name ? name : "",
	       name ? " " : "", resp_str(dev, "fingerprint", "?"),
	       resp_str(dev, "admission", "?"), resp_str(dev, "state", "?"),
	       json_is_true(json_object_get(resp, "closed_session"))
		       ? "; its session was closed" : "");
}

/* approve, add, rename, revoke, identity add: the device as it is now. */
int print_changed(struct run *run, json_t *resp)
{
	return resp_print_object(run, resp, "device", show_changed);
}

int build_approve(struct run *run, int argc, char **argv)
{
	const char *name = NULL;
	int r;

	if ((r = args_opts(run, argc, argv, OPT_NAME, &name, NULL)) != CLI_OK)
		return r;
	if (name && name[0] == '\0')
		return cli_usage_error(run, "--name is empty (to remove a "
				       "name: callhome rename DEVICE '')");
	if ((r = args_device_operands(run, argc, argv, 1,
				      "wants one DEVICE")) != CLI_OK ||
	    (r = req_start(run, argv[optind])) != CLI_OK)
		return r;
	return name ? req_str(run, "name", name, "NAME") : CLI_OK;
}

int build_add(struct run *run, int argc, char **argv)
{
	static const char *const keys[] = { "fingerprint", "serial",
					    "cert_fingerprint" };
	const char *val[3] = { NULL, NULL, NULL };
	int c, r, which = -1, n = 0;

	while ((c = args_next(run, argc, argv)) != -1) {
		if (c == OPT_FINGERPRINT)
			val[0] = optarg;
		else if (c == OPT_SERIAL)
			val[1] = optarg;
		else if (c == OPT_CERT_FINGERPRINT)
			val[2] = optarg;
		else
			return args_opt_done(run, c);
	}
	if ((r = args_operands(run, argc, 1, 1,
			       "wants exactly one NAME")) != CLI_OK ||
	    (r = args_nonempty(run, argv[optind], "NAME")) != CLI_OK)
		return r;
	for (int i = 0; i < 3; i++) {
		if (val[i]) {
			n++;
			which = i;
		}
	}
	if (n != 1 || val[which][0] == '\0')
		return cli_usage_error(run, "wants one of --fingerprint "
				       "SHA256:... (SSH host key), --serial S "
				       "or --cert-fingerprint FP (TLS)");
	if ((r = req_start(run, NULL)) != CLI_OK ||
	    (r = req_str(run, "name", argv[optind], "NAME")) != CLI_OK)
		return r;
	return req_str(run, keys[which], val[which], "the identity");
}

/* COMMAND DEVICE VALUE: rename (NAME may be empty), identity add (FP). */
static int build_device_and(struct run *run, int argc, char **argv,
			    const char *want, const char *key,
			    const char *what, bool may_be_empty)
{
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_device_operands(run, argc, argv, 2, want)) != CLI_OK ||
	    (!may_be_empty &&
	     (r = args_nonempty(run, argv[optind + 1], what)) != CLI_OK) ||
	    (r = req_start(run, argv[optind])) != CLI_OK)
		return r;
	return req_str(run, key, argv[optind + 1], what);
}

int build_rename(struct run *run, int argc, char **argv)
{
	return build_device_and(run, argc, argv, "wants DEVICE and NAME ('' "
				"removes the name)", "name", "NAME", true);
}

/* set DEVICE --idle-close SECONDS|default */
int build_set(struct run *run, int argc, char **argv)
{
	const char *idle = NULL;
	uint32_t secs;
	int r;

	if ((r = args_opts(run, argc, argv, OPT_IDLE_CLOSE, &idle,
			   NULL)) != CLI_OK ||
	    (r = args_device_operands(run, argc, argv, 1,
				      "wants one DEVICE")) != CLI_OK)
		return r;
	if (idle == NULL)
		return cli_usage_error(run, "nothing to set: give --idle-close "
				       "SECONDS (0 = never) or default");
	if (strcmp(idle, "default") != 0 &&
	    ch_parse_u32(idle, 0, CH_IDLE_CLOSE_MAX_S, &secs) != CH_OK)
		return cli_usage_error(run, "--idle-close takes 0 to %u "
				       "seconds, or default",
				       (unsigned)CH_IDLE_CLOSE_MAX_S);
	if ((r = req_start(run, argv[optind])) != CLI_OK)
		return r;
	return req_set(run, "idle_close", strcmp(idle, "default") == 0
		       ? json_null() : json_integer(secs));
}

int build_identity_add(struct run *run, int argc, char **argv)
{
	return build_device_and(run, argc, argv, "wants DEVICE and FP (the "
				"new key's fingerprint)", "fingerprint", "FP",
				false);
}

int build_identity_remove(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_operands(run, argc, 1, 1,
			       "wants exactly one FP")) != CLI_OK ||
	    (r = args_nonempty(run, argv[optind], "FP")) != CLI_OK ||
	    (r = req_start(run, NULL)) != CLI_OK)
		return r;
	return req_str(run, "fingerprint", argv[optind], "FP");
}

/* --anchor CA.pem: the SHA-256 fingerprint of the first certificate in
 * the file; anything that is not a readable file goes to the hub as a
 * fingerprint. */
static int anchor_arg(struct run *run, const char *arg, char *out,
		      size_t len)
{
	char sha[CH_CERT_SHA256_LEN];
	FILE *f = fopen(arg, "r");
	X509 *cert;

	if (f == NULL) {
		snprintf(out, len, "%s", arg);
		return CLI_OK;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (cert == NULL || ch_cert_sha256(cert, sha, sizeof(sha)) != CH_OK) {
		X509_free(cert);
		return cli_usage_error(run, "--anchor: no PEM certificate in "
				       "that file");
	}
	X509_free(cert);
	snprintf(out, len, "x509:%s", sha);
	return CLI_OK;
}

/* import-serials FILE|- [--anchor CA.pem|FP] */
int build_import_serials(struct run *run, int argc, char **argv)
{
	const char *anchor = NULL;
	char fp[CH_CERT_SHA256_LEN + 8];
	int c, r;

	while ((c = args_next(run, argc, argv)) != -1) {
		if (c == OPT_ANCHOR)
			anchor = optarg;
		else
			return args_opt_done(run, c);
	}
	if ((r = args_operands(run, argc, 1, 1,
			       "wants one FILE (or - for standard input)")) !=
		    CLI_OK ||
	    (r = args_nonempty(run, argv[optind], "FILE")) != CLI_OK ||
	    (anchor && (r = anchor_arg(run, anchor, fp, sizeof(fp))) !=
		    CLI_OK) ||
	    (r = req_start(run, NULL)) != CLI_OK ||
	    (r = req_text(run, "text", argv[optind], true, "the serial list"))
		    != CLI_OK)
		return r;
	return anchor ? req_str(run, "anchor", fp, "the anchor") : CLI_OK;
}

/* import-keys FILE|- */
int build_import_keys(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_operands(run, argc, 1, 1,
			       "wants one FILE (or - for standard input)")) !=
		    CLI_OK ||
	    (r = args_nonempty(run, argv[optind], "FILE")) != CLI_OK ||
	    (r = req_start(run, NULL)) != CLI_OK)
		return r;
	return req_text(run, "text", argv[optind], true, "the key list");
}

/* "added 3, already known 1 (1 of them now admitted), invalid 1" and the
 * refused lines. */
int print_import(struct run *run, json_t *resp)
{
	json_t *errs = json_object_get(resp, "errors"), *e;
	json_int_t invalid = json_integer_value(json_object_get(resp,
								"invalid"));
	json_int_t approved = json_integer_value(json_object_get(resp,
								 "approved"));
	size_t i;

	if (run->json)
		return resp_print_json(resp);
	printf("added %lld, already known %lld", (long long)
	       json_integer_value(json_object_get(resp, "added")), (long long)
	       json_integer_value(json_object_get(resp, "known")));
	if (approved)
		printf(" (%lld of them pending, now admitted)",
		       (long long)approved);
	printf(", invalid %lld\n", (long long)invalid);
	json_array_foreach(errs, i, e)
		printf("  line %lld: %s\n", (long long)json_integer_value(
			       json_object_get(e, "line")),
		       resp_str(e, "error", "?"));
	if ((json_int_t)json_array_size(errs) < invalid)
		printf("  (%lld more invalid lines not listed)\n",
		       (long long)(invalid - (json_int_t)json_array_size(errs)));
	return CLI_OK;
}

/* delete DEVICE [--force] */
int build_delete(struct run *run, int argc, char **argv)
{
	bool force = false;
	int c, r;

	while ((c = args_next(run, argc, argv)) != -1) {
		if (c != OPT_FORCE)
			return args_opt_done(run, c);
		force = true;
	}
	if ((r = args_device_operands(run, argc, argv, 1,
				      "wants one DEVICE")) != CLI_OK ||
	    (r = req_start(run, argv[optind])) != CLI_OK)
		return r;
	return force ? req_set(run, "force", json_true()) : CLI_OK;
}

int print_deleted(struct run *run, json_t *resp)
{
	if (run->json)
		return resp_print_json(resp);
	printf("deleted %s%s\n", resp_str(resp, "fingerprint", "?"),
	       json_is_true(json_object_get(resp, "closed_session"))
		       ? "; its session was closed" : "");
	return CLI_OK;
}

int print_identity_removed(struct run *run, json_t *resp)
{
	if (run->json)
		return resp_print_json(resp);
	printf("removed identity %s\n", resp_str(run->req, "fingerprint",
						 "?"));
	return CLI_OK;
}

/* tag DEVICE KEY=VALUE..., untag DEVICE KEY[=VALUE]... */
int build_tags(struct run *run, int argc, char **argv)
{
	bool untag = strcmp(run->cmd->name, "untag") == 0;
	json_t *tags;
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_operands(run, argc, 2, 1 + CH_TAG_PER_DEVICE_MAX,
			       untag ? "wants DEVICE and one KEY or "
			       "KEY=VALUE or more" : "wants DEVICE and one "
			       "KEY=VALUE or more")) != CLI_OK ||
	    (r = args_nonempty(run, argv[optind], "DEVICE")) != CLI_OK)
		return r;
	for (int i = optind + 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (eq == argv[i] || (!untag && eq == NULL))
			return cli_usage_error(run, "'%s' is not %s", argv[i],
					       untag ? "KEY or KEY=VALUE"
					       : "KEY=VALUE (role=cpe)");
	}
	if ((r = req_start(run, argv[optind])) != CLI_OK)
		return r;
	if ((tags = json_array()) == NULL)
		return cli_out_of_memory();
	for (int i = optind + 1; i < argc; i++) {
		json_t *v = json_string(argv[i]);

		if (v == NULL) {
			json_decref(tags);
			return cli_usage_error(run, "'%s' is not valid UTF-8",
					       argv[i]);
		}
		json_array_append_new(tags, v);
	}
	return req_set(run, "tags", tags);
}

/* "r1 SHA256:...: site=lyon,role=cpe" */
static void show_tags(struct run *run, json_t *resp, json_t *dev)
{
	const char *name = resp_str(dev, "name", NULL);
	char tags[CH_STORE_TEXT_MAX];

	(void)run;
	(void)resp;
	printf("%s%s%s tags: %s\n", name ? name : "", name ? " " : "",
	       resp_str(dev, "fingerprint", "?"),
	       tags_cell(dev, tags, sizeof(tags)));
}

int print_tags(struct run *run, json_t *resp)
{
	return resp_print_object(run, resp, "device", show_tags);
}
