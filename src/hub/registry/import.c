/* import.c - bulk import into the registry, in one transaction: a
 * manufacturer's serial list (devices "serial:S") or a list of SSH host
 * keys (devices by key fingerprint). */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"
#include "lib/id/sshkey.h"

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

/* A serial list's line (cut at '#', trimmed, not empty): "SERIAL[,NAME]"
 * into id "serial:SERIAL" and name ("" if none). NULL, or why it is bad. */
static const char *serial_line(char *s, char *id, size_t idlen, char *name)
{
	char serial[CH_IMPORT_LINE_MAX + 1], *comma = strchr(s, ',');
	const char *a, *ae;

	if (comma) {
		*comma = '\0';
		a = trim(comma + 1, comma + 1 + strlen(comma + 1), &ae);
		snprintf(name, CH_IMPORT_LINE_MAX + 1, "%.*s", (int)(ae - a),
			 a);
	}
	a = trim(s, s + strlen(s), &ae);
	snprintf(serial, sizeof(serial), "%.*s", (int)(ae - a), a);
	if (!ch_serial_valid(serial))
		return "not a serial number (1 to 64 of A-Z a-z 0-9 ' ( ) + - "
		       ". / : = ?)";
	snprintf(id, idlen, CH_ID_SERIAL_PREFIX "%s", serial);
	return NULL;
}

/* known_hosts' host field: its first host, "[host]:port" unwrapped; ""
 * when hashed ("|1|...": the name is not recoverable). */
static void host_to_name(char *host, char *name)
{
	char *p;

	name[0] = '\0';
	if (host[0] == '|')
		return;
	if ((p = strchr(host, ',')) != NULL)
		*p = '\0';
	if (host[0] == '[' && (p = strchr(host, ']')) != NULL) {
		*p = '\0';
		host++;
	}
	snprintf(name, CH_IMPORT_LINE_MAX + 1, "%s", host);
}

/* A host key list's line: "[NAME] TYPE BASE64 [COMMENT]", so a file of
 * .pub lines and an OpenSSH known_hosts file both import as they are. The
 * id is the key's fingerprint, as the device presents it at its call. */
static const char *key_line(char *s, char *id, size_t idlen, char *name)
{
	char *f = ch_key_next_field(&s), *tname = f, *b64;
	const char *why;
	ssh_key k;
	int r;

	name[0] = '\0';
	if (f[0] == '@')
		return "a marker line (@cert-authority, @revoked) is not a "
		       "device's host key";
	if (ssh_key_type_from_name(f) == SSH_KEYTYPE_UNKNOWN) {
		host_to_name(f, name);
		if ((tname = ch_key_next_field(&s)) == NULL)
			return "no key after the name";
	}
	b64 = ch_key_next_field(&s);
	if (ch_pubkey_parse(tname, b64, &k, &why) != CH_OK)
		return why;
	r = ch_key_fingerprint(k, id, idlen);
	ssh_key_free(k);
	return r == CH_OK ? NULL : "cannot compute the key's fingerprint";
}

static const struct import_kind {
	const char *(*line)(char *s, char *id, size_t idlen, char *name);
	const char *list;	/* "serial list": in event texts */
} kinds[] = {
	[CH_IMPORT_SERIALS] = { serial_line, "serial list" },
	[CH_IMPORT_HOST_KEYS] = { key_line, "host key list" },
};

/* One line into id and name ("" if none). NULL, or why it is bad; *skip
 * for a blank or comment line. */
static const char *import_line(const struct import_kind *kind,
			       const char *p, const char *end, char *id,
			       size_t idlen, char *name, int *skip)
{
	char line[CH_IMPORT_LINE_MAX + 1];
	const char *hash, *a, *ae, *why;

	*skip = 0;
	id[0] = name[0] = '\0';
	if ((hash = memchr(p, '#', (size_t)(end - p))) != NULL)
		end = hash;	/* '#' is in no serial, key or name */
	a = trim(p, end, &ae);
	if (a == ae) {
		*skip = 1;
		return NULL;
	}
	if (ae - a > CH_IMPORT_LINE_MAX)
		return "line too long";
	memcpy(line, a, (size_t)(ae - a));
	line[ae - a] = '\0';
	if (memchr(a, '\0', (size_t)(ae - a)))
		return "NUL byte in the line";
	if ((why = kind->line(line, id, idlen, name)) != NULL)
		return why;
	if (name[0] && reg_check_name(name) != CH_OK)
		return "bad NAME (1 to 64 of A-Z a-z 0-9 . _ -)";
	return NULL;
}

/* One device inside the import's transaction: *why set when the line is
 * refused. An error return (CH_ERR_DB) aborts the whole import. */
static int import_one(struct ch_store *st, const struct import_kind *kind,
		      const char *id, const char *name, const char *anchor,
		      int64_t now, struct ch_import_counts *c,
		      const char **why)
{
	char key[FP_SIZE], text[128];
	char bound[sizeof(((struct ch_device_rec *)0)->anchor)];
	struct ch_device_rec rec;
	int r;

	*why = NULL;
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
		snprintf(text, sizeof(text), "admitted: listed in an imported "
			 "%s", kind->list);
		if ((r = ch_store_device_set_admission(st, key,
				CH_ADMIT_ADMITTED)) != CH_OK ||
		    (r = ch_store_event_add(st, key, "approved", text, now)) !=
			    CH_OK)
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
	snprintf(text, sizeof(text), "pre-provisioned from a %s%s", kind->list,
		 anchor ? ", bound to its manufacturer's trust anchor" : "");
	if (r != CH_OK ||
	    (r = ch_store_event_add(st, id, "added", text, now)) != CH_OK ||
	    (anchor && (r = ch_store_device_anchor(st, id, anchor, bound)) !=
		    CH_OK))
		return r;
	c->added++;
	return CH_OK;
}

int ch_store_import(struct ch_store *st, enum ch_import_list list,
		    const char *text, size_t len, const char *anchor,
		    int64_t now, struct ch_import_counts *counts,
		    void (*bad)(void *ctx, unsigned line, const char *why),
		    void *ctx)
{
	const struct import_kind *kind = &kinds[list];
	const char *p = text, *end = text + len, *nl, *why;
	char id[FP_SIZE], name[CH_IMPORT_LINE_MAX + 1];
	size_t lines = 0;
	unsigned lineno = 0;
	int skip, r;

	memset(counts, 0, sizeof(*counts));
	if (anchor && (list != CH_IMPORT_SERIALS ||
		       reg_check_fp(anchor) != CH_OK))
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
		why = import_line(kind, p, nl, id, sizeof(id), name, &skip);
		if (skip)
			continue;
		if (why == NULL &&
		    (r = import_one(st, kind, id, name, anchor, now, counts,
				    &why)) != CH_OK) {
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
