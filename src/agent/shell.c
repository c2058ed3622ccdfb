/* shell.c - shell and exec streams served by a local process (shell.h).
 *
 * Life of one: accept() -> the account is resolved and everything the
 * child needs is prepared (argv, environment, groups: after fork only
 * async-signal-safe calls, the agent may have threads) -> fork; the child
 * makes its session, takes its pty or pipes, drops to the account, execs
 * -> the parent polls the pty master (one fd both ways) or the pipes ->
 * the process exits (SIGCHLD, waitpid of its pid) -> the output still
 * readable is sent (until EOF, or CH_AGENT_SHELL_DRAIN_MS: a background
 * child may keep it open) -> exit status, close -> closed(): SIGHUP to the
 * session, SIGKILL after the grace -> freed once the leader is reaped and
 * every handle closed.
 *
 * An fd under a uv_poll is closed only in the poll handle's close
 * callback: libuv unregisters the fd number when the handle stops, and
 * a number reused by then would lose another handle's registration.
 */
#include "agent/shell.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/limits.h"
#include "lib/core/log.h"
#include "lib/core/signame.h"
#include "lib/xport/xport.h"
#include "agent/termconfig.h"

#define PATH_USER "/usr/local/bin:/usr/bin:/bin"
#define PATH_ROOT "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SHELL_DEFAULT "/bin/sh"		/* an account with no shell field */
#define TERM_DEFAULT "vt100"		/* a pty-req with an empty TERM */
#define STAT_LINE_MAX 1024		/* B of /proc/PID/stat read */
#define NENV_OWN 6			/* HOME USER LOGNAME SHELL PATH TERM */
#define NENV (NENV_OWN + CH_STREAM_ENV_MAX)	/* and the manager's */
#define EXEC_FAILED 127			/* the child's status when exec fails */

#define WHY_OFF "shell access is not enabled on this device"
#define WHY_NOACCOUNT "no shell account is configured on this device"
#define WHY_MANAGER "this manager is not allowed shells on this device"
#define WHY_CAP "too many shells on this device (its max-sessions)"
#define WHY_ACCOUNT "the shell account cannot be used"
#define WHY_ROOT "the shell account is root and allow-root is not set"
#define WHY_START "cannot start the process"

enum { END_OUT, END_ERR, END_IN, END_N };

struct shell;

struct end {				/* one fd of the process */
	struct shell *sh;
	int fd;				/* -1: none, or closed */
	uv_poll_t poll;
	int polling;			/* poll initialised, not yet closed */
	int events;			/* what it is started for */
	int eof;			/* output: EOF or EIO; input: closed */
};

struct shell {
	struct agent_shells *all;
	struct shell *next;
	struct ch_stream *s;		/* NULL after its closed() */
	/* the stream's, kept past it: its strings are copied, as the
	 * connection that owns them may be gone while the session is
	 * still being killed */
	struct ch_logctx log;
	char log_peer[64];
	pid_t pid;			/* also its session and group id */
	int pty;
	int reaped;
	int status;			/* waitpid's */
	int out_paused;			/* the channel is over high water */
	int in_paused;			/* the stream is paused: stdin full */
	int in_eof;			/* the manager's EOF */
	int drain_over;
	int done;			/* exit status given, closing */
	int killing;			/* SIGHUP sent, grace running */
	int killed;			/* SIGKILL sent, or nothing left */
	int freeing;
	int nopen;			/* handles not closed yet */
	struct end ends[END_N];
	struct ch_buf inq;		/* for stdin, not taken yet */
	uv_timer_t timer;		/* the drain, then the kill grace */
	char chunk[CH_AGENT_SHELL_READ_CHUNK];
};

struct agent_shells {
	uv_loop_t *loop;
	struct termc cfg;		/* a copy: changed live */
	uv_signal_t sigchld;
	struct shell *list;
	unsigned n;
};

/* Everything the child needs, made before fork. */
struct launch {
	struct passwd pw;
	char pwbuf[CH_AGENT_SHELL_PW_BUF];
	gid_t *groups;
	int ngroups;
	int change_ids;			/* we are root: become the account */
	const char *shell;		/* the account's, or SHELL_DEFAULT */
	char arg0[CH_STREAM_NAME_MAX];
	char *argv[4];
	char *envp[NENV + 1];
};

