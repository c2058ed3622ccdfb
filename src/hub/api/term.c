/* term.c - exec, shell and connect: the request is checked and its device
 * found here; the stream itself is hub/term.c's. */
#include "hub/api/term.h"

#include <stdio.h>
#include <string.h>

#include "hub/api/req.h"
#include "hub/hub.h"
#include "hub/record.h"
#include "hub/snmp.h"
#include "hub/term.h"
#include "lib/core/err.h"
#include "lib/core/streamframe.h"
#include "lib/xport/xport.h"

_Static_assert(CH_SFRAME_COMMAND_MAX + 1 == CH_STREAM_NAME_MAX &&
	       CH_SFRAME_TERM_MAX + 1 == CH_STREAM_TERM_MAX,
	       "the CLI's limits are the transport's");

#define TERM_SIZE_MAX 65535	/* columns or rows of a terminal */

/* "pty": null/absent, or {"term":T,"cols":C,"rows":R}. */
static int pty_arg(struct hub_ctl_req *req, json_t *args,
		   struct term_spec *spec)
{
	json_t *pty = json_object_get(args, "pty"), *c, *r;
	const char *term;

	if (pty == NULL || json_is_null(pty))
		return 0;
	term = json_string_value(json_object_get(pty, "term"));
	c = json_object_get(pty, "cols");
	r = json_object_get(pty, "rows");
	if (!json_is_object(pty) || (term && strlen(term) >=
				     CH_STREAM_TERM_MAX) ||
	    !json_is_integer(c) || !json_is_integer(r) ||
	    json_integer_value(c) < 0 || json_integer_value(c) >
	    TERM_SIZE_MAX || json_integer_value(r) < 0 ||
	    json_integer_value(r) > TERM_SIZE_MAX) {
		hub_ctl_fail(req, "bad-request", "\"pty\" must be null or "
			     "{\"term\":TERM,\"cols\":N,\"rows\":N} (TERM "
			     "shorter than " CH_STR(CH_STREAM_TERM_MAX)
			     " bytes, sizes 0 to " CH_STR(TERM_SIZE_MAX) ")");
		return -1;
	}
	spec->pty = 1;
	spec->term = term && *term ? term : "xterm";
	spec->cols = (uint32_t)json_integer_value(c);
	spec->rows = (uint32_t)json_integer_value(r);
	return 0;
}

static void start(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		  struct term_spec *spec)
{
	struct ch_device_rec rec;
	struct device *d;
	char msg[512];

	if (pty_arg(req, args, spec) != 0 ||
	    api_device_arg(hub, req, args, &rec) != 0 ||
	    api_admitted(req, &rec) != 0)
		return;
	spec->label = api_arg(args, "device");
	if ((d = hub_find_device(hub, rec.fingerprint)) == NULL) {
		snprintf(msg, sizeof(msg), "device %.200s is not connected",
			 spec->label);
		hub_ctl_fail(req, "not-connected", msg);
		return;
	}
	api_audit_elsewhere(req);	/* the stream's start, with its id */
	term_start(hub, req, d, spec);
}

/* Both claim the connection first: whatever the answer, nothing after
 * the request line is read as a request. */
void cmd_exec(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct term_spec spec = { .shell = 0 };

	hub_ctl_claim(req);
	spec.command = api_arg(args, "command");
	if (spec.command == NULL || *spec.command == '\0' ||
	    strlen(spec.command) >= CH_STREAM_NAME_MAX) {
		hub_ctl_fail(req, "bad-request", "\"command\" (the command "
			     "line, 1 to " CH_STR(CH_STREAM_NAME_MAX) " bytes "
			     "less one) is required");
		return;
	}
	start(hub, req, args, &spec);
}

/* "key": absent (0), or a session or recording ID (1 and *id); -1 when
 * it is something else (req failed). */
static int id_arg(struct hub_ctl_req *req, json_t *args, const char *key,
		  unsigned *id)
{
	json_t *v = json_object_get(args, key);
	char msg[128];

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 0xffffffffLL) {
		snprintf(msg, sizeof(msg), "\"%s\" must be a session ID (a "
			 "positive integer)", key);
		hub_ctl_fail(req, "bad-request", msg);
		return -1;
	}
	*id = (unsigned)json_integer_value(v);
	return 1;
}

/* shell with "attach" or "watch": an existing session. */
static void join(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		 unsigned id, int watch)
{
	struct term_spec spec = { .shell = 1 };
	struct ch_device_rec rec;
	const char *fp = NULL;

	if (pty_arg(req, args, &spec) != 0)
		return;
	if (api_arg(args, "device")) {
		if (api_device_arg(hub, req, args, &rec) != 0)
			return;
		fp = rec.fingerprint;
	}
	api_audit_action(req, watch ? "shell-watch" : "shell-attach");
	api_audit_detail(req, "session %u", id);
	term_join(hub, req, id, fp, &spec, watch);
}

