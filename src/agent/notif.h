/* notif.h - RFC 5277 event notifications of callhomed: the NETCONF
 * stream, its subscriptions (subtree filter, replay, stopTime) and the
 * bounded replay log persisted in DATASTORE/AGENT_NOTIF_LOG_FILE.
 *
 * Two layers:
 *  - struct notif_log: the replay log file and its newest records in
 *    memory, an object of its own (the unit tests open several);
 *  - struct notif_stream: the NETCONF stream, one per agent (the server
 *    state owns it), fed by notif_emit and read by its subscriptions.
 * Every notification is kept as its content element (what follows
 * <eventTime> in the <notification>) and the second it happened.
 * The agent runs one libuv loop: nothing here locks.
 */
#ifndef CH_NOTIF_H
#define CH_NOTIF_H

#include <stddef.h>
#include <time.h>

#include <libxml/tree.h>
#include <uv.h>

#define NOTIF_NS "urn:ietf:params:xml:ns:netconf:notification:1.0"
#define NOTIF_NETMOD_NS "urn:ietf:params:xml:ns:netmod:notification"
#define NOTIF_STREAM "NETCONF"		/* the only stream */
#define NOTIF_TIME_TEXT_MAX 32		/* yang:date-and-time, UTC */
#define NOTIF_HEAD_MAX 32		/* a log record's header line */
#define NOTIF_REC_EXTRA (NOTIF_HEAD_MAX + 1)	/* ... and its closing LF */
/* <notification xmlns=...><eventTime>...</eventTime> and its end, or
 * <data> and </data>, around a notification's content. */
#define NOTIF_ENVELOPE_MAX 256
#define NOTIF_ERR_MSG_MAX 160
#define NOTIF_ERR_INFO_MAX 128

/* ---- the replay log ---- */

/* The file is a sequence of records "SECONDS LEN\n" + LEN bytes + "\n",
 * appended (and fsync'd) one per notification. Memory keeps the newest
 * max_n records whose content is at most max_bytes together (always at
 * least the newest one); when the file holds a quarter more than either
 * bound, it is replaced (ch_file_write_atomic) by only those. */
struct notif_log;

/* One record, borrowed from the log until its next change. */
struct notif_rec {
	time_t t;
	const char *body;
	size_t len;
};

/* Opens the log at path (a missing file is an empty log, created at the
 * first append) and loads it: a damaged record (the tail torn by a crash
 * during an append) and everything after it are dropped, with a warning,
 * and the file rewritten. Borrows path only during the call. CH_OK,
 * CH_ERR_INVAL (a zero bound), CH_ERR_NOMEM; a file it cannot read is
 * logged and the log starts empty. */
int notif_log_open(const char *path, size_t max_n, size_t max_bytes,
		   struct notif_log **out);
/* NULL is fine. */
void notif_log_free(struct notif_log *log);
/* Adds a copy of body[0..len), which happened at t (not before the
 * newest record: callers pass time(NULL)). CH_OK; CH_ERR_IO when the
 * file could not be written (logged; memory has the record anyway);
 * CH_ERR_NOMEM or CH_ERR_LIMIT (over CH_NOTIF_MAX; nothing changed). */
int notif_log_append(struct notif_log *log, time_t t, const char *body,
		     size_t len);
/* The records in memory, oldest first. */
size_t notif_log_count(const struct notif_log *log);
/* A replay's selection (RFC 5277 2.1.1): from *idx (start with 0), the
 * next record with start <= t and, when stop is not NULL, t <= *stop.
 * 1 with *rec filled and *idx moved past it; 0 at the end. */
int notif_log_next(const struct notif_log *log, size_t *idx, time_t start,
		   const time_t *stop, struct notif_rec *rec);
/* What the file holds since this log opened or rewrote it: records and
 * bytes. */
void notif_log_file_size(const struct notif_log *log, size_t *n,
			 size_t *bytes);

/* ---- time ---- */

/* t as yang:date-and-time in UTC, "2024-05-01T12:00:00Z". */
void notif_time_text(time_t t, char *buf, size_t len);
/* RFC 3339 date-and-time (YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm))
 * to seconds since the epoch, the fraction dropped. CH_ERR_INVAL. */
int notif_parse_time(const char *text, time_t *out);

/* ---- the NETCONF stream ---- */

struct notif_stream;

/* Once at start (schema-aware mode): opens dir/AGENT_NOTIF_LOG_FILE
 * (borrowed during the call). loop runs the stopTime timer (NULL: no
 * timer; a subscription's stopTime then only counts at its replay).
 * CH_OK or CH_ERR_NOMEM. */
int notif_stream_new(uv_loop_t *loop, const char *dir,
		     struct notif_stream **out);
/* After the loop closed every handle (the timer with them); any
 * subscription left is freed. NULL is fine. */
void notif_stream_free(struct notif_stream *st);

/* Emits one event on the NETCONF stream st: xml[0..len) is the content
 * element of the <notification>, without <eventTime> (which is now).
 * It is logged for replay and pushed to every live subscription whose
 * filter selects it. Borrowed during the call. Nothing happens when st
 * is NULL (the schema-less mode offers no notifications). */
void notif_emit(struct notif_stream *st, const char *xml, size_t len);

/* <create-subscription>'s parameters (RFC 5277 2.1.1); filter is
 * borrowed from the rpc. */
struct notif_req {
	xmlNode *filter;	/* NULL: everything */
	int has_start;
	time_t start;
	int has_stop;
	time_t stop;
};

/* Why a <create-subscription> is refused: for an rpc-error of type
 * protocol. info is XML for <error-info>, "" for none. */
struct notif_err {
	const char *tag;
	char message[NOTIF_ERR_MSG_MAX];
	char info[NOTIF_ERR_INFO_MAX];
};

/* Reads op, the <create-subscription> element (borrowed; parameters in
 * the notification namespace, <filter> in the base one too), as of now.
 * CH_OK with *req filled, or CH_ERR_INVAL with *err filled. */
int notif_parse_request(xmlNode *op, time_t now, struct notif_req *req,
			struct notif_err *err);

/* A session's subscription. push(ctx, msg, len) sends one whole
 * <notification> message on that session (non-zero: not sent). */
struct notif_sub;

/* Subscribes to st (the filter is copied); with a startTime the replay
 * waits for notif_sub_after_reply and live events are held back until
 * then. The subscription lives until notif_sub_free or
 * notif_stream_free. CH_OK or CH_ERR_NOMEM. */
int notif_subscribe(struct notif_stream *st, const struct notif_req *req,
		    int (*push)(void *ctx, const char *msg, size_t len),
		    void *ctx, struct notif_sub **out);
/* After the <ok/> went out: the replay, <replayComplete>, and at once
 * <notificationComplete> when stopTime is already past. Nothing to do
 * without a startTime. */
void notif_sub_after_reply(struct notif_sub *sub);
/* Until its stopTime passed (RFC 5277 2.2.1: the session may then
 * subscribe again). */
int notif_sub_active(const struct notif_sub *sub);
/* Ends the subscription; NULL is fine. */
void notif_sub_free(struct notif_sub *sub);

#endif
