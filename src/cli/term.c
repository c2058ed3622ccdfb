/* term.c - exec and shell: the request, then the stream the connection
 * becomes (docs/control-api.md, "Streams"; docs/terminal.md). The same
 * client carries a forward (connect, and each connection of forward.c):
 * its input and output are then a TCP connection or stdio, an eof frame
 * from the hub half-closes the output, and no exit status comes.
 *
 * One poll() loop over the hub's socket, the input and a self-pipe for
 * signals. Output frames are written to the output as they come (a
 * blocking write: a slow reader of our output leaves the socket unread,
 * and the hub then pauses the device's channel); the input is read only
 * while less than TERM_OUT_HIGH waits for the hub. With a
 * pty on a terminal, the terminal is in raw mode until any exit (atexit
 * and the signals that end us restore it), SIGWINCH sends the new size,
 * and "~." after a newline leaves, as with ssh.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/conn.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/signame.h"
#include "lib/core/streamframe.h"

#define TERM_STDIN_CHUNK (32u * 1024)	/* B, one read of stdin: one frame */
#define TERM_OUT_HIGH (256u * 1024)	/* B, queued to the hub before stdin waits */
#define TERM_OUT_MAX (TERM_OUT_HIGH + 2 * (TERM_STDIN_CHUNK + CH_SFRAME_HDR) + 64)
#define TERM_RECV_CHUNK (64u * 1024)
#define TERM_DEFAULT_COLS 80
#define TERM_DEFAULT_ROWS 24
#define QUIT_ESCAPE (-1)	/* ss.quit: "~."; else the signal */
#define QUIT_LOCAL (-2)	/* ss.quit: a forward's local side went */

static struct termios saved_tio;
static int raw_on;
static int watching;		/* SIGINT leaves a watch */
static int sig_pipe[2] = { -1, -1 };

struct session {
	int fd;
	int in_fd, out_fd;	/* standard input and output, or a socket */
	int fwd;		/* a forward: no exit status, half-closes */
	int hub_eof;		/* a forward: the destination's side ended */
	uint64_t got;		/* a forward: bytes from the destination */
	char dev_err[CH_STREAM_WHY_MAX + 1]; /* a forward: the device's why */
	const char *device;
	struct ch_buf in;	/* frames from the hub */
	struct ch_buf out;	/* frames to the hub */
	int stdin_open;
	int escape;		/* "~." leaves */
	int at_bol;
	int tilde;
	int quit;		/* left with "~." or a signal */
	int watch;		/* read-only: stdin is not read */
	json_int_t id;		/* the session's */
	int closed;		/* the hub's close frame came */
	int have_exit;
	int32_t status;
	char sig[CH_SFRAME_SIGNAL_MAX + 1];
	char why[CH_STREAM_WHY_MAX + 1];
};

/* ---- the terminal ---- */

static void raw_restore(void)
{
	if (raw_on) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tio);
		raw_on = 0;
	}
}

static int raw_enter(void)
{
	static int registered;
	struct termios tio;

	if (tcgetattr(STDIN_FILENO, &saved_tio) != 0)
		return -1;
	if (!registered && atexit(raw_restore) == 0)
		registered = 1;
	tio = saved_tio;
	cfmakeraw(&tio);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &tio) != 0)
		return -1;
	raw_on = 1;
	return 0;
}

static void window_size(uint32_t *cols, uint32_t *rows)
{
	struct winsize ws;

	*cols = TERM_DEFAULT_COLS;
	*rows = TERM_DEFAULT_ROWS;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col &&
	    ws.ws_row) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

static void on_signal(int sig)
{
	int e = errno;
	char c = (char)sig;

	if (write(sig_pipe[1], &c, 1) < 0) {
		/* full: a wake-up is pending anyway */
	}
	errno = e;
}

static int catch_signals(void)
{
	static const int sigs[] = { SIGWINCH, SIGTERM, SIGHUP, SIGINT };
	struct sigaction sa = { .sa_handler = on_signal };

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return -1;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < CLI_NELEMS(sigs); i++)
		if ((sigs[i] != SIGINT || raw_on || watching) &&
		    sigaction(sigs[i], &sa, NULL) != 0)
			return -1;
	return 0;
}

/* ---- frames ---- */

