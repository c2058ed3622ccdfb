/* oncommit.c - the --on-commit program runner (oncommit.h). */
#include "oncommit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/limits.h"
#include "lib/core/log.h"

#define RUN_DIR_MAX 4096
#define RUN_FILE_MAX (RUN_DIR_MAX + 32)
#define MSG_MAX 1024
#define READ_CHUNK 4096		/* one read of its stderr */

extern char **environ;

struct oncommit_run {
	void (*done)(void *ctx, const struct oncommit_result *res);
	void *ctx;		/* NULL done: detached */
	enum oncommit_kind kind;
	uv_process_t proc;
	uv_pipe_t err;		/* its stderr */
	uv_timer_t timer;	/* its timeout */
	int nopen;		/* handles not closed yet */
	int exited;
	int timed_out;
	uint32_t timeout_ms;
	char dir[RUN_DIR_MAX];	/* the two files */
	char msg[MSG_MAX + 1];
	size_t len, msg_max;
	char chunk[READ_CHUNK];	/* what a read brings; msg keeps a part */
	/* The caller's list of runs whose handles are not all closed yet,
	 * for oncommit_cleanup; this run is on it. */
	struct oncommit_run **runs;
	struct oncommit_run *next;
};

static void run_file(const struct oncommit_run *h, const char *name,
		     char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", h->dir, name);
}

static void remove_files(const struct oncommit_run *h)
{
	char path[RUN_FILE_MAX];

	run_file(h, "running.xml", path, sizeof(path));
	unlink(path);
	run_file(h, "diff.xml", path, sizeof(path));
	unlink(path);
	rmdir(h->dir);
}

static void run_free(struct oncommit_run *h)
{
	for (struct oncommit_run **pp = h->runs; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	free(h);
}

static void on_closed(uv_handle_t *hd)
{
	struct oncommit_run *h = hd->data;

	if (--h->nopen > 0)
		return;
	remove_files(h);
	run_free(h);
}

/* The result, from how it ended and what it wrote. */
static void finish(struct oncommit_run *h, int64_t status, int sig)
{
	char why[ONCOMMIT_WHY_MAX];
	struct oncommit_result res = { .accepted = 0, .why = why };

	while (h->len && (h->msg[h->len - 1] == '\n' ||
			  h->msg[h->len - 1] == '\r'))
		h->len--;
	h->msg[h->len] = '\0';
	why[0] = '\0';
	if (h->timed_out)
		snprintf(why, sizeof(why), "the on-commit program did not "
			 "finish within %u ms and was killed%s%s",
			 h->timeout_ms, h->len ? ": " : "", h->msg);
	else if (sig == 0 && status == 0)
		res.accepted = 1;
	else if (h->len)
		snprintf(why, sizeof(why), "%s", h->msg);
	else if (sig)
		snprintf(why, sizeof(why), "the on-commit program was killed "
			 "by signal %d", sig);
	else
		snprintf(why, sizeof(why), "the on-commit program refused the "
			 "change (exit status %lld)", (long long)status);
	if (h->done != NULL)
		h->done(h->ctx, &res);
	h->done = NULL;
}

static void close_all(struct oncommit_run *h)
{
	uv_close((uv_handle_t *)&h->proc, on_closed);
	uv_close((uv_handle_t *)&h->err, on_closed);
	uv_close((uv_handle_t *)&h->timer, on_closed);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct oncommit_run *h = p->data;
	uv_os_fd_t fd;
	ssize_t n;

	h->exited = 1;
	/* What it wrote and we did not read yet; the pipe may stay open
	 * (a child it left behind), so no waiting for EOF. */
	if (uv_fileno((uv_handle_t *)&h->err, &fd) == 0)
		while (h->len < h->msg_max &&
		       (n = read(fd, h->msg + h->len, h->msg_max - h->len)) > 0)
			h->len += (size_t)n;
	kill(-p->pid, SIGKILL);		/* what it left behind */
	finish(h, status, sig);
	close_all(h);
}

static void on_timeout(uv_timer_t *t)
{
	struct oncommit_run *h = t->data;

	h->timed_out = 1;
	kill(-h->proc.pid, SIGKILL);	/* its whole process group */
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
	struct oncommit_run *h = hd->data;

	(void)suggested;
	*buf = uv_buf_init(h->chunk, sizeof(h->chunk));
}

static void on_stderr(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct oncommit_run *h = st->data;
	size_t room = h->msg_max - h->len;

	if (n < 0) {
		uv_read_stop(st);
		return;
	}
	if ((size_t)n > room)
		n = (ssize_t)room;	/* the first KiB only */
	memcpy(h->msg + h->len, buf->base, (size_t)n);
	h->len += (size_t)n;
}

static int write_file(const struct oncommit_run *h, const char *name,
		      const char *text, char *path, size_t len)
{
	run_file(h, name, path, len);
	return ch_file_write_atomic(path, text, strlen(text), 0600);
}

/* environ with ONCOMMIT_ENV set to value (a new array; the strings are
 * environ's, but for *var, which the caller frees too). */
static char **make_env(const char *value, char **var)
{
	size_t n = 0, k = 0;
	char **env;

	*var = NULL;
	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 2, sizeof(*env))) == NULL ||
	    asprintf(var, ONCOMMIT_ENV "=%s", value) < 0) {
		free(env);
		*var = NULL;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], ONCOMMIT_ENV "=",
			    sizeof(ONCOMMIT_ENV)) != 0)
			env[k++] = environ[i];
	env[k] = *var;
	return env;
}

