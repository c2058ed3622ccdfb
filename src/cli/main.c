/* callhome - the operator's command line: a thin client of the hub's
 * control socket (docs/control-api.md).
 *
 * One request, one response, over a plain blocking-style socket driven by
 * poll() with one deadline for the whole exchange. Commands live in one
 * table (style A2): a name, its help, a function that turns argv into the
 * request object, and a function that handles the response. --help and
 * `callhome help` are generated from the same table. The one command that
 * talks more than once, `events --follow`, repeats the exchange from its
 * response handler, one connection per poll, so a restarted hub is simply
 * the next connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
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
#define CLI_MAX_XML (16u * 1024 * 1024)		/* rpc XML, edit-config FILE */
#define CLI_MAX_OPTS 16
#define CLI_MAX_LIMIT 100000u			/* jobs/events --limit */
#define CLI_MAX_EXPIRES_S (366u * 86400)	/* --expires: about a year */
#define CLI_FOLLOW_INTERVAL_MS 1000		/* events --follow polls */
#define CLI_FOLLOW_BATCH 500			/* events asked for per poll */
#define CLI_SHORT_FP 8		/* base64 characters shown after SHA256: */
#define CLI_MSG_MAX 1024	/* one error line */
#define CLI_HINT_MAX 256
#define TABLE_MAX_COLS 8
#define CELL_MAX 128		/* a formatted table cell */
#define FIELD_WIDTH 17		/* detail labels: "connected since: " */

enum cli_exit {
	CLI_OK = 0,
	CLI_USAGE = 1,
	CLI_HUB = 2,		/* unreachable, timed out, protocol error */
	CLI_RPC_ERROR = 3,	/* the device answered with an rpc-error */
	CLI_REFUSED = 4,	/* the hub answered {"ok": false} */
	CLI_JOB_FAILED = 5,	/* the job ended without a result */
	CLI_HELPED = -1,	/* internal: help was printed, exit 0 */
};

/* Options with no one-letter form: getopt values past any character. */
enum {
	OPT_NOW = 256,
	OPT_QUEUE,
	OPT_WAIT,
	OPT_EXPIRES,
	OPT_NAME,
	OPT_FINGERPRINT,
	OPT_STATE,
};

struct run {
	const char *socket;
	bool json;
	bool follow;		/* events --follow */
	uint32_t timeout_s;
	int64_t deadline;	/* CLOCK_MONOTONIC ms */
	const struct command *cmd;
	json_t *req;		/* built by cmd->build */
	char wait_hint[CLI_HINT_MAX];	/* said when --wait runs out */
	char shortopts[64];	/* global + command options, for getopt */
	struct option longopts[CLI_MAX_OPTS];
};

struct command {
	const char *name;	/* one word, or two: "identity add" */
	const char *args;	/* synopsis after the name */
	const char *summary;	/* one line for the command list */
	const char *help;	/* paragraphs for `callhome help NAME` */
	const char *shortopts;	/* the command's own options */
	const struct option *longopts;
	const char *done;	/* past tense for print_changed: "approved" */
	/* Turns the command line (argv[0] is the command's last word) into
	 * run->req. Returns CLI_OK, CLI_USAGE (message printed) or
	 * CLI_HELPED. */
	int (*build)(struct run *run, int argc, char **argv);
	/* Handles the hub's {"ok": true} response; returns the exit code.
	 * NULL: a command that never talks to the hub. */
	int (*print)(struct run *run, json_t *resp);
};

static const struct command *find_command(int argc, char **argv,
					  int *nwords);
static void command_help(FILE *f, const struct command *cmd);
static int exchange(struct run *run, json_t **resp);

/* ---- messages ---- */

/* Set by SIGINT during events --follow. */
static volatile sig_atomic_t interrupted;
/* While --follow waits for a hub that went away, every failed poll would
 * say the same: it says it once, from last_fail. */
