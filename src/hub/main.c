/* callhome-hub - the management side of call home: listens on the IANA
 * call-home ports, identifies each device that calls by its host key (SSH)
 * or its certificate (TLS), and is the SSH or TLS client and the NETCONF
 * client on the connection (RFC 8071).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hub/api/api.h"
#include "hub/blocklist.h"
#include "hub/devindex.h"
#include "hub/frontdoor.h"
#include "hub/hub.h"
#include "hub/service.h"
#include "hub/srclimit.h"
#include "hub/supervisor.h"
#include "hub/snmp.h"
#include "lib/net/hostport.h"
#include "common/cliutil.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/limits.h"
#include "lib/nc/frame.h"
#include "lib/core/log.h"
#include "lib/core/version.h"
#include "lib/xport/sshio.h"

#define PROG "callhome-hub"
#define SHORT_OPTS "L:k:u:s:l:hV"
#define DEFAULT_CONFIG CH_CONF_DIR "/hub.conf"
#define DEFAULT_STATE_DIR "/var/lib/callhome"

/* --control-group: a group name, or a number for a group with none. */
static void control_group(struct hub_config *cfg, const char *arg)
{
	struct group *g = *arg ? getgrnam(arg) : NULL;
	char *end;
	unsigned long n;

	cfg->control_group = arg;
	if (g) {
		cfg->control_gid = g->gr_gid;
		return;
	}
	errno = 0;
	n = strtoul(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || *end || errno || n >= (gid_t)-1)
		cli_die(PROG, "--control-group: '", arg, "' is not a group");
	cfg->control_gid = (gid_t)n;
}

/* With --control-group the group may pass through STATE to reach hub.sock
 * (mode 0710: no listing, no reading); everything else in it is created
 * 0600/0700 by the umask and stays the hub user's. */
