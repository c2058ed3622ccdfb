/* piece.h - how a fuzz target cuts its input stream into calls, as a
 * transport's reads would: a pattern of 3 bits from the control byte.
 *   0 all at once, 1, 2, 3, 7, 64 or 4096 bytes at a time, or (6) 1 to 13
 *   bytes varying along the stream.
 */
#ifndef CH_FUZZ_PIECE_H
#define CH_FUZZ_PIECE_H

#include <stddef.h>

/* Length of the i-th piece, left bytes remaining. */
static inline size_t fuzz_piece(unsigned int pattern, size_t i, size_t left)
{
	static const size_t fixed[] = { (size_t)-1, 1, 2, 3, 7, 64, 0, 4096 };
	size_t n;

	if (pattern == 6)
		n = 1 + (i * 7 + 3) % 13;
	else
		n = fixed[pattern & 7];
	return n < left ? n : left;
}

#endif
