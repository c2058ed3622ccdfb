#include "lib/core/conffile.h"
#include "lib/core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, struct ch_conf_args *out,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	ch_conf_free(out);
	return CH_ERR_INVAL;
}

void ch_conf_free(struct ch_conf_args *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->argv[i]);
		free(a->where[i]);
	}
	free(a->argv);
	free(a->where);
	memset(a, 0, sizeof(*a));
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* A printable copy of s (n bytes) for an error line, cut short. */
static void shown(char *dst, size_t size, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < size; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	dst[i] = '\0';
}

static const struct option *find(const struct option *opts, const char *key,
				 size_t n)
{
	for (; opts->name != NULL; opts++)
		if (strlen(opts->name) == n && memcmp(opts->name, key, n) == 0)
			return opts;
	return NULL;
}

static int refused_key(const char *const *refused, const char *name)
{
	for (; refused != NULL && *refused != NULL; refused++)
		if (strcmp(*refused, name) == 0)
			return 1;
	return 0;
}

/* 1 yes, 0 no, -1 neither. */
static int boolean(const char *v, size_t n)
{
	static const char *const yes[] = { "yes", "true", "on" };
	static const char *const no[] = { "no", "false", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strlen(yes[i]) == n && strncasecmp(v, yes[i], n) == 0)
			return 1;
		if (strlen(no[i]) == n && strncasecmp(v, no[i], n) == 0)
			return 0;
	}
	return -1;
}

static int add(struct ch_conf_args *out, const char *name, unsigned line,
	       const char *key, const char *val, size_t vlen)
{
	size_t klen = strlen(key), alen = 2 + klen + (val ? 1 + vlen : 0) + 1;
	size_t wlen = strlen(name) + 16;
	char **argv, **where, *arg, *w;

	argv = realloc(out->argv, (out->n + 1) * sizeof(*argv));
	if (argv == NULL)
		return CH_ERR_NOMEM;
	out->argv = argv;
	where = realloc(out->where, (out->n + 1) * sizeof(*where));
	if (where == NULL)
		return CH_ERR_NOMEM;
	out->where = where;
	arg = malloc(alen);
	w = malloc(wlen);
	if (arg == NULL || w == NULL) {
		free(arg);
		free(w);
		return CH_ERR_NOMEM;
	}
	if (val)
		snprintf(arg, alen, "--%s=%.*s", key, (int)vlen, val);
	else
		snprintf(arg, alen, "--%s", key);
	snprintf(w, wlen, "%s:%u", name, line);
	out->argv[out->n] = arg;
	out->where[out->n] = w;
	out->n++;
	return CH_OK;
}

int ch_conf_parse(const char *name, const char *text, size_t len,
		  const struct option *opts, const char *const *refused,
		  struct ch_conf_args *out, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;
	char key[64];

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (len > CH_CONF_FILE_MAX)
		return fail(err, errlen, out, "%s: larger than %u bytes", name,
			    CH_CONF_FILE_MAX);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *k, *ke, *eq, *v, *ve;
		const struct option *o;
		int b, r;

		line++;
		if ((size_t)(e - p) > CH_CONF_LINE_MAX)
			return fail(err, errlen, out, "%s:%u: longer than %u "
				    "bytes", name, line, CH_CONF_LINE_MAX);
		if (memchr(p, '\0', (size_t)(e - p)) != NULL)
			return fail(err, errlen, out, "%s:%u: a NUL byte",
				    name, line);
		k = p;
		p = nl ? nl + 1 : end;
		while (k < e && is_space(*k))
			k++;
		if (k == e || *k == '#')
			continue;
		if (out->n >= CH_CONF_MAX_LINES)
			return fail(err, errlen, out, "%s:%u: more than %u "
				    "settings", name, line, CH_CONF_MAX_LINES);
		eq = memchr(k, '=', (size_t)(e - k));
		ke = eq ? eq : e;
		while (ke > k && is_space(ke[-1]))
			ke--;
		shown(key, sizeof(key), k, (size_t)(ke - k));
		if (eq == NULL)
			return fail(err, errlen, out, "%s:%u: '%s' is not "
				    "'key = value'", name, line, key);
		o = find(opts, k, (size_t)(ke - k));
		if (o == NULL || refused_key(refused, o->name))
			return fail(err, errlen, out, "%s:%u: %s key '%s'",
				    name, line, o ? "not a configuration file"
				    : "unknown", key);
		v = eq + 1;
		ve = e;
		while (v < ve && is_space(*v))
			v++;
		while (ve > v && is_space(ve[-1]))
			ve--;
		if (o->has_arg == no_argument) {
			b = boolean(v, (size_t)(ve - v));
			if (b < 0)
				return fail(err, errlen, out, "%s:%u: %s: not "
					    "yes, no, true or false", name,
					    line, key);
			r = b ? add(out, name, line, o->name, NULL, 0) : CH_OK;
		} else {
			if (v == ve)
				return fail(err, errlen, out, "%s:%u: %s: no "
					    "value", name, line, key);
			r = add(out, name, line, o->name, v, (size_t)(ve - v));
		}
		if (r != CH_OK) {
			ch_conf_free(out);
			snprintf(err, errlen, "%s: out of memory", name);
			return r;
		}
	}
	return CH_OK;
}
