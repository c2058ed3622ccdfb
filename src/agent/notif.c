/* notif.c - RFC 5277 notifications: the replay log, the NETCONF stream
 * and its subscriptions (notif.h). Self-contained on purpose: it needs
 * only libcallhome (buf, fileio, filter, msg, log) and libuv, so the
 * unit test links it alone.
 */
#include "notif.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/core/buf.h"
#include "lib/core/limits.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/nc/filter.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"
#include "lib/core/schedule.h"

#define LOG_PATH_MAX 4096

/* ---- the replay log ---- */

struct rec {
	time_t t;
	char *body;		/* NUL-terminated copy */
	size_t len;
};

struct notif_log {
	char path[LOG_PATH_MAX];
	size_t max_n, max_bytes;
	struct rec *recs;	/* [0, n): oldest first; room for max_n */
	size_t n;
	size_t bytes;		/* their content */
	size_t file_n, file_bytes;	/* what the file holds */
};

static void drop_oldest(struct notif_log *log, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		log->bytes -= log->recs[i].len;
		free(log->recs[i].body);
	}
	memmove(log->recs, log->recs + k, (log->n - k) * sizeof(*log->recs));
	log->n -= k;
}

/* Takes x (its body): the oldest go to keep both bounds. */
static void keep(struct notif_log *log, struct rec x)
{
	size_t drop = 0, bytes;

	if (log->n == log->max_n)
		drop_oldest(log, 1);
	log->recs[log->n++] = x;
	log->bytes += x.len;
	bytes = log->bytes;
	while (log->n - drop > 1 && bytes > log->max_bytes)
		bytes -= log->recs[drop++].len;
	if (drop)
		drop_oldest(log, drop);
}

/* A record in the file: "T LEN\n" then LEN bytes and "\n". */
static int put_rec(struct ch_buf *b, time_t t, const char *body, size_t len)
{
	int r = ch_buf_printf(b, "%lld %zu\n", (long long)t, len);

	if (r == CH_OK && (r = ch_buf_put(b, body, len)) == CH_OK)
		r = ch_buf_puts(b, "\n");
	return r;
}

/* The most bytes the records in memory take in the file: keep() holds
 * them to max_bytes, or to one record of at most CH_NOTIF_MAX. */
static size_t file_max(const struct notif_log *log)
{
	return log->max_bytes + CH_NOTIF_MAX + log->max_n * NOTIF_REC_EXTRA;
}

/* Replaces the file by the records in memory (atomic: after a crash the
 * file is the old or the new one). */
static int rewrite(struct notif_log *log)
{
	struct ch_buf b;
	int r = CH_OK;

	ch_buf_init(&b, file_max(log));
	for (size_t i = 0; r == CH_OK && i < log->n; i++)
		r = put_rec(&b, log->recs[i].t, log->recs[i].body,
			    log->recs[i].len);
	if (r == CH_OK &&
	    (r = ch_file_write_atomic(log->path, ch_buf_ptr(&b),
				      ch_buf_len(&b), 0600)) == CH_OK) {
		log->file_n = log->n;
		log->file_bytes = ch_buf_len(&b);
	}
	ch_buf_cleanup(&b);
	return r;
}

/* Appends data to the file and syncs it. */
static int append_file(const char *path, const char *data, size_t len)
{
	size_t done = 0;
	ssize_t w;
	int fd, r = CH_OK;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ch_log_errno(CH_LOG_ERROR, "%s", path);
		return CH_ERR_IO;
	}
	while (done < len) {
		w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ch_log_errno(CH_LOG_ERROR, "%s", path);
			r = CH_ERR_IO;
			goto out;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		ch_log_errno(CH_LOG_ERROR, "%s: fsync", path);
		r = CH_ERR_IO;
	}
out:
	close(fd);
	return r;
}

/* Parses the file's records into memory; 1 when one was damaged (the
 * rest is dropped). */
