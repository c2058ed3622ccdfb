/* device.c - one accepted call-home connection at the hub (device.h): the
 * transport (lib/xport, client role) and the NETCONF client session on it
 * (lib/nc/session), whatever carries it.
 */
#include "hub/device.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/limits.h"
#include "lib/core/log.h"
#include "lib/id/certid.h"
#include "lib/id/identity.h"
#include "lib/id/sshkey.h"
#include "lib/nc/msg.h"
#include "lib/net/hostport.h"
#include "lib/nc/session.h"
#include "lib/xport/tls.h"
#include "lib/xport/xport.h"

#define CLOSE_SESSION_WHY "idle: closed with close-session"

struct device {
	const struct device_config *cfg;	/* borrowed */
	struct device_owner owner;
	struct ch_xport *x;
	struct ch_ncs *ncs;
	struct ch_logctx log;
	unsigned id;
	char peer[CH_ADDRSTR_LEN];
	char fp[CH_FP_LEN];		/* what it presented */
	char key[CH_FP_LEN];		/* its registry key */
	char name[CH_NAME_MAX + 1];	/* its registry name, for log lines */
	int quiet_close;		/* its end is logged at debug level */
	int superseded;			/* a newer session is up elsewhere */
	char announced_name[CH_JUNOS_DEVICE_ID_MAX + 1]; /* "" if none */
	char announced_fp[CH_FP_LEN];	/* the key it must show, or "" */
	union {				/* for the blocklist */
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} addr;
	int tls;
	int admitted;
	int authenticated;
	int ready;
	int was_ready;
	int gone;			/* the owner was told */
	const char *reason;		/* reason_copy, or a static text */
	char *reason_copy;
	uint32_t idle_close_s;
	/* One timer serves --idle-close and the NETCONF keep-alive probes
	 * (TLS): it fires at the earlier of the two (loop ms; 0: none). */
	uv_timer_t timer;
	uint64_t idle_at;
	uint64_t probe_at;
	uint64_t rx_seen;		/* transport bytes at the last tick */
	uint32_t probe_count;
	uint32_t probe_unanswered;
	uint32_t next_probe;
	int timer_closed;
	int xport_closed;
	struct device *next, *prev;	/* the owner's list */
	void *slot[DEVICE_SLOTS];	/* the owner's modules' */
};

static const char *const client_caps[] = { CH_NC_BASE10, CH_NC_BASE11 };

static void maybe_free(struct device *d);
static void arm(struct device *d);

/* The reason, copied (a failed copy leaves a static text). */
static void set_reason(struct device *d, const char *why)
{
	char *c = ch_strndup(why, CH_XPORT_WHY_MAX);

	if (c == NULL) {
		d->reason = "closed (out of memory)";
		return;
	}
	free(d->reason_copy);
	d->reason_copy = c;
	d->reason = c;
}

/* ---- the end ---- */

/* Tells the owner once; the rest of the end happens from the loop. */
static void tell_gone(struct device *d, const char *reason)
{
	if (d->gone)
		return;
	d->gone = 1;
	d->ready = 0;
	d->reason = reason ? reason : "closed";
	uv_timer_stop(&d->timer);
	if (!d->authenticated && d->owner.handshake_done)
		d->owner.handshake_done(d->owner.ctx, d);
	ch_clog(d->quiet_close ? CH_LOG_DEBUG : CH_LOG_INFO, &d->log,
		"connection closed: %s", d->reason);
	d->owner.gone(d->owner.ctx, d);
}

void device_close(struct device *d, const char *reason)
{
	if (d->gone)
		return;
	set_reason(d, reason ? reason : "closed");
	tell_gone(d, d->reason);
	ch_xport_close(d->x, d->reason);
}

/* ---- the NETCONF session ---- */


