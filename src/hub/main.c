/* callhome-hub - the management side of call home: listens on the IANA
 * call-home port, identifies each device that calls by its host key, and
 * is the SSH client and NETCONF client on the connection (RFC 8071).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hub/blocklist.h"
#include "hub/hub.h"
#include "common/cliutil.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/frame.h"
#include "lib/log.h"
#include "lib/sshio.h"

#define PROG "callhome-hub"
#define DEFAULT_STATE_DIR "/var/lib/callhome"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: callhome-hub [OPTION]...\n"
"The callhome management hub: accepts NETCONF call-home connections over\n"
"SSH (RFC 8071), identifies each device by its host key fingerprint, keeps\n"
"the registry of devices, and serves the operator's `callhome` CLI on\n"
"STATE/hub.sock.\n"
"\n"
"  -L, --listen ADDR[:PORT]     where devices call (repeatable; port %d by\n"
"                               default; [::]:4334 or *:4334 style accepted)\n"
"                               [every address, port %d]\n"
"  -k, --key FILE               the hub's SSH client key (created as ed25519\n"
"                               if absent; public half in FILE.pub, to put in\n"
"                               the devices' authorized_keys) [STATE/hub_key]\n"
"  -u, --user NAME              SSH and NETCONF user name [%s]\n"
"  -s, --state DIR              registry database and control socket\n"
"                               [" DEFAULT_STATE_DIR "]\n"
"      --admission POLICY       what to do with a device never seen before:\n"
"                               approve: record it as pending and refuse it\n"
"                               until `callhome approve`; trust-new: admit it\n"
"                               at its first call; known-only: refuse it and\n"
"                               only log an event [approve]\n"
"      --accept-new             the same as --admission trust-new\n"
"      --block-after N          failed handshakes from one address (within\n"
"                               %d s) before it is blocked; 0 = never [%d]\n"
"      --block-for SECONDS      how long a block lasts [%d]\n"
"      --max-handshakes N       devices allowed in the unauthenticated\n"
"                               stages at once [%d]\n"
"      --confirm-timeout SECONDS  rollback timer of the confirmed commit\n"
"                               used to apply changes safely [%d]\n"
"      --confirm-after SECONDS  wait this long after the confirmed commit\n"
"                               before confirming it [%d]\n"
"      --idle-close SECONDS     close a device's session politely after it\n"
"                               has been idle with nothing queued this long;\n"
"                               0 = keep it open (persistent) [0]\n"
"      --keepalive SECONDS      SSH keep-alive interval, 0 = off [%d]\n"
"      --keepalive-count N      unanswered keep-alives before a device is\n"
"                               declared dead [%d]\n"
"      --handshake-timeout SECONDS  from TCP accept to NETCONF hello [%d]\n"
"      --rpc-timeout SECONDS    a device must answer an rpc within [%d]\n"
"      --max-message BYTES      largest NETCONF message accepted [%u]\n"
"  -l, --log-level LEVEL        error, warn, info or debug [info]\n"
"  -h, --help                   this text\n"
"  -V, --version                print the version\n"
"\n"
"Logs go to standard error.\n",
		CH_PORT_SSH, CH_PORT_SSH, HUB_DEFAULT_USER,
		CH_BLOCK_WINDOW_S, CH_BLOCK_THRESHOLD, CH_BLOCK_SECONDS,
		HUB_MAX_HANDSHAKES, HUB_CONFIRM_TIMEOUT_S, HUB_CONFIRM_AFTER_S,
		CH_SSH_KEEPALIVE_MS / 1000, CH_SSH_KEEPALIVE_COUNT,
		HUB_HANDSHAKE_TIMEOUT_MS / 1000, HUB_RPC_TIMEOUT_MS / 1000,
		CH_FRAME_MAX_MSG_DEFAULT);
}

enum {
	OPT_ACCEPT_NEW = 256, OPT_KEEPALIVE, OPT_KEEPALIVE_COUNT,
	OPT_HANDSHAKE_TIMEOUT, OPT_RPC_TIMEOUT, OPT_MAX_MESSAGE,
	OPT_ADMISSION, OPT_BLOCK_AFTER, OPT_BLOCK_FOR, OPT_MAX_HANDSHAKES,
	OPT_CONFIRM_TIMEOUT, OPT_CONFIRM_AFTER, OPT_IDLE_CLOSE,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, 'L' },
	{ "key", required_argument, NULL, 'k' },
	{ "user", required_argument, NULL, 'u' },
	{ "state", required_argument, NULL, 's' },
	{ "accept-new", no_argument, NULL, OPT_ACCEPT_NEW },
	{ "admission", required_argument, NULL, OPT_ADMISSION },
	{ "block-after", required_argument, NULL, OPT_BLOCK_AFTER },
	{ "block-for", required_argument, NULL, OPT_BLOCK_FOR },
	{ "max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES },
	{ "confirm-timeout", required_argument, NULL, OPT_CONFIRM_TIMEOUT },
	{ "confirm-after", required_argument, NULL, OPT_CONFIRM_AFTER },
	{ "idle-close", required_argument, NULL, OPT_IDLE_CLOSE },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "keepalive-count", required_argument, NULL, OPT_KEEPALIVE_COUNT },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
	{ "rpc-timeout", required_argument, NULL, OPT_RPC_TIMEOUT },
	{ "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
	{ "log-level", required_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void add_listen(struct hub_config *cfg, const char *arg)
{
	struct hub_listen *l;

	if (cfg->nlisten >= HUB_MAX_LISTEN)
		cli_die(PROG, "too many --listen (at most 16)", "", "");
	l = &cfg->listen[cfg->nlisten];
	if (strncmp(arg, "*:", 2) == 0 || strcmp(arg, "*") == 0) {
		/* every address: host NULL */
		if (ch_hostport_parse(arg[1] ? arg + 2 : "0.0.0.0",
				      CH_PORT_SSH, &l->host, &l->port) != CH_OK)
			cli_die(PROG, "--listen: '", arg, "' is not ADDR[:PORT]");
		free(l->host);
		l->host = NULL;
	} else if (ch_hostport_parse(arg, CH_PORT_SSH, &l->host, &l->port) !=
		   CH_OK) {
		cli_die(PROG, "--listen: '", arg, "' is not ADDR[:PORT]");
	}
	cfg->nlisten++;
}

