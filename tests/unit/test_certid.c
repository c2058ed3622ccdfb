#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "lib/id/certid.h"
#include "lib/core/err.h"
#include "testpki.h"

/* ---- a test PKI built at run time ---- */

/* subject is "CN=x/serialNumber=y/..." pairs separated by '/'; san as in
 * openssl.cnf ("DNS:a,IP:1.2.3.4"); NULL issuer: self-signed. */
static X509 *mkcert(EVP_PKEY *key, const char *subject, X509 *issuer,
		    EVP_PKEY *ikey, int ca, long from_s, long to_s,
		    const char *san, long serial)
{
	X509 *c = X509_new();
	X509_NAME *nm = X509_NAME_new();
	char buf[512], *p, *save = NULL;

	assert_non_null(c);
	X509_set_version(c, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_gmtime_adj(X509_getm_notBefore(c), from_s);
	X509_gmtime_adj(X509_getm_notAfter(c), to_s);
	snprintf(buf, sizeof(buf), "%s", subject);
	for (p = buf; p && *p; p = save) {
		char *eq = strchr(p, '=');

		save = strchr(p, '/');
		if (save)
			*save++ = '\0';
		assert_non_null(eq);
		*eq = '\0';
		/* The string table refuses what real CAs would not issue
		 * (a 65-byte or non-printable serialNumber); tests need
		 * them, so fall back to a raw UTF8String. */
		if (X509_NAME_add_entry_by_txt(nm, p, MBSTRING_UTF8,
				(unsigned char *)eq + 1, -1, -1, 0) != 1) {
			ERR_clear_error();
			assert_int_equal(X509_NAME_add_entry_by_txt(nm, p,
				V_ASN1_UTF8STRING, (unsigned char *)eq + 1,
				-1, -1, 0), 1);
		}
	}
	X509_set_subject_name(c, nm);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : nm);
	X509_NAME_free(nm);
	X509_set_pubkey(c, key);
	if (ca) {
		tp_ext(c, issuer, NID_basic_constraints, "critical,CA:TRUE");
		tp_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		tp_ext(c, issuer, NID_basic_constraints, "CA:FALSE");
	}
	if (san)
		tp_ext(c, issuer, NID_subject_alt_name, san);
	assert_true(X509_sign(c, ikey ? ikey : key, EVP_sha256()) > 0);
	return c;
}

struct pki {
	EVP_PKEY *kroot, *kinter, *kleaf;
	X509 *root, *inter, *other_root;
	STACK_OF(X509) *chain;	/* leaf (pushed per test), inter, root */
};

static int setup(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));
	EVP_PKEY *ko = tp_key();

	p->kroot = tp_key();
	p->kinter = tp_key();
	p->kleaf = tp_key();
	p->root = mkcert(p->kroot, "CN=Test Root CA", NULL, NULL, 1, -60,
			 86400, NULL, 1);
	p->inter = mkcert(p->kinter, "CN=Test Intermediate", p->root, p->kroot,
			  1, -60, 86400, NULL, 2);
	p->other_root = mkcert(ko, "CN=Other Root", NULL, NULL, 1, -60, 86400,
			       NULL, 3);
	EVP_PKEY_free(ko);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pki *p = *state;

	X509_free(p->root);
	X509_free(p->inter);
	X509_free(p->other_root);
	EVP_PKEY_free(p->kroot);
	EVP_PKEY_free(p->kinter);
	EVP_PKEY_free(p->kleaf);
	free(p);
	return 0;
}

static X509 *leaf(struct pki *p, const char *subject, const char *san)
{
	return mkcert(p->kleaf, subject, p->inter, p->kinter, 0, -60, 3600, san,
		      100);
}

/* leaf, inter, root: what ch_tls_verified_chain gives. */
static STACK_OF(X509) *chain_of(struct pki *p, X509 *l)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	sk_X509_push(sk, l);
	sk_X509_push(sk, p->inter);
	sk_X509_push(sk, p->root);
	return sk;
}

/* ---- serialNumber ---- */

