/* loadgen.c - callhome-loadgen: thousands of simulated call-home devices
 * in one process, against any call-home hub (RFC 8071 over SSH).
 *
 * Each device has its own ed25519 host key (generated once into --keys
 * DIR and loaded from there afterwards: key generation would dominate),
 * opens a TCP connection to the hub from one of the --source addresses,
 * and then plays the device: SSH server (public-key authentication of
 * the hub's key only) and NETCONF server on the "netconf" subsystem. It
 * sends its hello (base:1.0 and base:1.1), answers <get-config> and <get>
 * with a small <data>, <close-session> with <ok/> (then the session
 * ends), and every other rpc with <ok/>.
 *
 * One event loop, the project's own transport (lib/xport, as callhomed)
 * and NETCONF session (lib/nc/session). At most --in-flight devices are
 * between connect() and their NETCONF hello at once; a device whose
 * connection fails or ends calls again after --retry-ms, or, with
 * --reconnect, as callhomed's dialer does (src/agent/dialer.c: again at
 * once after a session, a few jittered tries, then a capped exponential
 * back-off with full jitter, lib/core/backoff): what a fleet does when
 * its hub restarts.
 *
 * The report (at the end, or on SIGUSR1): devices up, handshake latency
 * (connect() to the hub's hello) p50/p99, failures and drops by reason.
 * Memory is bounded per device: its key, its latency sample, the state
 * of one connection while it has one.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "lib/core/backoff.h"
#include "lib/core/err.h"
#include "lib/core/limits.h"
#include "lib/core/log.h"
#include "lib/id/sshkey.h"
#include "lib/nc/msg.h"
#include "lib/nc/session.h"
#include "lib/xport/xport.h"

#define PROG "callhome-loadgen"

/* Sizes and waits of this tool (a benchmark, not the daemons: they are
 * not in lib/core/limits.h). */
#define LG_FDS_PER_DEVICE 2	/* the socket and libssh's duplicate */
#define LG_FDS_SPARE 64		/* stdio, the loop, the key files */
#define LG_MAX_SOURCES 256	/* --source range: one /24 at most */
#define LG_MAX_REASONS 32	/* distinct failure texts kept */
#define LG_REASON_LEN 96	/* of each, the first bytes */
#define LG_PROGRESS_MS 1000	/* the progress line's period */
#define LG_MAX_MSG (256u * 1024)	/* one NETCONF message from the hub */
/* --reconnect: callhomed's defaults for one endpoint (lib/core/limits.h,
 * src/agent/dialer.c), so the fleet calls back as real agents would. */
#define LG_RC_TRIES CH_CHC_RS_MAX_ATTEMPTS	/* connects per round */
#define LG_RC_RETRY_MS CH_AGENT_RETRY_DELAY_MS	/* between them, jittered */
#define LG_RC_STABLE_MS CH_AGENT_STABLE_SESSION_MS /* shorter: back off */
#define LG_RC_BASE_MS CH_AGENT_BACKOFF_BASE_MS	/* first round's ceiling */
#define LG_RC_CAP_MS CH_AGENT_BACKOFF_MAX_MS	/* largest ceiling */
#define LG_RETRY_POLL_MS 10	/* retries due but no slot: look again */

enum dev_state {
	DEV_IDLE = 0,		/* not started, or waiting to retry */
	DEV_CONNECTING,		/* TCP connect in progress */
	DEV_HANDSHAKE,		/* SSH + NETCONF hello */
	DEV_UP,			/* the hub's hello came */
};

struct dev {
	ssh_key key;
	struct ch_xport *x;
	struct ch_ncs *ncs;
	uv_poll_t *poll;	/* only while connecting */
	struct dev *next_retry;
	uint64_t t0;		/* connect() (uv_hrtime ns) */
	uint64_t retry_at;	/* ms (uv_now) */
	uint32_t idx;
	uint32_t lat_us;	/* last handshake, 0: none yet */
	uint32_t session_id;
	struct ch_logctx log;
	int fd;
	uint8_t state;
	uint8_t counted;	/* in the in-flight count */
	/* --reconnect only */
	uint8_t connected;	/* TCP connected this attempt */
	uint8_t tries;		/* connects failed in this round */
	uint8_t shorts;		/* sessions shorter than LG_RC_STABLE_MS */
	uint8_t gave_up;
	uint16_t failed_rounds;	/* in a row, since the last hello */
	uint64_t t_conn;	/* TCP connected (uv_now ms) */
	struct ch_backoff bo;
};

/* One second of the --timeline (wall-clock seconds). */
struct tl_sec {
	uint32_t ups, connects, fails, drops, up;
	uint8_t seen;		/* up is valid */
};

struct reason {
	char text[LG_REASON_LEN];
	uint64_t n;
};