static bool fail_muted;
static char last_fail[CLI_MSG_MAX];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The one shape of every error: one line on stderr. After SIGINT, what
 * fails is the interruption itself, not worth a line. */
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_fail, sizeof(last_fail), fmt, ap);
	va_end(ap);
	/* the hub's sentences end up here too: keep it one line */
	for (char *p = last_fail; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (!fail_muted && !interrupted)
		fprintf(stderr, "callhome: %s\n", last_fail);
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

static int out_of_memory(void)
{
	fail("out of memory");
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

/* Checks the number of operands left after the options. */
static int operands(struct run *run, int argc, int min, int max,
		    const char *want)
{
	int n = argc - optind;

	if (n < min || n > max)
		return usage_error(run, "%s", want);
	return CLI_OK;
}

static int need_device(struct run *run, const char *dev)
{
	if (dev[0] == '\0')
		return usage_error(run, "DEVICE is empty");
	return CLI_OK;
}

/* A whole number in [1, max] for --limit. */
static int parse_limit(struct run *run, const char *s, uint32_t *out)
{
	if (ch_parse_u32(s, 1, CLI_MAX_LIMIT, out) != CH_OK)
		return usage_error(run, "--limit wants a whole number from 1 "
				   "to %u, not '%s'", CLI_MAX_LIMIT, s);
	return CLI_OK;
}

/* A job ID: a whole number from 1. */
static int parse_id(struct run *run, const char *s, json_int_t *id)
{
	uint32_t v;

	*id = 0;
	if (ch_parse_u32(s, 1, UINT32_MAX, &v) != CH_OK)
		return usage_error(run, "ID is a job number such as 17, not "
				   "'%s'", s);
	*id = v;
	return CLI_OK;
}

/* --expires: whole seconds, or a number with s, m, h or d after it. */
static int parse_duration(const char *s, uint32_t *out)
{
	static const struct {
		char unit;
		uint32_t seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	char num[16];
	size_t len = strlen(s);
	uint32_t mult = 1, n;

	*out = 0;
	if (len == 0 || len >= sizeof(num))
		return CH_ERR_INVAL;
	memcpy(num, s, len + 1);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (num[len - 1] == units[i].unit) {
			mult = units[i].seconds;
			num[len - 1] = '\0';
			break;
		}
	}
	if (ch_parse_u32(num, 1, CLI_MAX_EXPIRES_S / mult, &n) != CH_OK)
		return CH_ERR_INVAL;
	*out = n * mult;
	return CH_OK;
}

/* ---- the request ---- */

static int req_new(struct run *run, const char *cmd)
{
	if ((run->req = json_pack("{s:s}", "cmd", cmd)) == NULL)
		return out_of_memory();
	return CLI_OK;
}

/* Sets key in the request; takes v (NULL: allocation failed). */
static int req_set(struct run *run, const char *key, json_t *v)
{
	if (v == NULL || run->req == NULL ||
	    json_object_set_new(run->req, key, v) != 0)
		return out_of_memory();
	return CLI_OK;
}

/* Sets key to s[0..len); what names s when JSON cannot carry it. */
static int req_strn(struct run *run, const char *key, const char *s,
		    size_t len, const char *what)
{
	json_t *v;

	if (memchr(s, '\0', len) != NULL)
		return usage_error(run, "%s contains a NUL byte", what);
	if ((v = json_stringn(s, len)) == NULL)
		return usage_error(run, "%s is not valid UTF-8", what);
	return req_set(run, key, v);
}

static int req_str(struct run *run, const char *key, const char *s,
		   const char *what)
{
	return req_strn(run, key, s, strlen(s), what);
}

/* Reads all of f, at most CLI_MAX_XML bytes; name is for messages. */
static int read_stream(struct run *run, FILE *f, const char *name,
		       char **out, size_t *len)
{
	struct ch_buf b;
	char chunk[65536];
	size_t n;
	int r = CLI_OK;

	*out = NULL;
	*len = 0;
	ch_buf_init(&b, CLI_MAX_XML);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (ch_buf_put(&b, chunk, n) != CH_OK) {
			r = usage_error(run, "%s is larger than %u MiB", name,
					CLI_MAX_XML >> 20);
			goto out;
		}
	}
	if (ferror(f)) {
		fail("reading %s: %s", name, strerror(errno));
		r = CLI_USAGE;
		goto out;
	}
	*len = ch_buf_len(&b);
	if ((*out = ch_buf_take(&b)) == NULL)
		r = out_of_memory();
out:
	ch_buf_cleanup(&b);
	return r;
}

/* Sets key to the text an operand stands for: "-" reads standard input;
 * otherwise the operand is the text itself, or with is_path the name of
 * a file holding it. Empty text is refused. */
static int req_text(struct run *run, const char *key, const char *arg,
		    bool is_path, const char *what)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (strcmp(arg, "-") == 0) {
		r = read_stream(run, stdin, "standard input", &data, &len);
	} else if (is_path) {
		if ((f = fopen(arg, "rb")) == NULL) {
			fail("cannot open %s: %s", arg, strerror(errno));
			return CLI_USAGE;
		}
		r = read_stream(run, f, arg, &data, &len);
		fclose(f);
	} else {
		len = strlen(arg);
		r = (data = strdup(arg)) ? CLI_OK : out_of_memory();
	}
	if (r != CLI_OK)
		goto out;
	if (memchr(data, '\0', len) == NULL &&
	    strspn(data, " \t\r\n") == len) {
		r = usage_error(run, "%s is empty", what);
		goto out;
	}
	r = req_strn(run, key, data, len, what);
out:
	free(data);
	return r;
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
	fail("%s the hub at %s: gave up after %u s (--timeout)%s", what,
	     run->socket, run->timeout_s, run->wait_hint);
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
 * out, -1 error (errno; EINTR after SIGINT in --follow). */
static int wait_fd(const struct run *run, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do {
		if (interrupted) {
			errno = EINTR;
			return -1;
		}
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

/* Sends run->req and reads the response, within run->deadline. */
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

/* One object on one line: events --follow --json. */
static void print_json_line(json_t *j)
{
	json_dumpf(j, stdout, JSON_COMPACT);
	fputc('\n', stdout);
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && s[0] ? s : dflt;
}

/* The member key of the response, if it is an object; else says so. */
static json_t *need_object(json_t *resp, const char *key)
{
	json_t *o = json_object_get(resp, key);

	if (!json_is_object(o)) {
		fail("the hub's answer has no \"%s\" object", key);
		return NULL;
	}
	return o;
}

static json_t *need_array(json_t *resp, const char *key)
{
	json_t *a = json_object_get(resp, key);

	if (!json_is_array(a)) {
		fail("the hub's answer has no \"%s\" array", key);
		return NULL;
	}
	return a;
}

/* The hub answered {"ok": false}: its sentence on stderr. */
static int refused(const struct run *run, json_t *resp)
{
	const char *err = str_or(resp, "error", str_or(resp, "code",
			"the hub refused the request without saying why"));

	if (run->json && run->follow)	/* among JSON lines: one more */
		print_json_line(resp);
	else if (run->json)
		print_json(resp);
	fflush(stdout);
	fail("%s", err);
	return CLI_REFUSED;
}

/* Text from the hub (XML) as it came, ended by a newline. */
static void put_text(const char *s)
{
	size_t len = strlen(s);

	fwrite(s, 1, len, stdout);
	if (len == 0 || s[len - 1] != '\n')
		fputc('\n', stdout);
}

/* A field reaches the terminal: no control characters. Pads to width
 * plus two spaces unless last; a cell wider than width pushes on. */
static void put_cell(const char *s, int width, bool last)
{
	int n = 0;

	for (; *s; s++, n++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s,
		      stdout);
	if (!last)
		printf("%*s", (n < width ? width - n : 0) + 2, "");
}

/* One "label:  value" line of a detail view. */
static void put_field(const char *label, const char *value)
{
	printf("%-*s", FIELD_WIDTH, label);
	put_cell(value, 0, true);
	fputc('\n', stdout);
}

/* The device of a job or an event as one short word: its name, else a
 * fingerprint prefix that still works as DEVICE. */
static const char *device_label(json_t *obj, char *buf, size_t size)
{
	const char *name = str_or(obj, "name", NULL);
	const char *fp = str_or(obj, "device", NULL);

	if (name)
		return name;
	if (fp == NULL)
		return "-";
	snprintf(buf, size, "%.*s", (int)(sizeof("SHA256:") - 1 + CLI_SHORT_FP),
		 fp);
	return buf;
}

/* ---- tables ---- */

/* One row's cells: pointers into the JSON, or into buf when formatted. */
struct cells {
	const char *cell[TABLE_MAX_COLS];
	char buf[TABLE_MAX_COLS][CELL_MAX];
};

struct table {
	const char *head[TABLE_MAX_COLS];
	int ncols;
	void (*row)(json_t *item, struct cells *c);
	int width[TABLE_MAX_COLS];	/* set by table_measure */
};

static void cell_int(struct cells *c, int col, json_int_t v)
{
	snprintf(c->buf[col], CELL_MAX, "%" JSON_INTEGER_FORMAT, v);
	c->cell[col] = c->buf[col];
}

/* Widens the columns to the header and to every row of items. */
static void table_measure(struct table *t, json_t *items)
{
	struct cells c;
	json_t *item;
	size_t i;

	for (int k = 0; k < t->ncols; k++)
		if ((int)strlen(t->head[k]) > t->width[k])
			t->width[k] = (int)strlen(t->head[k]);
	json_array_foreach(items, i, item) {
		t->row(item, &c);
		for (int k = 0; k < t->ncols; k++)
			if ((int)strlen(c.cell[k]) > t->width[k])
				t->width[k] = (int)strlen(c.cell[k]);
	}
}

static void table_line(const struct table *t, const char *const *cell)
{
	for (int k = 0; k < t->ncols; k++)
		put_cell(cell[k], t->width[k], k == t->ncols - 1);
	fputc('\n', stdout);
}

static void table_print(struct table *t, json_t *items)
{
	struct cells c;
	json_t *item;
	size_t i;

	table_measure(t, items);
	table_line(t, t->head);
	json_array_foreach(items, i, item) {
		t->row(item, &c);
		table_line(t, c.cell);
	}
}

/* ---- devices ---- */

static int build_devices(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = no_opts(run, argc, argv)) != CLI_OK ||
	    (r = operands(run, argc, 0, 0, "takes no arguments")) != CLI_OK)
		return r;
	return req_new(run, "devices");
}

enum { DEV_NAME, DEV_FP, DEV_STATE, DEV_ADDR, DEV_SINCE, DEV_CAPS, DEV_NCOLS };

static void device_row(json_t *dev, struct cells *c)
{
	const char *adm = str_or(dev, "admission", "?");
	const char *state = str_or(dev, "state", "?");
	json_int_t ncaps = json_integer_value(json_object_get(dev,
							     "capabilities"));

	c->cell[DEV_NAME] = str_or(dev, "name", "-");
	c->cell[DEV_FP] = str_or(dev, "fingerprint", "?");
	/* an admitted device shows its connection; others why they are out */
	c->cell[DEV_STATE] = strcmp(adm, "admitted") == 0 ? state : adm;
	c->cell[DEV_ADDR] = str_or(dev, "address", "-");
	c->cell[DEV_SINCE] = strcmp(state, "connected") == 0
				     ? str_or(dev, "connected_since", "-")
				     : str_or(dev, "last_seen", "-");
	if (ncaps > 0)
		cell_int(c, DEV_CAPS, ncaps);
	else
		c->cell[DEV_CAPS] = "-";
}

static int print_devices(struct run *run, json_t *resp)
{
	struct table t = {
		{ "NAME", "FINGERPRINT", "STATE", "ADDRESS", "SINCE", "CAPS" },
		DEV_NCOLS, device_row, { 0 },
	};
	json_t *devs = need_array(resp, "devices");

	if (devs == NULL)
		return CLI_HUB;
	if (run->json)
		return print_json(devs);
	table_print(&t, devs);
	return CLI_OK;
}

/* ---- one device: detail and enrollment ---- */

/* COMMAND DEVICE and nothing else: device, revoke. */
static int build_on_device(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = no_opts(run, argc, argv)) != CLI_OK ||
	    (r = operands(run, argc, 1, 1, "wants one DEVICE")) != CLI_OK ||
	    (r = need_device(run, argv[optind])) != CLI_OK ||
	    (r = req_new(run, run->cmd->name)) != CLI_OK)
		return r;
	return req_str(run, "device", argv[optind], "DEVICE");
}

