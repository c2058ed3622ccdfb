/* device.h - one accepted call-home connection at the hub: the transport
 * in the client role (SSH on 4334, TLS on 4335: RFC 8071 C3) and the
 * NETCONF client session on it.
 *
 *   HANDSHAKE  SSH key exchange / TLS handshake (chain verified)
 *   IDENTIFY   host key or certificate -> the owner's admit() (C5-C7:
 *              nothing of ours is sent to a device not admitted)
 *   AUTH       SSH: public key authentication with the hub's key
 *   HELLO      a netconf channel (SSH) or the TLS stream; hello exchange
 *   READY      operators' rpcs flow; idle close; keep-alives
 *
 * A device session knows nothing above it: it is given its owner's
 * operations when it is made, and tells the owner what happened through
 * them. The owner keeps the list of live devices (device_next /
 * device_set_next and device_prev / device_set_prev link them).
 */
#ifndef CH_HUB_DEVICE_H
#define CH_HUB_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <uv.h>

#include "lib/core/log.h"

/* NETCONF-level keep-alive (TLS has no heartbeat in OpenSSL 3): a <get>
 * whose subtree filter selects nothing; any reply, even an rpc-error,
 * proves the device alive. Its message-ids start with this prefix. */
#define DEVICE_PROBE_ID_PREFIX "ch-ka-"
#define DEVICE_PROBE_NS "urn:callhome:keepalive"

struct device;
struct ch_tls_ctx;
struct ch_stream;
struct ch_stream_req;
struct ch_stream_cb;

/* What the device presented, for admission. */
struct device_id {
	int tls;
	const char *fp;		/* SSH: "SHA256:..." of the host key */
	const char *serial_id;	/* TLS: "serial:S", or NULL */
	const char *cert_id;	/* TLS: "x509:SHA256:..." of its certificate */
	const char *anchor_id;	/* TLS: the same of its trust anchor */
	const char *name;	/* a name it offered for enrollment, or NULL
				 * (Junos outbound-ssh: its DEVICE-ID) */
};

struct device_owner {
	/* Admission (C5-C7): CH_OK lets the device go on; otherwise *why
	 * (static text) is the refusal. */
	int (*admit)(void *ctx, struct device *d, const struct device_id *id,
		     const char **why);
	/* A TLS handshake refused: detail names why and what the device
	 * claimed (unverified). NULL: not told. */
	void (*refused)(void *ctx, struct device *d, const char *detail);
	/* The handshake is over (authenticated, or ended). */
	void (*handshake_done)(void *ctx, struct device *d);
	/* The NETCONF session is up. */
	void (*ready)(void *ctx, struct device *d, size_t ncaps);
	/* A <notification> (RFC 5277) from the device (the whole message,
	 * borrowed for the call; not yet parsed). NULL: dropped. */
	void (*notification)(void *ctx, struct device *d, const char *msg,
			     size_t len);
	/* 1 while the owner has work on the device (a job between rpcs):
	 * then it is not idle. NULL: never. */
	int (*busy)(void *ctx, const struct device *d);
	/* The connection ended (device_close_reason says why); the last
	 * call, once: inside device_close, or from the loop when the
	 * transport ended by itself. The device is freed later, from the
	 * loop: the owner unlinks it now and forgets it. */
	void (*gone)(void *ctx, struct device *d);
	void *ctx;
};

struct device_config {			/* borrowed for the device's life:
					 * the owner keeps one for all */
	uv_loop_t *loop;
	const char *user;		/* SSH user name */
	ssh_key key;			/* the hub's key (SSH) */
	struct ch_tls_ctx *tls;		/* the hub's TLS client context */
	uint32_t handshake_timeout_ms;	/* accept -> NETCONF hello */
	uint32_t rpc_timeout_ms;
	uint32_t keepalive_ms;		/* 0: none */
	uint32_t keepalive_count;
	uint32_t idle_close_s;		/* 0: keep sessions open */
	size_t max_message;
};

/* Takes ownership of fd (closed on error too): a device calling over SSH
 * (tls 0) or TLS (tls 1; cfg->tls must be set); cfg is borrowed until the
 * device is freed (after gone(), from the loop). conn_id numbers it in
 * logs. The device is live at once: the owner's gone() will come. */
int device_start(const struct device_config *cfg,
		 const struct device_owner *owner, int fd, int tls,
		 const char *peer, const struct sockaddr *sa, unsigned conn_id,
		 struct device **out);
/* What an SSH device announced before its handshake (Junos outbound-ssh,
 * hub/junos.h): name, offered for enrollment (NULL: none), and fp, the
 * "SHA256:..." of the host key it said it would show (NULL: none); a
 * handshake that shows another key is refused (the owner's refused() is
 * told). Called right after device_start. */
