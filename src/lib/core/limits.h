/* limits.h - every port, size cap and wait of callhome, in one place
 * (style F3).
 *
 * Each limit says its unit and why it is what it is. Option parsers,
 * --help texts and docs/operations.md take their numbers from here, so a
 * default cannot drift from its documentation. A limit that a help text
 * quotes is a plain number (CH_STR makes text of it); its byte or second
 * form is derived from it.
 *
 * Not here: the widths of fixed text fields (fingerprints, addresses,
 * error texts: CH_FP_LEN, CH_ADDRSTR_LEN, CH_TLS_ERR_LEN, ...), which live
 * beside the struct that holds them, and protocol constants fixed by an
 * RFC (CH_FRAME_CHUNK_SIZE_MAX).
 *
 * Core layer: this header includes nothing.
 */
#ifndef CH_LIMITS_H
#define CH_LIMITS_H

/* Text of a limit for a help string: CH_STR(CH_NAME_MAX) is "64". */
#define CH_STR_(x) #x
#define CH_STR(x) CH_STR_(x)

#define CH_DAY_S 86400		/* s in a day, for the limits below */

/* ---- ports (IANA) ---- */
#define CH_PORT_SSH 4334	/* RFC 8071: netconf-ch-ssh, the hub listens */
#define CH_PORT_TLS 4335	/* RFC 8071: netconf-ch-tls, the hub listens */
#define CH_PORT_SNMP_TRAP 162	/* RFC 3417: snmptrap, a trap receiver's default */
#define CH_PORT_NETCONF_SSH 830	/* RFC 6242: netconf-ssh, for a listening agent */

/* ---- NETCONF messages and XML (lib/nc) ---- */
#define CH_FRAME_MAX_MSG_DEFAULT (16u * 1024 * 1024) /* B, one message; --max-message default */
#define CH_MAX_MESSAGE_MIN 4096	/* B, smallest --max-message: a hello must fit */
#define CH_MAX_MESSAGE_MAX (1u << 30) /* B, largest --max-message; also the largest message we send */
#define CH_FRAME_FEED_SLACK (256u * 1024) /* B, undecoded input past max_msg: one read after a message */
#define CH_XML_MAX_DEPTH 128	/* elements nested: libxml2 recursion stays shallow */
#define CH_XML_MAX_SIZE (64u * 1024 * 1024) /* B, one document ch_xml_parse takes */
#define CH_HELLO_MAX_CAPS 4096	/* capabilities in one hello */
#define CH_HELLO_MAX_CAP_LEN 4096 /* B, one capability URI */
#define CH_NC_HELLO_TIMEOUT_MS (30 * 1000) /* ms, a session's hello is due (owners' timers) */
#define CH_NOTIF_MAX CH_XML_MAX_SIZE /* B, one notification's content: a filter must parse it */

/* ---- transports (lib/xport: sshio.h, tls.h) ---- */
#define CH_SSH_KEEPALIVE_MS (30 * 1000)	/* ms, RFC 9644 keepalives max-wait */
#define CH_SSH_KEEPALIVE_COUNT 3	/* ... and max-attempts */
#define CH_SSH_DRAIN_CHUNK 4096	/* B, read away before closing a refused peer's fd */
#define CH_SSH_DRAIN_READS 16	/* ... at most this many: a chatty peer gets its reset */
#define CH_CHANOUT_MAX (64u * 1024 * 1024) /* B, unsent per SSH channel: a peer that does not read */
#define CH_TLS_OUT_MAX (64u * 1024 * 1024) /* B, queued and unsent on one TLS session: the same */
#define CH_TLS_HANDSHAKE_TIMEOUT_MS (30 * 1000) /* ms, default stage deadline */
#define CH_TLS_VERIFY_DEPTH 8		/* intermediates between leaf and anchor */
#define CH_TLS_MAX_FILES 16		/* CA or CRL files in one context */
#define CH_TLS_KEEPALIVE_MIN_MS 1000	/* ms, TCP keep-alive granularity */

