/* select.c - an operator's selection of devices into a struct
 * ch_select (select.h). */
#include "hub/select.h"

#include <stdio.h>
#include <string.h>

#include "lib/core/err.h"

int hub_tag_parse(const char *text, int value_optional, struct ch_tag *t,
		  char *why, size_t len)
{
	const char *eq = strchr(text, '='), *bad;
	size_t klen = eq ? (size_t)(eq - text) : strlen(text);

	memset(t, 0, sizeof(*t));
	why[0] = '\0';
	if (eq == NULL && !value_optional) {
		snprintf(why, len, "'%.80s' is not a tag: give key=value",
			 text);
		return CH_ERR_INVAL;
	}
	if (klen > CH_TAG_KEY_MAX || (eq && strlen(eq + 1) > CH_TAG_VALUE_MAX)) {
		snprintf(why, len, "'%.80s' is not a tag: a key is at most "
			 CH_STR(CH_TAG_KEY_MAX) " characters, a value at "
			 "most " CH_STR(CH_TAG_VALUE_MAX), text);
		return CH_ERR_INVAL;
	}
	memcpy(t->key, text, klen);
	t->key[klen] = '\0';
	if (eq)
		snprintf(t->value, sizeof(t->value), "%s", eq + 1);
	if ((bad = ch_tag_check(t->key, eq ? t->value : NULL)) != NULL) {
		snprintf(why, len, "'%.80s' is not a tag: %s", text, bad);
		return CH_ERR_INVAL;
	}
	return CH_OK;
}

/* Appends n bytes of s to out at *used. */
static int put(char *out, size_t size, size_t *used, const char *s, size_t n)
{
	if (*used + n + 1 > size)
		return CH_ERR_LIMIT;
	memcpy(out + *used, s, n);
	*used += n;
	out[*used] = '\0';
	return CH_OK;
}

int hub_glob_to_sql(const char *glob, char *out, size_t size)
{
	size_t used = 0;
	const char *p = glob;
	char lit[3] = "[x]";
	int r = CH_OK;

	if (size == 0)
		return CH_ERR_LIMIT;
	out[0] = '\0';
	while (*p && r == CH_OK) {
		if (*p == '\\') {
			/* an escaped character: itself, as SQLite says it */
			if (p[1] == '\0')
				return CH_ERR_INVAL;
			p++;
			if (*p == '*' || *p == '?' || *p == '[') {
				lit[1] = *p;
				r = put(out, size, &used, lit, 3);
			} else {
				r = put(out, size, &used, p, 1);
			}
			p++;
		} else if (*p == '[') {
			/* a set: fnmatch's [! is GLOB's [^; a ] first in
			 * the set is a member in both */
			const char *q = p + 1;

			if (*q == '!' || *q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']')
				q++;
			if (*q != ']')
				return CH_ERR_INVAL;
			r = put(out, size, &used, "[", 1);
			p++;
			if (r == CH_OK && (*p == '!' || *p == '^')) {
				r = put(out, size, &used, "^", 1);
				p++;
			}
			if (r == CH_OK)
				r = put(out, size, &used, p,
					(size_t)(q - p + 1));
			p = q + 1;
		} else {
			r = put(out, size, &used, p, 1);
			p++;
		}
	}
	return r;
}

static const struct {
	const char *word;
	int state;
} states[] = {
	{ "connected", CH_SEL_CONNECTED },
	{ "online", CH_SEL_CONNECTED },
	{ "disconnected", CH_SEL_DISCONNECTED },
	{ "offline", CH_SEL_DISCONNECTED },
	{ "pending", CH_SEL_PENDING },
	{ "admitted", CH_SEL_ADMITTED },
	{ "revoked", CH_SEL_REVOKED },
};

/* One string or an array of strings (member key of obj) as tags into
 * sel; group makes each NAME the tag group=NAME. */
static int take_tags(json_t *obj, const char *key, int group,
		     struct ch_select *sel, char *why, size_t len)
{
	json_t *v = json_object_get(obj, key), *e;
	char text[CH_TAG_KEY_MAX + CH_TAG_VALUE_MAX + 2];
	size_t i, n;

