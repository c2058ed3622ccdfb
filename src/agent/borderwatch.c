/* borderwatch.c - the border's view from the kernel over rtnetlink
 * (borderwatch.h): RTM_GETLINK, RTM_GETADDR and RTM_GETROUTE dumps one
 * after the other, then the events of RTMGRP_LINK, RTMGRP_IPV4_IFADDR,
 * RTMGRP_IPV6_IFADDR, RTMGRP_IPV4_ROUTE and RTMGRP_IPV6_ROUTE on the
 * same socket (subscribed before the dumps, so nothing falls between).
 */
#include "agent/borderwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "agent/notif.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#define ATTR_MAX 64	/* above the largest IFLA_/IFA_/RTA_ type we read */

enum stage {
	DUMP_LINKS = 0,
	DUMP_ADDRS,
	DUMP_ROUTES,
	LIVE,
};

struct border_watch {
	uv_loop_t *loop;
	struct border *b;
	struct mnl_socket *nl;
	unsigned portid;
	unsigned seq;			/* the dump in flight */
	enum stage stage;
	uv_poll_t poll;
	uv_timer_t timer;
	void (*on_change)(void *ctx, const struct border_change *c);
	void *ctx;
	void (*on_update)(void *ctx, const struct border *b);
	void *update_ctx;
	char *rbuf;			/* CH_BORDER_NL_READ */
};

static const uint16_t dumps[] = { RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE };

/* ---- parsing: the kernel's records into border records ---- */

static int store_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type < ATTR_MAX)
		tb[type] = a;
	return MNL_CB_OK;
}

static int get_u32(const struct nlattr *a, uint32_t *v)
{
	if (a == NULL || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return 0;
	*v = mnl_attr_get_u32(a);
	return 1;
}

/* An address attribute of family's length into out. */
static int get_addr(const struct nlattr *a, int family, uint8_t *out)
{
	size_t n = family == AF_INET ? 4 : 16;

	if (a == NULL || mnl_attr_get_payload_len(a) != n)
		return 0;
	memcpy(out, mnl_attr_get_payload(a), n);
	return 1;
}

static void on_link(struct border_watch *w, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[ATTR_MAX] = { 0 };
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct border_link l;
	const char *name;

	/* AF_BRIDGE messages tell of bridge ports, not of links */
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifm) ||
	    ifm->ifi_family != AF_UNSPEC || ifm->ifi_index <= 0)
		return;
	if (nlh->nlmsg_type == RTM_DELLINK) {
		border_link_del(w->b, (uint32_t)ifm->ifi_index);
		return;
	}
	if (mnl_attr_parse(nlh, sizeof(*ifm), store_attr, tb) < 0 ||
	    tb[IFLA_IFNAME] == NULL ||
	    mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
		return;
	memset(&l, 0, sizeof(l));
	l.ifindex = (uint32_t)ifm->ifi_index;
	name = mnl_attr_get_str(tb[IFLA_IFNAME]);
	snprintf(l.name, sizeof(l.name), "%s", name);
	l.up = (ifm->ifi_flags & IFF_UP) != 0;
	l.carrier = (ifm->ifi_flags & IFF_LOWER_UP) != 0;
	l.loopback = (ifm->ifi_flags & IFF_LOOPBACK) != 0;
	border_link_set(w->b, &l);
}

static void on_addr(struct border_watch *w, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[ATTR_MAX] = { 0 };
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct border_addr a;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifa) ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) ||
	    mnl_attr_parse(nlh, sizeof(*ifa), store_attr, tb) < 0)
		return;
	memset(&a, 0, sizeof(a));
	a.ifindex = ifa->ifa_index;
	a.pfx.family = ifa->ifa_family;
	a.pfx.len = ifa->ifa_prefixlen;
	/* IFA_ADDRESS: the peer on a point-to-point link, so the
	 * connected prefix either way */
	if (!get_addr(tb[IFA_ADDRESS], a.pfx.family, a.pfx.addr) &&
	    !get_addr(tb[IFA_LOCAL], a.pfx.family, a.pfx.addr))
		return;
	if (a.pfx.len > (a.pfx.family == AF_INET ? 32 : 128))
		return;
	if (nlh->nlmsg_type == RTM_DELADDR)
		border_addr_del(w->b, &a);
	else
		border_addr_set(w->b, &a);
}

/* One next hop of r (oif, gateway) set or deleted. */
static void hop(struct border_watch *w, int del, struct border_route *r)
{
	if (del)
		border_route_del(w->b, r);
	else
		border_route_set(w->b, r);
}

