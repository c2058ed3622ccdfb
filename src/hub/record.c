/* record.c - asciicast v2 recordings of terminal sessions: writing,
 * listing, streaming one back (record.h). */
#include "hub/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/core/asciicast.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/log.h"
#include "lib/core/streamframe.h"

#define RECORD_SUFFIX ".cast"
#define RECORD_PATH_MAX 4096
#define RECORD_STOPPED "\r\n[callhome: recording stopped: the file " \
	"reached its size limit; the session went on]\r\n"
/* room kept for that last line */
#define RECORD_RESERVE (2 * sizeof(RECORD_STOPPED) + 64)

struct record {
	FILE *f;
	char path[RECORD_PATH_MAX];
	unsigned id;
	struct timespec t0;
	size_t size;
	int stopped;
	struct ch_cast_utf8 out, in;
	struct ch_buf line;
};

int record_dir(const char *state_dir, char *out, size_t size)
{
	if ((size_t)snprintf(out, size, "%s/recordings", state_dir) >= size) {
		ch_error("recordings: the state directory's path is too long");
		return CH_ERR_IO;
	}
	return ch_mkdirs(out, 0700);
}

/* The ID of a file name "ID.cast", or 0. */
static unsigned name_id(const char *name)
{
	char *end;
	unsigned long v;

	if (name[0] < '1' || name[0] > '9')
		return 0;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno || v > 0xffffffffUL || strcmp(end, RECORD_SUFFIX) != 0)
		return 0;
	return (unsigned)v;
}

unsigned record_last_id(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned last = 0, id;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if ((id = name_id(e->d_name)) > last)
			last = id;
	closedir(d);
	return last;
}

static double elapsed(const struct record *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - r->t0.tv_sec) +
	       (double)(now.tv_nsec - r->t0.tv_nsec) / 1e9;
}

static void stop(struct record *r, const char *why)
{
	ch_warn("term=%u: recording %s stopped: %s", r->id, r->path, why);
	r->stopped = 1;
}

/* Writes what r->line holds (whole lines), unless past the limit. */
static void put_line(struct record *r)
{
	size_t n = ch_buf_len(&r->line);

	if (r->stopped || n == 0)
		return;
	if (r->size + n > CH_TERM_RECORD_MAX - RECORD_RESERVE) {
		struct ch_cast_utf8 u = { .ntail = 0 };

		ch_buf_reset(&r->line);
		if (ch_cast_event(&r->line, elapsed(r), 'o', &u,
				  RECORD_STOPPED, strlen(RECORD_STOPPED),
				  1) == CH_OK &&
		    fwrite(ch_buf_ptr(&r->line), 1, ch_buf_len(&r->line),
			   r->f) == ch_buf_len(&r->line))
			fflush(r->f);
		ch_buf_reset(&r->line);
		r->stopped = 1;
		ch_warn("term=%u: recording %s reached its limit (%u bytes); "
			"the session goes on unrecorded", r->id, r->path,
			CH_TERM_RECORD_MAX);
		return;
	}
	if (fwrite(ch_buf_ptr(&r->line), 1, n, r->f) != n ||
	    fflush(r->f) != 0)
		stop(r, strerror(errno));
	else
		r->size += n;
	ch_buf_reset(&r->line);
}

static void event(struct record *r, char code, struct ch_cast_utf8 *u,
		  const char *p, size_t n)
{
	double t;

	if (r == NULL || r->stopped)
		return;
	t = elapsed(r);
	for (size_t off = 0, k; off < n; off += k) {
		k = n - off < CH_TERM_CAST_CHUNK ? n - off : CH_TERM_CAST_CHUNK;
		if (ch_cast_event(&r->line, t, code, u, p + off, k, 0) ==
		    CH_OK)
			put_line(r);
	}
}

void record_output(struct record *r, const void *p, size_t n)
{
	if (r)
		event(r, 'o', &r->out, p, n);
}

void record_input(struct record *r, const void *p, size_t n)
{
	if (r)
		event(r, 'i', &r->in, p, n);
}

void record_resize(struct record *r, uint32_t cols, uint32_t rows)
{
	char sz[32];
	struct ch_cast_utf8 u = { .ntail = 0 };

	if (r == NULL || r->stopped)
		return;
	snprintf(sz, sizeof(sz), "%ux%u", cols, rows);
	if (ch_cast_event(&r->line, elapsed(r), 'r', &u, sz, strlen(sz),
			  1) == CH_OK)
		put_line(r);
}

struct record *record_open(const char *dir, const struct record_meta *m)
{
	struct record *r = calloc(1, sizeof(*r));
	json_t *hdr = NULL, *ch;
	char *text = NULL;
	int fd;

