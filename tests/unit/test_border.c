/* test_border.c - the border's classification (agent/border.h), fed
 * made-up links, addresses and routes: the rules, the hold-down, the
 * interior prefix set and border_is_interior. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "agent/border.h"
#include "lib/core/err.h"

#define HOLD_MS 5000
#define T0 1000000		/* monotonic ms of the first update */
#define WALL0 1800000000	/* its wall clock */
#define MAX_SEEN 16

/* What on_change saw. */
struct seen {
	size_t n;
	char name[MAX_SEEN][IF_NAMESIZE];
	int first[MAX_SEEN];
	enum border_cat old_cat[MAX_SEEN], new_cat[MAX_SEEN];
	char reason[MAX_SEEN][CH_BORDER_REASON_MAX];
};

static void on_change(void *ctx, const struct border_change *c)
{
	struct seen *s = ctx;

	assert_true(s->n < MAX_SEEN);
	snprintf(s->name[s->n], IF_NAMESIZE, "%s", c->ifname);
	s->first[s->n] = c->first;
	s->old_cat[s->n] = c->old_cat;
	s->new_cat[s->n] = c->new_cat;
	snprintf(s->reason[s->n], CH_BORDER_REASON_MAX, "%s", c->reason);
	s->n++;
}

static struct border_prefix pfx(const char *text, unsigned len)
{
	struct border_prefix p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(p.family, text, p.addr), 1);
	p.len = (uint8_t)len;
	return p;
}

static void link_up(struct border *b, uint32_t idx, const char *name)
{
	struct border_link l = { .ifindex = idx, .up = 1, .carrier = 1 };

	snprintf(l.name, sizeof(l.name), "%s", name);
	l.loopback = strcmp(name, "lo") == 0;
	assert_int_equal(border_link_set(b, &l), CH_OK);
}

static void addr(struct border *b, uint32_t idx, const char *a,
		 unsigned len)
{
	struct border_addr x = { .ifindex = idx, .pfx = pfx(a, len) };

	assert_int_equal(border_addr_set(b, &x), CH_OK);
}

static struct border_route route(const char *dst, unsigned len,
				 uint32_t oif, const char *gw)
{
	struct border_route r;

	memset(&r, 0, sizeof(r));
	r.dst = pfx(dst, len);
	r.oif = oif;
	if (gw != NULL) {
		r.has_gw = 1;
		assert_int_equal(inet_pton(r.dst.family, gw, r.gw), 1);
	}
	return r;
}

static void add_route(struct border *b, const char *dst, unsigned len,
		      uint32_t oif, const char *gw)
{
	struct border_route r = route(dst, len, oif, gw);

	assert_int_equal(border_route_set(b, &r), CH_OK);
}

static enum border_cat cat_of(const struct border *b, const char *name)
{
	struct border_if_info info;
	size_t i = 0;

	while (border_if_next(b, &i, &info))
		if (strcmp(info.name, name) == 0)
			return info.cat;
	fail_msg("no interface %s", name);
	return BORDER_DOWN;
}

static int interior_v4(const struct border *b, const char *a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	assert_int_equal(inet_pton(AF_INET, a, &sin.sin_addr), 1);
	return border_is_interior(b, (const struct sockaddr *)&sin);
}

static int interior_v6(const struct border *b, const char *a)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	assert_int_equal(inet_pton(AF_INET6, a, &sin6.sin6_addr), 1);
	return border_is_interior(b, (const struct sockaddr *)&sin6);
}

/* border_classify(l) is want, with in_reason (NULL: any) in its reason. */
static void expect(const struct border *b, const struct border_link *l,
		   enum border_cat want, const char *in_reason)
{
	char why[CH_BORDER_REASON_MAX];

	assert_int_equal(border_classify(b, l, why, sizeof(why)), want);
	if (in_reason != NULL && strstr(why, in_reason) == NULL)
		fail_msg("reason '%s' lacks '%s'", why, in_reason);
}

/* The device of the integration test: lo, ext0 with the default route,
 * lan0 with a LAN prefix. */
static struct border *device(struct border_config *cfg)
{
	struct border *b;

