/* certid.c - certificate identities and cert-to-name (see certid.h). */
#include "lib/id/certid.h"
#include "lib/core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

static void seterr(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* RFC 5246 7.4.1.4.1 HashAlgorithm; md5 (1) is not accepted. */
static const EVP_MD *hash_md(unsigned alg)
{
	switch (alg) {
	case 2:
		return EVP_sha1();
	case 3:
		return EVP_sha224();
	case 4:
		return EVP_sha256();
	case 5:
		return EVP_sha384();
	case 6:
		return EVP_sha512();
	default:
		return NULL;
	}
}

int ch_cert_serial_number(X509 *cert, char *out, size_t len)
{
	X509_NAME *nm = X509_get_subject_name(cert);
	unsigned char *u = NULL;
	int i, n, r;

	if (len)
		out[0] = '\0';
	if (nm == NULL ||
	    (i = X509_NAME_get_index_by_NID(nm, NID_serialNumber, -1)) < 0)
		return CH_ERR_NOTFOUND;
	if (X509_NAME_get_index_by_NID(nm, NID_serialNumber, i) >= 0)
		return CH_ERR_AMBIGUOUS;
	n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(
					X509_NAME_get_entry(nm, i)));
	if (n <= 0) {
		r = CH_ERR_INVAL;
		goto out;
	}
	if ((size_t)n > CH_SERIAL_MAX || (size_t)n >= len) {
		r = CH_ERR_LIMIT;
		goto out;
	}
	for (int k = 0; k < n; k++) {
		if (u[k] < 0x20 || u[k] > 0x7e) {
			r = CH_ERR_INVAL;
			goto out;
		}
	}
	memcpy(out, u, (size_t)n);
	out[n] = '\0';
	r = CH_OK;
out:
	OPENSSL_free(u);
	return r;
}

static int digest(X509 *cert, const EVP_MD *md, unsigned char *h,
		  unsigned *hlen)
{
	*hlen = 0;
	if (md == NULL || !X509_digest(cert, md, h, hlen))
		return CH_ERR_INVAL;
	return CH_OK;
}

int ch_cert_fingerprint(X509 *cert, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hlen;
	size_t o = 0;
	int r;

	if (len)
		out[0] = '\0';
	if ((r = digest(cert, EVP_sha256(), h, &hlen)) != CH_OK)
		return r;
	if (len < 3 + 3 * (size_t)hlen)
		return CH_ERR_LIMIT;
	out[o++] = '0';
	out[o++] = '0' + CH_CTN_HASH_SHA256;
	for (unsigned i = 0; i < hlen; i++) {
		out[o++] = ':';
		out[o++] = hex[h[i] >> 4];
		out[o++] = hex[h[i] & 15];
	}
	out[o] = '\0';
	return CH_OK;
}

int ch_cert_sha256(X509 *cert, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hlen;
	size_t o;
	int r;

	if (len)
		out[0] = '\0';
	if ((r = digest(cert, EVP_sha256(), h, &hlen)) != CH_OK)
		return r;
	if (len < 8 + 2 * (size_t)hlen)
		return CH_ERR_LIMIT;
	memcpy(out, "SHA256:", 7);
	o = 7;
	for (unsigned i = 0; i < hlen; i++) {
		out[o++] = hex[h[i] >> 4];
		out[o++] = hex[h[i] & 15];
	}
	out[o] = '\0';
	return CH_OK;
}

int ch_fingerprint_parse(const char *text, unsigned char *out, size_t *len,
			 char *err, size_t errlen)
{
	const EVP_MD *md;
	size_t n = 0;
	const char *p = text;

	*len = 0;
	if (strncasecmp(text, "SHA256:", 7) == 0) {
		p = text + 7;
		out[n++] = CH_CTN_HASH_SHA256;
		for (; p[0] && n < CH_CTN_FP_MAX; p += 2) {
			int hi = hexval((unsigned char)p[0]);
			int lo = p[1] ? hexval((unsigned char)p[1]) : -1;

			if (hi < 0 || lo < 0)
				goto bad;
			out[n++] = (unsigned char)(hi << 4 | lo);
		}
		if (*p || n != 1 + 32)
			goto bad;
		*len = n;
		return CH_OK;
	}
	for (;;) {
		int hi = hexval((unsigned char)p[0]);
		int lo = hi >= 0 ? hexval((unsigned char)p[1]) : -1;

		if (hi < 0 || lo < 0 || n >= CH_CTN_FP_MAX)
			goto bad;
		out[n++] = (unsigned char)(hi << 4 | lo);
		p += 2;
		if (*p == '\0')
			break;
		if (*p++ != ':')
			goto bad;
	}
	if ((md = hash_md(out[0])) == NULL) {
		seterr(err, errlen, "fingerprint '%.80s': hash algorithm %02X "
		       "not supported (02 sha1 to 06 sha512; 04 is sha256)",
		       text, out[0]);
		return CH_ERR_INVAL;
	}
	if (n != 1 + (size_t)EVP_MD_get_size(md)) {
		seterr(err, errlen, "fingerprint '%.80s': %zu hash bytes, %s "
		       "has %d", text, n - 1, EVP_MD_get0_name(md),
		       EVP_MD_get_size(md));
		return CH_ERR_INVAL;
	}
	*len = n;
	return CH_OK;
bad:
	seterr(err, errlen, "fingerprint '%.80s': expected 04:XX:XX:... "
	       "(RFC 7407, hex pairs) or SHA256:<64 hex digits>", text);
	return CH_ERR_INVAL;
}