static struct lg {
	uv_loop_t *loop;
	struct sockaddr_storage hub;
	socklen_t hub_len;
	struct in_addr src_first;
	uint32_t nsrc;
	uint32_t ndev, inflight_max, retry_ms, timeout_ms, duration_s;
	const char *keys_dir, *authkeys_path, *latency_path;
	int quiet;
	struct ch_authkeys *authkeys;
	ssh_bind bind;
	struct dev *devs;
	uint32_t next_start;	/* devices below it have started once */
	uint32_t inflight, up;
	uint64_t attempts, ups, t_start_ns, t_all_up_ns;
	double cpu_start_s, cpu_all_up_s;	/* our own user+sys */
	struct dev *retry_head, *retry_tail;
	struct reason fail[LG_MAX_REASONS], drop[LG_MAX_REASONS];
	uint64_t fail_other, drop_other, rpcs;
	uv_timer_t tick, retry_timer, stop_timer;
	uv_signal_t sig_usr1, sig_term, sig_int;
	int stopping;
	/* --reconnect: the devices waiting to call, a min-heap by
	 * retry_at (each device at most once) */
	int reconnect, writable_running;
	uint32_t give_up_rounds, gave_up, *heap, nheap;
	uint64_t t_first_drop_ns;	/* since all were last up, 0: none */
	/* --timeline */
	const char *timeline_path;
	struct tl_sec *tl;
	size_t tl_n;
	int64_t tl_epoch0;	/* the wall-clock second of tl[0] */
} lg;

static const char *const nc_caps[] = {
	CH_NC_BASE10, CH_NC_BASE11,
	"urn:ietf:params:netconf:capability:writable-running:1.0",
};

static const char data_xml[] =
	"<interfaces xmlns=\"urn:ietf:params:xml:ns:yang:ietf-interfaces\">"
	"<interface><name>eth0</name><enabled>true</enabled></interface>"
	"</interfaces>";

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " --hub HOST:PORT --keys DIR --authorized-keys FILE [options]\n"
"Simulated call-home devices (SSH server + NETCONF server each, own host\n"
"key each) calling one hub from one process.\n"
"\n"
"  --hub ADDR:PORT          the hub's call-home listener (IPv4)\n"
"  --devices N              devices [1000]\n"
"  --in-flight K            devices between connect and hello at once [64]\n"
"  --source A.B.C.X-A.B.C.Y spread over these source addresses, device i\n"
"                           from the (i mod count)th [the kernel's choice]\n"
"  --keys DIR               one ed25519 key per device (dev-NNNNNN),\n"
"                           created on the first run, loaded afterwards\n"
"  --first N                the first device's number (key names), so\n"
"                           several processes use distinct keys [0]\n"
"  --authorized-keys FILE   the hub's public key(s) (authorized_keys)\n"
"  --duration S             stop after S seconds; 0 = until SIGTERM [0]\n"
"  --retry-ms MS            a failed or dropped device calls again after\n"
"                           MS; 0 = never [1000]\n"
"  --timeout S              connect to hello must take less [30]\n"
"  --latency-file FILE      at the end, every device's last handshake\n"
"                           latency (us), one a line (merging processes)\n"
"  --reconnect              call again as callhomed does, instead of\n"
"                           --retry-ms: at once after a session; a failed\n"
"                           connect again in 0.5-1 s, %d tries a round;\n"
"                           then wait uniform [0, min(%d s, %d s * 2^n)]\n"
"                           after the nth failed round (two sessions\n"
"                           shorter than %d s in a row count as one)\n"
"  --give-up N              with --reconnect: stop calling after N failed\n"
"                           rounds in a row, counted as gave_up [0: never,\n"
"                           as callhomed]\n"
"  --timeline FILE          at the end, one line per wall-clock second:\n"
"                           EPOCH UPS CONNECTS FAILURES DROPS UP (hellos,\n"
"                           connect() calls, failed attempts, sessions\n"
"                           ended, devices up at the second's end)\n"
"  --writable-running       also offer :writable-running (edit-config,\n"
"                           lock, unlock are answered <ok/> either way)\n"
"  --quiet                  no progress line every second\n"
"  -h, --help               this text\n"
"\n"
"Progress goes to stderr once a second; the report goes to stdout at the\n"
"end and on SIGUSR1. Each device needs %d open files: the soft limit is\n"
"raised to the hard one and a larger N is refused (run several processes\n"
"with distinct --first).\n", LG_RC_TRIES, LG_RC_CAP_MS / 1000,
		LG_RC_BASE_MS / 1000, LG_RC_STABLE_MS / 1000, LG_FDS_PER_DEVICE);
}

static void die(const char *what, const char *arg, const char *why)
{
	fprintf(stderr, PROG ": %s '%s': %s\n", what, arg, why);
	exit(2);
}

static uint32_t num(const char *opt, const char *s, uint32_t min,
		    uint32_t max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		char why[64];

		snprintf(why, sizeof(why), "must be %u to %u", min, max);
		die(opt, s, why);
	}
	return (uint32_t)v;
}

static void parse_hub(const char *s)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&lg.hub;
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		die("--hub", s, "must be ADDR:PORT");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		die("--hub", s, "not an IPv4 address");
	sin->sin_port = htons((uint16_t)num("--hub port", colon + 1, 1,
					    65535));
	lg.hub_len = sizeof(*sin);
}

