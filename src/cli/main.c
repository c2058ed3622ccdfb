/* callhome - the operator's command line: a thin client of the hub's
 * control socket (docs/control-api.md).
 *
 * One request, one response, over a plain blocking-style socket driven by
 * poll() with one deadline for the whole exchange. Commands live in one
 * table (style A2): a name, its help, a function that turns argv into the
 * request object, and a function that prints the response. --help and
 * `callhome help` are generated from the same table.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cliopt.h"
#include "lib/err.h"
#include "lib/msg.h"

#define CLI_DEFAULT_SOCKET "/var/lib/callhome/hub.sock"
#define CLI_SOCKET_ENV "CALLHOME_HUB"
#define CLI_DEFAULT_TIMEOUT_S 60
#define CLI_MAX_TIMEOUT_S 86400
#define CLI_MAX_RESPONSE (64u * 1024 * 1024)	/* one response line */
#define CLI_MAX_XML (16u * 1024 * 1024)		/* rpc XML from stdin */
#define CLI_MAX_OPTS 16

enum cli_exit {
	CLI_OK = 0,
	CLI_USAGE = 1,
	CLI_HUB = 2,		/* unreachable, timed out, protocol error */
	CLI_RPC_ERROR = 3,	/* the device answered with an rpc-error */
	CLI_REFUSED = 4,	/* the hub answered {"ok": false} */
	CLI_HELPED = -1,	/* internal: help was printed, exit 0 */
};

struct run {
	const char *socket;
	bool json;
	uint32_t timeout_s;
	int64_t deadline;	/* CLOCK_MONOTONIC ms */
	const struct command *cmd;
	json_t *req;		/* built by cmd->build */
	char shortopts[64];	/* global + command options, for getopt */
	struct option longopts[CLI_MAX_OPTS];
};

struct command {
	const char *name;
	const char *args;	/* synopsis after the name */
	const char *summary;	/* one line for the command list */
	const char *help;	/* paragraphs for `callhome help NAME` */
	const char *shortopts;	/* the command's own options */
	const struct option *longopts;
	/* Turns the command line (argv[0] is the command) into run->req.
	 * Returns CLI_OK, CLI_USAGE (message printed) or CLI_HELPED. */
	int (*build)(struct run *run, int argc, char **argv);
	/* Prints the hub's {"ok": true} response; returns the exit code.
	 * NULL: a command that never talks to the hub. */
	int (*print)(struct run *run, json_t *resp);
};

static const struct command *find_command(const char *name);
static void command_help(FILE *f, const struct command *cmd);

/* ---- messages ---- */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The one shape of every error: one line on stderr. */
static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("callhome: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const struct run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const struct run *run, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (run->cmd)
		fail("%s: %s (see: callhome help %s)", run->cmd->name, msg,
		     run->cmd->name);
	else
		fail("%s (see: callhome --help)", msg);
	return CLI_USAGE;
}

/* ---- options ---- */