static int print_device(struct run *run, json_t *resp)
{
	json_t *dev = need_object(resp, "device");
	json_t *ids, *id;
	char caps[32], queued[32];
	const char *label = "identities:";
	size_t i;

	if (dev == NULL)
		return CLI_HUB;
	if (run->json)
		return print_json(resp);
	snprintf(caps, sizeof(caps), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(dev, "capabilities")));
	snprintf(queued, sizeof(queued), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(dev, "queued_jobs")));
	put_field("name:", str_or(dev, "name", "-"));
	put_field("fingerprint:", str_or(dev, "fingerprint", "?"));
	put_field("admission:", str_or(dev, "admission", "?"));
	put_field("state:", str_or(dev, "state", "?"));
	put_field("address:", str_or(dev, "address", "-"));
	put_field("connected since:", str_or(dev, "connected_since", "-"));
	put_field("first seen:", str_or(dev, "first_seen", "-"));
	put_field("last seen:", str_or(dev, "last_seen", "-"));
	put_field("capabilities:", caps);
	put_field("last error:", str_or(dev, "last_error", "-"));
	put_field("queued jobs:", queued);
	ids = json_object_get(dev, "identities");
	json_array_foreach(ids, i, id) {
		put_field(label, json_is_string(id) ? json_string_value(id)
						    : "?");
		label = "";
	}
	if (json_array_size(ids) == 0)
		put_field(label, "-");
	return CLI_OK;
}

/* approve, add, rename, revoke, identity add: the device as it is now,
 * "approved r1 SHA256:... (admitted, connected)". */
static int print_changed(struct run *run, json_t *resp)
{
	json_t *dev = need_object(resp, "device");
	const char *name;

	if (dev == NULL)
		return CLI_HUB;
	if (run->json)
		return print_json(resp);
	name = str_or(dev, "name", NULL);
	printf("%s %s%s%s (%s, %s)%s\n", run->cmd->done, name ? name : "",
	       name ? " " : "", str_or(dev, "fingerprint", "?"),
	       str_or(dev, "admission", "?"), str_or(dev, "state", "?"),
	       json_is_true(json_object_get(resp, "closed_session"))
		       ? "; its session was closed" : "");
	return CLI_OK;
}

static const struct option approve_opts[] = {
	{ "name", required_argument, NULL, OPT_NAME },
	{ NULL, 0, NULL, 0 },
};

static int build_approve(struct run *run, int argc, char **argv)
{
	const char *name = NULL;
	int c, r;

	while ((c = next_opt(run, argc, argv)) != -1) {
		if (c != OPT_NAME)
			return opt_done(run, c);
		name = optarg;
	}
	if (name && name[0] == '\0')
		return usage_error(run, "--name is empty (to remove a name: "
				   "callhome rename DEVICE '')");
	if ((r = operands(run, argc, 1, 1, "wants one DEVICE")) != CLI_OK ||
	    (r = need_device(run, argv[optind])) != CLI_OK ||
	    (r = req_new(run, "approve")) != CLI_OK ||
	    (r = req_str(run, "device", argv[optind], "DEVICE")) != CLI_OK)
		return r;
	return name ? req_str(run, "name", name, "NAME") : CLI_OK;
}

static const struct option add_opts[] = {
	{ "fingerprint", required_argument, NULL, OPT_FINGERPRINT },
	{ NULL, 0, NULL, 0 },
};

static int build_add(struct run *run, int argc, char **argv)
{
	const char *fp = NULL;
	int c, r;

	while ((c = next_opt(run, argc, argv)) != -1) {
		if (c != OPT_FINGERPRINT)
			return opt_done(run, c);
		fp = optarg;
	}
	if ((r = operands(run, argc, 1, 1, "wants exactly one NAME")) != CLI_OK)
		return r;
	if (argv[optind][0] == '\0')
		return usage_error(run, "NAME is empty");
	if (fp == NULL || fp[0] == '\0')
		return usage_error(run, "wants --fingerprint SHA256:... (the "
				   "device's host-key fingerprint)");
	if ((r = req_new(run, "add")) != CLI_OK ||
	    (r = req_str(run, "name", argv[optind], "NAME")) != CLI_OK)
		return r;
	return req_str(run, "fingerprint", fp, "the fingerprint");
}

