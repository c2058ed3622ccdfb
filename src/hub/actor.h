/* actor.h - who did it: the operator behind a request, as the audit log
 * records it (docs/terminal.md, "Audit").
 *
 * Each front end fills one from what it can prove, never from what the
 * client says: the control socket from the kernel's SO_PEERCRED (a local
 * user); a later HTTP or NETCONF front end from its own login (via
 * "http", a token's name, uid -1). The hub's own doings are "hub".
 */
#ifndef CH_HUB_ACTOR_H
#define CH_HUB_ACTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/core/limits.h"

#define HUB_ACTOR_STR_MAX (CH_ACTOR_NAME_MAX + CH_ACTOR_VIA_MAX + 32)

struct hub_actor {
	char via[CH_ACTOR_VIA_MAX];	/* the front end: "local", "hub" */
	char name[CH_ACTOR_NAME_MAX];	/* a user name; a local user
					 * without one: the uid in decimal */
	int64_t uid;			/* a local user's uid, else -1 */
	int64_t pid;			/* the client process, -1 if unknown
					 * (for log lines: pids are reused) */
};

/* A local user: the name from the password database (getpwuid_r; the
 * uid in decimal when it has no entry). */
void hub_actor_local(struct hub_actor *a, uid_t uid, pid_t pid);
/* A local peer whose credentials could not be read: name "unknown". */
void hub_actor_unknown(struct hub_actor *a);
/* The hub itself. */
void hub_actor_hub(struct hub_actor *a);
/* "alice(uid=1000)" for a local user, "NAME(VIA)" otherwise, into buf
 * (HUB_ACTOR_STR_MAX bytes suffice); returns buf. */
const char *hub_actor_str(const struct hub_actor *a, char *buf, size_t size);

#endif
