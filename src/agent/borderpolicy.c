/* borderpolicy.c - the border's ruleset, written and applied
 * (borderpolicy.h).
 */
#include "agent/borderpolicy.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/nftpolicy.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/limits.h"
#include "lib/core/log.h"

#define RESULT_MAX (CH_BORDER_NFT_ERR_MAX + 128)

/* One nft process. */
struct nft_run {
	struct border_policy *p;
	uv_process_t proc;
	uv_pipe_t err;			/* its stderr */
	int nopen;
	int removing;			/* nft delete table, not -f */
	char msg[CH_BORDER_NFT_ERR_MAX + 1];
	size_t len;
};

struct border_policy {
	uv_loop_t *loop;
	const struct border_policy_config *cfg;
	uv_timer_t timer;		/* an nft run's deadline */
	uv_timer_t first;		/* border_policy_when_loaded's */
	void (*loaded)(void *ctx);
	void *loaded_ctx;
	struct nft_run *run;		/* NULL: none */
	char *text;			/* the ruleset last written */
	int dirty;			/* written since the run started */
	int stopping;
	int removed;			/* the delete was run */
	void (*done)(void *ctx);
	void *done_ctx;
	time_t written, applied;
	int ok;
	char result[RESULT_MAX];
};

static void spawn(struct border_policy *p, int removing);

static void tell_loaded(struct border_policy *p)
{
	void (*fn)(void *ctx) = p->loaded;

	p->loaded = NULL;
	uv_timer_stop(&p->first);
	if (fn != NULL)
		fn(p->loaded_ctx);
}

static void on_first(uv_timer_t *t)
{
	struct border_policy *p = t->data;

	if (p->loaded != NULL && p->cfg->apply && p->applied == 0)
		ch_warn("border policy: not loaded after %d ms: going on "
			"without it", CH_BORDER_FIRST_LOAD_MS);
	tell_loaded(p);
}

void border_policy_when_loaded(struct border_policy *p,
			       void (*fn)(void *ctx), void *ctx)
{
	p->loaded = fn;
	p->loaded_ctx = ctx;
	uv_timer_start(&p->first, on_first, p->cfg->apply ?
		       CH_BORDER_FIRST_LOAD_MS : 0, 0);
}

static void stopped(struct border_policy *p)
{
	void (*done)(void *ctx) = p->done;

	p->done = NULL;
	if (done != NULL)
		done(p->done_ctx);
}

/* After a run's handles closed: the next step. */
static void next(struct border_policy *p)
{
	if (p->stopping) {
		if (p->cfg->apply && p->cfg->remove && !p->removed) {
			p->removed = 1;
			spawn(p, 1);
			if (p->run != NULL)
				return;
		}
		stopped(p);
		return;
	}
	if (p->dirty && p->cfg->apply) {
		p->dirty = 0;
		spawn(p, 0);
	}
}

static void on_run_closed(uv_handle_t *h)
{
	struct nft_run *run = h->data;
	struct border_policy *p = run->p;

	if (--run->nopen > 0)
		return;
	free(run);
	if (p->run == run) {
		p->run = NULL;
		next(p);
	}
}

/* The first line of what nft said, for the log and the state. */
static void first_line(char *s)
{
	char *nl;

	while (*s == '\n')
		memmove(s, s + 1, strlen(s));
	if ((nl = strchr(s, '\n')) != NULL)
		*nl = '\0';
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
	struct nft_run *run = proc->data;
	struct border_policy *p = run->p;
	uv_os_fd_t fd;
	ssize_t n;

	uv_timer_stop(&p->timer);
	/* what it wrote and we did not read yet */
	if (uv_fileno((uv_handle_t *)&run->err, &fd) == 0)
		while (run->len < CH_BORDER_NFT_ERR_MAX &&
		       (n = read(fd, run->msg + run->len,
				 CH_BORDER_NFT_ERR_MAX - run->len)) > 0)
			run->len += (size_t)n;
	run->msg[run->len] = '\0';
	first_line(run->msg);
	if (run->removing) {
		if (status == 0 && sig == 0)
			ch_info("border policy: table " NFTPOL_FAMILY " "
				NFTPOL_TABLE " deleted");
		else
			ch_warn("border policy: cannot delete table "
				NFTPOL_FAMILY " " NFTPOL_TABLE ": %s",
				run->len ? run->msg : "nft failed");
	} else {
		p->applied = time(NULL);
		p->ok = status == 0 && sig == 0;
		if (p->ok)
			snprintf(p->result, sizeof(p->result), "applied");
		else if (run->len)
			snprintf(p->result, sizeof(p->result), "nft -f: %s",
				 run->msg);
		else if (sig)
			snprintf(p->result, sizeof(p->result), "nft -f: "
				 "killed by signal %d (timeout %d ms)", sig,
				 CH_BORDER_NFT_TIMEOUT_MS);
		else
			snprintf(p->result, sizeof(p->result), "nft -f: exit "
				 "status %lld", (long long)status);
		if (p->ok)
			ch_info("border policy: %s applied (table "
				NFTPOL_FAMILY " " NFTPOL_TABLE ")",
				p->cfg->file);
		else
			ch_error("border policy: %s not applied: %s",
				 p->cfg->file, p->result);
		tell_loaded(p);
	}
	uv_close((uv_handle_t *)&run->proc, on_run_closed);
	uv_close((uv_handle_t *)&run->err, on_run_closed);
}