static int build_rename(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = no_opts(run, argc, argv)) != CLI_OK ||
	    (r = operands(run, argc, 2, 2, "wants DEVICE and NAME ('' "
			  "removes the name)")) != CLI_OK ||
	    (r = need_device(run, argv[optind])) != CLI_OK ||
	    (r = req_new(run, "rename")) != CLI_OK ||
	    (r = req_str(run, "device", argv[optind], "DEVICE")) != CLI_OK)
		return r;
	return req_str(run, "name", argv[optind + 1], "NAME");
}

static int build_identity_add(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = no_opts(run, argc, argv)) != CLI_OK ||
	    (r = operands(run, argc, 2, 2, "wants DEVICE and FP (the new "
			  "key's fingerprint)")) != CLI_OK ||
	    (r = need_device(run, argv[optind])) != CLI_OK)
		return r;
	if (argv[optind + 1][0] == '\0')
		return usage_error(run, "FP is empty");
	if ((r = req_new(run, "identity-add")) != CLI_OK ||
	    (r = req_str(run, "device", argv[optind], "DEVICE")) != CLI_OK)
		return r;
	return req_str(run, "fingerprint", argv[optind + 1], "FP");
}

static int build_identity_remove(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = no_opts(run, argc, argv)) != CLI_OK ||
	    (r = operands(run, argc, 1, 1, "wants exactly one FP")) != CLI_OK)
		return r;
	if (argv[optind][0] == '\0')
		return usage_error(run, "FP is empty");
	if ((r = req_new(run, "identity-remove")) != CLI_OK)
		return r;
	return req_str(run, "fingerprint", argv[optind], "FP");
}

static int print_identity_removed(struct run *run, json_t *resp)
{
	if (run->json)
		return print_json(resp);
	printf("removed identity %s\n", str_or(run->req, "fingerprint", "?"));
	return CLI_OK;
}

/* ---- rpc, get-config, edit-config: jobs on a device ---- */

/* The options every job command shares. */
#define JOB_LONGOPTS                                                     \
	{ "now", no_argument, NULL, OPT_NOW },                           \
	{ "queue", no_argument, NULL, OPT_QUEUE },                       \
	{ "wait", no_argument, NULL, OPT_WAIT },                         \
	{ "expires", required_argument, NULL, OPT_EXPIRES }

static const struct option job_opts[] = {
	JOB_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static const struct option get_config_opts[] = {
	JOB_LONGOPTS,
	{ "source", required_argument, NULL, 's' },
	{ NULL, 0, NULL, 0 },
};

struct job_args {
	const char *mode;	/* "auto", "now" or "queue" */
	bool wait;
	uint32_t expires;	/* seconds; 0: not given */
	const char *source;	/* get-config --source */
};

/* Options and operands of a job command: nargs operands, the first of
 * them DEVICE; want says what they are. Starts run->req with cmd, device,
 * mode, wait and expires; the caller adds what its command needs. */
static int job_request(struct run *run, int argc, char **argv, int nargs,
		       const char *want, struct job_args *ja)
{
	const char *mode;
	int c, r;

	*ja = (struct job_args){ .mode = "auto", .source = "running" };
	while ((c = next_opt(run, argc, argv)) != -1) {
		switch (c) {
		case OPT_NOW:
		case OPT_QUEUE:
			mode = c == OPT_NOW ? "now" : "queue";
			if (strcmp(ja->mode, "auto") != 0 &&
			    strcmp(ja->mode, mode) != 0)
				return usage_error(run, "--now and --queue "
						   "exclude each other");
			ja->mode = mode;
			break;
		case OPT_WAIT:
			ja->wait = true;
			break;
		case OPT_EXPIRES:
			if (parse_duration(optarg, &ja->expires) != CH_OK)
				return usage_error(run, "--expires wants a "
						   "duration such as 3600, "
						   "30m, 2h or 7d (at most "
						   "366d), not '%s'", optarg);
			break;
		case 's':
			ja->source = optarg;
			break;
		default:
			return opt_done(run, c);
		}
	}
	if ((r = operands(run, argc, nargs, nargs, want)) != CLI_OK ||
	    (r = need_device(run, argv[optind])) != CLI_OK)
		return r;
	if (ja->expires && strcmp(ja->mode, "now") == 0)
		return usage_error(run, "--expires is for a job that may wait; "
				   "--now never queues");
	if (ja->wait)
		snprintf(run->wait_hint, sizeof(run->wait_hint), "; if the "
			 "job was queued it stays queued (see: callhome jobs "
			 "%s)", argv[optind]);
	if ((r = req_new(run, run->cmd->name)) != CLI_OK ||
	    (r = req_str(run, "device", argv[optind], "DEVICE")) != CLI_OK ||
	    (r = req_set(run, "mode", json_string(ja->mode))) != CLI_OK ||
	    (r = req_set(run, "wait", json_boolean(ja->wait))) != CLI_OK)
		return r;
	if (ja->expires)
		return req_set(run, "expires", json_integer(ja->expires));
	return CLI_OK;
}

static int build_rpc(struct run *run, int argc, char **argv)
{
	struct job_args ja;
	int r;

	if ((r = job_request(run, argc, argv, 2, "wants DEVICE and XML (or - "
			     "to read the XML from standard input)",
			     &ja)) != CLI_OK)
		return r;
	return req_text(run, "xml", argv[optind + 1], false, "the XML");
}

static int build_get_config(struct run *run, int argc, char **argv)
{
	static const char *const sources[] = { "running", "candidate",
					       "startup" };
	struct job_args ja;
	int r;

	if ((r = job_request(run, argc, argv, 1, "wants exactly one DEVICE",
			     &ja)) != CLI_OK)
		return r;
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strcmp(ja.source, sources[i]) == 0)
			return req_str(run, "source", ja.source, "--source");
	return usage_error(run, "--source is running, candidate or startup, "
			   "not '%s'", ja.source);
}

static int build_edit_config(struct run *run, int argc, char **argv)
{
	struct job_args ja;
	int r;

	if ((r = job_request(run, argc, argv, 2, "wants DEVICE and FILE (or - "
			     "to read the config from standard input)",
			     &ja)) != CLI_OK)
		return r;
	return req_text(run, "config", argv[optind + 1], true, "the config");
}

/* How a job that ran (or will) ends for the command that submitted it,
 * when the hub's answer carries no reply. */
static const struct {
	const char *state;
	const char *says;	/* after "job N for DEVICE " */
	int status;
} job_ends[] = {
	{ "running", "is running", CLI_OK },
	{ "done", "is done", CLI_OK },
	{ "failed", "failed", CLI_JOB_FAILED },
	{ "in-doubt", "is in doubt (it may or may not have taken effect)",
	  CLI_JOB_FAILED },
	{ "cancelled", "was cancelled", CLI_JOB_FAILED },
	{ "expired", "expired before it could run", CLI_JOB_FAILED },
};

/* What became of a job the hub answered for without a reply (or with
 * one, when the job still failed): a line, and the exit status. */
