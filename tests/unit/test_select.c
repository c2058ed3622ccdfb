/* Unit tests for an operator's selection of devices (hub/select.c):
 * tags, groups, name globs as SQL GLOB, states, and what is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "hub/select.h"
#include "lib/core/err.h"

static int parse(const char *json, struct ch_select *sel, int *given,
		 char *why, size_t len)
{
	json_t *obj = json_loads(json, JSON_DECODE_ANY, NULL);
	int r;

	assert_non_null(obj);
	r = hub_select_parse(obj, sel, given, why, len);
	json_decref(obj);
	return r;
}

static void test_tags_and_groups(void **state)
{
	struct ch_select sel;
	char why[256];
	int given;

	(void)state;
	assert_int_equal(parse("{\"tag\": [\"site=lyon\", \"role=cpe\"],"
			       " \"group\": \"core\"}", &sel, &given, why,
			       sizeof(why)), CH_OK);
	assert_int_equal(given, 1);
	assert_int_equal(sel.ntags, 3);
	assert_string_equal(sel.tags[0].key, "site");
	assert_string_equal(sel.tags[0].value, "lyon");
	assert_string_equal(sel.tags[1].key, "role");
	assert_string_equal(sel.tags[2].key, "group");
	assert_string_equal(sel.tags[2].value, "core");
	assert_string_equal(sel.glob, "");
	assert_int_equal(sel.state, CH_SEL_ANY);
	/* a value holds no '=' */
	assert_int_equal(parse("{\"tag\": \"a=b=c\"}", &sel, &given, why,
			       sizeof(why)), CH_ERR_INVAL);
	assert_non_null(strstr(why, "'a=b=c' is not a tag"));
	/* nothing selected: every device */
	assert_int_equal(parse("{}", &sel, &given, why, sizeof(why)), CH_OK);
	assert_int_equal(given, 0);
	assert_int_equal(hub_select_parse(NULL, &sel, &given, why,
					  sizeof(why)), CH_OK);
	assert_int_equal(given, 0);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"[]", "{\"colour\": \"red\"}", "{\"tag\": 3}",
		"{\"tag\": [\"site\"]}", "{\"tag\": [\"=x\"]}",
		"{\"tag\": [\"Site=x\"]}", "{\"tag\": [\"site=a b\"]}",
		"{\"tag\": [\"site=\"]}", "{\"group\": \"\"}",
		"{\"group\": \"a'b\"}", "{\"name\": \"\"}",
		"{\"name\": \"[ab\"}", "{\"name\": \"ab\\\\\"}",
		"{\"state\": \"up\"}", "{\"state\": 1}",
		("{\"tag\": [\"a=1\",\"b=1\",\"c=1\",\"d=1\",\"e=1\",\"f=1\","
		 "\"g=1\",\"h=1\",\"i=1\"]}"),
	};
	struct ch_select sel;
	char why[256];
	int given;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(parse(bad[i], &sel, &given, why,
				       sizeof(why)), CH_ERR_INVAL);
		assert_true(why[0] != '\0');
	}
}

static void test_glob_to_sql(void **state)
{
	static const struct {
		const char *glob, *sql;
	} cases[] = {
		{ "lyon-*", "lyon-*" },
		{ "r?", "r?" },
		{ "r[0-9]", "r[0-9]" },
		{ "r[!0-9]", "r[^0-9]" },
		{ "r[]a]", "r[]a]" },
		{ "r[!]a]", "r[^]a]" },
		{ "a\\*b", "a[*]b" },
		{ "a\\?b", "a[?]b" },
		{ "a\\[b", "a[[]b" },
		{ "a\\xb", "axb" },
		{ "a]b", "a]b" },
	};
	char out[CH_SEL_GLOB_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(hub_glob_to_sql(cases[i].glob, out,
						 sizeof(out)), CH_OK);
		assert_string_equal(out, cases[i].sql);
	}
	assert_int_equal(hub_glob_to_sql("[abc", out, sizeof(out)),
			 CH_ERR_INVAL);
	assert_int_equal(hub_glob_to_sql("abc\\", out, sizeof(out)),
			 CH_ERR_INVAL);
	assert_int_equal(hub_glob_to_sql("abcdef", out, 4), CH_ERR_LIMIT);
}

static void test_states_and_text(void **state)
{
	static const struct {
		const char *word;
		int state;
	} cases[] = {
		{ "connected", CH_SEL_CONNECTED },
		{ "online", CH_SEL_CONNECTED },
		{ "disconnected", CH_SEL_DISCONNECTED },
		{ "offline", CH_SEL_DISCONNECTED },
		{ "pending", CH_SEL_PENDING },
		{ "admitted", CH_SEL_ADMITTED },
		{ "revoked", CH_SEL_REVOKED },
	};
	struct ch_select sel;
	char why[256], json[128], text[256];
	json_t *obj;
	int given;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json), "{\"state\": \"%s\"}",
			 cases[i].word);
		assert_int_equal(parse(json, &sel, &given, why, sizeof(why)),
				 CH_OK);
		assert_int_equal(sel.state, cases[i].state);
	}
	/* the registry's admission values follow CH_SEL_PENDING */
	assert_int_equal(CH_SEL_PENDING + CH_ADMIT_ADMITTED, CH_SEL_ADMITTED);
	assert_int_equal(CH_SEL_PENDING + CH_ADMIT_REVOKED, CH_SEL_REVOKED);
	obj = json_loads("{\"tag\": [\"role=cpe\"], \"group\": [\"core\"],"
			 " \"name\": \"lyon-*\", \"state\": \"online\"}", 0,
			 NULL);
	hub_select_text(obj, text, sizeof(text));
	assert_string_equal(text, "--tag role=cpe --group core --name "
			    "'lyon-*' --state online");
	hub_select_text(obj, text, 10);	/* cut, still a string */
	assert_true(strlen(text) < 10);
	json_decref(obj);
}

static void test_tag_parse(void **state)
{
	struct ch_tag t;
	char why[256];

	(void)state;
	assert_int_equal(hub_tag_parse("site=lyon", 0, &t, why, sizeof(why)),
			 CH_OK);
	assert_string_equal(t.key, "site");
	assert_string_equal(t.value, "lyon");
	assert_int_equal(hub_tag_parse("site", 0, &t, why, sizeof(why)),
			 CH_ERR_INVAL);
	assert_int_equal(hub_tag_parse("site", 1, &t, why, sizeof(why)),
			 CH_OK);
	assert_string_equal(t.value, "");
	assert_int_equal(hub_tag_parse("loc=gw/1@lyon:4+a.b_c-d", 0, &t, why,
				       sizeof(why)), CH_OK);
	assert_int_equal(hub_tag_parse("9site=x", 0, &t, why, sizeof(why)),
			 CH_ERR_INVAL);
	assert_int_equal(hub_tag_parse(
		"k12345678901234567890123456789012=x", 0, &t, why,
		sizeof(why)), CH_ERR_INVAL);	/* a 33-character key */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags_and_groups),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_glob_to_sql),
		cmocka_unit_test(test_states_and_text),
		cmocka_unit_test(test_tag_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
