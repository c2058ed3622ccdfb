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

#include <libxml/parser.h>

#include "agent/agent.h"
#include "agent/borderpolicy.h"
#include "agent/borderwatch.h"
#include "agent/forward.h"
#include "agent/snmp.h"
#include "agent/fwdconfig.h"
#include "agent/shell.h"
#include "agent/termconfig.h"
#include "common/cliutil.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/limits.h"
#include "lib/nc/frame.h"
#include "lib/nc/ncproto.h"
#include "lib/net/hostport.h"
#include "lib/core/log.h"
#include "lib/xport/sshio.h"
#include "lib/core/schedule.h"
#include "lib/core/version.h"

#define PROG "callhomed"
#define SHORT_OPTS "c:k:a:d:Y:m:l:hV"
#define DEFAULT_CONFIG CH_CONF_DIR "/callhomed.conf"
#define DEFAULT_STATE_DIR "/var/lib/callhomed"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: callhomed [--call-home HOST[:PORT]]... [OPTION]...\n"
"The callhome device agent: calls home to NETCONF managers over SSH or TLS\n"
"(RFC 8071) and serves NETCONF on the connections it opened. It opens no\n"
"listening socket.\n"
"\n"
"Where it calls is configuration: the call-home subtree of the\n"
"callhome-netconf-server YANG module in the running datastore (several\n"
"managers, persistent or periodic; docs/callhome-config.md). The flags\n"
"below are a shortcut for one manager; they are written to running when\n"
"it has no call-home configuration, and ignored when it has one.\n"
"\n"
"  -c, --call-home HOST[:PORT]   an SSH endpoint of the manager (repeatable,\n"
"                                tried in order; port %d by default;\n"
"                                [v6addr]:port accepted)\n"
"      --call-home-tls HOST[:PORT]\n"
"                                a TLS endpoint (RFC 7589; port %d by default)\n"
"      --cert FILE               the device certificate (PEM), for TLS\n"
"      --tls-key FILE            its private key (PEM; --key is the same)\n"
"      --chain FILE              intermediate CA certificates sent with it\n"
"      --client-ca FILE          CA certificates that issue managers' certs\n"
"      --crl FILE                revocation lists for them\n"
"      --cert-to-name FINGERPRINT|*,MAP-TYPE[,NAME]\n"
"                                map the manager's certificate to a user\n"
"                                (RFC 7589 7; repeatable, in order), e.g.\n"
"                                '*,san-dns-name' or 'FP,specified,admin'\n"
"      --period MINUTES          periodic connection instead of persistent\n"
"      --anchor-time TIME        periods start at TIME + k * period\n"
"                                (RFC 3339, to the minute)\n"
"      --idle-timeout SECONDS    periodic: close after this long with no\n"
"                                NETCONF message, 0 = never [%d]\n"
"      --max-attempts N          attempts per endpoint before the next [%d]\n"
"  -k, --host-key FILE           this program's own SSH key, as in\n"
"                                callhome-hub: the agent's host key (created\n"
"                                as ed25519, mode 0600, if absent)\n"
"                                [" DEFAULT_STATE_DIR "/ssh_host_ed25519_key]\n"
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
"      --shell-user NAME         serve SSH shell and exec channels from the\n"
"                                manager, run as local account NAME (login\n"
"                                shell, own session; at most "
CH_STR(CH_AGENT_MAX_SHELLS) " at once;\n"
"                                env LANG LC_* TERM TZ). A shortcut for the\n"
"                                callhome-terminal configuration, which wins\n"
"                                when running has it (docs/terminal.md).\n"
"                                Without either they are refused\n"
"      --forward                 serve the manager's direct-tcpip channels\n"
"                                (ssh -W, -L) to interior destinations: inside\n"
"                                the border's interior prefix set, resolved\n"
"                                on the device, never the device itself.\n"
"                                Without it they are refused\n"
"      --forward-allow PREFIX[:PORT[-PORT]]\n"
"                                with --forward, also these destinations, host\n"
"                                AND port (repeatable; IPv6 as [PREFIX]:PORT;\n"
"                                loopback or the device's own addresses only\n"
"                                when named exactly; docs/remote-access.md)\n"
"      --snmp-agent udp:ADDR:PORT|unix:PATH\n"
"                                serve the manager's snmp subsystem channels\n"
"                                (RFC 5592), each message relayed unchanged\n"
"                                to the device's own snmpd there (loopback\n"
"                                or a unix socket only). Without it (or\n"
"                                --snmp-trap-listen) they are refused\n"
"      --snmp-trap-listen ADDR:PORT\n"
"                                take snmpd's notifications on this loopback\n"
"                                UDP port (snmpd.conf: trap2sink ADDR:PORT)\n"
"                                and send them to each manager on its\n"
"                                notification channel (docs/snmp.md)\n"
"      --keepalive SECONDS       SSH keep-alive interval, 0 = off [%d]\n"
"      --keepalive-count N       unanswered keep-alives before the manager\n"
"                                is declared dead [%d]\n"
"      --auth-timeout SECONDS    the manager must authenticate within [%d]\n"
"      --connect-timeout SECONDS TCP connect deadline per address\n"
"                                (reconnect-strategy max-wait) [%d]\n"
"      --hello-timeout SECONDS   a NETCONF session's client hello is due\n"
"                                within [%d]\n"
"      --max-message BYTES       largest NETCONF message accepted [%u]\n"
"      --backoff-base MS         first reconnect delay ceiling [%d]\n"
"      --backoff-max MS          largest reconnect delay ceiling [%d]\n"
"      --interior IFNAME|GLOB    this interface is interior: fixed, not\n"
"                                discovered (repeatable; fnmatch globs such\n"
"                                as 'lan*')\n"
"      --exterior IFNAME|GLOB    this interface is exterior (repeatable; wins\n"
"                                over --interior)\n"
"      --border-holddown SECONDS a change to interior waits this long; a\n"
"                                change to exterior applies at once [%d]\n"
"      --border-policy-file PATH write the border's filtering policy (an\n"
"                                nftables ruleset, table inet callhome_border)\n"
"                                to PATH on every change of the border\n"
"      --border-policy-apply     also load it (nft -f) on every change\n"
"                                [PATH: DATASTORE/" BORDER_POLICY_FILE "]\n"
"      --border-policy-remove    with --border-policy-apply: delete the table\n"
"                                when the agent stops cleanly (by default it\n"
"                                stays, the device filtered meanwhile)\n"
"      --minute-ms MS            the length of a period minute, for tests\n"
"                                and demos [%d]\n"
"      --config FILE             read options from FILE first: 'key = value'\n"
"                                lines, keys the long options' names; the\n"
"                                command line wins (docs/configuration.md)\n"
"                                [" DEFAULT_CONFIG ", if it exists]\n"
"  -l, --log-level LEVEL         error, warn, info or debug [info]\n"
"      --log-target TARGET       auto: the journal when standard error is\n"
"                                its stream, else standard error; stderr;\n"
"                                or syslog [auto]\n"
"  -h, --help                    this text\n"
"  -V, --version                 print the version\n"
"\n"
"Reconnect: after a failed round over a manager's endpoints the agent waits\n"
"a random delay in [0, min(max, base * 2^n)] (full jitter); after a session\n"
"that worked it calls again at once.\n"
"\n"
"Border: each interface is classified interior, exterior, mixed, loopback\n"
"or down from the kernel's routes (an interface holding a default route is\n"
"exterior), logged, and served as callhome-border state data and\n"
"notifications (docs/remote-access.md). Its policy (off by default):\n"
"anti-spoofing on interior interfaces, stateful filtering on the others.\n",
		CH_PORT_SSH, CH_PORT_TLS, CH_CHC_IDLE_TIMEOUT_S,
		CH_CHC_RS_MAX_ATTEMPTS, CH_AGENT_ON_COMMIT_TIMEOUT_MS / 1000,
		CH_SSH_KEEPALIVE_MS / 1000, CH_SSH_KEEPALIVE_COUNT,
		CH_AGENT_AUTH_TIMEOUT_MS / 1000,
		CH_AGENT_CONNECT_TIMEOUT_MS / 1000,
		CH_NC_HELLO_TIMEOUT_MS / 1000, CH_FRAME_MAX_MSG_DEFAULT,
		CH_AGENT_BACKOFF_BASE_MS, CH_AGENT_BACKOFF_MAX_MS,
		CH_BORDER_HOLDDOWN_S, CH_AGENT_MINUTE_MS);
}