static void test_serial_number(void **state)
{
	struct pki *p = *state;
	X509 *c = leaf(p, "CN=dev1/serialNumber=SN-0042/O=Acme", NULL);
	char out[CH_SERIAL_MAX + 1];

	assert_int_equal(ch_cert_serial_number(c, out, sizeof(out)), CH_OK);
	assert_string_equal(out, "SN-0042");
	/* a buffer one byte too small */
	assert_int_equal(ch_cert_serial_number(c, out, 7), CH_ERR_LIMIT);
	assert_string_equal(out, "");
	X509_free(c);

	c = leaf(p, "CN=dev1", NULL);
	snprintf(out, sizeof(out), "x");
	assert_int_equal(ch_cert_serial_number(c, out, sizeof(out)),
			 CH_ERR_NOTFOUND);
	assert_string_equal(out, "");
	X509_free(c);

	c = leaf(p, "CN=dev1/serialNumber=A1/serialNumber=A2", NULL);
	assert_int_equal(ch_cert_serial_number(c, out, sizeof(out)),
			 CH_ERR_AMBIGUOUS);
	X509_free(c);

	/* 64 is the X.520 upper bound; 65 is refused */
	char big[128] = "CN=d/serialNumber=";
	size_t bl = strlen(big);

	memset(big + bl, 'A', 64);
	big[bl + 64] = '\0';
	c = leaf(p, big, NULL);
	assert_int_equal(ch_cert_serial_number(c, out, sizeof(out)), CH_OK);
	assert_int_equal(strlen(out), 64);
	X509_free(c);
	big[bl + 64] = 'A';
	big[bl + 65] = '\0';
	c = leaf(p, big, NULL);
	assert_int_equal(ch_cert_serial_number(c, out, sizeof(out)),
			 CH_ERR_LIMIT);
	X509_free(c);

	/* non-printable (UTF-8 'é', a tab) */
	c = leaf(p, "CN=d/serialNumber=S\xc3\xa9rie", NULL);
	assert_int_equal(ch_cert_serial_number(c, out, sizeof(out)),
			 CH_ERR_INVAL);
	X509_free(c);
	c = leaf(p, "CN=d/serialNumber=A\tB", NULL);
	assert_int_equal(ch_cert_serial_number(c, out, sizeof(out)),
			 CH_ERR_INVAL);
	X509_free(c);
}

/* ---- fingerprints ---- */

/* The SHA-256 of the DER encoding, computed without X509_digest. */
static void der_sha256(X509 *c, unsigned char h[32])
{
	unsigned char *der = NULL;
	int n = i2d_X509(c, &der);
	unsigned hl = 0;

	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, h, &hl, EVP_sha256(), NULL),
			 1);
	assert_int_equal(hl, 32);
	OPENSSL_free(der);
}

static void test_fingerprint(void **state)
{
	struct pki *p = *state;
	X509 *c = leaf(p, "CN=dev1", NULL);
	unsigned char h[32], fp[CH_CTN_FP_MAX];
	char want[200], out[CH_CERT_FP_LEN], sha[CH_CERT_SHA256_LEN];
	size_t o = 0, fl;

	der_sha256(c, h);
	o += (size_t)snprintf(want, sizeof(want), "04");
	for (int i = 0; i < 32; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, ":%02X", h[i]);
	assert_int_equal(ch_cert_fingerprint(c, out, sizeof(out)), CH_OK);
	assert_string_equal(out, want);
	assert_int_equal(strlen(out), 98);
	assert_int_equal(ch_cert_fingerprint(c, out, 98), CH_ERR_LIMIT);

	o = (size_t)snprintf(want, sizeof(want), "SHA256:");
	for (int i = 0; i < 32; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "%02x", h[i]);
	assert_int_equal(ch_cert_sha256(c, sha, sizeof(sha)), CH_OK);
	assert_string_equal(sha, want);

	/* both forms parse to the same bytes, and match the cert */
	assert_int_equal(ch_cert_fingerprint(c, out, sizeof(out)), CH_OK);
	assert_int_equal(ch_fingerprint_parse(out, fp, &fl, NULL, 0), CH_OK);
	assert_int_equal(fl, 33);
	assert_int_equal(fp[0], 4);
	assert_memory_equal(fp + 1, h, 32);
	assert_int_equal(ch_cert_fp_match(c, fp, fl), 1);
	assert_int_equal(ch_fingerprint_parse(sha, fp, &fl, NULL, 0), CH_OK);
	assert_int_equal(fl, 33);
	assert_memory_equal(fp + 1, h, 32);
	/* lower case is accepted */
	for (char *q = out; *q; q++)
		if (*q >= 'A' && *q <= 'F')
			*q = (char)(*q - 'A' + 'a');
	assert_int_equal(ch_fingerprint_parse(out, fp, &fl, NULL, 0), CH_OK);
	assert_int_equal(ch_cert_fp_match(c, fp, fl), 1);
	assert_int_equal(ch_cert_fp_match(p->inter, fp, fl), 0);
	fp[5] ^= 1;
	assert_int_equal(ch_cert_fp_match(c, fp, fl), 0);
	X509_free(c);

	/* SHA-1 (02) fingerprints work too */
	unsigned char s1[20];
	unsigned sl;
	char t1[100];

	c = leaf(p, "CN=dev1", NULL);
	X509_digest(c, EVP_sha1(), s1, &sl);
	o = (size_t)snprintf(t1, sizeof(t1), "02");
	for (unsigned i = 0; i < sl; i++)
		o += (size_t)snprintf(t1 + o, sizeof(t1) - o, ":%02x", s1[i]);
	assert_int_equal(ch_fingerprint_parse(t1, fp, &fl, NULL, 0), CH_OK);
	assert_int_equal(fl, 21);
	assert_int_equal(ch_cert_fp_match(c, fp, fl), 1);
	X509_free(c);
}

