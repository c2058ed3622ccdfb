/* devxml_fuzz.c - libFuzzer target for what the hub reads out of a
 * device's XML for itself (src/hub/devxml.c): a <notification> (the
 * event text, who changed what) and a get-config reply (the archive's
 * indented text).
 *
 * The first input byte picks the parser (even: notification, odd: the
 * get-config reply). Checks: a parsed notification has an event name and
 * a time, at most CH_NOTIF_EDITS_SHOWN edits kept, and its text is one
 * terminated line within its buffer; the archive's text stays within the
 * buffer's bound and, indented again, is the same (the form is stable). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/devxml.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#define FUZZ_CONFIG_MAX (64u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void notif(const char *p, size_t n)
{
	struct devxml_notif nt;
	char text[CH_STORE_TEXT_MAX], who[256];

	if (devxml_notif_parse(p, n, &nt) != CH_OK)
		return;
	if (nt.event[0] == '\0' || nt.time[0] == '\0')
		abort();
	devxml_notif_text(&nt, text, sizeof(text));
	devxml_notif_who(&nt, who, sizeof(who));
	if (strlen(text) >= sizeof(text) || strchr(text, '\n') ||
	    strchr(who, '\n'))
		abort();
}

static void config(const char *p, size_t n)
{
	/* prefixed: no default namespace in scope of the text */
	static const char open[] = "<nc:rpc-reply xmlns:nc=\"urn:ietf:params:"
				   "xml:ns:netconf:base:1.0\"><nc:data>";
	static const char close[] = "</nc:data></nc:rpc-reply>";
	struct ch_buf a, b, again;
	const char *why;

	ch_buf_init(&a, FUZZ_CONFIG_MAX);
	ch_buf_init(&b, FUZZ_CONFIG_MAX);
	ch_buf_init(&again, 4 * FUZZ_CONFIG_MAX);
	if (devxml_config(p, n, &a, &why) == CH_OK) {
		if (ch_buf_len(&a) > FUZZ_CONFIG_MAX)
			abort();
		/* the archive's text, as a reply again: the same text */
		if (ch_buf_puts(&again, open) == CH_OK &&
		    ch_buf_put(&again, ch_buf_ptr(&a), ch_buf_len(&a)) == CH_OK &&
		    ch_buf_puts(&again, close) == CH_OK &&
		    devxml_config(ch_buf_ptr(&again), ch_buf_len(&again), &b,
				  &why) == CH_OK &&
		    (ch_buf_len(&a) != ch_buf_len(&b) ||
		     memcmp(ch_buf_ptr(&a), ch_buf_ptr(&b), ch_buf_len(&a))))
			abort();
	} else if (ch_buf_len(&a) != 0 || why == NULL) {
		abort();
	}
	ch_buf_cleanup(&a);
	ch_buf_cleanup(&b);
	ch_buf_cleanup(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;

	if (!quiet) {
		ch_log_set_level(CH_LOG_ERROR + 1);
		quiet = 1;
	}
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		notif((const char *)data + 1, size - 1);
	else
		config((const char *)data + 1, size - 1);
	return 0;
}