static const struct option global_longopts[] = {
	{ "hub", required_argument, NULL, 'H' },
	{ "json", no_argument, NULL, 'j' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
};
#define GLOBAL_SHORTOPTS "H:jt:h"
#define NGLOBAL (sizeof(global_longopts) / sizeof(global_longopts[0]))

/* Global options are accepted after the command too
 * (`callhome devices --json`): merge them with the command's own. */
static void merge_opts(struct run *run, const char *prefix,
		       const char *shortopts, const struct option *longopts,
		       const struct option *extra)
{
	size_t n = 0;

	snprintf(run->shortopts, sizeof(run->shortopts), "%s%s%s", prefix,
		 GLOBAL_SHORTOPTS, shortopts ? shortopts : "");
	for (size_t i = 0; i < NGLOBAL; i++)
		run->longopts[n++] = global_longopts[i];
	for (; longopts && longopts->name && n < CLI_MAX_OPTS - 2; longopts++)
		run->longopts[n++] = *longopts;
	if (extra)
		run->longopts[n++] = *extra;
	memset(&run->longopts[n], 0, sizeof(run->longopts[n]));
}

/* getopt_long over the merged options; global ones are taken here.
 * Returns a command option, -1 at the end, 'h', or '?' after printing a
 * usage error. */
static int next_opt(struct run *run, int argc, char **argv)
{
	char shortname[3];
	const char *bad;
	int c;

	for (;;) {
		c = getopt_long(argc, argv, run->shortopts, run->longopts,
				NULL);
		switch (c) {
		case 'H':
			run->socket = optarg;
			continue;
		case 'j':
			run->json = true;
			continue;
		case 't':
			if (ch_parse_u32(optarg, 1, CLI_MAX_TIMEOUT_S,
					 &run->timeout_s) != CH_OK) {
				usage_error(run, "--timeout wants whole seconds "
					    "from 1 to %d, not '%s'",
					    CLI_MAX_TIMEOUT_S, optarg);
				return '?';
			}
			continue;
		case '?':
		case ':':
			/* a long option is named only in argv; a short one,
			 * perhaps inside a cluster like -jx, in optopt */
			bad = argv[optind - 1];
			if (strncmp(bad, "--", 2) != 0 && optopt) {
				snprintf(shortname, sizeof(shortname), "-%c",
					 optopt);
				bad = shortname;
			}
			if (c == ':')
				usage_error(run, "option '%s' needs a value",
					    bad);
			else
				usage_error(run, "unknown option '%s'", bad);
			return '?';
		}
		return c;
	}
}

/* The common tail of every build's option loop. */
static int opt_done(struct run *run, int c)
{
	if (c == 'h') {
		command_help(stdout, run->cmd);
		return CLI_HELPED;
	}
	if (c == '?')
		return CLI_USAGE;
	return usage_error(run, "unexpected option");
}

/* Parses the options of a command that has none of its own; leaves optind
 * at the first operand. */
static int no_opts(struct run *run, int argc, char **argv)
{
	int c;

	/* next_opt consumes global options itself: one call reaches the end
	 * unless something else turns up */
	if ((c = next_opt(run, argc, argv)) != -1)
		return opt_done(run, c);
	return CLI_OK;
}

/* ---- the exchange with the hub ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(const struct run *run)
{
	int64_t left = run->deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

static void unreachable(const struct run *run, int err)
{
	fail("cannot reach the hub at %s: %s (is callhome-hub running? "
	     "--hub or " CLI_SOCKET_ENV ")", run->socket, strerror(err));
}

static void timed_out(const struct run *run, const char *what)
{
	fail("%s the hub at %s: gave up after %u s (--timeout)", what,
	     run->socket, run->timeout_s);
}

static int hub_connect(const struct run *run, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int left = remaining_ms(run);
	struct timeval tv = { .tv_sec = left / 1000,
			      .tv_usec = (left % 1000) * 1000 };
	size_t len = strlen(run->socket);
	int fd;

	*fd_out = -1;
	if (len == 0 || len >= sizeof(sa.sun_path)) {
		fail("hub socket path '%s' is empty or longer than %zu bytes",
		     run->socket, sizeof(sa.sun_path) - 1);
		return CLI_HUB;
	}
	memcpy(sa.sun_path, run->socket, len + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fail("socket: %s", strerror(errno));
		return CLI_HUB;
	}
	/* connect() waits on a full accept backlog: bound it like the rest */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno == EAGAIN || errno == EINPROGRESS)
			timed_out(run, "connecting to");
		else
			unreachable(run, errno);
		close(fd);
		return CLI_HUB;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	*fd_out = fd;
	return CLI_OK;
}

/* Waits for fd to be ready for events until the deadline. 1 ready, 0 timed
 * out, -1 error (errno). */
static int wait_fd(const struct run *run, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do {
		n = poll(&p, 1, remaining_ms(run));
	} while (n < 0 && errno == EINTR);
	return n;
}

/* Sends all of data. 0, or the errno that stopped it (ETIMEDOUT). */
static int send_all(const struct run *run, int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			int w = wait_fd(run, fd, POLLOUT);

			if (w == 0)
				return ETIMEDOUT;
			if (w < 0)
				return errno;
		} else {
			return n < 0 ? errno : EPIPE;
		}
	}
	return 0;
}

