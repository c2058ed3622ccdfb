/* msg.h - NETCONF messages: hello, rpc, rpc-reply, rpc-error (RFC 6241).
 *
 * All XML goes through ch_xml_parse(): libxml2 with no network access, no
 * DTD loading, no entity substitution, a document with a DTD refused
 * outright (RFC 6241 3.2), and a cap on element depth and on input size.
 */
#ifndef CH_MSG_H
#define CH_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "lib/core/limits.h"
#include "lib/core/buf.h"

#define CH_NC_NS	"urn:ietf:params:xml:ns:netconf:base:1.0"
#define CH_NC_BASE10	"urn:ietf:params:netconf:base:1.0"
#define CH_NC_BASE11	"urn:ietf:params:netconf:base:1.1"

/* Parses xml[0..len) safely. CH_OK with *doc (free with xmlFreeDoc),
 * CH_ERR_PROTO if not well-formed, has a DTD, or nests too deep,
 * CH_ERR_LIMIT if len > CH_XML_MAX_SIZE. */
int ch_xml_parse(const char *xml, size_t len, xmlDoc **doc);

/* Appends text escaped for XML character data and attribute values. */
int ch_xml_escape(struct ch_buf *out, const char *s, size_t len);
/* n's text content, XML whitespace trimmed at both ends, into buf (NUL
 * terminated). CH_ERR_LIMIT when it does not fit (buf is then "" when
 * len > 0). */
int ch_xml_text(xmlNode *n, char *buf, size_t len);

/* ---- hello (RFC 6241 8.1) ---- */

struct ch_hello {
	char **caps;		/* ncaps capability URIs, whitespace-trimmed */
	size_t ncaps;
	uint32_t session_id;	/* valid when has_session_id */
	int has_session_id;
};

/* Appends a <hello> with the given capabilities and, when session_id is
 * non-zero (a server's hello), <session-id>. No framing is added. */
int ch_hello_build(struct ch_buf *out, const char *const *caps, size_t ncaps,
		   uint32_t session_id);

/* Parses a peer's hello into h (cleared first; free with
 * ch_hello_cleanup). CH_ERR_PROTO for anything but a <hello> in the base
 * namespace, a session-id that is not a uint32 in 1..2^32-1, or more
 * than CH_HELLO_MAX_CAPS capabilities. */
int ch_hello_parse(const char *xml, size_t len, struct ch_hello *h);
void ch_hello_cleanup(struct ch_hello *h);

/* Applies RFC 6241 8.1 to a parsed peer hello, for our role
 * (is_server: we are the NETCONF server). Sets *chunked to 1 when both
 * sides speak base:1.1 (we always offer 1.0 and 1.1). CH_ERR_PROTO, with a
 * reason in why (static text), when: no common base version; we are the
 * server and the client sent a session-id; we are the client and the
 * server sent none. */
int ch_hello_negotiate(const struct ch_hello *peer, int is_server,
		       int *chunked, const char **why);

/* ---- rpc (server side) ---- */

struct ch_rpc {
	xmlDoc *doc;		/* owns everything below */
	xmlNode *rpc;		/* the <rpc> element */
	xmlNode *op;		/* first element child of <rpc>, or NULL */
	const char *op_name;	/* op's local name, or NULL */
	const char *op_ns;	/* op's namespace URI, or NULL */
	const char *message_id;	/* NULL when the attribute is missing */
};

/* Parses one received message as an <rpc>. CH_OK: *out is new, free with
 * ch_rpc_free. CH_ERR_PROTO: not well-formed, or the root is not <rpc> in
 * the base namespace (the caller answers malformed-message or drops). */
int ch_rpc_parse(const char *xml, size_t len, struct ch_rpc **out);
void ch_rpc_free(struct ch_rpc *rpc);

/* An <rpc-error>; NULL fields are omitted. type and tag are required. */
struct ch_rpc_error {
	const char *type;	/* transport | rpc | protocol | application */
	const char *tag;	/* RFC 6241 appendix A, e.g. "operation-not-supported" */
	const char *severity;	/* NULL means "error" */
	const char *app_tag;
	const char *path;
	const char *message;	/* emitted with xml:lang="en" */
	const char *info_xml;	/* raw XML placed inside <error-info> */
};

/* Reply builders. Every one echoes all attributes of rpc's <rpc> element
 * (message-id and any other, with the namespace declarations they need),
 * per RFC 6241 4.2. rpc may be NULL only for ch_reply_error, which then
 * emits no attributes (the missing message-id case). */
int ch_reply_ok(struct ch_buf *out, const struct ch_rpc *rpc);
/* <rpc-reply ...><data>inner</data></rpc-reply>; inner is trusted XML. */
int ch_reply_data(struct ch_buf *out, const struct ch_rpc *rpc,
		  const char *inner, size_t inner_len);
int ch_reply_error(struct ch_buf *out, const struct ch_rpc *rpc,
		   const struct ch_rpc_error *e);

/* ---- rpc (client side) ---- */

/* Appends <rpc message-id="id" xmlns=base>op_xml</rpc>. op_xml must be
 * well-formed XML (one or more elements); if it is itself an <rpc> in the
 * base namespace its children are used and its message-id replaced.
 * CH_ERR_PROTO with a reason in why (static text) for bad op_xml. */
int ch_rpc_build(struct ch_buf *out, uint32_t message_id, const char *op_xml,
		 const char **why);

struct ch_reply {
	char *message_id;	/* NULL if absent */
	int is_ok;		/* <ok/> present */
	int has_error;		/* at least one <rpc-error> with severity error */
	char *error_tag;	/* first error's tag, or NULL */
	char *error_message;	/* first error's message, or NULL */
};

/* Parses a received <rpc-reply>. CH_ERR_PROTO if not an rpc-reply in the
 * base namespace. Free with ch_reply_cleanup. */
int ch_reply_parse(const char *xml, size_t len, struct ch_reply *r);
void ch_reply_cleanup(struct ch_reply *r);

#endif