static void parse_args(int argc, char **argv, struct hub_config *cfg)
{
	int c;

	cfg->user = HUB_DEFAULT_USER;
	cfg->state_dir = DEFAULT_STATE_DIR;
	cfg->keepalive_ms = CH_SSH_KEEPALIVE_MS;
	cfg->keepalive_count = CH_SSH_KEEPALIVE_COUNT;
	cfg->handshake_timeout_ms = HUB_HANDSHAKE_TIMEOUT_MS;
	cfg->rpc_timeout_ms = HUB_RPC_TIMEOUT_MS;
	cfg->max_message = CH_FRAME_MAX_MSG_DEFAULT;
	cfg->admission = HUB_ADMIT_APPROVE;
	cfg->block_after = CH_BLOCK_THRESHOLD;
	cfg->block_for_s = CH_BLOCK_SECONDS;
	cfg->max_handshakes = HUB_MAX_HANDSHAKES;
	cfg->confirm_timeout_s = HUB_CONFIRM_TIMEOUT_S;
	cfg->confirm_after_s = HUB_CONFIRM_AFTER_S;

	while ((c = getopt_long(argc, argv, "L:k:u:s:l:hV", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'L': add_listen(cfg, optarg); break;
		case 'k': cfg->key_path = optarg; break;
		case 'u':
			if (*optarg == '\0' || strlen(optarg) > 63)
				cli_die(PROG, "--user: '", optarg, "' must be 1 to "
					  "63 characters");
			cfg->user = optarg;
			break;
		case 's': cfg->state_dir = optarg; break;
		case OPT_ACCEPT_NEW: cfg->admission = HUB_ADMIT_TRUST_NEW; break;
		case OPT_ADMISSION:
			if (strcmp(optarg, "approve") == 0)
				cfg->admission = HUB_ADMIT_APPROVE;
			else if (strcmp(optarg, "trust-new") == 0)
				cfg->admission = HUB_ADMIT_TRUST_NEW;
			else if (strcmp(optarg, "known-only") == 0)
				cfg->admission = HUB_ADMIT_KNOWN_ONLY;
			else
				cli_die(PROG, "--admission: '", optarg, "' is "
					"not approve, trust-new or known-only");
			break;
		case OPT_BLOCK_AFTER:
			cfg->block_after = cli_u32(PROG, "block-after", optarg,
						   0, 1000000);
			break;
		case OPT_BLOCK_FOR:
			cfg->block_for_s = cli_u32(PROG, "block-for", optarg,
						   1, 86400 * 30);
			break;
		case OPT_MAX_HANDSHAKES:
			cfg->max_handshakes = cli_u32(PROG, "max-handshakes",
						      optarg, 1, 100000);
			break;
		case OPT_CONFIRM_TIMEOUT:
			cfg->confirm_timeout_s = cli_u32(PROG, "confirm-timeout",
							 optarg, 1, 86400);
			break;
		case OPT_CONFIRM_AFTER:
			cfg->confirm_after_s = cli_u32(PROG, "confirm-after",
						       optarg, 0, 3600);
			break;
		case OPT_IDLE_CLOSE:
			cfg->idle_close_s = cli_u32(PROG, "idle-close", optarg,
						    0, 86400 * 7);
			break;
		case OPT_KEEPALIVE:
			cfg->keepalive_ms = 1000 *
				cli_u32(PROG, "keepalive", optarg, 0, 86400);
			break;
		case OPT_KEEPALIVE_COUNT:
			cfg->keepalive_count =
				cli_u32(PROG, "keepalive-count", optarg, 1, 1000);
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			cfg->handshake_timeout_ms = 1000 *
				cli_u32(PROG, "handshake-timeout", optarg, 1, 3600);
			break;
		case OPT_RPC_TIMEOUT:
			cfg->rpc_timeout_ms = 1000 *
				cli_u32(PROG, "rpc-timeout", optarg, 1, 86400);
			break;
		case OPT_MAX_MESSAGE:
			cfg->max_message = cli_u32(PROG, "max-message", optarg,
						   4096, 1u << 30);
			break;
		case 'l':
			cli_log_level(PROG, optarg);
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("callhome-hub %s\n", CH_VERSION); exit(0);
		default:
			fprintf(stderr, "Try 'callhome-hub --help'.\n");
			exit(1);
		}
	}
	if (optind < argc)
		cli_die(PROG, "unexpected argument '", argv[optind], "'");
	if (cfg->nlisten == 0) {
		cfg->listen[0].host = NULL;	/* every address */
		cfg->listen[0].port = CH_PORT_SSH;
		cfg->nlisten = 1;
	}
}

static uv_signal_t sig_int, sig_term;

static void on_signal(uv_signal_t *h, int signum)
{
	struct hub *hub = h->data;

	ch_info("signal %d: shutting down", signum);
	hub_stop(hub);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&sig_term, NULL);
}

