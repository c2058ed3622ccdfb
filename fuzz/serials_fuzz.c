/* serials_fuzz.c - libFuzzer target for the list importer behind
 * `callhome import-serials` and `callhome import-keys` (ch_store_import,
 * src/hub/registry/import.c), on a real registry.
 *
 * The first input byte picks the trust anchor the list is imported
 * under (its value modulo 4): none, ANCHOR_MAKER, ANCHOR_OTHER, or the
 * rest's first line (which is then not part of the list); its bit 2 the
 * kind of list (a host key list takes no anchor). The rest is the
 * operator's list: one serial per line, optionally ",NAME", or one
 * "[NAME] TYPE BASE64 [COMMENT]" key, blank lines and '#' comments. Each input gets a fresh registry (a scratch
 * file, /dev/shm when there is one, copied from a template) holding a
 * pending, a revoked, a bound serial, a named and a pending SSH device,
 * so known, approved, name-clash and
 * anchor-clash lines all have something to meet. Checks: refused lines
 * are reported once each, in order, with a reason and within the list;
 * the counts add up to the registry's growth; every device the import
 * created is an admitted serial that ch_serial_valid accepts; an invalid
 * anchor changes nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/registry/store.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/log.h"

#define ANCHOR_MAKER "x509:SHA256:maker"
#define ANCHOR_OTHER "x509:SHA256:other"
#define SSH_FP "SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
/* the key of fuzz/corpus/serials/keys' first line: a pending device */
#define PEND_KEY_FP "SHA256:O73hnRphVT37Zv3jauKW2fvArZDuk5dN93rlE2zM3og"
#define NOW 1796083200
#define TEMPLATE_MAX (4u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char db[128];
static char *template;
static size_t template_len;

struct bad {
	unsigned last;
	int n;
	unsigned lines;		/* in the list */
};

static void on_bad(void *ctx, unsigned line, const char *why)
{
	struct bad *b = ctx;

	if (line <= b->last || line > b->lines || why == NULL || !why[0])
		abort();
	b->last = line;
	b->n++;
}

struct census {
	int n;
	int serials;		/* admitted "serial:" devices */
	int keys;		/* admitted devices by SSH key */
};

static int count(void *ctx, const struct ch_device_rec *d)
{
	struct census *c = ctx;

	c->n++;
	if (strncmp(d->fingerprint, CH_ID_SERIAL_PREFIX,
		    strlen(CH_ID_SERIAL_PREFIX)) == 0) {
		if (!ch_serial_valid(d->fingerprint +
				     strlen(CH_ID_SERIAL_PREFIX)))
			abort();
		c->serials += d->admission == CH_ADMIT_ADMITTED;
	} else if (strncmp(d->fingerprint, CH_ID_SSH_PREFIX,
			   strlen(CH_ID_SSH_PREFIX)) == 0) {
		if (!ch_id_ssh_valid(d->fingerprint))
			abort();
		c->keys += d->admission == CH_ADMIT_ADMITTED;
	}
	return 0;
}

static void remove_db(const char *path)
{
	static const char *const ext[] = { "", "-wal", "-shm", "-journal" };
	char p[160];

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, ext[i]);
		unlink(p);
	}
}

static void remove_dir(void)
{
	remove_db(db);
	free(template);
	rmdir(dir);
}

/* The registry every input starts from, built once and kept as the bytes
 * of its file (closed: the WAL is checkpointed into it), since creating
 * and migrating a database per input would be most of the run. */
static void make_template(void)
{
	struct ch_store *st = NULL;
	char bound[128];

	remove_db(db);
	if (ch_store_open(db, &st) != CH_OK ||
	    ch_store_device_add(st, SSH_FP, "taken", CH_ADMIT_ADMITTED) ||
	    ch_store_device_add(st, "serial:SN-PEND", NULL, CH_ADMIT_PENDING) ||
	    ch_store_device_add(st, PEND_KEY_FP, NULL, CH_ADMIT_PENDING) ||
	    ch_store_device_add(st, "serial:SN-REV", NULL, CH_ADMIT_REVOKED) ||
	    ch_store_device_add(st, "serial:SN-BOUND", "bound",
				CH_ADMIT_ADMITTED) ||
	    ch_store_device_anchor(st, "serial:SN-BOUND", ANCHOR_OTHER, bound))
		abort();
	ch_store_close(st);
	if (ch_file_read(db, TEMPLATE_MAX, &template, &template_len) != CH_OK)
		abort();
}

static struct ch_store *fresh_store(void)
{
	struct ch_store *st = NULL;

	remove_db(db);
	if (ch_file_write_atomic(db, template, template_len, 0600) != CH_OK ||
	    ch_store_open(db, &st) != CH_OK)
		abort();
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1, *nl;
	char anchor_buf[256];
	const char *anchor = NULL;
	struct ch_import_counts c;
	struct census before = { 0, 0, 0 }, after = { 0, 0, 0 };
	enum ch_import_list list;
	int *grew_before, *grew_after;
	struct bad b = { 0, 0, 0 };
	struct ch_store *st;
	size_t len;
	int r;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/ch-fuzz-serials-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(db, sizeof(db), "%s/registry.db", dir);
		ch_log_set_level(CH_LOG_ERROR - 1);	/* below every level */
		atexit(remove_dir);
		make_template();
	}
	if (size < 1)
		return 0;
	len = size - 1;
	list = data[0] & 4 ? CH_IMPORT_HOST_KEYS : CH_IMPORT_SERIALS;
	switch (data[0] % 4) {
	case 1:
		anchor = ANCHOR_MAKER;
		break;
	case 2:
		anchor = ANCHOR_OTHER;
		break;
	case 3:
		nl = memchr(text, '\n', len);
		snprintf(anchor_buf, sizeof(anchor_buf), "%.*s",
			 (int)((nl ? nl : text + len) - text), text);
		anchor = anchor_buf;
		len -= nl ? (size_t)(nl + 1 - text) : len;
		text = nl ? nl + 1 : text + (size - 1);
		break;
	}
	for (size_t i = 0; i < len; i++)
		b.lines += text[i] == '\n';
	b.lines += len && text[len - 1] != '\n';
	st = fresh_store();
	if (ch_store_device_foreach(st, count, &before) != CH_OK)
		abort();
	memset(&c, 0x55, sizeof(c));
	r = ch_store_import(st, list, text, len, anchor, NOW, &c, on_bad, &b);
	if (ch_store_device_foreach(st, count, &after) != CH_OK)
		abort();
	grew_before = list == CH_IMPORT_SERIALS ? &before.serials : &before.keys;
	grew_after = list == CH_IMPORT_SERIALS ? &after.serials : &after.keys;
	if (r != CH_OK) {
		/* only a malformed anchor, or any anchor with keys, is
		 * refused as a whole */
		if (r != CH_ERR_INVAL ||
		    (list == CH_IMPORT_SERIALS ? (data[0] % 4) != 3 :
		     anchor == NULL) || b.n ||
		    c.added || c.known || c.approved || c.invalid ||
		    after.n != before.n || after.serials != before.serials ||
		    after.keys != before.keys)
			abort();
	} else if (c.invalid != b.n || c.added < 0 || c.known < 0 ||
		   c.approved < 0 || c.approved > c.known ||
		   (unsigned)(c.added + c.known + c.invalid) > b.lines ||
		   after.n != before.n + c.added ||
		   *grew_after != *grew_before + c.added + c.approved) {
		abort();
	}
	ch_store_close(st);
	return 0;
}
