/* junos.c - the Junos outbound-ssh preamble (junos.h). */
#include "lib/id/junos.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "lib/core/err.h"

#define BANNER_LEN (sizeof(CH_JUNOS_SSH_ID) - 1)
#define KEY_BLOB_MAX ((CH_JUNOS_PREAMBLE_MAX / 4 + 1) * 3) /* B, decoded */
#define KEY_TYPE_MAX 64		/* chars, "ssh-ed25519", "ecdsa-sha2-..." */

/* ---- the scanner ---- */

void ch_junos_scan_init(struct ch_junos_scan *sc)
{
	sc->len = 0;
	sc->mid_line = 0;
	sc->text[0] = '\0';
}

int ch_junos_scan(struct ch_junos_scan *sc, const char *peek, size_t n,
		  size_t *take)
{
	size_t pos = 0, k;
	const char *nl;
	int step = CH_JUNOS_MORE;

	*take = 0;
	while (pos < n) {
		if (!sc->mid_line) {
			/* a line starts: the banner, or a preamble line */
			k = n - pos < BANNER_LEN ? n - pos : BANNER_LEN;
			if (memcmp(peek + pos, CH_JUNOS_SSH_ID, k) == 0) {
				if (k == BANNER_LEN)
					step = CH_JUNOS_BANNER;
				else if (pos == 0)
					step = CH_JUNOS_PARTIAL;
				break;
			}
			sc->mid_line = 1;
		}
		nl = memchr(peek + pos, '\n', n - pos);
		k = nl ? (size_t)(nl - (peek + pos)) + 1 : n - pos;
		pos += k;
		if (nl)
			sc->mid_line = 0;
	}
	if (sc->len + pos > CH_JUNOS_PREAMBLE_MAX)
		return CH_ERR_LIMIT;
	memcpy(sc->text + sc->len, peek, pos);
	sc->len += pos;
	sc->text[sc->len] = '\0';
	*take = pos;
	return step;
}

/* ---- the parser ---- */

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Removes trailing CR, blanks and NULs (a device may pad HOST-KEY). */
static void trim_end(char *s, size_t *n)
{
	while (*n > 0 && (s[*n - 1] == '\r' || s[*n - 1] == '\0' ||
			  is_blank(s[*n - 1])))
		s[--*n] = '\0';
}

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (OPENSSL_hexchar2int((unsigned char)s[i]) < 0)
			return 0;
	return 1;
}

static int valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CH_JUNOS_DEVICE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* One "NAME: value" line (NUL-terminated, trimmed) into info. */
static int field(char *line, const char **msg_id, const char **msg_ver,
		 struct ch_junos_info *info, const char **why)
{
	char *colon = strchr(line, ':'), *v;
	const char **slot = NULL;