/* Reads one response line into a new object. */
static int recv_response(const struct run *run, int fd, json_t **out)
{
	struct ch_buf in;
	char chunk[65536];
	size_t scanned = 0;
	const char *nl = NULL;
	json_error_t jerr;
	int r = CLI_HUB;

	*out = NULL;
	ch_buf_init(&in, CLI_MAX_RESPONSE);
	while (nl == NULL) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n > 0) {
			if (ch_buf_put(&in, chunk, (size_t)n) != CH_OK) {
				fail("the hub's response is larger than %u "
				     "MiB", CLI_MAX_RESPONSE >> 20);
				goto out;
			}
			nl = memchr(ch_buf_ptr(&in) + scanned, '\n',
				    ch_buf_len(&in) - scanned);
			scanned = ch_buf_len(&in);
		} else if (n == 0 || errno == ECONNRESET) {
			fail("the hub at %s closed the connection %s",
			     run->socket, ch_buf_len(&in) ? "in the middle "
			     "of its response" : "without answering");
			goto out;
		} else if (errno == EAGAIN) {
			int w = wait_fd(run, fd, POLLIN);

			if (w == 0) {
				timed_out(run, "waiting for");
				goto out;
			}
			if (w < 0) {
				fail("poll: %s", strerror(errno));
				goto out;
			}
		} else if (errno != EINTR) {
			fail("reading from the hub: %s", strerror(errno));
			goto out;
		}
	}
	*out = json_loadb(ch_buf_ptr(&in), (size_t)(nl - ch_buf_ptr(&in)), 0,
			  &jerr);
	if (*out == NULL) {
		fail("the hub sent malformed JSON: %s", jerr.text);
		goto out;
	}
	if (!json_is_object(*out) ||
	    !json_is_boolean(json_object_get(*out, "ok"))) {
		fail("the hub's response has no boolean \"ok\"");
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	r = CLI_OK;
out:
	ch_buf_cleanup(&in);
	return r;
}

static int exchange(struct run *run, json_t **resp)
{
	char *line = NULL;
	int fd = -1, r, err;

	*resp = NULL;
	if ((r = hub_connect(run, &fd)) != CLI_OK)
		return r;
	if ((line = json_dumps(run->req, JSON_COMPACT)) == NULL) {
		fail("out of memory");
		r = CLI_HUB;
		goto out;
	}
	err = send_all(run, fd, line, strlen(line));
	if (err == 0)
		err = send_all(run, fd, "\n", 1);
	if (err == ETIMEDOUT) {
		timed_out(run, "sending to");
		r = CLI_HUB;
		goto out;
	}
	/* On EPIPE the hub may still have said why (e.g. too many clients):
	 * a response, if any, explains better than the errno. */
	r = recv_response(run, fd, resp);
	if (r != CLI_OK && err != 0)
		fail("sending to the hub: %s", strerror(err));
out:
	free(line);
	if (fd >= 0)
		close(fd);
	return r;
}

/* ---- output helpers ---- */

static int print_json(json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2)) != 0)
		return CLI_HUB;
	fputc('\n', stdout);
	return CLI_OK;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && s[0] ? s : dflt;
}

/* ---- devices ---- */

static int build_devices(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = no_opts(run, argc, argv)) != CLI_OK)
		return r;
	if (optind < argc)
		return usage_error(run, "takes no arguments, got '%s'",
				   argv[optind]);
	run->req = json_pack("{s:s}", "cmd", "devices");
	return CLI_OK;
}

enum { COL_NAME, COL_FP, COL_STATE, COL_ADDR, COL_SINCE, COL_CAPS, NCOLS };

/* Fills the cells of one row (pointers into dev, or into caps). */
static void device_row(json_t *dev, const char *cell[NCOLS], char *caps,
		       size_t caps_size)
{
	const char *adm = str_or(dev, "admission", "?");
	const char *state = str_or(dev, "state", "?");
	json_int_t ncaps = json_integer_value(json_object_get(dev,
							     "capabilities"));

	cell[COL_NAME] = str_or(dev, "name", "-");
	cell[COL_FP] = str_or(dev, "fingerprint", "?");
	/* an admitted device shows its connection; others why they are out */
	cell[COL_STATE] = strcmp(adm, "admitted") == 0 ? state : adm;
	cell[COL_ADDR] = str_or(dev, "address", "-");
	cell[COL_SINCE] = strcmp(state, "connected") == 0
				  ? str_or(dev, "connected_since", "-")
				  : str_or(dev, "last_seen", "-");
	if (ncaps > 0)
		snprintf(caps, caps_size, "%lld", (long long)ncaps);
	else
		snprintf(caps, caps_size, "-");
	cell[COL_CAPS] = caps;
}

/* A device's fields reach the terminal: no control characters. */
static void put_cell(const char *s, int width, bool last)
{
	int n = 0;

	for (; *s; s++, n++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s,
		      stdout);
	if (!last)
		printf("%*s", width - n + 2, "");
}

