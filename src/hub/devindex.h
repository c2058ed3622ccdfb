/* devindex.h - the live, admitted devices by registry key: which
 * connection holds a device, found in constant time whatever the fleet's
 * size. (A scan of every connection at each admission, job kick and
 * disconnect made a handshake cost more the more devices were connected.)
 * A key normally has one connection; two while a newer one replaces it.
 */
#ifndef CH_HUB_DEVINDEX_H
#define CH_HUB_DEVINDEX_H

struct device;
struct devindex;

struct devindex *devindex_new(void);	/* NULL when out of memory */
void devindex_free(struct devindex *ix);	/* NULL is fine */

/* Files d under device_key(d). CH_OK or CH_ERR_NOMEM. */
int devindex_add(struct devindex *ix, struct device *d);
/* Takes d out, if it is in. */
void devindex_remove(struct devindex *ix, struct device *d);
/* A device filed under key other than skip (NULL: none), ready (its
 * NETCONF session up) when ready is 1; NULL when there is none. */
struct device *devindex_find(const struct devindex *ix, const char *key,
			     const struct device *skip, int ready);

#endif