static int share_state_dir(const struct hub_config *cfg)
{
	struct stat st;

	if (cfg->control_group == NULL)
		return CH_OK;
	if (stat(cfg->state_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    chown(cfg->state_dir, (uid_t)-1, cfg->control_gid) != 0 ||
	    chmod(cfg->state_dir, 0710) != 0) {
		ch_log_errno(CH_LOG_ERROR, "%s: cannot give it to group %s "
			     "(--control-group)", cfg->state_dir,
			     cfg->control_group);
		return CH_ERR_IO;
	}
	return CH_OK;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: callhome-hub [OPTION]...\n"
"The callhome management hub: accepts NETCONF call-home connections over\n"
"SSH and TLS (RFC 8071), identifies each device by its host key\n"
"fingerprint or by its certificate (serial number or pinned fingerprint),\n"
"keeps the registry of devices, and serves the operator's `callhome` CLI\n"
"on STATE/hub.sock.\n"
"\n"
"  -L, --listen ADDR[:PORT]     where devices call (repeatable; port %d by\n"
"                               default; [::]:%d or *:%d style accepted)\n"
"                               [every address, port %d]\n"
"      --listen-tls ADDR[:PORT] where devices call over TLS (repeatable;\n"
"                               port %d by default) [none]\n"
"      --tls-cert FILE          the hub's TLS client certificate (PEM; more\n"
"                               certificates after it are sent as chain)\n"
"      --tls-key FILE           its private key (PEM, unencrypted)\n"
"      --tls-chain FILE         intermediates sent after the certificate\n"
"      --trust-anchor FILE      CA bundle (PEM) that device chains must\n"
"                               lead to: the manufacturers' CAs (repeatable,\n"
"                               at least one with --listen-tls)\n"
"      --crl FILE               CRL (PEM) checked for every CA of a device's\n"
"                               chain (repeatable; with any CRL, every CA\n"
"                               needs its CRL)\n"
"                               A TLS device is admitted only if its chain\n"
"                               validates AND its subject serialNumber or its\n"
"                               certificate fingerprint is in the registry\n"
"                               (`callhome import-serials`, `callhome add`);\n"
"                               see docs/tls.md\n"
"  -k, --ssh-key FILE           this program's own SSH key, as in callhomed:\n"
"                               the hub's client key (created as ed25519 if\n"
"                               absent; public half in FILE.pub, to put in\n"
"                               the devices' authorized_keys; --key is the\n"
"                               same) [STATE/hub_key]\n"
"  -u, --user NAME              SSH and NETCONF user name [%s]\n"
"  -s, --state DIR              registry database and control socket\n"
"                               [" DEFAULT_STATE_DIR "]\n"
"      --control-group GROUP    members of GROUP may use the control socket\n"
"                               (STATE/hub.sock mode 0660, STATE mode 0710,\n"
"                               both of that group; the registry and keys\n"
"                               stay the hub user's only) [the hub's user\n"
"                               only, socket mode 0600]\n"
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
"                               stages at once [%d]; above 3/4 of it a new\n"
"                               one has %d s to finish its handshake\n"
"      --max-handshakes-per-address N  of those, from one source address;\n"
"                               0 = no limit [%d]\n"
"      --max-handshakes-per-prefix N  of those, from one IPv4 /24 or IPv6\n"
"                               /48; 0 = no limit [%d]\n"
"      --workers N              processes serving devices, each an event\n"
"                               loop with its own open-file limit, sharing\n"
"                               the call-home ports (SO_REUSEPORT) under one\n"
"                               supervisor and one control socket; the\n"
"                               handshake limits above are shared among\n"
"                               them; 1 = one process (docs/scale.md) [the\n"
"                               number of cores; 1 with --front-door,\n"
"                               --snmp-map or --snmp-trap-to]\n"
"      --confirm-timeout SECONDS  rollback timer of the confirmed commit\n"
"                               used to apply changes safely [%d]\n"
"      --confirm-after SECONDS  wait this long after the confirmed commit\n"
"                               before confirming it [%d]\n"
"      --idle-close SECONDS     close a device's session politely after it\n"
"                               has been idle with nothing queued this long;\n"
"                               0 = keep it open (persistent); at most %d\n"
"                               days [0]\n"
"      --keepalive SECONDS      keep-alive interval, 0 = off; SSH keep-alives,\n"
"                               over TLS TCP keep-alives plus a NETCONF <get>\n"
"                               probe (no TLS heartbeat in OpenSSL 3) [%d]\n"
"      --keepalive-count N      unanswered keep-alives before a device is\n"
"                               declared dead [%d]\n"
"      --handshake-timeout SECONDS  from TCP accept to NETCONF hello [%d]\n"
"      --rpc-timeout SECONDS    a device must answer an rpc within [%d]\n"
"      --max-message BYTES      largest NETCONF message accepted [%u]\n"
"      --term-grace SECONDS     keep a pty shell whose operator's connection\n"
"                               dropped this long for `callhome shell\n"
"                               --attach`; 0 = end it at once; at most %d\n"
"                               [%d]\n"
"      --record-input           also record what operators type in\n"
"                               STATE/recordings (it carries passwords)\n"
"      --no-device-notifications  do not subscribe to devices' NETCONF\n"
"                               notifications (RFC 5277); by default they\n"
"                               become events (callhome events)\n"
"      --no-config-archive      do not fetch and keep devices' running\n"
"                               configurations (callhome config, history,\n"
"                               diff)\n"
"      --snmp-map DEVICE=[BIND:]PORT\n"
"                               a UDP endpoint (BIND 127.0.0.1 by default)\n"
"                               whose SNMP datagrams go to DEVICE's snmpd\n"
"                               over its call-home connection (RFC 5592\n"
"                               snmp channels; repeatable; docs/snmp.md)\n"
"      --snmp-trap-to ADDR:PORT send the devices' SNMP notifications to this\n"
"                               trap receiver (UDP; repeatable)\n"
"      --junos-secrets FILE     read the Junos outbound-ssh preamble of\n"
"                               devices calling over SSH; FILE has lines\n"
"                               'DEVICE-ID SECRET' (mode 0600, read at each\n"
"                               call): the HMAC of HOST-KEY must verify with\n"
"                               the secret, and the handshake must show that\n"
"                               key; DEVICE-ID is the name offered at\n"
"                               enrollment; see docs/junos.md\n"
"      --junos-allow-unsigned   also accept a Junos preamble whose DEVICE-ID\n"
"                               has no secret (unauthenticated: logged)\n"
"      --front-door ADDR[:PORT] serve operators' NETCONF clients over SSH\n"
"                               here (repeatable; port %d by default): the\n"
"                               SSH user name picks the device (DEVICE or\n"
"                               OPERATOR+DEVICE), each session is relayed\n"
"                               to a netconf channel on the device's call-\n"
"                               home connection; see docs/front-door.md\n"
"                               [off]\n"
"      --operator-keys FILE     the front door's operators: authorized_keys\n"
"                               lines with operator=\"NAME\" and\n"
"                               devices=\"r1,site-*\" options (needed with\n"
"                               --front-door)\n"
"      --front-door-key FILE    its SSH host key (created as ed25519 if\n"
"                               absent) [STATE/front_door_host_key]\n"
"      --front-door-idle SECONDS  close a front-door connection whose\n"
"                               sessions moved no byte this long; at most\n"
"                               %d [%d]\n"
"      --config FILE            read options from FILE first: 'key = value'\n"
"                               lines, keys the long options' names; the\n"
"                               command line wins (docs/configuration.md)\n"
"                               [" DEFAULT_CONFIG ", if it exists]\n"
"  -l, --log-level LEVEL        error, warn, info or debug [info]\n"
"      --log-target TARGET      auto: the journal when standard error is\n"
"                               its stream, else standard error; stderr;\n"
"                               or syslog [auto]\n"
"  -h, --help                   this text\n"
"  -V, --version                print the version\n",
		CH_PORT_SSH, CH_PORT_SSH, CH_PORT_SSH, CH_PORT_SSH, CH_PORT_TLS,
		HUB_DEFAULT_USER,
		CH_BLOCK_WINDOW_S, CH_BLOCK_THRESHOLD, CH_BLOCK_SECONDS,
		CH_HUB_MAX_HANDSHAKES, CH_HUB_HANDSHAKE_PRESSURE_MS / 1000,
		CH_HUB_HANDSHAKES_PER_ADDR, CH_HUB_HANDSHAKES_PER_PREFIX,
		CH_HUB_CONFIRM_TIMEOUT_S,
		CH_HUB_CONFIRM_AFTER_S, CH_IDLE_CLOSE_MAX_DAYS,
		CH_SSH_KEEPALIVE_MS / 1000, CH_SSH_KEEPALIVE_COUNT,
		CH_HUB_HANDSHAKE_TIMEOUT_MS / 1000, CH_HUB_RPC_TIMEOUT_MS / 1000,
		CH_FRAME_MAX_MSG_DEFAULT, CH_TERM_GRACE_MAX_S,
		CH_TERM_GRACE_S, CH_FD_PORT, CH_FD_IDLE_MAX_S, CH_FD_IDLE_S);
}

