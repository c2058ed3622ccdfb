/* asciicast.c - asciicast v2 event lines, UTF-8-safe (asciicast.h). */
#include "lib/core/asciicast.h"

#include <stdio.h>
#include <string.h>

#include "lib/core/err.h"

#define REPLACEMENT "\xef\xbf\xbd"	/* U+FFFD */

int ch_utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	int len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return -1;
	/* the second byte's range excludes overlong forms, surrogates and
	 * code points past U+10FFFF (RFC 3629, section 4) */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return 0;
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
			return -1;
	}
	return len;
}

/* The escaped body of p[0..n) without quotes; with carry, an incomplete
 * sequence at the end is not written and *kept says where it starts. */
static int body(struct ch_buf *out, const uint8_t *p, size_t n, int carry,
		size_t *kept)
{
	size_t i = 0, run = 0;	/* p[i-run..i): to copy as they are */
	char esc[8];
	int r = CH_OK;

	*kept = n;
	while (i < n && r == CH_OK) {
		int k = ch_utf8_seq(p + i, n - i);
		const char *rep = NULL;

		if (k > 1 || (k == 1 && p[i] >= 0x20 && p[i] != '"' &&
			      p[i] != '\\')) {
			i += (size_t)k;
			run += (size_t)k;
			continue;
		}
		if (k == 0 && carry) {
			*kept = i;
			break;
		}
		if (k <= 0)
			rep = REPLACEMENT;
		else if (p[i] == '"')
			rep = "\\\"";
		else if (p[i] == '\\')
			rep = "\\\\";
		else if (p[i] == '\n')
			rep = "\\n";
		else if (p[i] == '\r')
			rep = "\\r";
		else if (p[i] == '\t')
			rep = "\\t";
		else if (p[i] == '\b')
			rep = "\\b";
		else if (p[i] == '\f')
			rep = "\\f";
		else {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			rep = esc;
		}
		r = ch_buf_put(out, p + i - run, run);
		if (r == CH_OK)
			r = ch_buf_puts(out, rep);
		run = 0;
		i++;
	}
	if (r == CH_OK)
		r = ch_buf_put(out, p + i - run, run);
	return r;
}

/* Drops what was appended to out since it was len bytes long. */
static void undo(struct ch_buf *out, size_t len)
{
	out->len = len;
	if (out->data)
		out->data[out->off + len] = '\0';
}

int ch_cast_string(struct ch_buf *out, const void *p, size_t n)
{
	size_t len0 = ch_buf_len(out), kept;
	int r = ch_buf_put(out, "\"", 1);

	if (r == CH_OK)
		r = body(out, p, n, 0, &kept);
	if (r == CH_OK)
		r = ch_buf_put(out, "\"", 1);
	if (r != CH_OK)
		undo(out, len0);
	return r;
}

int ch_cast_event(struct ch_buf *out, double t, char code,
		  struct ch_cast_utf8 *u, const void *p, size_t n,
		  int final)
{
	const uint8_t *in = p;
	uint8_t join[2 * CH_CAST_UTF8_MAX];
	size_t len0 = ch_buf_len(out), start, kept = 0, used = 0, k = 0;
	int r, s = 1;

	if (u->ntail) {
		/* the carried sequence with the chunk's first bytes: now
		 * whole, still cut, or broken */
		k = n < CH_CAST_UTF8_MAX ? n : CH_CAST_UTF8_MAX;
		memcpy(join, u->tail, u->ntail);
		memcpy(join + u->ntail, in, k);
		s = ch_utf8_seq(join, u->ntail + k);
		if (s == 0 && !final) {	/* n < 3: all of it carried */
			memcpy(u->tail, join, u->ntail + k);
			u->ntail += k;
			return CH_ERR_AGAIN;
		}
	}
	r = ch_buf_printf(out, "[%.6f, \"%c\", \"", t < 0 ? 0.0 : t, code);
	start = ch_buf_len(out);
	if (r == CH_OK && u->ntail && s > 0) {
		r = ch_buf_put(out, join, (size_t)s);
		used = (size_t)s - u->ntail;
	} else if (r == CH_OK && u->ntail) {
		/* broken (or cut at the end): each carried byte is U+FFFD,
		 * the chunk is judged on its own */
		r = body(out, u->tail, u->ntail, 0, &kept);
	}
	if (r == CH_OK)
		r = body(out, in + used, n - used, !final, &kept);
	if (r == CH_OK && ch_buf_len(out) == start) {
		/* nothing but carried bytes: no event */
		undo(out, len0);
		u->ntail = n - used - kept;
		memcpy(u->tail, in + used + kept, u->ntail);
		return CH_ERR_AGAIN;
	}
	if (r == CH_OK)
		r = ch_buf_puts(out, "\"]\n");
	if (r != CH_OK) {
		undo(out, len0);
		return r;
	}
	u->ntail = n - used - kept;
	memcpy(u->tail, in + used + kept, u->ntail);
	return CH_OK;
}