static void parse_source(const char *s)
{
	char a[32], b[32];
	const char *dash = strchr(s, '-');
	struct in_addr x, y;
	uint32_t hx, hy;

	if (dash == NULL) {
		snprintf(a, sizeof(a), "%s", s);
		snprintf(b, sizeof(b), "%s", s);
	} else {
		if ((size_t)(dash - s) >= sizeof(a))
			die("--source", s, "too long");
		memcpy(a, s, (size_t)(dash - s));
		a[dash - s] = 0;
		snprintf(b, sizeof(b), "%s", dash + 1);
	}
	if (inet_pton(AF_INET, a, &x) != 1 || inet_pton(AF_INET, b, &y) != 1)
		die("--source", s, "must be A.B.C.X-A.B.C.Y (IPv4)");
	hx = ntohl(x.s_addr);
	hy = ntohl(y.s_addr);
	if (hy < hx || hy - hx >= LG_MAX_SOURCES)
		die("--source", s, "must be an increasing range of at most "
		    "256 addresses");
	lg.src_first = x;
	lg.nsrc = hy - hx + 1;
}

enum {
	OPT_HUB = 256, OPT_DEVICES, OPT_INFLIGHT, OPT_SOURCE, OPT_KEYS,
	OPT_FIRST, OPT_AUTHKEYS, OPT_DURATION, OPT_RETRY, OPT_TIMEOUT,
	OPT_QUIET, OPT_LATFILE, OPT_RECONNECT, OPT_GIVEUP, OPT_TIMELINE,
	OPT_WRITABLE,
};

static const struct option opts[] = {
	{ "hub", required_argument, NULL, OPT_HUB },
	{ "devices", required_argument, NULL, OPT_DEVICES },
	{ "in-flight", required_argument, NULL, OPT_INFLIGHT },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "first", required_argument, NULL, OPT_FIRST },
	{ "authorized-keys", required_argument, NULL, OPT_AUTHKEYS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "retry-ms", required_argument, NULL, OPT_RETRY },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "latency-file", required_argument, NULL, OPT_LATFILE },
	{ "reconnect", no_argument, NULL, OPT_RECONNECT },
	{ "give-up", required_argument, NULL, OPT_GIVEUP },
	{ "timeline", required_argument, NULL, OPT_TIMELINE },
	{ "writable-running", no_argument, NULL, OPT_WRITABLE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static uint32_t first_idx;

static void parse_args(int argc, char **argv)
{
	int c;

	lg.ndev = 1000;
	lg.inflight_max = 64;
	lg.retry_ms = 1000;
	lg.timeout_ms = 30000;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HUB: parse_hub(optarg); break;
		case OPT_DEVICES:
			lg.ndev = num("--devices", optarg, 1, 1000000);
			break;
		case OPT_INFLIGHT:
			lg.inflight_max = num("--in-flight", optarg, 1, 100000);
			break;
		case OPT_SOURCE: parse_source(optarg); break;
		case OPT_KEYS: lg.keys_dir = optarg; break;
		case OPT_FIRST:
			first_idx = num("--first", optarg, 0, 100000000);
			break;
		case OPT_AUTHKEYS: lg.authkeys_path = optarg; break;
		case OPT_DURATION:
			lg.duration_s = num("--duration", optarg, 0, 86400 * 365);
			break;
		case OPT_RETRY:
			lg.retry_ms = num("--retry-ms", optarg, 0, 3600000);
			break;
		case OPT_TIMEOUT:
			lg.timeout_ms = 1000 * num("--timeout", optarg, 1, 3600);
			break;
		case OPT_QUIET: lg.quiet = 1; break;
		case OPT_LATFILE: lg.latency_path = optarg; break;
		case OPT_RECONNECT: lg.reconnect = 1; break;
		case OPT_GIVEUP:
			lg.give_up_rounds = num("--give-up", optarg, 0, 65535);
			break;
		case OPT_TIMELINE: lg.timeline_path = optarg; break;
		case OPT_WRITABLE: lg.writable_running = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die("argument", argv[optind], "unexpected");
	if (lg.hub_len == 0 || lg.keys_dir == NULL || lg.authkeys_path == NULL) {
		fprintf(stderr, PROG ": --hub, --keys and --authorized-keys are "
			"required (--help)\n");
		exit(2);
	}
	if (lg.give_up_rounds && !lg.reconnect) {
		fprintf(stderr, PROG ": --give-up needs --reconnect\n");
		exit(2);
	}
}

/* The soft open-file limit up to the hard one; N devices must fit. */
static void check_nofile(void)
{
	struct rlimit rl;
	uint64_t need = (uint64_t)lg.ndev * LG_FDS_PER_DEVICE + LG_FDS_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror(PROG ": getrlimit(RLIMIT_NOFILE)");
		exit(1);
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror(PROG ": setrlimit(RLIMIT_NOFILE)");
	}
	if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
		fprintf(stderr, PROG ": --devices %u needs %" PRIu64 " open "
			"files (%d per device), the limit is %llu: at most %llu "
			"devices per process; run several processes with "
			"distinct --first\n", lg.ndev, need, LG_FDS_PER_DEVICE,
			(unsigned long long)rl.rlim_cur,
			(unsigned long long)((rl.rlim_cur - LG_FDS_SPARE) /
					     LG_FDS_PER_DEVICE));
		exit(2);
	}
}

/* ---- keys ---- */