static void nc_hello(void *ctx, const struct ch_hello *peer)
{
	struct device *d = ctx;

	d->ready = d->was_ready = 1;
	ch_xport_deadline(d->x, 0, NULL);
	/* SSH keeps the device alive itself; TLS (OpenSSL 3 has no
	 * heartbeat) through a NETCONF probe */
	if (d->cfg->keepalive_ms &&
	    ch_xport_keepalive(d->x, d->cfg->keepalive_ms,
			       d->cfg->keepalive_count) != CH_OK) {
		d->probe_count = d->cfg->keepalive_count;
		d->rx_seen = ch_xport_rx_bytes(d->x);
		d->probe_at = uv_now(d->cfg->loop) + d->cfg->keepalive_ms;
		arm(d);
	}
	ch_clog(CH_LOG_INFO, &d->log, "NETCONF session up: session-id=%u, %zu "
		"capabilities, %s, over %s", peer->session_id, peer->ncaps,
		ch_ncs_chunked(d->ncs) ? "base:1.1" : "base:1.0",
		ch_xport_name(d->x));
	d->owner.ready(d->owner.ctx, d, peer->ncaps);
	device_touch(d);
}

static int xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether msg's first element is <notification (after an XML
 * declaration, comments or whitespace): the owner's to parse without
 * parsing it as a reply first. Any other message that is not an
 * rpc-reply (a prefixed <n:notification>) goes to the owner too. */
static int looks_like_notification(const char *msg, size_t len)
{
	static const char tag[] = "<notification";
	size_t i = 0;

	while (i < len) {
		while (i < len && xml_space(msg[i]))
			i++;
		if (i + 1 < len && msg[i] == '<' &&
		    (msg[i + 1] == '?' || msg[i + 1] == '!')) {
			const char *e = memchr(msg + i, '>', len - i);

			if (e == NULL)
				return 0;
			i = (size_t)(e - msg) + 1;
			continue;
		}
		break;
	}
	return len - i > sizeof(tag) - 1 &&
	       memcmp(msg + i, tag, sizeof(tag) - 1) == 0 &&
	       (xml_space(msg[i + sizeof(tag) - 1]) ||
		msg[i + sizeof(tag) - 1] == '>');
}

/* Messages that answer no rpc of an operator: the probes' replies
 * (liveness only: counted by the transport, not activity for
 * --idle-close), notifications (the owner's). */
static void nc_other(void *ctx, const char *msg, size_t len)
{
	struct device *d = ctx;
	struct ch_reply rep;

	if (looks_like_notification(msg, len)) {
		if (d->owner.notification)
			d->owner.notification(d->owner.ctx, d, msg, len);
		else
			ch_clog(CH_LOG_DEBUG, &d->log, "ignored a "
				"notification (%zu bytes)", len);
		return;
	}
	if (ch_reply_parse(msg, len, &rep) != CH_OK && d->owner.notification)
		d->owner.notification(d->owner.ctx, d, msg, len);
	else if (rep.message_id &&
		 strncmp(rep.message_id, DEVICE_PROBE_ID_PREFIX,
			 strlen(DEVICE_PROBE_ID_PREFIX)) == 0)
		ch_clog(CH_LOG_DEBUG, &d->log, "keep-alive answered");
	else
		ch_clog(CH_LOG_DEBUG, &d->log, "ignored a message that answers "
			"no rpc (%zu bytes)", len);
	ch_reply_cleanup(&rep);
}

static void nc_ended(void *ctx, const char *why, int graceful)
{
	struct device *d = ctx;

	d->ncs = NULL;
	d->ready = 0;
	/* one NETCONF session per connection: the connection ends too
	 * (when the connection ended first, its down() tells why) */
	if (!d->gone && ch_xport_is_up(d->x))
		device_close(d, graceful ? CLOSE_SESSION_WHY : why);
}

static const struct ch_ncs_ops device_nc_ops = {
	.hello = nc_hello,
	.on_other = nc_other,
	.ended = nc_ended,
};

/* Every interval without a byte from the device, a probe goes out; after
 * count ticks in a row with nothing received the device is declared dead.
 * Any byte counts as an answer (a reply to an operator's rpc as well as to
 * the probe), like the SSH keep-alives. At most one probe is in flight. */