int ch_cert_fp_match(X509 *cert, const unsigned char *fp, size_t len)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hlen;

	if (cert == NULL || len < 2 ||
	    digest(cert, hash_md(fp[0]), h, &hlen) != CH_OK)
		return 0;
	return hlen == len - 1 && memcmp(h, fp + 1, hlen) == 0;
}

/* ---- cert-to-name ---- */

static const char *const map_names[] = {
	[CH_CTN_SPECIFIED] = "specified",
	[CH_CTN_SAN_RFC822] = "san-rfc822-name",
	[CH_CTN_SAN_DNS] = "san-dns-name",
	[CH_CTN_SAN_IP] = "san-ip-address",
	[CH_CTN_SAN_ANY] = "san-any",
	[CH_CTN_COMMON_NAME] = "common-name",
};
#define NMAPS (sizeof(map_names) / sizeof(map_names[0]))

int ch_ctn_map_parse(const char *text, enum ch_ctn_map *out)
{
	const char *colon = strrchr(text, ':');
	const char *id = colon ? colon + 1 : text;

	*out = CH_CTN_SPECIFIED;
	for (size_t i = 0; i < NMAPS; i++) {
		if (strcmp(id, map_names[i]) == 0) {
			*out = (enum ch_ctn_map)i;
			return CH_OK;
		}
	}
	return CH_ERR_INVAL;
}

const char *ch_ctn_map_name(enum ch_ctn_map map)
{
	return (size_t)map < NMAPS ? map_names[map] : "?";
}

