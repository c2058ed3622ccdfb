/* test_junos.c - the Junos outbound-ssh preamble (lib/id/junos.h): the
 * scanner that stops exactly at the SSH banner, the parser and its
 * documented variants, the HMAC and the announced key's fingerprint. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/id/junos.h"

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINAXY8k86zLGwhnGDzvjc1457ce" \
	"N0Ki1TWSXDnOjp+SP"
#define KEY_B64 "AAAAC3NzaC1lZDI1NTE5AAAAINAXY8k86zLGwhnGDzvjc1457ceN0Ki1TW" \
	"SXDnOjp+SP"
#define KEY_FP "SHA256:WJCoT83a+pNkEYKqmLsy9cM7+FdjZ39qlL/wLXjysKk"
#define SECRET "Juniper-s3cret"
/* python3: hmac.new(SECRET, KEY, hashlib.sha1).hexdigest() */
#define KEY_HMAC "cb66adaa917fc047fbc734f26ebc7426acd04b72"
#define PREAMBLE "MSG-ID: DEVICE-CONN-INFO\r\nMSG-VER: V1\r\n" \
	"DEVICE-ID: r1\r\nHOST-KEY: " KEY "\r\nHMAC: " KEY_HMAC "\r\n"
#define BANNER "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"

/* Feeds input as a socket would, in pieces of at most step bytes,
 * consuming what the scanner takes; returns the final step and where the
 * rest begins. */
static int scan_all(struct ch_junos_scan *sc, const char *in, size_t n,
		    size_t step, size_t *used)
{
	size_t pos = 0, avail = 0, take;
	int r = CH_JUNOS_PARTIAL;

	ch_junos_scan_init(sc);
	for (;;) {
		if (r == CH_JUNOS_PARTIAL && avail == n)
			break;	/* no more is coming */
		avail = avail + step < n ? avail + step : n;
		if (avail == pos)
			break;
		r = ch_junos_scan(sc, in + pos, avail - pos, &take);
		if (r < 0)
			break;
		assert_true(take <= avail - pos);
		pos += take;
		if (r == CH_JUNOS_BANNER)
			break;
	}
	*used = pos;
	return r;
}

static void test_scan_stops_at_banner(void **state)
{
	static const char in[] = PREAMBLE BANNER "\0\0\0\x14kexinit";
	struct ch_junos_scan *sc = malloc(sizeof(*sc));
	size_t used;

	(void)state;
	for (size_t step = 1; step <= sizeof(in); step++) {
		assert_int_equal(scan_all(sc, in, sizeof(in) - 1, step, &used),
				 CH_JUNOS_BANNER);
		assert_int_equal(used, strlen(PREAMBLE));
		assert_string_equal(sc->text, PREAMBLE);
	}
	/* a plain SSH call home: nothing is preamble */
	assert_int_equal(scan_all(sc, BANNER, strlen(BANNER), 1, &used),
			 CH_JUNOS_BANNER);
	assert_int_equal(used, 0);
	assert_int_equal(sc->len, 0);
	free(sc);
}

static void test_scan_partial_and_limit(void **state)
{
	struct ch_junos_scan *sc = malloc(sizeof(*sc));
	char *big = malloc(CH_JUNOS_PREAMBLE_MAX + 2);
	size_t take;

	(void)state;
	ch_junos_scan_init(sc);
	assert_int_equal(ch_junos_scan(sc, "SS", 2, &take), CH_JUNOS_PARTIAL);
	assert_int_equal(take, 0);
	/* a line that starts like the banner but is not */
	assert_int_equal(ch_junos_scan(sc, "SSX: y\n", 7, &take), CH_JUNOS_MORE);
	assert_int_equal(take, 7);
	/* the preamble part before a partial banner is taken */
	assert_int_equal(ch_junos_scan(sc, "a: b\nSS", 7, &take), CH_JUNOS_MORE);
	assert_int_equal(take, 5);
	assert_int_equal(ch_junos_scan(sc, "SS", 2, &take), CH_JUNOS_PARTIAL);
	/* mid-line, "SSH-" is just text */
	assert_int_equal(ch_junos_scan(sc, "x SSH-2.0", 9, &take), CH_JUNOS_MORE);
	assert_int_equal(take, 9);
	/* never-ending line: refused past the cap, nothing taken */
	ch_junos_scan_init(sc);
	memset(big, 'M', CH_JUNOS_PREAMBLE_MAX + 1);
	assert_int_equal(ch_junos_scan(sc, big, CH_JUNOS_PREAMBLE_MAX, &take),
			 CH_JUNOS_MORE);
	assert_int_equal(ch_junos_scan(sc, big, 1, &take), CH_ERR_LIMIT);
	assert_int_equal(take, 0);
	assert_int_equal(sc->len, CH_JUNOS_PREAMBLE_MAX);
	free(big);
	free(sc);
}