enum {
	OPT_ACCEPT_NEW = 256, OPT_KEEPALIVE, OPT_KEEPALIVE_COUNT,
	OPT_HANDSHAKE_TIMEOUT, OPT_RPC_TIMEOUT, OPT_MAX_MESSAGE,
	OPT_ADMISSION, OPT_BLOCK_AFTER, OPT_BLOCK_FOR, OPT_MAX_HANDSHAKES,
	OPT_HANDSHAKES_PER_ADDR, OPT_HANDSHAKES_PER_PREFIX,
	OPT_CONFIRM_TIMEOUT, OPT_CONFIRM_AFTER, OPT_IDLE_CLOSE,
	OPT_LISTEN_TLS, OPT_TLS_CERT, OPT_TLS_KEY, OPT_TLS_CHAIN,
	OPT_TRUST_ANCHOR, OPT_CRL, OPT_TERM_GRACE, OPT_RECORD_INPUT,
	OPT_SNMP_MAP, OPT_SNMP_TRAP_TO,
	OPT_JUNOS_SECRETS, OPT_JUNOS_ALLOW_UNSIGNED, OPT_CONTROL_GROUP,
	OPT_FRONT_DOOR, OPT_OPERATOR_KEYS, OPT_FRONT_DOOR_KEY,
	OPT_FRONT_DOOR_IDLE,
	OPT_CONFIG, OPT_LOG_TARGET,
	OPT_NO_DEVICE_NOTIFICATIONS, OPT_NO_CONFIG_ARCHIVE, OPT_WORKERS,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, 'L' },
	{ "listen-tls", required_argument, NULL, OPT_LISTEN_TLS },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-chain", required_argument, NULL, OPT_TLS_CHAIN },
	{ "trust-anchor", required_argument, NULL, OPT_TRUST_ANCHOR },
	{ "crl", required_argument, NULL, OPT_CRL },
	{ "ssh-key", required_argument, NULL, 'k' },
	{ "key", required_argument, NULL, 'k' },	/* its first name */
	{ "user", required_argument, NULL, 'u' },
	{ "state", required_argument, NULL, 's' },
	{ "control-group", required_argument, NULL, OPT_CONTROL_GROUP },
	{ "accept-new", no_argument, NULL, OPT_ACCEPT_NEW },
	{ "admission", required_argument, NULL, OPT_ADMISSION },
	{ "block-after", required_argument, NULL, OPT_BLOCK_AFTER },
	{ "block-for", required_argument, NULL, OPT_BLOCK_FOR },
	{ "max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES },
	{ "max-handshakes-per-address", required_argument, NULL,
	  OPT_HANDSHAKES_PER_ADDR },
	{ "max-handshakes-per-prefix", required_argument, NULL,
	  OPT_HANDSHAKES_PER_PREFIX },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "confirm-timeout", required_argument, NULL, OPT_CONFIRM_TIMEOUT },
	{ "confirm-after", required_argument, NULL, OPT_CONFIRM_AFTER },
	{ "idle-close", required_argument, NULL, OPT_IDLE_CLOSE },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "keepalive-count", required_argument, NULL, OPT_KEEPALIVE_COUNT },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
	{ "rpc-timeout", required_argument, NULL, OPT_RPC_TIMEOUT },
	{ "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
	{ "term-grace", required_argument, NULL, OPT_TERM_GRACE },
	{ "record-input", no_argument, NULL, OPT_RECORD_INPUT },
	{ "no-device-notifications", no_argument, NULL,
	  OPT_NO_DEVICE_NOTIFICATIONS },
	{ "no-config-archive", no_argument, NULL, OPT_NO_CONFIG_ARCHIVE },
	{ "snmp-map", required_argument, NULL, OPT_SNMP_MAP },
	{ "snmp-trap-to", required_argument, NULL, OPT_SNMP_TRAP_TO },
	{ "junos-secrets", required_argument, NULL, OPT_JUNOS_SECRETS },
	{ "junos-allow-unsigned", no_argument, NULL,
	  OPT_JUNOS_ALLOW_UNSIGNED },
	{ "front-door", required_argument, NULL, OPT_FRONT_DOOR },
	{ "operator-keys", required_argument, NULL, OPT_OPERATOR_KEYS },
	{ "front-door-key", required_argument, NULL, OPT_FRONT_DOOR_KEY },
	{ "front-door-idle", required_argument, NULL, OPT_FRONT_DOOR_IDLE },
	{ "log-level", required_argument, NULL, 'l' },
	{ "log-target", required_argument, NULL, OPT_LOG_TARGET },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* --listen and --listen-tls: into list (n entries), port dflt unless
 * given. */
static void add_listen(struct hub_listen *list, size_t *n, const char *arg,
		       uint16_t dflt, const char *opt)
{
	struct hub_listen *l;
	char what[32];

	snprintf(what, sizeof(what), "%s: '", opt);
	if (*n >= CH_HUB_MAX_LISTEN)
		cli_die(PROG, opt, ": given more than 16 times", "");
	l = &list[*n];
	if (strncmp(arg, "*:", 2) == 0 || strcmp(arg, "*") == 0) {
		/* every address: host NULL */
		if (ch_hostport_parse(arg[1] ? arg + 2 : "0.0.0.0",
				      dflt, &l->host, &l->port) != CH_OK)
			cli_die(PROG, what, arg, "' is not ADDR[:PORT]");
		free(l->host);
		l->host = NULL;
	} else if (ch_hostport_parse(arg, dflt, &l->host, &l->port) !=
		   CH_OK) {
		cli_die(PROG, what, arg, "' is not ADDR[:PORT]");
	}
	(*n)++;
}

static void add_file(const char **list, size_t *n, const char *arg,
		     const char *opt)
{
	if (*n >= CH_TLS_MAX_FILES)
		cli_die(PROG, "too many --", opt, " (at most 16)");
	if (*arg == '\0')
		cli_die(PROG, "--", opt, " needs a file name");
	list[(*n)++] = arg;
}

/* --workers: what is not yet spread over workers needs one process.
 * Unset: the cores. */
static void workers_check(struct hub_config *cfg)
{
	const char *single = cfg->nfront_door ? "--front-door" :
			     cfg->nsnmp_maps ? "--snmp-map" :
			     cfg->nsnmp_trap_to ? "--snmp-trap-to" : NULL;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cfg->workers > 1 && single)
		cli_die(PROG, single, " needs --workers 1 (it is served by "
			"one process)", "");
	if (cfg->workers == 0)
		cfg->workers = single || cores < 1 ? 1 :
			       cores > CH_HUB_MAX_WORKERS ? CH_HUB_MAX_WORKERS :
			       (unsigned)cores;
}

