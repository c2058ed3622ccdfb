/* test_hostport.c - every accepted and refused HOST[:PORT] form, and
 * socket addresses printed for logs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "lib/core/err.h"
#include "lib/net/hostport.h"

static void accept_one(const char *s, const char *host, uint16_t port)
{
	char *h = (char *)1;
	uint16_t p = 1;

	assert_int_equal(ch_hostport_parse(s, CH_PORT_SSH, &h, &p), CH_OK);
	assert_string_equal(h, host);
	assert_int_equal(p, port);
	free(h);
}

static void refuse_one(const char *s)
{
	char *h = (char *)1;
	uint16_t p = 1;

	if (ch_hostport_parse(s, CH_PORT_SSH, &h, &p) != CH_ERR_INVAL)
		fail_msg("accepted \"%s\"", s ? s : "(null)");
	assert_null(h);
	assert_int_equal(p, 0);
}

static void test_accepted(void **state)
{
	(void)state;
	/* the forms listed in hostport.h */
	accept_one("name", "name", CH_PORT_SSH);
	accept_one("name:4334", "name", 4334);
	accept_one("192.0.2.1", "192.0.2.1", CH_PORT_SSH);
	accept_one("192.0.2.1:4334", "192.0.2.1", 4334);
	accept_one("[::1]", "::1", CH_PORT_SSH);
	accept_one("[::1]:4334", "::1", 4334);
	accept_one("::1", "::1", CH_PORT_SSH);
	accept_one("[::]:4334", "::", 4334);
	/* edges */
	accept_one("1.2.3.4:65535", "1.2.3.4", 65535);
	accept_one("h:1", "h", 1);
	accept_one("hub.example.net:830", "hub.example.net", 830);
	accept_one("my_host-1.lan", "my_host-1.lan", CH_PORT_SSH);
	accept_one("2001:db8::1", "2001:db8::1", CH_PORT_SSH);
	accept_one("[2001:db8::1]:4335", "2001:db8::1", 4335);
	/* two colons or more is always an address, never host:port */
	accept_one("::1:4334", "::1:4334", CH_PORT_SSH);
	accept_one("[fe80::1%eth0]:4334", "fe80::1%eth0", 4334);
	accept_one("fe80::1%eth0", "fe80::1%eth0", CH_PORT_SSH);
	accept_one("[::ffff:192.0.2.1]:9", "::ffff:192.0.2.1", 9);
}

static void test_default_port(void **state)
{
	char *h;
	uint16_t p;

	(void)state;
	assert_int_equal(ch_hostport_parse("hub", CH_PORT_TLS, &h, &p), CH_OK);
	assert_int_equal(p, CH_PORT_TLS);
	free(h);
	assert_int_equal(ch_hostport_parse("hub:22", CH_PORT_TLS, &h, &p),
			 CH_OK);
	assert_int_equal(p, 22);
	free(h);
	/* no port and no usable default */
	assert_int_equal(ch_hostport_parse("hub", 0, &h, &p), CH_ERR_INVAL);
	assert_null(h);
}

static void test_host_length(void **state)
{
	char s[300];

	(void)state;
	memset(s, 'a', 253);
	s[253] = '\0';
	accept_one(s, s, CH_PORT_SSH);
	s[253] = 'a';
	s[254] = '\0';
	refuse_one(s);
	memcpy(s + 254, ":1", 3);
	refuse_one(s);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"", ":4334", "host:", "[]", "[]:4334", "[::1]x", "[::1]:",
		"[::1]:0", "host:0", "host:65536", "host:99999999999999999999",
		"host:-1", "host:+1", "host: 1", "host:1 ", "host:1x",
		"host:0x10", "[::1", "::1]", "[::1]]", "[[::1]]", "ho[st",
		"[::1]:4334:1", "[name]", "[192.0.2.1]", "a:b:c", "1:2:3:4:5:6:7:8:9",
		"[fe80::1%]", "[fe80::1%eth 0]", "host name", "host\n",
		"host/x", "host:4334/", "%eth0",
	};
	size_t i;

	(void)state;
	refuse_one(NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refuse_one(bad[i]);
}

