/* test_forward.c - the forwarding rule (agent/fwdpolicy.h): allow-rule
 * parsing, prefix and port-range matching in IPv4 and IPv6, the interior
 * prefix set of a made-up border, loopback and the device's own
 * addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "agent/fwdpolicy.h"
#include "lib/core/err.h"

static struct sockaddr_storage ss;

/* text as a sockaddr (static: one at a time). */
static const struct sockaddr *sa(const char *text)
{
	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return (const struct sockaddr *)&ss;
}

static struct fwd_rule rule(const char *text)
{
	struct fwd_rule r;
	char err[256];

	assert_int_equal(fwd_rule_parse(text, &r, err, sizeof(err)), CH_OK);
	return r;
}

static void rule_text_is(const char *in, const char *want)
{
	struct fwd_rule r = rule(in);
	char text[96];

	fwd_rule_text(&r, text, sizeof(text));
	assert_string_equal(text, want);
}

static void parse(void **state)
{
	const char *bad[] = {
		"", "lan.example", "198.18.7.1:0", "198.18.7.1:65536",
		"198.18.7.1:90-80", "198.18.7.1:x", "198.18.7.1:80-",
		"198.18.7.0/33", "198.18.7.0/", "2001:db8::/129",
		"[2001:db8::1", "[2001:db8::1]80", "[2001:db8::1]:", "-1",
		"198.18.7.1:80:81",
	};
	struct fwd_rule r;
	char err[256];

	(void)state;
	rule_text_is("198.18.7.9", "198.18.7.9/32:1-65535");
	rule_text_is("198.18.7.9:80", "198.18.7.9/32:80-80");
	rule_text_is("198.18.7.0/24:8000-8080", "198.18.7.0/24:8000-8080");
	rule_text_is("198.18.7.77/23", "198.18.6.0/23:1-65535"); /* masked */
	rule_text_is("2001:db8::/64", "[2001:db8::/64]:1-65535");
	rule_text_is("[2001:db8::1]:443", "[2001:db8::1/128]:443-443");
	rule_text_is("[2001:db8:1::/48]:22-23", "[2001:db8:1::/48]:22-23");
	rule_text_is("127.0.0.1:631", "127.0.0.1/32:631-631");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (fwd_rule_parse(bad[i], &r, err, sizeof(err)) == CH_OK)
			fail_msg("'%s' parsed", bad[i]);
		assert_true(err[0] != '\0');
	}
}

static void match(void **state)
{
	struct fwd_rule r4 = rule("198.18.7.0/24:8000-8080");
	struct fwd_rule r6 = rule("[2001:db8:7::/48]:22");

	(void)state;
	assert_true(fwd_rule_match(&r4, sa("198.18.7.1"), 8000));
	assert_true(fwd_rule_match(&r4, sa("198.18.7.255"), 8080));
	assert_false(fwd_rule_match(&r4, sa("198.18.7.1"), 7999));
	assert_false(fwd_rule_match(&r4, sa("198.18.7.1"), 8081));
	assert_false(fwd_rule_match(&r4, sa("198.18.8.1"), 8000));
	/* v4-mapped IPv6 is its IPv4 address */
	assert_true(fwd_rule_match(&r4, sa("::ffff:198.18.7.3"), 8001));
	assert_false(fwd_rule_match(&r4, sa("2001:db8:7::1"), 8000));
	assert_true(fwd_rule_match(&r6, sa("2001:db8:7:ffff::1"), 22));
	assert_false(fwd_rule_match(&r6, sa("2001:db8:8::1"), 22));
	assert_false(fwd_rule_match(&r6, sa("2001:db8:7::1"), 23));
	assert_false(fwd_rule_match(&r6, sa("198.18.7.1"), 22));
	assert_true(fwd_is_loopback(sa("127.0.0.1")));
	assert_true(fwd_is_loopback(sa("127.254.3.4")));
	assert_true(fwd_is_loopback(sa("::1")));
	assert_true(fwd_is_loopback(sa("::ffff:127.0.0.1")));
	assert_false(fwd_is_loopback(sa("128.0.0.1")));
	assert_false(fwd_is_loopback(sa("::2")));
}

/* A border with lan0 (198.18.4.0/24, 2001:db8:4::/64) interior and ext0
 * (198.18.3.0/24) exterior. */
static struct border *device(struct border_config *cfg)
{
	struct border_link lan = { .ifindex = 2, .name = "lan0", .up = 1,
				   .carrier = 1 };
	struct border_link ext = { .ifindex = 3, .name = "ext0", .up = 1,
				   .carrier = 1 };
	struct border_addr a = { .ifindex = 2 };
	struct border_route dflt = { .oif = 3, .has_gw = 1 };
	struct border *b;

