/* junos.h - Junos outbound-ssh at the hub's door (junos.c; docs/junos.md).
 *
 * When enabled (--junos-secrets, --junos-allow-unsigned), every connection
 * accepted on an SSH listener is read first up to its SSH banner, within
 * CH_JUNOS_PREAMBLE_MAX bytes and a deadline, and never past it: bytes are
 * peeked (MSG_PEEK) and only the preamble's are consumed, so libssh then
 * reads the banner itself. A connection that starts with its banner is a
 * plain SSH call home and goes on untouched. A Junos preamble is parsed
 * and checked against the device's secret (HMAC-SHA1 over HOST-KEY); what
 * passes goes on with the name it offers (DEVICE-ID) and the host key the
 * handshake must show; what fails is refused, and the owner is told why.
 */
#ifndef CH_HUB_JUNOS_H
#define CH_HUB_JUNOS_H

#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

struct junos_door;

/* What a connection said before its SSH banner. */
struct junos_result {
	const char *device_id;	/* NULL: no preamble (a plain SSH call) */
	const char *expect_fp;	/* "SHA256:..." of HOST-KEY; NULL: none sent */
	int verified;		/* 1: its HMAC checked with its secret */
};

struct junos_ops {
	void *ctx;
	/* Read up to the SSH banner and accepted: fd (the owner's now)
	 * goes on to the SSH handshake; res lives during the call. */
	void (*ready)(void *ctx, int fd, const char *peer,
		      const struct sockaddr *sa, const struct junos_result *res);
	/* Refused and closed (logged already): detail names the source and
	 * what the device claimed, and why. */
	void (*refused)(void *ctx, const char *peer, const struct sockaddr *sa,
			const char *detail);
};

struct junos_config {
	uv_loop_t *loop;
	const char *secrets;	/* "DEVICE-ID SECRET" lines, or NULL */
	int allow_unsigned;	/* accept a DEVICE-ID without a secret */
	uint32_t timeout_ms;	/* accept -> SSH banner */
};

/* The door (cfg and ops borrowed until junos_door_close). The secrets
 * file, if any, must be readable and open to its owner only (it is read
 * again at each call, so edits apply at once). CH_OK, CH_ERR_INVAL (the
 * file; logged), CH_ERR_NOMEM. */
int junos_door_new(const struct junos_config *cfg, const struct junos_ops *ops,
		   struct junos_door **out);
/* Reads fd (accepted, non-blocking; owned from here) from peer up to its
 * SSH banner; ready() or refused() follows, from the loop. CH_OK; else
 * fd is closed at once (logged) and neither op is called: CH_ERR_NOMEM,
 * CH_ERR_IO. */
int junos_door_read(struct junos_door *j, int fd, const char *peer,
		    const struct sockaddr *sa);
/* Closes the connections still being read (no op is called for them)
 * and frees the door once their handles are closed. NULL is fine. */
void junos_door_close(struct junos_door *j);

#endif
