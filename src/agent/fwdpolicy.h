/* fwdpolicy.h - where the agent may forward a manager's direct-tcpip
 * channel (docs/remote-access.md, "Forwarding"): the pure rule, no I/O.
 *
 * A destination (one resolved address and a port) is allowed iff
 *   - forwarding is enabled (--forward), and
 *   - it is not the unspecified address (0.0.0.0, ::), and
 *   - it is inside the border's interior prefix set (border_is_interior)
 *     or inside an allow rule (--forward-allow PREFIX[:PORT[-PORT]]) whose
 *     port range holds the port; and
 *   - when it is loopback (127.0.0.0/8, ::1) or one of the device's own
 *     addresses, an allow rule names it explicitly: a rule whose prefix
 *     lies inside 127.0.0.0/8 (or is ::1/128) for loopback, a host rule
 *     (/32, /128) of exactly that address for an own address.
 * A v4-mapped IPv6 address is its IPv4 address throughout. With no border
 * (NULL: rtnetlink could not be read) only allow rules apply.
 */
#ifndef CH_AGENT_FWDPOLICY_H
#define CH_AGENT_FWDPOLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent/border.h"
#include "lib/core/limits.h"

#define FWD_WHY_OFF "forwarding is not enabled on this device"

/* --forward-allow PREFIX[:PORT[-PORT]]: prefix (a host without /LEN) and
 * an inclusive port range (1-65535 without a port). */
struct fwd_rule {
	struct border_prefix pfx;
	uint16_t lo, hi;
};

struct fwd_policy {
	int enabled;			/* --forward */
	struct fwd_rule rules[CH_AGENT_FWD_MAX_RULES];
	size_t nrules;
};

/* text: "198.18.7.0/24", "198.18.7.9:80", "198.18.7.9:8000-8080",
 * "2001:db8::/64" (every port), "[2001:db8::1]:443". CH_OK, or
 * CH_ERR_INVAL with the reason in err. */
int fwd_rule_parse(const char *text, struct fwd_rule *r, char *err,
		   size_t size);
/* The rule in the form it was parsed from ("198.18.7.9/32:80-80"). */
void fwd_rule_text(const struct fwd_rule *r, char *buf, size_t size);

/* sa (AF_INET/AF_INET6) inside r's prefix and port inside its range. */
int fwd_rule_match(const struct fwd_rule *r, const struct sockaddr *sa,
		   uint16_t port);

/* 1 for 127.0.0.0/8, ::1 and their v4-mapped forms. */
int fwd_is_loopback(const struct sockaddr *sa);

/* The verdict on one destination: NULL when allowed, else the reason
 * (static text). own: sa is one of the device's own addresses. b: the
 * border (NULL: none). */
const char *fwd_policy_check(const struct fwd_policy *p,
			     const struct border *b,
			     const struct sockaddr *sa, uint16_t port,
			     int own);

#endif
