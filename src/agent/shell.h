/* shell.h - terminal access on the agent (docs/terminal.md): the shell
 * and exec streams a manager asks for on the connection the agent opened
 * (RFC 4254 6.2-6.5 over RFC 8071).
 *
 * A stream becomes one process, run as the configured local account
 * (supplementary groups, gid, uid; HOME, USER, LOGNAME, SHELL, PATH;
 * cwd = home): the account's login shell for "shell", its shell with -c
 * COMMAND for "exec". With a pty-req it gets a pty (TERM and window size
 * from the request, window-change followed); otherwise pipes: stdin from
 * the channel's data, stdout to it, stderr too (merged: the transport has
 * no extended data yet). The process is the leader of its own session
 * and process group; when the channel closes or the connection ends,
 * every process of that session gets SIGHUP, then SIGKILL after
 * CH_AGENT_SHELL_KILL_GRACE_MS. When the process exits, what it wrote is
 * sent, then its exit status, then the channel is closed.
 *
 * Flow control both ways: past CH_AGENT_SHELL_OUT_HIGH of unsent channel
 * output the process's output is left unread (it blocks on a full pipe or
 * pty) until the channel drains; while the process does not read its
 * stdin the stream is paused (the manager's window closes).
 *
 * Off unless an account is configured (--shell-user); at most
 * CH_AGENT_MAX_SHELLS at once per agent. Children are reaped by pid on
 * SIGCHLD (waitpid of our own pids only: uv_spawn's children, such as
 * the on-commit program's, stay libuv's).
 */
#ifndef CH_AGENT_SHELL_H
#define CH_AGENT_SHELL_H

#include <sys/types.h>

#include <uv.h>

struct ch_stream;
struct ch_stream_req;
struct agent_shells;

/* Terminal access for account user (borrowed for the agent's life; it
 * must exist now: CH_ERR_INVAL otherwise, logged). Returns new; free with
 * agent_shells_free. CH_ERR_NOMEM, CH_ERR_IO (libuv). */
int agent_shells_new(uv_loop_t *loop, const char *user,
		     struct agent_shells **out);
/* After the loop closed every handle (main's walk): every live session
 * gets SIGKILL and the memory goes. NULL does nothing. */
void agent_shells_free(struct agent_shells *sh);

/* Inside the transport's accept(): serves s (a CH_STREAM_SHELL or
 * CH_STREAM_EXEC stream; req is its request) with a new process. sh NULL:
 * terminal access is off. CH_OK: taken (its callbacks are set). Else
 * *why (static text) says why it is refused; details are logged. */
int agent_shell_start(struct agent_shells *sh, struct ch_stream *s,
		      const struct ch_stream_req *req, const char **why);

/* The session id in one /proc/PID/stat line (the 6th field, counted after
 * the command name, which may hold spaces and parentheses). CH_OK, or
 * CH_ERR_PROTO when the line is not one. */
int agent_shell_stat_sid(const char *line, pid_t *sid);

#endif
