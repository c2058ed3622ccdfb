/* test_chconfig.c - the call-home configuration: YANG module, parsing
 * into structs with the module's defaults, and the command line's
 * shortcut as the same configuration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "agent/chconfig.h"
#include "lib/core/err.h"

#define NS "urn:callhome:yang:callhome-netconf-server"
#define FP "04:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB"

static const char full[] =
	"<netconf-server xmlns=\"" NS "\" xmlns:chns=\"" NS "\"><call-home>"
	"<netconf-client><name>noc</name><endpoints>"
	" <endpoint><name>primary</name><ssh><tcp-client-parameters>"
	"  <remote-address>nms1.example.net</remote-address>"
	"  <keepalives><idle-time>15</idle-time></keepalives>"
	" </tcp-client-parameters><ssh-server-parameters><keepalives>"
	"  <max-wait>10</max-wait></keepalives></ssh-server-parameters></ssh>"
	" </endpoint>"
	" <endpoint><name>backup</name><tls><tcp-client-parameters>"
	"  <remote-address>192.0.2.7</remote-address>"
	"  <local-address>192.0.2.1</local-address>"
	" </tcp-client-parameters><tls-server-parameters><server-identity>"
	"  <certificate-file>/c.pem</certificate-file>"
	"  <private-key-file>/k.pem</private-key-file></server-identity>"
	"  <client-authentication><ca-certs-file>/ca.pem</ca-certs-file>"
	"  </client-authentication></tls-server-parameters>"
	"  <netconf-server-parameters><client-identity-mappings>"
	"   <cert-to-name><id>20</id><map-type>chns:san-dns-name</map-type>"
	"   </cert-to-name>"
	"   <cert-to-name><id>5</id><fingerprint>" FP "</fingerprint>"
	"    <map-type>chns:specified</map-type><name>admin</name>"
	"   </cert-to-name>"
	"  </client-identity-mappings></netconf-server-parameters></tls>"
	" </endpoint></endpoints>"
	"<connection-type><persistent/></connection-type>"
	"<reconnect-strategy><start-with>last-connected</start-with>"
	"</reconnect-strategy></netconf-client>"
	"<netconf-client><name>audit</name><endpoints><endpoint><name>a"
	"</name><ssh><tcp-client-parameters><remote-address>::1"
	"</remote-address><remote-port>9000</remote-port>"
	"</tcp-client-parameters></ssh></endpoint></endpoints>"
	"<connection-type><periodic><period>15</period>"
	"<anchor-time>2026-11-23T10:00:00Z</anchor-time><idle-timeout>0"
	"</idle-timeout></periodic></connection-type>"
	"<reconnect-strategy><start-with>random-selection</start-with>"
	"<max-wait>2</max-wait><max-attempts>1</max-attempts>"
	"</reconnect-strategy></netconf-client>"
	"</call-home></netconf-server>";

static void test_full_configuration(void **state)
{
	struct chc_config c;
	const struct chc_client *noc, *audit;
	const struct chc_endpoint *e;

	(void)state;
	assert_int_equal(chc_from_xml(full, &c), CH_OK);
	assert_true(c.present);
	assert_int_equal(c.n, 2);
	noc = chc_find(&c, "noc");
	audit = chc_find(&c, "audit");
	assert_non_null(noc);
	assert_non_null(audit);
	assert_null(chc_find(&c, "nobody"));

	assert_int_equal(noc->neps, 2);
	e = &noc->eps[0];
	assert_string_equal(e->name, "primary");
	assert_int_equal(e->transport, CHC_SSH);
	assert_string_equal(e->host, "nms1.example.net");
	assert_int_equal(e->port, 4334);		/* default for ssh */
	assert_null(e->local_address);
	assert_true(e->tcp_keepalives);
	assert_int_equal(e->tcp_idle_s, 15);
	assert_int_equal(e->tcp_probes, 9);		/* defaults */
	assert_int_equal(e->tcp_interval_s, 75);
	assert_true(e->keepalives);
	assert_int_equal(e->ka_max_wait_s, 10);
	assert_int_equal(e->ka_max_attempts, 3);

	e = &noc->eps[1];
	assert_string_equal(e->name, "backup");
	assert_int_equal(e->transport, CHC_TLS);
	assert_int_equal(e->port, 4335);		/* default for tls */
	assert_string_equal(e->local_address, "192.0.2.1");
	assert_false(e->tcp_keepalives);
	assert_false(e->keepalives);
	assert_string_equal(e->cert_file, "/c.pem");
	assert_string_equal(e->key_file, "/k.pem");
	assert_null(e->chain_file);
	assert_string_equal(e->ca_file, "/ca.pem");
	assert_int_equal(e->nctn, 2);			/* by id */
	assert_int_equal(e->ctn[0].id, 5);
	assert_int_equal(e->ctn[0].fp_len, 33);
	assert_int_equal(e->ctn[0].fp[0], 4);
	assert_int_equal(e->ctn[0].fp[32], 0xab);
	assert_int_equal(e->ctn[0].map, CH_CTN_SPECIFIED);
	assert_string_equal(e->ctn[0].name, "admin");
	assert_int_equal(e->ctn[1].id, 20);
	assert_int_equal(e->ctn[1].fp_len, 0);
	assert_int_equal(e->ctn[1].map, CH_CTN_SAN_DNS);

	assert_false(noc->periodic);
	assert_int_equal(noc->start_with, CH_START_LAST_CONNECTED);
	assert_int_equal(noc->max_wait_s, 5);
	assert_int_equal(noc->max_attempts, 3);

	assert_true(audit->periodic);
	assert_int_equal(audit->period_min, 15);
	assert_true(audit->has_anchor);
	assert_int_equal(audit->anchor_ms, 1795428000000LL);
	assert_int_equal(audit->idle_timeout_s, 0);
	assert_int_equal(audit->start_with, CH_START_RANDOM);
	assert_int_equal(audit->max_wait_s, 2);
	assert_int_equal(audit->max_attempts, 1);
	assert_string_equal(audit->eps[0].host, "::1");
	assert_int_equal(audit->eps[0].port, 9000);
	assert_string_not_equal(noc->canon, audit->canon);
	chc_free(&c);
}

