/* border.h - the device's border (draft-kline-homenet-default-border,
 * sections 3-5): each interface interior, exterior, mixed, loopback or
 * down, with the reason and the time of its classification, and the
 * interior prefix set derived from it.
 *
 * This module is pure: it is fed the kernel's view as records (links,
 * addresses, routes: borderwatch.c reads them over rtnetlink; the unit
 * tests make them up) and classifies on border_update, given the time.
 * It does no I/O and keeps no clock.
 *
 * The rules, in order, for one interface (docs/remote-access.md):
 *   loopback                          -> loopback
 *   administratively down, no carrier -> down
 *   matches an --exterior pattern     -> exterior (fixed, section 4)
 *   holds a default route (main table, IPv4 or IPv6):
 *     matches an --interior pattern   -> mixed (section 3.3.1)
 *     also a non-default route through a gateway (an interior next
 *     hop)                            -> mixed
 *     otherwise                       -> exterior
 *   matches an --interior pattern     -> interior (fixed)
 *   otherwise (only non-default routes) -> interior
 * Mixed is treated as exterior: it is not interior and its prefixes are
 * not in the interior set; it is logged as a warning.
 *
 * A change to interior waits the hold-down (an interface first seen, or
 * coming up, is exterior meanwhile: section 3, "by default exterior");
 * any other change applies at once. A flap never opens the inside.
 */
#ifndef CH_AGENT_BORDER_H
#define CH_AGENT_BORDER_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/core/limits.h"

#define BORDER_MODULE "callhome-border"
#define BORDER_NS "urn:callhome:border"

/* The YANG text of the module (yang/callhome-border@...), built in: the
 * state data and the border-change notification. */
extern const char border_module_yang[];

enum border_cat {
	BORDER_DOWN = 0,
	BORDER_LOOPBACK,
	BORDER_INTERIOR,
	BORDER_EXTERIOR,
	BORDER_MIXED,
};

/* "down", "loopback", "interior", "exterior", "mixed" (the YANG
 * enumeration's names). */
const char *border_cat_name(enum border_cat c);

/* An address or a prefix: family AF_INET (4 bytes of addr used) or
 * AF_INET6 (16). */
struct border_prefix {
	int family;
	uint8_t addr[16];
	uint8_t len;
};

/* addr/len in text ("198.18.4.0/24", "2001:db8::/64") into buf. */
void border_prefix_text(const struct border_prefix *p, char *buf,
			size_t size);

/* One link (RTM_NEWLINK). */
struct border_link {
	uint32_t ifindex;
	char name[IF_NAMESIZE];
	int up;			/* IFF_UP */
	int carrier;		/* IFF_LOWER_UP */
	int loopback;		/* IFF_LOOPBACK */
};

/* One address (RTM_NEWADDR): the connected prefix is addr/len, masked. */
struct border_addr {
	uint32_t ifindex;
	struct border_prefix pfx;
};

/* One next hop of a route (RTM_NEWROUTE; a multipath route is one
 * record per next hop). Only main-table unicast routes are fed. */
struct border_route {
	struct border_prefix dst;	/* len 0: a default route */
	uint32_t priority;		/* the metric: part of the route's key */
	uint32_t oif;
	int has_gw;
	uint8_t gw[16];
};

struct border_config {
	/* interface names or fnmatch(3) globs ("lan*", "wlan?") */
	const char *interior[CH_BORDER_MAX_PATTERNS];
	size_t ninterior;
	const char *exterior[CH_BORDER_MAX_PATTERNS];
	size_t nexterior;
	uint32_t holddown_ms;
};

/* A classification made or changed, for the log and the notification.
 * Borrowed strings, valid during the callback. */
struct border_change {
	const char *ifname;
	int first;			/* first classification: no old */
	enum border_cat old_cat;
	enum border_cat new_cat;
	const char *reason;
	time_t since;
};

/* An interface's classification, for the state data (borrowed strings,
 * valid until the next border_* call that changes b). */
struct border_if_info {
	const char *name;
	enum border_cat cat;
	const char *reason;
	time_t since;
	int pending;			/* interior after the hold-down ... */
	time_t pending_at;		/* ... at this time */
};

struct border;

/* A border with no interface yet. cfg's strings are borrowed: they must
 * outlive b. Returns CH_OK or CH_ERR_NOMEM. */
int border_new(const struct border_config *cfg, struct border **out);
/* NULL is fine. */
void border_free(struct border *b);

/* The kernel's view. A set replaces the record with the same key (a
 * link's index; an address's interface and prefix; a route's
 * destination, metric and next hop). Returns CH_OK, or CH_ERR_LIMIT when
 * a table is full (the record is dropped: logged). */
int border_link_set(struct border *b, const struct border_link *l);
void border_link_del(struct border *b, uint32_t ifindex);
int border_addr_set(struct border *b, const struct border_addr *a);
void border_addr_del(struct border *b, const struct border_addr *a);
int border_route_set(struct border *b, const struct border_route *r);
void border_route_del(struct border *b, const struct border_route *r);
/* Every route with r's destination and metric (a replaced multipath
 * route). */
void border_route_del_all(struct border *b, const struct border_route *r);
/* Forgets the whole view (links, addresses, routes) but not the
 * classifications: before a full re-read after lost events. */
void border_view_clear(struct border *b);

/* The category wanted now for link l, by the rules above, and why. */
enum border_cat border_classify(const struct border *b,
				const struct border_link *l, char *reason,
				size_t size);

/* Classifies every interface at now_ms (monotonic, for the hold-down)
 * and wall (for "since"); on_change is called for each classification
 * made or changed (NULL: none). Returns the ms until the next hold-down
 * ends, or -1 when none is running. */
int64_t border_update(struct border *b, uint64_t now_ms, time_t wall,
		      void (*on_change)(void *ctx,
					const struct border_change *c),
		      void *ctx);

/* 1 when sa (AF_INET or AF_INET6; a v4-mapped IPv6 address counts as
 * IPv4) is inside the interior prefix set: a connected prefix of an
 * interface classified interior, link-local prefixes excepted (they
 * name no single link). 0 otherwise, also for NULL or another family. */
int border_is_interior(const struct border *b, const struct sockaddr *sa);

/* Section 5.2.2: 1 when no interface is exterior or mixed (no exterior
 * next hop at all). */
int border_no_exterior(const struct border *b);

/* The interfaces, in the order first seen: start with *idx = 0; 1 while *info is
 * filled, 0 at the end. */
int border_if_next(const struct border *b, size_t *idx,
		   struct border_if_info *info);
/* The interior prefix set, the same way. */
int border_prefix_next(const struct border *b, size_t *idx,
		       struct border_prefix *p);

uint32_t border_holddown_ms(const struct border *b);

#endif
