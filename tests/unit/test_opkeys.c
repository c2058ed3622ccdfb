/* Unit tests for the front door's operator keys and user names
 * (hub/opkeys.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hub/opkeys.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#define K1 "AAAAC3NzaC1lZDI1NTE5AAAAIPkYMTz25GXdisRab8/rZRYnbOs/hqaFCzkFNp94QAoE"
#define K2 "AAAAC3NzaC1lZDI1NTE5AAAAIHIOlGy5jC1Vx9poKdGScnkN64qPQWrXCYo5CnvWpHhN"

static ssh_key key(const char *b64)
{
	ssh_key k = NULL;

	assert_int_equal(ssh_pki_import_pubkey_base64(b64, SSH_KEYTYPE_ED25519,
						      &k), SSH_OK);
	return k;
}

static struct opkeys *parse(const char *text)
{
	struct opkeys *ks = NULL;

	if (opkeys_parse(text, strlen(text), "test", &ks) != CH_OK)
		return NULL;
	return ks;
}

static void test_options_and_comment(void **state)
{
	struct opkeys *ks;
	const struct opkey *a, *b;
	ssh_key k1 = key(K1), k2 = key(K2);

	(void)state;
	ks = parse("# operators\n"
		   "\n"
		   "operator=\"alice\",devices=\"r1,site-*\" ssh-ed25519 " K1
		   " laptop\r\n"
		   "  devices=\"*\" ssh-ed25519 " K2 " bob@desk\n");
	assert_non_null(ks);
	assert_int_equal(opkeys_count(ks), 2);
	a = opkeys_find(ks, k1);
	b = opkeys_find(ks, k2);
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(opkey_operator(a), "alice");
	assert_string_equal(opkey_operator(b), "bob");
	assert_string_equal(opkey_devices(a), "r1,site-*");
	assert_true(opkey_reaches(a, "r1"));
	assert_true(opkey_reaches(a, "site-7"));
	assert_false(opkey_reaches(a, "r2"));
	assert_false(opkey_reaches(a, "r1x"));
	assert_false(opkey_reaches(a, ""));
	assert_true(opkey_reaches(b, "anything"));
	assert_true(opkey_reaches(b, ""));	/* '*' reaches unnamed */
	opkeys_free(ks);
	ssh_key_free(k1);
	ssh_key_free(k2);
}

/* Lines that would grant what the file cannot honour are skipped. */
static void test_skipped(void **state)
{
	struct opkeys *ks;
	ssh_key k1 = key(K1);

	(void)state;
	/* no devices= */
	assert_null(parse("ssh-ed25519 " K1 " alice\n"));
	/* an option we do not implement */
	assert_null(parse("from=\"10.0.0.1\",devices=\"*\" ssh-ed25519 " K1
			  " alice\n"));
	/* no name anywhere */
	assert_null(parse("devices=\"*\" ssh-ed25519 " K1 "\n"));
	assert_null(parse("devices=\"*\" ssh-ed25519 " K1 " @host\n"));
	/* bad patterns, unquoted, unclosed, twice */
	assert_null(parse("devices=\"r1,,r2\" ssh-ed25519 " K1 " a\n"));
	assert_null(parse("devices=\"r/1\" ssh-ed25519 " K1 " a\n"));
	assert_null(parse("devices=r1 ssh-ed25519 " K1 " a\n"));
	assert_null(parse("devices=\"r1 ssh-ed25519 " K1 " a\n"));
	assert_null(parse("devices=\"a\",devices=\"b\" ssh-ed25519 " K1
			  " a\n"));
	assert_null(parse("operator=\"a b\",devices=\"*\" ssh-ed25519 " K1
			  "\n"));
	/* bad key data */
	assert_null(parse("devices=\"*\" ssh-ed25519 AAAA a\n"));
	/* the same key twice: the first stays */
	ks = parse("devices=\"r1\" ssh-ed25519 " K1 " a\n"
		   "devices=\"*\" ssh-ed25519 " K1 " b\n");
	assert_non_null(ks);
	assert_int_equal(opkeys_count(ks), 1);
	assert_string_equal(opkey_operator(opkeys_find(ks, k1)), "a");
	opkeys_free(ks);
	/* a quoted comma and an escaped quote stay inside the value */
	assert_null(parse("operator=\"a\\\"b\",devices=\"*\" ssh-ed25519 " K1
			  "\n"));
	ssh_key_free(k1);
}

static void test_user(void **state)
{
	char op[CH_ACTOR_NAME_MAX], dev[64];

	(void)state;
	assert_int_equal(opkeys_user_parse("r1", op, sizeof(op), dev,
					   sizeof(dev)), CH_OK);
	assert_string_equal(op, "");
	assert_string_equal(dev, "r1");
	assert_int_equal(opkeys_user_parse("alice+r1", op, sizeof(op), dev,
					   sizeof(dev)), CH_OK);
	assert_string_equal(op, "alice");
	assert_string_equal(dev, "r1");
	assert_int_equal(opkeys_user_parse("alice+", op, sizeof(op), dev,
					   sizeof(dev)), CH_ERR_INVAL);
	assert_int_equal(opkeys_user_parse("", op, sizeof(op), dev,
					   sizeof(dev)), CH_ERR_INVAL);
	assert_int_equal(opkeys_user_parse("+r1", op, sizeof(op), dev,
					   sizeof(dev)), CH_ERR_INVAL);
	assert_int_equal(opkeys_user_parse("a b+r1", op, sizeof(op), dev,
					   sizeof(dev)), CH_ERR_INVAL);
	assert_int_equal(opkeys_user_parse("a+b+r1", op, sizeof(op), dev,
					   sizeof(dev)), CH_ERR_INVAL);
	assert_int_equal(opkeys_user_parse(
		"r1234567890123456789012345678901234567890123456789012345678901234567890",
		op, sizeof(op), dev, sizeof(dev)), CH_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_and_comment),
		cmocka_unit_test(test_skipped),
		cmocka_unit_test(test_user),
	};

	ch_log_set_level(CH_LOG_ERROR - 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