/* A user name we hand out: non-empty, no control characters, fits. */
static int name_ok(const unsigned char *s, size_t n, size_t room)
{
	if (n == 0 || n >= room || n >= CH_CTN_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int ch_ctn_rule_parse(const char *text, uint32_t id, struct ch_ctn_rule *out,
		      char *err, size_t errlen)
{
	char buf[CH_CTN_RULE_TEXT_MAX];
	char *f[4], *p;
	size_t nf = 0, tl = strlen(text);
	int r;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (tl >= sizeof(buf)) {
		seterr(err, errlen, "cert-to-name rule longer than %d bytes",
		       CH_CTN_RULE_TEXT_MAX - 1);
		return CH_ERR_INVAL;
	}
	memcpy(buf, text, tl + 1);
	for (p = buf; nf < 4; ) {
		char *c = strchr(p, ',');

		f[nf++] = p;
		if (c == NULL)
			break;
		*c = '\0';
		p = c + 1;
	}
	if (nf < 2 || nf > 3) {
		seterr(err, errlen, "cert-to-name rule '%.200s': expected "
		       "FINGERPRINT,MAP-TYPE[,NAME] (FINGERPRINT may be *)",
		       text);
		return CH_ERR_INVAL;
	}
	out->id = id;
	if (strcmp(f[0], "*") != 0 &&
	    ch_fingerprint_parse(f[0], out->fp, &out->fp_len, err,
				 errlen) != CH_OK)
		goto bad;
	if (ch_ctn_map_parse(f[1], &out->map) != CH_OK) {
		seterr(err, errlen, "cert-to-name rule '%.200s': unknown map "
		       "type '%.40s' (specified, san-rfc822-name, san-dns-name, "
		       "san-ip-address, san-any, common-name)", text, f[1]);
		goto bad;
	}
	if (out->map == CH_CTN_SPECIFIED) {
		if (nf != 3 || !name_ok((const unsigned char *)f[2],
					strlen(f[2]), sizeof(out->name))) {
			seterr(err, errlen, "cert-to-name rule '%.200s': "
			       "specified needs a NAME (1 to %d printable "
			       "bytes)", text, CH_CTN_NAME_MAX - 1);
			goto bad;
		}
		snprintf(out->name, sizeof(out->name), "%s", f[2]);
	} else if (nf == 3) {
		seterr(err, errlen, "cert-to-name rule '%.200s': a NAME goes "
		       "only with specified (%s takes it from the certificate)",
		       text, map_names[out->map]);
		goto bad;
	}
	return CH_OK;
bad:
	r = CH_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	return r;
}

int ch_ctn_check(const struct ch_ctn_rule *rules, size_t n, char *err,
		 size_t errlen)
{
	if (n > CH_CTN_RULES_MAX) {
		seterr(err, errlen, "%zu cert-to-name rules, at most %d", n,
		       CH_CTN_RULES_MAX);
		return CH_ERR_LIMIT;
	}
	for (size_t i = 0; i < n; i++) {
		if ((size_t)rules[i].map >= NMAPS) {
			seterr(err, errlen, "cert-to-name rule %u: bad map "
			       "type", rules[i].id);
			return CH_ERR_INVAL;
		}
		if (rules[i].map == CH_CTN_SPECIFIED &&
		    !name_ok((const unsigned char *)rules[i].name,
			     strnlen(rules[i].name, sizeof(rules[i].name)),
			     sizeof(rules[i].name))) {
			seterr(err, errlen, "cert-to-name rule %u: specified "
			       "without a valid name", rules[i].id);
			return CH_ERR_INVAL;
		}
		if (rules[i].fp_len > CH_CTN_FP_MAX ||
		    (rules[i].fp_len &&
		     (hash_md(rules[i].fp[0]) == NULL ||
		      rules[i].fp_len != 1 +
		      (size_t)EVP_MD_get_size(hash_md(rules[i].fp[0]))))) {
			seterr(err, errlen, "cert-to-name rule %u: bad "
			       "fingerprint", rules[i].id);
			return CH_ERR_INVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (rules[j].id == rules[i].id) {
				seterr(err, errlen, "two cert-to-name rules "
				       "with id %u", rules[i].id);
				return CH_ERR_INVAL;
			}
		}
	}
	return CH_OK;
}

/* One general name of the kinds cert-to-name uses, as a user name
 * (RFC 7407 4.1 conversions). 1 on success. */
static int gen_name(const GENERAL_NAME *g, char *out, size_t len)
{
	const unsigned char *d;
	int n;

	switch (g->type) {
	case GEN_EMAIL:
	case GEN_DNS: {
		const unsigned char *at = NULL;

		d = ASN1_STRING_get0_data(g->d.ia5);
		n = ASN1_STRING_length(g->d.ia5);
		if (!name_ok(d, (size_t)n, len))
			return 0;
		for (int i = 0; i < n; i++)
			if (d[i] == '@')
				at = d + i;
		if (g->type == GEN_EMAIL && at == NULL)
			return 0;	/* not an rfc822 name */
		for (int i = 0; i < n; i++) {
			/* rfc822: only the host part is case-insensitive */
			int fold = g->type == GEN_DNS || d + i > at;

			out[i] = (char)(fold ? lower(d[i]) : d[i]);
		}
		out[n] = '\0';
		return 1;
	}
	case GEN_IPADD:
		d = ASN1_STRING_get0_data(g->d.ip);
		n = ASN1_STRING_length(g->d.ip);
		if (n == 4) {
			if (snprintf(out, len, "%u.%u.%u.%u", d[0], d[1], d[2],
				     d[3]) >= (int)len)
				return 0;
			return 1;
		}
		if (n == 16 && len > 32) {
			static const char hex[] = "0123456789abcdef";

			for (int i = 0; i < 16; i++) {
				out[2 * i] = hex[d[i] >> 4];
				out[2 * i + 1] = hex[d[i] & 15];
			}
			out[32] = '\0';
			return 1;
		}
		return 0;
	default:
		return 0;
	}
}

static const char *san_kind(enum ch_ctn_map map)
{
	switch (map) {
	case CH_CTN_SAN_RFC822:
		return "rfc822Name";
	case CH_CTN_SAN_DNS:
		return "dNSName";
	case CH_CTN_SAN_IP:
		return "iPAddress";
	default:
		return "rfc822Name, dNSName or iPAddress";
	}
}

/* The name a map type takes from cert; 1 if found, else why says. */
static int cert_name(X509 *cert, enum ch_ctn_map map, char *out, size_t len,
		     char *why, size_t whylen)
{
	GENERAL_NAMES *gens;
	int want = map == CH_CTN_SAN_RFC822 ? GEN_EMAIL
		 : map == CH_CTN_SAN_DNS ? GEN_DNS
		 : map == CH_CTN_SAN_IP ? GEN_IPADD : -1;
	int found = 0, ok = 0;

	if (map == CH_CTN_COMMON_NAME) {
		X509_NAME *nm = X509_get_subject_name(cert);
		unsigned char *u = NULL;
		int i = -1, last = -1, n;

		while (nm && (i = X509_NAME_get_index_by_NID(nm, NID_commonName,
							    i)) >= 0)
			last = i;	/* the most specific CN */
		if (last < 0) {
			seterr(why, whylen, "the certificate has no common "
			       "name");
			return 0;
		}
		n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(
					X509_NAME_get_entry(nm, last)));
		if (n > 0 && name_ok(u, (size_t)n, len)) {
			memcpy(out, u, (size_t)n);
			out[n] = '\0';
			ok = 1;
		} else {
			seterr(why, whylen, "its common name is not a valid "
			       "user name");
		}
		OPENSSL_free(u);
		return ok;
	}
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (want >= 0 ? g->type != want
			      : g->type != GEN_EMAIL && g->type != GEN_DNS &&
				g->type != GEN_IPADD)
			continue;
		/* RFC 7407: the first one is used; if it does not convert,
		 * this rule yields nothing (no falling through to a second
		 * name the operator did not mean). */
		found = 1;
		ok = gen_name(g, out, len);
		break;
	}
	GENERAL_NAMES_free(gens);
	if (!found)
		seterr(why, whylen, "the certificate has no %s", san_kind(map));
	else if (!ok)
		seterr(why, whylen, "its first %s is not a valid user name",
		       san_kind(map));
	return ok;
}

