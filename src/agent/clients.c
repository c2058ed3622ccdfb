/* clients.c - one dialer per netconf-client of the call-home
 * configuration, following the running datastore live.
 *
 * When running settles (datastore.h: a change outside a confirmed
 * commit, or a confirmed commit made final) the configuration is read
 * again and compared client by client, by name and by its printed
 * subtree: a removed client's dialer is stopped (its connection closed),
 * an added one is started, a changed one is stopped and started again
 * only once the old one has fully stopped, so there is never a second
 * session to one manager. Unchanged clients keep their connections.
 *
 * Dialers borrow their client from a configuration "generation"; a
 * generation is freed when no dialer uses it and a newer one is current.
 */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/core/log.h"

struct gen {
	struct chc_config cfg;
	int refs;
};

struct entry {
	struct clients *owner;
	char name[CHC_NAME_MAX + 1];
	struct dialer *d;
	struct gen *gen;		/* d's client lives here */
	int stopping;
	int restart;			/* start the current one when stopped */
	struct entry *next;
};

struct clients {
	struct agent *ag;
	struct gen *cur;
	struct entry *list;
	uv_timer_t timer;		/* the reconfiguration delay */
	int timer_closed;
	int stopping;
	void (*done)(void *ctx);
	void *done_ctx;
};

static void gen_unref(struct clients *cs, struct gen *g)
{
	if (g && --g->refs == 0 && g != cs->cur) {
		chc_free(&g->cfg);
		free(g);
	}
}

