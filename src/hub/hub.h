/* hub.h - callhome-hub's core: its configuration and state, the live
 * devices and the event log: what every module above the device sessions
 * shares. Modules, from the bottom: device.h (one connection: transport
 * and NETCONF session), hub.h, admission.h (who may call in), jobs.h (the
 * queue runner), service.h (starts it all and wires devices to admission
 * and jobs), api/api.h (the operator commands); beside them listener.h,
 * blocklist.h, control.h, registry/store.h.
 */
#ifndef CH_HUB_H
#define CH_HUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <uv.h>

#include "lib/core/limits.h"
#include "hub/control.h"
#include "hub/device.h"
#include "hub/junos.h"
#include "lib/net/hostport.h"
#include "lib/core/log.h"
#include "lib/id/sshkey.h"
#include "hub/registry/store.h"
#include "lib/xport/tls.h"

#define HUB_DEFAULT_USER "netconf"

struct hub_listen {
	char *host;		/* NULL: every address (both families) */
	uint16_t port;
};

/* One --snmp-map (snmp.h): the device as named, and the endpoint. */
struct hub_snmp_map {
	const char *device;
	struct sockaddr_storage addr;
	socklen_t len;
};

/* One --snmp-trap-to. */
struct hub_snmp_dest {
	struct sockaddr_storage addr;
	socklen_t len;
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
	const char *control_group;	/* NULL: the socket is the hub user's */
	gid_t control_gid;		/* ... else group-accessible by this */
	int admission;			/* enum hub_admission_policy */
	uint32_t block_after;		/* failures per source; 0 = never */
	uint32_t block_for_s;
	uint32_t max_handshakes;
	unsigned workers;		/* --workers; 0 until parsed: cores */
	uint32_t handshakes_per_addr;	/* 0: no limit (srclimit.h) */
	uint32_t handshakes_per_prefix;
	uint32_t confirm_timeout_s;
	uint32_t confirm_after_s;
	uint32_t idle_close_s;		/* 0 = keep sessions open */
	uint32_t keepalive_ms;
	uint32_t keepalive_count;
	uint32_t handshake_timeout_ms;
	uint32_t rpc_timeout_ms;
	size_t max_message;		/* one NETCONF message, bytes */
	uint32_t term_grace_s;		/* a detached pty session waits */
	struct hub_listen front_door[CH_HUB_MAX_LISTEN]; /* NETCONF clients */
	size_t nfront_door;
	const char *operator_keys;	/* --operator-keys FILE */
	const char *front_door_key;	/* its host key [STATE/...] */
	uint32_t front_door_idle_s;
	int record_input;		/* recordings get the keystrokes */
	int no_device_notifications;	/* devnotif.h: no subscription */
	int no_config_archive;		/* archive.h: nothing fetched */
	struct hub_snmp_map snmp_maps[CH_HUB_SNMP_MAPS];
	size_t nsnmp_maps;
	struct hub_snmp_dest snmp_trap_to[CH_HUB_SNMP_TRAP_TO];
	size_t nsnmp_trap_to;
	const char *junos_secrets;	/* Junos outbound-ssh: DEVICE-ID SECRET */
	int junos_allow_unsigned;	/* ... and DEVICE-IDs without one */
};