static int print_devices(struct run *run, json_t *resp)
{
	static const char *const head[NCOLS] = {
		"NAME", "FINGERPRINT", "STATE", "ADDRESS", "SINCE", "CAPS"
	};
	json_t *devs = json_object_get(resp, "devices"), *dev;
	const char *cell[NCOLS];
	int width[NCOLS];
	char caps[32];
	size_t i;

	if (!json_is_array(devs)) {
		fail("the hub's answer has no \"devices\" array");
		return CLI_HUB;
	}
	if (run->json)
		return print_json(devs);
	for (int c = 0; c < NCOLS; c++)
		width[c] = (int)strlen(head[c]);
	json_array_foreach(devs, i, dev) {
		device_row(dev, cell, caps, sizeof(caps));
		for (int c = 0; c < NCOLS; c++)
			if ((int)strlen(cell[c]) > width[c])
				width[c] = (int)strlen(cell[c]);
	}
	for (int c = 0; c < NCOLS; c++)
		put_cell(head[c], width[c], c == NCOLS - 1);
	fputc('\n', stdout);
	json_array_foreach(devs, i, dev) {
		device_row(dev, cell, caps, sizeof(caps));
		for (int c = 0; c < NCOLS; c++)
			put_cell(cell[c], width[c], c == NCOLS - 1);
		fputc('\n', stdout);
	}
	return CLI_OK;
}

/* ---- get-config, rpc ---- */

static int need_device(struct run *run, const char *dev)
{
	if (dev[0] == '\0')
		return usage_error(run, "DEVICE is empty");
	return CLI_OK;
}

static const struct option get_config_opts[] = {
	{ "source", required_argument, NULL, 's' },
	{ NULL, 0, NULL, 0 },
};

static int build_get_config(struct run *run, int argc, char **argv)
{
	const char *source = "running";
	int c, r;

	while ((c = next_opt(run, argc, argv)) != -1) {
		if (c != 's')
			return opt_done(run, c);
		source = optarg;
	}
	if (argc - optind != 1)
		return usage_error(run, "wants exactly one DEVICE");
	if (strcmp(source, "running") != 0 && strcmp(source, "candidate") != 0 &&
	    strcmp(source, "startup") != 0)
		return usage_error(run, "--source is running, candidate or "
				   "startup, not '%s'", source);
	if ((r = need_device(run, argv[optind])) != CLI_OK)
		return r;
	run->req = json_pack("{s:s, s:s, s:s}", "cmd", "get-config", "device",
			     argv[optind], "source", source);
	if (run->req == NULL)
		return usage_error(run, "DEVICE is not valid UTF-8");
	return CLI_OK;
}

/* Reads all of stdin, at most CLI_MAX_XML bytes. */
static int read_stdin(struct run *run, char **out, size_t *len)
{
	struct ch_buf b;
	char chunk[65536];
	size_t n;
	int r = CLI_OK;

	ch_buf_init(&b, CLI_MAX_XML);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (ch_buf_put(&b, chunk, n) != CH_OK) {
			r = usage_error(run, "XML on standard input is larger "
					"than %u MiB", CLI_MAX_XML >> 20);
			break;
		}
	}
	if (r == CLI_OK && ferror(stdin)) {
		fail("reading standard input: %s", strerror(errno));
		r = CLI_USAGE;
	}
	*len = ch_buf_len(&b);
	*out = r == CLI_OK ? ch_buf_take(&b) : NULL;
	if (r == CLI_OK && *out == NULL) {
		fail("out of memory");
		r = CLI_USAGE;
	}
	ch_buf_cleanup(&b);
	return r;
}

static int build_rpc(struct run *run, int argc, char **argv)
{
	char *xml = NULL;
	const char *dev;
	json_t *text;
	size_t len;
	int r;

	if ((r = no_opts(run, argc, argv)) != CLI_OK)
		return r;
	if (argc - optind != 2)
		return usage_error(run, "wants DEVICE and XML (or - to read "
				   "the XML from standard input)");
	dev = argv[optind];
	if ((r = need_device(run, dev)) != CLI_OK)
		return r;
	if (strcmp(argv[optind + 1], "-") == 0) {
		if ((r = read_stdin(run, &xml, &len)) != CLI_OK)
			return r;
	} else if ((xml = strdup(argv[optind + 1])) == NULL) {
		fail("out of memory");
		return CLI_USAGE;
	} else {
		len = strlen(xml);
	}
	if (len == 0 || strspn(xml, " \t\r\n") == len) {
		free(xml);
		return usage_error(run, "the XML is empty");
	}
	if ((text = json_stringn(xml, len)) == NULL) {
		free(xml);
		return usage_error(run, "the XML is not valid UTF-8 (or "
				   "contains a NUL byte)");
	}
	free(xml);
	run->req = json_pack("{s:s, s:s, s:o}", "cmd", "rpc", "device", dev,
			     "xml", text);
	if (run->req == NULL)
		return usage_error(run, "DEVICE is not valid UTF-8");
	return CLI_OK;
}

