/* chconfig.h - the agent's call-home configuration: the
 * callhome-netconf-server YANG module's /netconf-server/call-home
 * subtree (yang/, docs/callhome-config.md) read into plain structs, and
 * the command-line shortcut (--call-home ...) written as that subtree.
 *
 * The running datastore holds the configuration when the agent has one
 * (schema-aware mode); without, the command line's configuration is
 * parsed by the same code against the module alone.
 */
#ifndef CH_CHCONFIG_H
#define CH_CHCONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/limits.h"
#include "lib/id/certid.h"
#include "lib/core/schedule.h"

struct lyd_node;
struct ly_ctx;

#define CHC_MODULE "callhome-netconf-server"
#define CHC_NS "urn:callhome:yang:callhome-netconf-server"
#define CHC_NAME_MAX 64
#define CHC_ERROR_MAX 512		/* chc_last_error */
/* Sizes and the module's defaults: CH_CHC_* in lib/core/limits.h. */

/* The YANG text of the module, built in (generated from yang/). */
extern const char chc_module_yang[];

enum chc_transport {
	CHC_SSH = 0,
	CHC_TLS,
};

struct chc_endpoint {
	char name[CHC_NAME_MAX + 1];
	enum chc_transport transport;
	char *host;
	uint16_t port;
	char *local_address;		/* NULL: any */
	int tcp_keepalives;		/* TCP keep-alives on */
	uint32_t tcp_idle_s, tcp_probes, tcp_interval_s;
	int keepalives;			/* SSH keep-alives / TLS aliveness */
	uint32_t ka_max_wait_s, ka_max_attempts;
	/* TLS only */
	char *cert_file, *key_file, *chain_file, *ca_file, *crl_file;
	struct ch_ctn_rule *ctn;	/* cert-to-name, by id */
	size_t nctn;
};

struct chc_client {
	char name[CHC_NAME_MAX + 1];
	struct chc_endpoint *eps;
	size_t neps;
	int periodic;
	uint32_t period_min;
	int has_anchor;
	int64_t anchor_ms;		/* epoch ms */
	uint32_t idle_timeout_s;	/* 0: never */
	enum ch_start_with start_with;
	uint32_t max_wait_s;
	uint32_t max_attempts;
	char *canon;			/* the subtree, printed: equality */
};

struct chc_config {
	int present;			/* a call-home container exists */
	struct chc_client *clients;
	size_t n;
};

/* Reads the call-home configuration from a data tree (the running
 * datastore's top-level siblings; NULL is empty). Missing leaves take
 * the module's defaults. On error (a limit exceeded, an anchor-time
 * that does not parse) *out is empty and the reason is logged. */
int chc_from_tree(const struct lyd_node *tree, struct chc_config *out);
void chc_free(struct chc_config *c);
/* Why the last chc_from_tree or chc_from_xml failed ("" before any). */
const char *chc_last_error(void);
/* Whether any endpoint of c is SSH. */
int chc_uses_ssh(const struct chc_config *c);
/* The client named name, or NULL. */
const struct chc_client *chc_find(const struct chc_config *c,
				  const char *name);

/* The command-line shortcut, as the same configuration. */
struct chc_flag_endpoint {
	enum chc_transport transport;
	const char *host;
	uint16_t port;
};
struct chc_flags {
	const struct chc_flag_endpoint *eps;
	size_t neps;
	uint32_t connect_timeout_s;	/* reconnect-strategy max-wait */
	uint32_t max_attempts;		/* 0: the default */
	uint32_t keepalive_s;		/* 0: no keep-alives */
	uint32_t keepalive_count;
	uint32_t period_min;		/* 0: persistent */
	const char *anchor_time;	/* NULL: none */
	uint32_t idle_timeout_s;
	/* TLS endpoints */
	const char *cert_file, *key_file, *chain_file, *ca_file, *crl_file;
	const char *const *ctn;		/* "FINGERPRINT|*,MAP-TYPE[,NAME]" */
	size_t nctn;
};

/* The flags as a <config> element's XML (one netconf-client named
 * "manager" whose endpoints are the flags' in order) in a new string. */
int chc_flags_xml(const struct chc_flags *f, char **xml);

/* Parses XML content (as chc_flags_xml gives) against the module alone
 * (a private libyang context) into *out. For the schema-less agent. */
int chc_from_xml(const char *xml, struct chc_config *out);

#endif
