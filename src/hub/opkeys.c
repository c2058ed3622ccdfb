/* opkeys.c - the front door's operator keys (opkeys.h). */
#include "hub/opkeys.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/log.h"
#include "lib/id/sshkey.h"

struct opkey {
	ssh_key key;
	char op[CH_ACTOR_NAME_MAX];
	char *devices;			/* as written */
	char **pat;			/* into pats */
	size_t npat;
	char *pats;			/* devices, split at ',' */
};

struct opkeys {
	struct opkey *k;
	size_t n, cap;
};

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int opkeys_name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!name_char(s[n]))
			return 0;
	return n > 0 && n < CH_ACTOR_NAME_MAX;
}

static int pattern_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!name_char(s[n]) && s[n] != '*' && s[n] != '?')
			return 0;
	return n > 0 && n < CH_OPKEYS_PATTERN_MAX;
}

static void entry_free(struct opkey *k)
{
	ssh_key_free(k->key);
	free(k->devices);
	free(k->pat);
	free(k->pats);
}

/* devices="a,b,c" into k's patterns; a static reason on failure. */
static const char *set_devices(struct opkey *k, const char *v)
{
	char *p, *next;

	if ((k->devices = strdup(v)) == NULL || (k->pats = strdup(v)) == NULL
	    || (k->pat = calloc(CH_OPKEYS_PATTERNS, sizeof(*k->pat))) == NULL)
		return "out of memory";
	for (p = k->pats; p; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		if (!pattern_ok(p))
			return "devices= holds an empty or bad pattern (names, "
			       "'*' and '?' only)";
		if (k->npat == CH_OPKEYS_PATTERNS)
			return "devices= holds more than "
			       CH_STR(CH_OPKEYS_PATTERNS) " patterns";
		k->pat[k->npat++] = p;
	}
	return NULL;
}

/* Cuts the options field at the start of *s: name or name="value",
 * comma-separated, quotes may hold commas and spaces (a backslash escapes
 * a quote, as OpenSSH's). Each into k; a static reason on failure. */
static const char *parse_options(char **s, struct opkey *k, int *have_op)
{
	char *p = *s, *name, *val, *w;

	for (;;) {
		name = p;
		while (*p && *p != '=' && *p != ',' && *p != ' ' &&
		       *p != '\t')
			p++;
		val = NULL;
		if (*p == '=') {
			*p++ = '\0';
			if (*p != '"')
				return "an option's value must be quoted";
			val = w = ++p;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] == '"')
					p++;
				*w++ = *p++;
			}
			if (*p != '"')
				return "an option's quote is not closed";
			p++;
			*w = '\0';
		}
		if (*p != ',' && *p != ' ' && *p != '\t' && *p != '\0')
			return "options must be separated by ','";
		{
			char sep = *p;

			*p = '\0';
			if (strcmp(name, "operator") == 0 && val) {
				if (!opkeys_name_ok(val))
					return "operator= is not a name "
					       "([A-Za-z0-9._-], 1..63)";
				snprintf(k->op, sizeof(k->op), "%s", val);
				*have_op = 1;
			} else if (strcmp(name, "devices") == 0 && val) {
				const char *why;

				if (k->devices)
					return "devices= given twice";
				if ((why = set_devices(k, val)) != NULL)
					return why;
			} else {
				return "an option other than operator= and "
				       "devices= (not honoured here)";
			}
			if (sep != ',') {
				*s = sep ? p + 1 : p;
				return NULL;
			}
		}
		p++;
	}
}

/* 1 if the line's first word is a key type (no options before it). */
static int starts_with_type(const char *s)
{
	char word[64];
	size_t n = strcspn(s, " \t");

	if (n == 0 || n >= sizeof(word))
		return 0;
	memcpy(word, s, n);
	word[n] = '\0';
	return ssh_key_type_from_name(word) != SSH_KEYTYPE_UNKNOWN;
}

/* One line into k; a static reason when it is skipped. */
static const char *parse_line(char *line, struct opkey *k)
{
	char *rest = line, *tname, *b64, *comment, *at;
	const char *why;
	int have_op = 0;

	while (*rest == ' ' || *rest == '\t')
		rest++;
	if (!starts_with_type(rest) &&
	    (why = parse_options(&rest, k, &have_op)) != NULL)
		return why;
	tname = ch_key_next_field(&rest);
	b64 = ch_key_next_field(&rest);
	if (tname == NULL)
		return "no key";
	if (ch_pubkey_parse(tname, b64, &k->key, &why) != CH_OK)
		return why;
	if (k->devices == NULL)
		return "no devices= option: the key would reach nothing";
	if (!have_op) {
		comment = ch_key_next_field(&rest);
		if (comment && (at = strchr(comment, '@')) != NULL)
			*at = '\0';
		if (comment == NULL || !opkeys_name_ok(comment))
			return "no operator= option and no usable name in the "
			       "comment";
		snprintf(k->op, sizeof(k->op), "%s", comment);
	}
	return NULL;
}