	if (v == NULL || json_is_null(v))
		return CH_OK;
	n = json_is_array(v) ? json_array_size(v) : 1;
	for (i = 0; i < n; i++) {
		const char *s;

		e = json_is_array(v) ? json_array_get(v, i) : v;
		if ((s = json_string_value(e)) == NULL) {
			snprintf(why, len, "\"select\": \"%s\" is a string or "
				 "an array of strings", key);
			return CH_ERR_INVAL;
		}
		if (sel->ntags >= CH_SEL_TAGS_MAX) {
			snprintf(why, len, "a selection has at most "
				 CH_STR(CH_SEL_TAGS_MAX) " tags and groups");
			return CH_ERR_INVAL;
		}
		if (group && strlen(s) > CH_TAG_VALUE_MAX) {
			snprintf(why, len, "'%.80s' is not a group name: at "
				 "most " CH_STR(CH_TAG_VALUE_MAX)
				 " characters", s);
			return CH_ERR_INVAL;
		}
		if (group)
			snprintf(text, sizeof(text), CH_TAG_GROUP "=%s", s);
		else
			snprintf(text, sizeof(text), "%.*s",
				 (int)(sizeof(text) - 1), s);
		if (hub_tag_parse(text, 0, &sel->tags[sel->ntags], why, len)
		    != CH_OK)
			return CH_ERR_INVAL;
		sel->ntags++;
	}
	return CH_OK;
}

int hub_select_parse(json_t *obj, struct ch_select *sel, int *given,
		     char *why, size_t len)
{
	const char *key, *name, *state;
	json_t *v;
	int r;

	memset(sel, 0, sizeof(*sel));
	*given = 0;
	why[0] = '\0';
	if (obj == NULL || json_is_null(obj))
		return CH_OK;
	if (!json_is_object(obj)) {
		snprintf(why, len, "\"select\" is an object: {\"tag\": [...], "
			 "\"group\": [...], \"name\": GLOB, \"state\": S}");
		return CH_ERR_INVAL;
	}
	json_object_foreach(obj, key, v) {
		if (strcmp(key, "tag") && strcmp(key, "group") &&
		    strcmp(key, "name") && strcmp(key, "state")) {
			snprintf(why, len, "\"select\" has no member \"%.40s\""
				 " (tag, group, name, state)", key);
			return CH_ERR_INVAL;
		}
		*given = 1;
	}
	if ((r = take_tags(obj, "tag", 0, sel, why, len)) != CH_OK ||
	    (r = take_tags(obj, "group", 1, sel, why, len)) != CH_OK)
		return r;
	v = json_object_get(obj, "name");
	if (v && !json_is_null(v)) {
		if ((name = json_string_value(v)) == NULL || *name == '\0') {
			snprintf(why, len, "\"select\": \"name\" is a glob "
				 "such as lyon-*");
			return CH_ERR_INVAL;
		}
		r = hub_glob_to_sql(name, sel->glob, sizeof(sel->glob));
		if (r != CH_OK) {
			snprintf(why, len, "'%.80s' is not a name glob: %s",
				 name, r == CH_ERR_LIMIT ? "too long"
				 : "an unclosed [ or a \\ at its end");
			return CH_ERR_INVAL;
		}
	}
	v = json_object_get(obj, "state");
	if (v && !json_is_null(v)) {
		state = json_string_value(v);
		for (size_t i = 0; state && i < sizeof(states) /
		     sizeof(states[0]); i++)
			if (strcmp(state, states[i].word) == 0)
				sel->state = states[i].state;
		if (sel->state == CH_SEL_ANY) {
			snprintf(why, len, "'%.40s' is not a device state: "
				 "connected, disconnected, pending, admitted "
				 "or revoked", state ? state : "?");
			return CH_ERR_INVAL;
		}
	}
	return CH_OK;
}

/* Appends "--opt value" for a string, or each string of an array. */
static void text_of(json_t *obj, const char *key, const char *opt,
		    char *buf, size_t len, size_t *used)
{
	json_t *v = json_object_get(obj, key), *e;
	size_t n = json_is_array(v) ? json_array_size(v) : v ? 1 : 0;

	for (size_t i = 0; i < n && *used < len; i++) {
		const char *s;
		int k;

		e = json_is_array(v) ? json_array_get(v, i) : v;
		if ((s = json_string_value(e)) == NULL)
			continue;
		k = snprintf(buf + *used, len - *used, "%s%s %s%.80s%s",
			     *used ? " " : "", opt,
			     strpbrk(s, "*?[\\") ? "'" : "", s,
			     strpbrk(s, "*?[\\") ? "'" : "");
		if (k > 0)
			*used = *used + (size_t)k < len ? *used + (size_t)k
							: len - 1;
	}
}

void hub_select_text(json_t *obj, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (!json_is_object(obj))
		return;
	text_of(obj, "tag", "--tag", buf, len, &used);
	text_of(obj, "group", "--group", buf, len, &used);
	text_of(obj, "name", "--name", buf, len, &used);
	text_of(obj, "state", "--state", buf, len, &used);
}