static int job_end(struct run *run, json_t *job, bool have_reply)
{
	const char *state = str_or(job, "state", "?");
	const char *dev = str_or(job, "name", str_or(job, "device", "?"));
	const char *error = str_or(job, "error", NULL);
	json_int_t id = json_integer_value(json_object_get(job, "id"));
	/* in mode auto that is the one reason to queue */
	const char *why = strcmp(str_or(run->req, "mode", ""), "auto") == 0
				  ? " (not connected)" : "";
	char says[64];
	int status = CLI_OK;

	if (strcmp(state, "queued") == 0) {
		if (!run->json)
			printf("queued as job %" JSON_INTEGER_FORMAT " for "
			       "%s%s; see: callhome job %" JSON_INTEGER_FORMAT
			       "\n", id, dev, why, id);
		return CLI_OK;
	}
	snprintf(says, sizeof(says), "is %s", state);
	for (size_t i = 0; i < sizeof(job_ends) / sizeof(job_ends[0]); i++) {
		if (strcmp(state, job_ends[i].state) == 0) {
			snprintf(says, sizeof(says), "%s", job_ends[i].says);
			status = job_ends[i].status;
		}
	}
	if (status != CLI_OK) {
		fflush(stdout);
		fail("job %" JSON_INTEGER_FORMAT " for %s %s%s%s (see: "
		     "callhome job %" JSON_INTEGER_FORMAT ")", id, dev, says,
		     error ? ": " : "", error ? error : "", id);
	} else if (!have_reply && !run->json) {
		printf("job %" JSON_INTEGER_FORMAT " for %s %s; see: callhome "
		       "job %" JSON_INTEGER_FORMAT "\n", id, dev, says, id);
	}
	return status;
}

/* Did the device answer with an rpc-error, and with which tag? The hub
 * says whether in "rpc_error"; a hub that does not is asked of the XML.
 * The tag is "error_tag" if the hub sent one, else read from the XML. */
static bool reply_error(json_t *resp, const char *reply, char *tag,
			size_t size)
{
	json_t *flag = json_object_get(resp, "rpc_error");
	const char *t = str_or(resp, "error_tag", NULL);
	struct ch_reply rep;
	bool err = json_is_true(flag);

	snprintf(tag, size, "%s", t ? t : "");
	if (json_is_false(flag) || (err && t))
		return err;	/* no need to parse a large reply */
	if (ch_reply_parse(reply, strlen(reply), &rep) != CH_OK)
		return err;
	if (!json_is_boolean(flag))
		err = rep.has_error;
	if (t == NULL && rep.error_tag)
		snprintf(tag, size, "%s", rep.error_tag);
	ch_reply_cleanup(&rep);
	return err;
}

/* The answer to rpc, get-config, edit-config: the device's reply, or
 * what became of the job. */
static int print_job_result(struct run *run, json_t *resp)
{
	const char *reply = json_string_value(json_object_get(resp, "reply"));
	json_t *job = json_object_get(resp, "job");
	char tag[128];
	bool err;

	if (reply == NULL && !json_is_object(job)) {
		fail("the hub's answer has neither \"reply\" nor \"job\"");
		return CLI_HUB;
	}
	if (run->json && print_json(resp) != CLI_OK)
		return CLI_HUB;
	if (reply == NULL)
		return job_end(run, job, false);
	err = reply_error(resp, reply, tag, sizeof(tag));
	if (!run->json)
		put_text(reply);
	if (err) {
		fflush(stdout);
		if (tag[0])
			fail("the device answered with an rpc-error (%s)", tag);
		else
			fail("the device answered with an rpc-error");
		return CLI_RPC_ERROR;
	}
	return json_is_object(job) ? job_end(run, job, true) : CLI_OK;
}

/* ---- jobs ---- */

static const struct option jobs_opts[] = {
	{ "state", required_argument, NULL, OPT_STATE },
	{ "limit", required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

static int build_jobs(struct run *run, int argc, char **argv)
{
	static const char *const states[] = {
		"queued", "running", "done", "failed", "in-doubt",
		"cancelled", "expired",
	};
	const char *state = NULL;
	uint32_t limit = 0;
	bool known = false;
	int c, r;

	while ((c = next_opt(run, argc, argv)) != -1) {
		switch (c) {
		case OPT_STATE:
			state = optarg;
			break;
		case 'n':
			if ((r = parse_limit(run, optarg, &limit)) != CLI_OK)
				return r;
			break;
		default:
			return opt_done(run, c);
		}
	}
	for (size_t i = 0; state && i < sizeof(states) / sizeof(states[0]); i++)
		known |= strcmp(state, states[i]) == 0;
	if (state && !known)
		return usage_error(run, "--state is queued, running, done, "
				   "failed, in-doubt, cancelled or expired, "
				   "not '%s'", state);
	if ((r = operands(run, argc, 0, 1,
			  "wants one DEVICE or none")) != CLI_OK ||
	    (r = req_new(run, "jobs")) != CLI_OK)
		return r;
	if (optind < argc &&
	    ((r = need_device(run, argv[optind])) != CLI_OK ||
	     (r = req_str(run, "device", argv[optind], "DEVICE")) != CLI_OK))
		return r;
	if (state && (r = req_str(run, "state", state, "--state")) != CLI_OK)
		return r;
	return limit ? req_set(run, "limit", json_integer(limit)) : CLI_OK;
}

enum { JOB_ID, JOB_DEV, JOB_KIND, JOB_STATE, JOB_CREATED, JOB_FINISHED,
       JOB_NOTE, JOB_NCOLS };

static void job_row(json_t *job, struct cells *c)
{
	cell_int(c, JOB_ID, json_integer_value(json_object_get(job, "id")));
	c->cell[JOB_DEV] = device_label(job, c->buf[JOB_DEV],
					CELL_MAX);
	c->cell[JOB_KIND] = str_or(job, "kind", "?");
	c->cell[JOB_STATE] = str_or(job, "state", "?");
	c->cell[JOB_CREATED] = str_or(job, "created", "-");
	c->cell[JOB_FINISHED] = str_or(job, "finished", "-");
	/* why it failed matters more than how it was applied */
	c->cell[JOB_NOTE] = str_or(job, "error", str_or(job, "method", "-"));
}

static int print_jobs(struct run *run, json_t *resp)
{
	struct table t = {
		{ "ID", "DEVICE", "KIND", "STATE", "CREATED", "FINISHED",
		  "METHOD/ERROR" },
		JOB_NCOLS, job_row, { 0 },
	};
	json_t *jobs = need_array(resp, "jobs");

	if (jobs == NULL)
		return CLI_HUB;
	if (run->json)
		return print_json(resp);
	table_print(&t, jobs);
	return CLI_OK;
}

/* COMMAND ID: job, cancel, retry. */
static int build_on_job(struct run *run, int argc, char **argv)
{
	json_int_t id;
	int r;

	if ((r = no_opts(run, argc, argv)) != CLI_OK ||
	    (r = operands(run, argc, 1, 1, "wants one job ID")) != CLI_OK ||
	    (r = parse_id(run, argv[optind], &id)) != CLI_OK ||
	    (r = req_new(run, run->cmd->name)) != CLI_OK)
		return r;
	return req_set(run, "id", json_integer(id));
}

static int print_job(struct run *run, json_t *resp)
{
	json_t *job = need_object(resp, "job");
	const char *name, *fp, *payload, *result;
	char id[32], dev[256];

	if (job == NULL)
		return CLI_HUB;
	if (run->json)
		return print_json(resp);
	snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(job, "id")));
	name = str_or(job, "name", NULL);
	fp = str_or(job, "device", "?");
	if (name)
		snprintf(dev, sizeof(dev), "%s (%s)", name, fp);
	else
		snprintf(dev, sizeof(dev), "%s", fp);
	put_field("job:", id);
	put_field("device:", dev);
	put_field("kind:", str_or(job, "kind", "?"));
	put_field("state:", str_or(job, "state", "?"));
	put_field("created:", str_or(job, "created", "-"));
	put_field("expires:", str_or(job, "expires", "never"));
	put_field("started:", str_or(job, "started", "-"));
	put_field("finished:", str_or(job, "finished", "-"));
	put_field("method:", str_or(job, "method", "-"));
	put_field("rpc error:", json_is_true(json_object_get(job, "rpc_error"))
					? "yes" : "no");
	put_field("error:", str_or(job, "error", "-"));
	payload = json_string_value(json_object_get(job, "payload"));
	result = json_string_value(json_object_get(job, "result"));
	fputs("\npayload:\n", stdout);
	put_text(payload ? payload : "-");
	fputs("\nresult:\n", stdout);
	put_text(result ? result : "-");
	return CLI_OK;
}

