/* testpki.h - pieces of a test PKI built at run time with OpenSSL, shared
 * by the TLS and certificate-identity unit tests. They fail the running
 * cmocka test on any OpenSSL error. */
#ifndef CH_TESTPKI_H
#define CH_TESTPKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/* A new P-256 key. */
EVP_PKEY *tp_key(void);
/* Adds extension nid (openssl.cnf syntax in val) to c, as issued by
 * issuer (NULL: c itself). */
void tp_ext(X509 *c, X509 *issuer, int nid, const char *val);

#endif
