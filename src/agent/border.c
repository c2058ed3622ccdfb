/* border.c - the border's classification (border.h): the kernel's view
 * as tables, the rules, the hold-down, the interior prefix set.
 */
#include "agent/border.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/core/log.h"

#define MS_PER_S 1000

/* One interface's classification. */
struct bif {
	uint32_t ifindex;
	char name[IF_NAMESIZE];
	enum border_cat cat;
	char reason[CH_BORDER_REASON_MAX];
	time_t since;
	int pending;			/* to interior, after the hold-down */
	uint64_t pending_until;		/* monotonic ms */
	time_t pending_at;		/* the same, wall clock */
	int seen;			/* in this update's view */
};

/* A table of fixed-size records, bounded. */
struct table {
	void *v;
	size_t n, cap, max, size;
};

struct border {
	const struct border_config *cfg;
	struct table links;		/* struct border_link */
	struct table addrs;		/* struct border_addr */
	struct table routes;		/* struct border_route */
	struct table ifs;		/* struct bif */
	struct table interior;		/* struct border_prefix */
	int no_exterior;
	int no_exterior_known;		/* reported once at least */
};

static void table_init(struct table *t, size_t size, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->size = size;
	t->max = max;
}

static void *at(const struct table *t, size_t i)
{
	return (char *)t->v + i * t->size;
}

/* A new zeroed slot at the end, or NULL (CH_ERR_* in *r). */
static void *table_add(struct table *t, int *r)
{
	void *p;
	size_t cap;

	*r = CH_OK;
	if (t->n >= t->max) {
		*r = CH_ERR_LIMIT;
		return NULL;
	}
	if (t->n == t->cap) {
		cap = t->cap ? t->cap * 2 : 16;
		if (cap > t->max)
			cap = t->max;
		if ((p = realloc(t->v, cap * t->size)) == NULL) {
			*r = CH_ERR_NOMEM;
			return NULL;
		}
		t->v = p;
		t->cap = cap;
	}
	p = at(t, t->n++);
	memset(p, 0, t->size);
	return p;
}

static void table_remove(struct table *t, size_t i)
{
	memmove(at(t, i), at(t, i + 1), (t->n - i - 1) * t->size);
	t->n--;
}

static void table_free(struct table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

/* src into dst[size], cut when too long. */
static void copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* p's address with the bits past its length cleared. */
static void mask(struct border_prefix *p)
{
	size_t n = alen(p->family);

	for (size_t i = 0; i < n; i++) {
		unsigned bits = p->len > 8 * i ? p->len - 8 * (unsigned)i : 0;

		if (bits < 8)
			p->addr[i] &= (uint8_t)(0xff00u >> bits);
	}
}

static int same_prefix(const struct border_prefix *a,
		       const struct border_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, alen(a->family)) == 0;
}

/* addr (family's length) inside p? */
static int in_prefix(const struct border_prefix *p, int family,
		     const uint8_t *addr)
{
	struct border_prefix a;

	if (p->family != family)
		return 0;
	memset(&a, 0, sizeof(a));
	a.family = family;
	a.len = p->len;
	memcpy(a.addr, addr, alen(family));
	mask(&a);
	return memcmp(a.addr, p->addr, alen(family)) == 0;
}

const char *border_cat_name(enum border_cat c)
{
	switch (c) {
	case BORDER_DOWN: return "down";
	case BORDER_LOOPBACK: return "loopback";
	case BORDER_INTERIOR: return "interior";
	case BORDER_EXTERIOR: return "exterior";
	case BORDER_MIXED: return "mixed";
	}
	return "?";
}

void border_prefix_text(const struct border_prefix *p, char *buf,
			size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(p->family, p->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, size, "%s/%u", a, p->len);
}

int border_new(const struct border_config *cfg, struct border **out)
{
	struct border *b;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return CH_ERR_NOMEM;
	b->cfg = cfg;
	table_init(&b->links, sizeof(struct border_link), CH_BORDER_MAX_LINKS);
	table_init(&b->addrs, sizeof(struct border_addr), CH_BORDER_MAX_ADDRS);
	table_init(&b->routes, sizeof(struct border_route),
		   CH_BORDER_MAX_ROUTES);
	table_init(&b->ifs, sizeof(struct bif), CH_BORDER_MAX_LINKS);
	table_init(&b->interior, sizeof(struct border_prefix),
		   CH_BORDER_MAX_ADDRS);
	*out = b;
	return CH_OK;
}

void border_free(struct border *b)
{
	if (b == NULL)
		return;
	table_free(&b->links);
	table_free(&b->addrs);
	table_free(&b->routes);
	table_free(&b->ifs);
	table_free(&b->interior);
	free(b);
}