static int rule_applies(const struct ch_ctn_rule *rule, X509 *leaf,
			STACK_OF(X509) *chain)
{
	if (rule->fp_len == 0)
		return 1;
	if (ch_cert_fp_match(leaf, rule->fp, rule->fp_len))
		return 1;
	/* chain[0] is the leaf; the others are its CAs up to the anchor. */
	for (int i = 1; chain && i < sk_X509_num(chain); i++)
		if (ch_cert_fp_match(sk_X509_value(chain, i), rule->fp,
				     rule->fp_len))
			return 1;
	return 0;
}

int ch_ctn_map(const struct ch_ctn_rule *rules, size_t n, X509 *leaf,
	       STACK_OF(X509) *chain, char *out, size_t len, uint32_t *rule_id,
	       char *why, size_t whylen)
{
	size_t order[CH_CTN_RULES_MAX];
	char last[CH_CTN_ERR_LEN] = "";

	if (len)
		out[0] = '\0';
	if (rule_id)
		*rule_id = 0;
	if (why && whylen)
		why[0] = '\0';
	if (leaf == NULL) {
		seterr(why, whylen, "no certificate to map");
		return CH_ERR_DENIED;
	}
	if (n > CH_CTN_RULES_MAX) {
		seterr(why, whylen, "more than %d cert-to-name rules",
		       CH_CTN_RULES_MAX);
		return CH_ERR_LIMIT;
	}
	/* Insertion sort by id, stable: equal ids keep their list order. */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		while (j > 0 && rules[order[j - 1]].id > rules[i].id) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t k = 0; k < n; k++) {
		const struct ch_ctn_rule *rule = &rules[order[k]];
		char reason[CH_CTN_ERR_LEN] = "";
		int ok;

		if (!rule_applies(rule, leaf, chain))
			continue;
		if (rule->map == CH_CTN_SPECIFIED) {
			size_t nl = strnlen(rule->name, sizeof(rule->name));

			ok = name_ok((const unsigned char *)rule->name, nl, len);
			if (ok)
				memcpy(out, rule->name, nl + 1);
			else
				seterr(reason, sizeof(reason), "its name does "
				       "not fit");
		} else {
			ok = cert_name(leaf, rule->map, out, len, reason,
				       sizeof(reason));
		}
		if (ok) {
			if (rule_id)
				*rule_id = rule->id;
			return CH_OK;
		}
		if (len)
			out[0] = '\0';
		if (last[0] == '\0')	/* the first failure says the most */
			snprintf(last, sizeof(last), "rule %u (%s) matched but "
				 "%s", rule->id, map_names[rule->map], reason);
	}
	if (last[0]) {
		seterr(why, whylen, "%s", last);
	} else {
		char fp[CH_CERT_SHA256_LEN] = "?";

		ch_cert_sha256(leaf, fp, sizeof(fp));
		seterr(why, whylen, "no cert-to-name rule matches the "
		       "certificate (%s) or a CA of its chain", fp);
	}
	return CH_ERR_DENIED;
}
