/* resp.h - the hub's answer: reading its members leniently (a member that
 * is missing or of another type reads as a default) and printing it, as
 * JSON (--json) or as text. */
#ifndef CH_CLI_RESP_H
#define CH_CLI_RESP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"
#include "cli/table.h"

#define CLI_SHORT_FP 8		/* base64 characters shown after SHA256: */

/* The string member key of obj, or dflt if it is missing, not a string,
 * or empty. Borrowed from obj. */
const char *resp_str(json_t *obj, const char *key, const char *dflt);

/* The member key of resp if it is of type (JSON_OBJECT or JSON_ARRAY),
 * borrowed; else says so and returns NULL. */
json_t *resp_need(json_t *resp, const char *key, json_type type);

/* j indented, and a newline. CLI_OK, or CLI_HUB if stdout failed. */
int resp_print_json(json_t *j);

/* j on one line: events --follow --json. */
void resp_print_json_line(json_t *j);

/* Text from the hub (XML) as it came, ended by a newline. */
void resp_print_text(const char *s);
/* XML from a device (a reply, a job's result) on stdout: indented when
 * stdout is a terminal and it parses, else as it came (so a pipe gets
 * the device's bytes). */
void resp_print_xml(const char *s);

/* The hub answered {"ok": false}: its sentence on stderr (and with --json
 * the response on stdout). Returns CLI_REFUSED. */
int resp_refused(const struct run *run, json_t *resp);

/* The device of a job or an event as one short word: its name, else a
 * fingerprint prefix that still works as DEVICE (in buf), else "-". */
const char *resp_device_label(json_t *obj, char *buf, size_t size);

/* A list command's answer: the array key of resp as table t. With --json
 * the whole response, as every command (docs/control-api.md, "--json").
 * The exit code. */
int resp_print_list(struct run *run, json_t *resp, const char *key,
		    struct table *t);

/* An answer about one object, the object member key of resp: show prints
 * it as text; with --json the response is printed instead. The exit code
 * (CLI_HUB if there is no such object). */
int resp_print_object(struct run *run, json_t *resp, const char *key,
		      void (*show)(struct run *run, json_t *resp,
				   json_t *obj));

/* One line of a detail view, read from a member of the object. */
struct resp_field {
	const char *label;	/* "connected since:" */
	const char *key;	/* "connected_since" */
	enum { FIELD_STR, FIELD_INT, FIELD_YESNO } kind;
	const char *dflt;	/* FIELD_STR: shown if missing or empty */
};

/* Prints the n fields of obj, a "label: value" line each. */
void resp_print_fields(json_t *obj, const struct resp_field *fields,
		       size_t n);

#endif
