/* callhomed - the device agent: dials out to its managers and serves
 * NETCONF over SSH on the connections it opened (RFC 8071). It never
 * listens on a socket.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/cliutil.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/frame.h"
#include "lib/ncproto.h"
#include "lib/hostport.h"
#include "lib/log.h"

#define PROG "callhomed"
#define DEFAULT_STATE_DIR "/var/lib/callhomed"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: callhomed --call-home HOST[:PORT] [OPTION]...\n"
"The callhome device agent: calls home to a NETCONF manager over SSH\n"
"(RFC 8071) and serves NETCONF on the connection it opened. It opens no\n"
"listening socket.\n"
"\n"
"  -c, --call-home HOST[:PORT]   manager to call (repeatable, tried in order;\n"
"                                port %d by default; [v6addr]:port accepted)\n"
"  -k, --host-key FILE           SSH host key (created as ed25519, mode 0600,\n"
"                                if absent) [" DEFAULT_STATE_DIR "/ssh_host_ed25519_key]\n"
"  -a, --authorized-keys FILE    managers' public keys, OpenSSH format\n"
"                                [" DEFAULT_STATE_DIR "/authorized_keys]\n"
"  -d, --datastore DIR           NETCONF datastore directory; running.xml\n"
"                                holds the running configuration [" DEFAULT_STATE_DIR "]\n"
"  -Y, --yang-dir DIR            where YANG modules are searched (repeatable)\n"
"  -m, --module NAME[@REV][:FEATURE,...]\n"
"                                implement this YANG module, with these\n"
"                                features (':*' for all; repeatable). With\n"
"                                modules the datastore is schema-aware and\n"
"                                writable (running, candidate, startup);\n"
"                                without, running.xml is served read-only\n"
"      --on-commit PROG          run PROG RUNNING.xml DIFF.xml on every change\n"
"                                of running (needs --module); a non-zero exit\n"
"                                rejects the change (docs/on-commit.md)\n"
"      --on-commit-timeout SECONDS\n"
"                                PROG is killed and the change rejected after\n"
"                                [%d]\n"
"      --keepalive SECONDS       SSH keep-alive interval, 0 = off [%d]\n"
"      --keepalive-count N       unanswered keep-alives before the manager\n"
"                                is declared dead [%d]\n"
"      --auth-timeout SECONDS    the manager must authenticate within [%d]\n"
"      --connect-timeout SECONDS per-address TCP connect deadline [%d]\n"
"      --hello-timeout SECONDS   a NETCONF session's client hello is due\n"
"                                within [%d]\n"
"      --max-message BYTES       largest NETCONF message accepted [%u]\n"
"      --backoff-base MS         first reconnect delay ceiling [%d]\n"
"      --backoff-max MS          largest reconnect delay ceiling [%d]\n"
"  -l, --log-level LEVEL         error, warn, info or debug [info]\n"
"  -h, --help                    this text\n"
"  -V, --version                 print the version\n"
"\n"
"Reconnect: after a failed round over all managers the agent waits a\n"
"random delay in [0, min(max, base * 2^n)] (full jitter); after a session\n"
"that worked it calls again at once. Logs go to standard error.\n",
		CH_PORT_SSH, AGENT_ON_COMMIT_TIMEOUT_MS / 1000,
		CH_SSH_KEEPALIVE_MS / 1000, CH_SSH_KEEPALIVE_COUNT,
		AGENT_AUTH_TIMEOUT_MS / 1000, AGENT_CONNECT_TIMEOUT_MS / 1000,
		CH_NC_HELLO_TIMEOUT_MS / 1000, CH_FRAME_MAX_MSG_DEFAULT,
		AGENT_BACKOFF_BASE_MS, AGENT_BACKOFF_MAX_MS);
}

enum {
	OPT_KEEPALIVE = 256, OPT_KEEPALIVE_COUNT, OPT_AUTH_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_BACKOFF_BASE, OPT_BACKOFF_MAX,
	OPT_HELLO_TIMEOUT, OPT_MAX_MESSAGE, OPT_ON_COMMIT,
	OPT_ON_COMMIT_TIMEOUT,
};

static const struct option long_opts[] = {
	{ "call-home", required_argument, NULL, 'c' },
	{ "host-key", required_argument, NULL, 'k' },
	{ "authorized-keys", required_argument, NULL, 'a' },
	{ "datastore", required_argument, NULL, 'd' },
	{ "yang-dir", required_argument, NULL, 'Y' },
	{ "module", required_argument, NULL, 'm' },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "keepalive-count", required_argument, NULL, OPT_KEEPALIVE_COUNT },
	{ "auth-timeout", required_argument, NULL, OPT_AUTH_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "backoff-base", required_argument, NULL, OPT_BACKOFF_BASE },
	{ "backoff-max", required_argument, NULL, OPT_BACKOFF_MAX },
	{ "hello-timeout", required_argument, NULL, OPT_HELLO_TIMEOUT },
	{ "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
	{ "on-commit", required_argument, NULL, OPT_ON_COMMIT },
	{ "on-commit-timeout", required_argument, NULL,
	  OPT_ON_COMMIT_TIMEOUT },
	{ "log-level", required_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void parse_args(int argc, char **argv, struct agent_config *cfg)
{
	static char key_default[] = DEFAULT_STATE_DIR "/ssh_host_ed25519_key";
	static char ak_default[] = DEFAULT_STATE_DIR "/authorized_keys";
	int c;

	cfg->host_key_path = key_default;
	cfg->authkeys_path = ak_default;
	cfg->datastore_dir = DEFAULT_STATE_DIR;
	cfg->keepalive_ms = CH_SSH_KEEPALIVE_MS;
	cfg->keepalive_count = CH_SSH_KEEPALIVE_COUNT;
	cfg->auth_timeout_ms = AGENT_AUTH_TIMEOUT_MS;
	cfg->connect_timeout_ms = AGENT_CONNECT_TIMEOUT_MS;
	cfg->backoff_base_ms = AGENT_BACKOFF_BASE_MS;
	cfg->backoff_max_ms = AGENT_BACKOFF_MAX_MS;
	cfg->hello_timeout_ms = CH_NC_HELLO_TIMEOUT_MS;
	cfg->max_message = CH_FRAME_MAX_MSG_DEFAULT;
	cfg->on_commit_timeout_ms = AGENT_ON_COMMIT_TIMEOUT_MS;

	while ((c = getopt_long(argc, argv, "c:k:a:d:Y:m:l:hV", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'c': {
			struct agent_endpoint *ep;

			if (cfg->nendpoints >= AGENT_MAX_ENDPOINTS)
				cli_die(PROG, "too many --call-home (at most 32)",
					  "", "");
			ep = &cfg->endpoints[cfg->nendpoints];
			if (ch_hostport_parse(optarg, CH_PORT_SSH, &ep->host,
					      &ep->port) != CH_OK)
				cli_die(PROG, "--call-home: '", optarg,
					  "' is not HOST[:PORT]");
			cfg->nendpoints++;
			break;
		}
		case 'k': cfg->host_key_path = optarg; break;
		case 'a': cfg->authkeys_path = optarg; break;
		case 'd': cfg->datastore_dir = optarg; break;
		case 'Y':
			if (cfg->nyang_dirs >= CH_DS_MAX_YANG_DIRS)
				cli_die(PROG, "too many --yang-dir (at "
					"most 16)", "", "");
			cfg->yang_dirs[cfg->nyang_dirs++] = optarg;
			break;
		case 'm':
			if (cfg->nmodules >= CH_DS_MAX_MODULES)
				cli_die(PROG, "too many --module (at most "
					"64)", "", "");
			cfg->modules[cfg->nmodules++] = optarg;
			break;
		case OPT_KEEPALIVE:
			cfg->keepalive_ms = 1000 *
				cli_u32(PROG, "keepalive", optarg, 0, 86400);
			break;
		case OPT_KEEPALIVE_COUNT:
			cfg->keepalive_count =
				cli_u32(PROG, "keepalive-count", optarg, 1, 1000);
			break;
		case OPT_AUTH_TIMEOUT:
			cfg->auth_timeout_ms = 1000 *
				cli_u32(PROG, "auth-timeout", optarg, 1, 3600);
			break;
		case OPT_CONNECT_TIMEOUT:
			cfg->connect_timeout_ms = 1000 *
				cli_u32(PROG, "connect-timeout", optarg, 1, 3600);
			break;
		case OPT_BACKOFF_BASE:
			cfg->backoff_base_ms =
				cli_u32(PROG, "backoff-base", optarg, 1, 3600000);
			break;
		case OPT_BACKOFF_MAX:
			cfg->backoff_max_ms =
				cli_u32(PROG, "backoff-max", optarg, 1, 86400000);
			break;
		case OPT_HELLO_TIMEOUT:
			cfg->hello_timeout_ms = 1000 *
				cli_u32(PROG, "hello-timeout", optarg, 1, 3600);
			break;
		case OPT_ON_COMMIT: cfg->on_commit = optarg; break;
		case OPT_ON_COMMIT_TIMEOUT:
			cfg->on_commit_timeout_ms = 1000 *
				cli_u32(PROG, "on-commit-timeout", optarg, 1,
					3600);
			break;
		case OPT_MAX_MESSAGE:
			cfg->max_message = cli_u32(PROG, "max-message", optarg,
						   4096, 1u << 30);
			break;
		case 'l':
			cli_log_level(PROG, optarg);
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("callhomed %s\n", CH_VERSION); exit(0);
		default:
			fprintf(stderr, "Try 'callhomed --help'.\n");
			exit(1);
		}
	}
	if (optind < argc)
		cli_die(PROG, "unexpected argument '", argv[optind], "'");
	if (cfg->nendpoints == 0)
		cli_die(PROG, "no manager to call: give --call-home "
			  "HOST[:PORT]", "", "");
	if (cfg->nyang_dirs > 0 && cfg->nmodules == 0)
		cli_die(PROG, "--yang-dir without --module: name the modules "
			"to implement", "", "");
	if (cfg->on_commit != NULL && cfg->nmodules == 0)
		cli_die(PROG, "--on-commit without --module: the read-only "
			"datastore never changes", "", "");
	if (cfg->on_commit != NULL && access(cfg->on_commit, X_OK) != 0)
		cli_die(PROG, "--on-commit: '", cfg->on_commit,
			"' is not an executable file");
	if (cfg->backoff_max_ms < cfg->backoff_base_ms)
		cli_die(PROG, "--backoff-max must be at least "
			  "--backoff-base", "", "");
}

static void on_stopped(void *ctx)
{
	uv_stop(((struct agent *)ctx)->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct agent *ag = h->data;

	if (ag->stopping)
		return;
	ag->stopping = 1;
	ch_info("signal %d: shutting down", signum);
	dialer_stop(ag->dialer, on_stopped, ag);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int main(int argc, char **argv)
{
	struct agent ag;
	uv_signal_t sigint, sigterm;
	ssh_key key = NULL;
	int created = 0;

	memset(&ag, 0, sizeof(ag));
	ch_log_set_ident("callhomed");
	parse_args(argc, argv, &ag.cfg);
	signal(SIGPIPE, SIG_IGN);
	ssh_init();
	ch_log_route_libssh();

	if (ch_mkdirs(ag.cfg.datastore_dir, 0700) != CH_OK)
		return 1;
	if (ch_key_load_or_create(ag.cfg.host_key_path, &key, &created) !=
	    CH_OK)
		return 1;
	ch_key_fingerprint(key, ag.host_fp, sizeof(ag.host_fp));
	ch_info("host key %s%s: %s", ag.cfg.host_key_path,
		created ? " (created)" : "", ag.host_fp);
	if (ch_authkeys_load(ag.cfg.authkeys_path, &ag.authkeys) != CH_OK) {
		ch_error("%s: no usable manager key: the agent would refuse "
			 "every manager", ag.cfg.authkeys_path);
		return 1;
	}
	ch_info("%zu manager key(s) authorized from %s",
		ch_authkeys_count(ag.authkeys), ag.cfg.authkeys_path);
	/* Our configuration is our command line, not a system-wide libssh
	 * server config file. */
	if ((ag.bind = ssh_bind_new()) == NULL ||
	    ssh_bind_options_set(ag.bind, SSH_BIND_OPTIONS_PROCESS_CONFIG,
				 &(int){0}) != SSH_OK ||
	    ssh_bind_options_set(ag.bind, SSH_BIND_OPTIONS_IMPORT_KEY, key) !=
	    SSH_OK) {
		ch_error("cannot load the host key into libssh");
		return 1;
	}
	key = NULL;	/* transferred: ssh_bind_free frees it */

	ag.loop = uv_default_loop();
	ag.next_session_id = 1;
	if (ag.cfg.nmodules > 0) {
		struct ch_ds_config dcfg = {
			.dir = ag.cfg.datastore_dir,
			.yang_dirs = ag.cfg.yang_dirs,
			.nyang_dirs = ag.cfg.nyang_dirs,
			.modules = ag.cfg.modules,
			.nmodules = ag.cfg.nmodules,
			.loop = ag.loop,
		};

		if (ch_ds_open(&dcfg, &ag.ds) != CH_OK) {
			ch_error("%s: cannot open the datastore: refusing to "
				 "start", ag.cfg.datastore_dir);
			return 1;
		}
	} else {
		ch_info("no YANG module given: serving %s/running.xml "
			"read-only, without a schema", ag.cfg.datastore_dir);
	}
	if (nc_server_init(&ag) != CH_OK)
		return 1;
	uv_signal_init(ag.loop, &sigint);
	uv_signal_init(ag.loop, &sigterm);
	sigint.data = sigterm.data = &ag;
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_start(&sigterm, on_signal, SIGTERM);

	for (size_t i = 0; i < ag.cfg.nendpoints; i++)
		ch_info("manager %zu: %s port %u", i + 1,
			ag.cfg.endpoints[i].host, ag.cfg.endpoints[i].port);
	if (dialer_start(&ag, &ag.dialer) != CH_OK)
		return 1;
	uv_run(ag.loop, UV_RUN_DEFAULT);

	uv_walk(ag.loop, close_walk, NULL);
	uv_run(ag.loop, UV_RUN_DEFAULT);
	ch_ds_close(ag.ds);	/* its timer is closed by now */
	nc_server_cleanup();
	uv_loop_close(ag.loop);
	ch_authkeys_free(ag.authkeys);
	ssh_bind_free(ag.bind);
	for (size_t i = 0; i < ag.cfg.nendpoints; i++)
		free(ag.cfg.endpoints[i].host);
	ssh_finalize();
	ch_info("stopped");
	return 0;
}
