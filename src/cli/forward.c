/* forward.c - connect and forward: a TCP stream to a host behind a device
 * (docs/remote-access.md, "Forwarding through the hub").
 *
 * connect is ssh -W: standard input and output are the stream, for an
 * OpenSSH ProxyCommand. forward is ssh -L in the foreground: it listens
 * (127.0.0.1 unless told), and each accepted connection gets a child
 * process of its own that asks the hub for the stream and carries it
 * (term.c's client, stream_fd), so connections are independent and a
 * refusal or a slow one touches no other. At most CH_CLI_FWD_CONNS run at
 * once; more wait in the listen backlog. SIGINT, SIGTERM or SIGHUP stops
 * listening, ends every child (each closes its stream) and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/request.h"
#include "lib/core/cliopt.h"
#include "lib/core/err.h"
#include "lib/core/streamframe.h"
#include "lib/net/hostport.h"

#define FWD_FIELDS 4		/* BIND, LPORT, HOST, PORT */
#define FWD_DEFAULT_BIND "127.0.0.1"

/* What forward listens on (build to stream: one invocation). */
static char fwd_bind[CH_SFRAME_COMMAND_MAX + 1];
static char fwd_lport[8];

static int sig_pipe[2] = { -1, -1 };

/* ---- the operands ---- */

/* Cuts s at ':' outside brackets into at most FWD_FIELDS fields, each
 * without its brackets. Returns how many, or -1. */
static int fields(char *s, char *f[FWD_FIELDS])
{
	int n = 0;

	for (;;) {
		if (n == FWD_FIELDS)
			return -1;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (end == NULL || (end[1] != ':' && end[1] != '\0'))
				return -1;
			*end = '\0';
			f[n++] = s + 1;
			s = end + 1;
		} else {
			f[n++] = s;
			s += strcspn(s, ":[]");
			if (*s == '[' || *s == ']')
				return -1;
		}
		if (*s == '\0')
			return n;
		*s++ = '\0';
	}
}

/* The request: {"cmd":"connect","device":D,"host":H,"port":P}. */
static int req_connect(struct run *run, const char *device, const char *host,
		       const char *port)
{
	uint32_t p;
	int r;

	if (*host == '\0' || strlen(host) > CH_SFRAME_COMMAND_MAX)
		return cli_usage_error(run, "HOST must be 1 to %u bytes",
				       CH_SFRAME_COMMAND_MAX);
	if (ch_parse_u32(port, 1, 65535, &p) != CH_OK)
		return cli_usage_error(run, "PORT must be 1 to 65535, not "
				       "'%s'", port);
	if ((r = args_nonempty(run, device, "DEVICE")) != CLI_OK ||
	    (r = req_start(run, device)) != CLI_OK ||
	    (r = req_set(run, "cmd", json_string("connect"))) != CLI_OK ||
	    (r = req_str(run, "host", host, "HOST")) != CLI_OK)
		return r;
	return req_set(run, "port", json_integer(p));
}

int build_connect(struct run *run, int argc, char **argv)
{
	char buf[CH_SFRAME_COMMAND_MAX + 16], *f[FWD_FIELDS];
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_operands(run, argc, 2, 2, "wants DEVICE HOST:PORT")) !=
	    CLI_OK)
		return r;
	snprintf(buf, sizeof(buf), "%s", argv[optind + 1]);
	if (fields(buf, f) != 2)
		return cli_usage_error(run, "wants HOST:PORT ([ADDRESS]:PORT "
				       "for IPv6), not '%s'", argv[optind + 1]);
	return req_connect(run, argv[optind], f[0], f[1]);
}

int build_forward(struct run *run, int argc, char **argv)
{
	char buf[2 * CH_SFRAME_COMMAND_MAX + 32], *f[FWD_FIELDS];
	uint32_t lport;
	int n, r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_operands(run, argc, 2, 2, "wants DEVICE "
			       "[BIND:]LPORT:HOST:PORT")) != CLI_OK)
		return r;
	snprintf(buf, sizeof(buf), "%s", argv[optind + 1]);
	n = fields(buf, f);
	if (n != 3 && n != 4)
		return cli_usage_error(run, "wants [BIND:]LPORT:HOST:PORT "
				       "(IPv6 addresses in brackets), not '%s'",
				       argv[optind + 1]);
	if (ch_parse_u32(f[n - 3], 0, 65535, &lport) != CH_OK)
		return cli_usage_error(run, "LPORT must be 0 to 65535, not "
				       "'%s'", f[n - 3]);
	snprintf(fwd_bind, sizeof(fwd_bind), "%s", n == 4 && *f[0] ? f[0]
		 : FWD_DEFAULT_BIND);
	snprintf(fwd_lport, sizeof(fwd_lport), "%u", lport);
	return req_connect(run, argv[optind], f[n - 2], f[n - 1]);
}