static int parse(struct notif_log *log, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	char *e;

	while (p < end) {
		struct rec x;
		long long t;
		unsigned long long n;

		errno = 0;
		t = strtoll(p, &e, 10);
		if (e == p || *e != ' ' || errno)
			return 1;
		p = e + 1;
		n = strtoull(p, &e, 10);
		/* data is NUL-terminated: e[1 + n] is in bounds when n fits */
		if (e == p || *e != '\n' || errno ||
		    n > (unsigned long long)(end - e - 1) || e[1 + n] != '\n')
			return 1;
		p = e + 1;
		x.t = (time_t)t;
		x.len = (size_t)n;
		if ((x.body = malloc(x.len + 1)) == NULL)
			return 1;
		memcpy(x.body, p, x.len);
		x.body[x.len] = '\0';
		p += x.len + 1;
		keep(log, x);
		log->file_n++;
	}
	return 0;
}

int notif_log_open(const char *path, size_t max_n, size_t max_bytes,
		   struct notif_log **out)
{
	struct notif_log *log;
	char *data = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if (max_n == 0 || max_bytes == 0)
		return CH_ERR_INVAL;
	if ((log = calloc(1, sizeof(*log))) == NULL ||
	    (log->recs = calloc(max_n, sizeof(*log->recs))) == NULL) {
		free(log);
		return CH_ERR_NOMEM;
	}
	snprintf(log->path, sizeof(log->path), "%s", path);
	log->max_n = max_n;
	log->max_bytes = max_bytes;
	/* The file may hold a quarter more than the bounds, and a single
	 * record may be larger than max_bytes: room for both. */
	r = ch_file_read(path, 4 * max_bytes + 2 * max_n * NOTIF_HEAD_MAX,
			 &data, &len);
	if (r == CH_OK) {
		if (parse(log, data, len)) {
			ch_warn("%s: damaged record dropped (%zu kept)", path,
				log->n);
			rewrite(log);
		} else {
			log->file_bytes = len;
		}
	} else if (r == CH_ERR_LIMIT) {
		ch_warn("%s: too large: the replay log starts empty and the "
			"file is replaced at the next notification", path);
		log->file_bytes = (size_t)-1 / 2;	/* rewrite it first */
	} else if (r != CH_ERR_NOTFOUND) {
		ch_warn("%s: unreadable: the replay log starts empty", path);
	}
	free(data);
	*out = log;
	return CH_OK;
}

void notif_log_free(struct notif_log *log)
{
	if (log == NULL)
		return;
	for (size_t i = 0; i < log->n; i++)
		free(log->recs[i].body);
	free(log->recs);
	free(log);
}

int notif_log_append(struct notif_log *log, time_t t, const char *body,
		     size_t len)
{
	struct rec x = { .t = t, .len = len };
	struct ch_buf b;
	int r;

	if (len > CH_NOTIF_MAX)
		return CH_ERR_LIMIT;
	if ((x.body = malloc(len + 1)) == NULL)
		return CH_ERR_NOMEM;
	memcpy(x.body, body, len);
	x.body[len] = '\0';
	keep(log, x);
	if (log->file_n + 1 > log->max_n + log->max_n / 4 ||
	    log->file_bytes > log->max_bytes + log->max_bytes / 4)
		return rewrite(log);	/* holds the new one too */
	ch_buf_init(&b, CH_NOTIF_MAX + NOTIF_REC_EXTRA);
	if ((r = put_rec(&b, t, body, len)) == CH_OK &&
	    (r = append_file(log->path, ch_buf_ptr(&b), ch_buf_len(&b))) ==
		    CH_OK) {
		log->file_n++;
		log->file_bytes += ch_buf_len(&b);
	}
	ch_buf_cleanup(&b);
	if (r == CH_OK &&
	    log->file_bytes > log->max_bytes + log->max_bytes / 4)
		r = rewrite(log);
	return r == CH_ERR_NOMEM ? CH_ERR_IO : r;
}

size_t notif_log_count(const struct notif_log *log)
{
	return log->n;
}

int notif_log_next(const struct notif_log *log, size_t *idx, time_t start,
		   const time_t *stop, struct notif_rec *rec)
{
	for (; *idx < log->n; (*idx)++) {
		const struct rec *x = &log->recs[*idx];

		if (x->t < start || (stop != NULL && x->t > *stop))
			continue;
		rec->t = x->t;
		rec->body = x->body;
		rec->len = x->len;
		(*idx)++;
		return 1;
	}
	return 0;
}

void notif_log_file_size(const struct notif_log *log, size_t *n,
			 size_t *bytes)
{
	*n = log->file_n;
	*bytes = log->file_bytes;
}