	if (cfg->holddown_ms == 0)
		cfg->holddown_ms = HOLD_MS;
	assert_int_equal(border_new(cfg, &b), CH_OK);
	link_up(b, 1, "lo");
	link_up(b, 2, "ext0");
	link_up(b, 3, "lan0");
	addr(b, 1, "127.0.0.1", 8);
	addr(b, 2, "198.18.3.2", 24);
	addr(b, 3, "198.18.4.1", 24);
	addr(b, 3, "2001:db8:4::1", 64);
	addr(b, 3, "fe80::1", 64);
	add_route(b, "198.18.3.0", 24, 2, NULL);
	add_route(b, "198.18.4.0", 24, 3, NULL);
	add_route(b, "0.0.0.0", 0, 2, "198.18.3.1");
	return b;
}

static void test_rules(void **state)
{
	struct border_config cfg = { 0 };
	struct border *b = device(&cfg);
	struct border_link l = { .ifindex = 9, .name = "eth9", .up = 1 };

	(void)state;
	assert_int_equal(border_update(b, T0, WALL0, NULL, NULL), HOLD_MS);
	assert_int_equal(cat_of(b, "lo"), BORDER_LOOPBACK);
	assert_int_equal(cat_of(b, "ext0"), BORDER_EXTERIOR);
	/* exterior while held down, interior after */
	assert_int_equal(cat_of(b, "lan0"), BORDER_EXTERIOR);
	assert_int_equal(border_update(b, T0 + HOLD_MS, WALL0 + 5, NULL,
				       NULL), -1);
	assert_int_equal(cat_of(b, "lan0"), BORDER_INTERIOR);
	assert_false(border_no_exterior(b));

	/* no carrier, administratively down */
	expect(b, &l, BORDER_DOWN, "no carrier");
	l.up = 0;
	expect(b, &l, BORDER_DOWN, "administratively down");

	/* an IPv6 default route makes an interface exterior too */
	l.up = l.carrier = 1;
	expect(b, &l, BORDER_INTERIOR, NULL);
	add_route(b, "::", 0, 9, "fe80::99");
	expect(b, &l, BORDER_EXTERIOR, "IPv6, fe80::99");
	border_free(b);
}

static void test_mixed(void **state)
{
	struct border_config cfg = { 0 };
	struct border *b = device(&cfg);
	struct border_link lan = { .ifindex = 3, .name = "lan0", .up = 1,
				   .carrier = 1 };

	(void)state;
	/* a downstream router on the LAN: still interior */
	add_route(b, "198.18.5.0", 24, 3, "198.18.4.3");
	expect(b, &lan, BORDER_INTERIOR, NULL);
	/* and a default route through the LAN as well: mixed */
	add_route(b, "0.0.0.0", 0, 3, "198.18.4.2");
	expect(b, &lan, BORDER_MIXED, "interior next hop");
	border_free(b);

	/* configured interior with a default route: mixed */
	cfg.interior[cfg.ninterior++] = "lan*";
	b = device(&cfg);
	add_route(b, "0.0.0.0", 0, 3, "198.18.4.2");
	expect(b, &lan, BORDER_MIXED, "--interior lan*");
	border_free(b);
}

static void test_fixed(void **state)
{
	struct border_config cfg = { 0 };
	struct border *b;
	struct border_link ext = { .ifindex = 2, .name = "ext0", .up = 1,
				   .carrier = 1 };
	struct border_link lan = { .ifindex = 3, .name = "lan0", .up = 1,
				   .carrier = 1 };

	(void)state;
	cfg.exterior[cfg.nexterior++] = "lan?";
	cfg.interior[cfg.ninterior++] = "lan0";
	cfg.interior[cfg.ninterior++] = "ext0";
	b = device(&cfg);
	/* --exterior wins over --interior */
	expect(b, &lan, BORDER_EXTERIOR, "--exterior lan?");
	/* ext0 is configured interior but holds the default route */
	expect(b, &ext, BORDER_MIXED, NULL);
	border_update(b, T0, WALL0, NULL, NULL);
	assert_true(border_no_exterior(b) == 0);
	border_free(b);
}

/* To interior waits the hold-down; to exterior is at once; a flap
 * restarts the hold-down. */