/* cancel, retry: "job 17 (edit-config for r1): queued". */
static int print_job_changed(struct run *run, json_t *resp)
{
	json_t *job = need_object(resp, "job");
	char buf[CELL_MAX];

	if (job == NULL)
		return CLI_HUB;
	if (run->json)
		return print_json(resp);
	printf("job %" JSON_INTEGER_FORMAT " (%s for %s): %s\n",
	       json_integer_value(json_object_get(job, "id")),
	       str_or(job, "kind", "?"),
	       device_label(job, buf, sizeof(buf)),
	       str_or(job, "state", "?"));
	return CLI_OK;
}

/* ---- events ---- */

static const struct option events_opts[] = {
	{ "limit", required_argument, NULL, 'n' },
	{ "follow", no_argument, NULL, 'f' },
	{ NULL, 0, NULL, 0 },
};

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int build_events(struct run *run, int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sigint };
	uint32_t limit = 0;
	int c, r;

	while ((c = next_opt(run, argc, argv)) != -1) {
		switch (c) {
		case 'f':
			run->follow = true;
			break;
		case 'n':
			if ((r = parse_limit(run, optarg, &limit)) != CLI_OK)
				return r;
			break;
		default:
			return opt_done(run, c);
		}
	}
	if ((r = operands(run, argc, 0, 1,
			  "wants one DEVICE or none")) != CLI_OK ||
	    (r = req_new(run, "events")) != CLI_OK)
		return r;
	if (optind < argc &&
	    ((r = need_device(run, argv[optind])) != CLI_OK ||
	     (r = req_str(run, "device", argv[optind], "DEVICE")) != CLI_OK))
		return r;
	if (limit &&
	    (r = req_set(run, "limit", json_integer(limit))) != CLI_OK)
		return r;
	if (run->follow) {
		/* each event as it comes, even into a pipe */
		setvbuf(stdout, NULL, _IOLBF, 0);
		/* no SA_RESTART: SIGINT must cut a wait short */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
	}
	return CLI_OK;
}

enum { EV_TIME, EV_DEV, EV_KIND, EV_DETAIL, EV_NCOLS };

static void event_row(json_t *ev, struct cells *c)
{
	c->cell[EV_TIME] = str_or(ev, "time", "-");
	c->cell[EV_DEV] = device_label(ev, c->buf[EV_DEV], CELL_MAX);
	c->cell[EV_KIND] = str_or(ev, "kind", "?");
	c->cell[EV_DETAIL] = str_or(ev, "detail", "");
}

/* Prints the events newer than *since (a row each, or a JSON line each)
 * and moves *since past them. Returns how many the hub sent. */
static size_t emit_events(struct run *run, const struct table *t,
			  json_t *resp, json_int_t *since)
{
	json_t *evs = json_object_get(resp, "events"), *ev;
	json_int_t id, last;
	struct cells c;
	size_t i;

	json_array_foreach(evs, i, ev) {
		id = json_integer_value(json_object_get(ev, "id"));
		if (id <= *since)
			continue;	/* seen already */
		*since = id;
		if (run->json) {
			print_json_line(ev);
		} else {
			t->row(ev, &c);
			table_line(t, c.cell);
		}
	}
	/* Nothing matched up to last_id: start after it. With events in
	 * hand, the last of them is the cursor, in case the hub capped the
	 * batch below its newest. */
	last = json_integer_value(json_object_get(resp, "last_id"));
	if (json_array_size(evs) == 0 && last > *since)
		*since = last;
	return json_array_size(evs);
}

/* events --follow after the first answer: poll with since = the newest
 * event seen until SIGINT. A hub that goes away is said once, then asked
 * again every interval until it answers. */
static int follow_events(struct run *run, const struct table *t,
			 json_int_t since)
{
	char why[CLI_MSG_MAX];
	bool lost = false;
	json_t *resp = NULL;
	size_t n = 0;
	int r;

	r = req_set(run, "limit", json_integer(CLI_FOLLOW_BATCH));
	if (r != CLI_OK)
		return r;
	for (;;) {
		if (n < CLI_FOLLOW_BATCH && !interrupted)
			poll(NULL, 0, CLI_FOLLOW_INTERVAL_MS);
		if (interrupted)
			break;
		if ((r = req_set(run, "since", json_integer(since))) != CLI_OK)
			return r;
		run->deadline = now_ms() + (int64_t)run->timeout_s * 1000;
		fail_muted = true;
		r = exchange(run, &resp);
		fail_muted = false;
		if (interrupted)
			break;
		n = 0;
		if (r != CLI_OK) {
			if (!lost) {
				snprintf(why, sizeof(why), "%s", last_fail);
				fail("%s; retrying every %d s (Ctrl-C to "
				     "stop)", why,
				     CLI_FOLLOW_INTERVAL_MS / 1000);
			}
			lost = true;
			continue;
		}
		if (json_is_false(json_object_get(resp, "ok"))) {
			r = refused(run, resp);
			goto out;
		}
		if (need_array(resp, "events") == NULL) {
			r = CLI_HUB;
			goto out;
		}
		if (lost)
			fail("the hub at %s answers again", run->socket);
		lost = false;
		n = emit_events(run, t, resp, &since);
		json_decref(resp);
		resp = NULL;
	}
	r = CLI_OK;	/* SIGINT is how --follow ends */
out:
	json_decref(resp);
	return r;
}

