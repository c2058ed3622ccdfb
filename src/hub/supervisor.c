/* supervisor.c - the hub's supervisor of workers (supervisor.h). */
#include "hub/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hub/api/req.h"
#include "hub/api/status.h"
#include "hub/hub.h"
#include "hub/wlink.h"
#include "lib/core/err.h"
#include "lib/core/hash.h"
#include "lib/core/log.h"
#include "lib/net/hostport.h"

extern char **environ;

#define OWNER_BUCKETS 65536u	/* power of two; chains beyond are short */

/* Which worker holds a device's session. */
struct owner {
	struct owner *next;
	int worker;
	char fp[CH_FP_LEN];
};

struct sworker {
	struct supervisor *sup;
	int idx;
	pid_t pid;			/* 0: not running */
	struct wlink *link;		/* NULL: closed */
	int ready;			/* listening (its 'R' came) */
	int was_ready;			/* ever, since the hub started */
	uint64_t started_ms;
	unsigned delay_ms;		/* before the next start after a death */
	uv_timer_t restart;
	struct wlink_ops ops;		/* its channel's, ctx this */
};

/* status or sessions: every running worker asked, answered as one. */
struct query {
	struct query *next;
	struct supervisor *sup;
	uint64_t id;
	struct hub_ctl_req *req;
	char what[16];
	json_t *parts;			/* the workers' answers */
	int waiting;			/* workers yet to answer */
	uint64_t asked;			/* bit per worker asked, unanswered */
	uv_timer_t timer;
};

struct supervisor {
	struct hub *hub;
	char **argv;
	struct sworker w[CH_HUB_MAX_WORKERS];
	int n;
	struct owner **owners;		/* OWNER_BUCKETS chains */
	int held[CH_HUB_MAX_WORKERS];	/* owners per worker */
	uv_signal_t sig_int, sig_term, sig_hup, sig_chld;
	uv_timer_t stop_timer;
	int *placeholders;		/* bound call-home ports (supervisor.h) */
	size_t nplaceholders;
	struct query *queries;
	uint64_t next_query;
	unsigned rr;			/* the next worker for the fleet */
	int stopping;
	int announced;			/* "hub ready" said */
	int rc;
};

/* ---- who holds which device ---- */

static struct owner **owner_slot(struct supervisor *s, const char *fp)
{
	struct owner **pp = &s->owners[ch_hash_bytes(fp, strlen(fp)) &
				       (OWNER_BUCKETS - 1)];

	while (*pp && strcmp((*pp)->fp, fp) != 0)
		pp = &(*pp)->next;
	return pp;
}

static int owner_of(struct supervisor *s, const char *fp)
{
	struct owner *o = *owner_slot(s, fp);

	return o ? o->worker : -1;
}

/* fp is held by worker (-1: by none); the previous holder, or -1. */
static int owner_set(struct supervisor *s, const char *fp, int worker)
{
	struct owner **pp = owner_slot(s, fp), *o = *pp;
	int prev = o ? o->worker : -1;

	if (o && worker < 0) {
		*pp = o->next;
		free(o);
	} else if (o) {
		o->worker = worker;
	} else if (worker >= 0 && (o = calloc(1, sizeof(*o))) != NULL) {
		snprintf(o->fp, sizeof(o->fp), "%s", fp);
		o->worker = worker;
		*pp = o;
	}
	if (prev >= 0)
		s->held[prev]--;
	if (worker >= 0 && (prev >= 0 || o))
		s->held[worker]++;
	return prev;
}

/* ---- messages ---- */

static void send_others(struct supervisor *s, int from, int type,
			const char *payload, size_t len)
{
	for (int i = 0; i < s->n; i++)
		if (i != from && s->w[i].link && s->w[i].ready)
			wlink_send(s->w[i].link, type, payload, len, -1);
}

static void query_answer(struct supervisor *s, int worker, const char *p);

static void stop_all(struct supervisor *s, int rc);
static struct hub_ctl_ops ctl_ops;

/* Every worker listens: the control socket opens (its file appearing
 * says the hub serves, as with one process), and the hub is ready. */
