/* srclimit.c - handshake slots per source (see srclimit.h): one chained
 * hash of counts, keyed by address or by prefix. */
#include "hub/srclimit.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/core/hash.h"
#include "lib/net/hostport.h"

#define BUCKETS 4096		/* a power of 2; chains stay short up to
				 * tens of thousands of handshakes */

struct count {
	uint8_t key[17];	/* [0]: 'a' address, 'p' prefix; the rest the
				 * address, cut to the prefix for 'p' */
	uint32_t n;
	struct count *next;
};

struct srclimit {
	uint32_t per_addr, per_prefix;
	struct count *bucket[BUCKETS];
};

struct srclimit *srclimit_new(uint32_t per_addr, uint32_t per_prefix)
{
	struct srclimit *sl = calloc(1, sizeof(*sl));

	if (sl) {
		sl->per_addr = per_addr;
		sl->per_prefix = per_prefix;
	}
	return sl;
}

void srclimit_free(struct srclimit *sl)
{
	if (sl == NULL)
		return;
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct count *c = sl->bucket[i], *next; c; c = next) {
			next = c->next;
			free(c);
		}
	}
	free(sl);
}

/* The address's key and its prefix's: IPv4 /24, IPv6 /48. -1 for another
 * family. */
static int keys_of(const struct sockaddr *sa, uint8_t addr[17],
		   uint8_t prefix[17])
{
	if (ch_sockaddr_key(sa, addr + 1) != 0)
		return -1;
	addr[0] = 'a';
	memcpy(prefix, addr, 17);
	prefix[0] = 'p';
	if (ch_addr_key_is_v4(addr + 1))
		prefix[16] = 0;				/* /24 */
	else
		memset(prefix + 1 + 6, 0, 10);		/* /48 */
	return 0;
}

/* The count of key: its link in its chain (*link NULL when absent). */
static struct count **find(struct srclimit *sl, const uint8_t key[17])
{
	struct count **link = &sl->bucket[ch_hash_bytes(key, 17) &
					  (BUCKETS - 1)];

	while (*link && memcmp((*link)->key, key, 17) != 0)
		link = &(*link)->next;
	return link;
}

static uint32_t count_of(struct srclimit *sl, const uint8_t key[17])
{
	struct count *c = *find(sl, key);

	return c ? c->n : 0;
}

static int add(struct srclimit *sl, const uint8_t key[17])
{
	struct count **link = find(sl, key);

	if (*link == NULL) {
		if ((*link = calloc(1, sizeof(**link))) == NULL)
			return CH_ERR_NOMEM;
		memcpy((*link)->key, key, 17);
	}
	(*link)->n++;
	return CH_OK;
}

static void sub(struct srclimit *sl, const uint8_t key[17])
{
	struct count **link = find(sl, key), *c = *link;

	if (c && --c->n == 0) {
		*link = c->next;
		free(c);
	}
}

int srclimit_take(struct srclimit *sl, const struct sockaddr *sa,
		  const char **why)
{
	uint8_t addr[17], prefix[17];

	*why = NULL;
	if (keys_of(sa, addr, prefix) != 0)
		return CH_OK;
	if (sl->per_addr && count_of(sl, addr) >= sl->per_addr)
		*why = "its address";
	else if (sl->per_prefix && count_of(sl, prefix) >= sl->per_prefix)
		*why = "its prefix";
	if (*why)
		return CH_ERR_LIMIT;
	if (add(sl, addr) != CH_OK)
		return CH_ERR_NOMEM;
	if (add(sl, prefix) != CH_OK) {
		sub(sl, addr);
		return CH_ERR_NOMEM;
	}
	return CH_OK;
}

void srclimit_release(struct srclimit *sl, const struct sockaddr *sa)
{
	uint8_t addr[17], prefix[17];

	if (keys_of(sa, addr, prefix) != 0)
		return;
	sub(sl, addr);
	sub(sl, prefix);
}