void device_set_announced(struct device *d, const char *name,
			  const char *fp);
/* Closes the connection (idempotent). The owner's gone() is called at
 * once, inside this call (the device is out of the owner's list when it
 * returns); the transport ends from the loop and the device is freed
 * after. */
void device_close(struct device *d, const char *reason);

/* Sends one operation (op_xml: the element(s) inside <rpc>) to a ready
 * device. CH_OK: done() is called exactly once, later, with the reply (a
 * whole <rpc-reply>) or CH_ERR_CLOSED and why. Otherwise done() is never
 * called and *why says what was wrong. */
typedef void (*device_rpc_done)(void *ctx, int r, const char *reply,
				size_t len, const char *error);
int device_rpc(struct device *d, const char *op_xml, device_rpc_done done,
	       void *ctx, const char **why);

/* Opens a shell, exec, direct-tcpip, netconf or snmp subsystem stream
 * (req: CH_STREAM_SHELL, CH_STREAM_EXEC, CH_STREAM_DIRECT_TCPIP, or
 * CH_STREAM_SUBSYSTEM named "netconf" for the front door or "snmp";
 * copied) next to the NETCONF session of a ready SSH device, at most
 * CH_HUB_DEVICE_STREAMS channels with it. CH_OK: *out is valid until its closed(),
 * and cb->opened() says whether the device took it. Otherwise *why says
 * why not: CH_ERR_CLOSED (not ready), CH_ERR_INVAL (a TLS device, or
 * another type), CH_ERR_LIMIT (the cap), CH_ERR_NOMEM. While any is
 * open the device is not idle (--idle-close). */
int device_open_stream(struct device *d, const struct ch_stream_req *req,
		       const struct ch_stream_cb *cb, void *ctx,
		       struct ch_stream **out, const char **why);

/* Restarts the idle timer (--idle-close): called on activity. */
void device_touch(struct device *d);
/* Idle-close time for this device (0: never); restarts its idle timer. */
void device_set_idle_close(struct device *d, uint32_t seconds);
/* 1 if the device's hello listed a capability starting with uri (the
 * part before any '?'). */
int device_has_cap(const struct device *d, const char *uri);
/* The session-id of the device's hello: our NETCONF session's (0 when
 * not up). */
uint32_t device_session_id(const struct device *d);
/* The capabilities of the device's hello, as a JSON array (new ref). */
json_t *device_caps_json(const struct device *d);

/* The registry key of the device (its first identity), set at admission;
 * it differs from the presented one for an alias key. */
void device_set_key(struct device *d, const char *key);
const char *device_key(const struct device *d);
/* Its registry name ("" or NULL: none), shown in its log lines. */
void device_set_name(struct device *d, const char *name);
/* Its end is logged at debug level only: a refusal already told (a
 * pending or revoked device's repeated calls). */
void device_set_quiet_close(struct device *d);
/* A newer session of the same device is up (on another worker of the
 * hub): this one's end does not make the device disconnected. */
void device_set_superseded(struct device *d);
int device_superseded(const struct device *d);
/* What it presented (host key fingerprint, serial or certificate). */
void device_set_presented(struct device *d, const char *id);
const char *device_fingerprint(const struct device *d);
const char *device_peer(const struct device *d);
const struct sockaddr *device_addr(const struct device *d);
unsigned device_conn_id(const struct device *d);
const struct ch_logctx *device_log(const struct device *d);
int device_admitted(const struct device *d);
int device_is_tls(const struct device *d);	/* 1: TLS call home (4335) */
/* The handshake must end within ms from now (the hub is under pressure:
 * a slow or silent peer gives its slot back sooner). */
void device_shorten_handshake(struct device *d, uint32_t ms);
int device_is_ready(const struct device *d);
int device_was_ready(const struct device *d);
const char *device_close_reason(const struct device *d);

/* The owner's list of live devices. */
struct device *device_next(const struct device *d);
void device_set_next(struct device *d, struct device *next);
struct device *device_prev(const struct device *d);
/* What the owner's modules keep per device, one pointer each (found with
 * the device, whatever the fleet's size); NULL until set. The device
 * never reads them. */
enum device_slot { DEVICE_SLOT_NOTIF, DEVICE_SLOT_ARCHIVE, DEVICE_SLOTS };
void *device_slot(const struct device *d, enum device_slot s);
void device_set_slot(struct device *d, enum device_slot s, void *p);
void device_set_prev(struct device *d, struct device *prev);

#endif