static void announce(struct supervisor *s)
{
	struct hub *hub = s->hub;
	char path[CH_HUB_PATH_MAX + 16];
	int r;

	for (int i = 0; i < s->n; i++)
		if (!s->w[i].ready)
			return;
	s->announced = 1;
	snprintf(path, sizeof(path), "%s/hub.sock", hub->cfg.state_dir);
	if ((r = hub_ctl_start(hub->loop, path, &ctl_ops, &hub->ctl)) !=
	    CH_OK) {
		if (r == CH_ERR_EXISTS)
			ch_error("control socket %s: another hub is running "
				 "on this state directory", path);
		stop_all(s, 1);
		return;
	}
	if (hub->cfg.control_group &&
	    hub_ctl_share(hub->ctl, hub->cfg.control_gid) != CH_OK) {
		stop_all(s, 1);
		return;
	}
	ch_info("hub ready (user '%s', admission %s, %d workers)",
		hub->cfg.user, hub_admission_policy_name(hub->cfg.admission),
		s->n);
}

static void on_message(void *ctx, struct wlink *l, int type,
		       const char *payload, size_t len, int fd)
{
	struct sworker *w = ctx;
	struct supervisor *s = w->sup;
	int prev;

	(void)l;
	if (fd >= 0)
		close(fd);	/* workers send none */
	switch (type) {
	case WLINK_READY:
		w->ready = 1;
		w->was_ready = 1;
		ch_info("worker %d ready (pid %ld)", w->idx, (long)w->pid);
		if (!s->announced)
			announce(s);
		break;
	case WLINK_UP:
		prev = owner_set(s, payload, w->idx);
		/* the device called again, on another worker: its older
		 * session there goes */
		if (prev >= 0 && prev != w->idx && s->w[prev].link)
			wlink_send(s->w[prev].link, WLINK_DROP, payload, len,
				   -1);
		break;
	case WLINK_GONE:
		if (owner_of(s, payload) == w->idx)
			owner_set(s, payload, -1);
		break;
	case WLINK_KICK:
	case WLINK_JOB:
	case WLINK_FAILED:
	case WLINK_ADMITTED:
		send_others(s, w->idx, type, payload, len);
		break;
	case WLINK_ANSWER:
		query_answer(s, w->idx, payload);
		break;
	default:
		ch_debug("supervisor: message '%c' from worker %d ignored",
			 type, w->idx);
	}
}

/* ---- a worker's end ---- */

/* A device the dead worker held or ran a job on: no longer its, and
 * the others look at its queue (read-only jobs queued again run where
 * it calls next). */
struct lost {
	struct supervisor *s;
	int idx;
};

static void lost_device(void *ctx, const char *fp)
{
	struct lost *l = ctx;

	if (owner_of(l->s, fp) == l->idx)
		owner_set(l->s, fp, -1);
	send_others(l->s, l->idx, WLINK_KICK, fp, strlen(fp));
}

/* Worker idx, process pid, is gone: what the registry says it held (its
 * pid is the holder of those rows) is ended, as a hub's start does after
 * a crash; a device that already called another worker is left alone. */
static void forget_worker(struct supervisor *s, int idx, pid_t pid)
{
	struct lost l = { s, idx };
	char why[64];
	int doubt = 0;

	snprintf(why, sizeof(why), "the hub's worker %d ended", idx);
	if (pid > 0 && ch_store_holder_lost(s->hub->store, (int64_t)pid, why,
					    hub_now_s(), lost_device, &l,
					    &doubt) != CH_OK)
		ch_error("worker %d: its devices and jobs could not be "
			 "recorded as ended", idx);
	for (unsigned b = 0; b < OWNER_BUCKETS && s->held[idx] > 0; b++) {
		struct owner **pp = &s->owners[b], *o;

		while ((o = *pp) != NULL) {
			if (o->worker != idx) {
				pp = &o->next;
				continue;
			}
			*pp = o->next;
			free(o);
			s->held[idx]--;
		}
	}
	if (doubt)
		ch_warn("%d job(s) were running on worker %d: they are in "
			"doubt and will not run again unless retried "
			"(callhome jobs --state in-doubt)", doubt, idx);
}

