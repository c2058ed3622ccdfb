/* record.h - terminal recordings at the hub (docs/terminal.md,
 * "Recordings"): one asciicast v2 file per session, STATE/recordings/
 * ID.cast (ID the session's), written as the session goes (one line per
 * event, flushed at once; fsync at the end), so asciinema can replay it.
 *
 * The header carries the session's facts for `callhome recordings` under
 * the key "callhome" (players ignore keys they do not know). Output is
 * always recorded, input only when asked (it carries passwords). Bounded:
 * past CH_TERM_RECORD_MAX the file gets a last line saying so and the
 * session goes on unrecorded. A write error stops the recording (logged),
 * never the session.
 */
#ifndef CH_HUB_RECORD_H
#define CH_HUB_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hub/control.h"

struct record;

struct record_meta {
	unsigned id;		/* the session's */
	const char *fp;		/* the device's registry key */
	const char *label;	/* the device as the operator named it */
	const char *kind;	/* "shell", "exec" */
	const char *command;	/* exec's, or NULL */
	const char *term;	/* TERM, or NULL */
	uint32_t cols, rows;	/* 0: 80 x 24 */
	long uid;		/* the operator's, -1 unknown */
	const char *user;	/* the operator's account, or NULL */
};

/* The recordings' directory of a state directory, created (0700) if
 * missing, into out. CH_OK or CH_ERR_IO (logged). */
int record_dir(const char *state_dir, char *out, size_t size);
/* The highest ID of a recording in dir (0 if none): session IDs go on
 * from there, so a restarted hub does not reuse a recording's ID. */
unsigned record_last_id(const char *dir);

/* Creates dir/ID.cast and writes its header. NULL when it cannot
 * (logged): the session goes on unrecorded. */
struct record *record_open(const char *dir, const struct record_meta *m);
void record_output(struct record *r, const void *p, size_t n);
void record_input(struct record *r, const void *p, size_t n);
void record_resize(struct record *r, uint32_t cols, uint32_t rows);
/* Flushes, fsyncs and frees (NULL: nothing). */
void record_close(struct record *r);

/* The recordings in dir, newest first, at most limit, of device fp only
 * unless NULL: a new JSON array of {id, device, name, kind, command,
 * started, duration, size, uid, user, complete}. */
json_t *record_list(const char *dir, const char *fp, size_t limit);

/* Inside handle(), req claimed: streams dir/ID.cast to the client as
 * stdout frames, then a close frame (docs/control-api.md, "Streams"). */
void record_play(uv_loop_t *loop, struct hub_ctl_req *req, const char *dir,
		 unsigned id);

#endif