static void test_holddown(void **state)
{
	struct border_config cfg = { 0 };
	struct border *b = device(&cfg);
	struct border_route def = route("0.0.0.0", 0, 3, "198.18.4.2");
	struct border_link nocarrier = { .ifindex = 3, .name = "lan0",
					 .up = 1, .carrier = 0 };
	struct seen s = { 0 };
	uint64_t t = T0;

	(void)state;
	border_update(b, t, WALL0, on_change, &s);
	assert_int_equal(s.n, 3);		/* lo, ext0, lan0: first */
	assert_true(s.first[2]);
	assert_string_equal(s.name[2], "lan0");
	assert_int_equal(s.new_cat[2], BORDER_EXTERIOR);
	assert_non_null(strstr(s.reason[2], "hold-down"));
	assert_false(interior_v4(b, "198.18.4.20"));
	/* one ms short: still exterior */
	assert_int_equal(border_update(b, t + HOLD_MS - 1, WALL0, on_change,
				       &s), 1);
	assert_int_equal(s.n, 3);
	t += HOLD_MS;
	assert_int_equal(border_update(b, t, WALL0, on_change, &s), -1);
	assert_int_equal(s.n, 4);
	assert_false(s.first[3]);
	assert_int_equal(s.old_cat[3], BORDER_EXTERIOR);
	assert_int_equal(s.new_cat[3], BORDER_INTERIOR);
	assert_true(interior_v4(b, "198.18.4.20"));

	/* a default route through the LAN: exterior at once */
	assert_int_equal(border_route_set(b, &def), CH_OK);
	t += 1;
	assert_int_equal(border_update(b, t, WALL0, on_change, &s), -1);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.old_cat[4], BORDER_INTERIOR);
	assert_int_equal(s.new_cat[4], BORDER_EXTERIOR);
	assert_false(interior_v4(b, "198.18.4.20"));

	/* removed: interior only after the hold-down... */
	border_route_del(b, &def);
	assert_int_equal(border_update(b, t, WALL0, on_change, &s), HOLD_MS);
	assert_int_equal(cat_of(b, "lan0"), BORDER_EXTERIOR);
	/* ...which a flap back restarts */
	assert_int_equal(border_route_set(b, &def), CH_OK);
	assert_int_equal(border_update(b, t + 1000, WALL0, on_change, &s), -1);
	border_route_del(b, &def);
	assert_int_equal(border_update(b, t + 2000, WALL0, on_change, &s),
			 HOLD_MS);
	assert_int_equal(border_update(b, t + 2000 + HOLD_MS - 1, WALL0,
				       on_change, &s), 1);
	assert_int_equal(cat_of(b, "lan0"), BORDER_EXTERIOR);
	assert_int_equal(s.n, 5);
	assert_int_equal(border_update(b, t + 2000 + HOLD_MS, WALL0,
				       on_change, &s), -1);
	assert_int_equal(s.n, 6);
	assert_int_equal(s.new_cat[5], BORDER_INTERIOR);

	/* carrier lost: down at once, and not interior */
	assert_int_equal(border_link_set(b, &nocarrier), CH_OK);
	border_update(b, t + 9000, WALL0, on_change, &s);
	assert_int_equal(s.new_cat[6], BORDER_DOWN);
	assert_false(interior_v4(b, "198.18.4.20"));
	/* carrier back: exterior, interior after the hold-down */
	link_up(b, 3, "lan0");
	assert_int_equal(border_update(b, t + 10000, WALL0, on_change, &s),
			 HOLD_MS);
	assert_int_equal(s.old_cat[7], BORDER_DOWN);
	assert_int_equal(s.new_cat[7], BORDER_EXTERIOR);
	border_update(b, t + 10000 + HOLD_MS, WALL0, on_change, &s);
	assert_int_equal(s.new_cat[8], BORDER_INTERIOR);

	/* removed: down, then gone */
	border_link_del(b, 3);
	border_update(b, t + 20000, WALL0, on_change, &s);
	assert_int_equal(s.n, 10);
	assert_string_equal(s.reason[9], "interface removed");
	assert_false(interior_v4(b, "198.18.4.20"));
	border_free(b);
}