static int parse(const char *s, struct ch_junos_info *info, char **buf,
		 const char **why)
{
	free(*buf);
	*buf = strdup(s);
	return ch_junos_parse(*buf, strlen(s), info, why);
}

static void test_parse(void **state)
{
	struct ch_junos_info info;
	const char *why;
	char *buf = NULL;

	(void)state;
	assert_int_equal(parse(PREAMBLE, &info, &buf, &why), CH_OK);
	assert_string_equal(info.device_id, "r1");
	assert_string_equal(info.host_key, KEY);
	assert_string_equal(info.hmac, KEY_HMAC);
	/* the variants: doubled colons, blank lines, LF only, padding */
	assert_int_equal(parse("\r\nMSG-ID: DEVICE-CONN-INFO\nMSG-VER:V1\n\n"
			       "DEVICE-ID: : r2\r\n\r\n\r\n", &info, &buf,
			       &why), CH_OK);
	assert_string_equal(info.device_id, "r2");
	assert_null(info.host_key);
	{
		static const char pad[] = "MSG-ID: DEVICE-CONN-INFO\r\n"
			"MSG-VER: V1\r\nDEVICE-ID:: r3\r\nHOST-KEY: " KEY
			"\0\0\r\nHMAC: " KEY_HMAC "\r\nX-NEW: 1\r\n";
		char copy[sizeof(pad)];

		memcpy(copy, pad, sizeof(pad));
		assert_int_equal(ch_junos_parse(copy, sizeof(pad) - 1, &info,
						&why), CH_OK);
		assert_string_equal(info.device_id, "r3");
		assert_string_equal(info.host_key, KEY);
		assert_string_equal(info.hmac, KEY_HMAC);
	}
	/* refusals */
	assert_int_equal(parse("MSG-ID: OTHER\nMSG-VER: V1\nDEVICE-ID: a\n",
			       &info, &buf, &why), CH_ERR_PROTO);
	assert_non_null(strstr(why, "MSG-ID"));
	assert_int_equal(parse("MSG-ID: DEVICE-CONN-INFO\nMSG-VER: V2\n"
			       "DEVICE-ID: a\n", &info, &buf, &why),
			 CH_ERR_PROTO);
	assert_int_equal(parse("MSG-ID: DEVICE-CONN-INFO\nMSG-VER: V1\n",
			       &info, &buf, &why), CH_ERR_PROTO);
	assert_non_null(strstr(why, "DEVICE-ID"));
	assert_int_equal(parse("MSG-ID: DEVICE-CONN-INFO\nMSG-VER: V1\n"
			       "DEVICE-ID: a b\n", &info, &buf, &why),
			 CH_ERR_PROTO);
	assert_int_equal(parse("MSG-ID: DEVICE-CONN-INFO\nMSG-VER: V1\n"
			       "DEVICE-ID: a\nDEVICE-ID: b\n", &info, &buf,
			       &why), CH_ERR_PROTO);
	assert_non_null(strstr(why, "twice"));
	assert_int_equal(parse("MSG-ID: DEVICE-CONN-INFO\nMSG-VER: V1\n"
			       "DEVICE-ID: a\nHOST-KEY: " KEY "\n", &info,
			       &buf, &why), CH_ERR_PROTO);
	assert_int_equal(parse("MSG-ID: DEVICE-CONN-INFO\nMSG-VER: V1\n"
			       "DEVICE-ID: a\nHOST-KEY: " KEY "\nHMAC: 12\n",
			       &info, &buf, &why), CH_ERR_PROTO);
	assert_int_equal(parse("MSG-ID: DEVICE-CONN-INFO\nMSG-VER: V1\n"
			       "DEVICE-ID: a\nnonsense\n", &info, &buf, &why),
			 CH_ERR_PROTO);
	free(buf);
}

static void test_parse_nul_inside(void **state)
{
	static const char in[] = "MSG-ID: DEVICE-CONN-INFO\nMSG-VER: V1\n"
				 "DEVICE-ID: a\0b\n";
	char buf[sizeof(in)];
	struct ch_junos_info info;
	const char *why;

	(void)state;
	memcpy(buf, in, sizeof(in));
	assert_int_equal(ch_junos_parse(buf, sizeof(in) - 1, &info, &why),
			 CH_ERR_PROTO);
	assert_non_null(strstr(why, "NUL"));
}

