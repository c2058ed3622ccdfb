/* conffile.h - a daemon's configuration file, turned into command-line
 * arguments for the same getopt_long table that parses the command line:
 * one table, one parser of option values (docs/configuration.md).
 *
 * The format: `key = value` lines, `#` comment lines, blank lines. A key
 * is a long option's name without `--`; an option that takes a value
 * takes it after `=` (the rest of the line, spaces around it trimmed);
 * a flag takes yes/no/true/false/on/off. A repeatable option may repeat.
 * Each line becomes one argument, "--key=value" (or "--key" for a flag
 * set to yes; nothing for no), with where it came from ("FILE:LINE").
 */
#ifndef CH_CONFFILE_H
#define CH_CONFFILE_H

#include <getopt.h>
#include <stddef.h>

#include "lib/core/limits.h"

struct ch_conf_args {
	char **argv;	/* n arguments "--key=value" or "--key" */
	char **where;	/* n "FILE:LINE", for errors about argv[i] */
	size_t n;
};

/* Parses text (len bytes, not NUL-terminated, may hold NULs) read from
 * the file named name. opts is a getopt_long table ending with a NULL
 * name; the names in refused (NULL-terminated list, may be NULL) are
 * not keys of the file (help, version, config). On an error, out is
 * empty and err holds one line "NAME:LINE: what, naming the key".
 * CH_OK, CH_ERR_INVAL (err set) or CH_ERR_NOMEM. */
int ch_conf_parse(const char *name, const char *text, size_t len,
		  const struct option *opts, const char *const *refused,
		  struct ch_conf_args *out, char *err, size_t errlen);

void ch_conf_free(struct ch_conf_args *a);

#endif