	cfg->holddown_ms = 0;
	assert_int_equal(border_new(cfg, &b), CH_OK);
	assert_int_equal(border_link_set(b, &lan), CH_OK);
	assert_int_equal(border_link_set(b, &ext), CH_OK);
	a.pfx.family = AF_INET;
	a.pfx.len = 24;
	inet_pton(AF_INET, "198.18.4.0", a.pfx.addr);
	assert_int_equal(border_addr_set(b, &a), CH_OK);
	a.pfx.family = AF_INET6;
	a.pfx.len = 64;
	inet_pton(AF_INET6, "2001:db8:4::", a.pfx.addr);
	assert_int_equal(border_addr_set(b, &a), CH_OK);
	a.ifindex = 3;
	a.pfx.family = AF_INET;
	a.pfx.len = 24;
	inet_pton(AF_INET, "198.18.3.0", a.pfx.addr);
	assert_int_equal(border_addr_set(b, &a), CH_OK);
	dflt.dst.family = AF_INET;
	inet_pton(AF_INET, "198.18.3.1", dflt.gw);
	assert_int_equal(border_route_set(b, &dflt), CH_OK);
	border_update(b, 1000, 1, NULL, NULL);
	border_update(b, 1001, 1, NULL, NULL);
	assert_true(border_is_interior(b, sa("198.18.4.9")));
	return b;
}

static void policy(void **state)
{
	struct border_config cfg = { 0 };
	struct border *b = device(&cfg);
	struct fwd_policy p = { 0 };
	const char *why;

	(void)state;
	/* off: everything refused, whatever the rules */
	p.rules[p.nrules++] = rule("198.18.3.1:80");
	why = fwd_policy_check(&p, b, sa("198.18.4.9"), 80, 0);
	assert_non_null(why);
	assert_string_equal(why, FWD_WHY_OFF);
	p.enabled = 1;
	/* interior: any port */
	assert_null(fwd_policy_check(&p, b, sa("198.18.4.9"), 80, 0));
	assert_null(fwd_policy_check(&p, b, sa("198.18.4.9"), 22, 0));
	assert_null(fwd_policy_check(&p, b, sa("2001:db8:4::9"), 443, 0));
	assert_null(fwd_policy_check(&p, b, sa("::ffff:198.18.4.9"), 80, 0));
	/* exterior: only the host AND port of the rule */
	assert_null(fwd_policy_check(&p, b, sa("198.18.3.1"), 80, 0));
	assert_non_null(fwd_policy_check(&p, b, sa("198.18.3.1"), 81, 0));
	assert_non_null(fwd_policy_check(&p, b, sa("198.18.3.2"), 80, 0));
	assert_non_null(fwd_policy_check(&p, b, sa("2001:db8:3::1"), 80, 0));
	assert_non_null(fwd_policy_check(&p, b, sa("198.18.4.9"), 0, 0));
	/* the device itself: refused though inside the interior set */
	why = fwd_policy_check(&p, b, sa("198.18.4.1"), 22, 1);
	assert_non_null(why);
	assert_non_null(strstr(why, "device itself"));
	why = fwd_policy_check(&p, b, sa("127.0.0.1"), 22, 1);
	assert_non_null(strstr(why, "loopback"));
	assert_non_null(fwd_policy_check(&p, b, sa("::1"), 22, 0));
	assert_non_null(fwd_policy_check(&p, b, sa("0.0.0.0"), 80, 0));
	assert_non_null(fwd_policy_check(&p, b, sa("::"), 80, 0));
	/* a broad rule does not name them ... */
	p.rules[p.nrules++] = rule("0.0.0.0/0:22");
	assert_non_null(fwd_policy_check(&p, b, sa("127.0.0.1"), 22, 1));
	assert_non_null(fwd_policy_check(&p, b, sa("198.18.4.1"), 22, 1));
	assert_null(fwd_policy_check(&p, b, sa("198.18.9.9"), 22, 0));
	/* ... an explicit one does, with its port */
	p.rules[p.nrules++] = rule("127.0.0.1:631");
	p.rules[p.nrules++] = rule("198.18.4.1:830");
	p.rules[p.nrules++] = rule("[::1]:631");
	assert_null(fwd_policy_check(&p, b, sa("127.0.0.1"), 631, 1));
	assert_non_null(fwd_policy_check(&p, b, sa("127.0.0.1"), 632, 1));
	assert_null(fwd_policy_check(&p, b, sa("198.18.4.1"), 830, 1));
	assert_non_null(fwd_policy_check(&p, b, sa("198.18.4.1"), 831, 1));
	assert_null(fwd_policy_check(&p, b, sa("::1"), 631, 1));
	/* no border: the rules only */
	assert_non_null(fwd_policy_check(&p, NULL, sa("198.18.4.9"), 80, 0));
	assert_null(fwd_policy_check(&p, NULL, sa("198.18.3.1"), 80, 0));
	border_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse),
		cmocka_unit_test(match),
		cmocka_unit_test(policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