static void on_link_closed(void *ctx, struct wlink *l)
{
	struct sworker *w = ctx;

	(void)l;
	w->link = NULL;
	w->ready = 0;
	/* it is stopping (or dead, SIGCHLD comes): nothing is routed to it
	 * any more, and what it held is not held */
	forget_worker(w->sup, w->idx, w->pid);
}

static int spawn(struct supervisor *s, struct sworker *w)
{
	char env[64], **envp;
	size_t n = 0;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		ch_log_errno(CH_LOG_ERROR, "worker %d: socketpair", w->idx);
		return CH_ERR_IO;
	}
	/* the environment, made before fork: the child only execs */
	while (environ[n])
		n++;
	if ((envp = calloc(n + 2, sizeof(*envp))) == NULL) {
		close(sv[0]);
		close(sv[1]);
		return CH_ERR_NOMEM;
	}
	snprintf(env, sizeof(env), SUPERVISOR_WORKER_ENV "=%d/%d/%d", w->idx,
		 s->n, sv[1]);
	n = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, SUPERVISOR_WORKER_ENV "=",
			    sizeof(SUPERVISOR_WORKER_ENV)) != 0)
			envp[n++] = *e;
	envp[n++] = env;
	envp[n] = NULL;
	pid = fork();
	if (pid == 0) {
		sigset_t all;

		/* the worker ends with the supervisor, at once: a crashed
		 * supervisor leaves what a crashed hub of one process leaves,
		 * and its ports free for the next start */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fcntl(sv[1], F_SETFD, 0);	/* kept across exec */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execve("/proc/self/exe", s->argv, envp);
		_exit(127);
	}
	free(envp);
	close(sv[1]);
	if (pid < 0) {
		ch_log_errno(CH_LOG_ERROR, "worker %d: fork", w->idx);
		close(sv[0]);
		return CH_ERR_IO;
	}
	w->pid = pid;
	w->ready = 0;
	w->started_ms = uv_now(s->hub->loop);
	if ((w->link = wlink_open(s->hub->loop, sv[0], &w->ops)) == NULL) {
		kill(pid, SIGKILL);
		return CH_ERR_NOMEM;
	}
	return CH_OK;
}

static void on_restart(uv_timer_t *t)
{
	struct sworker *w = t->data;

	if (w->sup->stopping || w->pid > 0)
		return;
	if (spawn(w->sup, w) != CH_OK)
		uv_timer_start(&w->restart, on_restart, w->delay_ms, 0);
}

/* Reaped: pid ended with status. */
static void worker_exited(struct supervisor *s, struct sworker *w, int st)
{
	uint64_t lived = uv_now(s->hub->loop) - w->started_ms;
	char how[64];

	if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "killed by signal %d",
			 WTERMSIG(st));
	else
		snprintf(how, sizeof(how), "exited with status %d",
			 WEXITSTATUS(st));
	if (s->stopping) {
		w->pid = 0;
		ch_info("worker %d %s", w->idx, how);
		return;
	}
	if (w->link) {		/* its channel not closed yet */
		wlink_close(w->link);
		w->link = NULL;
		w->ready = 0;
	}
	/* again: what it wrote after its channel closed */
	forget_worker(s, w->idx, w->pid);
	w->pid = 0;
	if (!w->was_ready) {
		ch_error("worker %d %s before it was ready; the hub cannot "
			 "start", w->idx, how);
		stop_all(s, 1);
		return;
	}
	w->delay_ms = lived < CH_HUB_WORKER_YOUNG_MS
		      ? (w->delay_ms ? w->delay_ms * 2
				     : CH_HUB_WORKER_RESTART_MS)
		      : CH_HUB_WORKER_RESTART_MS;
	if (w->delay_ms > CH_HUB_WORKER_RESTART_MAX_MS)
		w->delay_ms = CH_HUB_WORKER_RESTART_MAX_MS;
	ch_warn("worker %d %s; its devices call again and land on the "
		"others; starting it again in %u ms", w->idx, how,
		w->delay_ms);
	uv_timer_start(&w->restart, on_restart, w->delay_ms, 0);
}