/* ---- time ---- */

void notif_time_text(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

int notif_parse_time(const char *p, time_t *out)
{
	int64_t ms;
	int r = ch_sched_parse_time(p, &ms);

	*out = r == CH_OK ? (time_t)(ms / 1000) : 0;
	return r;
}

/* ---- the NETCONF stream ---- */

struct notif_sub {
	int (*push)(void *ctx, const char *msg, size_t len);
	void *ctx;
	xmlDoc *filter;		/* a copy of its <filter>, or NULL */
	int active;
	int replay;		/* due after the reply; live events wait */
	time_t start;
	int has_stop;
	time_t stop;
	struct notif_stream *stream;	/* the one it reads */
	struct notif_sub *next;
};

struct notif_stream {
	struct notif_log *log;
	struct notif_sub *subs;
	uv_timer_t stop_timer;	/* the earliest live stopTime */
	int timer_init;
};

int notif_stream_new(uv_loop_t *loop, const char *dir,
		     struct notif_stream **out)
{
	struct notif_stream *st;
	char path[LOG_PATH_MAX];
	int r;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return CH_ERR_NOMEM;
	snprintf(path, sizeof(path), "%s/" AGENT_NOTIF_LOG_FILE, dir);
	if ((r = notif_log_open(path, CH_AGENT_NOTIF_LOG_MAX,
				CH_AGENT_NOTIF_LOG_BYTES, &st->log)) != CH_OK) {
		free(st);
		return r;
	}
	if (loop != NULL && uv_timer_init(loop, &st->stop_timer) == 0) {
		st->timer_init = 1;
		st->stop_timer.data = st;
		uv_unref((uv_handle_t *)&st->stop_timer);	/* no stop */
	}
	*out = st;
	return CH_OK;
}

void notif_stream_free(struct notif_stream *st)
{
	if (st == NULL)
		return;
	st->timer_init = 0;	/* closed with the loop's handles */
	while (st->subs != NULL)
		notif_sub_free(st->subs);
	notif_log_free(st->log);
	free(st);
}

/* body[0..len) under a <data> root, for filtering (free with
 * xmlFreeDoc). */
static int wrap_data(const char *body, size_t len, xmlDoc **doc)
{
	struct ch_buf b;
	int r;

	*doc = NULL;
	ch_buf_init(&b, CH_NOTIF_MAX + NOTIF_ENVELOPE_MAX);
	if ((r = ch_buf_puts(&b, "<data>")) == CH_OK &&
	    (r = ch_buf_put(&b, body, len)) == CH_OK &&
	    (r = ch_buf_puts(&b, "</data>")) == CH_OK)
		r = ch_xml_parse(ch_buf_ptr(&b), ch_buf_len(&b), doc);
	ch_buf_cleanup(&b);
	return r;
}

/* Sends one notification on sub: eventTime t, then body (through the
 * subscription's filter when filter is set). */
static void send_one(struct notif_sub *sub, time_t t, const char *body,
		     size_t len, int filter)
{
	char tt[NOTIF_TIME_TEXT_MAX];
	struct ch_buf msg, inner;
	xmlDoc *doc = NULL;
	int r = CH_OK;

	ch_buf_init(&inner, CH_NOTIF_MAX);
	ch_buf_init(&msg, CH_NOTIF_MAX + NOTIF_ENVELOPE_MAX);
	if (filter && sub->filter != NULL) {
		if ((r = wrap_data(body, len, &doc)) != CH_OK ||
		    (r = ch_filter_subtree(xmlDocGetRootElement(doc),
					   xmlDocGetRootElement(sub->filter),
					   &inner, NULL)) != CH_OK ||
		    ch_buf_len(&inner) == 0)
			goto out;	/* filtered out, or too large */
		body = ch_buf_ptr(&inner);
		len = ch_buf_len(&inner);
	}
	notif_time_text(t, tt, sizeof(tt));
	if ((r = ch_buf_printf(&msg, "<notification xmlns=\"" NOTIF_NS "\">"
			       "<eventTime>%s</eventTime>", tt)) == CH_OK &&
	    (r = ch_buf_put(&msg, body, len)) == CH_OK &&
	    (r = ch_buf_puts(&msg, "</notification>")) == CH_OK)
		sub->push(sub->ctx, ch_buf_ptr(&msg), ch_buf_len(&msg));
out:
	if (r == CH_ERR_LIMIT)
		ch_log_rl(CH_LOG_WARN, "notification of %zu bytes not sent "
			  "to a subscriber: over %u bytes (CH_NOTIF_MAX)", len,
			  (unsigned)CH_NOTIF_MAX);
	xmlFreeDoc(doc);
	ch_buf_cleanup(&msg);
	ch_buf_cleanup(&inner);
}

/* stopTime reached: <notificationComplete/>, and the subscription ends
 * (RFC 5277 2.2.1). */
static void complete(struct notif_sub *sub)
{
	static const char done[] =
		"<notificationComplete xmlns=\"" NOTIF_NETMOD_NS "\"/>";

	send_one(sub, time(NULL), done, sizeof(done) - 1, 0);
	sub->active = 0;
	sub->replay = 0;
}

static void on_stop_timer(uv_timer_t *t);

/* Arms the timer for the earliest live stopTime. */
static void stop_timer_arm(struct notif_stream *st)
{
	time_t now = time(NULL), first = 0;

	if (!st->timer_init)
		return;
	for (struct notif_sub *x = st->subs; x; x = x->next)
		if (x->active && x->has_stop &&
		    (first == 0 || x->stop < first))
			first = x->stop;
	if (first == 0)
		uv_timer_stop(&st->stop_timer);
	else	/* the end of second first: events of that second count */
		uv_timer_start(&st->stop_timer, on_stop_timer,
			       first > now ? 1000ull * (uint64_t)(first - now) +
					     999 : 0, 0);
}

static void on_stop_timer(uv_timer_t *t)
{
	struct notif_stream *st = t->data;
	time_t now = time(NULL);

	for (struct notif_sub *x = st->subs; x; x = x->next)
		if (x->active && !x->replay && x->has_stop && x->stop <= now)
			complete(x);
	stop_timer_arm(st);
}

void notif_emit(struct notif_stream *st, const char *xml, size_t len)
{
	time_t now = time(NULL);

	if (st == NULL)
		return;
	if (len > CH_NOTIF_MAX) {	/* a subscriber's filter could not parse it */
		ch_log_rl(CH_LOG_WARN, "notification of %zu bytes dropped: "
			  "over %u bytes (CH_NOTIF_MAX)", len,
			  (unsigned)CH_NOTIF_MAX);
		return;
	}
	notif_log_append(st->log, now, xml, len);
	for (struct notif_sub *x = st->subs; x; x = x->next)
		if (x->active && !x->replay && (!x->has_stop || now <= x->stop))
			send_one(x, now, xml, len, 1);
}

/* First element child of n named name in the notification namespace (or,
 * for <filter>, the base one as clients such as ncclient send it). */
static xmlNode *param(xmlNode *n, const char *name)
{
	for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)k->name, name) == 0 && k->ns &&
		    (strcmp((const char *)k->ns->href, NOTIF_NS) == 0 ||
		     strcmp((const char *)k->ns->href, CH_NC_NS) == 0))
			return k;
	return NULL;
}