static int queue(struct session *ss, enum ch_sframe_type type, const void *p,
		 size_t n)
{
	uint8_t hdr[CH_SFRAME_HDR];

	ch_sframe_header(hdr, type, (uint32_t)n);
	if (ch_buf_put(&ss->out, hdr, sizeof(hdr)) != CH_OK ||
	    ch_buf_put(&ss->out, p, n) != CH_OK)
		return -1;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			poll(&pf, 1, -1);
			continue;
		}
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Input typed at a terminal: "~." after a newline leaves, "~~" sends one
 * "~"; everything else goes through. */
static int from_stdin(struct session *ss, const char *p, size_t n)
{
	char buf[2 * TERM_STDIN_CHUNK];
	size_t k = 0;

	if (!ss->escape)
		return queue(ss, CH_SFRAME_STDIN, p, n);
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (ss->tilde) {
			ss->tilde = 0;
			if (c == '.') {
				ss->quit = QUIT_ESCAPE;
				break;
			}
			if (c != '~')
				buf[k++] = '~';
		} else if (ss->at_bol && c == '~') {
			ss->tilde = 1;
			continue;
		}
		buf[k++] = c;
		ss->at_bol = c == '\r' || c == '\n';
	}
	return k ? queue(ss, CH_SFRAME_STDIN, buf, k) : 0;
}

static int on_frame(struct session *ss, const struct ch_sframe *f)
{
	switch (f->type) {
	case CH_SFRAME_STDERR:
		if (ss->fwd) {	/* a forward's stderr: the device says why
				 * it ended it (its last line is kept) */
			size_t n = f->len < sizeof(ss->dev_err) - 1 ? f->len
				   : sizeof(ss->dev_err) - 1;

			memcpy(ss->dev_err, f->payload, n);
			while (n && (ss->dev_err[n - 1] == '\n' ||
				     ss->dev_err[n - 1] == '\r'))
				n--;
			ss->dev_err[n] = '\0';
			return 0;
		}
		/* fall through */
	case CH_SFRAME_STDOUT:
		ss->got += f->len;
		if (ss->fwd && ss->quit)
			return 0;	/* the local side is gone */
		if (write_all(f->type == CH_SFRAME_STDOUT ? ss->out_fd
			      : STDERR_FILENO, (const char *)f->payload,
			      f->len) == 0 || f->type != CH_SFRAME_STDOUT)
			return 0;
		if (ss->fwd) {	/* the local client went: close, quietly */
			ss->quit = QUIT_LOCAL;
			return 0;
		}
		raw_restore();
		cli_fail_errno(errno, "writing to standard output");
		return -1;
	case CH_SFRAME_EOF:
		if (ss->fwd && !ss->hub_eof) {
			/* a socket half-closes; stdout closes (as ssh -W) */
			if (shutdown(ss->out_fd, SHUT_WR) != 0)
				close(ss->out_fd);
			ss->hub_eof = 1;
		}
		return 0;
	case CH_SFRAME_EXIT:
		ss->have_exit = 1;
		ch_sframe_exit_get(f, &ss->status, ss->sig);
		return 0;
	case CH_SFRAME_CLOSE:
		ss->closed = 1;
		snprintf(ss->why, sizeof(ss->why), "%.*s", (int)f->len,
			 (const char *)f->payload);
		return 0;
	default:
		raw_restore();
		cli_fail("the hub sent a %s frame on a stream",
			 ch_sframe_type_name(f->type));
		return -1;
	}
}

/* Every whole frame from the hub. */
static int frames_in(struct session *ss)
{
	struct ch_sframe f;
	size_t used;
	int r;

	while (!ss->closed) {
		r = ch_sframe_parse((const uint8_t *)ch_buf_ptr(&ss->in),
				    ch_buf_len(&ss->in), CH_TERM_FRAME_MAX, &f,
				    &used);
		if (r == CH_ERR_AGAIN)
			return 0;
		if (r != CH_OK) {
			raw_restore();
			cli_fail("the hub sent a malformed frame");
			return -1;
		}
		if (on_frame(ss, &f) != 0)
			return -1;
		ch_buf_consume(&ss->in, used);
	}
	return 0;
}

/* ---- the loop ---- */