static void probe(struct device *d)
{
	uint64_t rx = ch_xport_rx_bytes(d->x);
	char msg[256];
	int n;

	if (!d->ready || d->ncs == NULL)
		return;
	if (rx != d->rx_seen) {
		d->rx_seen = rx;
		d->probe_unanswered = 0;
		return;
	}
	if (d->probe_unanswered >= d->probe_count) {
		device_close(d, "no answer to keep-alives");
		return;
	}
	if (d->probe_unanswered++ > 0)
		return;		/* the probe sent before is still out */
	n = snprintf(msg, sizeof(msg), "<rpc xmlns=\"%s\" message-id=\""
		     DEVICE_PROBE_ID_PREFIX "%u\"><get><filter type=\"subtree\">"
		     "<probe xmlns=\"" DEVICE_PROBE_NS "\"/></filter></get></rpc>",
		     CH_NC_NS, d->next_probe++);
	ch_clog(CH_LOG_DEBUG, &d->log, "keep-alive probe");
	if (ch_ncs_send(d->ncs, msg, (size_t)n) != CH_OK)
		device_close(d, "cannot send a keep-alive probe");
}

static void idle_check(struct device *d)
{
	if (!d->ready || d->ncs == NULL || ch_ncs_npending(d->ncs) ||
	    ch_xport_nstreams(d->x) > 1 ||	/* a shell or exec */
	    (d->owner.busy && d->owner.busy(d->owner.ctx, d)))
		return;
	/* Polite end for periodic devices (RFC 8071 / RFC 9643 periodic
	 * connection-type): close-session, then the device hangs up. */
	ch_clog(CH_LOG_INFO, &d->log, "idle for %u s with nothing queued: "
		"closing the session", d->idle_close_s);
	if (ch_ncs_close_session(d->ncs, CLOSE_SESSION_WHY) != CH_OK)
		device_close(d, CLOSE_SESSION_WHY);
}

static void on_timer(uv_timer_t *t)
{
	struct device *d = t->data;
	uint64_t now = uv_now(d->cfg->loop);

	if (d->probe_at && now >= d->probe_at) {
		d->probe_at = now + d->cfg->keepalive_ms;
		probe(d);
	}
	if (!d->gone && d->idle_at && now >= d->idle_at) {
		d->idle_at = 0;
		idle_check(d);
	}
	if (!d->gone)
		arm(d);
}

/* Aims the timer at the earlier deadline. */
static void arm(struct device *d)
{
	uint64_t now = uv_now(d->cfg->loop), at = d->probe_at;

	if (d->idle_at && (at == 0 || d->idle_at < at))
		at = d->idle_at;
	if (at == 0)
		uv_timer_stop(&d->timer);
	else
		uv_timer_start(&d->timer, on_timer, at > now ? at - now : 0, 0);
}

void device_touch(struct device *d)
{
	if (d == NULL || !d->ready || d->gone || d->idle_close_s == 0)
		return;
	d->idle_at = uv_now(d->cfg->loop) + 1000ull * d->idle_close_s;
	arm(d);
}

void device_set_idle_close(struct device *d, uint32_t seconds)
{
	d->idle_close_s = seconds;
	if (seconds == 0) {
		d->idle_at = 0;
		if (!d->gone)
			arm(d);
	} else {
		device_touch(d);
	}
}

int device_rpc(struct device *d, const char *op_xml, device_rpc_done done,
	       void *ctx, const char **why)
{
	*why = NULL;
	if (!d->ready || d->ncs == NULL) {
		*why = "the device's NETCONF session is not up";
		return CH_ERR_CLOSED;
	}
	return ch_ncs_rpc(d->ncs, op_xml, done, ctx, NULL, why);
}

int device_open_stream(struct device *d, const struct ch_stream_req *req,
		       const struct ch_stream_cb *cb, void *ctx,
		       struct ch_stream **out, const char **why)
{
	int r;
	int netconf = req->type == CH_STREAM_SUBSYSTEM && req->name &&
		      strcmp(req->name, "netconf") == 0;
	int snmp = req->type == CH_STREAM_SUBSYSTEM && req->name &&
		   strcmp(req->name, "snmp") == 0;