/* Did the device answer with an rpc-error? The hub says so in
 * "rpc_error"; a hub that does not is asked of the XML itself. */
static bool reply_has_error(json_t *resp, const char *reply)
{
	json_t *flag = json_object_get(resp, "rpc_error");
	struct ch_reply rep;
	bool err;

	if (json_is_boolean(flag))
		return json_is_true(flag);
	if (ch_reply_parse(reply, strlen(reply), &rep) != CH_OK)
		return false;
	err = rep.has_error;
	ch_reply_cleanup(&rep);
	return err;
}

static int print_reply(struct run *run, json_t *resp)
{
	const char *reply = json_string_value(json_object_get(resp, "reply"));
	const char *tag;
	size_t len;
	bool err;

	if (reply == NULL) {
		fail("the hub's answer has no \"reply\"");
		return CLI_HUB;
	}
	err = reply_has_error(resp, reply);
	if (run->json) {
		if (print_json(resp) != CLI_OK)
			return CLI_HUB;
	} else {
		len = strlen(reply);
		fwrite(reply, 1, len, stdout);
		if (len == 0 || reply[len - 1] != '\n')
			fputc('\n', stdout);
	}
	if (!err)
		return CLI_OK;
	tag = json_string_value(json_object_get(resp, "error_tag"));
	fflush(stdout);
	if (tag)
		fail("the device answered with an rpc-error (%s)", tag);
	else
		fail("the device answered with an rpc-error");
	return CLI_RPC_ERROR;
}

/* ---- help ---- */

static int build_help(struct run *run, int argc, char **argv);

static const struct command commands[] = {
	{
		.name = "devices",
		.args = "",
		.summary = "list the devices the hub knows, and their state",
		.help =
"Lists every device the hub has a record of, connected or not, named\n"
"devices first. Columns:\n"
"  NAME         the operator's name for it, or - if unnamed\n"
"  FINGERPRINT  its SSH host-key fingerprint: the device's identity\n"
"  STATE        connected or disconnected; for a device that is not\n"
"               admitted, its admission instead (pending, revoked)\n"
"  ADDRESS      where it called from last\n"
"  SINCE        when its session started; if not connected, when it was\n"
"               last seen (UTC)\n"
"  CAPS         NETCONF capabilities in its last hello\n"
"With --json, prints the hub's devices array as it is (fields are in\n"
"docs/control-api.md).\n",
		.build = build_devices,
		.print = print_devices,
	},
	{
		.name = "get-config",
		.args = "DEVICE [--source running|candidate|startup]",
		.summary = "print a device's configuration (rpc-reply XML)",
		.help =
"Sends <get-config> for the datastore given by --source (default\n"
"running) to a connected device and prints its <rpc-reply> as it came.\n"
"With --json, prints the hub's whole response object instead.\n",
		.shortopts = "s:",
		.longopts = get_config_opts,
		.build = build_get_config,
		.print = print_reply,
	},
	{
		.name = "rpc",
		.args = "DEVICE XML|-",
		.summary = "send one NETCONF operation, print the rpc-reply",
		.help =
"Sends the operation XML (e.g. '<get/>', or a whole <rpc> whose\n"
"message-id the hub replaces) to a connected device and prints its\n"
"<rpc-reply>. XML - reads the operation from standard input (at most\n"
"16 MiB). With --json, prints the hub's whole response object.\n",
		.build = build_rpc,
		.print = print_reply,
	},
	{
		.name = "help",
		.args = "[COMMAND]",
		.summary = "describe all commands, or one",
		.help = "Without COMMAND, the same as callhome --help.\n",
		.build = build_help,
	},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const char exit_text[] =
"Exit status:\n"
"  0  success\n"
"  1  usage error\n"
"  2  the hub is unreachable, timed out, or broke the protocol\n"
"  3  the device answered with an rpc-error (the reply is still printed)\n"
"  4  the hub refused the request, e.g. unknown or disconnected device\n"
"     (its error on standard error; with --json its response on stdout)\n";

static void usage(FILE *f)
{
	char synopsis[128];

	fputs("Usage: callhome [--hub SOCKET] [--json] [--timeout SECONDS] "
	      "COMMAND [ARG]...\n"
	      "The operator's client of callhome-hub, through its control "
	      "socket.\n\nCommands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		snprintf(synopsis, sizeof(synopsis), "%s %s", commands[i].name,
			 commands[i].args);
		if (strlen(synopsis) > 24)
			fprintf(f, "  %s\n  %-24s  %s\n", synopsis, "",
				commands[i].summary);
		else
			fprintf(f, "  %-24s  %s\n", synopsis,
				commands[i].summary);
	}
	fprintf(f,
"\nOptions (before or after COMMAND):\n"
"  -H, --hub SOCKET        the hub's control socket [$" CLI_SOCKET_ENV
", else\n"
"                          " CLI_DEFAULT_SOCKET "]\n"
"  -j, --json              print the hub's JSON instead of text\n"
"  -t, --timeout SECONDS   give up on the hub after this long [%d]\n"
"  -h, --help              this text (callhome help COMMAND for one)\n"
"  -V, --version           print the version\n"
"\n"
"DEVICE is a device's name, its fingerprint (SHA256:...), or a unique\n"
"prefix of the fingerprint, with or without SHA256: (at least 4\n"
"characters after it).\n\n%s", CLI_DEFAULT_TIMEOUT_S, exit_text);
}