static void finish_if_done(struct supervisor *s);

static void on_chld(uv_signal_t *h, int signum)
{
	struct supervisor *s = h->data;
	pid_t pid;
	int st;

	(void)signum;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (int i = 0; i < s->n; i++)
			if (s->w[i].pid == pid)
				worker_exited(s, &s->w[i], st);
	if (s->stopping)
		finish_if_done(s);
}

/* ---- the control socket: routing ---- */

static void pass_connection(void *ctx, int fd, const char *read,
			    size_t len)
{
	struct sworker *w = ctx;
	int memfd = -1, r;

	if (fd < 0)
		return;
	if (len > CH_HUB_WLINK_MSG_MAX) {
		/* a big request (a configuration): in a memory file */
		memfd = memfd_create("callhome-request", MFD_CLOEXEC);
		if (memfd < 0 || write(memfd, read, len) != (ssize_t)len) {
			ch_log_errno(CH_LOG_ERROR, "control: cannot pass a "
				     "request of %zu bytes", len);
			if (memfd >= 0)
				close(memfd);
			close(fd);
			return;
		}
		r = wlink_send(w->link, WLINK_BIG, "", 0, memfd);
		close(memfd);
		read = "";
		len = 0;
		if (r != CH_OK) {
			close(fd);
			return;
		}
	}
	if (wlink_send(w->link, WLINK_CONTROL, read, len, fd) != CH_OK)
		ch_warn("control: worker %d did not take a connection", w->idx);
	close(fd);		/* the worker has its copy */
}

/* The worker a request goes to, or NULL when none is running. */
static struct sworker *pick(struct supervisor *s, const char *cmd,
			    json_t *args)
{
	const char *dev = api_arg(args, "device");
	const char *id = api_arg(args, "fingerprint");
	json_t *session = json_object_get(args, "attach");
	struct ch_device_rec rec;
	char fp[CH_FP_LEN];
	int o = -1;

	if (session == NULL || json_is_null(session))
		session = json_object_get(args, "watch");
	if (strcmp(cmd, "shell") == 0 && json_is_integer(session) &&
	    json_integer_value(session) > 0) {
		/* a shell session lives where its ID says (term.c) */
		o = (int)(json_integer_value(session) % s->n);
	} else if (dev && ch_store_device_resolve(s->hub->store, dev, fp) ==
		   CH_OK) {
		o = owner_of(s, fp);
	} else if (id && ch_store_device_get(s->hub->store, id, &rec) ==
		   CH_OK) {
		o = owner_of(s, rec.fingerprint);
	}
	if (o >= 0 && s->w[o].link && s->w[o].ready)
		return &s->w[o];
	for (int i = 0; i < s->n; i++) {
		struct sworker *w = &s->w[s->rr++ % (unsigned)s->n];

		if (w->link && w->ready)
			return w;
	}
	return NULL;
}

/* ---- status and sessions: every worker's part ---- */

static void query_free(struct query *q)
{
	json_decref(q->parts);
	free(q);
}

static void query_closed(uv_handle_t *h)
{
	query_free(h->data);
}

static json_int_t num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The workers' status parts as one: sessions and blocked sources
 * summed, the listeners of the first (they all listen alike). */
static json_t *status_sum(json_t *parts)
{
	static const char *const keys[] = { "netconf_ssh", "netconf_tls",
		"handshaking", "terminals", "forwards" };
	json_t *sum = json_object(), *sessions = json_object(), *p;
	json_int_t blocked = 0;
	size_t i;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		json_int_t n = 0;

		json_array_foreach(parts, i, p)
			n += num(json_object_get(p, "sessions"), keys[k]);
		json_object_set_new(sessions, keys[k], json_integer(n));
	}
	json_array_foreach(parts, i, p)
		blocked += num(p, "blocked_sources");
	p = json_array_get(parts, 0);
	json_object_set(sum, "listeners", p ? json_object_get(p, "listeners")
					    : json_array());
	if (json_object_get(sum, "listeners") == NULL)
		json_object_set_new(sum, "listeners", json_array());
	json_object_set_new(sum, "sessions", sessions);
	json_object_set_new(sum, "blocked_sources", json_integer(blocked));
	return sum;
}