static int load_keys(void)
{
	char path[4096];
	uint32_t i, created = 0;

	if (mkdir(lg.keys_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, PROG ": --keys '%s': %s\n", lg.keys_dir,
			strerror(errno));
		return -1;
	}
	for (i = 0; i < lg.ndev; i++) {
		struct dev *d = &lg.devs[i];

		snprintf(path, sizeof(path), "%s/dev-%06u", lg.keys_dir,
			 first_idx + i);
		if (access(path, F_OK) == 0) {
			if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL,
							&d->key) != SSH_OK) {
				fprintf(stderr, PROG ": key '%s': cannot be "
					"read\n", path);
				return -1;
			}
			continue;
		}
		if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &d->key) != SSH_OK ||
		    ssh_pki_export_privkey_file(d->key, NULL, NULL, NULL,
						path) != SSH_OK) {
			fprintf(stderr, PROG ": key '%s': cannot be created\n",
				path);
			return -1;
		}
		created++;
	}
	if (created)
		fprintf(stderr, PROG ": %u keys created in %s\n", created,
			lg.keys_dir);
	return 0;
}

/* ---- reasons ---- */

static void count_reason(struct reason *tab, uint64_t *other,
			 const char *why)
{
	size_t i;

	if (why == NULL || *why == 0)
		why = "(no reason)";
	for (i = 0; i < LG_MAX_REASONS; i++) {
		if (tab[i].n == 0) {
			snprintf(tab[i].text, sizeof(tab[i].text), "%s", why);
			tab[i].n = 1;
			return;
		}
		if (strncmp(tab[i].text, why, sizeof(tab[i].text) - 1) == 0) {
			tab[i].n++;
			return;
		}
	}
	(*other)++;
}

/* ---- the timeline (--timeline) ---- */

enum tl_what { TL_UP, TL_CONNECT, TL_FAIL, TL_DROP };

static int64_t wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* Counts one event in the current wall-clock second. Memory: one entry
 * per second of the run. */
static void tl_count(enum tl_what what)
{
	int64_t k;
	struct tl_sec *t;

	if (lg.timeline_path == NULL)
		return;
	k = wall_s() - lg.tl_epoch0;
	if (k < 0)
		k = 0;	/* the clock stepped back: into the first second */
	if ((size_t)k >= lg.tl_n) {
		size_t n = lg.tl_n ? lg.tl_n : 64;

		while (n <= (size_t)k)
			n *= 2;
		if ((t = realloc(lg.tl, n * sizeof(*t))) == NULL)
			return;	/* the timeline stops growing; the run goes on */
		memset(t + lg.tl_n, 0, (n - lg.tl_n) * sizeof(*t));
		lg.tl = t;
		lg.tl_n = n;
	}
	t = &lg.tl[k];
	switch (what) {
	case TL_UP: t->ups++; break;
	case TL_CONNECT: t->connects++; break;
	case TL_FAIL: t->fails++; break;
	case TL_DROP: t->drops++; break;
	}
	t->up = lg.up;
	t->seen = 1;
}

static void write_timeline(void)
{
	FILE *f = fopen(lg.timeline_path, "w");
	int64_t last = wall_s() - lg.tl_epoch0;
	uint32_t up = 0;
	size_t k;

	if (f == NULL) {
		fprintf(stderr, PROG ": --timeline '%s': %s\n",
			lg.timeline_path, strerror(errno));
		return;
	}
	for (k = 0; k < lg.tl_n && (int64_t)k <= last; k++) {
		const struct tl_sec *t = &lg.tl[k];

		if (t->seen)
			up = t->up;
		fprintf(f, "%lld %u %u %u %u %u\n",
			(long long)(lg.tl_epoch0 + (int64_t)k), t->ups,
			t->connects, t->fails, t->drops, up);
	}
	if (fclose(f) != 0)
		fprintf(stderr, PROG ": --timeline '%s': %s\n",
			lg.timeline_path, strerror(errno));
}

/* ---- scheduling ---- */

static void start_some(void);
static void on_retry_timer(uv_timer_t *t);
static void start_dev(struct dev *d);

/* --reconnect's waiting devices: a binary min-heap of indices by
 * retry_at, at most one entry per device. */
static int heap_less(uint32_t a, uint32_t b)
{
	return lg.devs[a].retry_at < lg.devs[b].retry_at;
}

static void heap_push(struct dev *d)
{
	uint32_t i = lg.nheap++, tmp;

	lg.heap[i] = d->idx;
	while (i > 0 && heap_less(lg.heap[i], lg.heap[(i - 1) / 2])) {
		tmp = lg.heap[i];
		lg.heap[i] = lg.heap[(i - 1) / 2];
		lg.heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

static struct dev *heap_pop(void)
{
	uint32_t top = lg.heap[0], i = 0, tmp;

	lg.heap[0] = lg.heap[--lg.nheap];
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < lg.nheap && heap_less(lg.heap[l], lg.heap[m]))
			m = l;
		if (r < lg.nheap && heap_less(lg.heap[r], lg.heap[m]))
			m = r;
		if (m == i)
			break;
		tmp = lg.heap[i];
		lg.heap[i] = lg.heap[m];
		lg.heap[m] = tmp;
		i = m;
	}
	return &lg.devs[top];
}

/* Arms the retry timer for the first waiting device. */
static void rc_arm(void)
{
	uint64_t now = uv_now(lg.loop), due;

	if (lg.nheap == 0 || lg.stopping)
		return;
	due = lg.devs[lg.heap[0]].retry_at;
	uv_timer_start(&lg.retry_timer, on_retry_timer,
		       due > now ? due - now : 0, 0);
}