/* ---- streams on a connection (lib/xport/xport.h, lib/nc/session.h) ---- */
#define CH_STREAM_OUT_MAX (64u * 1024 * 1024) /* B, unsent bytes per stream: a peer that stops reading one channel holds this much at most */
#define CH_STREAM_READ_CHUNK (64u * 1024) /* B, one delivery of a stream's data */
#define CH_STREAM_HELD_MAX (8u * 1024 * 1024) /* B, a paused SSH channel's data taken out of libssh at once: a window and what the peer sent past it; more ends the channel */
#define CH_STREAM_CLOSE_FLUSH_MS (5 * 1000) /* ms, a polite close of a TLS or fd stream waits this long for its queue */
#define CH_STREAM_WHY_MAX 256	/* B, how a stream ended, as told to its owner */
#define CH_XPORT_WHY_MAX 256	/* B, how a connection ended */
#define CH_SSHIO_POLL_ERRORS_MAX 3 /* wake-ups in a row with a socket error libssh does not see: then the connection ends */
#define CH_STREAM_ENV_MAX 32	/* env requests kept per session channel (RFC 4254 6.4): more are refused */
#define CH_STREAM_ENV_LEN 1024	/* B, one "NAME=VALUE" of an env request: longer is refused */
#define CH_STREAM_SIGNAL_NAME_MAX 32 /* B, a signal's name in a signal or exit-signal request */
#define CH_STREAM_EXIT_MSG_MAX 256 /* B, an exit-signal's error message */
#define CH_XPORT_MAX_STREAMS 64	/* channels per connection, unless the owner says */
#define CH_XPORT_MAX_AUTH_TRIES 6 /* keys an SSH client may offer, as OpenSSH's MaxAuthTries */
#define CH_NCS_MAX_PENDING 64	/* rpcs a NETCONF client keeps outstanding, unless the owner says */
#define CH_NCS_CLOSE_WAIT_MS (5 * 1000) /* ms, our <close-session> must be answered in this */

/* ---- files, keys, certificates (lib/core, lib/id, lib/net) ---- */
#define CH_FILE_MAX (256u * 1024 * 1024) /* B, largest file ch_file_read takes */
#define CH_KEY_FILE_MAX (64u * 1024) /* B, a private key file: OpenSSH's are < 4 kB */
#define CH_AUTHKEYS_MAX 1024	/* keys in one authorized_keys file */
#define CH_AUTHKEYS_MAX_LINE 16384 /* B, one authorized_keys line (RSA-16384 fits) */
#define CH_SERIAL_MAX 64	/* chars, X520 serialNumber: ub-serial-number (RFC 5280 A.1) */
#define CH_CTN_RULES_MAX 64	/* cert-to-name rules in one list */
#define CH_CTN_RULE_TEXT_MAX 1024 /* B, one cert-to-name rule on a command line */
#define CH_HOST_MAX 253		/* chars, longest DNS name in text form */
#define CH_CONF_FILE_MAX (1024u * 1024) /* B, a daemon's configuration file: a few hundred lines are a few kB */
#define CH_CONF_LINE_MAX 4096	/* B, one line of it: a path or a rule fits */
#define CH_CONF_MAX_LINES 4096	/* key lines in it: far more than options exist, even repeated */

/* ---- logging (lib/core/log.h) ---- */
#define CH_LOG_LINE_MAX 2048	/* B, one log line; longer is cut */
#define CH_LOG_BURST 20		/* lines per window from one flood-prone call site */
#define CH_LOG_BURST_WINDOW_MS (10 * 1000) /* ms, the rate limiter's window */

/* ---- idle close: the hub, its control API and the CLI agree ---- */
#define CH_IDLE_CLOSE_MAX_DAYS 7 /* d, longest --idle-close / idle_close: a week */
#define CH_IDLE_CLOSE_MAX_S (CH_IDLE_CLOSE_MAX_DAYS * CH_DAY_S) /* s, the same */

/* ---- the agent (callhomed) ---- */
#define CH_AGENT_AUTH_TIMEOUT_MS (30 * 1000) /* ms, RFC 8071 S5: the manager must authenticate */
#define CH_AGENT_CONNECT_TIMEOUT_MS (5 * 1000) /* ms, per address; RFC 9643 max-wait */
#define CH_AGENT_STAGE_TIMEOUT_MAX_S 3600 /* s, largest --auth/connect/hello/on-commit-timeout: an hour */
#define CH_AGENT_BACKOFF_BASE_MS 1000 /* ms, first reconnect delay ceiling */
#define CH_AGENT_BACKOFF_MAX_MS (5 * 60 * 1000) /* ms, largest reconnect delay ceiling */
#define CH_AGENT_BACKOFF_BASE_LIMIT_MS (3600 * 1000) /* ms, largest --backoff-base: an hour */
#define CH_AGENT_BACKOFF_MAX_LIMIT_MS (CH_DAY_S * 1000) /* ms, largest --backoff-max: a day */
#define CH_AGENT_KEEPALIVE_MAX_S 65535 /* s, --keepalive: the module's max-wait is uint16 */
#define CH_AGENT_KEEPALIVE_COUNT_MAX 255 /* --keepalive-count: max-attempts is uint8 */
#define CH_AGENT_MAX_ATTEMPTS_MAX 255 /* --max-attempts: reconnect-strategy uint8 */
#define CH_AGENT_MAX_CHANNELS 8	/* NETCONF sessions on one connection */
#define CH_AGENT_RETRY_DELAY_MS 1000 /* ms, between attempts on one endpoint: a refused connect must not spin */
#define CH_AGENT_STABLE_SESSION_MS (2 * 1000) /* ms, shorter twice in a row: back off (accept-and-drop managers) */
#define CH_AGENT_RECONFIG_DELAY_MS 200 /* ms, apply call-home changes after the commit's reply left */
#define CH_AGENT_MINUTE_MS (60 * 1000) /* ms, one period minute; largest --minute-ms */
#define CH_AGENT_LAST_MAX (64u * 1024) /* B, the last-connected file */
#define CH_AGENT_RUNNING_MAX (64u * 1024 * 1024) /* B, the running configuration as text */
#define CH_AGENT_REPLY_MAX (CH_AGENT_RUNNING_MAX + CH_FRAME_MAX_MSG_DEFAULT) /* B, one rpc-reply: running and state, and the <rpc>'s attributes it repeats; over it: too-big */
#define CH_AGENT_EVENT_NOTIF_MAX 4096 /* B, one of the agent's own notifications: a client's name and a reason, escaped */
#define CH_AGENT_NOTIF_LOG_MAX 1000 /* notifications kept for replay */
#define CH_AGENT_NOTIF_LOG_BYTES (1024u * 1024) /* B, ... and their bytes */
#define CH_AGENT_ON_COMMIT_TIMEOUT_MS (30 * 1000) /* ms, --on-commit PROG is killed after */
#define CH_AGENT_ON_COMMIT_MSG_MAX 1024 /* B, PROG's stderr in the rpc-error */
#define CH_AGENT_DEFERRED_MAX 64 /* rpcs queued behind a deferred reply */
#define CH_AGENT_ONCOMMIT_POLL_MS 20 /* ms, polling PROG's exit on a rollback (the loop is held) */

