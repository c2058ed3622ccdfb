/* tlsdev.c - the TLS transport of a device session at the hub (RFC 8071
 * port 4335, NETCONF over TLS RFC 7589). We accepted the TCP connection;
 * now we are the TLS *client* (C3), verify the device's chain against the
 * trust anchors (and CRLs) during the handshake, and admit the device only
 * if the identity its certificate encodes - the X520 serialNumber subject
 * attribute, or the certificate itself when pinned - was known before it
 * called (C5-C7). Then the NETCONF session of device.c runs on top.
 *
 *   HANDSHAKE  TLS 1.2/1.3, chain verified (ch_tls, REQUIRE mode)
 *   IDENTIFY   serialNumber / certificate fingerprint vs the registry
 *   HELLO ...  as over SSH (device.c)
 *
 * No TLS heartbeat exists in OpenSSL 3: dead devices are found by TCP
 * keep-alives on the socket plus device.c's NETCONF-level probe
 * (docs/tls.md).
 */
#include "hub/hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/id/certid.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

struct tlsdev {
	struct ch_tls t;		/* embedded: freed after closed() */
	struct device *d;		/* NULL only while starting */
};

/* The registry identities a certificate carries: "serial:S" (or "" when
 * the subject has no serialNumber) and "x509:SHA256:<hex>". CH_OK, or a
 * static text in *why. */
static int cert_ids(X509 *cert, char *serial_id, size_t slen, char *cert_id,
		    size_t clen, const char **why)
{
	char serial[CH_CERT_SERIAL_MAX + 1], sha[CH_CERT_SHA256_LEN];
	int r;

	serial_id[0] = cert_id[0] = '\0';
	*why = NULL;
	if (cert == NULL || ch_cert_sha256(cert, sha, sizeof(sha)) != CH_OK) {
		*why = "no usable device certificate";
		return CH_ERR_INVAL;
	}
	snprintf(cert_id, clen, CH_ID_CERT_PREFIX "%s", sha);
	r = ch_cert_serial_number(cert, serial, sizeof(serial));
	if (r == CH_ERR_NOTFOUND)
		return CH_OK;	/* a pinned certificate may still admit it */
	/* An unusable serialNumber: only a pinned certificate admits it. */
	if (r == CH_ERR_AMBIGUOUS) {
		*why = "certificate subject has more than one serialNumber";
		return CH_ERR_INVAL;
	}
	if (r != CH_OK || !ch_serial_valid(serial)) {
		*why = "certificate subject serialNumber is not an acceptable "
		       "serial number";
		return CH_ERR_INVAL;
	}
	snprintf(serial_id, slen, CH_ID_SERIAL_PREFIX "%s", serial);
	return CH_OK;
}

/* "x509:SHA256:<hex>" of the trust anchor a verified chain ends in. */
static int anchor_of(STACK_OF(X509) *verified, char *out, size_t len)
{
	char sha[CH_CERT_SHA256_LEN];
	X509 *root = sk_X509_value(verified, sk_X509_num(verified) - 1);

	if (root == NULL || ch_cert_sha256(root, sha, sizeof(sha)) != CH_OK)
		return CH_ERR_INVAL;
	snprintf(out, len, CH_ID_CERT_PREFIX "%s", sha);
	return CH_OK;
}

/* Why a handshake failed, in the words docs/tls.md lists: a short reason
 * for the close and the registry event. */