static void rc_call_in(struct dev *d, uint64_t ms)
{
	d->state = DEV_IDLE;
	if (lg.stopping)
		return;
	d->retry_at = uv_now(lg.loop) + ms;
	heap_push(d);
	if (lg.devs[lg.heap[0]].idx == d->idx)
		rc_arm();
}

/* All the round's connects failed (or sessions keep ending at once): the
 * back-off, unless the device gives up. */
static void rc_round_failed(struct dev *d)
{
	d->tries = 0;
	if (d->failed_rounds < UINT16_MAX)
		d->failed_rounds++;
	if (lg.give_up_rounds && d->failed_rounds >= lg.give_up_rounds) {
		d->state = DEV_IDLE;
		d->gave_up = 1;
		lg.gave_up++;
		return;
	}
	rc_call_in(d, ch_backoff_next(&d->bo));
}

/* As callhomed's dialer (next_attempt, conn_ended, round_failed). */
static void rc_after(struct dev *d)
{
	if (!d->connected) {	/* connect() failed: a try of the round */
		if (++d->tries < LG_RC_TRIES)
			rc_call_in(d, LG_RC_RETRY_MS / 2 +
				   ch_backoff_random(&d->bo,
						     LG_RC_RETRY_MS / 2 + 1));
		else
			rc_round_failed(d);
		return;
	}
	d->connected = 0;
	d->shorts = uv_now(lg.loop) - d->t_conn < LG_RC_STABLE_MS
		? (uint8_t)(d->shorts < UINT8_MAX ? d->shorts + 1 : d->shorts)
		: 0;
	if (d->shorts >= 2) {
		rc_round_failed(d);
		return;
	}
	ch_backoff_reset(&d->bo);
	d->tries = 0;
	rc_call_in(d, 0);
}

static void inflight_done(struct dev *d)
{
	if (d->counted) {
		d->counted = 0;
		lg.inflight--;
	}
}

static void retry_later(struct dev *d)
{
	if (lg.reconnect) {
		rc_after(d);
		return;
	}
	d->state = DEV_IDLE;
	if (lg.retry_ms == 0 || lg.stopping)
		return;
	d->retry_at = uv_now(lg.loop) + lg.retry_ms;
	d->next_retry = NULL;
	if (lg.retry_tail)
		lg.retry_tail->next_retry = d;
	else
		lg.retry_head = d;
	lg.retry_tail = d;
	if (!uv_is_active((uv_handle_t *)&lg.retry_timer))
		uv_timer_start(&lg.retry_timer, on_retry_timer, lg.retry_ms,
			       0);
}

/* A device's attempt failed before its hello. */
static void failed(struct dev *d, const char *why)
{
	count_reason(lg.fail, &lg.fail_other, why);
	tl_count(TL_FAIL);
	inflight_done(d);
	retry_later(d);
	start_some();
}

static double cpu_self_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- NETCONF ---- */

static void on_hello(void *ctx, const struct ch_hello *peer)
{
	struct dev *d = ctx;
	uint64_t us = (uv_hrtime() - d->t0) / 1000;

	(void)peer;
	d->lat_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)(us ? us : 1);
	d->state = DEV_UP;
	d->failed_rounds = 0;
	lg.up++;
	lg.ups++;
	tl_count(TL_UP);
	if (lg.up == lg.ndev && lg.t_all_up_ns == 0) {
		lg.t_all_up_ns = uv_hrtime();
		lg.cpu_all_up_s = cpu_self_s();
		fprintf(stderr, PROG ": all %u devices up after %.3f s\n",
			lg.ndev, (double)(lg.t_all_up_ns - lg.t_start_ns) / 1e9);
	} else if (lg.up == lg.ndev && lg.t_first_drop_ns) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(stderr, PROG ": all %u devices up again %.3f s after "
			"the first drop, at epoch %lld.%03ld\n", lg.ndev,
			(double)(uv_hrtime() - lg.t_first_drop_ns) / 1e9,
			(long long)ts.tv_sec, ts.tv_nsec / 1000000);
		lg.t_first_drop_ns = 0;
	}
	ch_xport_deadline(d->x, 0, NULL);
	inflight_done(d);
	start_some();
}

static int on_rpc(void *ctx, const char *msg, size_t len)
{
	struct dev *d = ctx;
	struct ch_rpc *rpc;
	struct ch_buf out;
	int r, close_it = 0;

	lg.rpcs++;
	if (ch_rpc_parse(msg, len, &rpc) != CH_OK)
		return CH_ERR_PROTO;
	ch_buf_init(&out, LG_MAX_MSG);
	if (rpc->op_name && (strcmp(rpc->op_name, "get-config") == 0 ||
			     strcmp(rpc->op_name, "get") == 0)) {
		r = ch_reply_data(&out, rpc, data_xml, sizeof(data_xml) - 1);
	} else {
		close_it = rpc->op_name &&
			   strcmp(rpc->op_name, "close-session") == 0;
		r = ch_reply_ok(&out, rpc);
	}
	if (r == CH_OK)
		r = ch_ncs_send(d->ncs, ch_buf_ptr(&out), ch_buf_len(&out));
	ch_buf_cleanup(&out);
	ch_rpc_free(rpc);
	if (r != CH_OK)
		return r;
	return close_it ? CH_ERR_CLOSED : CH_OK;
}

