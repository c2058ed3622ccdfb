/* nc2hub.c - callhome-nc2hub: libnetconf2's call-home accept loop as a
 * peer in the scale benchmark (bench/README.md, "Scale").
 *
 * What a manager built on libnetconf2 2.x does to take call-home
 * devices: nc_client_ssh_ch_add_bind_listen() on ADDR:PORT, then
 * nc_accept_callhome() in a loop, each accepted session kept open and
 * never read (idle). SSH client role, any host key accepted, public-key
 * authentication with KEY (KEY.pub beside it) as USER. The libyang
 * context is one for all sessions, or with --ctx-per-session a new one
 * per session (nc_accept_callhome() with a NULL context: what a manager
 * of devices with different YANG modules has to do).
 *
 * A second thread prints "up: N" once a second while N changes, and,
 * with --expect N, "stalled at M" once when no session came for
 * --stall-seconds before N were up: the accept loop is not ours to fix,
 * the benchmark reports where it stopped instead of waiting for it.
 * SIGTERM/SIGINT end it (the accept loop wakes every second to see).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <nc_client.h>

#define PROG "callhome-nc2hub"

/* Sizes and waits of this tool (a benchmark, not the daemons). */
#define N2_ACCEPT_MS 1000	/* nc_accept_callhome() wait, to see SIGTERM */
#define N2_TICK_S 1		/* the progress line's period */
#define N2_STALL_S 10		/* --stall-seconds default */
#define N2_YANG_DIR "/usr/share/yuma/modules/ietf"	/* ietf-netconf */

static volatile sig_atomic_t stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long up, errs;	/* under mu */
static double cpu_last_s;	/* process CPU at the last session, mu */
static unsigned long expect;
static unsigned stall_s = N2_STALL_S;