/* Terminal access (agent/shell.c, docs/terminal.md). */
#define CH_AGENT_MAX_SHELLS 16	/* shell and exec processes at once, per agent */
#define CH_AGENT_SHELL_KILL_GRACE_MS (2 * 1000) /* ms, SIGHUP to SIGKILL of a closed channel's processes */
#define CH_AGENT_SHELL_DRAIN_MS 1000 /* ms, output read after the command exited (a background child may hold it open) */
#define CH_AGENT_SHELL_OUT_HIGH (256u * 1024) /* B, channel output queued before the process's output is left unread */
#define CH_AGENT_SHELL_IN_MAX (4u * 1024 * 1024) /* B, manager input waiting for a full stdin: one delivery (an SSH window) */
#define CH_AGENT_SHELL_READ_CHUNK (64u * 1024) /* B, one read of the process's output */
#define CH_AGENT_SHELL_MAX_GROUPS 65536 /* supplementary groups of the account: the kernel's NGROUPS_MAX */
#define CH_AGENT_SHELL_PW_BUF (64u * 1024) /* B, getpwnam_r's buffer for one account */

/* Forwarding: direct-tcpip channels served (agent/forward.c,
 * docs/remote-access.md). */
#define CH_AGENT_FWD_MAX_RULES 64 /* --forward-allow flags */
#define CH_AGENT_FWD_MAX 64	/* forwarded streams at once, per agent */
#define CH_AGENT_FWD_PER_CONN 6	/* ... per connection (within its CH_AGENT_MAX_CHANNELS + CH_AGENT_FWD_PER_CONN streams) */
#define CH_AGENT_FWD_RESOLVE_MS (5 * 1000) /* ms, resolving a destination name on the device */
#define CH_AGENT_FWD_CONNECT_MS (10 * 1000) /* ms, the TCP connect to the destination */
#define CH_AGENT_FWD_IDLE_MS (15 * 60 * 1000) /* ms, a forwarded stream with no byte either way is closed */
#define CH_AGENT_FWD_MAX_ADDRS 16 /* resolved addresses checked (all must pass) */
#define CH_AGENT_FWD_OUT_HIGH (256u * 1024) /* B, queued towards one side before the other side is left unread */
#define CH_AGENT_FWD_READ_CHUNK (64u * 1024) /* B, one read of the destination socket */

/* The call-home configuration (chconfig; YANG defaults of RFC 9643/9644). */
#define CH_CHC_MAX_CLIENTS 16	/* netconf-client entries */
#define CH_CHC_MAX_ENDPOINTS 32	/* endpoints per client; also --call-home flags */
#define CH_CHC_MAX_CTN 32	/* cert-to-name rules per endpoint; also --cert-to-name flags */
#define CH_CHC_XML_MAX (1024u * 1024) /* B, the configuration the flags make */
#define CH_CHC_TCP_IDLE_S 7200	/* s, tcp-keepalives idle-time default */
#define CH_CHC_TCP_PROBES 9	/* tcp-keepalives max-probes default */
#define CH_CHC_TCP_INTERVAL_S 75 /* s, tcp-keepalives probe-interval default */
#define CH_CHC_KA_MAX_WAIT_S 30	/* s, ssh/tls keepalives max-wait default */
#define CH_CHC_KA_MAX_ATTEMPTS 3 /* keepalives max-attempts default */
#define CH_CHC_PERIOD_MIN 60	/* min, periodic-connection period default */
#define CH_CHC_PERIOD_MAX_MIN 65535 /* min, largest --period: the leaf is uint16 */
#define CH_CHC_IDLE_TIMEOUT_S 180 /* s, periodic idle-timeout default */
#define CH_CHC_IDLE_TIMEOUT_MAX_S 65535 /* s, largest --idle-timeout: the leaf is uint16 */
#define CH_CHC_RS_MAX_WAIT_S 5	/* s, reconnect-strategy max-wait default */
#define CH_CHC_RS_MAX_ATTEMPTS 3 /* reconnect-strategy max-attempts default */

