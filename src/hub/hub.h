/* hub.h - callhome-hub's core: its configuration and state, starting and
 * stopping it, the live devices, and what a device session (device.c,
 * tlsdev.c) needs from the hub and gives it. The other modules have their
 * own headers: listener.h, admission.h, jobs.h, api/api.h (the operator
 * commands), blocklist.h, control.h, registry/store.h.
 */
#ifndef CH_HUB_H
#define CH_HUB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <uv.h>

#include "lib/core/limits.h"
#include "hub/control.h"
#include "lib/net/hostport.h"
#include "lib/core/log.h"
#include "lib/id/sshkey.h"
#include "hub/registry/store.h"
#include "lib/xport/tls.h"

#define HUB_DEFAULT_USER "netconf"
/* Limits: lib/core/limits.h (CH_HUB_*). The old names below are kept
 * only for hub.c, device.c and tlsdev.c until they switch. */
#define HUB_MAX_PENDING_RPC CH_HUB_MAX_PENDING_RPC
#define HUB_ACCEPT_BATCH CH_HUB_ACCEPT_BATCH
#define HUB_LISTEN_BACKLOG CH_HUB_LISTEN_BACKLOG
#define HUB_READ_CHUNK CH_HUB_READ_CHUNK
/* NETCONF-level keep-alive (TLS has no heartbeat in OpenSSL 3): a <get>
 * whose subtree filter selects nothing; any reply, even an rpc-error,
 * proves the device alive. Its message-ids start with this prefix. */
#define HUB_PROBE_ID_PREFIX "ch-ka-"
#define HUB_PROBE_NS "urn:callhome:keepalive"

struct hub_listen {
	char *host;		/* NULL: every address (both families) */
	uint16_t port;
};

struct hub_config {
	struct hub_listen listen[CH_HUB_MAX_LISTEN];
	size_t nlisten;
	struct hub_listen listen_tls[CH_HUB_MAX_LISTEN];	/* RFC 8071 4335 */
	size_t nlisten_tls;
	const char *tls_cert;		/* the hub's TLS client certificate */
	const char *tls_key;
	const char *tls_chain;		/* its intermediates, or NULL */
	const char *trust_anchors[CH_TLS_MAX_FILES];	/* manufacturers' CAs */
	size_t ntrust_anchors;
	const char *crls[CH_TLS_MAX_FILES];
	size_t ncrls;
	const char *key_path;
	const char *user;
	const char *state_dir;
	int admission;			/* enum hub_admission_policy */
	uint32_t block_after;		/* failures per source; 0 = never */
	uint32_t block_for_s;
	uint32_t max_handshakes;
	uint32_t confirm_timeout_s;
	uint32_t confirm_after_s;
	uint32_t idle_close_s;		/* 0 = keep sessions open */
	uint32_t keepalive_ms;
	uint32_t keepalive_count;
	uint32_t handshake_timeout_ms;
	uint32_t rpc_timeout_ms;
	size_t max_message;		/* one NETCONF message, bytes */
};

struct listener;
struct device;
struct blocklist;
struct job_waiter;

enum hub_admission_policy {
	HUB_ADMIT_APPROVE = 0,	/* unknown: recorded pending, refused */
	HUB_ADMIT_TRUST_NEW,	/* unknown: admitted at first call */
	HUB_ADMIT_KNOWN_ONLY,	/* unknown: refused, only an event recorded */
};

struct hub {
	uv_loop_t *loop;
	struct hub_config cfg;
	ssh_key key;			/* our client key */
	char key_fp[CH_FP_LEN];
	struct ch_store *store;
	struct ch_tls_ctx *tls_ctx;	/* NULL without --listen-tls */
	struct hub_ctl *ctl;
	struct listener *listeners;
	struct device *devices;		/* every live connection */
	size_t handshakes;		/* devices not yet authenticated */
	struct blocklist *blocklist;
	struct job_waiter *waiters;	/* operators waiting for outcomes */
	unsigned next_conn_id;
	int stopping;
};

/* hub.c */
/* Opens the listeners and the control socket, whose commands are api's
 * (api_ops in api/api.h: the API sits above the hub, which never calls
 * it by name). Borrows api until hub_stop. */
int hub_start(struct hub *hub, const struct hub_ctl_ops *api);
/* Closes listeners, the control socket (api->stop first) and devices; the
 * loop then runs out of handles and uv_run returns. */
void hub_stop(struct hub *hub);
/* The registry's clock: unix seconds. */
int64_t hub_now_s(void);
/* The live, NETCONF-ready device whose registry key is fp, or NULL. */
struct device *hub_find_device(struct hub *hub, const char *fp);
/* Appends an event to the registry (fp may name no device, or be NULL for
 * a peer that never identified itself). */
void hub_event(struct hub *hub, const char *fp, const char *kind,
	       const char *detail);

/* admission.c: what a device session asks of its owner. (Declared here,
 * where device.c and tlsdev.c look, until a session is given its owner's
 * operations when it is made.) */

/* Admission decision for a verified host key (device.c asks): CH_OK to
 * go on, CH_ERR_DENIED with a static reason. Records the call. */
int hub_admit(struct hub *hub, struct device *d, const char *fp,
	      const char **why);
/* The same for a TLS device whose chain validated (RFC 8071 C5-C7):
 * cert_id is "x509:SHA256:<hex>" of its certificate, serial_id
 * "serial:<S>" of its subject's serialNumber or NULL, anchor_id the same
 * form for the trust anchor its chain led to. A pinned certificate is
 * looked up first, then the serial. A device is bound to the anchor of
 * its first admitted call and refused under any other (a serial number
 * is unique only per manufacturer). Also records the certificate, and a
 * rotation as an event. *why may be a buffer of d. */