static void test_fingerprint_errors(void **state)
{
	unsigned char fp[CH_CTN_FP_MAX];
	char err[CH_CTN_ERR_LEN];
	size_t fl = 99;

	(void)state;
	/* sha256 needs 32 bytes */
	assert_int_equal(ch_fingerprint_parse("04:AB:CD", fp, &fl, err,
					      sizeof(err)), CH_ERR_INVAL);
	assert_int_equal(fl, 0);
	assert_string_equal(err, "fingerprint '04:AB:CD': 2 hash bytes, "
			    "SHA256 has 32");
	/* md5 is refused */
	assert_int_equal(ch_fingerprint_parse("01:00:11:22:33:44:55:66:77:88:"
					      "99:AA:BB:CC:DD:EE:FF", fp, &fl,
					      err, sizeof(err)), CH_ERR_INVAL);
	assert_non_null(strstr(err, "hash algorithm 01 not supported"));
	assert_int_equal(ch_fingerprint_parse("04AB", fp, &fl, err,
					      sizeof(err)), CH_ERR_INVAL);
	assert_non_null(strstr(err, "expected 04:XX:XX:..."));
	assert_int_equal(ch_fingerprint_parse("04:A", fp, &fl, NULL, 0),
			 CH_ERR_INVAL);
	assert_int_equal(ch_fingerprint_parse("04:AB:", fp, &fl, NULL, 0),
			 CH_ERR_INVAL);
	assert_int_equal(ch_fingerprint_parse("04:GG", fp, &fl, NULL, 0),
			 CH_ERR_INVAL);
	assert_int_equal(ch_fingerprint_parse("", fp, &fl, NULL, 0),
			 CH_ERR_INVAL);
	assert_int_equal(ch_fingerprint_parse("SHA256:abcd", fp, &fl, NULL, 0),
			 CH_ERR_INVAL);
	assert_int_equal(ch_fingerprint_parse("SHA256:", fp, &fl, NULL, 0),
			 CH_ERR_INVAL);
}

/* ---- map types and rules ---- */

static void test_map_parse(void **state)
{
	enum ch_ctn_map m = CH_CTN_SAN_ANY;

	(void)state;
	assert_int_equal(ch_ctn_map_parse("specified", &m), CH_OK);
	assert_int_equal(m, CH_CTN_SPECIFIED);
	assert_int_equal(ch_ctn_map_parse("x509c2n:san-rfc822-name", &m), CH_OK);
	assert_int_equal(m, CH_CTN_SAN_RFC822);
	assert_int_equal(ch_ctn_map_parse("ietf-x509-cert-to-name:san-dns-name",
					  &m), CH_OK);
	assert_int_equal(m, CH_CTN_SAN_DNS);
	assert_int_equal(ch_ctn_map_parse("san-ip-address", &m), CH_OK);
	assert_int_equal(m, CH_CTN_SAN_IP);
	assert_int_equal(ch_ctn_map_parse("x509c2n:san-any", &m), CH_OK);
	assert_int_equal(m, CH_CTN_SAN_ANY);
	assert_int_equal(ch_ctn_map_parse("common-name", &m), CH_OK);
	assert_int_equal(m, CH_CTN_COMMON_NAME);
	assert_int_equal(ch_ctn_map_parse("san-dns", &m), CH_ERR_INVAL);
	assert_int_equal(ch_ctn_map_parse("Specified", &m), CH_ERR_INVAL);
	assert_int_equal(ch_ctn_map_parse("", &m), CH_ERR_INVAL);
	assert_string_equal(ch_ctn_map_name(CH_CTN_SAN_IP), "san-ip-address");
	assert_string_equal(ch_ctn_map_name(CH_CTN_COMMON_NAME), "common-name");
}

