/* test_identity.c - the registry's identity kinds (lib/id/identity.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/id/identity.h"

#define FP_A "SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
#define HEX64 "00112233445566778899aabbccddeeff" \
	"00112233445566778899aabbccddeeff"
#define HEX64_UC "00112233445566778899AABBCCDDEEFF" \
	"00112233445566778899AABBCCDDEEFF"
#define PAIRS_UC "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:" \
	"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"
#define CERT_ID CH_ID_CERT_PREFIX "SHA256:" HEX64

static void test_id_kinds(void **state)
{
	(void)state;
	assert_int_equal(ch_id_kind(FP_A), CH_ID_SSH);
	assert_int_equal(ch_id_kind("serial:X1"), CH_ID_SERIAL);
	assert_int_equal(ch_id_kind("x509:SHA256:q"), CH_ID_CERT);
	assert_int_equal(ch_id_kind("serialX"), CH_ID_SSH);
	assert_int_equal(ch_id_kind(NULL), CH_ID_SSH);
	assert_string_equal(ch_id_kind_name(CH_ID_SSH), "ssh-host-key");
	assert_string_equal(ch_id_kind_name(CH_ID_SERIAL), "x509-serial");
	assert_string_equal(ch_id_kind_name(CH_ID_CERT), "x509-cert");
	assert_string_equal(ch_id_kind_name(7), "unknown");
}

static void test_serial_valid(void **state)
{
	(void)state;
	assert_int_equal(ch_serial_valid("PID:ABC-123/4.5=(x)?'+"), 1);
	assert_int_equal(ch_serial_valid(
		"1234567890123456789012345678901234567890123456789012345678901234"),
		1);
	assert_int_equal(ch_serial_valid(
		"12345678901234567890123456789012345678901234567890123456789012345"),
		0);
	assert_int_equal(ch_serial_valid(""), 0);
	assert_int_equal(ch_serial_valid(NULL), 0);
	assert_int_equal(ch_serial_valid("a b"), 0);
	assert_int_equal(ch_serial_valid("a,b"), 0);
	assert_int_equal(ch_serial_valid("a#b"), 0);
	assert_int_equal(ch_serial_valid("\xc3\xa9"), 0);
}

static void test_ssh_valid(void **state)
{
	(void)state;
	assert_int_equal(ch_id_ssh_valid(FP_A), 1);
	assert_int_equal(ch_id_ssh_valid(
		"SHA256:+/+/0123456789abcdefghijklmnopqrstuvwxyzABCD"), 0);
	assert_int_equal(ch_id_ssh_valid(
		"SHA256:+/+/0123456789abcdefghijklmnopqrstuvwxyzABC"), 1);
	assert_int_equal(ch_id_ssh_valid(FP_A "K"), 0);	/* 44 */
	assert_int_equal(ch_id_ssh_valid(FP_A "="), 0);	/* padding */
	assert_int_equal(ch_id_ssh_valid(
		"SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKK"), 0);
	assert_int_equal(ch_id_ssh_valid(
		"sha256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"), 0);
	assert_int_equal(ch_id_ssh_valid(
		"SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjj-KK"), 0);
	assert_int_equal(ch_id_ssh_valid(""), 0);
	assert_int_equal(ch_id_ssh_valid(NULL), 0);
}

static void cert_ok(const char *in)
{
	char out[CH_ID_LEN];

	memset(out, 'x', sizeof(out));
	assert_int_equal(ch_id_cert_normalize(in, out, sizeof(out)), 1);
	assert_string_equal(out, CERT_ID);
}

static void cert_bad(const char *in)
{
	char out[CH_ID_LEN] = "untouched";

	assert_int_equal(ch_id_cert_normalize(in, out, sizeof(out)), 0);
	assert_string_equal(out, "untouched");
}

static void test_cert_normalize(void **state)
{
	char small[CH_ID_LEN - 1];

	(void)state;
	cert_ok(HEX64);				/* plain hex */
	cert_ok(HEX64_UC);
	cert_ok(PAIRS_UC);			/* openssl x509 -fingerprint */
	cert_ok("04:" PAIRS_UC);		/* RFC 7407 tls-fingerprint */
	cert_ok("04" HEX64);
	cert_ok("SHA256:" HEX64);		/* our logs */
	cert_ok("sha256:" HEX64_UC);
	cert_ok(CERT_ID);			/* the registry's own form */
	cert_ok("x509:" PAIRS_UC);
	cert_bad(HEX64 "0");			/* 65 digits */
	cert_bad("05" HEX64);			/* not the sha256 octet */
	cert_bad("0:0112233445566778899aabbccddeeff"
		 "00112233445566778899aabbccddeeff");	/* ':' inside a pair */
	cert_bad(":" HEX64);
	cert_bad(HEX64 ":");
	cert_bad("SHA256:" HEX64 "g");
	cert_bad("x509:x509:" HEX64);
	cert_bad(FP_A);				/* an SSH fingerprint */
	cert_bad("");
	cert_bad(NULL);
	/* a buffer too small for the result is refused, not cut */
	assert_int_equal(ch_id_cert_normalize(HEX64, small, sizeof(small)), 0);
}

static void test_normalize(void **state)
{
	char out[CH_ID_LEN];

	(void)state;
	assert_int_equal(ch_id_normalize(FP_A, out, sizeof(out)), 1);
	assert_string_equal(out, FP_A);
	assert_int_equal(ch_id_normalize("serial:PID:X-1", out, sizeof(out)),
			 1);
	assert_string_equal(out, "serial:PID:X-1");
	assert_int_equal(ch_id_normalize("04:" PAIRS_UC, out, sizeof(out)), 1);
	assert_string_equal(out, CERT_ID);
	assert_int_equal(ch_id_kind(out), CH_ID_CERT);
	assert_int_equal(ch_id_normalize("serial:a b", out, sizeof(out)), 0);
	assert_int_equal(ch_id_normalize("serial:", out, sizeof(out)), 0);
	assert_int_equal(ch_id_normalize("a-device-name", out, sizeof(out)),
			 0);
	assert_int_equal(ch_id_normalize(NULL, out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_kinds),
		cmocka_unit_test(test_serial_valid),
		cmocka_unit_test(test_ssh_valid),
		cmocka_unit_test(test_cert_normalize),
		cmocka_unit_test(test_normalize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
