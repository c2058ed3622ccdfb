/* status.c - `callhome status`: the hub's build, uptime, listeners,
 * sessions, fleet and queue, one line each (docs/control-api.md). */
#include <stdio.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "lib/core/version.h"

int build_status(struct run *run, int argc, char **argv)
{
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_operands(run, argc, 0, 0, "takes no arguments")) !=
		    CLI_OK)
		return r;
	return req_start(run, NULL);
}

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* "3d 4h", "2h 5m", "4m 10s": two units are enough to read an uptime. */
static void span(long long s, char *buf, size_t size)
{
	if (s >= 86400)
		snprintf(buf, size, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%lldm %llds", s / 60, s % 60);
}

int print_status(struct run *run, json_t *resp)
{
	json_t *ls = json_object_get(resp, "listeners"), *l;
	json_t *se = json_object_get(resp, "sessions");
	json_t *dv = json_object_get(resp, "devices");
	json_t *jb = json_object_get(resp, "jobs");
	time_t started = (time_t)num(resp, "started");
	char up[32], since[32] = "?";
	struct tm tm;
	size_t i;

	if (run->json)
		return resp_print_json(resp);
	span(num(resp, "uptime_s"), up, sizeof(up));
	if (gmtime_r(&started, &tm))
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("hub:        callhome-hub %s (commit %s), pid %lld, up %s "
	       "(since %s)\n", resp_str(resp, "version", "?"),
	       resp_str(resp, "commit", "?"), num(resp, "pid"), up, since);
	printf("cli:        callhome %s (commit %s)\n", CH_VERSION, ch_commit);
	printf("runs as:    %s (uid %lld), state in %s; SSH user %s\n",
	       resp_str(resp, "unix_user", "?"), num(resp, "uid"),
	       resp_str(resp, "state_dir", "?"), resp_str(resp, "ssh_user",
							  "?"));
	printf("admission:  %s\n", resp_str(resp, "admission", "?"));
	printf("listening:");
	json_array_foreach(ls, i, l)
		printf("%s %s (%s)", i ? "," : "", resp_str(l, "address", "?"),
		       resp_str(l, "serves", "?"));
	printf("%s\n", json_array_size(ls) ? "" : " nothing");
	printf("sessions:   %lld NETCONF over SSH, %lld over TLS, %lld in "
	       "handshake; %lld terminals, %lld forwards\n",
	       num(se, "netconf_ssh"), num(se, "netconf_tls"),
	       num(se, "handshaking"), num(se, "terminals"),
	       num(se, "forwards"));
	printf("devices:    %lld known: %lld admitted, %lld pending, %lld "
	       "revoked; %lld connected\n", num(dv, "total"),
	       num(dv, "admitted"), num(dv, "pending"), num(dv, "revoked"),
	       num(dv, "connected"));
	printf("jobs:       %lld queued, %lld running, %lld in doubt; %lld "
	       "done, %lld failed, %lld cancelled, %lld expired\n",
	       num(jb, "queued"), num(jb, "running"), num(jb, "in-doubt"),
	       num(jb, "done"), num(jb, "failed"), num(jb, "cancelled"),
	       num(jb, "expired"));
	printf("blocked:    %lld source addresses\n",
	       num(resp, "blocked_sources"));
	if (num(resp, "workers") > 1) {
		json_t *wl = json_object_get(resp, "worker_list"), *w;

		printf("workers:    %lld:", num(resp, "workers"));
		json_array_foreach(wl, i, w)
			printf("%s #%lld pid %lld, %lld sessions", i ? ";" : "",
			       num(w, "worker"), num(w, "pid"),
			       num(json_object_get(w, "sessions"),
				   "netconf_ssh") +
			       num(json_object_get(w, "sessions"),
				   "netconf_tls"));
		if (json_array_size(wl) < (size_t)num(resp, "workers"))
			printf("%s %lld not answering",
			       json_array_size(wl) ? ";" : "",
			       num(resp, "workers") -
			       (long long)json_array_size(wl));
		printf("\n");
	}
	return CLI_OK;
}