static void on_ended(void *ctx, const char *why, int graceful)
{
	struct dev *d = ctx;

	(void)why;
	(void)graceful;
	d->ncs = NULL;
	if (d->x)
		ch_xport_close(d->x, "NETCONF session ended");
}

static const struct ch_ncs_ops ncs_ops = {
	.hello = on_hello,
	.on_rpc = on_rpc,
	.ended = on_ended,
};

/* ---- SSH ---- */

static int x_identify(struct ch_xport *x, const struct ch_peer_id *id,
		      const char **why)
{
	(void)x;
	if (id->key && ch_authkeys_match(lg.authkeys, id->key))
		return CH_OK;
	*why = "the hub's key is not in --authorized-keys";
	return CH_ERR_DENIED;
}

static void x_up(struct ch_xport *x)
{
	(void)x;
}

static int x_accept(struct ch_xport *x, struct ch_stream *s,
		    const struct ch_stream_req *req, const char **why)
{
	struct dev *d = ch_xport_owner(x);
	struct ch_ncs_opts o = {
		.loop = lg.loop,
		.role = CH_NC_SERVER,
		.caps = nc_caps,
		.ncaps = lg.writable_running ? 3 : 2,
		.max_msg = LG_MAX_MSG,
		.peer_name = "the hub",
	};

	if (req->type != CH_STREAM_SUBSYSTEM || req->name == NULL ||
	    strcmp(req->name, "netconf") != 0 || d->ncs) {
		*why = "only one netconf subsystem";
		return CH_ERR_DENIED;
	}
	o.session_id = d->session_id = d->session_id + 1;
	if (ch_ncs_new(s, &o, &ncs_ops, d, &d->ncs) != CH_OK) {
		*why = "cannot start a NETCONF session";
		return CH_ERR_NOMEM;
	}
	ch_stream_exit_status(s, 0);
	return CH_OK;
}

static void x_down(struct ch_xport *x, const char *why)
{
	struct dev *d = ch_xport_owner(x);

	if (d->state == DEV_UP) {
		if (lg.up == lg.ndev && lg.t_all_up_ns &&
		    lg.t_first_drop_ns == 0)
			lg.t_first_drop_ns = uv_hrtime();
		lg.up--;
		count_reason(lg.drop, &lg.drop_other, why);
		tl_count(TL_DROP);
	} else {
		count_reason(lg.fail, &lg.fail_other, why);
		tl_count(TL_FAIL);
		inflight_done(d);
	}
	d->state = DEV_IDLE;	/* retried in closed() */
}

static void x_closed(struct ch_xport *x)
{
	struct dev *d = ch_xport_owner(x);

	d->x = NULL;
	retry_later(d);
	start_some();
}

static const struct ch_xport_ops x_ops = {
	.identify = x_identify,
	.up = x_up,
	.accept = x_accept,
	.down = x_down,
	.closed = x_closed,
};

static void start_ssh(struct dev *d)
{
	struct ch_xport_opts o = {
		.log = &d->log,
		.max_streams = 4,
		.peer_name = "hub",
		.bind = lg.bind,
		.max_auth_tries = 6,
	};
	ssh_key k = ssh_key_dup(d->key);
	int fd = d->fd, r;

	d->fd = -1;
	/* the bind takes the key (and frees the previous one); the
	 * session copies it in ssh_bind_accept_fd */
	if (k == NULL || ssh_bind_options_set(lg.bind,
					      SSH_BIND_OPTIONS_IMPORT_KEY,
					      k) != SSH_OK) {
		ssh_key_free(k);
		close(fd);
		failed(d, "cannot set the host key");
		return;
	}
	d->state = DEV_HANDSHAKE;
	r = ch_xport_ssh_server_start(lg.loop, fd, &o, &x_ops, d, &d->x);
	if (r != CH_OK) {
		d->x = NULL;
		failed(d, "cannot start the SSH server");
		return;
	}
	ch_xport_deadline(d->x, lg.timeout_ms, "no NETCONF hello in time");
}

static void poll_closed(uv_handle_t *h)
{
	free(h);
}

static void on_connect(uv_poll_t *p, int status, int events)
{
	struct dev *d = p->data;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)events;
	/* closed now: it takes the fd out of epoll before the xport adds
	 * it again */
	uv_close((uv_handle_t *)p, poll_closed);
	d->poll = NULL;
	/* libuv reports POLLERR as UV_EBADF: the real reason of a failed
	 * connect is in SO_ERROR (as in callhomed's dialer) */
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	else if (err == 0 && status < 0)
		err = -status;
	if (err) {
		char why[LG_REASON_LEN];

		snprintf(why, sizeof(why), "connect: %s", strerror(err));
		close(d->fd);
		d->fd = -1;
		failed(d, why);
		return;
	}
	d->connected = 1;
	d->t_conn = uv_now(lg.loop);
	start_ssh(d);
}

