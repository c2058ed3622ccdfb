/* minhub.c - callhome-minhub: the least a call-home hub built on libssh
 * can do, as the benchmarks' floor of the library itself (bench/README.md).
 *
 * It accepts TCP connections and, in the SSH client role, does for each:
 * the handshake (any host key: no registry), public-key authentication,
 * a session channel with the "netconf" subsystem, reads the device's
 * hello and sends one. Then the session sits idle until the device
 * closes it. Nothing else: no registry, no log line per session, no
 * timers. One thread, epoll, libssh in non-blocking mode.
 *
 * SIGTERM/SIGINT end it; it prints the sessions it brought up and the
 * ones that failed (by stage) on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/libssh.h>

#define PROG "callhome-minhub"
#define MH_HELLO_MAX 65536	/* the device's hello, at most */
#define MH_EVENTS 256		/* epoll_wait batch */
#define MH_BACKLOG 4096		/* listen backlog (the kernel caps it) */

static const char hello[] =
	"<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">"
	"<capabilities><capability>urn:ietf:params:netconf:base:1.0"
	"</capability><capability>urn:ietf:params:netconf:base:1.1"
	"</capability></capabilities></hello>]]>]]>";

enum stage { S_CONNECT, S_AUTH, S_OPEN, S_SUBSYS, S_HELLO, S_IDLE,
	     S_NSTAGES };
static const char *const stage_name[S_NSTAGES] = {
	"ssh handshake", "authentication", "channel open", "subsystem",
	"hello", "idle (closed by the device)",
};

struct sess {
	ssh_session ssh;
	ssh_channel ch;
	char *buf;		/* the device's hello so far */
	size_t len;
	int fd;
	enum stage stage;
};

static volatile sig_atomic_t stop;
static ssh_key key;
static const char *user = "netconf";
static unsigned long up, failed[S_NSTAGES];

static void on_signal(int s)
{
	(void)s;
	stop = 1;
}

static void sess_free(struct sess *s)
{
	if (s->ch)
		ssh_channel_free(s->ch);
	ssh_disconnect(s->ssh);
	ssh_free(s->ssh);
	close(s->fd);
	free(s->buf);
	free(s);
}

/* Runs s as far as it goes: 0 to wait for the socket, -1 when it ended. */
static int step(struct sess *s)
{
	int r;
	char tmp[4096];

	for (;;) {
		switch (s->stage) {
		case S_CONNECT:
			r = ssh_connect(s->ssh);
			if (r == SSH_AGAIN)
				return 0;
			if (r != SSH_OK)
				return -1;
			s->stage = S_AUTH;
			break;
		case S_AUTH:
			r = ssh_userauth_publickey(s->ssh, NULL, key);
			if (r == SSH_AUTH_AGAIN)
				return 0;
			if (r != SSH_AUTH_SUCCESS)
				return -1;
			s->stage = S_OPEN;
			if ((s->ch = ssh_channel_new(s->ssh)) == NULL)
				return -1;
			break;
		case S_OPEN:
			r = ssh_channel_open_session(s->ch);
			if (r == SSH_AGAIN)
				return 0;
			if (r != SSH_OK)
				return -1;
			s->stage = S_SUBSYS;
			break;
		case S_SUBSYS:
			r = ssh_channel_request_subsystem(s->ch, "netconf");
			if (r == SSH_AGAIN)
				return 0;
			if (r != SSH_OK)
				return -1;
			s->stage = S_HELLO;
			if ((s->buf = malloc(MH_HELLO_MAX)) == NULL)
				return -1;
			break;
		case S_HELLO:
			r = ssh_channel_read_nonblocking(s->ch, s->buf + s->len,
					(uint32_t)(MH_HELLO_MAX - 1 - s->len),
					0);
			if (r == SSH_AGAIN || r == 0) {
				if (ssh_channel_is_eof(s->ch))
					return -1;
				return 0;
			}
			if (r < 0)
				return -1;
			s->len += (size_t)r;
			s->buf[s->len] = 0;
			if (strstr(s->buf, "]]>]]>") == NULL) {
				if (s->len >= MH_HELLO_MAX - 1)
					return -1;
				break;
			}
			if (ssh_channel_write(s->ch, hello,
					      sizeof(hello) - 1) !=
			    (int)sizeof(hello) - 1)
				return -1;
			free(s->buf);
			s->buf = NULL;
			s->stage = S_IDLE;
			up++;
			break;
		case S_IDLE:
			/* whatever comes is read and dropped; the end ends */
			r = ssh_channel_read_nonblocking(s->ch, tmp,
							 sizeof(tmp), 0);
			if (r == SSH_ERROR || ssh_channel_is_eof(s->ch) ||
			    ssh_channel_is_closed(s->ch))
				return -1;
			if (r <= 0)
				return 0;
			break;
		default:
			return -1;
		}
	}
}

