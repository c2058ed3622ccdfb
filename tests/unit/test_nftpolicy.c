/* test_nftpolicy.c - the border's nftables ruleset (agent/nftpolicy.h):
 * what goes where, the prefix set's normal form, names nft cannot take,
 * the same text for the same border in any order, and the ruleset of a
 * real border (border.c) fed made-up records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/nftpolicy.h"
#include "lib/core/err.h"

static struct border_prefix pfx(const char *text, unsigned len)
{
	struct border_prefix p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(p.family, text, p.addr), 1);
	p.len = (uint8_t)len;
	return p;
}

static char *render(const struct nftpol_if *ifs, size_t nifs,
		    const struct border_prefix *p, size_t np)
{
	struct nftpol_input in = { ifs, nifs, p, np };
	char *text;
	size_t len;

	assert_int_equal(nftpol_render(&in, &text, &len), CH_OK);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void has(const char *text, const char *line)
{
	if (strstr(text, line) == NULL)
		fail_msg("missing: %s\nin:\n%s", line, text);
}

static void lacks(const char *text, const char *line)
{
	if (strstr(text, line) != NULL)
		fail_msg("unexpected: %s\nin:\n%s", line, text);
}

/* Interior interfaces get anti-spoofing and pass; mixed ones their
 * chain; everything else falls to exterior. */
static void test_chains(void **state)
{
	const struct nftpol_if ifs[] = {
		{ "wan0", BORDER_EXTERIOR }, { "lan1", BORDER_INTERIOR },
		{ "lan0", BORDER_INTERIOR }, { "lo", BORDER_LOOPBACK },
		{ "dsl0", BORDER_MIXED }, { "eth9", BORDER_DOWN },
	};
	const struct border_prefix p[] = { pfx("198.18.4.0", 24) };
	char *t = render(ifs, 6, p, 1);

	(void)state;
	has(t, "table inet callhome_border\n"
	       "delete table inet callhome_border\n"
	       "table inet callhome_border {\n");
	has(t, "\t\tiifname { \"lan0\", \"lan1\" } jump antispoof\n");
	has(t, "\t\tiifname { \"lan0\", \"lan1\" } accept\n");
	has(t, "\t\tiifname { \"dsl0\" } jump mixed\n");
	has(t, "\t\tjump exterior\n");
	has(t, "# interior: lan0 lan1\n# exterior: wan0\n# mixed: dsl0\n");
	has(t, "elements = { 198.18.4.0/24 }");
	/* exterior ones are not named: the default catches them */
	lacks(t, "\"wan0\"");
	lacks(t, "\"lo\"");
	lacks(t, "\"eth9\"");
	free(t);
}

/* No interface yet: every chain still loads, nothing is named, both
 * sets are empty. */
static void test_empty(void **state)
{
	char *t = render(NULL, 0, NULL, 0);

	(void)state;
	lacks(t, "iifname");
	lacks(t, "elements");
	has(t, "# interior: none\n");
	has(t, "\tset interior_nets6 {\n\t\ttype ipv6_addr\n"
	       "\t\tflags interval\n\t}\n");
	has(t, "\t\tjump exterior\n\t}\n}\n");
	free(t);
}

/* Host bits off, duplicates and prefixes inside another dropped, sorted
 * by family then address, v4 and v6 in their own sets. */
static void test_prefixes(void **state)
{
	const struct border_prefix p[] = {
		pfx("2001:db8:1::1", 64), pfx("10.1.2.3", 16),
		pfx("10.1.0.0", 24), pfx("192.168.1.0", 24),
		pfx("10.1.0.0", 16), pfx("2001:db8::", 32),
		pfx("172.16.0.0", 12),
	};
	char *t = render(NULL, 0, p, 7);

	(void)state;
	has(t, "elements = { 10.1.0.0/16, 172.16.0.0/12, 192.168.1.0/24 }");
	has(t, "elements = { 2001:db8::/32 }");
	free(t);
}

/* A name nft cannot take as written is left out: outside. */
static void test_names(void **state)
{
	const struct nftpol_if ifs[] = {
		{ "lan\"x", BORDER_INTERIOR }, { "lan*", BORDER_INTERIOR },
		{ "br-lan.10", BORDER_INTERIOR },
	};
	char *t = render(ifs, 3, NULL, 0);

	(void)state;
	assert_true(nftpol_ifname_ok("eth0"));
	assert_true(nftpol_ifname_ok("veth@if3"));
	assert_false(nftpol_ifname_ok(""));
	assert_false(nftpol_ifname_ok("a b"));
	assert_false(nftpol_ifname_ok("0123456789abcdef"));	/* 16 */
	has(t, "iifname { \"br-lan.10\" } jump antispoof");
	lacks(t, "lan*\"");
	lacks(t, "lan\"x");
	has(t, "# interior: br-lan.10 (a name nft cannot take: outside) "
	       "(a name nft cannot take: outside)\n");
	free(t);
}

/* The same border in another order: the same bytes. */
static void test_deterministic(void **state)
{
	const struct nftpol_if a[] = {
		{ "lan0", BORDER_INTERIOR }, { "wan0", BORDER_EXTERIOR },
		{ "lan1", BORDER_INTERIOR },
	};
	const struct nftpol_if b[] = {
		{ "lan1", BORDER_INTERIOR }, { "lan0", BORDER_INTERIOR },
		{ "wan0", BORDER_EXTERIOR },
	};
	const struct border_prefix pa[] = { pfx("10.0.0.0", 8),
					    pfx("fd00::", 8) };
	const struct border_prefix pb[] = { pfx("fd00::", 8),
					    pfx("10.0.0.0", 8) };
	char *x = render(a, 3, pa, 2), *y = render(b, 3, pb, 2);

	(void)state;
	assert_string_equal(x, y);
	free(x);
	free(y);
}

/* From a border classified by border.c. */
static void test_border(void **state)
{
	struct border_config cfg = { .holddown_ms = 0 };
	struct border_link lan = { .ifindex = 2, .name = "lan0", .up = 1,
				   .carrier = 1 };
	struct border_link wan = { .ifindex = 3, .name = "wan0", .up = 1,
				   .carrier = 1 };
	struct border_addr a = { .ifindex = 2, .pfx = pfx("192.168.7.0",
							   24) };
	struct border_route def = { .dst = { .family = AF_INET }, .oif = 3,
				    .has_gw = 1, .gw = { 203, 0, 113, 1 } };
	struct border *b;
	char *t;
	size_t len;

	(void)state;
	assert_int_equal(border_new(&cfg, &b), CH_OK);
	assert_int_equal(border_link_set(b, &lan), CH_OK);
	assert_int_equal(border_link_set(b, &wan), CH_OK);
	assert_int_equal(border_addr_set(b, &a), CH_OK);
	assert_int_equal(border_route_set(b, &def), CH_OK);
	border_update(b, 1000, 1800000000, NULL, NULL);
	border_update(b, 1001, 1800000000, NULL, NULL);
	assert_int_equal(nftpol_render_border(b, &t, &len), CH_OK);
	has(t, "# interior: lan0\n# exterior: wan0\n");
	has(t, "elements = { 192.168.7.0/24 }");
	free(t);
	border_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chains),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_border),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
