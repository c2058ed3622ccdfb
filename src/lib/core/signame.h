/* signame.h - the signal names SSH carries (RFC 4254 6.10: "signal" and
 * "exit-signal" requests, without "SIG") to local signal numbers and
 * back. The agent delivers and reports them, the CLI turns a remote
 * death into its exit status. Core layer: libc only.
 */
#ifndef CH_SIGNAME_H
#define CH_SIGNAME_H

/* ABRT ALRM FPE HUP ILL INT KILL PIPE QUIT SEGV TERM USR1 USR2 to the
 * local number; 0 for any other name (or NULL). */
int ch_signal_num(const char *name);
/* The RFC 4254 name of a local signal number; NULL for one it does not
 * name. */
const char *ch_signal_name(int sig);

#endif
