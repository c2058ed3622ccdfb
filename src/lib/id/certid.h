/* certid.h - who a certificate names: its X520 serialNumber (IEEE 802.1AR
 * IDevID, RFC 8995 2.3.1), its fingerprints, and the RFC 7589 7 / RFC 7407
 * cert-to-name mapping to a NETCONF user name. Pure functions: no I/O, no
 * logging; errors come back as codes plus, where a user wrote the input, a
 * one-line text in a caller buffer.
 */
#ifndef CH_CERTID_H
#define CH_CERTID_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/core/limits.h"

#define CH_CERT_FP_LEN 200		/* "04:AB:...", up to SHA-512, + NUL */
#define CH_CERT_SHA256_LEN 72		/* "SHA256:" + 64 hex + NUL */
#define CH_CTN_FP_MAX (1 + EVP_MAX_MD_SIZE) /* hash-algorithm octet + hash */
#define CH_CTN_NAME_MAX 256		/* a mapped user name, with its NUL */
#define CH_CTN_ERR_LEN 256		/* parse error texts */

/* RFC 7407 / RFC 5246 7.4.1.4.1 HashAlgorithm octets accepted in
 * fingerprints: sha1 (2) to sha512 (6); md5 (1) is refused. */
#define CH_CTN_HASH_SHA256 4

/* ---- identity ---- */

/* The subject's serialNumber attribute (OID 2.5.4.5), not the
 * certificate's serial. Writes it NUL-terminated into out. CH_OK;
 * CH_ERR_NOTFOUND: no such attribute; CH_ERR_AMBIGUOUS: more than one;
 * CH_ERR_INVAL: not printable ASCII (control characters, non-ASCII) or
 * empty; CH_ERR_LIMIT: longer than CH_SERIAL_MAX or than len - 1.
 * out is "" unless CH_OK. cert is borrowed. */
int ch_cert_serial_number(X509 *cert, char *out, size_t len);

/* The RFC 7407 tls-fingerprint of cert with SHA-256: "04:" then the hash
 * as upper-case hex pairs joined by ':' (98 characters). len >= 99. */
int ch_cert_fingerprint(X509 *cert, char *out, size_t len);
/* The same hash as "SHA256:" + 64 lower-case hex digits (log style E2).
 * len >= CH_CERT_SHA256_LEN. */
int ch_cert_sha256(X509 *cert, char *out, size_t len);

/* Parses a fingerprint into raw bytes (hash-algorithm octet, then the
 * hash): "04:ab:..." (RFC 7407, any case, the length must be that of the
 * algorithm) or "SHA256:<64 hex digits>". out holds CH_CTN_FP_MAX bytes.
 * CH_OK or CH_ERR_INVAL (err, when given, says why). */
int ch_fingerprint_parse(const char *text, unsigned char *out, size_t *len,
			 char *err, size_t errlen);
/* 1 if fp (as parsed above) is cert's fingerprint with fp's algorithm. */
int ch_cert_fp_match(X509 *cert, const unsigned char *fp, size_t len);

/* ---- cert-to-name (RFC 7589 7, RFC 7407 4.1) ---- */

enum ch_ctn_map {
	CH_CTN_SPECIFIED = 0,	/* the rule's name */
	CH_CTN_SAN_RFC822 = 1,	/* rfc822Name, host part lower-cased */
	CH_CTN_SAN_DNS = 2,	/* dNSName, lower-cased */
	CH_CTN_SAN_IP = 3,	/* iPAddress: dotted quad, or IPv6 as 32
				 * lower-case hex digits, no ':' */
	CH_CTN_SAN_ANY = 4,	/* the first SAN of the three kinds above */
	CH_CTN_COMMON_NAME = 5,	/* the subject's (last) CN; deprecated */
};

struct ch_ctn_rule {		/* a plain value: copy freely */
	uint32_t id;		/* lower ids are tried first */
	size_t fp_len;		/* 0: no fingerprint, matches any cert */
	unsigned char fp[CH_CTN_FP_MAX];
	enum ch_ctn_map map;
	char name[CH_CTN_NAME_MAX];	/* CH_CTN_SPECIFIED only */
};

/* Maps a map-type name as in YANG: "specified", "san-rfc822-name",
 * "san-dns-name", "san-ip-address", "san-any", "common-name", with or
 * without a prefix ("x509c2n:", "ietf-x509-cert-to-name:"). CH_OK or
 * CH_ERR_INVAL. */
int ch_ctn_map_parse(const char *text, enum ch_ctn_map *out);
/* The name without prefix, e.g. "san-dns-name". */
const char *ch_ctn_map_name(enum ch_ctn_map map);

/* Parses one rule as given on a command line:
 *     FINGERPRINT,MAP-TYPE[,NAME]
 * FINGERPRINT is as for ch_fingerprint_parse, or "*" for none (matches
 * every certificate); MAP-TYPE as for ch_ctn_map_parse; NAME is required
 * with specified and refused with the others. Examples:
 *     04:3A:...:9F,specified,admin      *,san-dns-name
 * The rule gets id (callers number rules in command-line order). CH_OK or
 * CH_ERR_INVAL with a one-line text in err (when not NULL) quoting the
 * faulty part. *out is cleared on entry. */
int ch_ctn_rule_parse(const char *text, uint32_t id, struct ch_ctn_rule *out,
		      char *err, size_t errlen);

/* Checks a list: at most CH_CTN_RULES_MAX rules, no two with one id, a
 * name on every specified rule. CH_OK, CH_ERR_LIMIT or CH_ERR_INVAL (err
 * says which rule). */
int ch_ctn_check(const struct ch_ctn_rule *rules, size_t n, char *err,
		 size_t errlen);

/* Maps the peer's certificate to a user name by the rules, lowest id
 * first. A rule applies when it has no fingerprint, or its fingerprint is
 * that of leaf or of a CA certificate in chain (the verified chain, leaf
 * first, as from ch_tls_verified_chain; may be NULL); the first applying
 * rule that yields a valid name (non-empty, printable, shorter than len
 * and CH_CTN_NAME_MAX) wins: CH_OK, the name in out and, if rule_id is not
 * NULL, its id. No rule yields a name: CH_ERR_DENIED, and why (when not
 * NULL) says what happened, e.g. "no rule matched the certificate's
 * fingerprint (SHA256:...) or its CAs' ", or "rule 2 (san-dns-name)
 * matched but the certificate has no dNSName". All pointers are
 * borrowed. */
int ch_ctn_map(const struct ch_ctn_rule *rules, size_t n, X509 *leaf,
	       STACK_OF(X509) *chain, char *out, size_t len, uint32_t *rule_id,
	       char *why, size_t whylen);

#endif