void cmd_shell(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct term_spec spec = { .shell = 1 };
	json_t *cmd = json_object_get(args, "command");
	unsigned attach = 0, watch = 0;
	int a, w;

	hub_ctl_claim(req);
	if (cmd && !json_is_null(cmd)) {
		hub_ctl_fail(req, "bad-request", "a shell takes no \"command\" "
			     "(use exec)");
		return;
	}
	if ((a = id_arg(req, args, "attach", &attach)) < 0 ||
	    (w = id_arg(req, args, "watch", &watch)) < 0)
		return;
	if (a && w) {
		hub_ctl_fail(req, "bad-request", "\"attach\" or \"watch\", "
			     "not both");
		return;
	}
	if (a || w) {
		join(hub, req, args, a ? attach : watch, w);
		return;
	}
	start(hub, req, args, &spec);
}

/* "host" (a name or an address, resolved and judged by the device) and
 * "port" (1 to 65535). */
void cmd_connect(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct term_spec spec = { .forward = 1 };
	json_t *port = json_object_get(args, "port");

	hub_ctl_claim(req);
	spec.host = api_arg(args, "host");
	if (spec.host == NULL || *spec.host == '\0' ||
	    strlen(spec.host) >= CH_STREAM_NAME_MAX ||
	    !json_is_integer(port) || json_integer_value(port) < 1 ||
	    json_integer_value(port) > 65535) {
		hub_ctl_fail(req, "bad-request", "\"host\" (a name or an "
			     "address, 1 to " CH_STR(CH_STREAM_NAME_MAX)
			     " bytes less one) and \"port\" (1 to 65535) are "
			     "required");
		return;
	}
	spec.port = (uint16_t)json_integer_value(port);
	start(hub, req, args, &spec);
}

/* "device" and "listen" ("[BIND:]PORT", BIND 127.0.0.1 by default). The
 * device need not be connected yet: datagrams wait for nothing, they are
 * dropped until it is. */
void cmd_snmp(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct ch_device_rec rec;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *listen = api_arg(args, "listen");

	hub_ctl_claim(req);
	if (listen == NULL ||
	    snmp_endpoint_parse(listen, &ss, &len) != CH_OK) {
		hub_ctl_fail(req, "bad-request", "\"listen\" ([BIND:]PORT, "
			     "BIND a numeric address) is required");
		return;
	}
	if (api_device_arg(hub, req, args, &rec) != 0 ||
	    api_admitted(req, &rec) != 0)
		return;
	api_audit_elsewhere(req);	/* the session's start and end */
	snmp_session(hub, req, rec.fingerprint, api_arg(args, "device"), &ss,
		     len);
}

/* "device": absent (every device), or resolved to *fp. */
static int device_filter(struct hub *hub, struct hub_ctl_req *req,
			 json_t *args, struct ch_device_rec *rec,
			 const char **fp)
{
	*fp = NULL;
	if (api_arg(args, "device") == NULL)
		return 0;
	if (api_device_arg(hub, req, args, rec) != 0)
		return -1;
	*fp = rec->fingerprint;
	return 0;
}

void cmd_sessions(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct ch_device_rec rec;
	const char *fp;

	if (device_filter(hub, req, args, &rec, &fp) != 0)
		return;
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "sessions",
				       term_list(hub, fp)));
}

void cmd_recordings(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct ch_device_rec rec;
	const char *fp;
	json_t *jl = json_object_get(args, "limit");
	json_int_t limit = jl ? json_integer_value(jl) : CH_HUB_LIST_DEFAULT;

	if (jl && (!json_is_integer(jl) || limit < 1 ||
		   limit > CH_TERM_RECORDINGS_MAX)) {
		hub_ctl_fail(req, "bad-request", "\"limit\" must be 1 to "
			     CH_STR(CH_TERM_RECORDINGS_MAX));
		return;
	}
	if (device_filter(hub, req, args, &rec, &fp) != 0)
		return;
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "recordings",
				       record_list(hub->rec_dir, fp,
						   (size_t)limit)));
}

/* A recording, streamed back as stdout frames. */
void cmd_play(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	unsigned id = 0;
	int r;

	hub_ctl_claim(req);
	r = id_arg(req, args, "id", &id);

	if (r == 0)
		hub_ctl_fail(req, "bad-request", "\"id\" (a recording's ID) "
			     "is required");
	if (r <= 0)
		return;
	record_play(hub->loop, req, hub->rec_dir, id);
}