static void command_help(FILE *f, const struct command *cmd)
{
	fprintf(f, "Usage: callhome [OPTION]... %s %s\n%s.\n\n%s\n%s",
		cmd->name, cmd->args, cmd->summary, cmd->help,
		cmd->print ? exit_text : "");
}

static int build_help(struct run *run, int argc, char **argv)
{
	const struct command *cmd;
	int r;

	if ((r = no_opts(run, argc, argv)) != CLI_OK)
		return r;
	if (optind >= argc) {
		usage(stdout);
		return CLI_HELPED;
	}
	if (argc - optind > 1)
		return usage_error(run, "wants at most one COMMAND");
	if ((cmd = find_command(argv[optind])) == NULL)
		return usage_error(run, "no command '%s'", argv[optind]);
	command_help(stdout, cmd);
	return CLI_HELPED;
}

/* ---- main ---- */

static int run_command(struct run *run, int argc, char **argv)
{
	json_t *resp = NULL;
	const char *err;
	int r;

	merge_opts(run, ":", run->cmd->shortopts, run->cmd->longopts, NULL);
	optind = 0;	/* glibc: restart getopt on a new argv */
	r = run->cmd->build(run, argc, argv);
	if (r == CLI_HELPED)
		return CLI_OK;
	if (r != CLI_OK)
		return r;
	if (run->req == NULL) {
		fail("out of memory");
		return CLI_USAGE;
	}
	run->deadline = now_ms() + (int64_t)run->timeout_s * 1000;
	if ((r = exchange(run, &resp)) != CLI_OK)
		goto out;
	if (json_is_false(json_object_get(resp, "ok"))) {
		err = str_or(resp, "error", NULL);
		if (err == NULL)
			err = str_or(resp, "code", "the hub refused the "
				     "request without saying why");
		if (run->json)
			print_json(resp);
		fflush(stdout);
		fail("%s", err);
		r = CLI_REFUSED;
		goto out;
	}
	r = run->cmd->print(run, resp);
out:
	json_decref(resp);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option version = { "version", no_argument, NULL,
					       'V' };
	struct run run = { .timeout_s = CLI_DEFAULT_TIMEOUT_S };
	const char *env = getenv(CLI_SOCKET_ENV);
	int c, r;

	run.socket = env && env[0] ? env : CLI_DEFAULT_SOCKET;
	/* "+": options up to the command only; then the command's turn */
	merge_opts(&run, "+:", "V", NULL, &version);
	while ((c = next_opt(&run, argc, argv)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return CLI_OK;
		}
		if (c == 'V') {
			printf("callhome %s\n", CH_VERSION);
			return CLI_OK;
		}
		return CLI_USAGE;	/* next_opt said why */
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	if ((run.cmd = find_command(argv[optind])) == NULL) {
		fail("unknown command '%s' (see: callhome --help)",
		     argv[optind]);
		return CLI_USAGE;
	}
	r = run_command(&run, argc - optind, argv + optind);
	json_decref(run.req);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fail("writing to standard output: %s", strerror(errno));
		if (r == CLI_OK)
			r = CLI_HUB;
	}
	return r;
}