static void parse_args(int argc, char **argv, struct hub_config *cfg)
{
	static struct cli_args args;	/* cfg points into it */
	int c;

	ch_log_set_target(CH_LOG_TARGET_AUTO);

	cfg->user = HUB_DEFAULT_USER;
	cfg->state_dir = DEFAULT_STATE_DIR;
	cfg->keepalive_ms = CH_SSH_KEEPALIVE_MS;
	cfg->keepalive_count = CH_SSH_KEEPALIVE_COUNT;
	cfg->handshake_timeout_ms = CH_HUB_HANDSHAKE_TIMEOUT_MS;
	cfg->rpc_timeout_ms = CH_HUB_RPC_TIMEOUT_MS;
	cfg->max_message = CH_FRAME_MAX_MSG_DEFAULT;
	cfg->admission = HUB_ADMIT_APPROVE;
	cfg->block_after = CH_BLOCK_THRESHOLD;
	cfg->block_for_s = CH_BLOCK_SECONDS;
	cfg->max_handshakes = CH_HUB_MAX_HANDSHAKES;
	cfg->handshakes_per_addr = CH_HUB_HANDSHAKES_PER_ADDR;
	cfg->handshakes_per_prefix = CH_HUB_HANDSHAKES_PER_PREFIX;
	cfg->confirm_timeout_s = CH_HUB_CONFIRM_TIMEOUT_S;
	cfg->confirm_after_s = CH_HUB_CONFIRM_AFTER_S;
	cfg->term_grace_s = CH_TERM_GRACE_S;
	cfg->front_door_idle_s = CH_FD_IDLE_S;

	cli_args_build(PROG, argc, argv, SHORT_OPTS, long_opts, OPT_CONFIG,
		       DEFAULT_CONFIG, &args);
	while (cli_args_at(&args),
	       (c = getopt_long(args.argc, args.argv, SHORT_OPTS, long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'L':
			add_listen(cfg->listen, &cfg->nlisten, optarg,
				   CH_PORT_SSH, "--listen");
			break;
		case OPT_LISTEN_TLS:
			add_listen(cfg->listen_tls, &cfg->nlisten_tls, optarg,
				   CH_PORT_TLS, "--listen-tls");
			break;
		case OPT_TLS_CERT: cfg->tls_cert = optarg; break;
		case OPT_TLS_KEY: cfg->tls_key = optarg; break;
		case OPT_TLS_CHAIN: cfg->tls_chain = optarg; break;
		case OPT_TRUST_ANCHOR:
			add_file(cfg->trust_anchors, &cfg->ntrust_anchors,
				 optarg, "trust-anchor");
			break;
		case OPT_CRL:
			add_file(cfg->crls, &cfg->ncrls, optarg, "crl");
			break;
		case 'k': cfg->key_path = optarg; break;
		case 'u':
			if (*optarg == '\0' || strlen(optarg) > 63)
				cli_die(PROG, "--user: '", optarg, "' must be 1 to "
					  "63 characters");
			cfg->user = optarg;
			break;
		case 's': cfg->state_dir = optarg; break;
		case OPT_CONTROL_GROUP:
			control_group(cfg, optarg);
			break;
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
						   0, CH_BLOCK_THRESHOLD_MAX);
			break;
		case OPT_BLOCK_FOR:
			cfg->block_for_s = cli_u32(PROG, "block-for", optarg,
						   1, CH_BLOCK_SECONDS_MAX);
			break;
		case OPT_MAX_HANDSHAKES:
			cfg->max_handshakes = cli_u32(PROG, "max-handshakes",
						      optarg, 1,
						      CH_HUB_MAX_HANDSHAKES_LIMIT);
			break;
		case OPT_HANDSHAKES_PER_ADDR:
			cfg->handshakes_per_addr = cli_u32(PROG,
				"max-handshakes-per-address", optarg, 0,
				CH_HUB_MAX_HANDSHAKES_LIMIT);
			break;
		case OPT_HANDSHAKES_PER_PREFIX:
			cfg->handshakes_per_prefix = cli_u32(PROG,
				"max-handshakes-per-prefix", optarg, 0,
				CH_HUB_MAX_HANDSHAKES_LIMIT);
			break;
		case OPT_WORKERS:
			cfg->workers = cli_u32(PROG, "workers", optarg, 1,
					       CH_HUB_MAX_WORKERS);
			break;
		case OPT_CONFIRM_TIMEOUT:
			cfg->confirm_timeout_s = cli_u32(PROG, "confirm-timeout",
							 optarg, 1,
							 CH_HUB_CONFIRM_TIMEOUT_MAX_S);
			break;
		case OPT_CONFIRM_AFTER:
			cfg->confirm_after_s = cli_u32(PROG, "confirm-after",
						       optarg, 0,
						       CH_HUB_CONFIRM_AFTER_MAX_S);
			break;
		case OPT_IDLE_CLOSE:
			cfg->idle_close_s = cli_u32(PROG, "idle-close", optarg,
						    0, CH_IDLE_CLOSE_MAX_S);
			break;
		case OPT_KEEPALIVE:
			cfg->keepalive_ms = 1000 *
				cli_u32(PROG, "keepalive", optarg, 0,
					CH_HUB_KEEPALIVE_MAX_S);
			break;
		case OPT_KEEPALIVE_COUNT:
			cfg->keepalive_count =
				cli_u32(PROG, "keepalive-count", optarg, 1,
					CH_HUB_KEEPALIVE_COUNT_MAX);
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			cfg->handshake_timeout_ms = 1000 *
				cli_u32(PROG, "handshake-timeout", optarg, 1,
					CH_HUB_HANDSHAKE_TIMEOUT_MAX_S);
			break;
		case OPT_RPC_TIMEOUT:
			cfg->rpc_timeout_ms = 1000 *
				cli_u32(PROG, "rpc-timeout", optarg, 1,
					CH_HUB_RPC_TIMEOUT_MAX_S);
			break;
		case OPT_MAX_MESSAGE:
			cfg->max_message = cli_u32(PROG, "max-message", optarg,
						   CH_MAX_MESSAGE_MIN,
						   CH_MAX_MESSAGE_MAX);
			break;
		case OPT_TERM_GRACE:
			cfg->term_grace_s = cli_u32(PROG, "term-grace", optarg,
						    0, CH_TERM_GRACE_MAX_S);
			break;
		case OPT_RECORD_INPUT: cfg->record_input = 1; break;
		case OPT_NO_DEVICE_NOTIFICATIONS:
			cfg->no_device_notifications = 1;
			break;
		case OPT_NO_CONFIG_ARCHIVE: cfg->no_config_archive = 1; break;
		case OPT_SNMP_MAP:
			if (cfg->nsnmp_maps >= CH_HUB_SNMP_MAPS)
				cli_die(PROG, "too many --snmp-map (at most "
					CH_STR(CH_HUB_SNMP_MAPS) ")", "", "");
			if (snmp_map_parse(optarg, &cfg->snmp_maps[
					   cfg->nsnmp_maps]) != CH_OK)
				cli_die(PROG, "--snmp-map: '", optarg, "' is not "
					"DEVICE=[BIND:]PORT (BIND a numeric "
					"address)");
			cfg->nsnmp_maps++;
			break;
		case OPT_SNMP_TRAP_TO:
			if (cfg->nsnmp_trap_to >= CH_HUB_SNMP_TRAP_TO)
				cli_die(PROG, "too many --snmp-trap-to (at "
					"most " CH_STR(CH_HUB_SNMP_TRAP_TO) ")",
					"", "");
			if (ch_sockaddr_parse(optarg, CH_PORT_SNMP_TRAP, 0,
					      &cfg->snmp_trap_to[
					      cfg->nsnmp_trap_to].addr,
					      &cfg->snmp_trap_to[
					      cfg->nsnmp_trap_to].len) != CH_OK)
				cli_die(PROG, "--snmp-trap-to: '", optarg,
					"' is not ADDR[:PORT] (a numeric "
					"address)");
			cfg->nsnmp_trap_to++;
			break;
		case OPT_JUNOS_SECRETS:
			if (*optarg == '\0')
				cli_die(PROG, "--junos-secrets needs a file "
					"name", "", "");
			cfg->junos_secrets = optarg;
			break;
		case OPT_JUNOS_ALLOW_UNSIGNED:
			cfg->junos_allow_unsigned = 1;
			break;
		case OPT_FRONT_DOOR:
			add_listen(cfg->front_door, &cfg->nfront_door, optarg,
				   CH_FD_PORT, "--front-door");
			break;
		case OPT_OPERATOR_KEYS: cfg->operator_keys = optarg; break;
		case OPT_FRONT_DOOR_KEY: cfg->front_door_key = optarg; break;
		case OPT_FRONT_DOOR_IDLE:
			cfg->front_door_idle_s = cli_u32(PROG,
				"front-door-idle", optarg, 1,
				CH_FD_IDLE_MAX_S);
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
		case 'V': printf("callhome-hub %s (commit %s)\n",
				  CH_VERSION, ch_commit); exit(0);
		default:
			fprintf(stderr, "Try 'callhome-hub --help'.\n");
			exit(1);
		}
	}
	cli_args_done();
	if (optind < args.argc)
		cli_die(PROG, "unexpected argument '", args.argv[optind], "'");
	if (args.file != NULL && getenv(SUPERVISOR_WORKER_ENV) == NULL)
		ch_info("configuration file %s", args.file);	/* once */
	if (cfg->nlisten_tls) {
		if (cfg->tls_cert == NULL || cfg->tls_key == NULL)
			cli_die(PROG, "--listen-tls needs --tls-cert and "
				"--tls-key (the hub's client certificate)", "",
				"");
		if (cfg->ntrust_anchors == 0)
			cli_die(PROG, "--listen-tls needs at least one "
				"--trust-anchor (the CA that issues the "
				"devices' certificates)", "", "");
	} else if (cfg->tls_cert || cfg->tls_key || cfg->tls_chain ||
		   cfg->ntrust_anchors || cfg->ncrls) {
		cli_die(PROG, "TLS options given without --listen-tls", "",
			"");
	}
	if (cfg->nfront_door && cfg->operator_keys == NULL)
		cli_die(PROG, "--front-door needs --operator-keys (who may "
			"come in, and to which devices)", "", "");
	if (!cfg->nfront_door && (cfg->operator_keys || cfg->front_door_key))
		cli_die(PROG, "front-door options given without --front-door",
			"", "");
	if (cfg->nlisten == 0 && cfg->nlisten_tls == 0) {
		cfg->listen[0].host = NULL;	/* every address */
		cfg->listen[0].port = CH_PORT_SSH;
		cfg->nlisten = 1;
	}
	workers_check(cfg);
}

