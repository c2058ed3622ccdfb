/* shell.h - terminal access on the agent (docs/terminal.md): the shell
 * and exec streams a manager asks for on the connection the agent opened
 * (RFC 4254 6.2-6.5 over RFC 8071).
 *
 * A stream becomes one process, run as the configured local account
 * (supplementary groups, gid, uid; HOME, USER, LOGNAME, SHELL, PATH;
 * cwd = home): the account's login shell for "shell", its shell with -c
 * COMMAND for "exec". With a pty-req it gets a pty (TERM and window size
 * from the request, window-change followed); otherwise pipes: stdin from
 * the channel's data, stdout to it, stderr apart as SSH extended data
 * (RFC 4254 5.2). The manager's env requests (6.4) are kept when the
 * configuration's env allow-list has the name (termconfig.h); a signal
 * request (6.9) goes to the pty's foreground process group, or the
 * process's own group on pipes. The process is the leader of its own
 * session and process group; when the channel closes or the connection
 * ends, every process of that session gets SIGHUP, then SIGKILL after
 * CH_AGENT_SHELL_KILL_GRACE_MS. When the process exits, what it wrote is
 * sent, then its exit status - or exit-signal (6.10) with the signal's
 * name and whether it dumped core, when a signal RFC 4254 names killed
 * it (128 + the number otherwise, as shells say) - then the channel is
 * closed.
 *
 * Flow control both ways: past CH_AGENT_SHELL_OUT_HIGH of unsent channel
 * output (stdout and stderr together) the process's output is left
 * unread (it blocks on a full pipe or pty) until the channel drains;
 * while the process does not read its stdin the stream is paused (the
 * manager's window closes).
 *
 * Off until configured (the callhome-terminal module's /terminal, or
 * --shell-user): enabled, an account (uid 0 only with allow-root), the
 * managers allowed (by key fingerprint or user name; none listed: every
 * one), at most max-sessions at once (never past CH_AGENT_MAX_SHELLS).
 * The configuration changes live: new requests follow it, running
 * processes keep going. A refused request gets SSH's failure, and the
 * reason is logged. Children are reaped by pid on SIGCHLD (waitpid of
 * our own pids only: uv_spawn's children, such as the on-commit
 * program's, stay libuv's).
 */
#ifndef CH_AGENT_SHELL_H
#define CH_AGENT_SHELL_H

#include <sys/types.h>

#include <uv.h>

struct ch_stream;
struct ch_stream_req;
struct agent_shells;
struct termc;

/* Who asks: the manager as its connection authenticated it. */
struct agent_shell_who {
	const char *user;		/* the SSH user name it asked for */
	const char *fp;			/* its key's "SHA256:..." */
};

/* Terminal access, off until configured. Returns new; free with
 * agent_shells_free. CH_ERR_NOMEM, CH_ERR_IO (libuv). */
int agent_shells_new(uv_loop_t *loop, struct agent_shells **out);
/* The configuration from now on (copied; logged). CH_ERR_INVAL when it
 * is on with an account that does not exist now (it is kept: requests
 * are refused until there is one), CH_ERR_NOMEM (the old one stays). */
int agent_shells_configure(struct agent_shells *sh, const struct termc *cfg);
/* Whether a manager may set env name now (sh NULL: no). */
int agent_shell_env_ok(const struct agent_shells *sh, const char *name);
/* After the loop closed every handle (main's walk): every live session
 * gets SIGKILL and the memory goes. NULL does nothing. */
void agent_shells_free(struct agent_shells *sh);

/* Inside the transport's accept(): serves s (a CH_STREAM_SHELL or
 * CH_STREAM_EXEC stream; req is its request; who asks) with a new
 * process. sh NULL or not enabled: terminal access is off. CH_OK: taken
 * (its callbacks are set). Else
 * *why (static text) says why it is refused; details are logged. */
int agent_shell_start(struct agent_shells *sh, struct ch_stream *s,
		      const struct ch_stream_req *req,
		      const struct agent_shell_who *who, const char **why);

/* The session id in one /proc/PID/stat line (the 6th field, counted after
 * the command name, which may hold spaces and parentheses). CH_OK, or
 * CH_ERR_PROTO when the line is not one. */
int agent_shell_stat_sid(const char *line, pid_t *sid);

#endif