static const char *refusal(struct ch_tls *t, int status)
{
	const char *err = ch_tls_error(t), *kind;
	long v = ch_tls_verify_result(t, NULL, NULL);

	if (v != X509_V_OK) {
		kind = ch_tls_verify_kind(v);
		if (strcmp(kind, "expired") == 0)
			return "expired certificate";
		if (strcmp(kind, "not-yet-valid") == 0)
			return "certificate not yet valid";
		if (strcmp(kind, "revoked") == 0)
			return "revoked certificate (CRL)";
		if (strcmp(kind, "untrusted") == 0)
			return "unknown issuer: the chain leads to no "
			       "--trust-anchor (wrong CA)";
		if (strcmp(kind, "no-cert") == 0)
			return "no device certificate";
		if (strcmp(kind, "crl") == 0)
			return "CRL missing or unusable for the device's CA";
		return "certificate rejected";
	}
	if (strstr(err, "protocol version") || strstr(err, "unsupported "
	    "protocol") || strstr(err, "no protocols available") ||
	    strstr(err, "wrong version number"))
		return "TLS protocol version refused (TLS 1.2 or 1.3 required)";
	if (status == CH_ERR_CLOSED)
		return "device closed the connection during the TLS handshake";
	return "TLS handshake failed";
}

static void on_handshake_failed(struct tlsdev *td, int status)
{
	struct device *d = td->d;
	struct hub *hub;
	char serial_id[80], cert_id[CH_FP_LEN], detail[CH_STORE_TEXT_MAX];
	const char *why = refusal(&td->t, status), *vreason = NULL, *ign;
	const char *id = NULL;

	if (d == NULL)
		return;
	hub = device_hub(d);
	ch_tls_verify_result(&td->t, NULL, &vreason);
	/* The certificate of a failed handshake proves nothing (its key
	 * was never shown to be held): it is named in the text only, and
	 * the event is filed under no device. */
	if (cert_ids(ch_tls_peer_cert(&td->t), serial_id, sizeof(serial_id),
		     cert_id, sizeof(cert_id), &ign) == CH_OK ||
	    cert_id[0])
		id = serial_id[0] ? serial_id : cert_id;
	snprintf(detail, sizeof(detail), "%s: %s (from %s%s%s%s)", why,
		 vreason && *vreason ? vreason : ch_tls_error(&td->t),
		 device_peer(d), id ? ", claiming " : "", id ? id : "",
		 id ? ", unverified" : "");
	device_log(CH_LOG_WARN, d, "TLS refused: %s", detail);
	hub_event(hub, NULL, "refused", detail);
	device_close_with(d, why, vreason && *vreason ? vreason
						     : ch_tls_error(&td->t));
}

static void tls_handshake(struct ch_tls *t, int status)
{
	struct tlsdev *td = t->data;
	struct device *d = td->d;
	char serial_id[80], cert_id[CH_FP_LEN], anchor_id[CH_FP_LEN];
	STACK_OF(X509) *sent, *verified;
	const char *why = NULL;
	struct hub *hub;

	if (d == NULL)
		return;
	if (status != CH_OK) {
		on_handshake_failed(td, status);
		return;
	}
	hub = device_hub(d);
	/* REQUIRE mode (main.c) aborts an unverified handshake; checked
	 * again here, as admission rests on it. */
	verified = ch_tls_verified_chain(t);
	if (ch_tls_verify_result(t, NULL, NULL) != X509_V_OK ||
	    verified == NULL || sk_X509_num(verified) < 1 ||
	    anchor_of(verified, anchor_id, sizeof(anchor_id)) != CH_OK) {
		hub_event(hub, NULL, "refused", "TLS chain not verified");
		device_close(d, "TLS chain not verified");
		return;
	}
	if (cert_ids(sk_X509_value(verified, 0), serial_id, sizeof(serial_id),
		     cert_id, sizeof(cert_id), &why) != CH_OK) {
		/* An unusable serial number: a pinned certificate may still
		 * admit the device. */
		if (cert_id[0] == '\0') {
			hub_event(hub, NULL, "refused", why);
			device_close(d, why);
			return;
		}
		serial_id[0] = '\0';
	}
	sent = ch_tls_peer_chain(t);
	device_log(CH_LOG_INFO, d, "TLS handshake done in %.1f ms: %s %s, "
		   "chain of %d certificate(s) verified; serial %s, "
		   "certificate %s", (double)t->hs_ns / 1e6, ch_tls_version(t),
		   ch_tls_cipher(t), sent ? sk_X509_num(sent) : 0,
		   serial_id[0] ? serial_id + strlen(CH_ID_SERIAL_PREFIX)
				: "(none)", cert_id);
	/* Identify before the session goes on: nothing but the handshake
	 * went to a device we do not know (C7). */
	if (hub_admit_tls(hub, d, serial_id[0] ? serial_id : NULL, cert_id,
			  anchor_id, &why) != CH_OK) {
		device_close(d, why);
		return;
	}
	device_nc_start(d);
}