static void on_route(struct border_watch *w, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[ATTR_MAX] = { 0 };
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	int del = nlh->nlmsg_type == RTM_DELROUTE;
	struct border_route r;
	uint32_t table;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*rtm) ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    rtm->rtm_type != RTN_UNICAST || (rtm->rtm_flags & RTM_F_CLONED) ||
	    rtm->rtm_dst_len > (rtm->rtm_family == AF_INET ? 32 : 128) ||
	    mnl_attr_parse(nlh, sizeof(*rtm), store_attr, tb) < 0)
		return;
	table = rtm->rtm_table;
	get_u32(tb[RTA_TABLE], &table);
	if (table != RT_TABLE_MAIN)
		return;
	memset(&r, 0, sizeof(r));
	r.dst.family = rtm->rtm_family;
	r.dst.len = rtm->rtm_dst_len;
	if (r.dst.len > 0 && !get_addr(tb[RTA_DST], r.dst.family, r.dst.addr))
		return;
	get_u32(tb[RTA_PRIORITY], &r.priority);
	if (!del && (nlh->nlmsg_flags & NLM_F_REPLACE))
		border_route_del_all(w->b, &r);
	if (tb[RTA_MULTIPATH] != NULL) {
		const struct rtnexthop *nh =
			mnl_attr_get_payload(tb[RTA_MULTIPATH]);
		int len = (int)mnl_attr_get_payload_len(tb[RTA_MULTIPATH]);
		struct nlattr *attr;

		while (RTNH_OK(nh, len)) {
			r.oif = (uint32_t)nh->rtnh_ifindex;
			r.has_gw = 0;
			mnl_attr_for_each_payload((void *)RTNH_DATA(nh),
						  nh->rtnh_len - sizeof(*nh))
				if (mnl_attr_get_type(attr) == RTA_GATEWAY &&
				    get_addr(attr, r.dst.family, r.gw))
					r.has_gw = 1;
			hop(w, del, &r);
			len -= (int)RTNH_ALIGN(nh->rtnh_len);
			nh = RTNH_NEXT(nh);
		}
		return;
	}
	if (!get_u32(tb[RTA_OIF], &r.oif)) {
		if (del)	/* no next hop named: the whole route */
			border_route_del_all(w->b, &r);
		return;
	}
	r.has_gw = get_addr(tb[RTA_GATEWAY], r.dst.family, r.gw);
	hop(w, del, &r);
}

static void on_msg(const struct nlmsghdr *nlh, struct border_watch *w)
{
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link(w, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr(w, nlh);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		on_route(w, nlh);
		break;
	default:
		break;
	}
}

/* ---- the socket ---- */

static int send_dump(struct border_watch *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;

	nlh->nlmsg_type = dumps[w->stage];
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++w->seq;
	/* the family leads ifinfomsg, ifaddrmsg and rtmsg alike; the
	 * rest of the header is zeroed: no filter */
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg) >
				       sizeof(struct ifinfomsg) ?
				       sizeof(struct rtmsg) :
				       sizeof(struct ifinfomsg));
	g->rtgen_family = AF_UNSPEC;
	if (nlh->nlmsg_type == RTM_GETADDR)
		nlh->nlmsg_len = MNL_NLMSG_HDRLEN +
			MNL_ALIGN(sizeof(struct ifaddrmsg));
	else if (nlh->nlmsg_type == RTM_GETROUTE)
		nlh->nlmsg_len = MNL_NLMSG_HDRLEN +
			MNL_ALIGN(sizeof(struct rtmsg));
	else
		nlh->nlmsg_len = MNL_NLMSG_HDRLEN +
			MNL_ALIGN(sizeof(struct ifinfomsg));
	if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0) {
		ch_log_errno(CH_LOG_ERROR, "border: rtnetlink dump request");
		return CH_ERR_IO;
	}
	return CH_OK;
}

static void next_stage(struct border_watch *w)
{
	if (w->stage == LIVE)
		return;
	w->stage++;
	if (w->stage != LIVE)
		send_dump(w);
	else
		ch_info("border: following the kernel's links, addresses and "
			"routes");
}

/* Lost events: read everything again (the classifications stay). */
static void resync(struct border_watch *w, const char *why)
{
	ch_warn("border: %s: reading the kernel's links, addresses and "
		"routes again", why);
	border_view_clear(w->b);
	w->stage = DUMP_LINKS;
	send_dump(w);
}

static void log_change(void *ctx, const struct border_change *c)
{
	struct border_watch *w = ctx;
	char t[NOTIF_TIME_TEXT_MAX];

	notif_time_text(c->since, t, sizeof(t));
	if (c->first)
		ch_log(c->new_cat == BORDER_MIXED ? CH_LOG_WARN : CH_LOG_INFO,
		       "border: %s is %s since %s: %s", c->ifname,
		       border_cat_name(c->new_cat), t, c->reason);
	else
		ch_log(c->new_cat == BORDER_MIXED ? CH_LOG_WARN : CH_LOG_INFO,
		       "border: %s changed from %s to %s at %s: %s",
		       c->ifname, border_cat_name(c->old_cat),
		       border_cat_name(c->new_cat), t, c->reason);
	if (w->on_change != NULL)
		w->on_change(w->ctx, c);
}