static void on_timeout(uv_timer_t *t)
{
	struct border_policy *p = t->data;

	if (p->run != NULL)
		uv_process_kill(&p->run->proc, SIGKILL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct nft_run *run = h->data;

	(void)suggested;
	*buf = uv_buf_init(run->msg + run->len,
			   (unsigned)(CH_BORDER_NFT_ERR_MAX - run->len));
}

static void on_stderr(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct nft_run *run = st->data;

	(void)buf;
	if (n > 0)
		run->len += (size_t)n;
	if (n < 0 || run->len >= CH_BORDER_NFT_ERR_MAX)
		uv_read_stop(st);
}

/* nft -f FILE, or nft delete table (removing). */
static void spawn(struct border_policy *p, int removing)
{
	char *load[] = { BORDER_NFT_PROG, "-f", (char *)p->cfg->file, NULL };
	char *del[] = { BORDER_NFT_PROG, "delete", "table", NFTPOL_FAMILY,
			NFTPOL_TABLE, NULL };
	uv_stdio_container_t stdio[3];
	uv_process_options_t o;
	struct nft_run *run;
	int r;

	if ((run = calloc(1, sizeof(*run))) == NULL) {
		ch_error("border policy: out of memory: %s not applied",
			 p->cfg->file);
		return;
	}
	run->p = p;
	run->removing = removing;
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;	/* nothing, or to our log */
	stdio[1].data.fd = 2;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&run->err;
	memset(&o, 0, sizeof(o));
	o.file = BORDER_NFT_PROG;
	o.args = removing ? del : load;
	o.exit_cb = on_exit_cb;
	o.stdio = stdio;
	o.stdio_count = 3;
	uv_pipe_init(p->loop, &run->err, 0);
	run->proc.data = run->err.data = run;
	run->nopen = 2;
	p->run = run;
	if ((r = uv_spawn(p->loop, &run->proc, &o)) != 0) {
		ch_log_uv(CH_LOG_ERROR, r, "border policy: cannot run "
			  BORDER_NFT_PROG " (package nftables)");
		if (!removing) {
			p->applied = time(NULL);
			p->ok = 0;
			snprintf(p->result, sizeof(p->result), "cannot run "
				 BORDER_NFT_PROG ": %s", uv_strerror(r));
			tell_loaded(p);
		}
		/* libuv keeps the process handle even so: closed as the
		 * other (test-spawn.c spawn_fails); next() follows */
		uv_close((uv_handle_t *)&run->proc, on_run_closed);
		uv_close((uv_handle_t *)&run->err, on_run_closed);
		return;
	}
	uv_read_start((uv_stream_t *)&run->err, on_alloc, on_stderr);
	uv_timer_start(&p->timer, on_timeout, CH_BORDER_NFT_TIMEOUT_MS, 0);
}

int border_policy_new(uv_loop_t *loop, const struct border_policy_config *cfg,
		      struct border_policy **out)
{
	struct border_policy *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return CH_ERR_NOMEM;
	p->loop = loop;
	p->cfg = cfg;
	uv_timer_init(loop, &p->timer);
	uv_timer_init(loop, &p->first);
	p->timer.data = p->first.data = p;
	uv_unref((uv_handle_t *)&p->timer);
	snprintf(p->result, sizeof(p->result), "not applied yet");
	ch_info("border policy: the nftables ruleset goes to %s%s", cfg->file,
		cfg->apply ? " and is applied (nft -f) on every change" : "");
	*out = p;
	return CH_OK;
}

void border_policy_update(struct border_policy *p, const struct border *b)
{
	char *text;
	size_t len;
	int r;

	if (p == NULL || p->stopping)
		return;
	if ((r = nftpol_render_border(b, &text, &len)) != CH_OK) {
		ch_log_r(CH_LOG_ERROR, r, "border policy: cannot generate the "
			 "ruleset: %s keeps the previous one", p->cfg->file);
		return;
	}
	if (p->text != NULL && strcmp(p->text, text) == 0) {
		free(text);
		return;
	}
	if (ch_file_write_atomic(p->cfg->file, text, len, 0644) != CH_OK) {
		ch_error("border policy: %s not written: the previous ruleset "
			 "stays", p->cfg->file);
		free(text);
		return;
	}
	free(p->text);
	p->text = text;
	p->written = time(NULL);
	ch_info("border policy: %s written", p->cfg->file);
	if (!p->cfg->apply)
		return;
	if (p->run != NULL)
		p->dirty = 1;	/* after the one running */
	else
		spawn(p, 0);
}

void border_policy_stop(struct border_policy *p, void (*done)(void *ctx),
			void *ctx)
{
	p->stopping = 1;
	p->loaded = NULL;
	uv_timer_stop(&p->first);
	p->done = done;
	p->done_ctx = ctx;
	p->dirty = 0;
	if (p->run == NULL)
		next(p);
}

void border_policy_state(const struct border_policy *p,
			 struct border_policy_state *st)
{
	memset(st, 0, sizeof(*st));
	st->file = p->cfg->file;
	st->apply = p->cfg->apply;
	st->written = p->written;
	st->applied = p->applied;
	st->ok = p->ok;
	st->result = p->result;
}

void border_policy_free(struct border_policy *p)
{
	if (p == NULL)
		return;
	free(p->text);
	free(p);
}
