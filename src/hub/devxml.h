/* devxml.h - what the hub reads out of a device's XML for itself (the
 * pure parsers, fuzzed): a <notification> (RFC 5277) into a line for the
 * event log, with who changed what for netconf-config-change (RFC 6470);
 * and the <data> of a get-config reply into the configuration archive's
 * text form (indented, one element a line, so that versions diff line by
 * line; whitespace between elements is not part of it).
 *
 * Input comes from the device and is not trusted: parsed with
 * ch_xml_parse (lib/nc/msg.h); every field is cut to its buffer and
 * control characters become spaces, so the text is one line.
 */
#ifndef CH_HUB_DEVXML_H
#define CH_HUB_DEVXML_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"
#include "lib/core/limits.h"

#define DEVXML_NOTIF_NS "urn:ietf:params:xml:ns:netconf:notification:1.0"
#define DEVXML_NCN_NS "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
#define DEVXML_NOTIF_CAP "urn:ietf:params:netconf:capability:notification:1.0"

#define DEVXML_FIELD_MAX 128	/* B, a name, a time, a user, a host */
#define DEVXML_TARGET_MAX 256	/* B, one edit's target */

struct devxml_edit {
	char target[DEVXML_TARGET_MAX];	/* an instance-identifier */
	char operation[16];		/* "merge", "create", ...; "" */
};

struct devxml_notif {
	char event[DEVXML_FIELD_MAX];	/* the event element's local name */
	char time[DEVXML_FIELD_MAX];	/* eventTime as sent */
	int config_change;		/* netconf-config-change (RFC 6470) */
	/* config_change: changed-by */
	int by_server;			/* <server/>: the device itself */
	char username[DEVXML_FIELD_MAX];
	char source_host[DEVXML_FIELD_MAX];
	uint32_t session_id;		/* 0: none given */
	char datastore[32];		/* "running" when absent */
	size_t nedits;			/* every <edit>; the first
					 * CH_NOTIF_EDITS_SHOWN are kept */
	struct devxml_edit edits[CH_NOTIF_EDITS_SHOWN];
};

/* Parses a whole <notification> message. CH_OK; CH_ERR_PROTO when it is
 * not well-formed XML, not a <notification> in the RFC 5277 namespace or
 * has no event element; CH_ERR_LIMIT over CH_XML_MAX_SIZE. */
int devxml_notif_parse(const char *xml, size_t len, struct devxml_notif *n);

/* The event's text, cut to len (at most CH_STORE_TEXT_MAX is kept):
 *   netconf-config-change at T by alice (session 7) from 192.0.2.1 on
 *   running: replace /m:system/m:hostname, create /m:dns (and 3 more)
 *   linkDown at T
 */
void devxml_notif_text(const struct devxml_notif *n, char *buf, size_t len);

/* Who made a config change, for the archive's history: "alice@192.0.2.1"
 * (the parts known), "the device itself" (<server/>), or "unknown". */
void devxml_notif_who(const struct devxml_notif *n, char *buf, size_t len);

/* The children of <data> in a get-config <rpc-reply> into out (empty on
 * entry; its max bounds it: CH_ERR_LIMIT past it), each indented, one
 * element a line, and ended by a newline; nothing for an empty
 * configuration. CH_ERR_PROTO when it is not an rpc-reply with <data>
 * (an rpc-error, say). On any error *why (static) says what and out is
 * emptied. */
int devxml_config(const char *reply, size_t len, struct ch_buf *out,
		  const char **why);

#endif