static int print_events(struct run *run, json_t *resp)
{
	struct table t = {
		{ "TIME", "DEVICE", "KIND", "DETAIL" },
		EV_NCOLS, event_row, { 0 },
	};
	json_t *evs = need_array(resp, "events");
	json_int_t since = 0;

	if (evs == NULL)
		return CLI_HUB;
	if (!run->follow) {
		if (run->json)
			return print_json(resp);
		table_print(&t, evs);
		return CLI_OK;
	}
	/* rows to come are not known yet: leave room for typical ones */
	t.width[EV_TIME] = (int)strlen("2026-01-01T00:00:00Z");
	t.width[EV_DEV] = (int)(sizeof("SHA256:") - 1 + CLI_SHORT_FP);
	t.width[EV_KIND] = (int)strlen("disconnected");
	table_measure(&t, evs);
	if (!run->json)
		table_line(&t, t.head);
	emit_events(run, &t, resp, &since);
	return follow_events(run, &t, since);
}

/* ---- help ---- */

static int build_help(struct run *run, int argc, char **argv);

#define JOB_OPTS_HELP \
"\n" \
"Runs as a job: at once if the device is connected, else kept by the\n" \
"hub until the device calls home. A queued job prints one line,\n" \
"  queued as job 17 for r1 (not connected); see: callhome job 17\n" \
"and exits 0. Otherwise prints the device's <rpc-reply> as it came.\n" \
"  --now             run only if the device is connected now; if not,\n" \
"                    the hub refuses (exit 4) and nothing is queued\n" \
"  --queue           always queue, even behind other jobs of the device\n" \
"                    (runs at once if connected and nothing is ahead)\n" \
"  --wait            wait for the outcome even if the job is queued,\n" \
"                    as long as --timeout allows (a queued job stays\n" \
"                    queued when the CLI gives up)\n" \
"  --expires D       drop the job if it has not run within D: seconds,\n" \
"                    or 30m, 2h, 7d (at most 366d)\n" \
"With --json, prints the hub's whole response object instead.\n"

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
		.name = "device",
		.args = "DEVICE",
		.summary = "show one device: its fields, keys and queued jobs",
		.help =
"Shows everything the hub knows of one device: name, fingerprint,\n"
"admission, connection, its identities (the host keys it may call with)\n"
"and how many jobs wait for it. With --json, prints the hub's response.\n",
		.build = build_on_device,
		.print = print_device,
	},
	{
		.name = "approve",
		.args = "DEVICE [--name NAME]",
		.summary = "admit a pending device (and name it)",
		.help =
"Admits a device that called and is pending, so its next call is\n"
"served; with --name, names it too. Approving an admitted device only\n"
"sets the name. A revoked device cannot be approved: add it again with\n"
"a new key. Prints the device as it is now.\n",
		.longopts = approve_opts,
		.done = "approved",
		.build = build_approve,
		.print = print_changed,
	},
	{
		.name = "add",
		.args = "NAME --fingerprint FP",
		.summary = "pre-provision a device by its key's fingerprint",
		.help =
"Records a device that has not called yet, admitted and named, so it\n"
"is served from its first call. FP is its SSH host-key fingerprint,\n"
"SHA256: and 43 base64 characters (ssh-keygen -lf KEY.pub).\n",
		.longopts = add_opts,
		.done = "added",
		.build = build_add,
		.print = print_changed,
	},
	{
		.name = "rename",
		.args = "DEVICE NAME",
		.summary = "name a device, or '' to remove its name",
		.help =
"Sets the operator's name of a device (1 to 64 of A-Z a-z 0-9 . _ -),\n"
"or removes it with NAME ''.\n",
		.done = "renamed",
		.build = build_rename,
		.print = print_changed,
	},
	{
		.name = "revoke",
		.args = "DEVICE",
		.summary = "refuse a device from now on; close its session",
		.help =
"Revokes a device: its calls are refused from now on and its session,\n"
"if any, is closed. To let it back, add it again with a new key.\n",
		.done = "revoked",
		.build = build_on_device,
		.print = print_changed,
	},
	{
		.name = "identity add",
		.args = "DEVICE FP",
		.summary = "let a device also call with another key",
		.help =
"Adds another host key (by its fingerprint FP) under which the device\n"
"is known, for key rotation: the device may call with either key. The\n"
"device's fingerprint (its identity) stays the same.\n",
		.done = "added an identity to",
		.build = build_identity_add,
		.print = print_changed,
	},
	{
		.name = "identity remove",
		.args = "FP",
		.summary = "forget one key of a device",
		.help =
"Removes the identity FP from whichever device has it; a session that\n"
"came in with that key is closed.\n",
		.build = build_identity_remove,
		.print = print_identity_removed,
	},
	{
		.name = "rpc",
		.args = "DEVICE XML|- [--now|--queue] [--wait] [--expires D]",
		.summary = "send one NETCONF operation, print the rpc-reply",
		.help =
"Sends the operation XML (e.g. '<get/>', or a whole <rpc> whose\n"
"message-id the hub replaces). XML - reads the operation from standard\n"
"input (at most 16 MiB).\n" JOB_OPTS_HELP,
		.longopts = job_opts,
		.build = build_rpc,
		.print = print_job_result,
	},
	{
		.name = "get-config",
		.args = "DEVICE [--source S] [--now|--queue] [--wait] "
			"[--expires D]",
		.summary = "print a device's configuration (rpc-reply XML)",
		.help =
"Sends <get-config> for the datastore given by --source: running (the\n"
"default), candidate or startup.\n" JOB_OPTS_HELP,
		.shortopts = "s:",
		.longopts = get_config_opts,
		.build = build_get_config,
		.print = print_job_result,
	},
	{
		.name = "edit-config",
		.args = "DEVICE FILE|- [--now|--queue] [--wait] [--expires D]",
		.summary = "change a device's configuration",
		.help =
"Sends <edit-config> with the content of FILE (- for standard input,\n"
"at most 16 MiB): the elements that go inside <config>, not the\n"
"<config> element itself. The hub chooses how to apply it from the\n"
"device's capabilities (see the job's METHOD).\n" JOB_OPTS_HELP,
		.longopts = job_opts,
		.build = build_edit_config,
		.print = print_job_result,
	},
	{
		.name = "jobs",
		.args = "[DEVICE] [--state S] [-n|--limit N]",
		.summary = "list jobs, newest first",
		.help =
"Lists the hub's jobs, newest first (at most 50 unless --limit), of\n"
"one DEVICE or of all; --state keeps one state: queued, running, done,\n"
"failed, in-doubt, cancelled or expired. Columns:\n"
"  ID            the job's number, for callhome job, cancel, retry\n"
"  DEVICE        the device's name, or the start of its fingerprint\n"
"  KIND          rpc, get-config or edit-config\n"
"  STATE         as above\n"
"  CREATED       when it was submitted (UTC)\n"
"  FINISHED      when it ended, - if not yet\n"
"  METHOD/ERROR  why it failed, else how it was applied\n"
"With --json, prints the hub's response.\n",
		.shortopts = "n:",
		.longopts = jobs_opts,
		.build = build_jobs,
		.print = print_jobs,
	},
	{
		.name = "job",
		.args = "ID",
		.summary = "show one job: details, payload and result",
		.help =
"Shows one job: its fields, the payload sent (or to be sent) and the\n"
"device's reply, if it has one. With --json, prints the hub's response.\n",
		.build = build_on_job,
		.print = print_job,
	},
	{
		.name = "cancel",
		.args = "ID",
		.summary = "cancel a queued job",
		.help = "Cancels a job that is still queued; other states are "
			"refused (exit 4).\n",
		.build = build_on_job,
		.print = print_job_changed,
	},
	{
		.name = "retry",
		.args = "ID",
		.summary = "queue a failed or in-doubt job again",
		.help =
"Queues a failed or in-doubt job again; it runs when the device is\n"
"connected and nothing is ahead of it. Check an in-doubt job's device\n"
"first: its operation may have taken effect.\n",
		.build = build_on_job,
		.print = print_job_changed,
	},
	{
		.name = "events",
		.args = "[DEVICE] [-n|--limit N] [-f|--follow]",
		.summary = "show the hub's event log; -f to keep watching",
		.help =
"Shows the newest events (50 unless --limit), oldest first, of one\n"
"DEVICE or of all: calls, admissions, sessions ending, jobs. Columns\n"
"TIME (UTC), DEVICE (name, or the start of its fingerprint), KIND and\n"
"DETAIL. With --follow, then prints new events as they come, polling\n"
"the hub every second, until Ctrl-C (exit 0); if the hub goes away it\n"
"says so once on standard error and keeps asking. With --json, prints\n"
"the hub's response; with --follow, one JSON object per event per line.\n",
		.shortopts = "n:f",
		.longopts = events_opts,
		.build = build_events,
		.print = print_events,
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

/* How many of name's words the words argv[0..argc) spell, from the first;
 * -1 at the first that differs. */
static int words_matched(const char *name, int argc, char **argv)
{
	int n;

	for (n = 0; n < argc && *name; n++) {
		size_t len = strcspn(name, " ");

		if (strlen(argv[n]) != len || strncmp(argv[n], name, len))
			return -1;
		name += len;
		name += *name == ' ';
	}
	return *name ? -1 : n;
}

/* The command named by the words at argv[0..]: one, or two such as
 * "identity add". *nwords: how many words it took. */
static const struct command *find_command(int argc, char **argv,
					  int *nwords)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if ((*nwords = words_matched(commands[i].name, argc,
					     argv)) > 0)
			return &commands[i];
	}
	*nwords = 0;
	return NULL;
}

