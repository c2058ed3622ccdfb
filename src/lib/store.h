/* store.h - the hub's registry in SQLite (style B4: all SQL lives in
 * store.c). WAL journal, prepared statements, one transaction per logical
 * change, schema migrations by PRAGMA user_version, a busy_timeout.
 *
 * A device is identified by the fingerprint of its key ("SHA256:..."),
 * never by address. Its admission says whether it may connect; its
 * connection state is kept here too so that `callhome devices` shows
 * devices that are not connected now.
 */
#ifndef CH_STORE_H
#define CH_STORE_H

#include <stddef.h>
#include <stdint.h>

#define CH_STORE_BUSY_MS 5000
#define CH_NAME_MAX 64		/* device names: [A-Za-z0-9._-], 1..64 */
#define CH_STORE_TEXT_MAX 1024	/* addresses, event details, errors */

enum ch_admission {
	CH_ADMIT_PENDING = 0,	/* seen, not admitted: refused until approved */
	CH_ADMIT_ADMITTED = 1,
	CH_ADMIT_REVOKED = 2,
};

struct ch_store;

struct ch_device_rec {
	char fingerprint[128];
	char name[CH_NAME_MAX + 1];	/* "" when unnamed */
	int admission;			/* enum ch_admission */
	int connected;			/* 1 while a session is up */
	char address[64];		/* last peer address, "" if never */
	int64_t first_seen;		/* unix seconds; 0 if never called */
	int64_t last_seen;
	int64_t connected_since;	/* 0 when not connected */
	int capabilities;		/* count from the last hello */
	char last_error[256];		/* why the last session ended, or "" */
};

/* Opens (creating and migrating) the database at path. Errors are logged
 * with the path and SQLite's text. */
int ch_store_open(const char *path, struct ch_store **out);
void ch_store_close(struct ch_store *st);	/* NULL is fine */

/* Returns a name for an admission value: "pending", "admitted", "revoked". */
const char *ch_admission_name(int admission);

/* CH_OK and *rec filled, or CH_ERR_NOTFOUND. */
int ch_store_device_get(struct ch_store *st, const char *fp,
			struct ch_device_rec *rec);
/* Inserts a device (name may be NULL). CH_ERR_EXISTS if fp is known or the
 * name is taken; CH_ERR_INVAL for a bad name. */
int ch_store_device_add(struct ch_store *st, const char *fp, const char *name,
			int admission);
int ch_store_device_set_admission(struct ch_store *st, const char *fp,
				  int admission);
/* A device called: sets first_seen if unset, last_seen, address. */
int ch_store_device_seen(struct ch_store *st, const char *fp,
			 const char *address, int64_t now);
/* Session up (connected=1: connected_since=now, capabilities=ncaps,
 * last_error cleared) or down (connected=0, reason stored in last_error). */
int ch_store_device_connected(struct ch_store *st, const char *fp,
			      int connected, int ncaps, const char *reason,
			      int64_t now);
/* At hub start: nobody is connected any more. */
int ch_store_reset_connections(struct ch_store *st);

/* Resolves an operator's DEVICE argument: an exact name, an exact
 * fingerprint, or a unique prefix of a fingerprint (with or without the
 * "SHA256:" part). CH_ERR_NOTFOUND, CH_ERR_AMBIGUOUS. fp_out has
 * room for 128 bytes. */
int ch_store_device_resolve(struct ch_store *st, const char *query,
			    char *fp_out);

/* Calls fn for each device ordered by name then fingerprint; a non-zero
 * return from fn stops the walk and is returned. */
int ch_store_device_foreach(struct ch_store *st,
			    int (*fn)(void *ctx, const struct ch_device_rec *),
			    void *ctx);

/* Appends to the device's event log (fp may name an unknown device, e.g.
 * a refusal). kind is a short word ("called", "refused", ...). */
int ch_store_event_add(struct ch_store *st, const char *fp, const char *kind,
		       const char *detail, int64_t now);

struct ch_event_rec {
	int64_t id;
	int64_t time;
	char fingerprint[128];
	char kind[32];
	char detail[CH_STORE_TEXT_MAX];
};
/* Newest last; fp NULL means every device; at most limit rows (the newest). */
int ch_store_event_foreach(struct ch_store *st, const char *fp, int limit,
			   int (*fn)(void *ctx, const struct ch_event_rec *),
			   void *ctx);

#endif
