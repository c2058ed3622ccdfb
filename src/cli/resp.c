/* resp.c - reading the hub's answer and printing it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlsave.h>

#include "cli/resp.h"

const char *resp_str(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && s[0] ? s : dflt;
}

json_t *resp_need(json_t *resp, const char *key, json_type type)
{
	json_t *v = json_object_get(resp, key);

	if (v == NULL || json_typeof(v) != type) {
		cli_fail("the hub's answer has no \"%s\" %s", key,
			 type == JSON_ARRAY ? "array" : "object");
		return NULL;
	}
	return v;
}

int resp_print_json(json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2)) != 0)
		return CLI_HUB;
	fputc('\n', stdout);
	return CLI_OK;
}

void resp_print_json_line(json_t *j)
{
	json_dumpf(j, stdout, JSON_COMPACT);
	fputc('\n', stdout);
}

void resp_print_text(const char *s)
{
	size_t len = strlen(s);

	fwrite(s, 1, len, stdout);
	if (len == 0 || s[len - 1] != '\n')
		fputc('\n', stdout);
}

void resp_print_xml(const char *s)
{
	/* no network, no entities, no DTD: a device's reply is data */
	int opts = XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
		   XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
	xmlDoc *doc;
	xmlSaveCtxt *save;
	size_t len = strlen(s);

	if (!isatty(STDOUT_FILENO) || len == 0 || len > INT32_MAX ||
	    (doc = xmlReadMemory(s, (int)len, NULL, NULL, opts)) == NULL) {
		resp_print_text(s);
		return;
	}
	fflush(stdout);
	save = xmlSaveToFd(STDOUT_FILENO, "UTF-8",
			   XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
	if (save == NULL || xmlSaveDoc(save, doc) < 0) {
		if (save)
			xmlSaveClose(save);
		xmlFreeDoc(doc);
		resp_print_text(s);
		return;
	}
	xmlSaveClose(save);
	xmlFreeDoc(doc);
}

int resp_refused(const struct run *run, json_t *resp)
{
	const char *err = resp_str(resp, "error", resp_str(resp, "code",
			"the hub refused the request without saying why"));

	if (run->json && run->follow)	/* among JSON lines: one more */
		resp_print_json_line(resp);
	else if (run->json)
		resp_print_json(resp);
	/* stdout first: with 2>&1 the sentence comes after the JSON */
	fflush(stdout);
	cli_fail("%s", err);
	return CLI_REFUSED;
}

const char *resp_device_label(json_t *obj, char *buf, size_t size)
{
	const char *name = resp_str(obj, "name", NULL);
	const char *fp = resp_str(obj, "device", NULL);

	if (name)
		return name;
	if (fp == NULL || *fp == '\0')
		return "-";
	/* a hash is shortened (the prefix still works as DEVICE for SSH);
	 * a serial number is shown whole */
	if (strncmp(fp, "x509:", 5) == 0)
		snprintf(buf, size, "%.*s", (int)(sizeof("x509:SHA256:") - 1 +
						  CLI_SHORT_FP), fp);
	else if (strncmp(fp, "serial:", 7) == 0)
		snprintf(buf, size, "%s", fp);
	else
		snprintf(buf, size, "%.*s", (int)(sizeof("SHA256:") - 1 +
						  CLI_SHORT_FP), fp);
	return buf;
}

int resp_print_list(struct run *run, json_t *resp, const char *key,
		    struct table *t)
{
	json_t *items = resp_need(resp, key, JSON_ARRAY);

	if (items == NULL)
		return CLI_HUB;
	if (run->json)
		return resp_print_json(resp);
	table_print(t, items);
	return CLI_OK;
}

int resp_print_object(struct run *run, json_t *resp, const char *key,
		      void (*show)(struct run *run, json_t *resp,
				   json_t *obj))
{
	json_t *obj = resp_need(resp, key, JSON_OBJECT);

	if (obj == NULL)
		return CLI_HUB;
	if (run->json)
		return resp_print_json(resp);
	show(run, resp, obj);
	return CLI_OK;
}

void resp_print_fields(json_t *obj, const struct resp_field *fields,
		       size_t n)
{
	char num[32];

	for (const struct resp_field *f = fields; f < fields + n; f++) {
		switch (f->kind) {
		case FIELD_INT:
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(json_object_get(obj,
								    f->key)));
			table_field(f->label, num);
			break;
		case FIELD_YESNO:
			table_field(f->label, json_is_true(json_object_get(
						obj, f->key)) ? "yes" : "no");
			break;
		default:
			table_field(f->label, resp_str(obj, f->key, f->dflt));
		}
	}
}