static void accept_all(int lfd, int ep)
{
	int off = 0, one = 1;
	const char *nul = "/dev/null";

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct sess *s;
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((s = calloc(1, sizeof(*s))) == NULL ||
		    (s->ssh = ssh_new()) == NULL) {
			free(s);
			close(fd);
			continue;
		}
		s->fd = fd;
		if (ssh_options_set(s->ssh, SSH_OPTIONS_FD, &fd) != SSH_OK ||
		    ssh_options_set(s->ssh, SSH_OPTIONS_PROCESS_CONFIG, &off) !=
		    SSH_OK ||
		    ssh_options_set(s->ssh, SSH_OPTIONS_KNOWNHOSTS, nul) !=
		    SSH_OK ||
		    ssh_options_set(s->ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, nul) !=
		    SSH_OK ||
		    ssh_options_set(s->ssh, SSH_OPTIONS_USER, user) != SSH_OK) {
			failed[S_CONNECT]++;
			sess_free(s);
			continue;
		}
		ssh_set_blocking(s->ssh, 0);
		ev.data.ptr = s;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0 ||
		    step(s) < 0) {
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			failed[s->stage]++;
			sess_free(s);
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct epoll_event evs[MH_EVENTS], lev = { .events = EPOLLIN };
	struct rlimit rl;
	struct sigaction sa = { .sa_handler = on_signal };
	char host[64];
	const char *colon;
	int lfd, ep, one = 1, i, n;
	unsigned s_;

	if (argc < 3 || argc > 4 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc == 2 ? stdout : stderr,
			"Usage: " PROG " ADDR:PORT KEY [USER]\n"
			"The floor of a libssh call-home hub: SSH handshake,\n"
			"public-key authentication with KEY (OpenSSH private\n"
			"key), the netconf subsystem, the hello; nothing more.\n");
		return argc == 2 ? 0 : 2;
	}
	if (argc == 4)
		user = argv[3];
	colon = strrchr(argv[1], ':');
	if (colon == NULL || (size_t)(colon - argv[1]) >= sizeof(host)) {
		fprintf(stderr, PROG ": '%s': must be ADDR:PORT\n", argv[1]);
		return 2;
	}
	memcpy(host, argv[1], (size_t)(colon - argv[1]));
	host[colon - argv[1]] = 0;
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
	    (sin.sin_port = htons((uint16_t)atoi(colon + 1))) == 0) {
		fprintf(stderr, PROG ": '%s': must be IPv4ADDR:PORT\n",
			argv[1]);
		return 2;
	}
	ssh_init();
	if (ssh_pki_import_privkey_file(argv[2], NULL, NULL, NULL, &key) !=
	    SSH_OK) {
		fprintf(stderr, PROG ": key '%s': cannot be read\n", argv[2]);
		return 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, MH_BACKLOG) != 0) {
		fprintf(stderr, PROG ": listen on %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	lev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	printf(PROG ": ready\n");
	fflush(stdout);
	while (!stop) {
		n = epoll_wait(ep, evs, MH_EVENTS, -1);
		for (i = 0; i < n; i++) {
			struct sess *s = evs[i].data.ptr;

			if (s == NULL) {
				accept_all(lfd, ep);
				continue;
			}
			if (step(s) < 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
				failed[s->stage]++;
				if (s->stage == S_IDLE)
					up--;
				sess_free(s);
			}
		}
	}
	printf("up: %lu\n", up);
	for (s_ = 0; s_ < S_NSTAGES; s_++)
		if (failed[s_])
			printf("ended in %s: %lu\n", stage_name[s_],
			       failed[s_]);
	fflush(stdout);
	return 0;
}
