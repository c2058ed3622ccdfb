/* play.c - callhome play: a recording, streamed from the hub (the file
 * stays the hub's), replayed to standard output with its timing: each
 * "o" event's data after the pause since the last one, cut to
 * --idle-limit (or the recording's idle_time_limit), divided by --speed.
 * The hub pushes the file as stdout frames; while we sleep we do not
 * read, and the hub waits (docs/control-api.md, "Streams"). */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/castread.h"
#include "cli/commands.h"
#include "cli/conn.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/streamframe.h"

#define PLAY_SPEED_MAX 1e6	/* --speed */
#define PLAY_RECV_CHUNK (64u * 1024)

static double speed = 1.0, idle_limit;	/* 0: the recording's */

int build_play(struct run *run, int argc, char **argv)
{
	json_int_t id;
	char *end;
	int c, r;

	while ((c = args_next(run, argc, argv)) != -1) {
		if (c == OPT_SPEED || c == OPT_IDLE_LIMIT) {
			double v = strtod(optarg, &end);

			if (*optarg == '\0' || *end || !isfinite(v) || v <= 0 ||
			    v > PLAY_SPEED_MAX)
				return cli_usage_error(run, "--%s wants a "
						       "number above 0",
						       c == OPT_SPEED ? "speed"
						       : "idle-limit");
			if (c == OPT_SPEED)
				speed = v;
			else
				idle_limit = v;
		} else {
			return args_opt_done(run, c);
		}
	}
	if ((r = args_operands(run, argc, 1, 1, "wants one recording ID")) !=
	    CLI_OK || (r = args_job_id(run, argv[optind], &id)) != CLI_OK ||
	    (r = req_start(run, NULL)) != CLI_OK)
		return r;
	return req_set(run, "id", json_integer(id));
}

struct player {
	int header_seen;
	double last_t;		/* the recording's time of the last event */
	double limit;
	struct ch_buf line;
};

static void pause_for(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int play_line(struct player *pl, const char *p, size_t n)
{
	struct cast_header h;
	const char *data;
	size_t len;
	double t, gap;
	char code;
	json_t *keep;
	int r;

	if (!pl->header_seen) {
		if (cast_header_parse(p, n, &h) != CH_OK) {
			cli_fail("the recording is not asciicast v2");
			return -1;
		}
		pl->header_seen = 1;
		pl->limit = idle_limit ? idle_limit : h.idle_limit;
		return 0;
	}
	r = cast_event_parse(p, n, &t, &code, &data, &len, &keep);
	if (r == CH_ERR_AGAIN)
		return 0;
	if (r != CH_OK) {
		cli_fail("the recording has a malformed line");
		return -1;
	}
	if (code == 'o') {
		gap = t - pl->last_t;
		if (pl->limit && gap > pl->limit)
			gap = pl->limit;
		pause_for(gap / speed);
		pl->last_t = t;
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout)) {
			json_decref(keep);
			cli_fail_errno(errno, "writing to standard output");
			return -1;
		}
	}
	json_decref(keep);
	return 0;
}

/* The stdout frames' bytes, cut into lines. */
static int play_bytes(struct player *pl, const uint8_t *p, size_t n)
{
	const uint8_t *nl;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) + 1 : n;

		if (ch_buf_put(&pl->line, p, k) != CH_OK) {
			cli_fail("the recording has a line longer than %u "
				 "bytes", CH_TERM_CAST_LINE_MAX);
			return -1;
		}
		p += k;
		n -= k;
		if (nl) {
			if (play_line(pl, ch_buf_ptr(&pl->line),
				      ch_buf_len(&pl->line)) != 0)
				return -1;
			ch_buf_reset(&pl->line);
		}
	}
	return 0;
}

int stream_play(struct run *run)
{
	struct player pl = { .header_seen = 0 };
	struct ch_buf in;
	struct ch_sframe f;
	json_t *resp = NULL;
	char buf[PLAY_RECV_CHUNK];
	size_t used;
	int fd = -1, r, done = 0;

	ch_buf_init(&in, CH_SFRAME_HDR + CH_TERM_FRAME_MAX + PLAY_RECV_CHUNK);
	ch_buf_init(&pl.line, CH_TERM_CAST_LINE_MAX);
	if ((r = conn_open_stream(run, &resp, &fd, &in)) != CLI_OK)
		goto out;
	if (json_is_false(json_object_get(resp, "ok"))) {
		r = resp_refused(run, resp);
		goto out;
	}
	r = CLI_HUB;
	while (!done) {
		int pr = ch_sframe_parse((const uint8_t *)ch_buf_ptr(&in),
					 ch_buf_len(&in), CH_TERM_FRAME_MAX,
					 &f, &used);

		if (pr == CH_OK) {
			if (f.type == CH_SFRAME_STDOUT &&
			    play_bytes(&pl, f.payload, f.len) != 0)
				goto out;
			if (f.type == CH_SFRAME_CLOSE) {
				if (f.len) {
					cli_fail("the hub: %.*s", (int)f.len,
						 (const char *)f.payload);
					goto out;
				}
				done = 1;
			}
			ch_buf_consume(&in, used);
			continue;
		}
		if (pr != CH_ERR_AGAIN) {
			cli_fail("the hub sent a malformed frame");
			goto out;
		}
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, -1) < 0 && errno != EINTR)
			goto out;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			cli_fail("the hub closed the connection in the middle "
				 "of the recording");
			goto out;
		}
		if (ch_buf_put(&in, buf, (size_t)n) != CH_OK) {
			cli_fail("the hub sent a frame over the limit");
			goto out;
		}
	}
	if (ch_buf_len(&pl.line) &&
	    play_line(&pl, ch_buf_ptr(&pl.line), ch_buf_len(&pl.line)) != 0)
		goto out;
	r = pl.header_seen ? CLI_OK : CLI_HUB;
	if (!pl.header_seen)
		cli_fail("the recording is empty");
out:
	json_decref(resp);
	ch_buf_cleanup(&in);
	ch_buf_cleanup(&pl.line);
	if (fd >= 0)
		close(fd);
	return r;
}