uint32_t border_holddown_ms(const struct border *b)
{
	return b->cfg->holddown_ms;
}

/* ---- the view ---- */

/* Sets the record equal to rec by eq, or adds it. */
static int view_set(struct table *t, const void *rec,
		    int (*eq)(const void *a, const void *b), const char *what)
{
	void *p = NULL;
	int r = CH_OK;

	for (size_t i = 0; i < t->n && p == NULL; i++)
		if (eq(at(t, i), rec))
			p = at(t, i);
	if (p == NULL && (p = table_add(t, &r)) == NULL) {
		ch_log_rl(CH_LOG_WARN, "border: more than %zu %s: one is "
			  "ignored (%s)", t->max, what, ch_strerror(r));
		return r;
	}
	memcpy(p, rec, t->size);
	return CH_OK;
}

static void view_del(struct table *t, const void *rec,
		     int (*eq)(const void *a, const void *b))
{
	for (size_t i = t->n; i-- > 0;)
		if (eq(at(t, i), rec))
			table_remove(t, i);
}

static int link_eq(const void *a, const void *b)
{
	return ((const struct border_link *)a)->ifindex ==
	       ((const struct border_link *)b)->ifindex;
}

static int addr_eq(const void *a, const void *b)
{
	const struct border_addr *x = a, *y = b;

	return x->ifindex == y->ifindex && same_prefix(&x->pfx, &y->pfx);
}

static int route_key_eq(const void *a, const void *b)
{
	const struct border_route *x = a, *y = b;

	return same_prefix(&x->dst, &y->dst) && x->priority == y->priority;
}

static int route_eq(const void *a, const void *b)
{
	const struct border_route *x = a, *y = b;

	return route_key_eq(a, b) && x->oif == y->oif &&
	       x->has_gw == y->has_gw &&
	       (!x->has_gw || memcmp(x->gw, y->gw, sizeof(x->gw)) == 0);
}

int border_link_set(struct border *b, const struct border_link *l)
{
	return view_set(&b->links, l, link_eq, "interfaces");
}

void border_link_del(struct border *b, uint32_t ifindex)
{
	struct border_link l = { .ifindex = ifindex };
	struct border_addr a;

	view_del(&b->links, &l, link_eq);
	/* the kernel sends no RTM_DELADDR for a removed link's addresses */
	for (size_t i = b->addrs.n; i-- > 0;) {
		a = *(struct border_addr *)at(&b->addrs, i);
		if (a.ifindex == ifindex)
			table_remove(&b->addrs, i);
	}
	for (size_t i = b->routes.n; i-- > 0;)
		if (((struct border_route *)at(&b->routes, i))->oif == ifindex)
			table_remove(&b->routes, i);
}

int border_addr_set(struct border *b, const struct border_addr *a)
{
	struct border_addr m = *a;

	mask(&m.pfx);
	return view_set(&b->addrs, &m, addr_eq, "addresses");
}

void border_addr_del(struct border *b, const struct border_addr *a)
{
	struct border_addr m = *a;

	mask(&m.pfx);
	view_del(&b->addrs, &m, addr_eq);
}

int border_route_set(struct border *b, const struct border_route *r)
{
	struct border_route m = *r;

	mask(&m.dst);
	return view_set(&b->routes, &m, route_eq, "route next hops");
}

void border_route_del(struct border *b, const struct border_route *r)
{
	struct border_route m = *r;

	mask(&m.dst);
	view_del(&b->routes, &m, route_eq);
}

void border_route_del_all(struct border *b, const struct border_route *r)
{
	struct border_route m = *r;

	mask(&m.dst);
	view_del(&b->routes, &m, route_key_eq);
}

void border_view_clear(struct border *b)
{
	b->links.n = b->addrs.n = b->routes.n = 0;
}

/* ---- the rules ---- */

static const char *matches(const char *const *pats, size_t n,
			   const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(pats[i], name, 0) == 0)
			return pats[i];
	return NULL;
}

static void gw_text(const struct border_route *r, char *buf, size_t size)
{
	if (!r->has_gw || inet_ntop(r->dst.family, r->gw, buf,
				    (socklen_t)size) == NULL)
		snprintf(buf, size, "no gateway");
}

