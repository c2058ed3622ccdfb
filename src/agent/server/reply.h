/* reply.h - what every operation of the server needs: <rpc-error>
 * replies (each counted for RFC 6022 out-rpc-errors), reading an rpc's
 * parameters (a datastore, an enumeration, a text), and writing leaves
 * of state data. An int-returning reader either succeeds with *replied
 * clear or has put the rpc-error in out and set *replied.
 */
#ifndef CH_AGENT_SERVER_REPLY_H
#define CH_AGENT_SERVER_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "agent/datastore.h"
#include "agent/server/internal.h"
#include "lib/core/buf.h"
#include "lib/nc/msg.h"

/* Appends the rpc-error e as the reply to rpc (NULL: none parsed), and
 * counts it for out-rpc-errors. Every error reply goes through here. */
int send_error(struct nc_server *s, struct ch_buf *out,
	       const struct ch_rpc *rpc, const struct ch_rpc_error *e);
/* An rpc-error with only a type, a tag and a message. */
int reply_error(struct nc_server *s, struct ch_buf *out,
		const struct ch_rpc *rpc, const char *type,
		const char *tag, const char *message);
/* missing-element, with elem as the <bad-element>. */
int reply_missing(struct nc_server *s, struct ch_buf *out,
		  const struct ch_rpc *rpc, const char *elem,
		  const char *message);

/* The datastore's answer: <ok/>, the rpc-error of de, or nothing yet
 * for CH_ERR_AGAIN (a dry run deferred: srv->deferred_now is set). */
int reply_ds(struct nc_server *s, struct ch_buf *out,
	     const struct ch_rpc *rpc, int r, const struct ch_ds_err *de);

/* First element child of n named name in the base namespace, or NULL. */
xmlNode *child(xmlNode *n, const char *name);

/* First element child of n named name in namespace ns, or NULL. */
xmlNode *child_ns(xmlNode *n, const char *name, const char *ns);

/* The first element child of n, or NULL. */
xmlNode *first_element(xmlNode *n);

/* Which datastore a <target> or <source> names: *id, or -1 with
 * *config for an inline <config> when allow_config. Otherwise the
 * rpc-error is in out and *replied is set. */
int ds_param(struct nc_server *s, const struct ch_rpc *rpc,
	     const char *pname, int allow_config, int *id,
	     xmlNode **config, struct ch_buf *out, int *replied);

/* An optional enumerated parameter: *val is the index of its text in
 * names (0 when absent). Otherwise the rpc-error is in out. */
int enum_param(struct nc_server *s, const struct ch_rpc *rpc,
	       const char *pname, const char *const *names, size_t n,
	       int *val, struct ch_buf *out, int *replied);

/* An optional text parameter into buf; *present says whether it was
 * given. Otherwise the rpc-error is in out. */
int text_param(struct nc_server *s, const struct ch_rpc *rpc,
	       const char *pname, char *buf, size_t len, int *present,
	       struct ch_buf *out, int *replied);

/* Appends more[0..n) to the malloc'd *data of *len bytes (<get>'s
 * content, state data after the configuration), NUL-terminated; at most
 * CH_AGENT_REPLY_MAX bytes in all (CH_ERR_LIMIT). */
int data_append(char **data, size_t *len, const char *more, size_t n);

/* <name>escaped text</name>. */
int put_leaf(struct ch_buf *b, const char *name, const char *text);
/* <name>v</name>. */
int put_uint(struct ch_buf *b, const char *name, uint32_t v);

/* The manager's address without its port: "[::1]:830" -> "::1",
 * "192.0.2.1:830" -> "192.0.2.1" (inet:host). */
void host_of(const char *peer, char *buf, size_t len);

#endif