enum {
	OPT_KEEPALIVE = 256, OPT_KEEPALIVE_COUNT, OPT_AUTH_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_BACKOFF_BASE, OPT_BACKOFF_MAX,
	OPT_HELLO_TIMEOUT, OPT_MAX_MESSAGE, OPT_ON_COMMIT,
	OPT_ON_COMMIT_TIMEOUT, OPT_CALL_HOME_TLS, OPT_CERT, OPT_KEY, OPT_CHAIN,
	OPT_CLIENT_CA, OPT_CRL, OPT_CERT_TO_NAME, OPT_PERIOD, OPT_ANCHOR_TIME,
	OPT_IDLE_TIMEOUT, OPT_MAX_ATTEMPTS, OPT_MINUTE_MS, OPT_SHELL_USER,
	OPT_INTERIOR, OPT_EXTERIOR, OPT_BORDER_HOLDDOWN, OPT_FORWARD,
	OPT_FORWARD_ALLOW, OPT_POLICY_FILE, OPT_POLICY_APPLY,
	OPT_POLICY_REMOVE, OPT_SNMP_AGENT, OPT_SNMP_TRAP_LISTEN,
	OPT_CONFIG, OPT_LOG_TARGET,
};

static const struct option long_opts[] = {
	{ "call-home", required_argument, NULL, 'c' },
	{ "call-home-tls", required_argument, NULL, OPT_CALL_HOME_TLS },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "tls-key", required_argument, NULL, OPT_KEY },
	{ "key", required_argument, NULL, OPT_KEY },	/* its first name */
	{ "chain", required_argument, NULL, OPT_CHAIN },
	{ "client-ca", required_argument, NULL, OPT_CLIENT_CA },
	{ "crl", required_argument, NULL, OPT_CRL },
	{ "cert-to-name", required_argument, NULL, OPT_CERT_TO_NAME },
	{ "period", required_argument, NULL, OPT_PERIOD },
	{ "anchor-time", required_argument, NULL, OPT_ANCHOR_TIME },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
	{ "minute-ms", required_argument, NULL, OPT_MINUTE_MS },
	{ "interior", required_argument, NULL, OPT_INTERIOR },
	{ "exterior", required_argument, NULL, OPT_EXTERIOR },
	{ "border-holddown", required_argument, NULL, OPT_BORDER_HOLDDOWN },
	{ "border-policy-file", required_argument, NULL, OPT_POLICY_FILE },
	{ "border-policy-apply", no_argument, NULL, OPT_POLICY_APPLY },
	{ "border-policy-remove", no_argument, NULL, OPT_POLICY_REMOVE },
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
	{ "shell-user", required_argument, NULL, OPT_SHELL_USER },
	{ "forward", no_argument, NULL, OPT_FORWARD },
	{ "forward-allow", required_argument, NULL, OPT_FORWARD_ALLOW },
	{ "snmp-agent", required_argument, NULL, OPT_SNMP_AGENT },
	{ "snmp-trap-listen", required_argument, NULL, OPT_SNMP_TRAP_LISTEN },
	{ "log-level", required_argument, NULL, 'l' },
	{ "log-target", required_argument, NULL, OPT_LOG_TARGET },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void add_endpoint(struct agent_config *cfg, enum chc_transport t,
			 const char *arg)
{
	struct chc_flag_endpoint *ep;
	char *host;

	if (cfg->nendpoints >= CH_CHC_MAX_ENDPOINTS)
		cli_die(PROG, "too many --call-home (at most 32)", "", "");
	ep = &cfg->endpoints[cfg->nendpoints];
	if (ch_hostport_parse(arg, t == CHC_TLS ? CH_PORT_TLS : CH_PORT_SSH,
			      &host, &ep->port) != CH_OK)
		cli_die(PROG, t == CHC_TLS ? "--call-home-tls: '"
			: "--call-home: '", arg, "' is not HOST[:PORT]");
	ep->host = host;
	ep->transport = t;
	cfg->nendpoints++;
}