/* ---- the session's processes ---- */

int agent_shell_stat_sid(const char *line, pid_t *sid)
{
	const char *p = strrchr(line, ')');
	char *end;
	long v;
	int i;

	*sid = 0;
	if (p == NULL)
		return CH_ERR_PROTO;
	p++;
	/* after the name: state ppid pgrp session */
	for (i = 0; i < 4; i++) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return CH_ERR_PROTO;
		if (i < 3)
			while (*p && *p != ' ')
				p++;
	}
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno || end == p || (*end != ' ' && *end != '\0' &&
				  *end != '\n') || v < 0)
		return CH_ERR_PROTO;
	*sid = (pid_t)v;
	return CH_OK;
}

/* sig to every process of session sid (its job-control groups too, which
 * killpg of the leader's group alone would miss); how many there were. */
static unsigned signal_session(pid_t sid, int sig)
{
	char path[64], line[STAT_LINE_MAX];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	kill(-sid, sig);
	if ((d = opendir("/proc")) == NULL)
		return 1;	/* cannot tell: assume some are left */
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		pid_t s;
		ssize_t len;
		int fd;

		if (*end != '\0' || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, line, sizeof(line) - 1);
		close(fd);
		if (len <= 0)
			continue;
		line[len] = '\0';
		if (agent_shell_stat_sid(line, &s) == CH_OK && s == sid) {
			kill((pid_t)pid, sig);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* ---- handles and the end of a shell ---- */

static void release(struct shell *sh)
{
	if (!sh->freeing || sh->nopen > 0)
		return;
	ch_buf_cleanup(&sh->inq);
	free(sh);
}

static void end_closed(uv_handle_t *h)
{
	struct end *e = h->data;
	struct shell *sh = e->sh;

	close(e->fd);
	e->fd = -1;
	sh->nopen--;
	release(sh);
}

static void end_close(struct end *e)
{
	e->eof = 1;
	if (e->polling) {
		e->polling = 0;
		uv_close((uv_handle_t *)&e->poll, end_closed);
	} else if (e->fd >= 0) {
		close(e->fd);
		e->fd = -1;
	}
}

static void timer_closed(uv_handle_t *h)
{
	struct shell *sh = h->data;

	sh->nopen--;
	release(sh);
}

/* Gone from the agent's list (the cap counts it no more) once nothing of
 * it runs: the stream closed, the leader reaped, the session empty. */
static void maybe_free(struct shell *sh)
{
	struct shell **pp;
	int i;

	if (sh->freeing || sh->s || !sh->reaped || !sh->killed)
		return;
	sh->freeing = 1;
	for (pp = &sh->all->list; *pp; pp = &(*pp)->next)
		if (*pp == sh) {
			*pp = sh->next;
			break;
		}
	sh->all->n--;
	for (i = 0; i < END_N; i++)
		end_close(&sh->ends[i]);
	uv_close((uv_handle_t *)&sh->timer, timer_closed);
}

static void on_grace(uv_timer_t *t)
{
	struct shell *sh = t->data;
	unsigned n = signal_session(sh->pid, SIGKILL);

	if (n)
		ch_clog(CH_LOG_INFO, &sh->log, "pid=%d: %u process(es) of its "
			"session outlived SIGHUP by %u ms: killed", (int)sh->pid,
			n, CH_AGENT_SHELL_KILL_GRACE_MS);
	sh->killed = 1;
	maybe_free(sh);
}

/* The channel is gone: the whole session goes too. */
static void kill_session(struct shell *sh)
{
	if (sh->killing)
		return;
	sh->killing = 1;
	uv_timer_stop(&sh->timer);
	if (signal_session(sh->pid, SIGHUP) == 0) {
		sh->killed = 1;		/* nothing left */
		return;
	}
	uv_timer_start(&sh->timer, on_grace, CH_AGENT_SHELL_KILL_GRACE_MS, 0);
}

/* ---- the fds ---- */

static struct end *in_end(struct shell *sh)
{
	return &sh->ends[sh->pty ? END_OUT : END_IN];
}

static int in_dead(struct shell *sh)
{
	struct end *e = in_end(sh);

	return e->fd < 0 || e->eof;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Starts each fd's poll for what it is waiting for now. */
static void rearm(struct shell *sh)
{
	int i;

	for (i = 0; i < END_N; i++) {
		struct end *e = &sh->ends[i];
		int ev = 0;

		if (!e->polling)
			continue;
		if (i != END_IN && !e->eof && !sh->out_paused && sh->s &&
		    !sh->done)
			ev |= UV_READABLE;
		if (e == in_end(sh) && !in_dead(sh) && ch_buf_len(&sh->inq))
			ev |= UV_WRITABLE;
		if (ev == e->events)
			continue;
		e->events = ev;
		if (ev)
			uv_poll_start(&e->poll, ev, on_poll);
		else
			uv_poll_stop(&e->poll);
	}
}

/* stdin of a pipe: closed once what waits is written (the manager's EOF,
 * or the process stopped reading). */
static void close_in(struct shell *sh)
{
	if (!sh->pty)
		end_close(&sh->ends[END_IN]);
}

/* Writes what waits for stdin; the stream resumes once it is all taken. */
static void flush_in(struct shell *sh)
{
	struct end *e = in_end(sh);
	ssize_t w;

	while (ch_buf_len(&sh->inq) && !in_dead(sh)) {
		w = write(e->fd, ch_buf_ptr(&sh->inq), ch_buf_len(&sh->inq));
		if (w > 0) {
			ch_buf_consume(&sh->inq, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		/* EPIPE, EIO: the process reads no more; what comes is
		 * dropped */
		ch_buf_reset(&sh->inq);
		close_in(sh);
	}
	if (in_dead(sh))
		ch_buf_reset(&sh->inq);
	if (ch_buf_len(&sh->inq) == 0) {
		if (sh->in_paused && sh->s)
			ch_stream_pause(sh->s, 0);
		sh->in_paused = 0;
		if (sh->in_eof)
			close_in(sh);
	}
}

static void maybe_finish(struct shell *sh);

static void read_out(struct shell *sh, struct end *e)
{
	ssize_t n = read(e->fd, sh->chunk, sizeof(sh->chunk));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {		/* EOF; EIO: a pty whose slave is closed */
		e->eof = 1;
		return;
	}
	if (sh->s == NULL || sh->done)
		return;
	if ((e == &sh->ends[END_ERR]
	     ? ch_stream_write_err(sh->s, sh->chunk, (size_t)n)
	     : ch_stream_write(sh->s, sh->chunk, (size_t)n)) != CH_OK) {
		ch_stream_close(sh->s, 1, "cannot queue the process's output");
		return;
	}
	if (ch_stream_pending(sh->s) > CH_AGENT_SHELL_OUT_HIGH)
		sh->out_paused = 1;	/* resumed by drained() */
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct end *e = h->data;
	struct shell *sh = e->sh;

	if (status < 0)		/* the fd's error shows in read/write */
		events = e->events;
	if (events & UV_WRITABLE)
		flush_in(sh);
	if ((events & UV_READABLE) && !e->eof)
		read_out(sh, e);
	rearm(sh);
	maybe_finish(sh);
}

static void on_drain_over(uv_timer_t *t)
{
	struct shell *sh = t->data;

	if (sh->out_paused) {	/* the manager still reads: wait more */
		uv_timer_start(&sh->timer, on_drain_over,
			       CH_AGENT_SHELL_DRAIN_MS, 0);
		return;
	}
	sh->drain_over = 1;
	maybe_finish(sh);
}

/* The process exited and its output is out: exit status, then close. */
static void maybe_finish(struct shell *sh)
{
	int i, open = 0;

	if (sh->s == NULL || sh->done || !sh->reaped)
		return;
	for (i = 0; i < END_N; i++)
		if (i != END_IN && sh->ends[i].fd >= 0 && !sh->ends[i].eof)
			open = 1;
	if (open && !sh->drain_over) {
		if (!uv_is_active((uv_handle_t *)&sh->timer))
			uv_timer_start(&sh->timer, on_drain_over,
				       CH_AGENT_SHELL_DRAIN_MS, 0);
		return;
	}
	sh->done = 1;
	uv_timer_stop(&sh->timer);
	if (WIFEXITED(sh->status))
		ch_stream_exit_status(sh->s, WEXITSTATUS(sh->status));
	else if (ch_signal_name(WTERMSIG(sh->status)))
		ch_stream_exit_signal(sh->s, ch_signal_name(
			WTERMSIG(sh->status)), WCOREDUMP(sh->status), NULL);
	else	/* no name in RFC 4254: as shells report a signal */
		ch_stream_exit_status(sh->s, 128 + WTERMSIG(sh->status));
	ch_stream_close(sh->s, 0, "the process exited");
	rearm(sh);
}

/* ---- the stream ---- */

static void st_data(struct ch_stream *s, const char *p, size_t n)
{
	struct shell *sh = ch_stream_ctx(s);

	if (in_dead(sh) || sh->done)
		return;		/* nobody reads it */
	if (ch_buf_put(&sh->inq, p, n) != CH_OK) {
		ch_stream_close(s, 1, "too much input waiting for the process");
		return;
	}
	flush_in(sh);
	if (ch_buf_len(&sh->inq) && !sh->in_paused) {
		sh->in_paused = 1;	/* resumed by flush_in */
		ch_stream_pause(s, 1);
	}
	rearm(sh);
}

static void st_eof(struct ch_stream *s)
{
	struct shell *sh = ch_stream_ctx(s);

	/* a pty has no EOF of its own: the process goes at close */
	sh->in_eof = 1;
	if (ch_buf_len(&sh->inq) == 0)
		close_in(sh);
	rearm(sh);
}

static void st_drained(struct ch_stream *s)
{
	struct shell *sh = ch_stream_ctx(s);

	if (!sh->out_paused)
		return;
	sh->out_paused = 0;
	rearm(sh);
}

static void st_resize(struct ch_stream *s, uint32_t cols, uint32_t rows)
{
	struct shell *sh = ch_stream_ctx(s);
	struct winsize ws = {
		.ws_col = cols > UINT16_MAX ? UINT16_MAX : (unsigned short)cols,
		.ws_row = rows > UINT16_MAX ? UINT16_MAX : (unsigned short)rows,
	};

	if (sh->pty && sh->ends[END_OUT].fd >= 0 &&
	    ioctl(sh->ends[END_OUT].fd, TIOCSWINSZ, &ws) < 0)
		ch_clog_errno(CH_LOG_WARN, &sh->log, "window change to %ux%u",
			      cols, rows);
}

/* A signal request: to the pty's foreground process group (as the key
 * that makes it would), else to the process's group. */
static void st_signal(struct ch_stream *s, const char *name)
{
	struct shell *sh = ch_stream_ctx(s);
	int sig = ch_signal_num(name);
	pid_t pg = -sh->pid;

	if (sig == 0) {
		ch_clog_rl(CH_LOG_INFO, &sh->log, "pid=%d: signal %.32s is not "
			   "one of RFC 4254's: ignored", (int)sh->pid, name);
		return;
	}
	if (sh->reaped || sh->done)
		return;
	if (sh->pty && sh->ends[END_OUT].fd >= 0) {
		pid_t fg = tcgetpgrp(sh->ends[END_OUT].fd);

		if (fg > 0)
			pg = -fg;
	}
	ch_clog(CH_LOG_INFO, &sh->log, "pid=%d: signal %s to process group "
		"%d", (int)sh->pid, name, (int)-pg);
	if (kill(pg, sig) < 0)
		ch_clog_errno(CH_LOG_WARN, &sh->log, "signal %s to process "
			      "group %d", name, (int)-pg);
}

static void st_closed(struct ch_stream *s, const char *why)
{
	struct shell *sh = ch_stream_ctx(s);
	int i;

	sh->s = NULL;
	ch_clog(CH_LOG_INFO, &sh->log, "pid=%d channel closed (%s)%s",
		(int)sh->pid, why ? why : "by us", sh->reaped ? ""
		: ": ending its session");
	for (i = 0; i < END_N; i++)	/* a pty's hang-up, EOF on pipes */
		end_close(&sh->ends[i]);
	kill_session(sh);
	maybe_free(sh);
}

static const struct ch_stream_cb shell_cb = {
	.data = st_data,
	.eof = st_eof,
	.drained = st_drained,
	.resize = st_resize,
	.signal = st_signal,
	.closed = st_closed,
};

/* ---- reaping ---- */

static void on_sigchld(uv_signal_t *h, int signum)
{
	struct agent_shells *all = h->data;
	struct shell *sh, *next;
	int st;

	(void)signum;
	for (sh = all->list; sh; sh = next) {
		next = sh->next;
		if (sh->reaped || waitpid(sh->pid, &st, WNOHANG) != sh->pid)
			continue;
		sh->reaped = 1;
		sh->status = st;
		if (WIFEXITED(st))
			ch_clog(CH_LOG_INFO, &sh->log, "pid=%d exited with "
				"status %d", (int)sh->pid, WEXITSTATUS(st));
		else
			ch_clog(CH_LOG_INFO, &sh->log, "pid=%d killed by "
				"signal %d", (int)sh->pid, WTERMSIG(st));
		maybe_finish(sh);
		maybe_free(sh);
	}
}

/* ---- starting one ---- */

static void launch_free(struct launch *l)
{
	int i;

	if (l == NULL)
		return;
	for (i = 0; i < NENV; i++)
		free(l->envp[i]);
	free(l->groups);
	free(l);
}

/* The account now, and what the child will need. */
/* The manager's env requests the configuration still allows (it may
 * have changed since they came), after ours; a TERM replaces the pty's. */
static int launch_env(struct launch *l, const struct agent_shells *all,
		      const struct ch_stream_req *req, int n)
{
	for (size_t i = 0; i < req->nenv && n < NENV; i++) {
		const char *e = req->env[i], *eq = strchr(e, '=');
		char name[TERMC_ENV_NAME_MAX + 1];
		int k;

		if (eq == NULL || (size_t)(eq - e) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - e), e);
		if (!termc_env_ok(&all->cfg, name))
			continue;
		for (k = 0; k < n; k++)
			if (strncmp(l->envp[k], e, (size_t)(eq - e) + 1) == 0)
				break;
		free(k < n ? l->envp[k] : NULL);
		if ((l->envp[k] = strdup(e)) == NULL)
			return -1;
		if (k == n)
			n++;
	}
	return n;
}

static int launch_make(const struct agent_shells *all,
		       const struct ch_stream_req *req,
		       const struct ch_logctx *log, struct launch **out,
		       const char **why)
{
	struct launch *l = calloc(1, sizeof(*l));
	const char *user = all->cfg.account;
	struct passwd *pw = NULL;
	const char *base;
	int r, n = 0, e = 0;

	*out = NULL;
	*why = WHY_ACCOUNT;
	if (l == NULL) {
		*why = WHY_START;
		return CH_ERR_NOMEM;
	}
	r = getpwnam_r(user, &l->pw, l->pwbuf, sizeof(l->pwbuf), &pw);
	if (pw == NULL) {
		ch_clog(CH_LOG_WARN, log, "shell account '%s': %s", user,
			r ? strerror(r) : "no such account");
		r = CH_ERR_INVAL;
		goto out;
	}
	if (pw->pw_uid == 0 && !all->cfg.allow_root) {
		ch_clog(CH_LOG_WARN, log, "shell account '%s' is uid 0 and "
			"allow-root is not set: refused", user);
		*why = WHY_ROOT;
		r = CH_ERR_DENIED;
		goto out;
	}
	l->change_ids = geteuid() == 0;
	if (!l->change_ids && pw->pw_uid != geteuid()) {
		ch_clog(CH_LOG_WARN, log, "shell account '%s': callhomed runs "
			"as uid %u, not root, and cannot become uid %u",
			user, (unsigned)geteuid(), (unsigned)pw->pw_uid);
		r = CH_ERR_DENIED;
		goto out;
	}
	if (l->change_ids) {
		l->ngroups = 16;
		for (;;) {
			gid_t *g = realloc(l->groups, (size_t)l->ngroups *
					   sizeof(*g));
			int want = l->ngroups;

			if (g == NULL) {
				r = CH_ERR_NOMEM;
				goto out;
			}
			l->groups = g;
			if (getgrouplist(pw->pw_name, pw->pw_gid, g, &want) >= 0) {
				l->ngroups = want;
				break;
			}
			if (want <= l->ngroups ||
			    want > CH_AGENT_SHELL_MAX_GROUPS) {
				ch_clog(CH_LOG_WARN, log, "shell account '%s': "
					"cannot list its groups", user);
				r = CH_ERR_INVAL;
				goto out;
			}
			l->ngroups = want;
		}
	}
	l->shell = pw->pw_shell && *pw->pw_shell ? pw->pw_shell
						 : SHELL_DEFAULT;
	base = strrchr(l->shell, '/');
	base = base ? base + 1 : l->shell;
	if (req->type == CH_STREAM_SHELL) {
		/* a login shell, by the convention every shell knows (as
		 * login and sshd start it) */
		snprintf(l->arg0, sizeof(l->arg0), "-%s", base);
		l->argv[0] = l->arg0;
	} else {
		snprintf(l->arg0, sizeof(l->arg0), "%s", base);
		l->argv[0] = l->arg0;
		l->argv[1] = "-c";
		l->argv[2] = (char *)req->name;
	}
	e |= asprintf(&l->envp[n++], "HOME=%s", pw->pw_dir) < 0;
	e |= asprintf(&l->envp[n++], "USER=%s", pw->pw_name) < 0;
	e |= asprintf(&l->envp[n++], "LOGNAME=%s", pw->pw_name) < 0;
	e |= asprintf(&l->envp[n++], "SHELL=%s", l->shell) < 0;
	e |= asprintf(&l->envp[n++], "PATH=%s", pw->pw_uid == 0 ? PATH_ROOT
		      : PATH_USER) < 0;
	if (req->pty)
		e |= asprintf(&l->envp[n++], "TERM=%s", req->term &&
			      *req->term ? req->term : TERM_DEFAULT) < 0;
	if (!e && launch_env(l, all, req, n) < 0)
		e = 1;
	if (e) {
		r = CH_ERR_NOMEM;
		goto out;
	}
	*out = l;
	l = NULL;
	r = CH_OK;
out:
	if (r == CH_ERR_NOMEM)
		*why = WHY_START;
	launch_free(l);
	return r;
}

/* In the child: fd as number to (not close-on-exec). */
static int move_fd(int fd, int to)
{
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, to) < 0 ? -1 : 0;
}

static void child_fail(const char *msg)
{
	ssize_t w = write(2, msg, strlen(msg));

	(void)w;
	_exit(EXEC_FAILED);
}

/* In the child, after fork: async-signal-safe calls only. in/out/err are
 * the child's stdin, stdout and stderr (the pty slave for all three). */
static void __attribute__((noreturn))
child(const struct launch *l, int pty, int in, int out, int err)
{
	struct rlimit rl;
	sigset_t none;
	int sig;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)	/* SIGPIPE was ignored */
		signal(sig, SIG_DFL);
	if (setsid() < 0)
		_exit(EXEC_FAILED);
	if (pty && ioctl(out, TIOCSCTTY, 0) < 0)
		_exit(EXEC_FAILED);
	if (move_fd(in, 0) < 0 || move_fd(out, 1) < 0 || move_fd(err, 2) < 0)
		_exit(EXEC_FAILED);
	if (close_range(3, ~0U, 0) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0)
		for (rlim_t fd = 3; fd < rl.rlim_cur; fd++)
			close((int)fd);
	if (l->change_ids &&
	    (setgroups((size_t)l->ngroups, l->groups) < 0 ||
	     setgid(l->pw.pw_gid) < 0 || setuid(l->pw.pw_uid) < 0))
		child_fail("callhomed: cannot become the shell account\r\n");
	if (chdir(l->pw.pw_dir) < 0 && chdir("/") < 0)
		_exit(EXEC_FAILED);
	execve(l->shell, l->argv, l->envp);
	child_fail("callhomed: cannot run the account's shell\r\n");
	_exit(EXEC_FAILED);	/* not reached */
}

/* Forks the process: with a pty (its master in fds[END_OUT]) or pipes
 * (fds[END_OUT] its stdout, fds[END_ERR] its stderr, fds[END_IN] its
 * stdin). */
static int spawn(const struct launch *l, const struct ch_stream_req *req,
		 pid_t *pid, int fds[END_N])
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int r = CH_ERR_IO;
	struct winsize ws = {
		.ws_col = req->cols > UINT16_MAX ? UINT16_MAX
			: (unsigned short)req->cols,
		.ws_row = req->rows > UINT16_MAX ? UINT16_MAX
			: (unsigned short)req->rows,
	};

	fds[END_OUT] = fds[END_ERR] = fds[END_IN] = -1;
	if (req->pty) {
		/* the master is ours: in[1], the slave the child's: out[1] */
		if (openpty(&in[1], &out[1], NULL, NULL, &ws) < 0)
			goto out;
		fcntl(in[1], F_SETFD, FD_CLOEXEC);
		fcntl(out[1], F_SETFD, FD_CLOEXEC);
		in[0] = out[1];
	} else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
		   pipe2(err, O_CLOEXEC) < 0) {
		goto out;
	}
	if ((*pid = fork()) < 0)
		goto out;
	if (*pid == 0)
		child(l, req->pty, in[0], out[1], req->pty ? out[1] : err[1]);
	if (req->pty) {
		fds[END_OUT] = in[1];
		in[1] = -1;
		close(out[1]);		/* the slave: in[0] too */
		in[0] = out[1] = -1;
	} else {
		fds[END_OUT] = out[0];
		fds[END_ERR] = err[0];
		fds[END_IN] = in[1];
		out[0] = err[0] = in[1] = -1;
	}
	r = CH_OK;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0 && !(req->pty && i == 0))
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return r;
}

