/* select.h - an operator's selection of devices, from the "select"
 * object of a request (docs/control-api.md, "Selectors"), into the
 * registry's struct ch_select: the one parser of the devices, jobs and
 * events commands and of bulk jobs. Pure: no registry, no loop; it
 * parses what any local operator sends (fuzz/select_fuzz.c).
 *
 *   {"tag": ["site=lyon", ...], "group": ["core", ...],
 *    "name": "lyon-*", "state": "connected"}
 *
 * Every member is optional; tags and groups must all match (AND); name
 * is a glob with fnmatch(3) rules (* ? [a-z] [!a-z] and \ to escape),
 * over the device's name; state is connected (online), disconnected
 * (offline), pending, admitted or revoked.
 */
#ifndef CH_HUB_SELECT_H
#define CH_HUB_SELECT_H

#include <stddef.h>

#include <jansson.h>

#include "hub/registry/store.h"

/* "key=value" into t. With value_optional, a bare "key" gives an empty
 * value (untag). CH_OK, or CH_ERR_INVAL with why (len bytes) naming the
 * text. */
int hub_tag_parse(const char *text, int value_optional, struct ch_tag *t,
		  char *why, size_t len);
/* An fnmatch glob as the SQLite GLOB that matches the same names.
 * CH_ERR_INVAL for an unclosed [ or a trailing \, CH_ERR_LIMIT past
 * size bytes. */
int hub_glob_to_sql(const char *glob, char *out, size_t size);
/* obj (a JSON object, or NULL: every device) into sel. CH_OK, or
 * CH_ERR_INVAL with why: one line naming what is wrong. *given is 1
 * when obj selects anything (a member). */
int hub_select_parse(json_t *obj, struct ch_select *sel, int *given,
		     char *why, size_t len);
/* The selection as an operator would type it, for messages and the
 * batch's record: "--tag role=cpe --name 'lyon-*'". */
void hub_select_text(json_t *obj, char *buf, size_t len);

#endif
