/* buf.h - one bounded byte buffer (style F1).
 *
 * A ch_buf grows on demand up to a maximum fixed at init; appending past it
 * returns CH_ERR_LIMIT and leaves the buffer unchanged. Data is consumed from
 * the front; the buffer compacts itself lazily. Always NUL-terminated past
 * the end of the data so callers may treat text content as a C string.
 */
#ifndef CH_BUF_H
#define CH_BUF_H

#include <stddef.h>

struct ch_buf {			/* embedded by callers; fields read-only */
	char *data;		/* data[off .. off+len) is the content */
	size_t off;
	size_t len;
	size_t cap;
	size_t max;		/* content may never exceed this */
};

void ch_buf_init(struct ch_buf *b, size_t max);
/* Frees the storage (wiping it: buffers may hold secrets); b is reusable. */
void ch_buf_cleanup(struct ch_buf *b);
void ch_buf_reset(struct ch_buf *b);

static inline const char *ch_buf_ptr(const struct ch_buf *b)
{
	return b->data ? b->data + b->off : "";
}
static inline size_t ch_buf_len(const struct ch_buf *b)
{
	return b->len;
}

/* Appends n bytes. CH_ERR_LIMIT past max, CH_ERR_NOMEM. */
int ch_buf_put(struct ch_buf *b, const void *p, size_t n);
int ch_buf_puts(struct ch_buf *b, const char *s);
int ch_buf_printf(struct ch_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drops n bytes from the front (n <= len). */
void ch_buf_consume(struct ch_buf *b, size_t n);
/* Moves the content out as a NUL-terminated heap string the caller frees
 * with free(); the buffer is left empty. NULL on allocation failure. */
char *ch_buf_take(struct ch_buf *b);

/* A copy of s cut to at most max bytes, NUL-terminated (free with free);
 * NULL when out of memory. */
char *ch_strndup(const char *s, size_t max);

#endif
