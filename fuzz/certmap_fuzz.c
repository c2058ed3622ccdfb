/* certmap_fuzz.c - libFuzzer target for certid: what a peer or an operator
 * controls.
 *
 * The first input byte steers the run:
 *   bit 0  0: the rest is rule text (ch_ctn_rule_parse, then
 *             ch_fingerprint_parse and ch_ctn_map_parse on the same text);
 *          1: the rest is a DER certificate, mapped with one rule of every
 *             map type and read for its serialNumber and fingerprints.
 * Checks the contracts: results are NUL-terminated within their buffers,
 * cleared on error, and a mapped name is never empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "lib/id/certid.h"
#include "lib/core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char err[CH_CTN_ERR_LEN];
	unsigned char fp[CH_CTN_FP_MAX];
	struct ch_ctn_rule r;
	enum ch_ctn_map m;
	size_t fl;

	if (text == NULL)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ch_ctn_rule_parse(text, 1, &r, err, sizeof(err)) == CH_OK) {
		if (r.fp_len > CH_CTN_FP_MAX || r.name[CH_CTN_NAME_MAX - 1])
			abort();
		if (ch_ctn_check(&r, 1, err, sizeof(err)) != CH_OK)
			abort();	/* a parsed rule is always valid */
	} else if (r.fp_len != 0 || r.name[0] || memchr(err, 0, sizeof(err))
		   == NULL) {
		abort();
	}
	if (ch_fingerprint_parse(text, fp, &fl, err, sizeof(err)) == CH_OK) {
		if (fl < 2 || fl > CH_CTN_FP_MAX)
			abort();
	} else if (fl != 0) {
		abort();
	}
	(void)ch_ctn_map_parse(text, &m);
	free(text);
}

static void fuzz_cert(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509 *c = d2i_X509(NULL, &p, (long)size);
	char out[CH_CTN_NAME_MAX], why[CH_CTN_ERR_LEN];
	char fp[CH_CERT_FP_LEN], sn[CH_SERIAL_MAX + 1];
	struct ch_ctn_rule rules[6];
	uint32_t id;
	int r;

	if (c == NULL)
		return;
	memset(rules, 0, sizeof(rules));
	for (int i = 0; i < 6; i++) {
		rules[i].id = (uint32_t)i;
		rules[i].map = (enum ch_ctn_map)i;
		memcpy(rules[i].name, "fixed", 6);
	}
	for (int i = 1; i < 6; i++) {	/* each map type alone */
		r = ch_ctn_map(&rules[i], 1, c, NULL, out, sizeof(out), &id,
			       why, sizeof(why));
		if (r == CH_OK ? out[0] == '\0' || id != (uint32_t)i
			       : out[0] != '\0')
			abort();
	}
	if (ch_cert_serial_number(c, sn, sizeof(sn)) == CH_OK) {
		if (strlen(sn) == 0 || strlen(sn) > CH_SERIAL_MAX)
			abort();
	} else if (sn[0]) {
		abort();
	}
	if (ch_cert_fingerprint(c, fp, sizeof(fp)) == CH_OK &&
	    strlen(fp) != 98)
		abort();
	X509_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_cert(data + 1, size - 1);
	else
		fuzz_text(data + 1, size - 1);
	return 0;
}