/* Whether name is a two-word command whose first word is word. */
static bool in_group(const char *name, const char *word)
{
	size_t len = strlen(word);

	return strncmp(name, word, len) == 0 && name[len] == ' ';
}

/* Whether word starts two-word commands ("identity"); lists their second
 * words into buf. */
static bool command_group(const char *word, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NCOMMANDS && used < size; i++)
		if (in_group(commands[i].name, word))
			used += (size_t)snprintf(buf + used, size - used,
						 "%s%s", used ? ", " : "",
						 commands[i].name +
						 strlen(word) + 1);
	return buf[0] != '\0';
}

static const char exit_text[] =
"Exit status:\n"
"  0  success; for rpc, get-config, edit-config also: the job was queued\n"
"  1  usage error\n"
"  2  the hub is unreachable, timed out, or broke the protocol\n"
"  3  the device answered with an rpc-error (the reply is still printed)\n"
"  4  the hub refused the request (e.g. no such device, or --now and it\n"
"     is not connected): its error on standard error, and with --json\n"
"     its response on stdout\n"
"  5  the job ended without success: failed, in doubt, cancelled or\n"
"     expired (rpc, get-config, edit-config; see: callhome job ID)\n";

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

static void command_usage(FILE *f, const struct command *cmd)
{
	fprintf(f, "Usage: callhome [OPTION]... %s %s\n%s.\n\n%s\n",
		cmd->name, cmd->args, cmd->summary, cmd->help);
}

static void command_help(FILE *f, const struct command *cmd)
{
	command_usage(f, cmd);
	fputs(cmd->print ? exit_text : "", f);
}

static int build_help(struct run *run, int argc, char **argv)
{
	const struct command *cmd;
	char more[128];
	int r, n;

	if ((r = no_opts(run, argc, argv)) != CLI_OK)
		return r;
	if (optind >= argc) {
		usage(stdout);
		return CLI_HELPED;
	}
	cmd = find_command(argc - optind, argv + optind, &n);
	if (cmd && n == argc - optind) {
		command_help(stdout, cmd);
		return CLI_HELPED;
	}
	/* "help identity": every command of the group */
	if (argc - optind == 1 && command_group(argv[optind], more,
						sizeof(more))) {
		for (size_t i = 0; i < NCOMMANDS; i++)
			if (in_group(commands[i].name, argv[optind]))
				command_usage(stdout, &commands[i]);
		fputs(exit_text, stdout);
		return CLI_HELPED;
	}
	return usage_error(run, "no command '%s'", argv[optind]);
}

/* ---- main ---- */

static int run_command(struct run *run, int argc, char **argv)
{
	json_t *resp = NULL;
	int r;

	merge_opts(run, ":", run->cmd->shortopts, run->cmd->longopts, NULL);
	optind = 0;	/* glibc: restart getopt on a new argv */
	r = run->cmd->build(run, argc, argv);
	if (r == CLI_HELPED)
		return CLI_OK;
	if (r != CLI_OK)
		return r;
	if (run->req == NULL)
		return out_of_memory();
	run->deadline = now_ms() + (int64_t)run->timeout_s * 1000;
	if ((r = exchange(run, &resp)) != CLI_OK)
		goto out;
	if (json_is_false(json_object_get(resp, "ok")))
		r = refused(run, resp);
	else
		r = run->cmd->print(run, resp);
out:
	json_decref(resp);
	/* SIGINT is how --follow ends, whatever it cut short */
	return interrupted ? CLI_OK : r;
}

int main(int argc, char **argv)
{
	static const struct option version = { "version", no_argument, NULL,
					       'V' };
	struct run run = { .timeout_s = CLI_DEFAULT_TIMEOUT_S };
	const char *env = getenv(CLI_SOCKET_ENV);
	char more[128];
	int c, r, n;

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
	run.cmd = find_command(argc - optind, argv + optind, &n);
	if (run.cmd == NULL) {
		if (command_group(argv[optind], more, sizeof(more)))
			fail("%s wants one of: %s (see: callhome help %s)",
			     argv[optind], more, argv[optind]);
		else
			fail("unknown command '%s' (see: callhome --help)",
			     argv[optind]);
		return CLI_USAGE;
	}
	/* the command's last word plays argv[0] */
	optind += n - 1;
	r = run_command(&run, argc - optind, argv + optind);
	json_decref(run.req);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fail("writing to standard output: %s", strerror(errno));
		if (r == CLI_OK)
			r = CLI_HUB;
	}
	return r;
}