	if (colon == NULL || colon == line) {
		*why = "a preamble line is not NAME: value";
		return CH_ERR_PROTO;
	}
	*colon = '\0';
	for (v = colon + 1; is_blank(*v); v++)
		;
	if (strcmp(line, "MSG-ID") == 0) {
		slot = msg_id;
	} else if (strcmp(line, "MSG-VER") == 0) {
		slot = msg_ver;
	} else if (strcmp(line, "DEVICE-ID") == 0) {
		/* "DEVICE-ID: : id" and "DEVICE-ID:: id" */
		if (*v == ':')
			for (v++; is_blank(*v); v++)
				;
		slot = &info->device_id;
	} else if (strcmp(line, "HOST-KEY") == 0) {
		slot = &info->host_key;
	} else if (strcmp(line, "HMAC") == 0) {
		slot = &info->hmac;
	} else {
		for (char *p = line; *p; p++)
			if (!((*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-')) {
				*why = "a preamble line is not NAME: value";
				return CH_ERR_PROTO;
			}
		return CH_OK;	/* a field of a later version */
	}
	if (*slot != NULL) {
		*why = "a preamble field appears twice";
		return CH_ERR_PROTO;
	}
	*slot = v;
	return CH_OK;
}

int ch_junos_parse(char *text, size_t len, struct ch_junos_info *info,
		   const char **why)
{
	const char *msg_id = NULL, *msg_ver = NULL;
	char *line = text, *end = text + len, *nl;
	size_t n;
	int r;

	memset(info, 0, sizeof(*info));
	*why = NULL;
	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		line[n] = '\0';		/* the '\n', or text's own NUL */
		trim_end(line, &n);	/* CR, blanks, NUL padding */
		if (memchr(line, '\0', n) != NULL) {
			*why = "a NUL byte inside a preamble line";
			return CH_ERR_PROTO;
		}
		if (n > 0 && (r = field(line, &msg_id, &msg_ver, info,
					why)) != CH_OK)
			return r;
		line += (nl ? (size_t)(nl - line) + 1 : (size_t)(end - line));
	}
	if (msg_id == NULL || strcmp(msg_id, CH_JUNOS_MSG_ID) != 0) {
		*why = "not a Junos outbound-ssh preamble (no MSG-ID: "
		       CH_JUNOS_MSG_ID ")";
		return CH_ERR_PROTO;
	}
	if (msg_ver == NULL || strcmp(msg_ver, CH_JUNOS_MSG_VER) != 0) {
		*why = "unknown outbound-ssh MSG-VER (V1 is known)";
		return CH_ERR_PROTO;
	}
	if (info->device_id == NULL || !valid_id(info->device_id)) {
		*why = "no usable DEVICE-ID (1 to "
		       CH_STR(CH_JUNOS_DEVICE_ID_MAX) " printable characters)";
		return CH_ERR_PROTO;
	}
	if ((info->host_key == NULL) != (info->hmac == NULL)) {
		*why = "HOST-KEY and HMAC come together";
		return CH_ERR_PROTO;
	}
	if (info->host_key && *info->host_key == '\0') {
		*why = "empty HOST-KEY";
		return CH_ERR_PROTO;
	}
	if (info->hmac && (strlen(info->hmac) != CH_JUNOS_HMAC_HEX ||
			   !is_hex(info->hmac, CH_JUNOS_HMAC_HEX))) {
		*why = "HMAC is not " CH_STR(CH_JUNOS_HMAC_HEX) " hex digits";
		return CH_ERR_PROTO;
	}
	return CH_OK;
}

/* ---- the checks ---- */

static int hmac_raw(const char *host_key, const void *secret, size_t slen,
		    unsigned char *md)
{
	unsigned int mdlen = 0;
	static const unsigned char none;

	/* OpenSSL wants a non-NULL key even when it is empty */
	if (HMAC(EVP_sha1(), slen ? secret : &none, (int)slen,
		 (const unsigned char *)host_key, strlen(host_key), md,
		 &mdlen) == NULL || mdlen != CH_JUNOS_HMAC_HEX / 2)
		return CH_ERR_INVAL;
	return CH_OK;
}

int ch_junos_hmac_hex(const char *host_key, const void *secret, size_t slen,
		      char *out, size_t outlen)
{
	unsigned char md[CH_JUNOS_HMAC_HEX / 2];
	int r;

	if (outlen < CH_JUNOS_HMAC_HEX + 1)
		return CH_ERR_INVAL;
	if ((r = hmac_raw(host_key, secret, slen, md)) != CH_OK)
		return r;
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return CH_OK;
}

int ch_junos_hmac_verify(const char *host_key, const char *hmac,
			 const void *secret, size_t slen)
{
	unsigned char md[CH_JUNOS_HMAC_HEX / 2], got[CH_JUNOS_HMAC_HEX / 2];

	if (strlen(hmac) != CH_JUNOS_HMAC_HEX ||
	    hmac_raw(host_key, secret, slen, md) != CH_OK)
		return CH_ERR_DENIED;
	for (size_t i = 0; i < sizeof(got); i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)hmac[2 * i]);
		int lo = OPENSSL_hexchar2int((unsigned char)hmac[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return CH_ERR_DENIED;
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	return CRYPTO_memcmp(md, got, sizeof(md)) == 0 ? CH_OK
						       : CH_ERR_DENIED;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64, padding optional at the end only. */
static int b64_decode(const char *s, size_t n, unsigned char *out,
		      size_t max, size_t *outlen)
{
	uint32_t acc = 0;
	size_t o = 0, pad = 0;
	int bits = 0, v;

	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	for (size_t i = 0; i < n; i++) {
		if ((v = b64val(s[i])) < 0)
			return CH_ERR_INVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= max)
				return CH_ERR_INVAL;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
		return CH_ERR_INVAL;	/* a lone char, or stray low bits */
	*outlen = o;
	return CH_OK;
}

int ch_junos_host_key_fp(const char *host_key, char *fp, size_t len)
{
	unsigned char blob[KEY_BLOB_MAX], md[SHA256_DIGEST_LENGTH];
	unsigned char enc[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
	const char *sp = strchr(host_key, ' '), *b64 = host_key;
	size_t blen = 0, tlen = 0, n;
	uint32_t name_len;

	if (fp && len)
		fp[0] = '\0';
	if (fp == NULL || len < sizeof("SHA256:") + sizeof(enc))
		return CH_ERR_INVAL;
	if (sp) {
		tlen = (size_t)(sp - host_key);
		for (b64 = sp; *b64 == ' '; b64++)
			;
		/* "type base64 comment": the comment is not the key's */
		sp = strchr(b64, ' ');
	}
	n = sp ? (size_t)(sp - b64) : strlen(b64);
	if (n == 0 || b64_decode(b64, n, blob, sizeof(blob), &blen) != CH_OK ||
	    blen < 4)
		return CH_ERR_INVAL;
	/* RFC 4253 6.6: the blob starts with the key type as a string */
	name_len = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
		   (uint32_t)blob[2] << 8 | blob[3];
	if (name_len == 0 || name_len > KEY_TYPE_MAX || name_len > blen - 4)
		return CH_ERR_INVAL;
	for (uint32_t i = 0; i < name_len; i++)
		if (blob[4 + i] <= ' ' || blob[4 + i] >= 0x7f)
			return CH_ERR_INVAL;
	if (tlen && (tlen != name_len || memcmp(host_key, blob + 4, tlen)))
		return CH_ERR_INVAL;	/* the stated type is not the blob's */
	SHA256(blob, blen, md);
	n = (size_t)EVP_EncodeBlock(enc, md, sizeof(md));
	while (n > 0 && enc[n - 1] == '=')
		n--;	/* OpenSSH prints it unpadded */
	enc[n] = '\0';
	snprintf(fp, len, "SHA256:%s", (const char *)enc);
	return CH_OK;
}

/* ---- the secrets file ---- */

int ch_junos_secret_find(const char *text, size_t len, const char *device_id,
			 const char **secret, size_t *slen)
{
	const char *line = text, *end = text + len, *nl, *p, *e, *id;
	size_t idlen = strlen(device_id);

	*secret = NULL;
	*slen = 0;
	for (; line < end; line = nl ? nl + 1 : end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		e = nl ? nl : end;
		for (p = line; p < e && is_blank(*p); p++)
			;
		if (p == e || *p == '#')
			continue;
		for (id = p; p < e && !is_blank(*p); p++)
			;
		if ((size_t)(p - id) != idlen || memcmp(id, device_id, idlen))
			continue;
		while (p < e && is_blank(*p))
			p++;
		while (e > p && (is_blank(e[-1]) || e[-1] == '\r'))
			e--;
		*secret = p;
		*slen = (size_t)(e - p);
		return CH_OK;
	}
	return CH_ERR_NOTFOUND;
}