/* The border (agent/border, agent/borderwatch): interior or exterior
 * per interface, from the kernel's links, addresses and routes. */
#define CH_BORDER_HOLDDOWN_S 5	/* s, a change to interior waits this (hnetd's 5 s); --border-holddown default */
#define CH_BORDER_HOLDDOWN_MAX_S 3600 /* s, largest --border-holddown: an hour */
#define CH_BORDER_MAX_PATTERNS 32 /* --interior and --exterior flags, each */
#define CH_BORDER_MAX_LINKS 1024 /* interfaces followed; more are ignored (and not interior) */
#define CH_BORDER_MAX_ADDRS 4096 /* addresses followed */
#define CH_BORDER_MAX_ROUTES 16384 /* main-table unicast route next hops followed */
#define CH_BORDER_REASON_MAX 256 /* B, a classification's reason text */
#define CH_BORDER_NL_READ (64u * 1024) /* B, one rtnetlink read */
#define CH_BORDER_NL_RCVBUF (1u << 20) /* B, the rtnetlink socket's receive buffer: bursts of route events */
#define CH_BORDER_POLICY_MAX (1u << 20) /* B, the generated nftables ruleset: every link and address followed fits with room */
#define CH_BORDER_NFT_TIMEOUT_MS (10 * 1000) /* ms, one nft run (a ruleset load is milliseconds): killed past it */
#define CH_BORDER_FIRST_LOAD_MS (2 * CH_BORDER_NFT_TIMEOUT_MS) /* ms, the agent waits this at most for its first policy load before dialing out */
#define CH_BORDER_NFT_ERR_MAX 512 /* B, nft's standard error kept for the log and the state */

/* The datastores (agent/datastore). */
#define CH_DS_MAX_YANG_DIRS 16	/* --yang-dir flags */
#define CH_DS_MAX_MODULES 64	/* --module flags */
#define CH_DS_MAX_FEATURES 64	/* features per --module */
#define CH_DS_FILE_MAX (64u * 1024 * 1024) /* B, one datastore file */
#define CH_DS_EDITS_MAX CH_DS_FILE_MAX /* B, the RFC 6470 <edit>s of one change of running: a whole file's worth */
#define CH_DS_CONFIRM_TIMEOUT_DEFAULT 600 /* s, RFC 6241 8.4.5.1 */
#define CH_DS_PERSIST_MAX 256	/* B, a <persist> token */
#define CH_DS_PATH_DEPTH_MAX 64	/* levels in a change's target */
#define CH_DS_MAX_LISTENERS 4	/* ch_ds_on_change callbacks */

