/* linediff.h - a unified diff of two texts, line by line (Myers' O(ND)
 * greedy algorithm: a shortest edit script), as `callhome diff` prints
 * two archived configurations. libc only.
 *
 * Bounded: past CH_DIFF_MAX_EDITS edits (after the common head and tail
 * are set aside) the search stops and the differing middle is shown as
 * removed and added whole: still a correct diff, not a shortest one.
 * Memory is at most (CH_DIFF_MAX_EDITS + 1)^2 32-bit ints. A text of
 * 2^31 lines or more is not diffed (CH_ERR_LIMIT).
 */
#ifndef CH_LINEDIFF_H
#define CH_LINEDIFF_H

#include <stddef.h>

#include "lib/core/buf.h"

/* Appends to out the hunks ("@@ -1,3 +1,4 @@", then lines starting with
 * ' ', '-' or '+') that turn a[0..alen) into b[0..blen), with context
 * lines of context around each change; nothing when they are equal. A
 * last line without a newline is followed by "\ No newline at end of
 * file". edits (may be NULL) gets the number of lines removed plus
 * added. CH_ERR_NOMEM, or out's CH_ERR_LIMIT (out then holds part). */
int ch_linediff(const char *a, size_t alen, const char *b, size_t blen,
		unsigned context, struct ch_buf *out, size_t *edits);

#endif
