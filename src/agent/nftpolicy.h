/* nftpolicy.h - the border's example filtering policies
 * (draft-kline-homenet-default-border section 5.3) as an nftables
 * ruleset, from the classification and the interior prefix set: the
 * pure generator, text out, no I/O (borderpolicy.h writes and applies
 * it).
 *
 * The ruleset is one table, inet callhome_border, and touches nothing
 * else: it first declares the table, deletes it and defines it again,
 * so that `nft -f` replaces it in one transaction. Its chains only ever
 * drop (policy accept), so other tables' rules still decide the rest.
 *   prerouting  interior interfaces: anti-spoofing (5.3.1), the source
 *               must be inside the interior prefix set; unspecified and
 *               link-local sources only to the device itself (DHCP,
 *               DAD, neighbour discovery); else dropped, counter
 *               "spoofed".
 *   input       from the device's outside (exterior, mixed, and every
 *   forward     interface not classified interior, so a new interface
 *               is outside until the border says otherwise): stateful
 *               (5.3.2), established and related in, new dropped,
 *               counter "unsolicited"; interior sources arriving from
 *               an exterior interface dropped first. The device itself
 *               still gets neighbour discovery, router advertisements
 *               and DHCP replies: the agent dials out and needs no
 *               other new connection from outside. Mixed (5.3.3):
 *               interior to interior also passes, statelessly.
 *   Interior interfaces and loopback: not filtered beyond prerouting.
 * The same input gives the same text, byte for byte: interfaces by
 * name, prefixes by family and address, prefixes inside another left
 * out; no time in it.
 */
#ifndef CH_AGENT_NFTPOLICY_H
#define CH_AGENT_NFTPOLICY_H

#include <stddef.h>

#include "agent/border.h"

#define NFTPOL_FAMILY "inet"
#define NFTPOL_TABLE "callhome_border"

struct nftpol_if {
	const char *name;
	enum border_cat cat;
};

/* The classification and the interior prefix set, in any order. */
struct nftpol_input {
	const struct nftpol_if *ifs;
	size_t nifs;
	const struct border_prefix *pfx;
	size_t npfx;
};

/* 1 when name can be written in the ruleset as it is (letters, digits,
 * '.', '_', '-', '@'; nft's quoting has no escapes and a trailing '*'
 * is a wildcard). An interface whose name cannot is left out of the
 * ruleset, so it is outside (fail-closed). */
int nftpol_ifname_ok(const char *name);

/* The ruleset for in, in a new NUL-terminated string (*len without the
 * NUL). CH_OK, CH_ERR_NOMEM, or CH_ERR_LIMIT past
 * CH_BORDER_POLICY_MAX bytes. */
int nftpol_render(const struct nftpol_input *in, char **text, size_t *len);

/* nftpol_render for the border's current classification. */
int nftpol_render_border(const struct border *b, char **text,
			 size_t *len);

#endif