static int refuse(struct notif_err *err, const char *tag, const char *elem,
		  const char *message)
{
	err->tag = tag;
	snprintf(err->message, sizeof(err->message), "%s", message);
	if (elem != NULL)
		snprintf(err->info, sizeof(err->info),
			 "<bad-element>%s</bad-element>", elem);
	return CH_ERR_INVAL;
}

/* startTime or stopTime into *t; *present says whether it was given. */
static int time_param(xmlNode *op, const char *name, time_t *t,
		      int *present, struct notif_err *err)
{
	xmlNode *p = param(op, name);
	char text[64], msg[NOTIF_ERR_MSG_MAX];

	*present = p != NULL;
	*t = 0;
	if (p == NULL ||
	    (ch_xml_text(p, text, sizeof(text)) == CH_OK &&
	     notif_parse_time(text, t) == CH_OK))
		return CH_OK;
	snprintf(msg, sizeof(msg), "<%s> is not an RFC 3339 date-and-time",
		 name);
	return refuse(err, "invalid-value", name, msg);
}

int notif_parse_request(xmlNode *op, time_t now, struct notif_req *req,
			struct notif_err *err)
{
	xmlNode *stream_p = param(op, "stream");
	xmlNode *filter = param(op, "filter");
	enum ch_filter_type type;
	char text[64];
	int r;

	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	if (stream_p != NULL && (ch_xml_text(stream_p, text, sizeof(text)) !=
				 CH_OK || strcmp(text, NOTIF_STREAM) != 0))
		return refuse(err, "invalid-value", "stream", "no such "
			      "stream: this device has only NETCONF");
	if (filter != NULL && ch_filter_type(filter, &type) != CH_OK) {
		refuse(err, "bad-attribute", NULL,
		       "the filter type must be \"subtree\"");
		snprintf(err->info, sizeof(err->info),
			 "<bad-attribute>type</bad-attribute>"
			 "<bad-element>filter</bad-element>");
		return CH_ERR_INVAL;
	}
	if (filter != NULL && type == CH_FILTER_XPATH)
		return refuse(err, "operation-not-supported", NULL,
			      "notifications take subtree filters only");
	if ((r = time_param(op, "startTime", &req->start, &req->has_start,
			    err)) != CH_OK ||
	    (r = time_param(op, "stopTime", &req->stop, &req->has_stop,
			    err)) != CH_OK)
		return r;
	if (req->has_stop && !req->has_start)
		return refuse(err, "missing-element", "startTime",
			      "<stopTime> needs a <startTime>");
	if (req->has_start && req->start > now)
		return refuse(err, "bad-element", "startTime",
			      "<startTime> is in the future");
	if (req->has_stop && req->stop < req->start)
		return refuse(err, "bad-element", "stopTime",
			      "<stopTime> is before <startTime>");
	req->filter = filter;
	return CH_OK;
}

