/* request.c - building the request object from the command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/request.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"

int req_start(struct run *run, const char *device)
{
	char cmd[64];

	/* the wire names the two-word commands with a dash */
	snprintf(cmd, sizeof(cmd), "%s", run->cmd->name);
	for (char *p = cmd; *p; p++)
		if (*p == ' ')
			*p = '-';
	if ((run->req = json_pack("{s:s}", "cmd", cmd)) == NULL)
		return cli_out_of_memory();
	return device ? req_str(run, "device", device, "DEVICE") : CLI_OK;
}

int req_set(struct run *run, const char *key, json_t *v)
{
	if (v == NULL || run->req == NULL ||
	    json_object_set_new(run->req, key, v) != 0)
		return cli_out_of_memory();
	return CLI_OK;
}

/* Sets key to s[0..len). */
static int req_strn(struct run *run, const char *key, const char *s,
		    size_t len, const char *what)
{
	json_t *v;

	if (memchr(s, '\0', len) != NULL)
		return cli_usage_error(run, "%s contains a NUL byte", what);
	if ((v = json_stringn(s, len)) == NULL)
		return cli_usage_error(run, "%s is not valid UTF-8", what);
	return req_set(run, key, v);
}

int req_str(struct run *run, const char *key, const char *s,
	    const char *what)
{
	return req_strn(run, key, s, strlen(s), what);
}

int req_limit(struct run *run, uint32_t limit)
{
	return limit ? req_set(run, "limit", json_integer(limit)) : CLI_OK;
}

/* Reads all of f, at most CH_CLI_MAX_XML bytes; name is for messages. */
static int read_stream(struct run *run, FILE *f, const char *name,
		       char **out, size_t *len)
{
	struct ch_buf b;
	char chunk[65536];
	size_t n;
	int r = CLI_OK;

	*out = NULL;
	*len = 0;
	ch_buf_init(&b, CH_CLI_MAX_XML);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (ch_buf_put(&b, chunk, n) != CH_OK) {
			r = cli_usage_error(run, "%s is larger than %u MiB",
					    name, CH_CLI_MAX_XML >> 20);
			goto out;
		}
	}
	if (ferror(f)) {
		cli_fail_errno(errno, "reading %s", name);
		r = CLI_USAGE;
		goto out;
	}
	*len = ch_buf_len(&b);
	if ((*out = ch_buf_take(&b)) == NULL)
		r = cli_out_of_memory();
out:
	ch_buf_cleanup(&b);
	return r;
}

int req_text(struct run *run, const char *key, const char *arg, bool is_path,
	     const char *what)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (strcmp(arg, "-") == 0) {
		r = read_stream(run, stdin, "standard input", &data, &len);
	} else if (is_path) {
		if ((f = fopen(arg, "rb")) == NULL) {
			cli_fail_errno(errno, "cannot open %s", arg);
			return CLI_USAGE;
		}
		r = read_stream(run, f, arg, &data, &len);
		fclose(f);
	} else {
		len = strlen(arg);
		r = (data = strdup(arg)) ? CLI_OK : cli_out_of_memory();
	}
	if (r != CLI_OK)
		goto out;
	if (memchr(data, '\0', len) == NULL &&
	    strspn(data, " \t\r\n") == len) {
		r = cli_usage_error(run, "%s is empty", what);
		goto out;
	}
	r = req_strn(run, key, data, len, what);
out:
	free(data);
	return r;
}