/* What the schema refuses never reaches the agent. */
static void test_invalid_configurations(void **state)
{
	struct chc_config c;

	(void)state;
	/* no connection-type (a mandatory choice) */
	assert_int_not_equal(chc_from_xml("<netconf-server xmlns=\"" NS "\">"
		"<call-home><netconf-client><name>x</name><endpoints>"
		"<endpoint><name>e</name><ssh><tcp-client-parameters>"
		"<remote-address>h</remote-address></tcp-client-parameters>"
		"</ssh></endpoint></endpoints></netconf-client></call-home>"
		"</netconf-server>", &c), CH_OK);
	assert_int_equal(c.n, 0);
	/* a client without endpoints */
	assert_int_not_equal(chc_from_xml("<netconf-server xmlns=\"" NS "\">"
		"<call-home><netconf-client><name>x</name>"
		"<connection-type><persistent/></connection-type>"
		"</netconf-client></call-home></netconf-server>", &c), CH_OK);
	/* an anchor-time with seconds (it is to the minute) */
	assert_int_not_equal(chc_from_xml("<netconf-server xmlns=\"" NS "\">"
		"<call-home><netconf-client><name>x</name><endpoints>"
		"<endpoint><name>e</name><ssh><tcp-client-parameters>"
		"<remote-address>h</remote-address></tcp-client-parameters>"
		"</ssh></endpoint></endpoints><connection-type><periodic>"
		"<anchor-time>2026-11-23T10:00:30Z</anchor-time></periodic>"
		"</connection-type></netconf-client></call-home>"
		"</netconf-server>", &c), CH_OK);
	/* more endpoints than the agent serves: refused by the schema */
	{
		char xml[8192];
		int n = snprintf(xml, sizeof(xml), "<netconf-server xmlns=\""
				 NS "\"><call-home><netconf-client><name>x"
				 "</name><endpoints>");

		for (int i = 0; i < CH_CHC_MAX_ENDPOINTS + 1; i++)
			n += snprintf(xml + n, sizeof(xml) - (size_t)n,
				      "<endpoint><name>e%d</name><ssh>"
				      "<tcp-client-parameters><remote-address>"
				      "h</remote-address></tcp-client-parameters>"
				      "</ssh></endpoint>", i);
		snprintf(xml + n, sizeof(xml) - (size_t)n, "</endpoints>"
			 "<connection-type><persistent/></connection-type>"
			 "</netconf-client></call-home></netconf-server>");
		assert_int_not_equal(chc_from_xml(xml, &c), CH_OK);
		assert_int_equal(c.n, 0);
	}
	/* unknown element */
	assert_int_not_equal(chc_from_xml("<netconf-server xmlns=\"" NS "\">"
		"<bogus/></netconf-server>", &c), CH_OK);
	/* no call-home at all is an empty configuration, not an error */
	assert_int_equal(chc_from_xml("<netconf-server xmlns=\"" NS "\"/>",
				      &c), CH_OK);
	assert_false(c.present);
	assert_int_equal(c.n, 0);
}