static struct entry *find_live(struct clients *cs, const char *name)
{
	for (struct entry *e = cs->list; e; e = e->next)
		if (!e->stopping && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static int start_client(struct clients *cs, const struct chc_client *cl)
{
	struct entry *e = calloc(1, sizeof(*e));
	int r;

	if (e == NULL)
		return CH_ERR_NOMEM;
	e->owner = cs;
	snprintf(e->name, sizeof(e->name), "%s", cl->name);
	if ((r = dialer_start(cs->ag, cl, &e->d)) != CH_OK) {
		free(e);
		return r;
	}
	e->gen = cs->cur;
	e->gen->refs++;
	e->next = cs->list;
	cs->list = e;
	return CH_OK;
}

/* Stopping, and every dialer and the timer are gone: frees cs. */
static void maybe_done(struct clients *cs)
{
	void (*done)(void *) = cs->done;
	void *ctx = cs->done_ctx;
	struct gen *g = cs->cur;

	if (!cs->stopping || cs->list != NULL || !cs->timer_closed)
		return;
	cs->cur = NULL;
	gen_unref(cs, g);
	cs->ag->clients = NULL;
	free(cs);
	if (done)
		done(ctx);
}

static void on_dialer_stopped(void *ctx)
{
	struct entry *e = ctx;
	struct clients *cs = e->owner;
	const struct chc_client *cl;

	for (struct entry **pp = &cs->list; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	gen_unref(cs, e->gen);
	if (e->restart && !cs->stopping && cs->cur &&
	    (cl = chc_find(&cs->cur->cfg, e->name)) != NULL &&
	    find_live(cs, e->name) == NULL) {
		ch_info("call home: client %s restarts with its new "
			"configuration", e->name);
		if (start_client(cs, cl) != CH_OK)
			ch_error("call home: cannot start client %s", e->name);
	}
	free(e);
	maybe_done(cs);
}

static void stop_entry(struct entry *e, const char *why, int restart)
{
	e->restart = restart;
	if (e->stopping)
		return;
	e->stopping = 1;
	dialer_stop(e->d, why, on_dialer_stopped, e);
}

/* Makes the dialers follow cfg (taken). */
static void reconcile(struct clients *cs, struct chc_config *cfg)
{
	struct gen *g = calloc(1, sizeof(*g)), *old = cs->cur;
	const struct chc_client *cl;

	if (g == NULL) {
		ch_error("call home: out of memory; configuration unchanged");
		chc_free(cfg);
		return;
	}
	g->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	/* An agent that started calling over TLS only may be given an SSH
	 * endpoint: its managers' keys are needed from now on. */
	if (chc_uses_ssh(&g->cfg) && cs->ag->authkeys == NULL &&
	    ch_authkeys_load(cs->ag->cfg.authkeys_path, &cs->ag->authkeys) !=
	    CH_OK)
		ch_error("call home: SSH endpoints configured, but %s has no "
			 "usable manager key: every SSH manager will be "
			 "refused", cs->ag->cfg.authkeys_path);
	g->refs = 1;			/* being current */
	cs->cur = g;
	for (struct entry *e = cs->list; e; e = e->next) {
		if (e->stopping) {
			/* Changed before it stopped: start what is current. */
			e->restart = chc_find(&g->cfg, e->name) != NULL;
			continue;
		}
		cl = chc_find(&g->cfg, e->name);
		if (cl == NULL) {
			ch_info("call home: client %s removed: disconnecting",
				e->name);
			stop_entry(e, "netconf-client removed from the "
				   "configuration", 0);
		} else if (strcmp(cl->canon,
				  chc_find(&e->gen->cfg, e->name)->canon)) {
			ch_info("call home: client %s changed: reconnecting",
				e->name);
			stop_entry(e, "netconf-client configuration changed", 1);
		} else {
			dialer_rebind(e->d, cl);
			gen_unref(cs, e->gen);
			e->gen = g;
			g->refs++;
		}
	}
	for (size_t i = 0; i < g->cfg.n; i++) {
		cl = &g->cfg.clients[i];
		if (find_live(cs, cl->name))
			continue;
		/* A stopping entry of that name restarts it when stopped. */
		int waiting = 0;

		for (struct entry *e = cs->list; e; e = e->next)
			if (e->stopping && strcmp(e->name, cl->name) == 0)
				waiting = 1;
		if (waiting)
			continue;
		ch_info("call home: client %s added: calling", cl->name);
		if (start_client(cs, cl) != CH_OK)
			ch_error("call home: cannot start client %s", cl->name);
	}
	if (g->cfg.n == 0)
		ch_warn("call home: no netconf-client is configured: the "
			"agent calls no manager until one is");
	if (old)
		gen_unref(cs, old);	/* its "current" reference */
}

static void on_reconfig_timer(uv_timer_t *t)
{
	struct clients *cs = t->data;
	struct chc_config cfg;

	if (cs->stopping || cs->ag->ds == NULL)
		return;
	if (ch_ds_confirm_pending(cs->ag->ds))
		return;		/* applied when it is confirmed */
	if (chc_from_tree(ch_ds_running_tree(cs->ag->ds), &cfg) != CH_OK) {
		ch_error("call home: the new configuration cannot be used; "
			 "the clients keep the previous one");
		return;
	}
	reconcile(cs, &cfg);
}

/* The datastore's settle hook: running is final. */
static void on_settle(void *ctx)
{
	struct clients *cs = ctx;

	if (!cs->stopping)
		uv_timer_start(&cs->timer, on_reconfig_timer,
			       CH_AGENT_RECONFIG_DELAY_MS, 0);
}

/* The datastore's check: a call-home configuration the agent cannot use
 * (beyond what the schema says) is refused at the commit, not found at
 * the next boot. */
static int check_config(void *ctx, const struct lyd_node *tree, char *msg,
			size_t len)
{
	struct chc_config cfg;
	int r;

	(void)ctx;
	if ((r = chc_from_tree(tree, &cfg)) != CH_OK) {
		snprintf(msg, len, "call-home configuration refused: %s",
			 chc_last_error());
		return r;
	}
	chc_free(&cfg);
	return CH_OK;
}

int clients_start(struct agent *ag, struct chc_config *cfg)
{
	struct clients *cs = calloc(1, sizeof(*cs));

	if (cs == NULL) {
		chc_free(cfg);
		return CH_ERR_NOMEM;
	}
	cs->ag = ag;
	uv_timer_init(ag->loop, &cs->timer);
	cs->timer.data = cs;
	uv_unref((uv_handle_t *)&cs->timer);
	ag->clients = cs;
	reconcile(cs, cfg);
	if (ag->ds) {
		ch_ds_on_settle(ag->ds, on_settle, cs);
		ch_ds_on_check(ag->ds, check_config, cs);
	}
	return CH_OK;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct clients *cs = h->data;

	cs->timer_closed = 1;
	maybe_done(cs);
}

void clients_stop(struct agent *ag, void (*done)(void *ctx), void *ctx)
{
	struct clients *cs = ag->clients;
	struct entry *e, *next;

	cs->stopping = 1;
	cs->done = done;
	cs->done_ctx = ctx;
	if (ag->ds) {
		ch_ds_on_settle(ag->ds, NULL, NULL);
		ch_ds_on_check(ag->ds, NULL, NULL);
	}
	for (e = cs->list; e; e = next) {
		next = e->next;		/* e may go in dialer_stop */
		stop_entry(e, "agent shutting down", 0);
	}
	uv_close((uv_handle_t *)&cs->timer, on_timer_closed);
}