static void on_timer(uv_timer_t *t);

static void update(struct border_watch *w)
{
	int64_t next;

	uv_update_time(w->loop);
	next = border_update(w->b, uv_now(w->loop), time(NULL), log_change,
			     w);
	if (next >= 0)
		uv_timer_start(&w->timer, on_timer, (uint64_t)next, 0);
	else
		uv_timer_stop(&w->timer);
	if (w->on_update != NULL)
		w->on_update(w->update_ctx, w->b);
}

static void on_timer(uv_timer_t *t)
{
	update(t->data);
}

/* One datagram: our dump's answers (our port and seq), and events, which
 * carry the port and seq of whoever made the change. */
static void feed(struct border_watch *w, size_t n)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)w->rbuf;
	int len = (int)n;
	int ours;

	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		ours = nlh->nlmsg_pid == w->portid;
		if (ours && nlh->nlmsg_seq != w->seq)
			continue;	/* an abandoned dump's leftovers */
		if (nlh->nlmsg_type == NLMSG_DONE && ours) {
			next_stage(w);
		} else if (nlh->nlmsg_type == NLMSG_ERROR && ours) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (e->error != 0)
				ch_error("border: rtnetlink dump: %s: the "
					 "border is not followed",
					 strerror(-e->error));
		} else if (nlh->nlmsg_type >= RTM_BASE) {
			on_msg(nlh, w);
		}
	}
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct border_watch *w = p->data;
	int got = 0;
	ssize_t n;

	(void)events;
	if (status < 0) {
		ch_error("border: rtnetlink socket: %s: the border is no "
			 "longer followed", uv_strerror(status));
		uv_poll_stop(p);
		return;
	}
	for (;;) {
		n = recv(mnl_socket_get_fd(w->nl), w->rbuf, CH_BORDER_NL_READ,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			resync(w, "kernel events were lost");
			got = 0;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			ch_log_errno(CH_LOG_ERROR, "border: rtnetlink recv");
		if (n <= 0)
			break;
		feed(w, (size_t)n);
		got = 1;
	}
	if (got && w->stage == LIVE)
		update(w);
}

static void free_on_close(uv_handle_t *h)
{
	border_watch_free(h->data);
}

int border_watch_start(uv_loop_t *loop, const struct border_config *cfg,
		       void (*on_change)(void *ctx,
					 const struct border_change *c),
		       void *ctx, struct border_watch **out)
{
	struct border_watch *w;
	int fd, size = CH_BORDER_NL_RCVBUF, r = CH_ERR_IO;
	unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
			  RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
			  RTMGRP_IPV6_ROUTE;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->rbuf = malloc(CH_BORDER_NL_READ)) == NULL ||
	    border_new(cfg, &w->b) != CH_OK) {
		r = CH_ERR_NOMEM;
		goto fail;
	}
	w->loop = loop;
	w->on_change = on_change;
	w->ctx = ctx;
	w->seq = (unsigned)time(NULL);
	if ((w->nl = mnl_socket_open(NETLINK_ROUTE)) == NULL) {
		ch_log_errno(CH_LOG_ERROR, "border: rtnetlink socket");
		goto fail;
	}
	fd = mnl_socket_get_fd(w->nl);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    mnl_socket_bind(w->nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		ch_log_errno(CH_LOG_ERROR, "border: rtnetlink bind");
		goto fail;
	}
	w->portid = mnl_socket_get_portid(w->nl);
	/* the answer waits in the socket until the loop reads it */
	if (send_dump(w) != CH_OK || uv_poll_init(loop, &w->poll, fd) != 0)
		goto fail;
	w->poll.data = w;
	if (uv_poll_start(&w->poll, UV_READABLE, on_readable) != 0) {
		ch_error("border: cannot watch the rtnetlink socket");
		uv_close((uv_handle_t *)&w->poll, free_on_close);
		return CH_ERR_IO;
	}
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	*out = w;
	return CH_OK;
fail:
	border_watch_free(w);
	return r;
}

void border_watch_on_update(struct border_watch *w,
			    void (*fn)(void *ctx, const struct border *b),
			    void *ctx)
{
	w->on_update = fn;
	w->update_ctx = ctx;
}

const struct border *border_watch_border(const struct border_watch *w)
{
	return w ? w->b : NULL;
}

void border_watch_free(struct border_watch *w)
{
	if (w == NULL)
		return;
	if (w->nl != NULL)
		mnl_socket_close(w->nl);
	border_free(w->b);
	free(w->rbuf);
	free(w);
}