static void test_prefixes(void **state)
{
	struct border_config cfg = { .holddown_ms = 0 };
	struct border *b;
	struct border_prefix p;
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6 };
	struct sockaddr sa = { .sa_family = AF_UNIX };
	char text[64];
	size_t i = 0;

	(void)state;
	cfg.holddown_ms = 1;
	b = device(&cfg);
	addr(b, 3, "198.18.6.77", 23);	/* masked to 198.18.6.0/23 */
	border_update(b, T0, WALL0, NULL, NULL);
	border_update(b, T0 + 1, WALL0, NULL, NULL);
	/* the set: lan0's prefixes, without link-local */
	assert_true(border_prefix_next(b, &i, &p));
	border_prefix_text(&p, text, sizeof(text));
	assert_string_equal(text, "198.18.4.0/24");
	assert_true(border_prefix_next(b, &i, &p));
	border_prefix_text(&p, text, sizeof(text));
	assert_string_equal(text, "2001:db8:4::/64");
	assert_true(border_prefix_next(b, &i, &p));
	border_prefix_text(&p, text, sizeof(text));
	assert_string_equal(text, "198.18.6.0/23");
	assert_false(border_prefix_next(b, &i, &p));

	assert_true(interior_v4(b, "198.18.4.0"));
	assert_true(interior_v4(b, "198.18.4.255"));
	assert_false(interior_v4(b, "198.18.5.1"));
	assert_true(interior_v4(b, "198.18.7.254"));	/* /23 */
	assert_false(interior_v4(b, "198.18.8.1"));
	assert_false(interior_v4(b, "198.18.3.2"));	/* exterior */
	assert_false(interior_v4(b, "127.0.0.1"));	/* loopback */
	assert_true(interior_v6(b, "2001:db8:4::abcd"));
	assert_true(interior_v6(b, "2001:db8:4:0:ffff:ffff:ffff:ffff"));
	assert_false(interior_v6(b, "2001:db8:4:1::1"));
	assert_false(interior_v6(b, "fe80::2"));	/* link-local */
	assert_false(interior_v6(b, "::1"));
	/* an IPv4-mapped IPv6 address is its IPv4 address */
	assert_int_equal(inet_pton(AF_INET6, "::ffff:198.18.4.9",
				   &mapped.sin6_addr), 1);
	assert_true(border_is_interior(b, (struct sockaddr *)&mapped));
	assert_false(border_is_interior(b, &sa));
	assert_false(border_is_interior(b, NULL));
	assert_false(border_is_interior(NULL, &sa));
	border_free(b);
}

/* Section 5.2.2: no exterior next hop at all. */
static void test_no_exterior(void **state)
{
	struct border_config cfg = { .holddown_ms = HOLD_MS };
	struct border *b = device(&cfg);
	struct border_route def = route("0.0.0.0", 0, 2, "198.18.3.1");

	(void)state;
	border_update(b, T0, WALL0, NULL, NULL);
	assert_false(border_no_exterior(b));
	border_route_del(b, &def);
	border_update(b, T0 + 1, WALL0, NULL, NULL);
	/* ext0 is held down: exterior still */
	assert_false(border_no_exterior(b));
	border_update(b, T0 + 1 + HOLD_MS, WALL0, NULL, NULL);
	assert_true(border_no_exterior(b));
	assert_int_equal(cat_of(b, "ext0"), BORDER_INTERIOR);
	border_free(b);
}

/* A replaced multipath default route; the view's limits. */
static void test_view(void **state)
{
	struct border_config cfg = { .holddown_ms = HOLD_MS };
	struct border *b = device(&cfg);
	struct border_route a = route("0.0.0.0", 0, 3, "198.18.4.2");
	struct border_route c = route("0.0.0.0", 0, 2, "198.18.3.1");
	struct border_link l = { .ifindex = 3, .name = "lan0", .up = 1,
				 .carrier = 1 };
	int r = CH_OK;

	(void)state;
	assert_int_equal(border_route_set(b, &a), CH_OK);
	expect(b, &l, BORDER_EXTERIOR, NULL);
	/* both next hops of the metric-0 default route go */
	border_route_del_all(b, &c);
	expect(b, &l, BORDER_INTERIOR, NULL);
	/* the routes table is bounded */
	for (uint32_t i = 0; i <= CH_BORDER_MAX_ROUTES && r == CH_OK; i++) {
		struct border_route x = route("10.0.0.0", 8, 3, NULL);

		x.priority = i;
		r = border_route_set(b, &x);
	}
	assert_int_equal(r, CH_ERR_LIMIT);
	border_view_clear(b);
	border_update(b, T0, WALL0, NULL, NULL);
	assert_false(border_if_next(b, &(size_t){ 0 },
				    &(struct border_if_info){ 0 }));
	border_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_holddown),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_no_exterior),
		cmocka_unit_test(test_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