static uv_signal_t sig_int, sig_term, sig_hup;

static void on_signal(uv_signal_t *h, int signum)
{
	struct hub *hub = h->data;

	ch_info("signal %d: shutting down", signum);
	service_stop(hub);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&sig_hup, NULL);
}

/* The TLS context from the files named on the command line. */
static int load_tls(const struct hub_config *cfg, struct ch_tls_ctx **out)
{
	struct ch_tls_ctx_opts o = {
		.cert_file = cfg->tls_cert,
		.key_file = cfg->tls_key,
		.chain_file = cfg->tls_chain,
		.ca_files = cfg->trust_anchors,
		.nca_files = cfg->ntrust_anchors,
		.crl_files = cfg->crls,
		.ncrl_files = cfg->ncrls,
		.verify = CH_TLS_VERIFY_REQUIRE,
	};
	int r = ch_tls_client_ctx_new(&o, out);

	if (r == CH_OK)
		ch_info("TLS: client certificate %s, %zu trust anchor file(s), "
			"%zu CRL file(s)", cfg->tls_cert, cfg->ntrust_anchors,
			cfg->ncrls);
	return r;
}

/* SIGHUP: the TLS files again (renewed CRLs, certificates, anchors) for
 * the next connections; sessions up keep theirs. A file that no longer
 * loads keeps the old context. */