enum border_cat border_classify(const struct border *b,
				const struct border_link *l, char *reason,
				size_t size)
{
	const struct border_config *cfg = b->cfg;
	const struct border_route *def = NULL, *inner = NULL, *r;
	const char *in, *ex;
	char gw[INET6_ADDRSTRLEN], ign[INET6_ADDRSTRLEN];
	char dst[INET6_ADDRSTRLEN + 8];

	if (l->loopback) {
		snprintf(reason, size, "loopback interface");
		return BORDER_LOOPBACK;
	}
	if (!l->up || !l->carrier) {
		snprintf(reason, size, "%s", !l->up ?
			 "administratively down" : "no carrier");
		return BORDER_DOWN;
	}
	ex = matches(cfg->exterior, cfg->nexterior, l->name);
	in = matches(cfg->interior, cfg->ninterior, l->name);
	if (ex != NULL) {
		snprintf(reason, size, "configured exterior (--exterior %s)%s",
			 ex, in ? "; --exterior wins over --interior" : "");
		return BORDER_EXTERIOR;
	}
	for (size_t i = 0; i < b->routes.n; i++) {
		r = at(&b->routes, i);
		if (r->oif != l->ifindex)
			continue;
		if (r->dst.len == 0 && def == NULL)
			def = r;
		else if (r->dst.len != 0 && r->has_gw && inner == NULL)
			inner = r;
	}
	if (def != NULL) {
		gw_text(def, gw, sizeof(gw));
		if (in != NULL) {
			snprintf(reason, size, "configured interior (--interior "
				 "%s) but holds a default route (%s, %s): "
				 "mixed, treated as exterior", in,
				 def->dst.family == AF_INET ? "IPv4" : "IPv6",
				 gw);
			return BORDER_MIXED;
		}
		if (inner != NULL) {
			gw_text(inner, ign, sizeof(ign));
			border_prefix_text(&inner->dst, dst, sizeof(dst));
			snprintf(reason, size, "holds a default route (%s, %s) "
				 "and a route to %s via %s (an interior next "
				 "hop): mixed, treated as exterior",
				 def->dst.family == AF_INET ? "IPv4" : "IPv6",
				 gw, dst, ign);
			return BORDER_MIXED;
		}
		snprintf(reason, size, "holds a default route (%s, %s)",
			 def->dst.family == AF_INET ? "IPv4" : "IPv6", gw);
		return BORDER_EXTERIOR;
	}
	if (in != NULL) {
		snprintf(reason, size, "configured interior (--interior %s)",
			 in);
		return BORDER_INTERIOR;
	}
	snprintf(reason, size, "no default route: only non-default routes");
	return BORDER_INTERIOR;
}

/* ---- the hold-down ---- */

static struct bif *find_if(struct border *b, uint32_t ifindex)
{
	for (size_t i = 0; i < b->ifs.n; i++)
		if (((struct bif *)at(&b->ifs, i))->ifindex == ifindex)
			return at(&b->ifs, i);
	return NULL;
}

static void set_cat(struct bif *f, int first, enum border_cat cat,
		    const char *reason, time_t wall,
		    void (*on_change)(void *, const struct border_change *),
		    void *ctx)
{
	struct border_change c = {
		.ifname = f->name, .first = first, .old_cat = f->cat,
		.new_cat = cat, .reason = reason, .since = wall,
	};

	f->cat = cat;
	f->since = wall;
	copy(f->reason, sizeof(f->reason), reason);
	if (on_change != NULL)
		on_change(ctx, &c);
}

/* One interface's step: want (with why) at now. Returns the ms left of
 * its hold-down, or -1. */
static int64_t step(struct border *b, struct bif *f, int first,
		    enum border_cat want, const char *why, uint64_t now,
		    time_t wall,
		    void (*on_change)(void *, const struct border_change *),
		    void *ctx)
{
	char held[CH_BORDER_REASON_MAX + 64];
	uint32_t hold = b->cfg->holddown_ms;

	if (want != BORDER_INTERIOR) {
		f->pending = 0;
		if (first || f->cat != want)
			set_cat(f, first, want, why, wall, on_change, ctx);
		else	/* the same category, perhaps another gateway */
			copy(f->reason, sizeof(f->reason), why);
		return -1;
	}
	if (!first && f->cat == BORDER_INTERIOR) {
		copy(f->reason, sizeof(f->reason), why);
		return -1;
	}
	if (!f->pending) {
		f->pending = 1;
		f->pending_until = now + hold;
		f->pending_at = wall + (time_t)(hold / MS_PER_S);
		/* exterior meanwhile: the draft's default (section 3) */
		if (first || f->cat == BORDER_DOWN) {
			snprintf(held, sizeof(held), "%s; interior after the "
				 "%u ms hold-down", why, hold);
			set_cat(f, first, BORDER_EXTERIOR, held, wall,
				on_change, ctx);
		} else {
			ch_info("border: %s: %s; interior after the %u ms "
				"hold-down unless it changes", f->name, why,
				hold);
		}
	}
	if (now < f->pending_until)
		return (int64_t)(f->pending_until - now);
	f->pending = 0;
	set_cat(f, 0, BORDER_INTERIOR, why, wall, on_change, ctx);
	return -1;
}