	*out = NULL;
	*why = NULL;
	if (d->tls) {
		*why = req->type == CH_STREAM_DIRECT_TCPIP
		       ? "the device is connected over TLS: no forwarding "
			 "(it needs SSH channels)"
		       : netconf ? "the device is connected over TLS (one "
			 "NETCONF session per connection): another session "
			 "needs an SSH call-home connection"
		       : snmp ? "the device is connected over TLS: no SNMP (it "
			 "needs SSH channels)"
		       : "the device is connected over TLS: no shell";
		return CH_ERR_INVAL;
	}
	if (req->type != CH_STREAM_SHELL && req->type != CH_STREAM_EXEC &&
	    req->type != CH_STREAM_DIRECT_TCPIP && !netconf && !snmp) {
		*why = "only shell, exec, direct-tcpip, netconf and snmp "
		       "streams are opened on a device";
		return CH_ERR_INVAL;
	}
	if (!device_is_ready(d) || d->x == NULL) {
		*why = "the device's session is not up";
		return CH_ERR_CLOSED;
	}
	r = ch_xport_open(d->x, req, cb, ctx, out);
	if (r == CH_ERR_LIMIT)
		*why = "too many streams on this device (at most "
		       CH_STR(CH_HUB_DEVICE_TERMS) " shells and execs, "
		       CH_STR(CH_HUB_DEVICE_FWDS) " forwards, "
		       CH_STR(CH_FD_DEVICE_SESSIONS) " front-door sessions and "
		       CH_STR(CH_AGENT_SNMP_PER_CONN) " snmp channels)";
	else if (r != CH_OK)
		*why = ch_strerror(r);
	else if (req->type == CH_STREAM_SUBSYSTEM)
		ch_clog(CH_LOG_INFO, &d->log, "chan=%u: asking for an snmp "
			"channel", ch_stream_id(*out));
	else if (req->type == CH_STREAM_DIRECT_TCPIP)
		ch_clog(CH_LOG_INFO, &d->log, "chan=%u: asking for a "
			"direct-tcpip channel to %s port %u",
			ch_stream_id(*out), req->name, (unsigned)req->port);
	else if (netconf)
		ch_clog(CH_LOG_INFO, &d->log, "chan=%u: asking for a netconf "
			"channel (front door)", ch_stream_id(*out));
	else
		ch_clog(CH_LOG_INFO, &d->log, "chan=%u: asking for a %s%s",
			ch_stream_id(*out), req->type == CH_STREAM_SHELL
			? "shell" : "exec", req->pty ? " with a pty" : "");
	return r;
}

/* ---- the transport ---- */

/* The registry identities a certificate carries: "serial:S" (or "" when
 * the subject has no serialNumber) and "x509:SHA256:<hex>". CH_OK, or a
 * static text in *why. */
