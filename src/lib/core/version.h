/* version.h - what a binary is: its release (CH_VERSION, from the
 * project's version in CMakeLists.txt) and the commit it was built from,
 * so that `--version` and `callhome status` answer "which build is this"
 * exactly. */
#ifndef CH_VERSION_H
#define CH_VERSION_H

/* "0123456789ab", with "+" when built from a changed tree; "unknown"
 * when built outside a git checkout. Written at every build
 * (cmake/commit.cmake). */
extern const char ch_commit[];

#endif