static void add_interior(struct border *b, const struct border_prefix *p)
{
	struct border_prefix *q;
	int r;

	/* link-local names no single link: never interior */
	if ((p->family == AF_INET && p->addr[0] == 169 && p->addr[1] == 254) ||
	    (p->family == AF_INET6 && p->addr[0] == 0xfe &&
	     (p->addr[1] & 0xc0) == 0x80))
		return;
	for (size_t i = 0; i < b->interior.n; i++)
		if (same_prefix(at(&b->interior, i), p))
			return;
	if ((q = table_add(&b->interior, &r)) != NULL)
		*q = *p;
}

static void derive(struct border *b)
{
	const struct border_addr *a;
	const struct bif *f;
	int no_ext = 1;

	b->interior.n = 0;
	for (size_t i = 0; i < b->ifs.n; i++) {
		f = at(&b->ifs, i);
		if (f->cat == BORDER_EXTERIOR || f->cat == BORDER_MIXED)
			no_ext = 0;
		if (f->cat != BORDER_INTERIOR)
			continue;
		for (size_t k = 0; k < b->addrs.n; k++) {
			a = at(&b->addrs, k);
			if (a->ifindex == f->ifindex)
				add_interior(b, &a->pfx);
		}
	}
	if (!b->no_exterior_known || no_ext != b->no_exterior) {
		if (no_ext)
			ch_warn("border: no exterior next hop at all: no "
				"interface is exterior (draft-kline-homenet-"
				"default-border 5.2.2; valid for an isolated "
				"network, else check the upstream link)");
		else if (b->no_exterior_known)
			ch_info("border: an exterior next hop exists again");
	}
	b->no_exterior = no_ext;
	b->no_exterior_known = 1;
}

int64_t border_update(struct border *b, uint64_t now_ms, time_t wall,
		      void (*on_change)(void *ctx,
					const struct border_change *c),
		      void *ctx)
{
	char why[CH_BORDER_REASON_MAX];
	const struct border_link *l;
	struct bif *f;
	int64_t next = -1, left;
	enum border_cat want;
	int first, r;

	for (size_t i = 0; i < b->ifs.n; i++)
		((struct bif *)at(&b->ifs, i))->seen = 0;
	for (size_t i = 0; i < b->links.n; i++) {
		l = at(&b->links, i);
		first = 0;
		if ((f = find_if(b, l->ifindex)) == NULL) {
			if ((f = table_add(&b->ifs, &r)) == NULL)
				continue;	/* the links table is as big */
			f->ifindex = l->ifindex;
			first = 1;
		}
		f->seen = 1;
		copy(f->name, sizeof(f->name), l->name);
		want = border_classify(b, l, why, sizeof(why));
		left = step(b, f, first, want, why, now_ms, wall, on_change,
			    ctx);
		if (left >= 0 && (next < 0 || left < next))
			next = left;
	}
	for (size_t i = b->ifs.n; i-- > 0;) {
		f = at(&b->ifs, i);
		if (f->seen)
			continue;
		if (f->cat != BORDER_DOWN)
			set_cat(f, 0, BORDER_DOWN, "interface removed", wall,
				on_change, ctx);
		table_remove(&b->ifs, i);
	}
	derive(b);
	return next;
}

/* ---- the answers ---- */

int border_is_interior(const struct border *b, const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	const uint8_t *addr;
	int family;

	if (b == NULL || sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		addr = (const uint8_t *)
			&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		family = AF_INET6;
		addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
			family = AF_INET;
			addr += sizeof(mapped);
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < b->interior.n; i++)
		if (in_prefix(at(&b->interior, i), family, addr))
			return 1;
	return 0;
}

int border_no_exterior(const struct border *b)
{
	return b->no_exterior;
}

int border_if_next(const struct border *b, size_t *idx,
		   struct border_if_info *info)
{
	const struct bif *f;

	if (*idx >= b->ifs.n)
		return 0;
	f = at(&b->ifs, (*idx)++);
	info->name = f->name;
	info->cat = f->cat;
	info->reason = f->reason;
	info->since = f->since;
	info->pending = f->pending;
	info->pending_at = f->pending_at;
	return 1;
}

int border_prefix_next(const struct border *b, size_t *idx,
		       struct border_prefix *p)
{
	if (*idx >= b->interior.n)
		return 0;
	*p = *(const struct border_prefix *)at(&b->interior, (*idx)++);
	return 1;
}
