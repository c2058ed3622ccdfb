/* hub.h - callhome-hub internals: configuration, listeners, the live
 * devices, and the operator commands behind the control socket.
 */
#ifndef CH_HUB_H
#define CH_HUB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <uv.h>

#include "hub/control.h"
#include "lib/hostport.h"
#include "lib/sshkey.h"
#include "lib/store.h"

#define HUB_MAX_LISTEN 16
#define HUB_HANDSHAKE_TIMEOUT_MS (30 * 1000) /* accept -> NETCONF hello */
#define HUB_MAX_HANDSHAKES 512	/* concurrent unauthenticated devices */
#define HUB_RPC_TIMEOUT_MS (120 * 1000)	/* an operator's rpc on a device */
#define HUB_MAX_PENDING_RPC 64		/* outstanding rpcs per device */
#define HUB_ACCEPT_BATCH 64		/* accepts per wake-up */
#define HUB_LISTEN_BACKLOG 1024		/* bursts of devices calling at once */
#define HUB_DEFAULT_USER "netconf"

struct hub_listen {
	char *host;		/* NULL: every address (both families) */
	uint16_t port;
};

struct hub_config {
	struct hub_listen listen[HUB_MAX_LISTEN];
	size_t nlisten;
	const char *key_path;
	const char *user;
	const char *state_dir;
	int accept_new;
	uint32_t keepalive_ms;
	uint32_t keepalive_count;
	uint32_t handshake_timeout_ms;
	uint32_t rpc_timeout_ms;
	size_t max_message;		/* one NETCONF message, bytes */
};

struct listener;
struct device;

struct hub {
	uv_loop_t *loop;
	struct hub_config cfg;
	ssh_key key;			/* our client key */
	char key_fp[CH_FP_LEN];
	struct ch_store *store;
	struct hub_ctl *ctl;
	struct listener *listeners;
	struct device *devices;		/* every live connection */
	size_t handshakes;		/* devices not yet authenticated */
	unsigned next_conn_id;
	int stopping;
};

/* hub.c */
int hub_start(struct hub *hub);
/* Closes listeners, devices and the control socket; the loop then runs
 * out of handles and uv_run returns. */
void hub_stop(struct hub *hub);
/* The live, NETCONF-ready device with that fingerprint, or NULL. */
struct device *hub_find_device(struct hub *hub, const char *fp);
/* Admission decision for a verified host key (device.c asks): CH_OK to
 * go on, CH_ERR_DENIED with a static reason. Records the call. */
int hub_admit(struct hub *hub, struct device *d, const char *fp,
	      const char **why);
/* device.c tells the hub about lifecycle changes; a device is already
 * out of hub->devices when hub_device_gone is called. */
void hub_device_ready(struct hub *hub, struct device *d, size_t ncaps);
void hub_device_gone(struct hub *hub, struct device *d);

/* device.c: one accepted call-home connection, the SSH client side. */

/* Takes ownership of fd. The device links itself into hub->devices and
 * unlinks and frees itself when closed. */
int device_start(struct hub *hub, int fd, const char *peer);
/* Closes the connection (idempotent). */
void device_close(struct device *d, const char *reason);
const char *device_fingerprint(const struct device *d);
const char *device_peer(const struct device *d);
unsigned device_conn_id(const struct device *d);
int device_is_ready(const struct device *d);
int device_is_authenticated(const struct device *d);
int device_was_ready(const struct device *d);
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