/* ---- forward: the listener and its children ---- */

static void on_signal(int sig)
{
	int e = errno;
	char c = (char)sig;

	if (write(sig_pipe[1], &c, 1) < 0) {
		/* full: a wake-up is pending anyway */
	}
	errno = e;
}

static int listen_all(int *lfd, int *n)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *res, *ai;
	char where[CH_ADDRSTR_LEN];
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd, r, e = 0;

	*n = 0;
	r = getaddrinfo(fwd_bind, fwd_lport, &hints, &res);
	if (r != 0) {
		cli_fail("cannot listen on %s: %s", fwd_bind, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai && *n < CH_CLI_FWD_LISTEN_MAX; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
			    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
		    listen(fd, CH_CLI_FWD_BACKLOG) != 0) {
			e = errno;
			close(fd);
			continue;
		}
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			fprintf(stderr, "callhome: listening on %s\n",
				ch_sockaddr_str((struct sockaddr *)&ss, where,
						sizeof(where)));
		lfd[(*n)++] = fd;
	}
	freeaddrinfo(res);
	if (*n == 0) {
		cli_fail_errno(e, "cannot listen on %s port %s", fwd_bind,
			       fwd_lport);
		return -1;
	}
	return 0;
}

/* A child for one accepted connection: its stream, then exit. */
static void child(struct run *run, int fd, const int *lfd, int nl)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD };

	for (size_t i = 0; i < CLI_NELEMS(sigs); i++)
		signal(sigs[i], SIG_DFL);
	for (int i = 0; i < nl; i++)
		close(lfd[i]);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	fcntl(fd, F_SETFL, 0);	/* blocking, as a terminal's stdout */
	_exit(stream_fd(run, fd));
}

static void reap(pid_t *kids, int *nkids)
{
	pid_t pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		for (int i = 0; i < *nkids; i++)
			if (kids[i] == pid) {
				kids[i] = kids[--*nkids];
				break;
			}
}

int stream_forward(struct run *run)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD };
	struct sigaction sa = { .sa_handler = on_signal };
	struct pollfd p[1 + CH_CLI_FWD_LISTEN_MAX];
	int lfd[CH_CLI_FWD_LISTEN_MAX], nl, nkids = 0, fd, stop = 0;
	pid_t kids[CH_CLI_FWD_CONNS], pid;
	char c;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		cli_fail_errno(errno, "signals");
		return CLI_USAGE;
	}
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < CLI_NELEMS(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	if (listen_all(lfd, &nl) != 0)
		return CLI_USAGE;
	while (!stop) {
		p[0] = (struct pollfd){ .fd = sig_pipe[0], .events = POLLIN };
		for (int i = 0; i < nl; i++)
			p[1 + i] = (struct pollfd){ .fd = nkids <
				CH_CLI_FWD_CONNS ? lfd[i] : -1,
				.events = POLLIN };
		if (poll(p, (nfds_t)(1 + nl), -1) < 0 && errno != EINTR) {
			cli_fail_errno(errno, "poll");
			break;
		}
		while (read(sig_pipe[0], &c, 1) == 1)
			if (c != SIGCHLD)
				stop = 1;
		reap(kids, &nkids);
		for (int i = 0; i < nl && !stop; i++) {
			if (!(p[1 + i].revents & POLLIN) ||
			    nkids >= CH_CLI_FWD_CONNS ||
			    (fd = accept4(lfd[i], NULL, NULL,
					  SOCK_CLOEXEC)) < 0)
				continue;
			if ((pid = fork()) == 0)
				child(run, fd, lfd, nl);
			if (pid < 0)
				cli_fail_errno(errno, "cannot fork for a "
					       "connection");
			else
				kids[nkids++] = pid;
			close(fd);
		}
	}
	for (int i = 0; i < nl; i++)
		close(lfd[i]);
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	while (nkids > 0 && (pid = wait(NULL)) > 0)
		for (int i = 0; i < nkids; i++)
			if (kids[i] == pid) {
				kids[i] = kids[--nkids];
				break;
			}
	return CLI_OK;
}
