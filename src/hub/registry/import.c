/* import.c - bulk import of a manufacturer's serial list into the
 * registry: devices "serial:S", in one transaction. */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"

#include <stdio.h>
#include <string.h>


static const char *trim(const char *p, const char *end, const char **tend)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r'))
		end--;
	*tend = end;
	return p;
}

/* One line into serial and name ("" if none). NULL, or why it is bad;
 * *skip for a blank or comment line. */
static const char *import_line(const char *p, const char *end, char *serial,
			       char *name, int *skip)
{
	const char *comma, *a, *ae, *b, *be;

	*skip = 0;
	serial[0] = name[0] = '\0';
	if ((comma = memchr(p, '#', (size_t)(end - p))) != NULL)
		end = comma;	/* '#' is in no serial and no name */
	a = trim(p, end, &ae);
	if (a == ae) {
		*skip = 1;
		return NULL;
	}
	if (ae - a > CH_IMPORT_LINE_MAX)
		return "line too long";
	comma = memchr(a, ',', (size_t)(ae - a));
	b = be = ae;
	if (comma) {
		b = trim(comma + 1, ae, &be);
		a = trim(a, comma, &ae);
	}
	memcpy(serial, a, (size_t)(ae - a));
	serial[ae - a] = '\0';
	memcpy(name, b, (size_t)(be - b));
	name[be - b] = '\0';
	if (!ch_serial_valid(serial))
		return "not a serial number (1 to 64 of A-Z a-z 0-9 ' ( ) + - "
		       ". / : = ?)";
	if (name[0] && reg_check_name(name) != CH_OK)
		return "bad NAME (1 to 64 of A-Z a-z 0-9 . _ -)";
	return NULL;
}

/* One serial inside the import's transaction: *why set when the line is
 * refused. An error return (CH_ERR_DB) aborts the whole import. */
static int import_one(struct ch_store *st, const char *serial,
		      const char *name, const char *anchor, int64_t now,
		      struct ch_import_counts *c, const char **why)
{
	char id[sizeof(CH_ID_SERIAL_PREFIX) + CH_SERIAL_MAX];
	char key[FP_SIZE];
	char bound[sizeof(((struct ch_device_rec *)0)->anchor)];
	struct ch_device_rec rec;
	int r;

	*why = NULL;
	snprintf(id, sizeof(id), CH_ID_SERIAL_PREFIX "%s", serial);
	r = reg_lookup(st, S_BY_FP, id, key);
	if (r == CH_OK) {
		/* the list's manufacturer must be the one it is bound to */
		if (anchor && (r = ch_store_device_anchor(st, key, anchor,
							  bound)) != CH_OK) {
			if (r != CH_ERR_DENIED)
				return r;
			*why = "serial already bound to another trust anchor";
			return CH_OK;
		}
		c->known++;
		if ((r = ch_store_device_get(st, key, &rec)) != CH_OK)
			return r == CH_ERR_NOTFOUND ? CH_OK : r;
		if (rec.admission != CH_ADMIT_PENDING)
			return CH_OK;
		if ((r = ch_store_device_set_admission(st, key,
				CH_ADMIT_ADMITTED)) != CH_OK ||
		    (r = ch_store_event_add(st, key, "approved", "admitted: "
				"listed in an imported serial list",
				now)) != CH_OK)
			return r;
		c->approved++;
		return CH_OK;
	}
	if (r != CH_ERR_NOTFOUND)
		return r;
	r = ch_store_device_add(st, id, name[0] ? name : NULL,
				CH_ADMIT_ADMITTED);
	if (r == CH_ERR_EXISTS || r == CH_ERR_INVAL) {
		*why = "NAME already belongs to another device";
		return CH_OK;
	}
	if (r != CH_OK || (r = ch_store_event_add(st, id, "added",
				anchor ? "pre-provisioned from a serial list, "
				"bound to its manufacturer's trust anchor"
				: "pre-provisioned from a serial list",
				now)) != CH_OK ||
	    (anchor && (r = ch_store_device_anchor(st, id, anchor, bound)) !=
		    CH_OK))
		return r;
	c->added++;
	return CH_OK;
}

int ch_store_import_serials(struct ch_store *st, const char *text, size_t len,
			    const char *anchor, int64_t now,
			    struct ch_import_counts *counts,
			    void (*bad)(void *ctx, unsigned line,
					const char *why),
			    void *ctx)
{
	const char *p = text, *end = text + len, *nl, *why;
	char serial[CH_IMPORT_LINE_MAX + 1], name[CH_IMPORT_LINE_MAX + 1];
	size_t lines = 0;
	unsigned lineno = 0;
	int skip, r;

	memset(counts, 0, sizeof(*counts));
	if (anchor && reg_check_fp(anchor) != CH_OK)
		return CH_ERR_INVAL;
	for (const char *q = text; q < end; q++)
		if (*q == '\n')
			lines++;
	if (lines > CH_IMPORT_MAX_LINES ||
	    (lines == CH_IMPORT_MAX_LINES && len && end[-1] != '\n'))
		return CH_ERR_LIMIT;
	if ((r = reg_tx_begin(st)) != CH_OK)
		return r;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		lineno++;
		why = import_line(p, nl, serial, name, &skip);
		if (skip)
			continue;
		if (why == NULL &&
		    (r = import_one(st, serial, name, anchor, now, counts,
				    &why)) !=
			    CH_OK) {
			reg_tx_rollback(st);
			memset(counts, 0, sizeof(*counts));
			return r;
		}
		if (why == NULL)
			continue;
		counts->invalid++;
		if (bad)
			bad(ctx, lineno, why);
	}
	if ((r = reg_tx_commit(st)) != CH_OK)
		memset(counts, 0, sizeof(*counts));
	return r;
}