static void on_signal(int s)
{
	(void)s;
	stop = 1;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int any_hostkey(const char *host, ssh_session s, void *priv)
{
	(void)host;
	(void)s;
	(void)priv;
	return 0;
}

static void *watch(void *arg)
{
	unsigned long last = 0, n, e;
	unsigned quiet = 0;
	int stalled = 0;
	double cpu;

	(void)arg;
	while (!stop) {
		sleep(N2_TICK_S);
		pthread_mutex_lock(&mu);
		n = up;
		e = errs;
		cpu = cpu_last_s;
		pthread_mutex_unlock(&mu);
		if (n != last) {
			printf("up: %lu errors: %lu cpu_s: %.3f\n", n, e, cpu);
			fflush(stdout);
			last = n;
			quiet = 0;
			continue;
		}
		quiet += N2_TICK_S;
		if (!stalled && expect && n < expect && quiet >= stall_s) {
			printf("stalled at %lu (no new session for %u s, "
			       "errors: %lu) cpu_s: %.3f\n", n, quiet, e, cpu);
			fflush(stdout);
			stalled = 1;
		}
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [--ctx-per-session] [--expect N] [--stall-seconds S]\n"
"       [--yang-dir DIR] ADDR:PORT KEY [USER]\n"
"libnetconf2's call-home accept loop (nc_accept_callhome), sessions kept\n"
"open: SSH, any host key, public key KEY (and KEY.pub) as USER (netconf).\n"
"  --ctx-per-session  a libyang context per session (else one shared)\n"
"  --expect N         say 'stalled at M' when no session came for\n"
"                     --stall-seconds (%d) before N were up\n"
"  --yang-dir DIR     where ietf-netconf is (" N2_YANG_DIR ")\n",
		N2_STALL_S);
}

int main(int argc, char **argv)
{
	const char *user = "netconf", *yang_dir = N2_YANG_DIR, *colon;
	char host[64], pub[4096];
	struct sigaction sa = { .sa_handler = on_signal };
	struct ly_ctx *ctx = NULL;
	struct nc_session **sess = NULL, *s;
	size_t cap = 0, nsess = 0;
	struct rlimit rl;
	pthread_t tid;
	int per_session = 0, i, r, port;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--ctx-per-session") == 0) {
			per_session = 1;
		} else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) {
			expect = strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--stall-seconds") == 0 &&
			   i + 1 < argc) {
			stall_s = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--yang-dir") == 0 && i + 1 < argc) {
			yang_dir = argv[++i];
		} else {
			fprintf(stderr, PROG ": '%s': unknown option\n",
				argv[i]);
			return 2;
		}
	}
	if (argc - i < 2 || argc - i > 3) {
		usage(stderr);
		return 2;
	}
	if (argc - i == 3)
		user = argv[i + 2];
	colon = strrchr(argv[i], ':');
	if (colon == NULL || (size_t)(colon - argv[i]) >= sizeof(host) ||
	    (port = atoi(colon + 1)) <= 0 || port > 65535) {
		fprintf(stderr, PROG ": '%s': must be ADDR:PORT\n", argv[i]);
		return 2;
	}
	memcpy(host, argv[i], (size_t)(colon - argv[i]));
	host[colon - argv[i]] = 0;
	if ((size_t)snprintf(pub, sizeof(pub), "%s.pub", argv[i + 1]) >=
	    sizeof(pub) || access(pub, R_OK) != 0 ||
	    access(argv[i + 1], R_OK) != 0) {
		fprintf(stderr, PROG ": key '%s': it and its .pub must be "
			"readable\n", argv[i + 1]);
		return 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	nc_client_init();
	nc_verbosity(NC_VERB_ERROR);
	if (nc_client_set_schema_searchpath(yang_dir) != 0 ||
	    nc_client_ssh_ch_set_username(user) != 0 ||
	    nc_client_ssh_ch_add_keypair(pub, argv[i + 1]) != 0) {
		fprintf(stderr, PROG ": cannot set up the libnetconf2 "
			"client\n");
		return 1;
	}
	nc_client_ssh_ch_set_auth_hostkey_check_clb(any_hostkey, NULL);
	nc_client_ssh_ch_set_auth_pref(NC_SSH_AUTH_PASSWORD, -1);
	nc_client_ssh_ch_set_auth_pref(NC_SSH_AUTH_INTERACTIVE, -1);
	if (!per_session && ly_ctx_new(yang_dir, 0, &ctx) != LY_SUCCESS) {
		fprintf(stderr, PROG ": libyang context on '%s': cannot be "
			"made\n", yang_dir);
		return 1;
	}
	if (nc_client_ssh_ch_add_bind_listen(host, (uint16_t)port) != 0) {
		fprintf(stderr, PROG ": listen on %s: cannot\n", argv[i]);
		return 1;
	}
	if (pthread_create(&tid, NULL, watch, NULL) != 0) {
		fprintf(stderr, PROG ": cannot start the progress thread\n");
		return 1;
	}
	printf(PROG ": ready (%s context)\n",
	       per_session ? "one per session" : "one shared");
	fflush(stdout);

	while (!stop) {
		r = nc_accept_callhome(N2_ACCEPT_MS, ctx, &s);
		if (r == 0)
			continue;
		if (r < 0) {
			pthread_mutex_lock(&mu);
			errs++;
			pthread_mutex_unlock(&mu);
			continue;
		}
		if (nsess == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			struct nc_session **p = realloc(sess,
							ncap * sizeof(*p));

			if (p == NULL) {
				fprintf(stderr, PROG ": out of memory at %zu "
					"sessions\n", nsess);
				break;
			}
			sess = p;
			cap = ncap;
		}
		sess[nsess++] = s;
		pthread_mutex_lock(&mu);
		up = nsess;
		cpu_last_s = cpu_now();
		pthread_mutex_unlock(&mu);
	}
	stop = 1;
	pthread_join(tid, NULL);
	/* the sessions end with the process: freeing thousands one by one
	 * would only slow the benchmark down */
	printf("up: %zu\naccept errors: %lu\n", nsess, errs);
	fflush(stdout);
	_exit(0);
}
