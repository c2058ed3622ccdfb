/* blocklist.h - temporary blocking of source addresses that keep failing
 * the pre-authentication phase (RFC 8071 section 5: "temporarily block
 * sources after repeated failures").
 *
 * A failure is a connection that ended before the device was identified
 * and admitted (garbage, a stalled handshake, a refused identity). After
 * `threshold` failures within `window_s` an address is blocked for
 * `block_s`; its new connections are closed at accept, before any
 * cryptography. An address from which an admitted device connected within
 * the last CH_BLOCK_GOOD_S is never blocked: a good device behind the same
 * NAT as an attacker must still get through.
 *
 * The table is bounded (CH_BLOCK_MAX entries); when full the stalest entry
 * is replaced. Addresses are IPv4 or IPv6 (port ignored).
 */
#ifndef CH_HUB_BLOCKLIST_H
#define CH_HUB_BLOCKLIST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/core/limits.h"

struct blocklist;

/* threshold 0 disables blocking (failures are still counted). */
struct blocklist *blocklist_new(uint32_t threshold, uint32_t window_s,
				uint32_t block_s);
void blocklist_free(struct blocklist *bl);

/* 1 if connections from sa are refused now. */
int blocklist_blocked(struct blocklist *bl, const struct sockaddr *sa,
		      int64_t now);
/* Records a failure; returns 1 if this failure started a block. */
int blocklist_failure(struct blocklist *bl, const struct sockaddr *sa,
		      int64_t now);
/* An admitted device connected from sa: clear its failures, exempt it. */
void blocklist_success(struct blocklist *bl, const struct sockaddr *sa,
		       int64_t now);
/* How many addresses are blocked now (a scan of the bounded table). */
size_t blocklist_count(const struct blocklist *bl, int64_t now);

#endif