/* ---- the hub (callhome-hub) ---- */
#define CH_HUB_MAX_WORKERS 64	/* --workers: processes, each its own event loop and open-file limit */
#define CH_HUB_WLINK_MSG_MAX 65536 /* B, one supervisor-worker message (a status answer, a control request line's first read) */
#define CH_HUB_WLINK_QUEUE_MAX 100000 /* messages waiting on one supervisor-worker channel (a batch's kicks): more, and the other end is taken for dead */
#define CH_HUB_WORKER_RESTART_MS 1000 /* ms, a worker that died is started again after this, doubling while it keeps dying young */
#define CH_HUB_WORKER_RESTART_MAX_MS (30 * 1000) /* ms, ... up to this */
#define CH_HUB_WORKER_YOUNG_MS (10 * 1000) /* ms, a worker that dies sooner died young */
#define CH_HUB_WORKER_STOP_MS (10 * 1000) /* ms, stopping: workers that have not exited by then are killed */
#define CH_HUB_WORKER_QUERY_MS 2000 /* ms, a status or sessions question to the workers: who has not answered by then is left out, and said to be */
#define CH_HUB_MAX_LISTEN 16	/* --listen and --listen-tls flags, each */
#define CH_HUB_LISTEN_BACKLOG 1024 /* listen(2): bursts of devices calling at once */
#define CH_HUB_ACCEPT_BATCH 64	/* accepts per wake-up */
#define CH_HUB_ACCEPT_PAUSE_MS 1000 /* ms, after EMFILE: let connections drain */
#define CH_HUB_HANDSHAKE_TIMEOUT_MS (30 * 1000) /* ms, accept -> NETCONF hello */
#define CH_HUB_HANDSHAKE_TIMEOUT_MAX_S 3600 /* s, largest --handshake-timeout */
#define CH_HUB_MAX_HANDSHAKES 512 /* concurrent unauthenticated devices */
#define CH_HUB_MAX_HANDSHAKES_LIMIT 100000 /* largest --max-handshakes */
#define CH_HUB_HANDSHAKES_PER_ADDR 64 /* of those, from one address: a flood from one host leaves the rest; a CGNAT address's devices still get in, 64 at a time */
#define CH_HUB_HANDSHAKES_PER_PREFIX 256 /* of those, from one IPv4 /24 or IPv6 /48 */
#define CH_HUB_HANDSHAKE_PRESSURE_MS (5 * 1000) /* ms, the handshake deadline of a connection accepted with 3/4 of the slots taken: a call-home handshake takes well under 1 s */
#define CH_HUB_RPC_TIMEOUT_MS (120 * 1000) /* ms, an operator's rpc on a device */
#define CH_HUB_RPC_TIMEOUT_MAX_S CH_DAY_S /* s, largest --rpc-timeout */
#define CH_HUB_MAX_PENDING_RPC 64 /* outstanding rpcs per device */
#define CH_HUB_KEEPALIVE_MAX_S CH_DAY_S /* s, largest --keepalive */
#define CH_HUB_KEEPALIVE_COUNT_MAX 1000 /* largest --keepalive-count */
#define CH_HUB_CONFIRM_TIMEOUT_S 120 /* s, confirmed-commit rollback timer */
#define CH_HUB_CONFIRM_TIMEOUT_MAX_S CH_DAY_S /* s, largest --confirm-timeout */
#define CH_HUB_CONFIRM_AFTER_S 0 /* s, soak before confirming */
#define CH_HUB_CONFIRM_AFTER_MAX_S 3600 /* s, largest --confirm-after */
#define CH_HUB_IMPORT_MAX_ERRORS 20 /* refused lines listed in an import answer */
#define CH_HUB_LIST_DEFAULT 50	/* jobs/events listed without a limit */

/* Junos outbound-ssh, the preamble before the SSH banner (lib/id/junos,
 * hub/junos; docs/junos.md). */
#define CH_JUNOS_PREAMBLE_MAX 8192 /* B, the text before the SSH banner: 5 lines, an RSA-16384 host key's base64 is under 3 KiB */
#define CH_JUNOS_PREAMBLE_TIMEOUT_MS (10 * 1000) /* ms, from accept to the banner (at most --handshake-timeout): a device sends its preamble at once */
#define CH_JUNOS_PEEK_RETRY_MS 20 /* ms, look again at a line that begins with part of "SSH-" only */
#define CH_JUNOS_DEVICE_ID_MAX 255 /* chars, a DEVICE-ID */
#define CH_JUNOS_SECRETS_MAX (1024u * 1024) /* B, the --junos-secrets file */

/* Failing sources (hub/blocklist). */
#define CH_BLOCK_MAX 4096	/* sources tracked; the oldest are forgotten */
#define CH_BLOCK_THRESHOLD 10	/* failures in a window before a block; --block-after default */
#define CH_BLOCK_THRESHOLD_MAX 1000000 /* largest --block-after */
#define CH_BLOCK_WINDOW_S 60	/* s, failures are counted over */
#define CH_BLOCK_SECONDS 300	/* s, a block lasts; --block-for default */
#define CH_BLOCK_SECONDS_MAX (30 * CH_DAY_S) /* s, largest --block-for: a month */
#define CH_BLOCK_GOOD_S (24 * 3600) /* s, a source that authenticated is trusted for */

/* The control socket (hub/control). */
#define CH_CTL_MAX_REQUEST (32u * 1024 * 1024) /* B, one request line */
#define CH_CTL_ERR_MAX 512	/* bytes, the message of a bad request line */
#define CH_CTL_MAX_CLIENTS 256	/* CLI connections at once */
#define CH_CTL_IDLE_MS (10 * 60 * 1000) /* ms, a silent client is dropped */
#define CH_CTL_READ_CHUNK (64u * 1024) /* B, one read from a client */
#define CH_CTL_MAX_PIPELINE 32	/* unanswered requests per client */
#define CH_CTL_MAX_UNSENT (4u * 1024 * 1024) /* B, response bytes queued in libuv */
#define CH_CTL_BACKLOG 64	/* listen(2) on the control socket */

/* Terminal streams: shells, execs and forwards through the hub (hub/term,
 * cli/term, cli/forward; docs/control-api.md "Streams"). */