int oncommit_start(struct oncommit_run **runs,
		   const struct oncommit_spec *spec,
		   void (*done)(void *ctx, const struct oncommit_result *res),
		   void *ctx, struct oncommit_run **out)
{
	char run_path[RUN_FILE_MAX], diff_path[RUN_FILE_MAX];
	char *args[4], **env = NULL, *var = NULL;
	uv_stdio_container_t stdio[3];
	uv_process_options_t o;
	struct oncommit_run *h;
	int r;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return CH_ERR_NOMEM;
	h->done = done;
	h->ctx = ctx;
	h->kind = spec->kind;
	h->timeout_ms = spec->timeout_ms;
	h->msg_max = spec->msg_max < MSG_MAX ? spec->msg_max : MSG_MAX;
	snprintf(h->dir, sizeof(h->dir), "%s/on-commit-XXXXXX", spec->dir);
	if (mkdtemp(h->dir) == NULL) {
		ch_log_errno(CH_LOG_ERROR, "%s", h->dir);
		free(h);
		return CH_ERR_IO;
	}
	if (write_file(h, "running.xml", spec->running, run_path,
		       sizeof(run_path)) != CH_OK ||
	    write_file(h, "diff.xml", spec->diff, diff_path,
		       sizeof(diff_path)) != CH_OK) {
		r = CH_ERR_IO;
		goto fail;
	}
	if ((env = make_env(spec->kind == ONCOMMIT_ROLLBACK ? "rollback" :
			    "check", &var)) == NULL) {
		r = CH_ERR_NOMEM;
		goto fail;
	}
	args[0] = (char *)spec->prog;
	args[1] = run_path;
	args[2] = diff_path;
	args[3] = NULL;
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;	/* its output goes to our log */
	stdio[1].data.fd = 2;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&h->err;
	memset(&o, 0, sizeof(o));
	o.file = args[0];
	o.args = args;
	o.env = env;
	o.exit_cb = on_exit_cb;
	o.stdio = stdio;
	o.stdio_count = 3;
	o.flags = UV_PROCESS_DETACHED;	/* its own group, killed as one */
	uv_pipe_init(spec->loop, &h->err, 0);
	uv_timer_init(spec->loop, &h->timer);
	h->proc.data = h->err.data = h->timer.data = h;
	h->runs = runs;
	h->next = *runs;
	*runs = h;
	r = uv_spawn(spec->loop, &h->proc, &o);
	free(env);
	free(var);
	if (r != 0) {
		ch_log_uv(CH_LOG_ERROR, r, "on-commit program %s", args[0]);
		h->exited = 1;
		h->done = NULL;
		/* libuv has the process handle in the loop even so: it is
		 * closed like the others (test-spawn.c spawn_fails). */
		h->nopen = 3;
		close_all(h);
		return CH_ERR_IO;
	}
	h->nopen = 3;
	uv_read_start((uv_stream_t *)&h->err, on_alloc, on_stderr);
	uv_timer_start(&h->timer, on_timeout, spec->timeout_ms, 0);
	*out = h;
	return CH_OK;
fail:
	remove_files(h);
	free(h);
	return r;
}

void oncommit_detach(struct oncommit_run *run)
{
	if (run != NULL)
		run->done = NULL;
}

int oncommit_pid(const struct oncommit_run *run)
{
	return run->proc.pid;
}

/* The agent stops while a rollback's program runs: it is waited for
 * (up to its timeout; the loop is gone, so by polling waitpid), for the
 * device to follow running before we exit. */
static void wait_rollback(struct oncommit_run *h)
{
	uint64_t deadline = uv_hrtime() + 1000000ull * h->timeout_ms;
	struct timespec tick = {
		.tv_nsec = CH_AGENT_ONCOMMIT_POLL_MS * 1000 * 1000 };
	pid_t pid = h->proc.pid, p;
	int status = 0, timed_out = 0;

	ch_info("on-commit program (pid %d) still applies the rolled-back "
		"configuration: waiting for it", pid);
	while ((p = waitpid(pid, &status, WNOHANG)) == 0 ||
	       (p < 0 && errno == EINTR)) {
		if (uv_hrtime() >= deadline) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		nanosleep(&tick, NULL);
	}
	kill(-pid, SIGKILL);		/* what it left behind */
	if (!timed_out && p == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		ch_info("the on-commit program applied the rolled-back "
			"configuration");
	else if (p < 0 && !timed_out)
		ch_log_errno(CH_LOG_ERROR, "on-commit program (pid %d): its "
			     "result on the rolled-back configuration is "
			     "unknown", pid);
	else
		ch_error("the on-commit program failed on the rolled-back "
			 "configuration (%s %d): the device's configuration "
			 "may differ from running", timed_out ? "killed after "
			 "its timeout, signal" : WIFSIGNALED(status) ?
			 "killed by signal" : "exit status",
			 timed_out ? SIGKILL : WIFSIGNALED(status) ?
			 WTERMSIG(status) : WEXITSTATUS(status));
}

void oncommit_cleanup(struct oncommit_run **runs)
{
	struct oncommit_run *h;

	while ((h = *runs) != NULL) {
		if (!h->exited && h->kind == ONCOMMIT_CHECK)
			kill(-h->proc.pid, SIGKILL);	/* never made */
		else if (!h->exited)
			wait_rollback(h);
		remove_files(h);
		run_free(h);
	}
}