static void test_rule_parse(void **state)
{
	struct pki *p = *state;
	struct ch_ctn_rule r;
	char err[CH_CTN_ERR_LEN], text[400], fp[CH_CERT_FP_LEN];

	assert_int_equal(ch_ctn_rule_parse("*,san-dns-name", 7, &r, err,
					   sizeof(err)), CH_OK);
	assert_int_equal(r.id, 7);
	assert_int_equal(r.fp_len, 0);
	assert_int_equal(r.map, CH_CTN_SAN_DNS);
	assert_string_equal(r.name, "");

	assert_int_equal(ch_cert_fingerprint(p->root, fp, sizeof(fp)), CH_OK);
	snprintf(text, sizeof(text), "%s,x509c2n:specified,admin", fp);
	assert_int_equal(ch_ctn_rule_parse(text, 1, &r, err, sizeof(err)),
			 CH_OK);
	assert_int_equal(r.fp_len, 33);
	assert_int_equal(ch_cert_fp_match(p->root, r.fp, r.fp_len), 1);
	assert_int_equal(r.map, CH_CTN_SPECIFIED);
	assert_string_equal(r.name, "admin");

	assert_int_equal(ch_ctn_rule_parse("*,specified", 1, &r, err,
					   sizeof(err)), CH_ERR_INVAL);
	assert_string_equal(err, "cert-to-name rule '*,specified': specified "
			    "needs a NAME (1 to 255 printable bytes)");
	assert_int_equal(ch_ctn_rule_parse("*,san-any,bob", 1, &r, err,
					   sizeof(err)), CH_ERR_INVAL);
	assert_string_equal(err, "cert-to-name rule '*,san-any,bob': a NAME "
			    "goes only with specified (san-any takes it from "
			    "the certificate)");
	assert_int_equal(ch_ctn_rule_parse("*,dns", 1, &r, err, sizeof(err)),
			 CH_ERR_INVAL);
	assert_non_null(strstr(err, "unknown map type 'dns'"));
	assert_int_equal(ch_ctn_rule_parse("*", 1, &r, err, sizeof(err)),
			 CH_ERR_INVAL);
	assert_non_null(strstr(err, "expected FINGERPRINT,MAP-TYPE[,NAME]"));
	assert_int_equal(ch_ctn_rule_parse("*,specified,a,b", 1, &r, err,
					   sizeof(err)), CH_ERR_INVAL);
	assert_int_equal(ch_ctn_rule_parse("04:AB,san-any", 1, &r, err,
					   sizeof(err)), CH_ERR_INVAL);
	assert_non_null(strstr(err, "fingerprint '04:AB'"));
	assert_int_equal(r.map, 0);	/* cleared on error */
	assert_int_equal(ch_ctn_rule_parse("*,specified,", 1, &r, err,
					   sizeof(err)), CH_ERR_INVAL);
}

static void test_check(void **state)
{
	struct ch_ctn_rule r[2];
	char err[CH_CTN_ERR_LEN];

	(void)state;
	assert_int_equal(ch_ctn_rule_parse("*,san-any", 5, &r[0], NULL, 0),
			 CH_OK);
	assert_int_equal(ch_ctn_rule_parse("*,specified,x", 6, &r[1], NULL, 0),
			 CH_OK);
	assert_int_equal(ch_ctn_check(r, 2, err, sizeof(err)), CH_OK);
	r[1].id = 5;
	assert_int_equal(ch_ctn_check(r, 2, err, sizeof(err)), CH_ERR_INVAL);
	assert_string_equal(err, "two cert-to-name rules with id 5");
	r[1].id = 6;
	r[1].name[0] = '\0';
	assert_int_equal(ch_ctn_check(r, 2, err, sizeof(err)), CH_ERR_INVAL);
	assert_string_equal(err, "cert-to-name rule 6: specified without a "
			    "valid name");
	assert_int_equal(ch_ctn_check(r, CH_CTN_RULES_MAX + 1, err,
				      sizeof(err)), CH_ERR_LIMIT);
}