int hub_admit_tls(struct hub *hub, struct device *d, const char *serial_id,
		  const char *cert_id, const char *anchor_id,
		  const char **why);
/* device.c tells the hub about lifecycle changes; a device is already
 * out of hub->devices when hub_device_gone is called. */
void hub_device_ready(struct hub *hub, struct device *d, size_t ncaps);
void hub_device_gone(struct hub *hub, struct device *d);

/* device.c: one accepted call-home connection: the NETCONF client
 * session, whatever carries it, and the SSH transport. tlsdev.c: the TLS
 * transport. */

/* What a device needs from the transport under its NETCONF session. */
struct device_transport {
	const char *name;		/* "ssh", "tls": for logs */
	/* Queues bytes for the device; non-zero when the transport is gone
	 * or over its output limit. */
	int (*send)(struct device *d, const char *data, size_t len);
	/* The current stage must end within ms (0 cancels). */
	void (*deadline)(struct device *d, uint64_t ms, const char *why);
	/* Transport keep-alives from NETCONF hello on; NULL: the device
	 * probes at the NETCONF level (HUB_PROBE_*). */
	void (*keepalive)(struct device *d, uint32_t interval_ms,
			  uint32_t count);
	/* Ends the transport and closes the fd; device_transport_closed(d)
	 * must follow from the loop, once its handles are closed. */
	void (*close)(struct device *d);
	/* Frees the transport's state, after everything is closed. */
	void (*free)(struct device *d);
};

/* Takes ownership of fd: the SSH transport (port 4334). The device links
 * itself into hub->devices and unlinks and frees itself when closed. */
int device_start(struct hub *hub, int fd, const char *peer,
		 const struct sockaddr *sa);
/* The same over TLS (port 4335), in tlsdev.c. */
int tlsdev_start(struct hub *hub, int fd, const char *peer,
		 const struct sockaddr *sa);

/* For transports: a new device (NULL: out of memory). tr and tdata are
 * borrowed until tr->free. Not yet live: device_attach makes it live,
 * device_discard frees one that never was. */
struct device *device_alloc(struct hub *hub, const char *peer,
			    const struct sockaddr *sa,
			    const struct device_transport *tr, void *tdata);
void device_attach(struct device *d);
void device_discard(struct device *d);
void *device_tdata(const struct device *d);
struct hub *device_hub(const struct device *d);
/* The identity the device presented (log lines, identity removal). */
void device_set_presented(struct device *d, const char *id);
/* Identified and admitted: the transport starts the NETCONF session (our
 * hello goes out). Non-zero: the device was closed. */
int device_nc_start(struct device *d);
/* Bytes the transport received, for the NETCONF session. Non-zero: the
 * device was closed (or closes itself politely). */
int device_input(struct device *d, const char *data, size_t len);
/* The transport's handles are all closed (after tr->close). */
void device_transport_closed(struct device *d);
/* Stores reason in the device and closes with it: for texts built at run
 * time. */
void device_close_with(struct device *d, const char *what,
		       const char *detail);
/* A log line about the device, prefixed "conn=N peer=A device=ID". */
void device_logf(const struct device *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define device_log(lvl, d, ...) do { \
	if ((lvl) <= ch_log_threshold) \
		device_logf((d), (lvl), __VA_ARGS__); \
} while (0)
/* The address the device called from (for the blocklist). */
const struct sockaddr *device_addr(const struct device *d);
/* 1 once hub_admit let it in (the blocklist counts failures before). */
int device_admitted(const struct device *d);
/* Closes the connection (idempotent). */
void device_close(struct device *d, const char *reason);
const char *device_fingerprint(const struct device *d);
const char *device_peer(const struct device *d);
unsigned device_conn_id(const struct device *d);
int device_is_ready(const struct device *d);
int device_is_authenticated(const struct device *d);
int device_was_ready(const struct device *d);
/* The registry key of the device (its first fingerprint), which differs
 * from the presented one when the device uses an alias key. */
const char *device_key(const struct device *d);
void device_set_key(struct device *d, const char *key_fp);
/* Idle-close time for this device (0: never); restarts its idle timer. */
void device_set_idle_close(struct device *d, uint32_t seconds);
/* 1 if the device's hello listed a capability starting with uri (the
 * part before any '?'). */
int device_has_cap(const struct device *d, const char *uri);
/* The capabilities of the device's hello, as a JSON array (new ref). */
json_t *device_caps_json(const struct device *d);
/* The job runner's state for this device (NULL when idle). */
void *device_job(const struct device *d);
void device_set_job(struct device *d, void *job);
/* Restarts the idle timer (--idle-close): called on activity. */
void device_touch(struct device *d);
const char *device_close_reason(const struct device *d);
struct device *device_next(const struct device *d);

/* Sends one operation (op_xml: the element(s) inside <rpc>) to a ready
 * device. done() is called exactly once, later or before this returns
 * non-zero never: on CH_OK it will be called with the reply (a whole
 * <rpc-reply> document) or with an error text. A non-zero return means
 * done() will not be called; *why says what was wrong. */
typedef void (*device_rpc_done)(void *ctx, int r, const char *reply,
				size_t len, const char *error);
int device_rpc(struct device *d, const char *op_xml, device_rpc_done done,
	       void *ctx, const char **why);

#endif