/* One more --forward-allow rule. */
static void add_forward_allow(struct fwd_policy *p, const char *arg)
{
	char err[256];

	if (p->nrules >= CH_AGENT_FWD_MAX_RULES)
		cli_die(PROG, "too many --forward-allow (at most "
			CH_STR(CH_AGENT_FWD_MAX_RULES) ")", "", "");
	if (fwd_rule_parse(arg, &p->rules[p->nrules], err, sizeof(err)) !=
	    CH_OK)
		cli_die(PROG, "--forward-allow: ", err, "");
	p->nrules++;
}

/* One more --interior or --exterior pattern. */
static void add_pattern(const char **pats, size_t *n, const char *opt,
			const char *arg)
{
	if (*n >= CH_BORDER_MAX_PATTERNS)
		cli_die(PROG, "too many ", opt, " (at most "
			CH_STR(CH_BORDER_MAX_PATTERNS) ")");
	if (arg[0] == '\0')
		cli_die(PROG, opt, ": an empty interface name", "");
	pats[(*n)++] = arg;
}

static void parse_args(int argc, char **argv, struct agent_config *cfg)
{
	static char key_default[] = DEFAULT_STATE_DIR "/ssh_host_ed25519_key";
	static char ak_default[] = DEFAULT_STATE_DIR "/authorized_keys";
	static struct cli_args args;	/* cfg points into it */
	struct chc_flags *f = &cfg->chflags;
	int c;

	ch_log_set_target(CH_LOG_TARGET_AUTO);

	cfg->host_key_path = key_default;
	cfg->authkeys_path = ak_default;
	cfg->datastore_dir = DEFAULT_STATE_DIR;
	cfg->keepalive_ms = CH_SSH_KEEPALIVE_MS;
	cfg->keepalive_count = CH_SSH_KEEPALIVE_COUNT;
	cfg->auth_timeout_ms = CH_AGENT_AUTH_TIMEOUT_MS;
	cfg->connect_timeout_ms = CH_AGENT_CONNECT_TIMEOUT_MS;
	cfg->backoff_base_ms = CH_AGENT_BACKOFF_BASE_MS;
	cfg->backoff_max_ms = CH_AGENT_BACKOFF_MAX_MS;
	cfg->hello_timeout_ms = CH_NC_HELLO_TIMEOUT_MS;
	cfg->max_message = CH_FRAME_MAX_MSG_DEFAULT;
	cfg->on_commit_timeout_ms = CH_AGENT_ON_COMMIT_TIMEOUT_MS;
	cfg->minute_ms = CH_AGENT_MINUTE_MS;
	cfg->border.holddown_ms = CH_BORDER_HOLDDOWN_S * 1000;
	f->idle_timeout_s = CH_CHC_IDLE_TIMEOUT_S;

	cli_args_build(PROG, argc, argv, SHORT_OPTS, long_opts, OPT_CONFIG,
		       DEFAULT_CONFIG, &args);
	while (cli_args_at(&args),
	       (c = getopt_long(args.argc, args.argv, SHORT_OPTS, long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			add_endpoint(cfg, CHC_SSH, optarg);
			break;
		case OPT_CALL_HOME_TLS:
			add_endpoint(cfg, CHC_TLS, optarg);
			break;
		case OPT_CERT: f->cert_file = optarg; break;
		case OPT_KEY: f->key_file = optarg; break;
		case OPT_CHAIN: f->chain_file = optarg; break;
		case OPT_CLIENT_CA: f->ca_file = optarg; break;
		case OPT_CRL: f->crl_file = optarg; break;
		case OPT_CERT_TO_NAME: {
			struct ch_ctn_rule rule;
			char err[CH_CTN_ERR_LEN];

			if (f->nctn >= CH_CHC_MAX_CTN)
				cli_die(PROG, "too many --cert-to-name", "",
					"");
			if (ch_ctn_rule_parse(optarg, (uint32_t)f->nctn + 1,
					      &rule, err, sizeof(err)) !=
			    CH_OK)
				cli_die(PROG, "--cert-to-name: ", err, "");
			cfg->ctn[f->nctn++] = optarg;
			break;
		}
		case OPT_PERIOD:
			f->period_min = cli_u32(PROG, "period", optarg, 1,
						CH_CHC_PERIOD_MAX_MIN);
			break;
		case OPT_ANCHOR_TIME: {
			int64_t ms;

			if (ch_sched_parse_time(optarg, &ms) != CH_OK)
				cli_die(PROG, "--anchor-time: '", optarg,
					"' is not an RFC 3339 date-and-time");
			f->anchor_time = optarg;
			break;
		}
		case OPT_IDLE_TIMEOUT:
			f->idle_timeout_s = cli_u32(PROG, "idle-timeout",
						    optarg, 0,
						    CH_CHC_IDLE_TIMEOUT_MAX_S);
			break;
		case OPT_MAX_ATTEMPTS:
			f->max_attempts = cli_u32(PROG, "max-attempts", optarg,
						  1, CH_AGENT_MAX_ATTEMPTS_MAX);
			break;
		case OPT_MINUTE_MS:
			cfg->minute_ms = cli_u32(PROG, "minute-ms", optarg, 1,
						 CH_AGENT_MINUTE_MS);
			break;
		case OPT_INTERIOR:
			add_pattern(cfg->border.interior,
				    &cfg->border.ninterior, "--interior",
				    optarg);
			break;
		case OPT_EXTERIOR:
			add_pattern(cfg->border.exterior,
				    &cfg->border.nexterior, "--exterior",
				    optarg);
			break;
		case OPT_BORDER_HOLDDOWN:
			cfg->border.holddown_ms = 1000 *
				cli_u32(PROG, "border-holddown", optarg, 0,
					CH_BORDER_HOLDDOWN_MAX_S);
			break;
		case OPT_POLICY_FILE: cfg->policy.file = optarg; break;
		case OPT_POLICY_APPLY: cfg->policy.apply = 1; break;
		case OPT_POLICY_REMOVE: cfg->policy.remove = 1; break;
		case 'k': cfg->host_key_path = optarg; break;
		case 'a': cfg->authkeys_path = optarg; break;
		case 'd': cfg->datastore_dir = optarg; break;
		case 'Y':
			if (cfg->nyang_dirs >= CH_DS_MAX_YANG_DIRS)
				cli_die(PROG, "too many --yang-dir (at "
					"most " CH_STR(CH_DS_MAX_YANG_DIRS) ")",
					"", "");
			cfg->yang_dirs[cfg->nyang_dirs++] = optarg;
			break;
		case 'm':
			if (cfg->nmodules >= CH_DS_MAX_MODULES)
				cli_die(PROG, "too many --module (at most "
					CH_STR(CH_DS_MAX_MODULES) ")", "", "");
			cfg->modules[cfg->nmodules++] = optarg;
			break;
		case OPT_KEEPALIVE:
			cfg->keepalive_ms = 1000 *
				cli_u32(PROG, "keepalive", optarg, 0,
					CH_AGENT_KEEPALIVE_MAX_S);
			break;
		case OPT_KEEPALIVE_COUNT:
			cfg->keepalive_count =
				cli_u32(PROG, "keepalive-count", optarg, 1,
					CH_AGENT_KEEPALIVE_COUNT_MAX);
			break;
		case OPT_AUTH_TIMEOUT:
			cfg->auth_timeout_ms = 1000 *
				cli_u32(PROG, "auth-timeout", optarg, 1,
					CH_AGENT_STAGE_TIMEOUT_MAX_S);
			break;
		case OPT_CONNECT_TIMEOUT:
			cfg->connect_timeout_ms = 1000 *
				cli_u32(PROG, "connect-timeout", optarg, 1,
					CH_AGENT_STAGE_TIMEOUT_MAX_S);
			break;
		case OPT_BACKOFF_BASE:
			cfg->backoff_base_ms =
				cli_u32(PROG, "backoff-base", optarg, 1,
					CH_AGENT_BACKOFF_BASE_LIMIT_MS);
			break;
		case OPT_BACKOFF_MAX:
			cfg->backoff_max_ms =
				cli_u32(PROG, "backoff-max", optarg, 1,
					CH_AGENT_BACKOFF_MAX_LIMIT_MS);
			break;
		case OPT_HELLO_TIMEOUT:
			cfg->hello_timeout_ms = 1000 *
				cli_u32(PROG, "hello-timeout", optarg, 1,
					CH_AGENT_STAGE_TIMEOUT_MAX_S);
			break;
		case OPT_ON_COMMIT: cfg->on_commit = optarg; break;
		case OPT_SHELL_USER: cfg->shell_user = optarg; break;
		case OPT_FORWARD: cfg->forward.enabled = 1; break;
		case OPT_SNMP_AGENT: cfg->snmp_agent = optarg; break;
		case OPT_SNMP_TRAP_LISTEN: cfg->snmp_trap_listen = optarg; break;
		case OPT_FORWARD_ALLOW:
			add_forward_allow(&cfg->forward, optarg);
			break;
		case OPT_ON_COMMIT_TIMEOUT:
			cfg->on_commit_timeout_ms = 1000 *
				cli_u32(PROG, "on-commit-timeout", optarg, 1,
					CH_AGENT_STAGE_TIMEOUT_MAX_S);
			break;
		case OPT_MAX_MESSAGE:
			cfg->max_message = cli_u32(PROG, "max-message", optarg,
						   CH_MAX_MESSAGE_MIN,
						   CH_MAX_MESSAGE_MAX);
			break;
		case 'l':
			cli_log_level(PROG, optarg);
			break;
		case OPT_LOG_TARGET:
			cli_log_target(PROG, optarg);
			break;
		case OPT_CONFIG:	/* read by cli_args_build */
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("callhomed %s (commit %s)\n", CH_VERSION,
				  ch_commit); exit(0);
		default:
			fprintf(stderr, "Try 'callhomed --help'.\n");
			exit(1);
		}
	}
	cli_args_done();
	if (optind < args.argc)
		cli_die(PROG, "unexpected argument '", args.argv[optind], "'");
	if (args.file != NULL)
		ch_info("configuration file %s", args.file);
	if (cfg->nendpoints == 0 && cfg->nmodules == 0)
		cli_die(PROG, "no manager to call: give --call-home "
			  "HOST[:PORT] (or --module, with a call-home "
			  "configuration in the datastore)", "", "");
	for (size_t i = 0; i < cfg->nendpoints; i++)
		if (cfg->endpoints[i].transport == CHC_TLS &&
		    (!f->cert_file || !f->key_file || !f->ca_file ||
		     f->nctn == 0))
			cli_die(PROG, "--call-home-tls needs --cert, --key, "
				"--client-ca and at least one --cert-to-name",
				"", "");
	f->eps = cfg->endpoints;
	f->neps = cfg->nendpoints;
	f->ctn = cfg->ctn;
	f->connect_timeout_s = cfg->connect_timeout_ms / 1000;
	f->keepalive_s = cfg->keepalive_ms / 1000;
	f->keepalive_count = cfg->keepalive_count;
	if (cfg->nyang_dirs > 0 && cfg->nmodules == 0)
		cli_die(PROG, "--yang-dir without --module: name the modules "
			"to implement", "", "");
	if (cfg->on_commit != NULL && cfg->nmodules == 0)
		cli_die(PROG, "--on-commit without --module: the read-only "
			"datastore never changes", "", "");
	if (cfg->on_commit != NULL && access(cfg->on_commit, X_OK) != 0)
		cli_die(PROG, "--on-commit: '", cfg->on_commit,
			"' is not an executable file");
	if (cfg->policy.remove && !cfg->policy.apply)
		cli_die(PROG, "--border-policy-remove without "
			"--border-policy-apply: nothing is loaded to remove",
			"", "");
	if (cfg->policy.apply && cfg->policy.file == NULL) {
		static char path[4096];	/* PATH_MAX */

		if (snprintf(path, sizeof(path), "%s/%s", cfg->datastore_dir,
			     BORDER_POLICY_FILE) >= (int)sizeof(path))
			cli_die(PROG, "--datastore: too long a path", "", "");
		cfg->policy.file = path;
	}
	if (cfg->backoff_max_ms < cfg->backoff_base_ms)
		cli_die(PROG, "--backoff-max must be at least "
			  "--backoff-base", "", "");
}

static void on_policy_stopped(void *ctx)
{
	uv_stop(((struct agent *)ctx)->loop);
}

static void on_stopped(void *ctx)
{
	struct agent *ag = ctx;

	if (ag->policy != NULL)
		border_policy_stop(ag->policy, on_policy_stopped, ag);
	else
		uv_stop(ag->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct agent *ag = h->data;

	if (ag->stopping)
		return;
	ag->stopping = 1;
	ch_info("signal %d: shutting down", signum);
	if (ag->clients != NULL)
		clients_stop(ag, on_stopped, ag);
	else
		on_stopped(ag);
}

/* SIGHUP: the managers' keys again (--authorized-keys), so a manager
 * added there (a move to another hub) is accepted at its next call,
 * without a restart that would drop every session. Connections already
 * up go on; a file that does not load leaves the keys as they were. */
static void on_hup(uv_signal_t *h, int signum)
{
	struct agent *ag = h->data;
	struct ch_authkeys *keys = NULL;

	(void)signum;
	if (ch_authkeys_load(ag->cfg.authkeys_path, &keys) != CH_OK) {
		ch_error("SIGHUP: %s does not load; the %zu manager key(s) "
			 "loaded before stay", ag->cfg.authkeys_path,
			 ch_authkeys_count(ag->authkeys));
		return;
	}
	ch_authkeys_free(ag->authkeys);
	ag->authkeys = keys;
	ch_info("SIGHUP: %zu manager key(s) authorized from %s",
		ch_authkeys_count(keys), ag->cfg.authkeys_path);
}

/* The call-home configuration, until the policy is first loaded. */
static struct chc_config *waiting_chcfg;

static void on_policy_loaded(void *ctx)
{
	struct agent *ag = ctx;
	struct chc_config *cfg = waiting_chcfg;

	waiting_chcfg = NULL;
	if (ag->stopping || cfg == NULL) {
		if (cfg != NULL)
			chc_free(cfg);
		return;
	}
	if (clients_start(ag, cfg) != CH_OK) {
		ch_error("call home: cannot start the clients: stopping");
		ag->stopping = 1;
		on_stopped(ag);
	}
}

/* Writes the command line's configuration of what (xml) to running. */
static int seed_running(struct agent *ag, const char *xml, const char *what)
{
	struct ch_ds_err err;
	xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL,
				    XML_PARSE_NONET | XML_PARSE_NOBLANKS);
	int r;

	if (doc == NULL)
		return CH_ERR_INVAL;
	r = ch_ds_edit(ag->ds, 0, CH_DS_RUNNING, CH_DS_DEFOP_MERGE,
		       CH_DS_TEST_THEN_SET, xmlDocGetRootElement(doc), &err);
	xmlFreeDoc(doc);
	if (r == CH_OK)		/* the candidate starts equal to running */
		r = ch_ds_discard(ag->ds, 0, &err);
	if (r != CH_OK)
		ch_error("%s: the command line's configuration is not "
			 "valid: %s", what, err.message);
	return r;
}

/* The call-home configuration to start with: running's, else the
 * command line's (written to running when there is one). */
static int callhome_config(struct agent *ag, struct chc_config *out)
{
	int given = ag->cfg.nendpoints > 0, r;
	char *xml = NULL;

	memset(out, 0, sizeof(*out));
	if (given && (r = chc_flags_xml(&ag->cfg.chflags, &xml)) != CH_OK)
		return r;
	if (ag->ds == NULL) {
		r = chc_from_xml(xml, out);
		goto out;
	}
	if ((r = chc_from_tree(ch_ds_running_tree(ag->ds), out)) != CH_OK)
		goto out;
	if (out->present) {
		ch_info("call home: %zu netconf-client(s) from the running "
			"configuration%s", out->n, given ? "; the --call-home "
			"flags are ignored (docs/callhome-config.md)" : "");
		goto out;
	}
	if (!given) {
		ch_error("no manager to call: running has no call-home "
			 "configuration and no --call-home was given");
		r = CH_ERR_INVAL;
		goto out;
	}
	if ((r = seed_running(ag, xml, "call home")) != CH_OK ||
	    (r = chc_from_tree(ch_ds_running_tree(ag->ds), out)) != CH_OK)
		goto out;
	ch_info("call home: the command line's configuration is now in "
		"running (%s:netconf-server/call-home)", CHC_MODULE);
out:
	free(xml);
	return r;
}

/* Forwarding's configuration to start with (fwdconfig.h): running's
 * forwarding container, else the --forward flags (written to running
 * when there is a datastore), as for call home. */
static int forward_config(struct agent *ag)
{
	struct fwd_policy *f = &ag->cfg.forward, ran;
	int given = f->enabled || f->nrules > 0, present, r;
	char err[FWDC_ERR_MAX], *xml = NULL;

	if (ag->ds == NULL)
		return CH_OK;
	if ((r = fwdc_from_tree(ch_ds_running_tree(ag->ds), &ran, &present,
				err, sizeof(err))) != CH_OK) {
		ch_error("%s: refusing to start", err);
		return r;
	}
	if (present) {
		if (given)
			ch_info("forwarding: the running configuration's; the "
				"--forward flags are ignored "
				"(docs/remote-access.md)");
		*f = ran;
		return CH_OK;
	}
	if (!given)
		return CH_OK;
	if ((r = fwdc_to_xml(f, &xml)) == CH_OK &&
	    (r = seed_running(ag, xml, "forwarding")) == CH_OK)
		r = fwdc_from_tree(ch_ds_running_tree(ag->ds), f, &present,
				   err, sizeof(err));
	free(xml);
	if (r == CH_OK)
		ch_info("forwarding: the command line's configuration is now "
			"in running (%s:forwarding)", BORDER_MODULE);
	return r;
}

/* ---- terminal access: running's /terminal, else --shell-user ---- */

static uv_timer_t term_timer;

/* What running says, or the flag when it says nothing. */
static int terminal_apply(struct agent *ag, int at_start, int *from_flag)
{
	struct termc cfg;
	int r;

	*from_flag = 0;
	if (ag->ds && termc_from_tree(ch_ds_running_tree(ag->ds), &cfg) !=
	    CH_OK)
		return CH_ERR_NOMEM;
	if (ag->ds == NULL || !cfg.present) {
		if (ag->ds)
			termc_free(&cfg);
		if (ag->cfg.shell_user == NULL) {
			memset(&cfg, 0, sizeof(cfg));
		} else if (termc_from_flag(ag->cfg.shell_user, &cfg) != CH_OK) {
			return CH_ERR_NOMEM;
		}
		*from_flag = ag->cfg.shell_user != NULL;
	} else if (at_start && ag->cfg.shell_user) {
		ch_info("terminal: from the running configuration (%s:"
			"terminal); --shell-user is ignored", TERMC_MODULE);
	}
	r = agent_shells_configure(ag->shells, &cfg);
	termc_free(&cfg);
	return r;
}

static void on_term_timer(uv_timer_t *t)
{
	int from_flag;

	terminal_apply(t->data, 0, &from_flag);
}

/* Running changed: if the terminal's part did (or the edits were too
 * many to tell), read it again from the loop (running may not be
 * replaced yet: a rollback tells first). */
static void on_running_change(void *ctx, uint32_t sid, const char *edits,
			      size_t len)
{
	(void)ctx;
	(void)sid;
	if (len == 0 || memmem(edits, len, TERMC_MODULE,
			       strlen(TERMC_MODULE)) != NULL)
		uv_timer_start(&term_timer, on_term_timer, 0, 0);
}

static int terminal_start(struct agent *ag)
{
	int r, from_flag;

	if (agent_shells_new(ag->loop, &ag->shells) != CH_OK)
		return CH_ERR_NOMEM;
	r = terminal_apply(ag, 1, &from_flag);
	/* an account the flag names must exist (a typo is found now) */
	if (r == CH_ERR_NOMEM || (r != CH_OK && from_flag)) {
		if (r == CH_ERR_INVAL)
			ch_error("--shell-user: no account '%s' on this device",
				 ag->cfg.shell_user);
		return r;
	}
	uv_timer_init(ag->loop, &term_timer);
	term_timer.data = ag;
	uv_unref((uv_handle_t *)&term_timer);
	if (ag->ds)
		ch_ds_on_change(ag->ds, on_running_change, ag);
	return CH_OK;
}

/* borderwatch.h's callback: the notification. */
static void on_border_change(void *ctx, const struct border_change *c)
{
	nc_server_border_change(ctx, c);
}

/* borderwatch.h's: the ruleset follows every pass. */
static void on_border_update(void *ctx, const struct border *b)
{
	border_policy_update(((struct agent *)ctx)->policy, b);
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
	struct chc_config chcfg;
	struct border_watch *bw = NULL;
	uv_signal_t sigint, sigterm, sighup;
	ssh_key key = NULL;
	const char *why = NULL;
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
		static const char *const builtin[] = { chc_module_yang,
						       border_module_yang,
						       termc_module_yang };
		struct ch_ds_config dcfg = {
			.dir = ag.cfg.datastore_dir,
			.yang_dirs = ag.cfg.yang_dirs,
			.nyang_dirs = ag.cfg.nyang_dirs,
			.modules = ag.cfg.modules,
			.nmodules = ag.cfg.nmodules,
			.builtin = builtin,
			.nbuiltin = sizeof(builtin) / sizeof(builtin[0]),
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
	if (ag.cfg.policy.file != NULL &&
	    border_policy_new(ag.loop, &ag.cfg.policy, &ag.policy) != CH_OK)
		return 1;
	/* Not fatal: the agent calls home without a border. */
	if (border_watch_start(ag.loop, &ag.cfg.border, on_border_change,
			       &ag, &bw) == CH_OK) {
		ag.border = border_watch_border(bw);
		if (ag.policy != NULL)
			border_watch_on_update(bw, on_border_update, &ag);
	} else {
		ch_warn("border: the kernel's interfaces cannot be read: no "
			"border classification%s", ag.policy ? ", no policy "
			"written" : "");
	}
	uv_signal_init(ag.loop, &sigint);
	uv_signal_init(ag.loop, &sigterm);
	sigint.data = sigterm.data = &ag;
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	uv_signal_init(ag.loop, &sighup);
	sighup.data = &ag;
	uv_signal_start(&sighup, on_hup, SIGHUP);

	if (callhome_config(&ag, &chcfg) != CH_OK)
		return 1;
	/* SSH managers authenticate with these keys; an agent that calls
	 * only over TLS may have none (SSH calls would then be refused). */
	if (ch_authkeys_load(ag.cfg.authkeys_path, &ag.authkeys) != CH_OK) {
		if (chc_uses_ssh(&chcfg)) {
			ch_error("%s: no usable manager key: the agent would "
				 "refuse every SSH manager",
				 ag.cfg.authkeys_path);
			chc_free(&chcfg);
			return 1;
		}
		ch_warn("%s: no usable manager key: SSH managers would be "
			"refused (the configuration calls over TLS only)",
			ag.cfg.authkeys_path);
	} else {
		ch_info("%zu manager key(s) authorized from %s",
			ch_authkeys_count(ag.authkeys), ag.cfg.authkeys_path);
	}
	if (terminal_start(&ag) != CH_OK)
		return 1;
	if (forward_config(&ag) != CH_OK)
		return 1;
	/* with a datastore, forwarding may be turned on at any time */
	if (ag.cfg.forward.enabled || ag.ds != NULL) {
		if (agent_forwards_new(&ag, &ag.forwards) != CH_OK)
			return 1;
	}
	if (!ag.cfg.forward.enabled && ag.cfg.forward.nrules) {
		ch_warn("--forward-allow without --forward: forwarding stays "
			"off, every direct-tcpip channel is refused");
	}
	if ((ag.cfg.snmp_agent || ag.cfg.snmp_trap_listen) &&
	    agent_snmp_new(&ag, ag.cfg.snmp_agent, ag.cfg.snmp_trap_listen,
			   &ag.snmp, &why) != CH_OK) {
		ch_error("%s", why ? why : "snmp: out of memory");
		return 1;
	}
	if (ag.policy != NULL && bw != NULL) {
		/* dial out once the policy is loaded (borderpolicy.h) */
		waiting_chcfg = &chcfg;
		border_policy_when_loaded(ag.policy, on_policy_loaded, &ag);
	} else if (clients_start(&ag, &chcfg) != CH_OK) {
		return 1;
	}
	uv_run(ag.loop, UV_RUN_DEFAULT);

	uv_walk(ag.loop, close_walk, NULL);
	uv_run(ag.loop, UV_RUN_DEFAULT);
	agent_shells_free(ag.shells);	/* kills what is left */
	agent_forwards_free(ag.forwards);
	agent_snmp_free(ag.snmp);
	ch_ds_close(ag.ds);	/* its timer is closed by now */
	border_watch_free(bw);	/* its handles too */
	border_policy_free(ag.policy);
	nc_server_cleanup(&ag);
	uv_loop_close(ag.loop);
	ch_authkeys_free(ag.authkeys);
	ssh_bind_free(ag.bind);
	for (size_t i = 0; i < ag.cfg.nendpoints; i++)
		free((void *)ag.cfg.endpoints[i].host);
	ssh_finalize();
	ch_info("stopped");
	return 0;
}