static void test_hmac(void **state)
{
	char hex[CH_JUNOS_HMAC_HEX + 1];

	(void)state;
	/* RFC 2104 style vector (Wikipedia's HMAC_SHA1 example) */
	assert_int_equal(ch_junos_hmac_hex("The quick brown fox jumps over the "
					   "lazy dog", "key", 3, hex,
					   sizeof(hex)), CH_OK);
	assert_string_equal(hex, "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
	assert_int_equal(ch_junos_hmac_hex(KEY, SECRET, strlen(SECRET), hex,
					   sizeof(hex)), CH_OK);
	assert_string_equal(hex, KEY_HMAC);
	assert_int_equal(ch_junos_hmac_verify(KEY, KEY_HMAC, SECRET,
					      strlen(SECRET)), CH_OK);
	assert_int_equal(ch_junos_hmac_verify(KEY,
			 "CB66ADAA917FC047FBC734F26EBC7426ACD04B72", SECRET,
			 strlen(SECRET)), CH_OK);
	assert_int_equal(ch_junos_hmac_verify(KEY, KEY_HMAC, "other", 5),
			 CH_ERR_DENIED);
	assert_int_equal(ch_junos_hmac_verify(KEY_B64, KEY_HMAC, SECRET,
					      strlen(SECRET)), CH_ERR_DENIED);
	assert_int_equal(ch_junos_hmac_verify(KEY, "zz66adaa917fc047fbc734f26"
					      "ebc7426acd04b72", SECRET,
					      strlen(SECRET)), CH_ERR_DENIED);
	assert_int_equal(ch_junos_hmac_verify(KEY, "cb66", SECRET,
					      strlen(SECRET)), CH_ERR_DENIED);
	assert_int_equal(ch_junos_hmac_hex(KEY, "", 0, hex, sizeof(hex)),
			 CH_OK);
	assert_int_equal(ch_junos_hmac_hex(KEY, "", 0, hex, 10), CH_ERR_INVAL);
}

static void test_host_key_fp(void **state)
{
	char fp[128];

	(void)state;
	assert_int_equal(ch_junos_host_key_fp(KEY, fp, sizeof(fp)), CH_OK);
	assert_string_equal(fp, KEY_FP);
	assert_int_equal(ch_junos_host_key_fp(KEY_B64, fp, sizeof(fp)), CH_OK);
	assert_string_equal(fp, KEY_FP);
	assert_int_equal(ch_junos_host_key_fp(KEY " comment", fp, sizeof(fp)),
			 CH_OK);
	assert_string_equal(fp, KEY_FP);
	/* the stated type must be the blob's */
	assert_int_equal(ch_junos_host_key_fp("ssh-rsa " KEY_B64, fp,
					      sizeof(fp)), CH_ERR_INVAL);
	assert_string_equal(fp, "");
	assert_int_equal(ch_junos_host_key_fp("ssh-ed25519 !!!!", fp,
					      sizeof(fp)), CH_ERR_INVAL);
	assert_int_equal(ch_junos_host_key_fp("ssh-ed25519 QUFB", fp,
					      sizeof(fp)), CH_ERR_INVAL);
	assert_int_equal(ch_junos_host_key_fp("", fp, sizeof(fp)),
			 CH_ERR_INVAL);
	assert_int_equal(ch_junos_host_key_fp(KEY, fp, 10), CH_ERR_INVAL);
}

static void test_secret_find(void **state)
{
	static const char text[] = "# device-id secret\n\n"
				   "r1   s3cret one \r\n"
				   "  r10 other\n"
				   "r2\n";
	const char *s;
	size_t n;

	(void)state;
	assert_int_equal(ch_junos_secret_find(text, strlen(text), "r1", &s,
					      &n), CH_OK);
	assert_int_equal(n, strlen("s3cret one"));
	assert_memory_equal(s, "s3cret one", n);
	assert_int_equal(ch_junos_secret_find(text, strlen(text), "r10", &s,
					      &n), CH_OK);
	assert_memory_equal(s, "other", n);
	assert_int_equal(ch_junos_secret_find(text, strlen(text), "r2", &s,
					      &n), CH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(ch_junos_secret_find(text, strlen(text), "r3", &s,
					      &n), CH_ERR_NOTFOUND);
	assert_int_equal(ch_junos_secret_find(text, strlen(text), "#", &s,
					      &n), CH_ERR_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_stops_at_banner),
		cmocka_unit_test(test_scan_partial_and_limit),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_nul_inside),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_host_key_fp),
		cmocka_unit_test(test_secret_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