static int on_signals(struct session *ss)
{
	uint8_t pl[8];
	uint32_t cols, rows;
	char c;

	while (read(sig_pipe[0], &c, 1) == 1) {
		if (c == SIGWINCH) {
			window_size(&cols, &rows);
			ch_sframe_resize_put(pl, cols, rows);
			if (queue(ss, CH_SFRAME_RESIZE, pl, sizeof(pl)) != 0)
				return -1;
		} else {
			ss->quit = c;
		}
	}
	return 0;
}

static int read_stdin(struct session *ss)
{
	char buf[TERM_STDIN_CHUNK];
	ssize_t n = read(ss->in_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n > 0)
		return from_stdin(ss, buf, (size_t)n);
	ss->stdin_open = 0;	/* EOF, or unreadable: no more input */
	return queue(ss, CH_SFRAME_EOF, "", 0);
}

/* 0 going on, -1 the hub is gone or broke the protocol. */
static int read_hub(struct session *ss)
{
	char buf[TERM_RECV_CHUNK];
	ssize_t n = recv(ss->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		raw_restore();
		cli_fail("the hub closed the connection to %s in the middle "
			 "of the session", ss->device);
		return -1;
	}
	if (ch_buf_put(&ss->in, buf, (size_t)n) != CH_OK) {
		raw_restore();
		cli_fail("the hub sent a frame over the limit");
		return -1;
	}
	return frames_in(ss);
}

static int write_hub(struct session *ss)
{
	ssize_t n = send(ss->fd, ch_buf_ptr(&ss->out), ch_buf_len(&ss->out),
			 MSG_NOSIGNAL);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0) {
		raw_restore();
		cli_fail_errno(errno, "writing to the hub");
		return -1;
	}
	ch_buf_consume(&ss->out, (size_t)n);
	return 0;
}

static int loop(struct session *ss)
{
	struct pollfd p[3];

	while (!ss->closed && !ss->quit) {
		int stdin_ok = ss->stdin_open &&
			       ch_buf_len(&ss->out) < TERM_OUT_HIGH;

		p[0] = (struct pollfd){ .fd = sig_pipe[0], .events = POLLIN };
		p[1] = (struct pollfd){ .fd = ss->fd, .events = POLLIN |
			(ch_buf_len(&ss->out) ? POLLOUT : 0) };
		p[2] = (struct pollfd){ .fd = stdin_ok ? ss->in_fd : -1,
					.events = POLLIN };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			raw_restore();
			cli_fail_errno(errno, "poll");
			return -1;
		}
		if ((p[0].revents && on_signals(ss) != 0) ||
		    (p[2].revents && read_stdin(ss) != 0) ||
		    ((p[1].revents & POLLOUT) && write_hub(ss) != 0) ||
		    ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		     read_hub(ss) != 0))
			return -1;
	}
	return 0;
}

/* How a forward ended: 0 when the destination's side ended (its eof came)
 * or ours did; else the device closed it before (it could not connect,
 * its policy refused the name once resolved, it went away). */
static int fwd_outcome(struct session *ss, const char *what)
{
	if (ss->quit) {
		if (queue(ss, CH_SFRAME_CLOSE, "", 0) == 0)
			write_hub(ss);
		if (ss->quit == QUIT_LOCAL || ss->quit == SIGTERM)
			return CLI_OK;	/* the local side ended it */
		cli_fail("%s on %s: %s", what, ss->device,
			 strsignal(ss->quit));
		return CLI_STREAM_LOST;
	}
	if (ss->dev_err[0]) {	/* the device ended it and said why */
		cli_fail("%s on %s: %s", what, ss->device, ss->dev_err);
		return ss->got ? CLI_STREAM_LOST : CLI_REFUSED;
	}
	if (ss->hub_eof)
		return CLI_OK;
	if (ss->got == 0)
		cli_fail("%s on %s: the device closed the stream before any "
			 "byte came (it could not connect, or its forwarding "
			 "policy refused the name's address; its log says "
			 "which): %s", what, ss->device, ss->why[0] ? ss->why
			 : "closed");
	else
		cli_fail("%s on %s: closed by the device: %s", what,
			 ss->device, ss->why[0] ? ss->why : "closed");
	return CLI_STREAM_LOST;
}