static void end_start(struct shell *sh, int i, int fd)
{
	struct end *e = &sh->ends[i];

	e->sh = sh;
	e->fd = fd;
	if (fd < 0)
		return;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (uv_poll_init(sh->all->loop, &e->poll, fd) != 0) {
		e->eof = 1;	/* closed with the shell */
		return;
	}
	e->poll.data = e;
	e->polling = 1;
	sh->nopen++;
}

int agent_shell_start(struct agent_shells *all, struct ch_stream *s,
		      const struct ch_stream_req *req,
		      const struct agent_shell_who *who, const char **why)
{
	const struct ch_logctx *log = ch_stream_log(s);
	struct launch *l = NULL;
	struct shell *sh = NULL;
	int fds[END_N], r, i;
	pid_t pid = 0;

	if (all == NULL || !all->cfg.enabled) {
		*why = WHY_OFF;
		return CH_ERR_DENIED;
	}
	if (all->cfg.account[0] == '\0') {
		*why = WHY_NOACCOUNT;
		return CH_ERR_DENIED;
	}
	if (!termc_manager_ok(&all->cfg, who->user, who->fp)) {
		ch_clog_rl(CH_LOG_WARN, log, "manager '%s' (key %s) is not in "
			   "terminal allowed-manager", who->user ? who->user
			   : "?", who->fp ? who->fp : "?");
		*why = WHY_MANAGER;
		return CH_ERR_DENIED;
	}
	if (all->n >= all->cfg.max_sessions || all->n >= CH_AGENT_MAX_SHELLS) {
		ch_clog_rl(CH_LOG_WARN, log, "%u shell(s) open, at most %u",
			   all->n, all->cfg.max_sessions);
		*why = WHY_CAP;
		return CH_ERR_LIMIT;
	}
	if ((r = launch_make(all, req, log, &l, why)) != CH_OK)
		return r;
	if ((sh = calloc(1, sizeof(*sh))) == NULL) {
		r = CH_ERR_NOMEM;
		goto out;
	}
	if ((r = spawn(l, req, &pid, fds)) != CH_OK) {
		ch_clog_errno(CH_LOG_WARN, log, "cannot start a %s",
			      req->type == CH_STREAM_SHELL ? "shell" : "command");
		goto out;
	}
	sh->all = all;
	sh->s = s;
	sh->log = *log;
	snprintf(sh->log_peer, sizeof(sh->log_peer), "%s",
		 log->peer ? log->peer : "");
	sh->log.peer = log->peer ? sh->log_peer : NULL;
	sh->log.client = NULL;
	sh->log.device = NULL;
	sh->pid = pid;
	sh->pty = req->pty;
	ch_buf_init(&sh->inq, CH_AGENT_SHELL_IN_MAX);
	uv_timer_init(all->loop, &sh->timer);
	sh->timer.data = sh;
	sh->nopen = 1;
	for (i = 0; i < END_N; i++)
		end_start(sh, i, fds[i]);
	sh->next = all->list;
	all->list = sh;
	all->n++;
	ch_stream_set_cb(s, &shell_cb, sh);
	if (req->pty)
		ch_clog(CH_LOG_INFO, log, "%s started as '%s' (uid %u): pid=%d, "
			"pty %s %ux%u", req->type == CH_STREAM_SHELL ? "shell"
			: "exec", l->pw.pw_name, (unsigned)l->pw.pw_uid,
			(int)pid, req->term && *req->term ? req->term
			: TERM_DEFAULT, req->cols, req->rows);
	else
		ch_clog(CH_LOG_INFO, log, "%s started as '%s' (uid %u): pid=%d, "
			"pipes", req->type == CH_STREAM_SHELL ? "shell" : "exec",
			l->pw.pw_name, (unsigned)l->pw.pw_uid, (int)pid);
	if (req->type == CH_STREAM_EXEC)
		ch_clog(CH_LOG_DEBUG, log, "pid=%d command: %s", (int)pid,
			req->name);
	rearm(sh);
	sh = NULL;	/* the stream's now */
	r = CH_OK;
out:
	if (r != CH_OK)
		*why = WHY_START;
	free(sh);
	launch_free(l);
	return r;
}

