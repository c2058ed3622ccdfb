/* asciicast.h - the event lines of an asciicast v2 recording
 * (https://docs.asciinema.org/manual/asciicast/v2/):
 *
 *   [1.234567, "o", "text"]\n
 *
 * Terminal output comes in chunks cut anywhere, so a multi-byte UTF-8
 * character may straddle two chunks, and a device may send bytes that are
 * not UTF-8 at all. JSON strings must be valid UTF-8: the encoder keeps an
 * incomplete sequence at a chunk's end for the next event of the same
 * stream (struct ch_cast_utf8, one per stream: output, input) and writes
 * each invalid byte as U+FFFD. Pure functions over buffers: no I/O, no
 * log. Core layer: libc only.
 */
#ifndef CH_ASCIICAST_H
#define CH_ASCIICAST_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"

#define CH_CAST_UTF8_MAX 4	/* B, the longest UTF-8 sequence */

/* The bytes of a stream not yet written: a UTF-8 sequence begun at the
 * end of the last chunk. Zero-initialised before the first chunk. */
struct ch_cast_utf8 {
	uint8_t tail[CH_CAST_UTF8_MAX];
	size_t ntail;
};

/* Appends to out the event line [t, "code", "DATA"]\n for u's carried
 * bytes then p[0..n), keeping an incomplete sequence at the end in u
 * (with final set, it is written as U+FFFD instead: the stream ended).
 * code is one of o, i, r, m. CH_OK: a line was appended. CH_ERR_AGAIN:
 * nothing to write (everything carried), out unchanged. CH_ERR_LIMIT or
 * CH_ERR_NOMEM from out: out unchanged, u as before the call. */
int ch_cast_event(struct ch_buf *out, double t, char code,
		  struct ch_cast_utf8 *u, const void *p, size_t n,
		  int final);

/* Appends the JSON string literal (quotes included) of p[0..n), every
 * invalid or incomplete UTF-8 sequence as U+FFFD. Same errors. */
int ch_cast_string(struct ch_buf *out, const void *p, size_t n);

/* The length of the valid UTF-8 sequence at p[0..n): 1 to 4; 0 when it
 * is a valid beginning cut by n; -1 when p[0] begins no valid sequence
 * (overlong forms, surrogates and code points past U+10FFFF included). */
int ch_utf8_seq(const uint8_t *p, size_t n);

#endif