/* Maps c with one rule "*,MAP"; returns the result code. */
static int map1(X509 *c, const char *rule, char *out, size_t len,
		char *why, size_t whylen)
{
	struct ch_ctn_rule r;

	assert_int_equal(ch_ctn_rule_parse(rule, 1, &r, NULL, 0), CH_OK);
	return ch_ctn_map(&r, 1, c, NULL, out, len, NULL, why, whylen);
}

static void test_map_types(void **state)
{
	struct pki *p = *state;
	char out[CH_CTN_NAME_MAX], why[CH_CTN_ERR_LEN];
	X509 *c = leaf(p, "CN=outer/O=Acme/CN=Hub-01",
		       "URI:urn:x,DNS:Hub.Example.COM,email:Ops.Team@Example.COM,"
		       "IP:192.0.2.7,IP:2001:db8::1,DNS:second.example.com");

	assert_int_equal(map1(c, "*,specified,admin", out, sizeof(out), why,
			      sizeof(why)), CH_OK);
	assert_string_equal(out, "admin");
	assert_int_equal(map1(c, "*,san-rfc822-name", out, sizeof(out), why,
			      sizeof(why)), CH_OK);
	assert_string_equal(out, "Ops.Team@example.com");
	assert_int_equal(map1(c, "*,san-dns-name", out, sizeof(out), why,
			      sizeof(why)), CH_OK);
	assert_string_equal(out, "hub.example.com");
	assert_int_equal(map1(c, "*,san-ip-address", out, sizeof(out), why,
			      sizeof(why)), CH_OK);
	assert_string_equal(out, "192.0.2.7");
	/* the first SAN of the three kinds (the URI is not one) */
	assert_int_equal(map1(c, "*,san-any", out, sizeof(out), why,
			      sizeof(why)), CH_OK);
	assert_string_equal(out, "hub.example.com");
	/* the most specific (last) CN */
	assert_int_equal(map1(c, "*,common-name", out, sizeof(out), why,
			      sizeof(why)), CH_OK);
	assert_string_equal(out, "Hub-01");
	/* too small an output buffer yields nothing */
	assert_int_equal(map1(c, "*,san-dns-name", out, 15, why, sizeof(why)),
			 CH_ERR_DENIED);
	assert_string_equal(out, "");
	assert_string_equal(why, "rule 1 (san-dns-name) matched but its first "
			    "dNSName is not a valid user name");
	X509_free(c);

	/* IPv6 as 32 lower-case hex digits; san-any picks an email first */
	c = leaf(p, "O=NoCN", "IP:2001:DB8::A:1,email:a@B.c,DNS:x.y");
	assert_int_equal(map1(c, "*,san-ip-address", out, sizeof(out), why,
			      sizeof(why)), CH_OK);
	assert_string_equal(out, "20010db80000000000000000000a0001");
	assert_int_equal(map1(c, "*,san-any", out, sizeof(out), why,
			      sizeof(why)), CH_OK);
	assert_string_equal(out, "20010db80000000000000000000a0001");
	assert_int_equal(map1(c, "*,common-name", out, sizeof(out), why,
			      sizeof(why)), CH_ERR_DENIED);
	assert_string_equal(why, "rule 1 (common-name) matched but the "
			    "certificate has no common name");
	X509_free(c);

	/* no SAN at all */
	c = leaf(p, "CN=only-cn", NULL);
	assert_int_equal(map1(c, "*,san-rfc822-name", out, sizeof(out), why,
			      sizeof(why)), CH_ERR_DENIED);
	assert_string_equal(why, "rule 1 (san-rfc822-name) matched but the "
			    "certificate has no rfc822Name");
	assert_int_equal(map1(c, "*,san-any", out, sizeof(out), why,
			      sizeof(why)), CH_ERR_DENIED);
	assert_string_equal(why, "rule 1 (san-any) matched but the certificate "
			    "has no rfc822Name, dNSName or iPAddress");
	X509_free(c);
}

