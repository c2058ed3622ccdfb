/* streamframe.h - the binary framing of a terminal stream on the hub's
 * control socket (docs/control-api.md, "Streams"): after the hub's
 * {"ok":true,"stream":ID} line, both directions carry frames
 *
 *   1 byte type | 4 bytes payload length, big-endian | payload
 *
 * The CLI and the hub link this one codec. Pure functions over buffers:
 * no I/O, no allocation, no log. Core layer: libc only.
 */
#ifndef CH_STREAMFRAME_H
#define CH_STREAMFRAME_H

#include <stddef.h>
#include <stdint.h>

#define CH_SFRAME_HDR 5		/* type + length */
#define CH_SFRAME_SIGNAL_MAX 32	/* B, a signal name in an exit frame */
/* The stream's request line: exec's command and the pty's TERM, in bytes
 * (the transport's CH_STREAM_NAME_MAX and CH_STREAM_TERM_MAX less their
 * NUL; hub/api/term.c checks that they agree). */
#define CH_SFRAME_COMMAND_MAX 255
#define CH_SFRAME_TERM_MAX 63

enum ch_sframe_type {
	CH_SFRAME_STDIN = 1,	/* CLI -> hub: bytes for the command */
	CH_SFRAME_STDOUT = 2,	/* hub -> CLI */
	CH_SFRAME_STDERR = 3,	/* hub -> CLI */
	CH_SFRAME_EOF = 4,	/* either: nothing more from this side; empty */
	CH_SFRAME_RESIZE = 5,	/* CLI -> hub: cols, rows (2 x uint32 BE) */
	CH_SFRAME_EXIT = 6,	/* hub -> CLI: int32 BE status, then the
				 * signal name (status -1) or nothing */
	CH_SFRAME_CLOSE = 7,	/* either: the stream ends; hub -> CLI: the
				 * reason as text (may be empty) */
};

struct ch_sframe {
	enum ch_sframe_type type;
	const uint8_t *payload;	/* into the parsed buffer */
	uint32_t len;
};

/* Parses one frame at p[0..n). CH_OK: *f is it (its payload borrowed from
 * p) and *used its size. CH_ERR_AGAIN: not a whole frame yet (*used 0).
 * CH_ERR_INVAL: an unknown type, a length over max, or a payload the type
 * does not allow (eof with bytes, resize not 8 bytes, exit shorter than 4
 * or with a signal name over CH_SFRAME_SIGNAL_MAX or not printable): the
 * stream is broken. A header is judged as soon as it is whole, before its
 * payload has come. */
int ch_sframe_parse(const uint8_t *p, size_t n, uint32_t max,
		    struct ch_sframe *f, size_t *used);

/* Writes the header of a frame of type with a payload of len bytes. */
void ch_sframe_header(uint8_t hdr[CH_SFRAME_HDR], enum ch_sframe_type type,
		      uint32_t len);

/* A resize frame's payload, and reading it back (f of type resize, as
 * ch_sframe_parse checked it). */
void ch_sframe_resize_put(uint8_t out[8], uint32_t cols, uint32_t rows);
void ch_sframe_resize_get(const struct ch_sframe *f, uint32_t *cols,
			  uint32_t *rows);

/* An exit frame's payload: status, or -1 and the signal's name (NULL:
 * none; cut to CH_SFRAME_SIGNAL_MAX). Returns its length (at most
 * 4 + CH_SFRAME_SIGNAL_MAX). */
size_t ch_sframe_exit_put(uint8_t out[4 + CH_SFRAME_SIGNAL_MAX],
			  int32_t status, const char *signal);
/* Reads it back: *status, and sig (NUL-terminated, "" when none). */
void ch_sframe_exit_get(const struct ch_sframe *f, int32_t *status,
			char sig[CH_SFRAME_SIGNAL_MAX + 1]);

/* "stdin", "stdout", ...; "?" for anything else. */
const char *ch_sframe_type_name(int type);

#endif
