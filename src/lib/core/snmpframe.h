/* snmpframe.h - SNMP messages carried on a byte stream, as RFC 5592 4.1
 * carries them on an SSH channel: no framing of its own, each message is
 * one BER SEQUENCE (tag 0x30) that delimits itself by its length
 * (X.690 8.1.3). Used on both sides of the `snmp` subsystem: the agent
 * cuts the manager's channel into datagrams for the device's snmpd, the
 * hub cuts the device's channel into datagrams for the NMS and the trap
 * receivers (docs/snmp.md).
 *
 * Only the definite form is taken (SNMP's BER is definite, RFC 3417 8);
 * the long form may carry leading zero octets (net-snmp writes 0x82 0x00
 * 0x2c), at most 4 length octets. A message longer than the caller's max
 * (CH_SNMP_MSG_MAX at most), an indefinite length or another tag is a
 * protocol error: nothing after it can be trusted to be a boundary, so
 * the stream ends.
 *
 * Also the budget both sides apply per channel: messages per second.
 * Pure functions: no I/O, no allocation, no log. Core layer: libc only.
 */
#ifndef CH_SNMPFRAME_H
#define CH_SNMPFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/limits.h"

#define CH_SNMP_TAG_SEQUENCE 0x30
#define CH_SNMP_HDR_MAX 6	/* tag, 0x84, 4 length octets */

/* The first message in p[0..n): CH_OK and *used its size (header and
 * content, at most max) when it is all there; CH_ERR_AGAIN when more is
 * needed (*used 0); CH_ERR_PROTO when p does not start a message we take
 * (*used 0; *why says what, static text). */
int ch_snmp_frame_next(const uint8_t *p, size_t n, size_t max, size_t *used,
		       const char **why);

/* At most limit messages in any one-second window starting at a message
 * (a fixed window: a burst of limit, then wait). */
struct ch_snmp_budget {
	uint64_t window_ms;	/* when the current window began */
	uint32_t used;
};

/* 1 (and counted) when a message may go at now_ms, 0 when over. */
int ch_snmp_budget_take(struct ch_snmp_budget *b, uint64_t now_ms,
			uint32_t limit);

/* Requests in flight: when each of the last CH_SNMP_INFLIGHT went. A
 * reply retires the oldest (SNMP replies carry no transport-visible
 * request id: v3's are encrypted); one older than CH_SNMP_REPLY_WAIT_MS
 * is forgotten (snmpd answers nothing it drops). */
struct ch_snmp_inflight {
	uint64_t sent_ms[CH_SNMP_INFLIGHT];
	uint32_t head, n;
};

/* 1 (and counted) when another request may go at now_ms, 0 when
 * CH_SNMP_INFLIGHT are in flight. */
int ch_snmp_inflight_add(struct ch_snmp_inflight *f, uint64_t now_ms);
/* A reply came: the oldest in flight is retired (none: nothing). */
void ch_snmp_inflight_reply(struct ch_snmp_inflight *f);
/* What is in flight at now_ms (the expired forgotten). */
uint32_t ch_snmp_inflight_count(struct ch_snmp_inflight *f, uint64_t now_ms);

#endif
