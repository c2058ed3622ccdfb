/* notiftime_fuzz.c - libFuzzer target for callhomed's notification times
 * and replay log (src/agent/notif.c, RFC 5277).
 *
 * The first input byte picks what the rest is (its value modulo 3):
 *   0  an RFC 3339 date-and-time for notif_parse_time. When it parses,
 *      the seconds must round-trip through notif_time_text, and for a
 *      UTC time without a leap second gmtime() must give back the very
 *      date and time that were written (no Feb 30, no Feb 29 in 2023);
 *   1  a <create-subscription> element (any namespace declarations) for
 *      notif_parse_request, "now" being NOW below: an accepted request
 *      obeys RFC 5277 2.1.1 (stopTime needs and follows startTime, which
 *      is not in the future; the filter is a subtree one), a refused one
 *      carries an error-tag and a message;
 *   2  the replay log file (records "SECONDS LEN\n" + LEN bytes + "\n"),
 *      opened by notif_log_open with small bounds (LOG_N records,
 *      LOG_BYTES bytes): the log keeps its bounds, and reopening the file
 *      it left (rewritten when damaged) gives the same records.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/notif.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/log.h"
#include "lib/nc/filter.h"
#include "lib/nc/msg.h"

#define NOW ((time_t)1796083200)	/* 2026-12-01T00:00:00Z */
#define TEXT_MAX 256
#define LOG_N 8
#define LOG_BYTES 256
#define MAX_UTC ((time_t)253402300799)	/* 9999-12-31T23:59:59Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

/* n decimal digits at s (known to be digits when the text parsed). */
static int num(const char *s, int n)
{
	int v = 0;

	for (int k = 0; k < n; k++)
		v = v * 10 + (s[k] - '0');
	return v;
}

static void fuzz_time(const uint8_t *data, size_t size)
{
	char text[TEXT_MAX + 1], again[NOTIF_TIME_TEXT_MAX];
	struct tm tm;
	time_t t, t2;
	size_t n = size < TEXT_MAX ? size : TEXT_MAX;

	memcpy(text, data, n);
	text[n] = '\0';
	n = strlen(text);
	if (notif_parse_time(text, &t) != CH_OK) {
		if (t != 0)
			abort();
		return;
	}
	if (t < 0 || t > MAX_UTC)
		return;		/* years 0 and 9999 moved by an offset */
	notif_time_text(t, again, sizeof(again));
	if (notif_parse_time(again, &t2) != CH_OK || t2 != t)
		abort();
	/* "YYYY-MM-DDThh:mm:ss" then an optional fraction, then Z */
	if ((text[n - 1] != 'Z' && text[n - 1] != 'z') || num(text + 17, 2) > 59)
		return;
	if (gmtime_r(&t, &tm) == NULL)
		abort();
	if (tm.tm_year + 1900 != num(text, 4) ||
	    tm.tm_mon + 1 != num(text + 5, 2) || tm.tm_mday != num(text + 8, 2) ||
	    tm.tm_hour != num(text + 11, 2) || tm.tm_min != num(text + 14, 2) ||
	    tm.tm_sec != num(text + 17, 2))
		abort();
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	struct notif_req req;
	struct notif_err err;
	enum ch_filter_type type;
	xmlDoc *doc = NULL;
	int r;

	if (ch_xml_parse((const char *)data, size, &doc) != CH_OK)
		return;
	r = notif_parse_request(xmlDocGetRootElement(doc), NOW, &req, &err);
	if (r == CH_OK) {
		if (err.tag != NULL || err.message[0] || err.info[0] ||
		    (req.has_stop && !req.has_start) ||
		    (req.has_start && req.start > NOW) ||
		    (req.has_stop && req.stop < req.start) ||
		    (!req.has_start && req.start != 0) ||
		    (!req.has_stop && req.stop != 0))
			abort();
		if (req.filter != NULL &&
		    (strcmp((const char *)req.filter->name, "filter") != 0 ||
		     ch_filter_type(req.filter, &type) != CH_OK ||
		     type != CH_FILTER_SUBTREE))
			abort();
	} else if (r != CH_ERR_INVAL || err.tag == NULL ||
		   err.message[0] == '\0' ||
		   memchr(err.message, 0, sizeof(err.message)) == NULL ||
		   memchr(err.info, 0, sizeof(err.info)) == NULL) {
		abort();
	}
	xmlFreeDoc(doc);
}

/* The records of log, oldest first, must be those of other. */
static void same_records(const struct notif_log *a, const struct notif_log *b)
{
	struct notif_rec x, y;
	size_t i = 0, j = 0;

	if (notif_log_count(a) != notif_log_count(b))
		abort();
	while (notif_log_next(a, &i, (time_t)LONG_MIN, NULL, &x)) {
		if (!notif_log_next(b, &j, (time_t)LONG_MIN, NULL, &y) ||
		    x.t != y.t || x.len != y.len ||
		    memcmp(x.body, y.body, x.len) != 0)
			abort();
	}
	if (notif_log_next(b, &j, (time_t)LONG_MIN, NULL, &y))
		abort();
}

static void fuzz_log(const uint8_t *data, size_t size)
{
	struct notif_log *log = NULL, *again = NULL;
	struct notif_rec rec;
	char path[128];
	size_t i = 0, n = 0, bytes = 0;

	snprintf(path, sizeof(path), "%s/notifications.log", dir);
	if (ch_file_write_atomic(path, (const char *)data, size, 0600) != CH_OK)
		abort();
	if (notif_log_open(path, LOG_N, LOG_BYTES, &log) != CH_OK)
		goto out;
	while (notif_log_next(log, &i, (time_t)LONG_MIN, NULL, &rec)) {
		if (rec.body[rec.len] != '\0')
			abort();
		n++;
		bytes += rec.len;
	}
	if (n != notif_log_count(log) || n > LOG_N ||
	    (n > 1 && bytes > LOG_BYTES))
		abort();
	if (notif_log_open(path, LOG_N, LOG_BYTES, &again) != CH_OK)
		goto out;
	same_records(log, again);
out:
	notif_log_free(again);
	notif_log_free(log);
	unlink(path);
}

static void remove_dir(void)
{
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0') {
		const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
								: "/tmp";

		snprintf(dir, sizeof(dir), "%s/ch-fuzz-notif-XXXXXX", tmp);
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(remove_dir);
		ch_log_set_level(CH_LOG_ERROR);	/* damaged logs warn */
	}
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_time(data + 1, size - 1);
		break;
	case 1:
		fuzz_request(data + 1, size - 1);
		break;
	default:
		fuzz_log(data + 1, size - 1);
		break;
	}
	return 0;
}