int notif_subscribe(struct notif_stream *st, const struct notif_req *req,
		    int (*push)(void *ctx, const char *msg, size_t len),
		    void *ctx, struct notif_sub **out)
{
	struct notif_sub *sub;
	xmlNode *copy;

	*out = NULL;
	if ((sub = calloc(1, sizeof(*sub))) == NULL)
		return CH_ERR_NOMEM;
	if (req->filter != NULL) {
		if ((sub->filter = xmlNewDoc((const xmlChar *)"1.0")) == NULL ||
		    (copy = xmlDocCopyNode(req->filter, sub->filter, 1)) ==
			    NULL) {
			xmlFreeDoc(sub->filter);
			free(sub);
			return CH_ERR_NOMEM;
		}
		xmlDocSetRootElement(sub->filter, copy);
	}
	sub->push = push;
	sub->ctx = ctx;
	sub->active = 1;
	sub->replay = req->has_start;
	sub->start = req->start;
	sub->has_stop = req->has_stop;
	sub->stop = req->stop;
	sub->stream = st;
	sub->next = st->subs;
	st->subs = sub;
	*out = sub;
	return CH_OK;
}

void notif_sub_after_reply(struct notif_sub *sub)
{
	static const char done[] =
		"<replayComplete xmlns=\"" NOTIF_NETMOD_NS "\"/>";
	struct notif_rec rec;
	size_t idx = 0;

	if (sub == NULL || !sub->active || !sub->replay)
		return;
	while (notif_log_next(sub->stream->log, &idx, sub->start,
			      sub->has_stop ? &sub->stop : NULL, &rec))
		send_one(sub, rec.t, rec.body, rec.len, 1);
	send_one(sub, time(NULL), done, sizeof(done) - 1, 0);
	sub->replay = 0;
	if (sub->has_stop && sub->stop < time(NULL))
		complete(sub);
	else
		stop_timer_arm(sub->stream);
}

int notif_sub_active(const struct notif_sub *sub)
{
	return sub != NULL && sub->active;
}

void notif_sub_free(struct notif_sub *sub)
{
	struct notif_stream *st;

	if (sub == NULL)
		return;
	for (struct notif_sub **pp = &sub->stream->subs; *pp;
	     pp = &(*pp)->next) {
		if (*pp == sub) {
			*pp = sub->next;
			break;
		}
	}
	st = sub->stream;
	xmlFreeDoc(sub->filter);
	free(sub);
	stop_timer_arm(st);
}