static void tls_io(struct ch_tls *t)
{
	struct tlsdev *td = t->data;
	struct device *d = td->d;
	char buf[HUB_READ_CHUNK];
	size_t n;
	int r;

	if (d == NULL)
		return;
	for (;;) {
		r = ch_tls_read(t, buf, sizeof(buf), &n);
		if (r == CH_ERR_AGAIN)
			return;
		if (r == CH_ERR_CLOSED) {
			device_close_with(d, device_was_ready(d)
				? "device closed the NETCONF session"
				: "device closed the connection before hello",
				ch_tls_error(t));
			return;
		}
		if (r != CH_OK) {
			device_close_with(d, "TLS error", ch_tls_error(t));
			return;
		}
		if (device_input(d, buf, n) != CH_OK)
			return;
	}
}

static void tls_expired(struct ch_tls *t, const char *why)
{
	struct tlsdev *td = t->data;

	if (td->d)
		device_close(td->d, why);
}

static void tls_closed(struct ch_tls *t)
{
	struct tlsdev *td = t->data;

	if (td->d)
		device_transport_closed(td->d);	/* frees td at the end */
	else
		free(td);
}

static const struct ch_tls_cb tls_cb = {
	.handshake = tls_handshake,
	.io = tls_io,
	.expired = tls_expired,
	.closed = tls_closed,
};

/* ---- the transport's ops ---- */

static int tr_send(struct device *d, const char *data, size_t len)
{
	struct tlsdev *td = device_tdata(d);

	return ch_tls_write(&td->t, data, len);
}

static void tr_deadline(struct device *d, uint64_t ms, const char *why)
{
	struct tlsdev *td = device_tdata(d);

	ch_tls_deadline(&td->t, ms, why);
}

static void tr_close(struct device *d)
{
	struct tlsdev *td = device_tdata(d);

	ch_tls_close(&td->t);
}

static void tr_free(struct device *d)
{
	free(device_tdata(d));
}

static const struct device_transport tls_transport = {
	.name = "tls",
	.send = tr_send,
	.deadline = tr_deadline,
	.keepalive = NULL,	/* NETCONF-level probe (device.c) */
	.close = tr_close,
	.free = tr_free,
};

int tlsdev_start(struct hub *hub, int fd, const char *peer,
		 const struct sockaddr *sa)
{
	struct tlsdev *td;
	struct device *d;
	int r;

	if (hub->tls_ctx == NULL) {
		close(fd);
		return CH_ERR_INVAL;
	}
	if ((td = calloc(1, sizeof(*td))) == NULL) {
		close(fd);
		return CH_ERR_NOMEM;
	}
	if ((d = device_alloc(hub, peer, sa, &tls_transport, td)) == NULL) {
		free(td);
		close(fd);
		return CH_ERR_NOMEM;
	}
	/* The kernel finds a dead peer even while NETCONF is quiet and
	 * before the session is up; the NETCONF probe covers a peer whose
	 * TCP stack answers but whose server is stuck. */
	if (hub->cfg.keepalive_ms)
		ch_tls_tcp_keepalive(fd, hub->cfg.keepalive_ms,
				     hub->cfg.keepalive_count);
	if ((r = ch_tls_start(&td->t, hub->loop, hub->tls_ctx, fd, &tls_cb,
			      td)) != CH_OK) {
		ch_warn("conn from %s: cannot start TLS: %s", peer,
			ch_strerror(r));
		device_discard(d);
		free(td);
		close(fd);
		return r;
	}
	td->d = d;
	device_attach(d);
	return CH_OK;
}