#define CH_HUB_DEVICE_TERMS 15	/* shells/execs at once on one device connection, besides its NETCONF channel */
#define CH_HUB_DEVICE_FWDS 16	/* forwarded streams (callhome forward/connect) at once on one device connection */
#define CH_HUB_DEVICE_STREAMS (1 + CH_HUB_DEVICE_TERMS + CH_HUB_DEVICE_FWDS + CH_AGENT_SNMP_PER_CONN + CH_FD_DEVICE_SESSIONS) /* channels the hub opens on one device connection */
#define CH_HUB_MAX_TERMS 256	/* shells/execs at once through the hub: each holds a socket and up to two queues */
#define CH_HUB_MAX_FWDS 256	/* forwarded streams at once through the hub: each holds a socket and up to two queues, as a shell */
#define CH_TERM_FRAME_MAX (64u * 1024) /* B, one frame's payload, either way: bounds the reassembly buffer */
#define CH_TERM_CLI_HIGH (256u * 1024) /* B, output queued to a CLI before the device's channel is paused (its SSH window closes) */
#define CH_TERM_CLI_LOW (64u * 1024) /* B, ... and resumed below this */
#define CH_TERM_DEV_HIGH (256u * 1024) /* B, input queued to the device before the CLI's socket is left unread */
#define CH_HUB_PATH_MAX 4096	/* B, a path under the state directory */
#define CH_TERM_RING (64u * 1024) /* B, a session's recent output kept to redraw an attach or a new watcher; a detached session's channel is paused once this much is unseen */
#define CH_TERM_GRACE_S 300	/* s, --term-grace default: a detached pty session waits this long for an attach */
#define CH_TERM_GRACE_MAX_S CH_DAY_S /* s, largest --term-grace */
#define CH_TERM_WATCHERS 4	/* read-only watchers of one session */
#define CH_TERM_WATCH_MAX (1024u * 1024) /* B, output queued to a watcher: past it the watcher is dropped (it never slows the session) */
#define CH_TERM_RECORD_MAX (64u * 1024 * 1024) /* B, one recording file: past it, a last line and no more */
#define CH_TERM_CAST_CHUNK (4u * 1024) /* B, output in one recorded event: bounds a line (escaped, at most 6x) */
#define CH_TERM_CAST_HEADER_MAX (8u * 1024) /* B, a recording's header line, read to list it */
#define CH_TERM_CAST_TAIL (64u * 1024) /* B, the end of a recording read for its duration: more than a line */
#define CH_TERM_CAST_LINE_MAX (64u * 1024) /* B, one line when playing a recording back */
#define CH_TERM_RECORDINGS_MAX 10000 /* recordings listed at once */

/* SNMP over call home (RFC 5592 `snmp` subsystem; lib/core/snmpframe,
 * agent/snmp, hub/snmp; docs/snmp.md). */
#define CH_SNMP_MSG_MAX 65507	/* B, one SNMP message either way: the largest UDP payload over IPv4, the most a datagram to or from snmpd carries */
#define CH_SNMP_RATE_WINDOW_MS 1000 /* ms, the rate limits below count over this window (per second) */
#define CH_SNMP_RATE 5000	/* messages per second on one channel (agent) or to one device (hub): above an NMS's walk, below a flood */
#define CH_SNMP_INFLIGHT 64	/* requests without a reply yet, per channel (agent) and per device (hub): more are dropped, the NMS retries */
#define CH_SNMP_REPLY_WAIT_MS (10 * 1000) /* ms, a request no reply came for stops counting as in flight (snmpd drops what it will not answer, e.g. a wrong community) */
#define CH_SNMP_TRAP_RATE 100	/* notifications per second from the device's snmpd forwarded (agent) or re-emitted (hub): more are dropped and counted */
#define CH_AGENT_SNMP_PER_CONN 8 /* snmp channels on one connection: the hub's trap channel and its NMS sources' */
#define CH_HUB_SNMP_MAPS 64	/* --snmp-map flags */
#define CH_HUB_SNMP_TRAP_TO 16	/* --snmp-trap-to flags */
#define CH_HUB_SNMP_ENDPOINTS 64 /* UDP endpoints at once: --snmp-map and callhome snmp together */
#define CH_HUB_SNMP_SOURCES 6	/* NMS source addresses of one endpoint with a channel each; a new one closes the least recently used (the agent takes CH_AGENT_SNMP_PER_CONN, one is the trap channel) */
#define CH_HUB_SNMP_IDLE_MS (60 * 1000) /* ms, a source's channel with no message either way is closed */
/* The NETCONF front door (hub/frontdoor, hub/opkeys; docs/front-door.md):
 * operators' NETCONF clients, each session relayed to a netconf channel
 * on the device's call-home connection. */
