/* hash.h - one hash for the hub's in-memory tables (addresses, device
 * keys): FNV-1a, small and well spread for short keys. Not for anything
 * a peer could exploit by choosing keys: the tables it serves are bounded
 * by other limits, so a collision costs time, never memory. */
#ifndef CH_HASH_H
#define CH_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t ch_hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

#endif