static void on_hup(uv_signal_t *h, int signum)
{
	struct hub *hub = h->data;
	struct ch_tls_ctx *fresh;

	(void)signum;
	if (hub->tls_ctx == NULL)
		return;
	if (load_tls(&hub->cfg, &fresh) != CH_OK) {
		ch_error("SIGHUP: the TLS files do not load; the previous "
			 "ones stay in use");
		return;
	}
	ch_tls_ctx_free(hub->tls_ctx);
	hub->tls_ctx = fresh;
	hub->devcfg.tls = fresh;	/* what the next devices start with */
	ch_info("SIGHUP: TLS files reloaded");
}

/* 1 in a worker of the hub (supervisor.h), which the supervisor made. */
static int worker;

/* limit / n, rounded up; 0 (no limit) stays 0. */
static uint32_t share(uint32_t limit, int n)
{
	return limit == 0 ? 0 : (limit + (uint32_t)n - 1) / (uint32_t)n;
}

/* Worker K of N, its channel on FD, when SUPERVISOR_WORKER_ENV says so;
 * else a hub of cfg.workers processes, this one first. */
static int worker_env(struct hub *hub)
{
	const char *e = getenv(SUPERVISOR_WORKER_ENV);
	int k, n, fd, end = 0;

	hub->wlink_fd = -1;
	hub->nworkers = (int)hub->cfg.workers;
	if (e == NULL)
		return CH_OK;
	if (sscanf(e, "%d/%d/%d%n", &k, &n, &fd, &end) != 3 || e[end] ||
	    n < 2 || n > CH_HUB_MAX_WORKERS || k < 0 || k >= n || fd < 3) {
		ch_error(SUPERVISOR_WORKER_ENV "='%s': not K/N/FD", e);
		return CH_ERR_INVAL;
	}
	worker = 1;
	hub->worker = k;
	hub->nworkers = n;
	/* the handshake limits are the hub's: the kernel spreads a source's
	 * connections evenly over the workers, each takes its share */
	hub->cfg.max_handshakes = share(hub->cfg.max_handshakes, n);
	hub->cfg.handshakes_per_addr = share(hub->cfg.handshakes_per_addr, n);
	hub->cfg.handshakes_per_prefix =
		share(hub->cfg.handshakes_per_prefix, n);
	hub->wlink_fd = fd;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	unsetenv(SUPERVISOR_WORKER_ENV);	/* not for our children */
	return CH_OK;
}