/* ---- the agent's ---- */

static void sigchld_closed(uv_handle_t *h)
{
	free(h->data);
}

int agent_shells_new(uv_loop_t *loop, struct agent_shells **out)
{
	struct agent_shells *all;
	int fd;

	*out = NULL;
	/* fds 0-2 open, so that no pipe or pty of a child is one of them */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	if ((all = calloc(1, sizeof(*all))) == NULL)
		return CH_ERR_NOMEM;
	all->loop = loop;
	if (uv_signal_init(loop, &all->sigchld) != 0) {
		free(all);
		return CH_ERR_IO;
	}
	all->sigchld.data = all;
	if (uv_signal_start(&all->sigchld, on_sigchld, SIGCHLD) != 0) {
		uv_close((uv_handle_t *)&all->sigchld, sigchld_closed);
		return CH_ERR_IO;
	}
	uv_unref((uv_handle_t *)&all->sigchld);
	*out = all;
	return CH_OK;
}

int agent_shells_configure(struct agent_shells *all, const struct termc *cfg)
{
	struct termc copy;
	struct passwd *pw = NULL;
	int r;

	if ((r = termc_copy(&copy, cfg)) != CH_OK)
		return r;
	termc_free(&all->cfg);
	all->cfg = copy;
	if (!cfg->enabled || cfg->account[0] == '\0') {
		ch_info("terminal: shell and exec are off%s", cfg->enabled
			? " (no account configured)" : "");
		return CH_OK;
	}
	if ((pw = getpwnam(cfg->account)) == NULL) {
		ch_warn("terminal: no account '%s' on this device: every shell "
			"and exec is refused until there is", cfg->account);
		return CH_ERR_INVAL;
	}
	if (pw->pw_uid == 0 && cfg->allow_root)
		ch_warn("terminal: shells and exec run as '%s', uid 0: the "
			"manager gets root on this device", cfg->account);
	else if (pw->pw_uid == 0)
		ch_warn("terminal: account '%s' is uid 0 and allow-root is "
			"not set: every shell and exec is refused",
			cfg->account);
	ch_info("terminal: shell and exec enabled, as '%s' (uid %u), at most "
		"%u at once, for %s, env %zu name(s)", cfg->account,
		(unsigned)pw->pw_uid, cfg->max_sessions, cfg->nmanagers
		? "the allowed managers" : "every manager", cfg->nenv);
	return CH_OK;
}

int agent_shell_env_ok(const struct agent_shells *all, const char *name)
{
	return all && all->cfg.enabled && termc_env_ok(&all->cfg, name);
}

void agent_shells_free(struct agent_shells *all)
{
	struct shell *sh, *next;

	if (all == NULL)
		return;
	for (sh = all->list; sh; sh = next) {
		next = sh->next;
		signal_session(sh->pid, SIGKILL);
		if (!sh->reaped)
			waitpid(sh->pid, NULL, 0);
		ch_buf_cleanup(&sh->inq);
		free(sh);	/* its handles were closed by the walk */
	}
	termc_free(&all->cfg);
	free(all);
}