static int cert_ids(X509 *cert, char *serial_id, size_t slen, char *cert_id,
		    size_t clen, const char **why)
{
	char serial[CH_SERIAL_MAX + 1], sha[CH_CERT_SHA256_LEN];
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

/* TLS: the chain verified during the handshake (REQUIRE mode), checked
 * again here as admission rests on it. */
static int identify_tls(struct device *d, const struct ch_peer_id *pid,
			const char **why)
{
	struct ch_tls *t = ch_xport_tls(d->x);
	char serial_id[80], cert_id[CH_FP_LEN], anchor_id[CH_FP_LEN];
	struct device_id id = { .tls = 1 };
	STACK_OF(X509) *sent;

	if (ch_tls_verify_result(t, NULL, NULL) != X509_V_OK ||
	    pid->chain == NULL || sk_X509_num(pid->chain) < 1 ||
	    anchor_of(pid->chain, anchor_id, sizeof(anchor_id)) != CH_OK) {
		*why = "TLS chain not verified";
		if (d->owner.refused)
			d->owner.refused(d->owner.ctx, d, *why);
		return CH_ERR_DENIED;
	}
	if (cert_ids(sk_X509_value(pid->chain, 0), serial_id,
		     sizeof(serial_id), cert_id, sizeof(cert_id), why) != CH_OK) {
		/* An unusable serial number: a pinned certificate may still
		 * admit the device. */
		if (cert_id[0] == '\0') {
			if (d->owner.refused)
				d->owner.refused(d->owner.ctx, d, *why);
			return CH_ERR_DENIED;
		}
		serial_id[0] = '\0';
	}
	sent = ch_tls_peer_chain(t);
	ch_clog(CH_LOG_INFO, &d->log, "TLS handshake done in %.1f ms: %s %s, "
		"chain of %d certificate(s) verified; serial %s, certificate %s",
		(double)t->hs_ns / 1e6, ch_tls_version(t), ch_tls_cipher(t),
		sent ? sk_X509_num(sent) : 0,
		serial_id[0] ? serial_id + strlen(CH_ID_SERIAL_PREFIX)
			     : "(none)", cert_id);
	id.serial_id = serial_id[0] ? serial_id : NULL;
	id.cert_id = cert_id;
	id.anchor_id = anchor_id;
	id.fp = id.serial_id ? id.serial_id : cert_id;
	return d->owner.admit(d->owner.ctx, d, &id, why);
}

/* Identify before authenticating: our credentials go only to a device we
 * know (RFC 8071 C5-C7). */
static int xp_identify(struct ch_xport *x, const struct ch_peer_id *pid,
		       const char **why)
{
	struct device *d = ch_xport_owner(x);
	struct device_id id = { .tls = 0 };

	if (pid->kind == CH_XPORT_TLS)
		return identify_tls(d, pid, why);
	snprintf(d->fp, sizeof(d->fp), "%s", pid->key_fp);
	id.fp = d->fp;
	if (d->announced_fp[0] && strcmp(d->announced_fp, d->fp) != 0) {
		char detail[CH_STORE_TEXT_MAX];

		snprintf(detail, sizeof(detail), "Junos outbound-ssh from %s, "
			 "DEVICE-ID %s: its handshake showed host key %s, not "
			 "the HOST-KEY %s of its preamble", d->peer,
			 d->announced_name, d->fp, d->announced_fp);
		ch_clog_rl(CH_LOG_WARN, &d->log, "refused: %s", detail);
		if (d->owner.refused)
			d->owner.refused(d->owner.ctx, d, detail);
		*why = "host key differs from the HOST-KEY of its outbound-ssh "
		       "preamble";
		return CH_ERR_DENIED;
	}
	if (d->announced_name[0])
		id.name = d->announced_name;
	return d->owner.admit(d->owner.ctx, d, &id, why);
}

static void xp_up(struct ch_xport *x)
{
	struct device *d = ch_xport_owner(x);
	struct ch_stream_req req = { .type = CH_STREAM_SUBSYSTEM,
				     .name = "netconf" };
	struct ch_ncs_opts o = {
		.loop = d->cfg->loop,
		.role = CH_NC_CLIENT,
		.caps = client_caps,
		.ncaps = 2,
		.max_msg = d->cfg->max_message,
		.rpc_timeout_ms = d->cfg->rpc_timeout_ms,
		.max_pending = CH_HUB_MAX_PENDING_RPC,
		.peer_name = "device",
	};

	d->authenticated = 1;
	if (d->owner.handshake_done)
		d->owner.handshake_done(d->owner.ctx, d);
	if (!d->tls)
		ch_clog(CH_LOG_INFO, &d->log, "authenticated to the device as "
			"'%s'", d->cfg->user);
	else
		req.type = CH_STREAM_TLS;
	if (ch_ncs_open(x, &req, &o, &device_nc_ops, d, &d->ncs) != CH_OK)
		device_close(d, "cannot start the NETCONF session");
}

/* Why a TLS handshake failed, in the words docs/tls.md lists. */
static const char *tls_refusal(struct ch_tls *t)
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
	if (strstr(err, "closed") || strstr(err, "reset") || !*err)
		return "device closed the connection during the TLS handshake";
	return "TLS handshake failed";
}

/* A failed TLS handshake: the certificate proves nothing (its key was
 * never shown to be held); it is named in the text only, and the event is
 * filed under no device. */