static void start_dev(struct dev *d)
{
	int fd, one = 1;
	char why[LG_REASON_LEN];

	lg.attempts++;
	lg.inflight++;
	d->counted = 1;
	d->connected = 0;
	tl_count(TL_CONNECT);
	d->state = DEV_CONNECTING;
	d->t0 = uv_hrtime();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, sizeof(why), "socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (lg.nsrc) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		src.sin_addr.s_addr = htonl(ntohl(lg.src_first.s_addr) +
					    d->idx % lg.nsrc);
		/* the port is chosen at connect(), per destination: not
		 * one of the ~28k ephemeral ports for good at bind() */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
			snprintf(why, sizeof(why), "bind: %s", strerror(errno));
			goto fail;
		}
	}
	if (connect(fd, (struct sockaddr *)&lg.hub, lg.hub_len) != 0 &&
	    errno != EINPROGRESS) {
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		goto fail;
	}
	d->fd = fd;
	if ((d->poll = malloc(sizeof(*d->poll))) == NULL ||
	    uv_poll_init(lg.loop, d->poll, fd) != 0) {
		free(d->poll);
		d->poll = NULL;
		snprintf(why, sizeof(why), "cannot watch the socket");
		goto fail;
	}
	d->poll->data = d;
	uv_poll_start(d->poll, UV_WRITABLE, on_connect);
	return;
fail:
	if (fd >= 0)
		close(fd);
	d->fd = -1;
	failed(d, why);
}

/* Starts devices (first the ones never started) while slots are free. */
static void start_some(void)
{
	static int busy;

	if (busy || lg.stopping)
		return;
	busy = 1;
	while (lg.inflight < lg.inflight_max && lg.next_start < lg.ndev)
		start_dev(&lg.devs[lg.next_start++]);
	busy = 0;
}

static void on_retry_timer(uv_timer_t *t)
{
	uint64_t now = uv_now(lg.loop);

	(void)t;
	if (lg.reconnect) {
		while (lg.nheap && lg.devs[lg.heap[0]].retry_at <= now &&
		       lg.inflight < lg.inflight_max && !lg.stopping)
			start_dev(heap_pop());
		if (lg.nheap && !lg.stopping &&
		    lg.devs[lg.heap[0]].retry_at <= now)
			uv_timer_start(&lg.retry_timer, on_retry_timer,
				       LG_RETRY_POLL_MS, 0);
		else
			rc_arm();
		return;
	}
	while (lg.retry_head && lg.retry_head->retry_at <= now &&
	       lg.inflight < lg.inflight_max && !lg.stopping) {
		struct dev *d = lg.retry_head;

		lg.retry_head = d->next_retry;
		if (lg.retry_head == NULL)
			lg.retry_tail = NULL;
		start_dev(d);
	}
	if (lg.retry_head && !lg.stopping) {
		uint64_t due = lg.retry_head->retry_at;

		uv_timer_start(&lg.retry_timer, on_retry_timer,
			       due > now ? due - now : 10, 0);
	}
}

/* ---- the report ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t total(const struct reason *tab, uint64_t other)
{
	uint64_t n = other;
	size_t i;

	for (i = 0; i < LG_MAX_REASONS; i++)
		n += tab[i].n;
	return n;
}

static void print_reasons(const char *title, const struct reason *tab,
			  uint64_t other)
{
	size_t i;

	printf("%s: %" PRIu64 "\n", title, total(tab, other));
	for (i = 0; i < LG_MAX_REASONS && tab[i].n; i++)
		printf("  %8" PRIu64 "  %s\n", tab[i].n, tab[i].text);
	if (other)
		printf("  %8" PRIu64 "  (other reasons)\n", other);
}

static void report(void)
{
	uint32_t *l = malloc(sizeof(*l) * lg.ndev), n = 0, i;
	double el = (double)(uv_hrtime() - lg.t_start_ns) / 1e9;

	for (i = 0; l && i < lg.ndev; i++)
		if (lg.devs[i].lat_us)
			l[n++] = lg.devs[i].lat_us;
	if (l && n)
		qsort(l, n, sizeof(*l), cmp_u32);
	printf("devices: %u\n", lg.ndev);
	printf("up: %u\n", lg.up);
	printf("elapsed_s: %.3f\n", el);
	if (lg.t_all_up_ns) {
		printf("all_up_s: %.3f\n",
		       (double)(lg.t_all_up_ns - lg.t_start_ns) / 1e9);
		/* the devices' side of the N handshakes, keys loaded */
		printf("cpu_to_all_up_s: %.3f\n",
		       lg.cpu_all_up_s - lg.cpu_start_s);
	} else {
		printf("all_up_s: -\n");
	}
	printf("attempts: %" PRIu64 "\n", lg.attempts);
	printf("handshakes: %" PRIu64 "\n", lg.ups);
	if (n) {
		printf("latency_p50_ms: %.2f\n", l[n / 2] / 1000.0);
		printf("latency_p99_ms: %.2f\n",
		       l[(size_t)((n - 1) * 0.99)] / 1000.0);
		printf("latency_max_ms: %.2f\n", l[n - 1] / 1000.0);
	}
	printf("rpcs: %" PRIu64 "\n", lg.rpcs);
	if (lg.reconnect)
		printf("gave_up: %u\n", lg.gave_up);
	print_reasons("failures", lg.fail, lg.fail_other);
	print_reasons("drops", lg.drop, lg.drop_other);
	fflush(stdout);
	free(l);
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
	if (lg.quiet)
		return;
	fprintf(stderr, "t=%.1f up=%u in_flight=%u attempts=%" PRIu64
		" failures=%" PRIu64 " drops=%" PRIu64 "\n",
		(double)(uv_hrtime() - lg.t_start_ns) / 1e9, lg.up, lg.inflight,
		lg.attempts, total(lg.fail, lg.fail_other),
		total(lg.drop, lg.drop_other));
	if (lg.reconnect)
		fprintf(stderr, "t=%.1f waiting=%u gave_up=%u\n",
			(double)(uv_hrtime() - lg.t_start_ns) / 1e9, lg.nheap,
			lg.gave_up);
}

