/* devnotif.c - device notifications at the hub (devnotif.h). */
#include "hub/devnotif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/archive.h"
#include "hub/devxml.h"
#include "hub/hub.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

#define CREATE_SUBSCRIPTION \
	"<create-subscription xmlns=\"" DEVXML_NOTIF_NS "\"/>"

/* One subscribed device: its token bucket. */
struct devnotif_dev {
	struct device *d;
	char key[CH_FP_LEN];
	double tokens;			/* events it may still have now */
	uint64_t refilled;		/* loop ms of the last refill */
	unsigned long dropped;		/* not recorded since the last say */
};

/* What the subscription's reply needs: the device by its key (it may
 * be gone by then). */
struct sub_ctx {
	struct hub *hub;
	char key[CH_FP_LEN];
	unsigned conn;
};

static struct devnotif_dev *find(const struct device *d)
{
	return device_slot(d, DEVICE_SLOT_NOTIF);
}

static void on_subscribed(void *ctx, int r, const char *reply, size_t len,
			  const char *error)
{
	struct sub_ctx *s = ctx;
	struct device *d = hub_find_device(s->hub, s->key);
	struct ch_reply rep;
	char detail[CH_STORE_TEXT_MAX];

	if (d == NULL || device_conn_id(d) != s->conn) {
		free(s);	/* that session is over */
		return;
	}
	if (r != CH_OK) {
		ch_clog(CH_LOG_INFO, device_log(d), "create-subscription not "
			"answered: %s", error ? error : ch_strerror(r));
	} else if (ch_reply_parse(reply, len, &rep) != CH_OK || !rep.is_ok) {
		snprintf(detail, sizeof(detail), "create-subscription refused: "
			 "%s%s%s", rep.error_tag ? rep.error_tag : "no <ok/>",
			 rep.error_message ? ": " : "",
			 rep.error_message ? rep.error_message : "");
		ch_clog(CH_LOG_WARN, device_log(d), "%s", detail);
		hub_event(s->hub, s->key, "notification", detail);
		ch_reply_cleanup(&rep);
	} else {
		ch_clog(CH_LOG_INFO, device_log(d), "subscribed to its "
			"NETCONF notification stream");
		ch_reply_cleanup(&rep);
	}
	free(s);
}

void devnotif_device_ready(struct hub *hub, struct device *d)
{
	struct devnotif_dev *n;
	struct sub_ctx *s;
	const char *why;

	if (hub->cfg.no_device_notifications || find(d) ||
	    !device_has_cap(d, DEVXML_NOTIF_CAP))
		return;
	n = calloc(1, sizeof(*n));
	s = calloc(1, sizeof(*s));
	if (n == NULL || s == NULL) {
		free(n);
		free(s);
		ch_clog(CH_LOG_ERROR, device_log(d), "notifications: out of "
			"memory");
		return;
	}
	n->d = d;
	snprintf(n->key, sizeof(n->key), "%s", device_key(d));
	n->tokens = CH_NOTIF_EVENT_BURST;
	n->refilled = uv_now(hub->loop);
	device_set_slot(d, DEVICE_SLOT_NOTIF, n);
	s->hub = hub;
	s->conn = device_conn_id(d);
	snprintf(s->key, sizeof(s->key), "%s", device_key(d));
	if (device_rpc(d, CREATE_SUBSCRIPTION, on_subscribed, s, &why)
	    != CH_OK) {
		ch_clog(CH_LOG_WARN, device_log(d), "create-subscription not "
			"sent: %s", why);
		free(s);
	}
}

/* Says how many were not recorded, if any. */
static void say_dropped(struct hub *hub, struct devnotif_dev *n)
{
	char detail[160];

	if (n->dropped == 0)
		return;
	snprintf(detail, sizeof(detail), "%lu notification(s) not recorded: "
		 "more than " CH_STR(CH_NOTIF_EVENT_PER_MIN) " a minute",
		 n->dropped);
	ch_clog(CH_LOG_WARN, device_log(n->d), "%s", detail);
	hub_event(hub, n->key, "notification", detail);
	n->dropped = 0;
}

/* One token if there is one (the bucket refilled for the time since). */
static int take_token(struct hub *hub, struct devnotif_dev *n)
{
	uint64_t now = uv_now(hub->loop);

	n->tokens += (double)(now - n->refilled) * CH_NOTIF_EVENT_PER_MIN /
		     60000.0;
	if (n->tokens > CH_NOTIF_EVENT_BURST)
		n->tokens = CH_NOTIF_EVENT_BURST;
	n->refilled = now;
	if (n->tokens < 1.0)
		return 0;
	n->tokens -= 1.0;
	return 1;
}

void devnotif_received(struct hub *hub, struct device *d, const char *msg,
		       size_t len)
{
	struct devnotif_dev *n = find(d);
	struct devxml_notif *nt;
	char text[CH_STORE_TEXT_MAX], who[CH_STORE_TEXT_MAX / 2];
	char why[CH_STORE_TEXT_MAX];
	uint32_t ours = device_session_id(d);

	if (n == NULL) {	/* not subscribed: not asked for */
		ch_clog(CH_LOG_DEBUG, device_log(d), "ignored a message that "
			"answers no rpc (%zu bytes)", len);
		return;
	}
	if ((nt = malloc(sizeof(*nt))) == NULL)
		return;
	if (devxml_notif_parse(msg, len, nt) != CH_OK) {
		ch_clog_rl(CH_LOG_WARN, device_log(d), "ignored a message that "
			   "is neither a reply nor a notification (%zu bytes)",
			   len);
		goto out;
	}
	/* a change of running made by another session than ours (the
	 * hub's own changes are archived after their job) */
	if (nt->config_change && strcmp(nt->datastore, "running") == 0) {
		if (nt->session_id != 0 && nt->session_id == ours) {
			ch_clog(CH_LOG_DEBUG, device_log(d), "a change made "
				"by the hub's session: archived after its job");
		} else {
			devxml_notif_who(nt, who, sizeof(who));
			snprintf(why, sizeof(why), "config-change by %s", who);
			archive_changed(hub, d, why);
		}
	}
	if (!take_token(hub, n)) {
		n->dropped++;
		goto out;
	}
	if (n->dropped) {	/* the count takes this token: this one is
				 * counted in the next */
		say_dropped(hub, n);
		n->dropped = 1;
		goto out;
	}
	devxml_notif_text(nt, text, sizeof(text));
	ch_clog(CH_LOG_DEBUG, device_log(d), "notification: %s", text);
	hub_event(hub, n->key, "notification", text);
out:
	free(nt);
}

void devnotif_device_gone(struct hub *hub, struct device *d)
{
	struct devnotif_dev *n = find(d);

	if (n == NULL)
		return;
	say_dropped(hub, n);
	device_set_slot(d, DEVICE_SLOT_NOTIF, NULL);
	free(n);
}