static void tls_failed(struct device *d)
{
	struct ch_tls *t = ch_xport_tls(d->x);
	char serial_id[80], cert_id[CH_FP_LEN], detail[CH_STORE_TEXT_MAX];
	const char *why = tls_refusal(t), *vreason = NULL, *ign, *id = NULL;

	ch_tls_verify_result(t, NULL, &vreason);
	if (cert_ids(ch_tls_peer_cert(t), serial_id, sizeof(serial_id),
		     cert_id, sizeof(cert_id), &ign) == CH_OK || cert_id[0])
		id = serial_id[0] ? serial_id : cert_id;
	snprintf(detail, sizeof(detail), "%s: %s (from %s%s%s%s)", why,
		 vreason && *vreason ? vreason : ch_tls_error(t), d->peer,
		 id ? ", claiming " : "", id ? id : "",
		 id ? ", unverified" : "");
	ch_clog_rl(CH_LOG_WARN, &d->log, "TLS refused: %s", detail);
	if (d->owner.refused)
		d->owner.refused(d->owner.ctx, d, detail);
	snprintf(detail, sizeof(detail), "%s: %s", why,
		 vreason && *vreason ? vreason : ch_tls_error(t));
	set_reason(d, detail);
	tell_gone(d, d->reason);
}

static void xp_down(struct ch_xport *x, const char *why)
{
	struct device *d = ch_xport_owner(x);

	if (d->gone)
		return;
	if (d->tls && strncmp(why, "TLS handshake failed", 20) == 0) {
		tls_failed(d);
		return;
	}
	set_reason(d, why);
	tell_gone(d, d->reason);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct device *d = h->data;

	d->timer_closed = 1;
	maybe_free(d);
}

static void maybe_free(struct device *d)
{
	if (d->timer_closed && d->xport_closed) {
		free(d->reason_copy);
		free(d);
	}
}

static void xp_closed(struct ch_xport *x)
{
	struct device *d = ch_xport_owner(x);

	d->x = NULL;
	d->xport_closed = 1;
	uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}

static const struct ch_xport_ops device_xport_ops = {
	.identify = xp_identify,
	.up = xp_up,
	.down = xp_down,
	.closed = xp_closed,
};

int device_start(const struct device_config *cfg,
		 const struct device_owner *owner, int fd, int tls,
		 const char *peer, const struct sockaddr *sa, unsigned conn_id,
		 struct device **out)
{
	struct device *d;
	struct ch_xport_opts o = {
		.user = cfg->user,
		.key = cfg->key,
		.tls = cfg->tls,
		/* one NETCONF session, and the operators' shells */
		.max_streams = CH_HUB_DEVICE_STREAMS,
		.peer_name = "device",
		.own_key_name = "the hub's",
	};
	int r;

	*out = NULL;
	if ((tls && cfg->tls == NULL) || (d = calloc(1, sizeof(*d))) == NULL) {
		close(fd);
		return tls ? CH_ERR_INVAL : CH_ERR_NOMEM;
	}
	d->cfg = cfg;
	d->owner = *owner;
	d->tls = tls;
	d->id = conn_id;
	d->next_probe = 1;
	snprintf(d->peer, sizeof(d->peer), "%s", peer);
	memcpy(&d->addr, sa, sa->sa_family == AF_INET6
	       ? sizeof(d->addr.sin6) : sizeof(d->addr.sin));
	d->log.conn = conn_id;
	d->log.peer = d->peer;
	d->log.device = d->fp;
	o.log = &d->log;
	uv_timer_init(cfg->loop, &d->timer);
	d->timer.data = d;
	if (tls) {
		/* The kernel finds a dead peer even while NETCONF is quiet
		 * and before the session is up; the NETCONF probe covers a
		 * peer whose TCP stack answers but whose server is stuck. */
		if (cfg->keepalive_ms)
			ch_tls_tcp_keepalive(fd, cfg->keepalive_ms,
					     cfg->keepalive_count);
		r = ch_xport_tls_start(cfg->loop, fd, &o, &device_xport_ops, d,
				       &d->x);
	} else {
		r = ch_xport_ssh_client_start(cfg->loop, fd, &o,
					      &device_xport_ops, d, &d->x);
	}
	if (r != CH_OK) {	/* fd closed by the start */
		ch_clog_rl(CH_LOG_WARN, &d->log, "cannot start %s: %s",
			   tls ? "TLS" : "SSH", ch_strerror(r));
		d->xport_closed = 1;
		uv_close((uv_handle_t *)&d->timer, on_timer_closed);
		return r;
	}
	ch_xport_deadline(d->x, cfg->handshake_timeout_ms,
			  "handshake did not finish in time");
	ch_clog(CH_LOG_INFO, &d->log, "device called (%s)", tls ? "tls" : "ssh");
	*out = d;
	return CH_OK;
}