static void test_sockaddr_str(void **state)
{
	struct sockaddr_in sin = { 0 };
	struct sockaddr_in6 sin6 = { 0 };
	struct sockaddr_un sun = { 0 };
	char buf[CH_ADDRSTR_LEN], small[8], want[CH_ADDRSTR_LEN];
	char ifname[IF_NAMESIZE];

	(void)state;
	sin.sin_family = AF_INET;
	sin.sin_port = htons(4334);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr), 1);
	assert_ptr_equal(ch_sockaddr_str((struct sockaddr *)&sin, buf,
					 sizeof(buf)), buf);
	assert_string_equal(buf, "192.0.2.1:4334");

	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(50412);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr), 1);
	ch_sockaddr_str((struct sockaddr *)&sin6, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:50412");

	/* link-local with a scope: the interface name when it exists */
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr), 1);
	sin6.sin6_scope_id = if_nametoindex("lo");
	assert_true(sin6.sin6_scope_id != 0);
	assert_non_null(if_indextoname(sin6.sin6_scope_id, ifname));
	snprintf(want, sizeof(want), "[fe80::1%%%s]:50412", ifname);
	ch_sockaddr_str((struct sockaddr *)&sin6, buf, sizeof(buf));
	assert_string_equal(buf, want);
	/* ... and the number when it does not */
	sin6.sin6_scope_id = 4000000000u;
	ch_sockaddr_str((struct sockaddr *)&sin6, buf, sizeof(buf));
	assert_string_equal(buf, "[fe80::1%4000000000]:50412");

	/* worst case still fits CH_ADDRSTR_LEN */
	assert_int_equal(inet_pton(AF_INET6,
				   "fe80:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
				   &sin6.sin6_addr), 1);
	ch_sockaddr_str((struct sockaddr *)&sin6, buf, sizeof(buf));
	assert_string_equal(buf,
		"[fe80:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4000000000]:50412");

	/* a short buffer truncates, NUL-terminated */
	ch_sockaddr_str((struct sockaddr *)&sin, small, sizeof(small));
	assert_string_equal(small, "192.0.2");

	sun.sun_family = AF_UNIX;
	ch_sockaddr_str((struct sockaddr *)&sun, buf, sizeof(buf));
	assert_string_equal(buf, "?");
	ch_sockaddr_str(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "?");
}

static void test_sockaddr_parse(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[CH_ADDRSTR_LEN];

	(void)state;
	assert_int_equal(ch_sockaddr_parse("127.0.0.1:161", 0, 1, &ss, &len),
			 CH_OK);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_string_equal(ch_sockaddr_str((struct sockaddr *)&ss, buf,
					    sizeof(buf)), "127.0.0.1:161");
	assert_int_equal(ch_sockaddr_parse("[::1]:1161", 0, 1, &ss, &len),
			 CH_OK);
	assert_int_equal(ch_sockaddr_parse("127.9.9.9", 162, 1, &ss, &len),
			 CH_OK);
	assert_string_equal(ch_sockaddr_str((struct sockaddr *)&ss, buf,
					    sizeof(buf)), "127.9.9.9:162");
	/* not loopback, a name, no port */
	assert_int_equal(ch_sockaddr_parse("192.0.2.1:161", 0, 1, &ss, &len),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sockaddr_parse("192.0.2.1:161", 0, 0, &ss, &len),
			 CH_OK);
	assert_int_equal(ch_sockaddr_parse("localhost:161", 0, 0, &ss, &len),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sockaddr_parse("127.0.0.1", 0, 1, &ss, &len),
			 CH_ERR_INVAL);
	assert_int_equal(len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_default_port),
		cmocka_unit_test(test_host_length),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_sockaddr_str),
		cmocka_unit_test(test_sockaddr_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