static void test_map_order_and_fingerprints(void **state)
{
	struct pki *p = *state;
	struct ch_ctn_rule r[4];
	char out[CH_CTN_NAME_MAX], why[CH_CTN_ERR_LEN], fp[CH_CERT_FP_LEN];
	char text[300];
	uint32_t id = 0;
	X509 *c = leaf(p, "CN=hub", "DNS:hub.example.com");
	STACK_OF(X509) *chain = chain_of(p, c);

	/* lower id first, whatever the list order */
	assert_int_equal(ch_ctn_rule_parse("*,specified,late", 20, &r[0], NULL,
					   0), CH_OK);
	assert_int_equal(ch_ctn_rule_parse("*,san-dns-name", 10, &r[1], NULL,
					   0), CH_OK);
	assert_int_equal(ch_ctn_map(r, 2, c, chain, out, sizeof(out), &id, why,
				    sizeof(why)), CH_OK);
	assert_string_equal(out, "hub.example.com");
	assert_int_equal(id, 10);
	r[1].id = 30;
	assert_int_equal(ch_ctn_map(r, 2, c, chain, out, sizeof(out), &id, why,
				    sizeof(why)), CH_OK);
	assert_string_equal(out, "late");
	assert_int_equal(id, 20);

	/* a rule that matches but yields no name passes to the next one */
	assert_int_equal(ch_ctn_rule_parse("*,san-ip-address", 1, &r[0], NULL,
					   0), CH_OK);
	assert_int_equal(ch_ctn_map(r, 2, c, chain, out, sizeof(out), &id, why,
				    sizeof(why)), CH_OK);
	assert_string_equal(out, "hub.example.com");
	assert_int_equal(id, 30);

	/* fingerprints: another cert's is skipped, the leaf's matches */
	assert_int_equal(ch_cert_fingerprint(p->other_root, fp, sizeof(fp)),
			 CH_OK);
	snprintf(text, sizeof(text), "%s,specified,other", fp);
	assert_int_equal(ch_ctn_rule_parse(text, 1, &r[0], NULL, 0), CH_OK);
	assert_int_equal(ch_cert_fingerprint(c, fp, sizeof(fp)), CH_OK);
	snprintf(text, sizeof(text), "%s,specified,by-leaf", fp);
	assert_int_equal(ch_ctn_rule_parse(text, 2, &r[1], NULL, 0), CH_OK);
	assert_int_equal(ch_ctn_map(r, 2, c, chain, out, sizeof(out), &id, why,
				    sizeof(why)), CH_OK);
	assert_string_equal(out, "by-leaf");
	assert_int_equal(id, 2);

	/* a CA of the verified chain (the intermediate, then the root) */
	assert_int_equal(ch_cert_fingerprint(p->inter, fp, sizeof(fp)), CH_OK);
	snprintf(text, sizeof(text), "%s,specified,by-inter", fp);
	assert_int_equal(ch_ctn_rule_parse(text, 2, &r[1], NULL, 0), CH_OK);
	assert_int_equal(ch_ctn_map(r, 2, c, chain, out, sizeof(out), &id, why,
				    sizeof(why)), CH_OK);
	assert_string_equal(out, "by-inter");
	assert_int_equal(ch_cert_sha256(p->root, fp, sizeof(fp)), CH_OK);
	snprintf(text, sizeof(text), "%s,san-dns-name", fp);
	assert_int_equal(ch_ctn_rule_parse(text, 2, &r[1], NULL, 0), CH_OK);
	assert_int_equal(ch_ctn_map(r, 2, c, chain, out, sizeof(out), &id, why,
				    sizeof(why)), CH_OK);
	assert_string_equal(out, "hub.example.com");
	/* without the chain, a CA fingerprint matches nothing */
	assert_int_equal(ch_ctn_map(r, 2, c, NULL, out, sizeof(out), &id, why,
				    sizeof(why)), CH_ERR_DENIED);
	assert_int_equal(id, 0);
	assert_string_equal(out, "");
	assert_int_equal(ch_cert_sha256(c, fp, sizeof(fp)), CH_OK);
	snprintf(text, sizeof(text), "no cert-to-name rule matches the "
		 "certificate (%s) or a CA of its chain", fp);
	assert_string_equal(why, text);
	/* no rules at all */
	assert_int_equal(ch_ctn_map(r, 0, c, chain, out, sizeof(out), &id, why,
				    sizeof(why)), CH_ERR_DENIED);
	assert_string_equal(why, text);
	/* no certificate */
	assert_int_equal(ch_ctn_map(r, 2, NULL, NULL, out, sizeof(out), &id,
				    why, sizeof(why)), CH_ERR_DENIED);
	assert_string_equal(why, "no certificate to map");
	sk_X509_free(chain);
	X509_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_number),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_fingerprint_errors),
		cmocka_unit_test(test_map_parse),
		cmocka_unit_test(test_rule_parse),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_map_types),
		cmocka_unit_test(test_map_order_and_fingerprints),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