/* ---- accessors ---- */

int device_is_tls(const struct device *d)
{
	return d->tls;
}

void device_shorten_handshake(struct device *d, uint32_t ms)
{
	ch_xport_deadline(d->x, ms, "handshake did not finish in time (the "
			  "hub had most of its handshake slots taken)");
}

int device_has_cap(const struct device *d, const char *uri)
{
	const struct ch_hello *h;
	size_t n = strlen(uri);

	if (!d->ready || d->ncs == NULL)
		return 0;
	h = ch_ncs_peer_hello(d->ncs);
	for (size_t i = 0; i < h->ncaps; i++)
		if (strncmp(h->caps[i], uri, n) == 0 &&
		    (h->caps[i][n] == '\0' || h->caps[i][n] == '?'))
			return 1;
	return 0;
}

uint32_t device_session_id(const struct device *d)
{
	const struct ch_hello *h;

	if (!d->ready || d->ncs == NULL)
		return 0;
	h = ch_ncs_peer_hello(d->ncs);
	return h->has_session_id ? h->session_id : 0;
}

json_t *device_caps_json(const struct device *d)
{
	json_t *arr = json_array();
	const struct ch_hello *h;

	if (!d->ready || d->ncs == NULL)
		return arr;
	h = ch_ncs_peer_hello(d->ncs);
	for (size_t i = 0; i < h->ncaps; i++)
		json_array_append_new(arr, json_string(h->caps[i]));
	return arr;
}

void device_set_announced(struct device *d, const char *name,
			  const char *fp)
{
	snprintf(d->announced_name, sizeof(d->announced_name), "%s",
		 name ? name : "");
	snprintf(d->announced_fp, sizeof(d->announced_fp), "%s",
		 fp ? fp : "");
}

void device_set_key(struct device *d, const char *key)
{
	snprintf(d->key, sizeof(d->key), "%s", key);
	d->admitted = 1;
}

void device_set_name(struct device *d, const char *name)
{
	snprintf(d->name, sizeof(d->name), "%s", name ? name : "");
	d->log.name = d->name;
}

void device_set_superseded(struct device *d)
{
	d->superseded = 1;
}

int device_superseded(const struct device *d)
{
	return d->superseded;
}

void device_set_quiet_close(struct device *d)
{
	d->quiet_close = 1;
}

void device_set_presented(struct device *d, const char *id)
{
	snprintf(d->fp, sizeof(d->fp), "%s", id);
}

const char *device_key(const struct device *d) { return d->key; }
const char *device_fingerprint(const struct device *d) { return d->fp; }
const char *device_peer(const struct device *d) { return d->peer; }
unsigned device_conn_id(const struct device *d) { return d->id; }
const struct ch_logctx *device_log(const struct device *d) { return &d->log; }
int device_admitted(const struct device *d) { return d->admitted; }
int device_is_ready(const struct device *d) { return d->ready && !d->gone; }
int device_was_ready(const struct device *d) { return d->was_ready; }
const char *device_close_reason(const struct device *d) { return d->reason; }

const struct sockaddr *device_addr(const struct device *d)
{
	return &d->addr.sa;
}

struct device *device_next(const struct device *d) { return d->next; }
void device_set_next(struct device *d, struct device *next) { d->next = next; }
struct device *device_prev(const struct device *d) { return d->prev; }
void device_set_prev(struct device *d, struct device *prev) { d->prev = prev; }
void *device_slot(const struct device *d, enum device_slot s) { return d->slot[s]; }
void device_set_slot(struct device *d, enum device_slot s, void *p) { d->slot[s] = p; }
