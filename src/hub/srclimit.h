/* srclimit.h - handshake slots per source: how many connections one
 * address, and one network prefix (IPv4 /24, IPv6 /48), may have in the
 * unauthenticated stage at once, so that no single source can take the
 * hub's --max-handshakes slots from everyone else (RFC 8071 section 5:
 * DoS through expensive handshakes; what the blocklist cannot do, since it
 * acts only after handshakes fail, seconds later).
 *
 * Entries exist only while a source holds a slot: memory is bounded by
 * the handshakes in progress, which --max-handshakes bounds.
 */
#ifndef CH_HUB_SRCLIMIT_H
#define CH_HUB_SRCLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

struct srclimit;

/* per_addr, per_prefix: slots for one address, one prefix; 0 is no
 * limit. NULL when out of memory. */
struct srclimit *srclimit_new(uint32_t per_addr, uint32_t per_prefix);
void srclimit_free(struct srclimit *sl);	/* NULL is fine */

/* Takes a slot for a connection from sa: CH_OK, or CH_ERR_LIMIT with
 * *why ("its address", "its prefix") when the source has all it may;
 * CH_ERR_NOMEM. A connection of another family than IPv4 and IPv6 is not
 * counted (CH_OK). */
int srclimit_take(struct srclimit *sl, const struct sockaddr *sa,
		  const char **why);
/* Gives back the slot a connection from sa took. */
void srclimit_release(struct srclimit *sl, const struct sockaddr *sa);

#endif
