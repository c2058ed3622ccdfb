/* devindex.c - the live devices by key (see devindex.h): a chained hash
 * that doubles as the fleet grows, so chains stay about one long. */
#include "hub/devindex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/device.h"
#include "lib/core/err.h"
#include "lib/core/hash.h"

#define INITIAL_BUCKETS 256	/* a power of 2 */

struct node {
	struct device *d;
	uint32_t hash;
	struct node *next;
};

struct devindex {
	struct node **bucket;
	size_t nbuckets;	/* a power of 2 */
	size_t n;
};

static uint32_t hash_of(const char *key)
{
	return ch_hash_bytes(key, strlen(key));
}

struct devindex *devindex_new(void)
{
	struct devindex *ix = calloc(1, sizeof(*ix));

	if (ix && (ix->bucket = calloc(INITIAL_BUCKETS,
				       sizeof(*ix->bucket))) == NULL) {
		free(ix);
		return NULL;
	}
	if (ix)
		ix->nbuckets = INITIAL_BUCKETS;
	return ix;
}

void devindex_free(struct devindex *ix)
{
	if (ix == NULL)
		return;
	for (size_t i = 0; i < ix->nbuckets; i++) {
		for (struct node *p = ix->bucket[i], *next; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	free(ix->bucket);
	free(ix);
}

/* Twice the buckets, when there are more devices than buckets; staying
 * as it is when memory is short only makes chains longer. */
static void grow(struct devindex *ix)
{
	size_t nb = ix->nbuckets * 2;
	struct node **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return;
	for (size_t i = 0; i < ix->nbuckets; i++) {
		for (struct node *p = ix->bucket[i], *next; p; p = next) {
			next = p->next;
			p->next = b[p->hash & (nb - 1)];
			b[p->hash & (nb - 1)] = p;
		}
	}
	free(ix->bucket);
	ix->bucket = b;
	ix->nbuckets = nb;
}

int devindex_add(struct devindex *ix, struct device *d)
{
	struct node *p = malloc(sizeof(*p));
	struct node **head;

	if (p == NULL)
		return CH_ERR_NOMEM;
	if (ix->n >= ix->nbuckets)
		grow(ix);
	p->d = d;
	p->hash = hash_of(device_key(d));
	head = &ix->bucket[p->hash & (ix->nbuckets - 1)];
	p->next = *head;
	*head = p;
	ix->n++;
	return CH_OK;
}

void devindex_remove(struct devindex *ix, struct device *d)
{
	uint32_t h = hash_of(device_key(d));

	for (struct node **link = &ix->bucket[h & (ix->nbuckets - 1)]; *link;
	     link = &(*link)->next) {
		if ((*link)->d == d) {
			struct node *p = *link;

			*link = p->next;
			free(p);
			ix->n--;
			return;
		}
	}
}

struct device *devindex_find(const struct devindex *ix, const char *key,
			     const struct device *skip, int ready)
{
	uint32_t h = hash_of(key);

	for (struct node *p = ix->bucket[h & (ix->nbuckets - 1)]; p;
	     p = p->next)
		if (p->hash == h && p->d != skip &&
		    (!ready || device_is_ready(p->d)) &&
		    strcmp(device_key(p->d), key) == 0)
			return p->d;
	return NULL;
}
