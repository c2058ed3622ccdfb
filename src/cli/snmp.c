/* snmp.c - callhome snmp DEVICE [BIND:]PORT: a UDP endpoint at the hub
 * for an NMS, relayed to the device's snmpd over its call-home connection
 * (docs/snmp.md). The hub binds and relays (hub/snmp.c, the same code as
 * its --snmp-map endpoints); this command holds the control connection
 * that keeps it open, in the foreground: it says the address on standard
 * error and waits. Ctrl-C (SIGINT, SIGTERM, SIGHUP) closes it, exit 0;
 * the hub ending it is exit 255 (CLI_STREAM_LOST).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/conn.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"

static volatile sig_atomic_t snmp_stop;

static void on_signal(int sig)
{
	(void)sig;
	snmp_stop = 1;
}

int build_snmp(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_operands(run, argc, 2, 2, "wants DEVICE [BIND:]PORT")) !=
	    CLI_OK ||
	    (r = args_nonempty(run, argv[optind], "DEVICE")) != CLI_OK ||
	    (r = req_start(run, argv[optind])) != CLI_OK)
		return r;
	return req_str(run, "listen", argv[optind + 1], "[BIND:]PORT");
}

int stream_snmp(struct run *run)
{
	struct sigaction sa = { .sa_handler = on_signal };
	json_t *resp = NULL;
	struct ch_buf rest;
	struct pollfd p;
	char sink[256];
	int fd = -1, r;
	ssize_t n;

	ch_buf_init(&rest, CH_CTL_READ_CHUNK * 2);
	r = conn_open_stream(run, &resp, &fd, &rest);
	if (r != CLI_OK)
		goto out;
	if (json_is_false(json_object_get(resp, "ok"))) {
		r = resp_refused(run, resp);
		goto out;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	fprintf(stderr, "callhome: SNMP for %s on udp %s (Ctrl-C ends it)\n",
		json_string_value(json_object_get(run->req, "device")),
		json_string_value(json_object_get(resp, "address")));
	r = CLI_STREAM_LOST;
	p.fd = fd;
	p.events = POLLIN;
	while (!snmp_stop) {
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n = read(fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cli_fail("the hub closed the SNMP endpoint");
			break;
		}
	}
	if (snmp_stop)
		r = CLI_OK;
out:
	json_decref(resp);
	ch_buf_cleanup(&rest);
	if (fd >= 0)
		close(fd);
	return r;
}