#define CH_FD_PORT CH_PORT_NETCONF_SSH /* --front-door default port: netconf-ssh, where clients look */
#define CH_FD_MAX_CONNS 256	/* front-door SSH connections at once, handshakes included: each holds a socket and a libssh session */
#define CH_FD_MAX_SESSIONS 128	/* front-door NETCONF sessions at once through the hub: each holds two channels' queues */
#define CH_FD_OPERATOR_SESSIONS 16 /* sessions one operator may hold at once: a runaway script cannot take every slot */
#define CH_FD_DEVICE_SESSIONS 6	/* sessions on one device at once; the agent serves 8 netconf channels per connection and the hub keeps one */
#define CH_FD_CONN_STREAMS 8	/* channels one front-door connection may open */
#define CH_FD_HANDSHAKE_MS (30 * 1000) /* ms, accept -> authenticated: a client that does not finish holds a socket */
#define CH_FD_NOSESSION_MS (60 * 1000) /* ms, an authenticated connection with no NETCONF session open is closed after */
#define CH_FD_IDLE_S (24 * 3600) /* s, a connection whose sessions moved no byte either way this long is closed (a quiet notification subscription lives a day) */
#define CH_FD_IDLE_MAX_S (30 * CH_DAY_S) /* s, largest --front-door-idle */
#define CH_FD_QUEUE_HIGH (256u * 1024) /* B, queued towards one side before the other side's channel is paused (its SSH window closes) */
#define CH_FD_REFUSED_LINGER_MS 5000 /* ms, a refused client has to send its hello (then its channel closes) before its connection is closed */
#define CH_FD_REASON_MAX 512	/* B, the line a refused client is shown */
#define CH_OPKEYS_MAX 1024	/* keys in an --operator-keys file */
#define CH_OPKEYS_FILE_MAX (4u * 1024 * 1024) /* B, an --operator-keys file */
#define CH_OPKEYS_PATTERNS 64	/* device patterns in one key's devices= */
#define CH_OPKEYS_PATTERN_MAX 128 /* B, one device pattern, with its NUL */

/* The registry (hub/registry). */
#define CH_STORE_BUSY_MS 5000	/* ms, SQLite busy timeout */
#define CH_STORE_GROUP_MS 20	/* ms, longest a device's records (its calls, sessions, their events) wait in the open group transaction before their commit: at 1,000 handshakes/s one commit instead of about a hundred; a crash loses at most this much of them */
#define CH_STORE_GROUP_SHARED_MS 2 /* ms, the same for a worker of a hub of several: its open group holds the write lock the other workers wait for */
#define CH_STORE_GROUP_MAX 512	/* writes in one group transaction, then it commits at once: bounds the WAL frames of one commit and how long another writer waits */

/* The configuration archive and device notifications at the hub
 * (hub/archive.c, hub/devxml.c). */