	if (r == NULL) {
		ch_error("term=%u: no recording: out of memory", m->id);
		return NULL;
	}
	r->id = m->id;
	ch_buf_init(&r->line, 8 * CH_TERM_CAST_CHUNK + 64);
	snprintf(r->path, sizeof(r->path), "%s/%u" RECORD_SUFFIX, dir, m->id);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	ch = json_pack("{s:i, s:s, s:s?, s:s, s:s?, s:s?}",
		       "session", (json_int_t)m->id, "device", m->fp,
		       "name", m->label, "kind", m->kind,
		       "command", m->command, "user", m->user);
	if (ch && m->uid >= 0)
		json_object_set_new(ch, "uid", json_integer(m->uid));
	hdr = json_pack("{s:i, s:i, s:i, s:I, s:{s:s}, s:s, s:o*}",
			"version", 2, "width", m->cols ? (int)m->cols : 80,
			"height", m->rows ? (int)m->rows : 24,
			"timestamp", (json_int_t)time(NULL),
			"env", "TERM", m->term ? m->term : "",
			"title", m->label ? m->label : m->fp,
			"callhome", ch);
	if (hdr)
		json_object_set_new(hdr, "title", json_sprintf("%s on %s",
				    m->kind, m->label ? m->label : m->fp));
	text = hdr ? json_dumps(hdr, JSON_COMPACT) : NULL;
	json_decref(hdr);
	if (text == NULL) {
		ch_error("term=%u: no recording: out of memory", m->id);
		goto fail;
	}
	fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (r->f = fdopen(fd, "w")) == NULL) {
		ch_error("term=%u: no recording: %s: %s", m->id, r->path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	if (fprintf(r->f, "%s\n", text) < 0 || fflush(r->f) != 0) {
		ch_error("term=%u: no recording: %s: %s", m->id, r->path,
			 strerror(errno));
		goto fail;
	}
	r->size = strlen(text) + 1;
	free(text);
	ch_info("term=%u: recording to %s", m->id, r->path);
	return r;
fail:
	free(text);
	if (r->f)
		fclose(r->f);
	ch_buf_cleanup(&r->line);
	free(r);
	return NULL;
}

void record_close(struct record *r)
{
	if (r == NULL)
		return;
	/* a character cut at the very end */
	if (!r->stopped && ch_cast_event(&r->line, elapsed(r), 'o', &r->out,
					 "", 0, 1) == CH_OK)
		put_line(r);
	if (fflush(r->f) != 0 || fsync(fileno(r->f)) != 0)
		ch_warn("term=%u: recording %s: %s", r->id, r->path,
			strerror(errno));
	fclose(r->f);
	ch_buf_cleanup(&r->line);
	free(r);
}

/* ---- listing ---- */

/* The time of the last event line in f (size bytes), 0 if none. */
static double last_time(FILE *f, long size)
{
	static char tail[CH_TERM_CAST_TAIL + 1];
	long from = size > (long)CH_TERM_CAST_TAIL ? size -
		    (long)CH_TERM_CAST_TAIL : 0;
	size_t n;
	char *l;

	if (fseek(f, from, SEEK_SET) != 0)
		return 0;
	n = fread(tail, 1, CH_TERM_CAST_TAIL, f);
	tail[n] = '\0';
	while (n > 0 && tail[n - 1] == '\n')
		tail[--n] = '\0';
	l = strrchr(tail, '\n');
	l = l ? l + 1 : tail;
	return *l == '[' ? strtod(l + 1, NULL) : 0;
}

/* One recording's entry, or NULL (not ours, unreadable, another
 * device's). */
static json_t *entry(const char *dir, unsigned id, const char *fp)
{
	char path[RECORD_PATH_MAX], line[CH_TERM_CAST_HEADER_MAX];
	json_t *hdr = NULL, *ch, *e = NULL;
	struct stat st;
	const char *dev;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u" RECORD_SUFFIX, dir, id);
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	if (fstat(fileno(f), &st) != 0 || !fgets(line, sizeof(line), f) ||
	    (hdr = json_loads(line, 0, NULL)) == NULL)
		goto out;
	ch = json_object_get(hdr, "callhome");
	dev = json_string_value(json_object_get(ch, "device"));
	if (fp && (dev == NULL || strcmp(dev, fp) != 0))
		goto out;
	/* absent is null, never a missing key (docs/control-api.md) */
	e = json_pack("{s:i, s:O?, s:O?, s:O?, s:O?, s:O?, s:f, s:I, s:O?, "
		      "s:O?}", "id", (json_int_t)id,
		      "device", json_object_get(ch, "device"),
		      "name", json_object_get(ch, "name"),
		      "kind", json_object_get(ch, "kind"),
		      "command", json_object_get(ch, "command"),
		      "started", json_object_get(hdr, "timestamp"),
		      "duration", last_time(f, (long)st.st_size),
		      "size", (json_int_t)st.st_size,
		      "uid", json_object_get(ch, "uid"),
		      "user", json_object_get(ch, "user"));
out:
	json_decref(hdr);
	fclose(f);
	return e;
}

static int by_id_desc(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

json_t *record_list(const char *dir, const char *fp, size_t limit)
{
	unsigned *ids = NULL, id;
	size_t n = 0, cap = 0;
	json_t *arr = json_array(), *e;
	struct dirent *de;
	DIR *d;

	if (arr == NULL || (d = opendir(dir)) == NULL)
		return arr;
	while ((de = readdir(d)) != NULL && n < CH_TERM_RECORDINGS_MAX) {
		if ((id = name_id(de->d_name)) == 0)
			continue;
		if (n == cap) {
			unsigned *m = realloc(ids, (cap ? 2 * cap : 64) *
					      sizeof(*ids));
			if (m == NULL)
				break;
			ids = m;
			cap = cap ? 2 * cap : 64;
		}
		ids[n++] = id;
	}
	closedir(d);
	if (n)
		qsort(ids, n, sizeof(*ids), by_id_desc);
	for (size_t i = 0; i < n && json_array_size(arr) < limit; i++)
		if ((e = entry(dir, ids[i], fp)) != NULL)
			json_array_append_new(arr, e);
	free(ids);
	return arr;
}

/* ---- playing one back ---- */

struct play {
	uv_pipe_t pipe;
	uv_shutdown_t shut;
	int fd;			/* the file */
	int done;		/* everything is queued */
	unsigned id;
};

struct play_write {
	uv_write_t w;
	uint8_t data[];
};

static void play_closed(uv_handle_t *h)
{
	struct play *p = h->data;

	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static void play_end(struct play *p)
{
	if (!uv_is_closing((uv_handle_t *)&p->pipe))
		uv_close((uv_handle_t *)&p->pipe, play_closed);
}

static void play_shut(uv_shutdown_t *sh, int status)
{
	(void)status;
	play_end(sh->data);
}

static void play_more(struct play *p);

static void play_wrote(uv_write_t *w, int status)
{
	struct play *p = w->handle->data;

	free(w);
	if (status < 0) {
		play_end(p);
		return;
	}
	if (!p->done && uv_stream_get_write_queue_size(
			(uv_stream_t *)&p->pipe) <= CH_TERM_CLI_LOW)
		play_more(p);
}

static int play_frame(struct play *p, enum ch_sframe_type type,
		      const void *data, size_t n)
{
	struct play_write *w = malloc(sizeof(*w) + CH_SFRAME_HDR + n);
	uv_buf_t b;

	if (w == NULL)
		return -1;
	ch_sframe_header(w->data, type, (uint32_t)n);
	memcpy(w->data + CH_SFRAME_HDR, data, n);
	b = uv_buf_init((char *)w->data, (unsigned)(CH_SFRAME_HDR + n));
	if (uv_write(&w->w, (uv_stream_t *)&p->pipe, &b, 1, play_wrote) < 0) {
		free(w);
		return -1;
	}
	return 0;
}

/* Queues the file up to CH_TERM_CLI_HIGH; at its end, eof and close. */
static void play_more(struct play *p)
{
	static char chunk[CH_TERM_FRAME_MAX];
	ssize_t n;

	while (uv_stream_get_write_queue_size((uv_stream_t *)&p->pipe) <
	       CH_TERM_CLI_HIGH) {
		n = read(p->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			if (play_frame(p, CH_SFRAME_STDOUT, chunk,
				       (size_t)n) != 0)
				goto fail;
			continue;
		}
		if (n < 0)
			ch_warn("recording %u: %s", p->id, strerror(errno));
		p->done = 1;
		if (play_frame(p, CH_SFRAME_EOF, "", 0) != 0 ||
		    play_frame(p, CH_SFRAME_CLOSE, n < 0 ? "read error" : "",
			       n < 0 ? 10 : 0) != 0)
			goto fail;
		p->shut.data = p;
		if (uv_shutdown(&p->shut, (uv_stream_t *)&p->pipe,
				play_shut) != 0)
			goto fail;
		return;
	}
	return;
fail:
	p->done = 1;
	play_end(p);
}

static void play_handoff(void *ctx, int fd, const char *rest, size_t len)
{
	struct play *p = ctx;

	(void)rest;
	(void)len;	/* the client has nothing to say: ignored */
	if (fd < 0) {
		play_end(p);
		return;
	}
	if (uv_pipe_open(&p->pipe, fd) < 0) {
		close(fd);
		play_end(p);
		return;
	}
	play_more(p);
}

void record_play(uv_loop_t *loop, struct hub_ctl_req *req, const char *dir,
		 unsigned id)
{
	char path[RECORD_PATH_MAX], msg[128];
	struct play *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%u" RECORD_SUFFIX, dir, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(msg, sizeof(msg), "no recording %u", id);
		hub_ctl_fail(req, "not-found", msg);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		close(fd);
		hub_ctl_fail(req, "internal", "out of memory");
		return;
	}
	p->fd = fd;
	p->id = id;
	uv_pipe_init(loop, &p->pipe, 0);
	p->pipe.data = p;
	if (hub_ctl_handoff(req, json_pack("{s:b, s:i}", "ok", 1, "stream",
					   (json_int_t)id), play_handoff,
			    p) != CH_OK) {
		/* no callback: the pipe handle was never opened */
		play_end(p);
	}
}