/* The workers' parts in the order of their numbers (they answer in any
 * order). */
static json_t *by_worker(json_t *parts)
{
	json_t *sorted = json_array(), *p;
	size_t i, j;

	json_array_foreach(parts, i, p) {
		json_int_t k = num(p, "worker");

		for (j = 0; j < json_array_size(sorted); j++)
			if (num(json_array_get(sorted, j), "worker") > k)
				break;
		json_array_insert(sorted, j, p);
	}
	return sorted;
}

static void query_done(struct query *q)
{
	struct supervisor *s = q->sup;
	struct query **pp;
	json_t *all, *p;
	size_t i;

	for (pp = &s->queries; *pp != q; pp = &(*pp)->next)
		;
	*pp = q->next;
	if (q->waiting)
		ch_warn("%s: %d worker(s) did not answer within %d ms; "
			"left out", q->what, q->waiting,
			CH_HUB_WORKER_QUERY_MS);
	if (strcmp(q->what, "status") == 0) {
		api_status_respond(s->hub, q->req, status_sum(q->parts),
				   by_worker(q->parts));
	} else {
		all = json_array();
		json_array_foreach(q->parts, i, p)
			json_array_extend(all, json_object_get(p, "sessions"));
		hub_ctl_respond(q->req, json_pack("{s:b, s:o}", "ok", 1,
						  "sessions", all));
	}
	uv_close((uv_handle_t *)&q->timer, query_closed);
}

static void on_query_timeout(uv_timer_t *t)
{
	query_done(t->data);
}

static void query_answer(struct supervisor *s, int worker, const char *p)
{
	unsigned long long id;
	int off = 0;
	struct query *q;
	json_t *ans;

	if (sscanf(p, "%llu %n", &id, &off) < 1 || off == 0)
		return;
	for (q = s->queries; q && q->id != id; q = q->next)
		;
	if (q == NULL || !(q->asked & (1ull << worker)))
		return;		/* too late: left out already */
	q->asked &= ~(1ull << worker);
	q->waiting--;
	if ((ans = json_loads(p + off, JSON_DECODE_ANY, NULL)) != NULL &&
	    json_is_object(ans))
		json_array_append(q->parts, ans);
	json_decref(ans);
	if (q->waiting == 0)
		query_done(q);
}

/* Asks every running worker what (with args, borrowed); answers req
 * once all have answered or the time is up. */
static void ask_all(struct supervisor *s, struct hub_ctl_req *req,
		    const char *what, json_t *args)
{
	struct query *q = calloc(1, sizeof(*q));
	char *text = json_dumps(args, JSON_COMPACT);

	if (q == NULL || text == NULL || (q->parts = json_array()) == NULL) {
		free(q);
		free(text);
		hub_ctl_fail(req, "internal", "out of memory");
		return;
	}
	q->sup = s;
	q->id = ++s->next_query;
	q->req = req;
	snprintf(q->what, sizeof(q->what), "%s", what);
	for (int i = 0; i < s->n; i++) {
		if (!s->w[i].link || !s->w[i].ready)
			continue;
		if (wlink_sendf(s->w[i].link, WLINK_QUERY, "%" PRIu64 " %s %s",
				q->id, what, text) == CH_OK) {
			q->asked |= 1ull << i;
			q->waiting++;
		}
	}
	free(text);
	q->next = s->queries;
	s->queries = q;
	uv_timer_init(s->hub->loop, &q->timer);
	q->timer.data = q;
	if (q->waiting == 0)
		query_done(q);
	else
		uv_timer_start(&q->timer, on_query_timeout,
			       CH_HUB_WORKER_QUERY_MS, 0);
}