struct listener;
struct device;
struct blocklist;
struct job_waiter;
struct job_run;
struct batch_pace;
struct paced_dev;
struct batch_waiter;
struct term;
struct hub_snmp;
struct frontdoor;
struct archive_dev;
struct devnotif_dev;
struct wlink;
struct worker_ops;

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
	struct devindex *index;		/* the admitted ones by key */
	size_t handshakes;		/* devices not yet authenticated */
	struct blocklist *blocklist;
	struct srclimit *srclimit;	/* handshakes per source */
	struct job_waiter *waiters;	/* operators waiting for outcomes */
	struct job_run *runs;		/* jobs running on devices (jobs.c) */
	uv_timer_t job_expiry;		/* at the nearest queued job's expiry */
	struct batch_pace *paces;	/* batches' rates (jobs.c) */
	struct paced_dev *paced;	/* devices waiting for their batch's
					 * next start (jobs.c) */
	uv_timer_t pace_timer;		/* at the first of them */
	struct batch_waiter *batch_waiters;	/* batch --wait (jobs.c) */
	int job_expiry_on;		/* job_expiry initialised, not closed */
	uv_timer_t records_timer;	/* commits the registry's group of
					 * records (hub_records_end) */
	int records_timer_on;		/* initialised, not closed */
	struct device_config devcfg;	/* every device's, from cfg */
	struct term *terms;		/* operators' shells, execs and
					 * forwards (term.c) */
	size_t nterms;			/* shells and execs */
	size_t nfwds;			/* forwards */
	struct frontdoor *frontdoor;	/* NULL without --front-door */
	unsigned next_term_id;
	struct hub_snmp *snmp;		/* SNMP endpoints (snmp.c) */
	char rec_dir[CH_HUB_PATH_MAX];	/* recordings; "" if none */
	unsigned next_conn_id;
	struct junos_door *junos;	/* NULL: Junos preambles not read */
	struct junos_config junos_cfg;
	int worker;			/* this worker's number, from 0 */
	int nworkers;			/* 1: one process, no supervisor */
	struct wlink *wlink;		/* to the supervisor (worker.h) */
	int wlink_fd;			/* ... its socket, until started */
	const struct worker_ops *wops;
	int64_t started;		/* unix seconds: `callhome status` */
	int stopping;
};

/* hub.c */
/* "approve", "trust-new", "known-only": the --admission word of policy
 * (enum hub_admission_policy). */
const char *hub_admission_policy_name(int policy);
/* The registry's clock: unix seconds. */
int64_t hub_now_s(void);
/* The live, NETCONF-ready device whose registry key is fp, or NULL. */
struct device *hub_find_device(struct hub *hub, const char *fp);
/* Around the registry writes of a device's own doing (its call, its
 * session coming and going, their events): they join the store's group
 * commit (registry/store.h, "Group commit"), committed within
 * CH_STORE_GROUP_MS by a timer of the loop. While the hub stops, the
 * timer is closed and the group commits at its bounds and at the store's
 * close. */
void hub_records_begin(struct hub *hub);
void hub_records_end(struct hub *hub);
/* Commits the records now and closes their timer: the hub's stop (the
 * store's close commits them too). */
void hub_records_stop(struct hub *hub);
/* Appends an event to the registry (fp may name no device, or be NULL for
 * a peer that never identified itself). */
void hub_event(struct hub *hub, const char *fp, const char *kind,
	       const char *detail);

/* What a shell, exec or forward adds to its audit record: -1 (NULL) for
 * what does not apply or is not known. */
struct hub_audit_extra {
	const char *recording;		/* the recording's id */
	int64_t exit_status;
	int64_t bytes_in;		/* from the operator */
	int64_t bytes_out;		/* to the operator */
	int64_t duration_ms;
};
#define HUB_AUDIT_EXTRA_NONE { NULL, -1, -1, -1, -1 }

/* Records who (NULL: the hub itself) did action (a word: "approve",
 * "shell-end"; the list is in docs/terminal.md, "Audit") on the device fp
 * (NULL: none or the fleet) with outcome ("ok", "refused", "failed",
 * "lost") in the registry's audit log, and says so in a log line. One
 * INSERT, as an event costs. forward-start and forward-end are the
 * actions of forwarded streams. */
void hub_audit(struct hub *hub, const struct hub_actor *who, const char *fp,
	       const char *action, const char *outcome, const char *detail);
/* hub_audit with a stream's numbers (x may be NULL). */
void hub_audit_x(struct hub *hub, const struct hub_actor *who,
		 const char *fp, const char *action, const char *outcome,
		 const char *detail, const struct hub_audit_extra *x);
/* The live devices: service.c links each at its start and unlinks it when
 * it is gone. */
void hub_link_device(struct hub *hub, struct device *d);
void hub_unlink_device(struct hub *hub, struct device *d);

#endif