int main(int argc, char **argv)
{
	struct hub hub;
	char key_path[4096], db_path[4096];
	char *pub = NULL;
	int created = 0, rc = 1, in_doubt = 0;

	memset(&hub, 0, sizeof(hub));
	/* The registry holds device identities and configuration payloads:
	 * nothing the hub creates is for other users. */
	umask(077);
	ch_log_set_ident("callhome-hub");
	parse_args(argc, argv, &hub.cfg);
	signal(SIGPIPE, SIG_IGN);
	ssh_init();
	ch_log_route_libssh();

	if (ch_mkdirs(hub.cfg.state_dir, 0700) != CH_OK)
		goto out;
	if (hub.cfg.key_path == NULL) {
		snprintf(key_path, sizeof(key_path), "%s/hub_key",
			 hub.cfg.state_dir);
		hub.cfg.key_path = key_path;
	}
	if (ch_key_load_or_create(hub.cfg.key_path, &hub.key, &created) != CH_OK)
		goto out;
	ch_key_fingerprint(hub.key, hub.key_fp, sizeof(hub.key_fp));
	pub = ch_key_public_line(hub.key);
	ch_info("client key %s%s: %s", hub.cfg.key_path,
		created ? " (created)" : "", hub.key_fp);
	ch_info("devices must authorize: %s", pub ? pub : "?");
	snprintf(db_path, sizeof(db_path), "%s/registry.db", hub.cfg.state_dir);
	if (ch_store_open(db_path, &hub.store) != CH_OK)
		goto out;
	ch_store_reset_connections(hub.store);
	if (ch_store_jobs_recover(hub.store, (int64_t)time(NULL), &in_doubt) ==
	    CH_OK && in_doubt)
		ch_warn("%d job(s) were running when the hub stopped: they are "
			"in doubt and will not run again unless retried "
			"(callhome jobs --state in-doubt)", in_doubt);
	if (hub.cfg.confirm_after_s >= hub.cfg.confirm_timeout_s) {
		ch_error("--confirm-after must be shorter than "
			 "--confirm-timeout, or every change rolls back");
		goto out;
	}
	hub.blocklist = blocklist_new(hub.cfg.block_after,
				      CH_BLOCK_WINDOW_S, hub.cfg.block_for_s);
	if (hub.blocklist == NULL)
		goto out;

	hub.loop = uv_default_loop();
	hub.next_conn_id = 1;
	if (hub_start(&hub) != CH_OK) {
		hub_stop(&hub);
		uv_run(hub.loop, UV_RUN_DEFAULT);
		goto out;
	}
	uv_signal_init(hub.loop, &sig_int);
	uv_signal_init(hub.loop, &sig_term);
	sig_int.data = sig_term.data = &hub;
	uv_signal_start(&sig_int, on_signal, SIGINT);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	ch_info("hub ready (user '%s', admission %s)", hub.cfg.user,
		hub.cfg.admission == HUB_ADMIT_TRUST_NEW ? "trust-new" :
		hub.cfg.admission == HUB_ADMIT_KNOWN_ONLY ? "known-only"
							  : "approve");

	uv_run(hub.loop, UV_RUN_DEFAULT);
	rc = 0;
	ch_info("stopped");
out:
	if (hub.loop && uv_loop_close(hub.loop) != 0)
		ch_debug("loop closed with handles left");
	ch_store_close(hub.store);
	blocklist_free(hub.blocklist);
	ssh_key_free(hub.key);
	free(pub);
	for (size_t i = 0; i < hub.cfg.nlisten; i++)
		free(hub.cfg.listen[i].host);
	ssh_finalize();
	return rc;
}
