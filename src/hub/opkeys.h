/* opkeys.h - the front door's operators: who a public key is and which
 * devices it may reach (--operator-keys, docs/front-door.md), and what a
 * front-door client's SSH user name asks for.
 *
 * The file is in authorized_keys format; each key line may start with
 * options, as OpenSSH's:
 *
 *   operator="alice",devices="r1,r2,site-*" ssh-ed25519 AAAA... laptop
 *   devices="*" ssh-ed25519 AAAA... bob@desk
 *
 *   operator="NAME"   the operator's name ([A-Za-z0-9._-], 1..63); without
 *                     it, the comment's first word up to any '@'
 *   devices="P,P,..." the devices the key reaches: names or patterns with
 *                     '*' and '?' (fnmatch), matched against the device's
 *                     registry name; '*' alone also reaches unnamed
 *                     devices. Required: a key without it reaches nothing
 *                     and is skipped.
 *
 * Any other option, a bad name or pattern, or a key already listed skips
 * the line with a warning naming it: a restriction this file cannot
 * honour must not turn into access. Pure: no I/O but the file's read.
 *
 * The user name: "DEVICE" or "OPERATOR+DEVICE". Device names never hold
 * '+', so the last '+' splits. The key's mapping decides who the
 * operator is; a differing OPERATOR is refused (front door).
 */
#ifndef CH_HUB_OPKEYS_H
#define CH_HUB_OPKEYS_H

#include <stddef.h>

#include <libssh/libssh.h>

#include "lib/core/limits.h"

struct opkeys;
struct opkey;

/* Parses the text of an operator keys file (src names it in warnings).
 * CH_OK and *out; CH_ERR_INVAL when no line is usable, CH_ERR_LIMIT past
 * CH_OPKEYS_MAX keys, CH_ERR_NOMEM. */
int opkeys_parse(const char *text, size_t len, const char *src,
		 struct opkeys **out);
/* Reads path (at most CH_OPKEYS_FILE_MAX bytes) and parses it. */
int opkeys_load(const char *path, struct opkeys **out);
void opkeys_free(struct opkeys *ks);	/* NULL is fine */
size_t opkeys_count(const struct opkeys *ks);

/* The entry of key's public part, or NULL. */
const struct opkey *opkeys_find(const struct opkeys *ks, const ssh_key key);
const char *opkey_operator(const struct opkey *k);
/* 1 if k may reach the device named name ("" or NULL: unnamed). */
int opkey_reaches(const struct opkey *k, const char *name);
/* Its devices= as written, for log lines. */
const char *opkey_devices(const struct opkey *k);

/* 1 if s is a valid operator name. */
int opkeys_name_ok(const char *s);
/* Splits a user name into op ("" when absent) and dev. CH_ERR_INVAL
 * for an empty or oversized part, or an operator part that is not a
 * name; the device part is only bounded (the registry resolves it). */
int opkeys_user_parse(const char *user, char *op, size_t oplen, char *dev,
		      size_t devlen);

#endif
