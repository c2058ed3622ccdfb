/* junos.h - the Junos outbound-ssh preamble: the lines a Juniper device
 * sends on its call-home connection before its SSH banner, who it says it
 * is and which host key it will show (docs/junos.md):
 *
 *   MSG-ID: DEVICE-CONN-INFO\r\n
 *   MSG-VER: V1\r\n
 *   DEVICE-ID: <device-id>\r\n
 *   HOST-KEY: <ssh-rsa AAAA...>\r\n            (only with a secret set)
 *   HMAC: <hex HMAC-SHA1(secret, HOST-KEY)>\r\n (only with a secret set)
 *   SSH-2.0-...                                (the SSH stream)
 *
 * Pure functions over bytes: the scanner tells a reader how many bytes
 * of what the socket holds are preamble, so that not one byte of the SSH
 * stream is taken from libssh; the parser reads the collected lines; the
 * checks verify the HMAC and name the announced key by its fingerprint.
 * Tolerated: "DEVICE-ID: : id" and "DEVICE-ID:: id" (a doubled colon, as
 * Juniper's documentation shows it), blank lines, LF or CRLF, trailing
 * NULs, unknown header lines.
 */
#ifndef CH_JUNOS_H
#define CH_JUNOS_H

#include <stddef.h>

#include "lib/core/limits.h"

#define CH_JUNOS_MSG_ID "DEVICE-CONN-INFO"
#define CH_JUNOS_MSG_VER "V1"
#define CH_JUNOS_SSH_ID "SSH-"		/* RFC 4253 4.2 */
#define CH_JUNOS_HMAC_HEX 40		/* SHA-1, in hex */

/* What ch_junos_scan says about the next bytes. */
enum ch_junos_step {
	CH_JUNOS_MORE = 1,	/* take *take bytes: preamble; more follows */
	CH_JUNOS_BANNER,	/* take *take bytes (maybe 0): the SSH banner
				 * starts right after them */
	CH_JUNOS_PARTIAL,	/* take nothing: a line starts with fewer than
				 * 4 bytes, all of "SSH-"; look again when
				 * more have come */
};

struct ch_junos_scan {
	char text[CH_JUNOS_PREAMBLE_MAX + 1];	/* what was taken, NUL'd */
	size_t len;
	int mid_line;	/* inside a line whose start was not the banner */
};

void ch_junos_scan_init(struct ch_junos_scan *sc);
/* The socket holds peek[0..n) next (n > 0; read with MSG_PEEK). Returns a
 * ch_junos_step and *take, the bytes to read off the socket now (copied
 * into sc->text: the caller must consume exactly those), or CH_ERR_LIMIT
 * when the preamble would pass CH_JUNOS_PREAMBLE_MAX (nothing taken).
 * CH_JUNOS_BANNER with sc->len 0: no preamble (a plain SSH call home). */
int ch_junos_scan(struct ch_junos_scan *sc, const char *peek, size_t n,
		  size_t *take);

/* The preamble's fields, pointing into the text given to the parser. */
struct ch_junos_info {
	const char *device_id;
	const char *host_key;	/* "type base64" as received, or NULL */
	const char *hmac;	/* 40 hex digits, or NULL */
};

/* Parses the preamble text[0..len) in place (lines are cut and
 * NUL-terminated in text; text[len] must be writable, as
 * ch_junos_scan's text is). CH_OK, or CH_ERR_PROTO with *why (static
 * text): not a DEVICE-CONN-INFO V1 message, a line that is not
 * "NAME: value", a field twice, no DEVICE-ID or one that is empty, too
 * long or not printable, HOST-KEY without HMAC or the reverse, an HMAC
 * that is not 40 hex digits. */
int ch_junos_parse(char *text, size_t len, struct ch_junos_info *info,
		   const char **why);

/* HMAC-SHA1 keyed with secret[0..slen) over host_key, in lowercase hex
 * (out: at least CH_JUNOS_HMAC_HEX + 1 bytes), as a device computes it. */
int ch_junos_hmac_hex(const char *host_key, const void *secret, size_t slen,
		      char *out, size_t outlen);
/* CH_OK when hmac (hex, either case) is the HMAC of host_key under the
 * secret, compared in constant time; CH_ERR_DENIED when not. */
int ch_junos_hmac_verify(const char *host_key, const char *hmac,
			 const void *secret, size_t slen);
/* "SHA256:..." (as ch_key_fingerprint) of the key a HOST-KEY value names:
 * "type base64" or the base64 blob alone; the type, when given, must be
 * the blob's. CH_OK, or CH_ERR_INVAL for what is not a public key. */
int ch_junos_host_key_fp(const char *host_key, char *fp, size_t len);

/* The secret of device_id in a secrets file's text[0..len): lines
 * "DEVICE-ID SECRET" (the secret is the rest of the line, surrounding
 * blanks removed), blank lines and '#' comments skipped. *secret points
 * into text. CH_OK, or CH_ERR_NOTFOUND. */
int ch_junos_secret_find(const char *text, size_t len, const char *device_id,
			 const char **secret, size_t *slen);

#endif