static void handle(void *ctx, struct hub_ctl_req *req, const char *cmd,
		   json_t *args)
{
	struct supervisor *s = ctx;
	struct ch_device_rec rec;
	struct sworker *w;
	json_t *qa;

	if (strcmp(cmd, "status") == 0) {
		ask_all(s, req, "status", args);
		return;
	}
	if (strcmp(cmd, "sessions") == 0) {
		qa = json_object();
		if (api_arg(args, "device")) {
			if (api_device_arg(s->hub, req, args, &rec) != 0) {
				json_decref(qa);
				return;		/* answered: not found */
			}
			json_object_set_new(qa, "fp",
					    json_string(rec.fingerprint));
		}
		ask_all(s, req, "sessions", qa);
		json_decref(qa);
		return;
	}
	if ((w = pick(s, cmd, args)) == NULL) {
		hub_ctl_fail(req, "unavailable", "no worker of the hub is "
			     "running now; try again in a moment");
		return;
	}
	if (hub_ctl_route(req, pass_connection, w) != CH_OK)
		hub_ctl_fail(req, "bad-request", "an earlier request on this "
			     "connection is still unanswered; with several "
			     "workers, the hub routes a connection by its "
			     "first request: wait for each answer");
}

/* The supervisor answers its pending questions before it goes. */
static void ctl_stopping(void *ctx)
{
	struct supervisor *s = ctx;

	while (s->queries)
		query_done(s->queries);
}

static struct hub_ctl_ops ctl_ops = {
	.handle = handle,
	.stop = ctl_stopping,
};

/* ---- the call-home ports ---- */

/* Each call-home endpoint: refused now if something else has the port
 * (a bind without SO_REUSEPORT would fail: without this, a second hub
 * could silently share the port with ours), then held by a socket that
 * is bound with SO_REUSEPORT but not listening, so that the port stays
 * ours while a worker starts again; it takes no connection. */
static int hold_port(struct supervisor *s, const struct hub_listen *ep)
{
	struct addrinfo hints, *res, *ai;
	char service[8], addr[CH_ADDRSTR_LEN];
	int one = 1, r = CH_OK, fd, *grown;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", ep->port);
	if (getaddrinfo(ep->host, service, &hints, &res) != 0)
		return CH_OK;	/* the workers say why */
	for (ai = res; ai && r == CH_OK; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		ch_sockaddr_str(ai->ai_addr, addr, sizeof(addr));
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    errno == EADDRINUSE) {
			ch_error("listen %s: the address is in use (another "
				 "hub?)", addr);
			r = CH_ERR_EXISTS;
		}
		close(fd);
		if (r != CH_OK)
			break;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		grown = realloc(s->placeholders, (s->nplaceholders + 1) *
						 sizeof(int));
		if (grown == NULL ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			if (grown)
				s->placeholders = grown;
			close(fd);
			continue;
		}
		s->placeholders = grown;
		s->placeholders[s->nplaceholders++] = fd;
	}
	freeaddrinfo(res);
	return r;
}

/* ---- start and stop ---- */

static void handle_closed(uv_handle_t *h)
{
	(void)h;
}

static void finish_if_done(struct supervisor *s)
{
	for (int i = 0; i < s->n; i++)
		if (s->w[i].pid > 0)
			return;
	uv_close((uv_handle_t *)&s->stop_timer, handle_closed);
	uv_close((uv_handle_t *)&s->sig_chld, handle_closed);
	for (int i = 0; i < s->n; i++) {
		uv_close((uv_handle_t *)&s->w[i].restart, handle_closed);
		wlink_close(s->w[i].link);
		s->w[i].link = NULL;
	}
	ch_info("stopped");
}

static void on_stop_timeout(uv_timer_t *t)
{
	struct supervisor *s = t->data;

	for (int i = 0; i < s->n; i++)
		if (s->w[i].pid > 0) {
			ch_warn("worker %d did not stop within %d ms; killing "
				"it", i, CH_HUB_WORKER_STOP_MS);
			kill(s->w[i].pid, SIGKILL);
		}
}