static void close_all(void)
{
	uint32_t i;

	lg.stopping = 1;
	for (i = 0; i < lg.ndev; i++) {
		struct dev *d = &lg.devs[i];

		if (d->poll) {
			uv_close((uv_handle_t *)d->poll, poll_closed);
			d->poll = NULL;
			close(d->fd);
			d->fd = -1;
		}
		if (d->x)
			ch_xport_close(d->x, "load generator stopping");
	}
	uv_close((uv_handle_t *)&lg.tick, NULL);
	uv_close((uv_handle_t *)&lg.retry_timer, NULL);
	uv_close((uv_handle_t *)&lg.stop_timer, NULL);
	uv_close((uv_handle_t *)&lg.sig_usr1, NULL);
	uv_close((uv_handle_t *)&lg.sig_term, NULL);
	uv_close((uv_handle_t *)&lg.sig_int, NULL);
}

static void write_latencies(void)
{
	FILE *f = fopen(lg.latency_path, "w");
	uint32_t i;

	if (f == NULL) {
		fprintf(stderr, PROG ": --latency-file '%s': %s\n",
			lg.latency_path, strerror(errno));
		return;
	}
	for (i = 0; i < lg.ndev; i++)
		if (lg.devs[i].lat_us)
			fprintf(f, "%u\n", lg.devs[i].lat_us);
	if (fclose(f) != 0)
		fprintf(stderr, PROG ": --latency-file '%s': %s\n",
			lg.latency_path, strerror(errno));
}

static void stop(void)
{
	if (lg.stopping)
		return;
	report();
	if (lg.latency_path)
		write_latencies();
	if (lg.timeline_path)
		write_timeline();
	close_all();
}

static void on_signal(uv_signal_t *s, int signum)
{
	(void)s;
	if (signum == SIGUSR1)
		report();
	else
		stop();
}

static void on_stop_timer(uv_timer_t *t)
{
	(void)t;
	stop();
}

int main(int argc, char **argv)
{
	uint32_t i;

	parse_args(argc, argv);
	check_nofile();
	signal(SIGPIPE, SIG_IGN);
	ch_log_set_ident(PROG);
	ch_log_set_level(CH_LOG_ERROR);
	ssh_init();
	if (ch_authkeys_load(lg.authkeys_path, &lg.authkeys) != CH_OK)
		return 1;
	if ((lg.devs = calloc(lg.ndev, sizeof(*lg.devs))) == NULL) {
		fprintf(stderr, PROG ": out of memory for %u devices\n",
			lg.ndev);
		return 1;
	}
	if (lg.reconnect &&
	    (lg.heap = calloc(lg.ndev, sizeof(*lg.heap))) == NULL) {
		fprintf(stderr, PROG ": out of memory for %u devices\n",
			lg.ndev);
		return 1;
	}
	for (i = 0; i < lg.ndev; i++) {
		lg.devs[i].idx = i;
		lg.devs[i].fd = -1;
		lg.devs[i].log.conn = first_idx + i;
		if (lg.reconnect)
			ch_backoff_init(&lg.devs[i].bo, LG_RC_BASE_MS,
					LG_RC_CAP_MS, 0);
	}
	lg.tl_epoch0 = wall_s();
	if (load_keys() != 0)
		return 1;
	if ((lg.bind = ssh_bind_new()) == NULL ||
	    ssh_bind_options_set(lg.bind, SSH_BIND_OPTIONS_PROCESS_CONFIG,
				 &(int){0}) != SSH_OK) {
		fprintf(stderr, PROG ": cannot set up libssh\n");
		return 1;
	}
	lg.loop = uv_default_loop();
	uv_timer_init(lg.loop, &lg.tick);
	uv_timer_init(lg.loop, &lg.retry_timer);
	uv_timer_init(lg.loop, &lg.stop_timer);
	uv_signal_init(lg.loop, &lg.sig_usr1);
	uv_signal_init(lg.loop, &lg.sig_term);
	uv_signal_init(lg.loop, &lg.sig_int);
	uv_signal_start(&lg.sig_usr1, on_signal, SIGUSR1);
	uv_signal_start(&lg.sig_term, on_signal, SIGTERM);
	uv_signal_start(&lg.sig_int, on_signal, SIGINT);
	uv_timer_start(&lg.tick, on_tick, LG_PROGRESS_MS, LG_PROGRESS_MS);
	if (lg.duration_s)
		uv_timer_start(&lg.stop_timer, on_stop_timer,
			       (uint64_t)lg.duration_s * 1000, 0);
	lg.t_start_ns = uv_hrtime();
	lg.cpu_start_s = cpu_self_s();
	start_some();
	uv_run(lg.loop, UV_RUN_DEFAULT);
	for (i = 0; i < lg.ndev; i++)
		ssh_key_free(lg.devs[i].key);
	free(lg.devs);
	free(lg.heap);
	free(lg.tl);
	ssh_bind_free(lg.bind);
	ch_authkeys_free(lg.authkeys);
	uv_loop_close(lg.loop);
	ssh_finalize();
	return 0;
}