static void test_flags_are_the_same_configuration(void **state)
{
	const struct chc_flag_endpoint eps[] = {
		{ CHC_SSH, "127.0.0.1", 4334 },
		{ CHC_SSH, "nms.example", 830 },
		{ CHC_TLS, "10.0.0.1", 4335 },
	};
	const char *ctn[] = { "*,san-dns-name", FP ",specified,ops" };
	struct chc_flags f = {
		.eps = eps, .neps = 3, .connect_timeout_s = 7,
		.keepalive_s = 30, .keepalive_count = 3,
		.cert_file = "/certs/<a&b>.pem", .key_file = "/d.key",
		.ca_file = "/ca.pem", .ctn = ctn, .nctn = 2,
	};
	struct chc_config c, c2;
	char *xml;

	(void)state;
	assert_int_equal(chc_flags_xml(&f, &xml), CH_OK);
	assert_int_equal(chc_from_xml(xml, &c), CH_OK);
	free(xml);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.clients[0].name, "manager");
	assert_int_equal(c.clients[0].neps, 3);
	assert_string_equal(c.clients[0].eps[1].host, "nms.example");
	assert_string_equal(c.clients[0].eps[2].cert_file, "/certs/<a&b>.pem");
	assert_int_equal(c.clients[0].eps[1].port, 830);
	assert_true(c.clients[0].eps[0].keepalives);
	assert_int_equal(c.clients[0].eps[0].ka_max_wait_s, 30);
	assert_int_equal(c.clients[0].eps[2].transport, CHC_TLS);
	assert_true(c.clients[0].eps[2].keepalives);
	assert_int_equal(c.clients[0].eps[2].nctn, 2);
	assert_int_equal(c.clients[0].eps[2].ctn[0].fp_len, 0);
	assert_int_equal(c.clients[0].eps[2].ctn[1].fp_len, 33);
	assert_string_equal(c.clients[0].eps[2].ctn[1].name, "ops");
	assert_false(c.clients[0].periodic);
	assert_int_equal(c.clients[0].max_wait_s, 7);
	assert_int_equal(c.clients[0].max_attempts, 3);

	/* periodic, no keep-alives; the same flags print the same canon */
	f.neps = 1;
	f.keepalive_s = 0;
	f.period_min = 5;
	f.idle_timeout_s = 30;
	f.max_attempts = 1;
	assert_int_equal(chc_flags_xml(&f, &xml), CH_OK);
	chc_free(&c);
	assert_int_equal(chc_from_xml(xml, &c), CH_OK);
	assert_int_equal(chc_from_xml(xml, &c2), CH_OK);
	free(xml);
	assert_true(c.clients[0].periodic);
	assert_int_equal(c.clients[0].period_min, 5);
	assert_int_equal(c.clients[0].idle_timeout_s, 30);
	assert_false(c.clients[0].has_anchor);
	assert_false(c.clients[0].eps[0].keepalives);
	assert_int_equal(c.clients[0].max_attempts, 1);
	assert_string_equal(c.clients[0].canon, c2.clients[0].canon);
	chc_free(&c);
	chc_free(&c2);

	/* a malformed rule is refused */
	ctn[0] = "no-comma";
	f.neps = 3;
	assert_int_equal(chc_flags_xml(&f, &xml), CH_ERR_INVAL);
	assert_null(xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_configuration),
		cmocka_unit_test(test_invalid_configurations),
		cmocka_unit_test(test_flags_are_the_same_configuration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
