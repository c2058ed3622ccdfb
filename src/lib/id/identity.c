/* identity.c - the registry's identity kinds: validation, kind, the one
 * form of each (identity.h). */
#include "lib/id/identity.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789+/"
#define HEX_CHARS "0123456789abcdefABCDEF"
#define SSH_PREFIX_LEN (sizeof(CH_ID_SSH_PREFIX) - 1)
#define SERIAL_PREFIX_LEN (sizeof(CH_ID_SERIAL_PREFIX) - 1)
#define CERT_PREFIX_LEN (sizeof(CH_ID_CERT_PREFIX) - 1)
#define CERT_HEX_MAX 129	/* hex digits read before giving up */

int ch_id_kind(const char *id)
{
	if (id && strncmp(id, CH_ID_SERIAL_PREFIX, SERIAL_PREFIX_LEN) == 0)
		return CH_ID_SERIAL;
	if (id && strncmp(id, CH_ID_CERT_PREFIX, CERT_PREFIX_LEN) == 0)
		return CH_ID_CERT;
	return CH_ID_SSH;
}

const char *ch_id_kind_name(int kind)
{
	switch (kind) {
	case CH_ID_SSH: return "ssh-host-key";
	case CH_ID_SERIAL: return "x509-serial";
	case CH_ID_CERT: return "x509-cert";
	}
	return "unknown";
}

int ch_serial_valid(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > CH_SERIAL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || strchr("'()+-./:=?", c)))
			return 0;
	}
	return 1;
}

int ch_id_ssh_valid(const char *fp)
{
	size_t n;

	if (fp == NULL || strncmp(fp, CH_ID_SSH_PREFIX, SSH_PREFIX_LEN) != 0)
		return 0;
	n = strspn(fp + SSH_PREFIX_LEN, B64_CHARS);
	return n == CH_ID_SSH_B64_LEN && fp[SSH_PREFIX_LEN + n] == '\0';
}

int ch_id_cert_normalize(const char *in, char *out, size_t len)
{
	char hex[CERT_HEX_MAX + 1];
	size_t n = 0;

	if (in == NULL || len < CH_ID_LEN)
		return 0;
	if (strncmp(in, CH_ID_CERT_PREFIX, CERT_PREFIX_LEN) == 0)
		in += CERT_PREFIX_LEN;
	if (strncasecmp(in, CH_ID_SSH_PREFIX, SSH_PREFIX_LEN) == 0)
		in += SSH_PREFIX_LEN;
	for (; *in; in++) {
		if (*in == ':' && n % 2 == 0 && n > 0 && in[1])
			continue;
		if (!strchr(HEX_CHARS, *in) || n >= sizeof(hex) - 1)
			return 0;
		hex[n++] = (char)(*in | 0x20);	/* lower case */
	}
	if (n == CH_ID_SHA256_HEX_LEN + 2 && hex[0] == '0' && hex[1] == '4') {
		/* RFC 7407: the sha256 HashAlgorithm octet first */
		memmove(hex, hex + 2, CH_ID_SHA256_HEX_LEN);
		n = CH_ID_SHA256_HEX_LEN;
	}
	if (n != CH_ID_SHA256_HEX_LEN)
		return 0;
	hex[n] = '\0';
	snprintf(out, len, CH_ID_CERT_PREFIX CH_ID_SSH_PREFIX "%s", hex);
	return 1;
}

int ch_id_normalize(const char *in, char *out, size_t len)
{
	if (ch_id_ssh_valid(in)) {
		snprintf(out, len, "%s", in);
		return 1;
	}
	if (in && strncmp(in, CH_ID_SERIAL_PREFIX, SERIAL_PREFIX_LEN) == 0) {
		if (!ch_serial_valid(in + SERIAL_PREFIX_LEN))
			return 0;
		snprintf(out, len, "%s", in);
		return 1;
	}
	return ch_id_cert_normalize(in, out, len);
}
