/* test_termconfig.c - the terminal configuration: the module's tree into
 * struct termc (defaults included), the flag shortcut, and the decisions
 * (managers, env names), and RFC 4254 signal names (lib/core/signame.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include <libyang/libyang.h>

#include "agent/termconfig.h"
#include "lib/core/signame.h"
#include "lib/core/err.h"

static struct ly_ctx *ctx;

static struct lyd_node *parse(const char *xml)
{
	struct lyd_node *tree = NULL;

	assert_int_equal(lyd_parse_data_mem(ctx, xml, LYD_XML,
					    LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT,
					    &tree), LY_SUCCESS);
	return tree;
}

static int setup(void **st)
{
	(void)st;
	if (ly_ctx_new(NULL, 0, &ctx) != LY_SUCCESS ||
	    lys_parse_mem(ctx, termc_module_yang, LYS_IN_YANG, NULL) !=
	    LY_SUCCESS)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	ly_ctx_destroy(ctx);
	return 0;
}

static void test_tree(void **st)
{
	struct lyd_node *t;
	struct termc c;

	(void)st;
	assert_int_equal(termc_from_tree(NULL, &c), CH_OK);
	assert_false(c.present);
	t = parse("<terminal xmlns=\"urn:callhome:yang:callhome-terminal\">"
		  "<enabled>true</enabled><account>op</account>"
		  "<allowed-manager>SHA256:abc</allowed-manager>"
		  "<allowed-manager>admin</allowed-manager>"
		  "<max-sessions>3</max-sessions></terminal>");
	assert_int_equal(termc_from_tree(t, &c), CH_OK);
	assert_true(c.present);
	assert_true(c.enabled);
	assert_false(c.allow_root);
	assert_string_equal(c.account, "op");
	assert_int_equal(c.max_sessions, 3);
	assert_int_equal(c.nmanagers, 2);
	assert_true(termc_manager_ok(&c, "x", "SHA256:abc"));
	assert_true(termc_manager_ok(&c, "admin", "SHA256:zzz"));
	assert_false(termc_manager_ok(&c, "x", "SHA256:zzz"));
	assert_false(termc_manager_ok(&c, NULL, NULL));
	/* the default allow-list */
	assert_int_equal(c.nenv, 4);
	assert_true(termc_env_ok(&c, "LANG"));
	assert_true(termc_env_ok(&c, "LC_ALL"));
	assert_true(termc_env_ok(&c, "TZ"));
	assert_false(termc_env_ok(&c, "LD_PRELOAD"));
	assert_false(termc_env_ok(&c, "LANGUAGE"));
	termc_free(&c);
	lyd_free_all(t);

	t = parse("<terminal xmlns=\"urn:callhome:yang:callhome-terminal\">"
		  "<env>FOO</env><env>PATH</env><env>X*</env></terminal>");
	assert_int_equal(termc_from_tree(t, &c), CH_OK);
	assert_false(c.enabled);
	assert_int_equal(c.max_sessions, 16);
	assert_true(termc_env_ok(&c, "FOO"));
	assert_true(termc_env_ok(&c, "XY_Z"));
	assert_false(termc_env_ok(&c, "LANG"));
	assert_false(termc_env_ok(&c, "PATH"));	/* the agent's own */
	assert_false(termc_env_ok(&c, "X-Y"));	/* not a name */
	assert_false(termc_env_ok(&c, ""));
	assert_true(termc_manager_ok(&c, "any", NULL));	/* none listed */
	termc_free(&c);
	lyd_free_all(t);
}

static void test_flag(void **st)
{
	struct termc c, d;

	(void)st;
	assert_int_equal(termc_from_flag("op", &c), CH_OK);
	assert_true(c.present && c.enabled && c.allow_root);
	assert_string_equal(c.account, "op");
	assert_true(termc_env_ok(&c, "LC_CTYPE"));
	assert_true(termc_env_ok(&c, "TERM"));
	assert_int_equal(termc_copy(&d, &c), CH_OK);
	termc_free(&c);
	assert_true(termc_env_ok(&d, "LANG"));
	assert_string_equal(d.account, "op");
	termc_free(&d);
}

static void test_signals(void **st)
{
	static const char *const names[] = { "ABRT", "ALRM", "FPE", "HUP",
		"ILL", "INT", "KILL", "PIPE", "QUIT", "SEGV", "TERM", "USR1",
		"USR2" };

	(void)st;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int n = ch_signal_num(names[i]);

		assert_true(n > 0);
		assert_string_equal(ch_signal_name(n), names[i]);
	}
	assert_int_equal(ch_signal_num("INT"), SIGINT);
	assert_int_equal(ch_signal_num("SIGINT"), 0);
	assert_int_equal(ch_signal_num("int"), 0);
	assert_int_equal(ch_signal_num(NULL), 0);
	assert_int_equal(ch_signal_num("WINCH"), 0);
	assert_null(ch_signal_name(SIGWINCH));
	assert_null(ch_signal_name(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_flag),
		cmocka_unit_test(test_signals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