#define CH_ARCHIVE_VERSIONS 100	/* versions kept per device; the oldest is deleted when a new one would be one more: a year of weekly changes and then some */
#define CH_ARCHIVE_VERSION_MAX_MIB 4 /* MiB, one archived configuration (indented); a larger one is not archived, an event says so */
#define CH_ARCHIVE_VERSION_MAX (CH_ARCHIVE_VERSION_MAX_MIB * 1024u * 1024) /* B, the same: one INSERT of it costs what a job's result costs */
#define CH_ARCHIVE_SETTLE_MS 1000 /* ms, after a device reports a change, before the hub fetches: changes within it are one fetch, and a device reporting changes in a loop is fetched at most once per this plus a round trip */
#define CH_NOTIF_EVENT_BURST 60	/* device notifications recorded as events at once: a device sends more than this only in a flood */
#define CH_NOTIF_EVENT_PER_MIN 60 /* ... refilled at this rate per minute; past it they are counted and one event says how many were not recorded */
#define CH_DIFF_MAX_EDITS 2000	/* lines removed plus added that callhome diff searches for a shortest diff; past it the differing middle is shown whole (memory: (this+1)^2 int32, 16 MB) */
#define CH_DIFF_CONTEXT 3	/* lines of context around a change in callhome diff, as diff -u */
#define CH_NOTIF_EDITS_SHOWN 8	/* netconf-config-change edits named in its event's text; more are counted */
#define CH_NAME_MAX 64		/* chars, device names: [A-Za-z0-9._-], 1..64 */
#define CH_HUB_AMBIGUOUS_LIST 8	/* devices an ambiguous DEVICE's error names: enough to pick one, one line */
#define CH_HUB_REFUSED_LOG_S (10 * 60)	/* s, a pending or revoked device's repeated calls: one log line and count per device this often */
#define CH_STORE_TEXT_MAX 1024	/* B, addresses, event details, errors */
#define CH_IMPORT_MAX_LINES 100000 /* lines in one import-serials/import-keys call */
#define CH_IMPORT_LINE_MAX 2048 /* B, one import line (an RSA-8192 .pub line is ~1,450); longer is refused, not cut */
#define CH_CONFIG_HASH_LEN 80	/* B, an archived configuration's "sha256:<hex>" with its NUL */
#define CH_RESOLVE_MIN_PREFIX 4	/* chars after "SHA256:" for a prefix match */
#define CH_JOB_PAYLOAD_MAX_MIB 16 /* MiB, one job's operation */
#define CH_JOB_PAYLOAD_MAX (CH_JOB_PAYLOAD_MAX_MIB * 1024u * 1024) /* B, the same */
#define CH_JOB_RPC_MAX (CH_JOB_PAYLOAD_MAX + 4096) /* B, a job's operation in its <rpc> */
#define CH_XPATH_NS_MAX 16	/* prefixes given with a get-config --xpath: more is a typo */
#define CH_XML_PREFIX_MAX 64	/* B, one such prefix (an NCName) */
/* Tags and selectors (docs/operations.md, "Groups and tags"). */
#define CH_TAG_KEY_MAX 32	/* chars, a tag's key: [a-z0-9_.-], a letter first; short words such as site, role */
#define CH_TAG_VALUE_MAX 64	/* chars, a tag's value: as long as a device name */
#define CH_TAG_PER_DEVICE_MAX 32 /* tags (groups included) on one device: a description, not a database */
#define CH_SEL_TAGS_MAX 8	/* --tag and --group in one selector (all must match) */
#define CH_SEL_GLOB_MAX (3 * CH_NAME_MAX) /* B, a --name glob as SQL GLOB: a name's length, each character escaped (\* becomes [*]) */
/* Bulk jobs: one job per selected device, tracked as one batch. */
#define CH_BATCH_RATE_DEFAULT 10 /* jobs/s a batch starts across its connected devices: a change reaches a fleet in minutes, and a mistake can be cancelled before it is everywhere */
#define CH_HUB_JOB_RETRY_MS 1000 /* ms, a job that could not start (another of the device's runs on the session being replaced) is tried again after this */
#define CH_BATCH_RATE_MAX 100000 /* jobs/s, largest --rate: several start in one of the loop's milliseconds; a fleet of 100,000 in a second */
#define CH_BATCH_DEVICES_MAX 100000 /* devices one batch may select: one registry transaction */
#define CH_JOB_EXPIRE_BATCH 64	/* jobs expired per registry read (the next batch follows at once) */
#define CH_AUDIT_KEEP 1000000	/* audit records kept, the oldest dropped first: at most about 1 KiB each, so about 1 GiB */
#define CH_AUDIT_PRUNE_EVERY 1024 /* audit records written between two prunes (one DELETE of an id range) */
#define CH_EVENTS_KEEP 2000000	/* events kept, the oldest dropped first: devices' notifications feed them (at most 1 KiB each; most are ~100 B) */
#define CH_EVENTS_PRUNE_EVERY 1024 /* events written between two prunes */
#define CH_AUDIT_ACTION_MAX 32	/* B, an audit record's action word, with its NUL */
#define CH_AUDIT_OUTCOME_MAX 16	/* B, its outcome word ("ok", "refused", "failed", "lost") */
#define CH_AUDIT_RECORDING_MAX 64 /* B, the id of a session's recording */
#define CH_ACTOR_NAME_MAX 64	/* B, an operator's name (a user name is at most 32 on Linux), with its NUL */
#define CH_ACTOR_VIA_MAX 16	/* B, the front end an operator came through ("local"), with its NUL */

/* ---- the operator CLI (callhome) ---- */
#define CH_CLI_DEFAULT_TIMEOUT_S 60 /* s, --timeout default */
#define CH_CLI_MAX_TIMEOUT_S CH_DAY_S /* s, largest --timeout */
#define CH_CLI_MAX_LIMIT 100000u /* jobs/events --limit */
#define CH_CLI_MAX_EXPIRES_DAYS 366 /* d, largest --expires: about a year */
#define CH_CLI_MAX_EXPIRES_S (CH_CLI_MAX_EXPIRES_DAYS * (unsigned)CH_DAY_S) /* s, the same */
#define CH_CLI_MAX_RESPONSE (64u * 1024 * 1024) /* B, one response line from the hub */
#define CH_CLI_MAX_XML_MIB 16	/* MiB, rpc XML or an edit-config FILE */
#define CH_CLI_MAX_XML (CH_CLI_MAX_XML_MIB * 1024u * 1024) /* B, the same */
#define CH_CLI_FWD_CONNS CH_HUB_DEVICE_FWDS /* callhome forward: local connections at once (more wait in the backlog) */
#define CH_CLI_FWD_LISTEN_MAX 4	/* callhome forward: addresses a BIND name may give to listen on */
#define CH_CLI_FWD_BACKLOG 16	/* callhome forward: listen(2) */
#define CH_CLI_MAX_TIME_YEAR 9999 /* the last year a --since/--until may name */
#define CH_CLI_FOLLOW_INTERVAL_MS 1000 /* ms, events --follow polls */
#define CH_CLI_FOLLOW_BATCH 500	/* events asked for per poll */

#endif
