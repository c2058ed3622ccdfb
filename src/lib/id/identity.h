/* identity.h - the kinds of identity the hub's registry knows a device by,
 * and their rules: which strings are valid, how to tell the kinds apart,
 * and how an operator's spelling becomes the registry's one form.
 *
 *   "SHA256:<base64>"        the SHA-256 fingerprint of an SSH host key,
 *                            as `ssh-keygen -lf` prints it (43 characters)
 *   "serial:<S>"             an X.509 certificate whose subject carries
 *                            X520 serialNumber (2.5.4.5) S (IEEE 802.1AR)
 *   "x509:SHA256:<hex>"      a pinned X.509 certificate: SHA-256 of its
 *                            DER, 64 lower-case hex digits
 *
 * Pure functions over strings: no I/O, no logging, no SQL. Certificates
 * themselves (serialNumber, fingerprints) are read in certid.h.
 */
#ifndef CH_ID_IDENTITY_H
#define CH_ID_IDENTITY_H

#include <stddef.h>

#include "lib/core/limits.h"

/* Identity kinds, told apart by the string's prefix (the registry keeps
 * the kind in a column too, for queries). */
enum ch_id_kind {
	CH_ID_SSH = 0,		/* "SHA256:..." (and anything unprefixed) */
	CH_ID_SERIAL = 1,	/* "serial:..." */
	CH_ID_CERT = 2,		/* "x509:SHA256:..." */
};
#define CH_ID_SSH_PREFIX "SHA256:"
#define CH_ID_SERIAL_PREFIX "serial:"
#define CH_ID_CERT_PREFIX "x509:"
#define CH_ID_SSH_B64_LEN 43	/* base64 of 32 bytes, unpadded */
#define CH_ID_SHA256_HEX_LEN 64
/* Room for any identity in its registry form, with the NUL. */
#define CH_ID_LEN (sizeof(CH_ID_CERT_PREFIX CH_ID_SSH_PREFIX) + \
		   CH_ID_SHA256_HEX_LEN)

/* The kind of an identity string (by its prefix). */
int ch_id_kind(const char *id);
/* "ssh-host-key", "x509-serial", "x509-cert"; "unknown" for others. */
const char *ch_id_kind_name(int kind);

/* 1 if s is an acceptable X520 serialNumber for the registry: 1 to
 * CH_SERIAL_MAX of the PrintableString characters A-Z a-z 0-9 ' ( ) + - .
 * / : = ? (no space, no comma: the import format separates with it). */
int ch_serial_valid(const char *s);

/* 1 if fp is an SSH host-key fingerprint: "SHA256:" and
 * CH_ID_SSH_B64_LEN base64 characters, nothing after. */
int ch_id_ssh_valid(const char *fp);

/* A pinned certificate fingerprint as operators have it - "04:AB:..."
 * (RFC 7407), "SHA256:<hex>" (our logs), openssl's "AB:CD:..." or plain
 * hex, optionally with the "x509:" prefix - into the registry's form
 * "x509:SHA256:" and 64 lower-case hex digits, in out (len bytes, at least
 * CH_ID_LEN). 1 on success; 0 if in is none of these (out untouched). */
int ch_id_cert_normalize(const char *in, char *out, size_t len);

/* Any identity an operator may give, in the registry's form: an SSH
 * fingerprint, "serial:S" with a valid S, or a certificate fingerprint in
 * any form ch_id_cert_normalize takes. 1 on success, 0 if none. */
int ch_id_normalize(const char *in, char *out, size_t len);

#endif