/* The exit status of the CLI for how the stream ended. */
static int outcome(struct session *ss, const char *what)
{
	raw_restore();
	if (ss->fwd)
		return fwd_outcome(ss, what);
	if (ss->quit == SIGHUP && !ss->watch) {
		/* the terminal went away: no close, the hub keeps the
		 * session for an attach */
		cli_fail("%s on %s: detached (SIGHUP); resume with: callhome "
			 "shell %s --attach %lld", what, ss->device,
			 ss->device, (long long)ss->id);
		return CLI_STREAM_LOST;
	}
	if (ss->quit) {
		/* a last, best-effort close for the hub */
		if (queue(ss, CH_SFRAME_CLOSE, "", 0) == 0)
			write_hub(ss);
		cli_fail("%s on %s: %s", what, ss->device, ss->quit ==
			 QUIT_ESCAPE ? "left with ~." : strsignal(ss->quit));
		return CLI_STREAM_LOST;
	}
	if (ss->have_exit && ss->sig[0]) {
		/* as a local shell reports it: 128 + the number (OpenSSH's
		 * ssh exits 255 instead: docs/terminal.md) */
		cli_fail("%s on %s: killed by signal %s", what, ss->device,
			 ss->sig);
		return ch_signal_num(ss->sig) ? 128 + ch_signal_num(ss->sig)
					      : CLI_STREAM_LOST;
	}
	if (ss->have_exit)
		return ss->status & 0xff;
	cli_fail("%s on %s ended without an exit status: %s", what,
		 ss->device, ss->why[0] ? ss->why : "closed");
	return CLI_STREAM_LOST;
}

/* The stream of run->req between the hub and in_fd/out_fd; fwd: a
 * forward (see the top). */
static int stream_run(struct run *run, int in_fd, int out_fd, int fwd)
{
	json_t *resp = NULL, *pty = json_object_get(run->req, "pty");
	const char *what = json_string_value(json_object_get(run->req, "cmd"));
	struct session ss = { .fd = -1, .stdin_open = 1, .at_bol = 1,
			      .in_fd = in_fd, .out_fd = out_fd, .fwd = fwd };
	char dest[CH_SFRAME_COMMAND_MAX + 32];
	int r;

	ss.device = json_string_value(json_object_get(run->req, "device"));
	if (fwd) {
		const char *host = json_string_value(json_object_get(run->req,
								     "host"));

		snprintf(dest, sizeof(dest), strchr(host, ':')
			 ? "forward to [%s]:%lld" : "forward to %s:%lld", host,
			 (long long)json_integer_value(json_object_get(
				 run->req, "port")));
		what = dest;
		/* the output may be a socket its client closed */
		signal(SIGPIPE, SIG_IGN);
	}
	ch_buf_init(&ss.in, CH_SFRAME_HDR + CH_TERM_FRAME_MAX +
		    TERM_RECV_CHUNK);
	ch_buf_init(&ss.out, TERM_OUT_MAX);
	r = conn_open_stream(run, &resp, &ss.fd, &ss.in);
	if (r != CLI_OK)
		goto out;
	if (json_is_false(json_object_get(resp, "ok"))) {
		r = resp_refused(run, resp);
		goto out;
	}
	ss.id = json_integer_value(json_object_get(resp, "stream"));
	if (json_object_get(run->req, "watch")) {
		ss.watch = watching = 1;
		ss.stdin_open = 0;
		if (ss.device == NULL)
			ss.device = "the device";
	} else if (pty && !json_is_null(pty) && isatty(STDIN_FILENO)) {
		if (raw_enter() != 0) {
			cli_fail_errno(errno, "cannot put the terminal in raw "
				       "mode");
			r = CLI_USAGE;
			goto out;
		}
		ss.escape = 1;
		/* stdout is the terminal: a failed write is an error to
		 * report, with the terminal restored, not a silent death */
		signal(SIGPIPE, SIG_IGN);
	}
	if (catch_signals() != 0) {
		raw_restore();
		cli_fail_errno(errno, "signals");
		r = CLI_USAGE;
		goto out;
	}
	if (frames_in(&ss) != 0 || loop(&ss) != 0)
		r = CLI_STREAM_LOST;
	else
		r = outcome(&ss, what);
out:
	raw_restore();
	json_decref(resp);
	ch_buf_cleanup(&ss.in);
	ch_buf_cleanup(&ss.out);
	if (ss.fd >= 0)
		close(ss.fd);
	return r;
}