static void stop_all(struct supervisor *s, int rc)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	s->rc = rc;
	if (s->hub->ctl) {
		hub_ctl_stop(s->hub->ctl);
		s->hub->ctl = NULL;
	}
	uv_close((uv_handle_t *)&s->sig_int, handle_closed);
	uv_close((uv_handle_t *)&s->sig_term, handle_closed);
	uv_close((uv_handle_t *)&s->sig_hup, handle_closed);
	for (int i = 0; i < s->n; i++) {
		uv_timer_stop(&s->w[i].restart);
		if (s->w[i].pid > 0)
			kill(s->w[i].pid, SIGTERM);
	}
	for (size_t i = 0; i < s->nplaceholders; i++)
		close(s->placeholders[i]);
	s->nplaceholders = 0;
	uv_timer_start(&s->stop_timer, on_stop_timeout,
		       CH_HUB_WORKER_STOP_MS, 0);
	finish_if_done(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct supervisor *s = h->data;

	if (signum == SIGHUP) {		/* each worker reloads its TLS files */
		ch_info("SIGHUP: passed to the workers");
		for (int i = 0; i < s->n; i++)
			if (s->w[i].pid > 0)
				kill(s->w[i].pid, SIGHUP);
		return;
	}
	ch_info("signal %d: stopping the workers", signum);
	stop_all(s, 0);
}

/* 1 when a hub serves the control socket of this state directory: said,
 * before any worker starts. (A stale socket file is replaced later.) */
static int another_hub(struct hub *hub)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, alive;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hub.sock",
		     hub->cfg.state_dir) >= (int)sizeof(sa.sun_path))
		return 0;	/* the control socket says why, later */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	if (alive)
		ch_error("control socket %s: another hub is running on this "
			 "state directory", sa.sun_path);
	return alive;
}

int supervisor_run(struct hub *hub, char **argv)
{
	static struct supervisor sup;
	struct supervisor *s = &sup;

	s->hub = hub;
	s->argv = argv;
	s->n = hub->nworkers;
	ctl_ops.ctx = s;
	if (another_hub(hub) ||
	    (s->owners = calloc(OWNER_BUCKETS, sizeof(*s->owners))) == NULL)
		return 1;
	for (size_t i = 0; i < hub->cfg.nlisten; i++)
		if (hold_port(s, &hub->cfg.listen[i]) != CH_OK)
			return 1;
	for (size_t i = 0; i < hub->cfg.nlisten_tls; i++)
		if (hold_port(s, &hub->cfg.listen_tls[i]) != CH_OK)
			return 1;
	uv_signal_init(hub->loop, &s->sig_int);
	uv_signal_init(hub->loop, &s->sig_term);
	uv_signal_init(hub->loop, &s->sig_hup);
	uv_signal_init(hub->loop, &s->sig_chld);
	s->sig_int.data = s->sig_term.data = s->sig_hup.data =
		s->sig_chld.data = s;
	uv_signal_start(&s->sig_int, on_signal, SIGINT);
	uv_signal_start(&s->sig_term, on_signal, SIGTERM);
	uv_signal_start(&s->sig_hup, on_signal, SIGHUP);
	uv_signal_start(&s->sig_chld, on_chld, SIGCHLD);
	uv_timer_init(hub->loop, &s->stop_timer);
	s->stop_timer.data = s;
	ch_info("starting %d workers", s->n);
	for (int i = 0; i < s->n; i++) {
		s->w[i].sup = s;
		s->w[i].idx = i;
		uv_timer_init(hub->loop, &s->w[i].restart);
		s->w[i].restart.data = &s->w[i];
		s->w[i].ops = (struct wlink_ops){ .ctx = &s->w[i],
			.message = on_message, .closed = on_link_closed };
	}
	for (int i = 0; i < s->n; i++)
		if (spawn(s, &s->w[i]) != CH_OK) {
			stop_all(s, 1);
			break;
		}
	uv_run(hub->loop, UV_RUN_DEFAULT);
	for (unsigned b = 0; b < OWNER_BUCKETS; b++)
		while (s->owners[b]) {
			struct owner *o = s->owners[b];

			s->owners[b] = o->next;
			free(o);
		}
	free(s->owners);
	free(s->placeholders);
	return s->rc;
}