static int add(struct opkeys *ks, const struct opkey *k)
{
	struct opkey *p;
	size_t ncap;

	if (ks->n == CH_OPKEYS_MAX)
		return CH_ERR_LIMIT;
	if (ks->n == ks->cap) {
		ncap = ks->cap ? ks->cap * 2 : 8;
		if ((p = realloc(ks->k, ncap * sizeof(*p))) == NULL)
			return CH_ERR_NOMEM;
		ks->k = p;
		ks->cap = ncap;
	}
	ks->k[ks->n++] = *k;
	return CH_OK;
}

int opkeys_parse(const char *text, size_t len, const char *src,
		 struct opkeys **out)
{
	struct opkeys *ks;
	char *buf, *line, *next;
	unsigned lineno = 0;
	int r = CH_OK;

	*out = NULL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL ||
	    (buf = malloc(len + 1)) == NULL) {
		free(ks);
		return CH_ERR_NOMEM;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (line = buf; line && r == CH_OK; line = next) {
		struct opkey k = { 0 };
		const char *why;
		size_t n;

		lineno++;
		if ((next = memchr(line, '\n', len - (size_t)(line - buf))))
			*next++ = '\0';
		n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (n >= CH_AUTHKEYS_MAX_LINE)
			why = "line longer than " CH_STR(CH_AUTHKEYS_MAX_LINE)
			      " bytes";
		else
			why = parse_line(line, &k);
		if (why == NULL && opkeys_find(ks, k.key))
			why = "key listed already";
		if (why) {
			ch_warn("%s:%u: %s, line skipped", src, lineno, why);
			entry_free(&k);
			continue;
		}
		if ((r = add(ks, &k)) != CH_OK) {
			entry_free(&k);
			if (r == CH_ERR_LIMIT)
				ch_error("%s: more than %d keys", src,
					 CH_OPKEYS_MAX);
		}
	}
	free(buf);
	if (r == CH_OK && ks->n == 0) {
		ch_error("%s: no usable operator key", src);
		r = CH_ERR_INVAL;
	}
	if (r != CH_OK) {
		opkeys_free(ks);
		return r;
	}
	*out = ks;
	return CH_OK;
}

int opkeys_load(const char *path, struct opkeys **out)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if ((r = ch_file_read(path, CH_OPKEYS_FILE_MAX, &data, &len)) !=
	    CH_OK) {
		ch_log_r(CH_LOG_ERROR, r, "operator keys %s", path);
		return r;
	}
	r = opkeys_parse(data, len, path, out);
	free(data);
	return r;
}

void opkeys_free(struct opkeys *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->n; i++)
		entry_free(&ks->k[i]);
	free(ks->k);
	free(ks);
}

size_t opkeys_count(const struct opkeys *ks)
{
	return ks ? ks->n : 0;
}

const struct opkey *opkeys_find(const struct opkeys *ks, const ssh_key key)
{
	if (ks == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < ks->n; i++)
		if (ssh_key_cmp(ks->k[i].key, key, SSH_KEY_CMP_PUBLIC) == 0)
			return &ks->k[i];
	return NULL;
}

const char *opkey_operator(const struct opkey *k)
{
	return k->op;
}

const char *opkey_devices(const struct opkey *k)
{
	return k->devices;
}

int opkey_reaches(const struct opkey *k, const char *name)
{
	for (size_t i = 0; i < k->npat; i++) {
		if (strcmp(k->pat[i], "*") == 0)
			return 1;
		if (name && *name && fnmatch(k->pat[i], name, 0) == 0)
			return 1;
	}
	return 0;
}

int opkeys_user_parse(const char *user, char *op, size_t oplen, char *dev,
		      size_t devlen)
{
	const char *plus = strrchr(user, '+');
	const char *d = plus ? plus + 1 : user;
	size_t n = plus ? (size_t)(plus - user) : 0;

	op[0] = dev[0] = '\0';
	if (*d == '\0' || strlen(d) >= devlen || (plus && n >= oplen))
		return CH_ERR_INVAL;
	memcpy(op, user, n);
	op[n] = '\0';
	if (plus && !opkeys_name_ok(op)) {
		op[0] = '\0';
		return CH_ERR_INVAL;
	}
	snprintf(dev, devlen, "%s", d);
	return CH_OK;
}