int stream_term(struct run *run)
{
	return stream_run(run, STDIN_FILENO, STDOUT_FILENO, 0);
}

int stream_connect(struct run *run)
{
	return stream_run(run, STDIN_FILENO, STDOUT_FILENO, 1);
}

int stream_fd(struct run *run, int fd)
{
	return stream_run(run, fd, fd, 1);
}

/* ---- the requests ---- */

/* "pty": the terminal's type and size. */
static int req_pty(struct run *run)
{
	const char *term = getenv("TERM");
	uint32_t cols, rows;

	window_size(&cols, &rows);
	return req_set(run, "pty", json_pack("{s:s, s:i, s:i}", "term",
		       term && *term && strlen(term) <= CH_SFRAME_TERM_MAX
		       ? term : "xterm", "cols", (json_int_t)cols, "rows",
		       (json_int_t)rows));
}

int build_exec(struct run *run, int argc, char **argv)
{
	const char *tty = NULL;
	struct ch_buf cmd;
	int r;

	if ((r = args_opts(run, argc, argv, 't', &tty, NULL)) != CLI_OK)
		return r;
	if (argc - optind < 2)
		return cli_usage_error(run, "wants DEVICE -- COMMAND...");
	if ((r = args_nonempty(run, argv[optind], "DEVICE")) != CLI_OK ||
	    (r = req_start(run, argv[optind])) != CLI_OK)
		return r;
	/* the words, joined by spaces, as ssh does */
	ch_buf_init(&cmd, CH_SFRAME_COMMAND_MAX);
	for (int i = optind + 1; i < argc && r == CLI_OK; i++)
		if ((i > optind + 1 && ch_buf_put(&cmd, " ", 1) != CH_OK) ||
		    ch_buf_put(&cmd, argv[i], strlen(argv[i])) != CH_OK)
			r = cli_usage_error(run, "COMMAND is longer than %u "
					    "bytes", CH_SFRAME_COMMAND_MAX);
	if (r == CLI_OK)
		r = args_nonempty(run, ch_buf_ptr(&cmd), "COMMAND");
	if (r == CLI_OK)
		r = req_str(run, "command", ch_buf_ptr(&cmd), "COMMAND");
	ch_buf_cleanup(&cmd);
	if (r == CLI_OK)
		r = tty ? req_pty(run) : req_set(run, "pty", json_null());
	return r;
}

/* --attach and --watch: a session ID. */
static int session_id(struct run *run, const char *opt, const char *s,
		      json_int_t *id)
{
	if (args_job_id(run, s, id) != CLI_OK)
		return cli_usage_error(run, "--%s wants a session ID (see "
				       "callhome sessions)", opt);
	return CLI_OK;
}

int build_shell(struct run *run, int argc, char **argv)
{
	const char *attach = NULL, *watch = NULL;
	json_int_t id = 0;
	int c, r;

	while ((c = args_next(run, argc, argv)) != -1) {
		if (c == OPT_ATTACH)
			attach = optarg;
		else if (c == OPT_WATCH)
			watch = optarg;
		else
			return args_opt_done(run, c);
	}
	if (attach && watch)
		return cli_usage_error(run, "--attach or --watch, not both");
	if (watch) {
		/* DEVICE is optional: the session names it */
		if ((r = args_operands(run, argc, 0, 1, "wants at most one "
				       "DEVICE with --watch")) != CLI_OK ||
		    (r = session_id(run, "watch", watch, &id)) != CLI_OK ||
		    (r = req_start(run, optind < argc ? argv[optind]
						       : NULL)) != CLI_OK)
			return r;
		return req_set(run, "watch", json_integer(id));
	}
	if ((r = args_device_operands(run, argc, argv, 1,
				      "wants one DEVICE")) != CLI_OK ||
	    (attach && (r = session_id(run, "attach", attach, &id)) !=
	     CLI_OK) ||
	    (r = req_start(run, argv[optind])) != CLI_OK ||
	    (attach && (r = req_set(run, "attach", json_integer(id))) !=
	     CLI_OK))
		return r;
	/* a pty when we have a terminal; else the shell reads stdin */
	return isatty(STDIN_FILENO) ? req_pty(run)
				    : req_set(run, "pty", json_null());
}
