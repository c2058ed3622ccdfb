#include "hub/blocklist.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/hash.h"
#include "lib/net/hostport.h"

struct entry {
	uint8_t addr[16];	/* IPv4 as v4-mapped IPv6 */
	int used;
	uint32_t failures;
	int64_t window_start;
	int64_t blocked_until;
	int64_t good_until;
	int64_t touched;
};

struct blocklist {
	uint32_t threshold, window_s, block_s;
	struct entry e[CH_BLOCK_MAX];
};

struct blocklist *blocklist_new(uint32_t threshold, uint32_t window_s,
				uint32_t block_s)
{
	struct blocklist *bl = calloc(1, sizeof(*bl));

	if (bl == NULL)
		return NULL;
	bl->threshold = threshold;
	bl->window_s = window_s;
	bl->block_s = block_s;
	return bl;
}

void blocklist_free(struct blocklist *bl)
{
	free(bl);
}

/* Linear probing over a short run; a full run evicts its stalest entry.
 * create 0: lookup only (NULL if absent). */
static struct entry *find(struct blocklist *bl, const struct sockaddr *sa,
			  int64_t now, int create)
{
	enum { PROBE = 16 };
	struct entry *stalest = NULL;
	uint8_t key[16];
	uint32_t h;

	if (ch_sockaddr_key(sa, key) != 0)
		return NULL;
	h = ch_hash_bytes(key, 16);
	for (uint32_t i = 0; i < PROBE; i++) {
		struct entry *e = &bl->e[(h + i) % CH_BLOCK_MAX];

		if (e->used && memcmp(e->addr, key, 16) == 0)
			return e;
		if (!create)
			continue;
		if (!e->used) {
			stalest = e;
			break;
		}
		if (stalest == NULL || e->touched < stalest->touched)
			stalest = e;
	}
	if (!create || stalest == NULL)
		return NULL;
	memset(stalest, 0, sizeof(*stalest));
	memcpy(stalest->addr, key, 16);
	stalest->used = 1;
	stalest->touched = now;
	return stalest;
}

int blocklist_blocked(struct blocklist *bl, const struct sockaddr *sa,
		      int64_t now)
{
	struct entry *e = find(bl, sa, now, 0);

	return e && e->blocked_until > now && e->good_until <= now;
}

size_t blocklist_count(const struct blocklist *bl, int64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < CH_BLOCK_MAX; i++)
		n += bl->e[i].used && bl->e[i].blocked_until > now &&
		     bl->e[i].good_until <= now;
	return n;
}

int blocklist_failure(struct blocklist *bl, const struct sockaddr *sa,
		      int64_t now)
{
	struct entry *e = find(bl, sa, now, 1);

	if (e == NULL)
		return 0;
	e->touched = now;
	if (now - e->window_start >= bl->window_s) {
		e->window_start = now;
		e->failures = 0;
	}
	e->failures++;
	if (bl->threshold == 0 || e->failures < bl->threshold ||
	    e->good_until > now || e->blocked_until > now)
		return 0;
	e->blocked_until = now + bl->block_s;
	e->failures = 0;
	return 1;
}

void blocklist_success(struct blocklist *bl, const struct sockaddr *sa,
		       int64_t now)
{
	struct entry *e = find(bl, sa, now, 1);

	if (e == NULL)
		return;
	e->touched = now;
	e->failures = 0;
	e->blocked_until = 0;
	e->good_until = now + CH_BLOCK_GOOD_S;
}
