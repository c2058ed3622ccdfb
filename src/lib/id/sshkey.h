/* sshkey.h - SSH keys: our own (loaded or created), fingerprints, and
 * authorized_keys files.
 */
#ifndef CH_SSHKEY_H
#define CH_SSHKEY_H

#include <stddef.h>

#include <libssh/libssh.h>

#include "lib/core/limits.h"

#define CH_FP_LEN 128		/* "SHA256:" + 43 base64 chars, with room */

/* Loads the OpenSSH-format private key at path. If the file does not
 * exist, creates an ed25519 key there atomically with mode 0600 (temp
 * file, fsync, rename) and its public half at "path.pub" (mode 0644), and
 * sets *created to 1. Returns new *key (free with ssh_key_free). Errors
 * are logged with the path: CH_ERR_IO, CH_ERR_SSH (unreadable key). */
int ch_key_load_or_create(const char *path, ssh_key *key, int *created);

/* Writes "SHA256:<base64, no padding>" of key's public part, as OpenSSH
 * prints it, into out (at least CH_FP_LEN bytes). */
int ch_key_fingerprint(const ssh_key key, char *out, size_t len);

/* The "ssh-ed25519 AAAA..." line of key's public half; free with free(). */
char *ch_key_public_line(const ssh_key key);

/* A public key from its authorized_keys text: the type name and the
 * base64 blob. CH_OK and a new *out (ssh_key_free), or CH_ERR_INVAL and
 * *why (static text): an unknown type, a certificate, bad data, or a
 * blob whose inner type is not the one stated. */
int ch_pubkey_parse(const char *tname, const char *b64, ssh_key *out,
		    const char **why);

/* Cuts the next blank-separated field of an authorized_keys line out of
 * *s (NUL-terminating it in place, *s moved past it); NULL when the line
 * has no more fields. */
char *ch_key_next_field(char **s);

struct ch_authkeys;

/* Loads an OpenSSH authorized_keys file: "type base64 [comment]" per line,
 * blank lines and '#' comments skipped. Lines with options (which we do not
 * implement) or unknown key types are skipped with a warning naming the
 * line number; a file with no usable key is CH_ERR_INVAL. */
int ch_authkeys_load(const char *path, struct ch_authkeys **out);
/* 1 if key's public part is in the set, else 0. */
int ch_authkeys_match(const struct ch_authkeys *ak, const ssh_key key);
size_t ch_authkeys_count(const struct ch_authkeys *ak);
void ch_authkeys_free(struct ch_authkeys *ak);

#endif