int main(int argc, char **argv)
{
	struct hub hub;
	char key_path[4096], db_path[4096];
	char *pub = NULL;
	int created = 0, rc = 1, in_doubt = 0;

	memset(&hub, 0, sizeof(hub));
	hub.started = (int64_t)time(NULL);
	/* The registry holds device identities and configuration payloads:
	 * nothing the hub creates is for other users. */
	umask(077);
	ch_log_set_ident("callhome-hub");
	parse_args(argc, argv, &hub.cfg);
	if (worker_env(&hub) != CH_OK)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	ssh_init();
	ch_log_route_libssh();

	if (ch_mkdirs(hub.cfg.state_dir, 0700) != CH_OK ||
	    share_state_dir(&hub.cfg) != CH_OK)
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
	if (!worker) {		/* said once, by the supervisor */
		ch_info("client key %s%s: %s", hub.cfg.key_path,
			created ? " (created)" : "", hub.key_fp);
		ch_info("devices must authorize: %s", pub ? pub : "?");
	}
	snprintf(db_path, sizeof(db_path), "%s/registry.db", hub.cfg.state_dir);
	if (ch_store_open(db_path, &hub.store) != CH_OK)
		goto out;
	/* whose the sessions and running jobs are, when a worker dies */
	ch_store_set_holder(hub.store, (int64_t)getpid());
	if (worker)	/* the open group holds the lock the others wait for */
		ch_store_set_group_ms(hub.store, CH_STORE_GROUP_SHARED_MS);
	if (!worker)		/* the hub starts: nothing is live */
		ch_store_reset_connections(hub.store);
	if (!worker &&
	    ch_store_jobs_recover(hub.store, (int64_t)time(NULL), &in_doubt) ==
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
	hub.srclimit = srclimit_new(hub.cfg.handshakes_per_addr,
				    hub.cfg.handshakes_per_prefix);
	hub.index = devindex_new();
	if (hub.blocklist == NULL || hub.srclimit == NULL || hub.index == NULL)
		goto out;

	if (hub.cfg.nlisten_tls && load_tls(&hub.cfg, &hub.tls_ctx) != CH_OK)
		goto out;

	hub.loop = uv_default_loop();
	hub.next_conn_id = 1;
	if (!worker && hub.nworkers > 1) {
		rc = supervisor_run(&hub, argv);
		goto out;
	}
	if (service_start(&hub, api_ops(&hub), api_query) != CH_OK) {
		service_stop(&hub);
		uv_run(hub.loop, UV_RUN_DEFAULT);
		goto out;
	}
	uv_signal_init(hub.loop, &sig_int);
	uv_signal_init(hub.loop, &sig_term);
	uv_signal_init(hub.loop, &sig_hup);
	sig_int.data = sig_term.data = sig_hup.data = &hub;
	uv_signal_start(&sig_int, on_signal, SIGINT);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_signal_start(&sig_hup, on_hup, SIGHUP);
	if (!worker)
		ch_info("hub ready (user '%s', admission %s)", hub.cfg.user,
			hub_admission_policy_name(hub.cfg.admission));

	uv_run(hub.loop, UV_RUN_DEFAULT);
	rc = 0;
	if (worker)
		ch_info("worker %d stopped", hub.worker);
	else
		ch_info("stopped");
out:
	snmp_free(&hub);
	if (hub.loop && uv_loop_close(hub.loop) != 0)
		ch_debug("loop closed with handles left");
	frontdoor_free(&hub);
	ch_store_close(hub.store);
	blocklist_free(hub.blocklist);
	srclimit_free(hub.srclimit);
	devindex_free(hub.index);
	ssh_key_free(hub.key);
	ch_tls_ctx_free(hub.tls_ctx);
	free(pub);
	for (size_t i = 0; i < hub.cfg.nlisten; i++)
		free(hub.cfg.listen[i].host);
	for (size_t i = 0; i < hub.cfg.nlisten_tls; i++)
		free(hub.cfg.listen_tls[i].host);
	for (size_t i = 0; i < hub.cfg.nfront_door; i++)
		free(hub.cfg.front_door[i].host);
	ssh_finalize();
	return rc;
}
