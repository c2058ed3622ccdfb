/* borderstate.c - the callhome-border module's state data and
 * notification (borderstate.h).
 */
#include "agent/server/borderstate.h"

#include <string.h>

#include "agent/border.h"
#include "agent/borderpolicy.h"
#include "agent/notif.h"
#include "agent/server/reply.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"

#define PREFIX_TEXT_MAX 64	/* "ffff:...:ffff/128" */

static int put_interface(struct ch_buf *b, const struct border_if_info *f)
{
	char t[NOTIF_TIME_TEXT_MAX];
	int r;

	notif_time_text(f->since, t, sizeof(t));
	if ((r = ch_buf_puts(b, "<interface>")) != CH_OK ||
	    (r = put_leaf(b, "name", f->name)) != CH_OK ||
	    (r = put_leaf(b, "category", border_cat_name(f->cat))) != CH_OK ||
	    (r = put_leaf(b, "reason", f->reason)) != CH_OK ||
	    (r = put_leaf(b, "since", t)) != CH_OK)
		return r;
	if (f->pending) {
		notif_time_text(f->pending_at, t, sizeof(t));
		if ((r = put_leaf(b, "interior-at", t)) != CH_OK)
			return r;
	}
	return ch_buf_puts(b, "</interface>");
}

/* Its policy's state (borderpolicy.h). */
static int put_policy(const struct border_policy *p, struct ch_buf *b)
{
	struct border_policy_state st;
	char t[NOTIF_TIME_TEXT_MAX];
	int r;

	border_policy_state(p, &st);
	if ((r = ch_buf_puts(b, "<policy>")) != CH_OK ||
	    (r = put_leaf(b, "file", st.file)) != CH_OK ||
	    (r = put_leaf(b, "apply", st.apply ? "true" : "false")) != CH_OK)
		return r;
	if (st.written) {
		notif_time_text(st.written, t, sizeof(t));
		if ((r = put_leaf(b, "written", t)) != CH_OK)
			return r;
	}
	if (st.apply && st.applied) {
		notif_time_text(st.applied, t, sizeof(t));
		if ((r = put_leaf(b, "applied", t)) != CH_OK)
			return r;
	}
	if (st.apply && (r = put_leaf(b, "result", st.result)) != CH_OK)
		return r;
	return ch_buf_puts(b, "</policy>");
}

static int put_border(const struct border *bd,
		      const struct border_policy *pol, struct ch_buf *b)
{
	struct border_if_info f;
	struct border_prefix p;
	char text[PREFIX_TEXT_MAX];
	size_t i = 0;
	int r;

	if ((r = ch_buf_puts(b, "<border xmlns=\"" BORDER_NS "\">")) !=
		    CH_OK ||
	    (r = put_uint(b, "holddown", border_holddown_ms(bd))) != CH_OK ||
	    (r = put_leaf(b, "no-exterior", border_no_exterior(bd) ?
			  "true" : "false")) != CH_OK)
		return r;
	while (border_prefix_next(bd, &i, &p)) {
		border_prefix_text(&p, text, sizeof(text));
		if ((r = put_leaf(b, "interior-prefix", text)) != CH_OK)
			return r;
	}
	if (pol != NULL && (r = put_policy(pol, b)) != CH_OK)
		return r;
	i = 0;
	while (border_if_next(bd, &i, &f))
		if ((r = put_interface(b, &f)) != CH_OK)
			return r;
	return ch_buf_puts(b, "</border>");
}

int add_border_state(struct nc_server *s, char **data, size_t *len)
{
	struct ch_buf b;
	int r;

	if (s->ag->border == NULL)
		return CH_OK;
	ch_buf_init(&b, CH_AGENT_REPLY_MAX);
	if ((r = put_border(s->ag->border, s->ag->policy, &b)) == CH_OK)
		r = data_append(data, len, ch_buf_ptr(&b), ch_buf_len(&b));
	ch_buf_cleanup(&b);
	return r;
}

void nc_server_border_change(struct agent *ag,
			     const struct border_change *c)
{
	struct ch_buf b;
	int r;

	if (ag->srv == NULL || ag->srv->stream == NULL || c->first)
		return;
	ch_buf_init(&b, (size_t)-1);
	if ((r = ch_buf_puts(&b, "<border-change xmlns=\"" BORDER_NS "\">")) ==
		    CH_OK &&
	    (r = put_leaf(&b, "interface", c->ifname)) == CH_OK &&
	    (r = put_leaf(&b, "old", border_cat_name(c->old_cat))) == CH_OK &&
	    (r = put_leaf(&b, "new", border_cat_name(c->new_cat))) == CH_OK &&
	    (r = put_leaf(&b, "reason", c->reason)) == CH_OK &&
	    (r = ch_buf_puts(&b, "</border-change>")) == CH_OK)
		notif_emit(ag->srv->stream, ch_buf_ptr(&b), ch_buf_len(&b));
	ch_buf_cleanup(&b);
}

void nc_server_forward_refused(struct agent *ag, const char *dest,
			       const char *why)
{
	struct ch_buf b;

	if (ag->srv == NULL || ag->srv->stream == NULL)
		return;
	ch_buf_init(&b, CH_AGENT_EVENT_NOTIF_MAX);
	if (ch_buf_puts(&b, "<forward-refused xmlns=\"" BORDER_NS "\">") ==
		    CH_OK &&
	    put_leaf(&b, "destination", dest) == CH_OK &&
	    put_leaf(&b, "reason", why) == CH_OK &&
	    ch_buf_puts(&b, "</forward-refused>") == CH_OK)
		notif_emit(ag->srv->stream, ch_buf_ptr(&b), ch_buf_len(&b));
	ch_buf_cleanup(&b);
}
