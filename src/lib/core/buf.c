#include "lib/core/buf.h"
#include "lib/core/err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ch_buf_init(struct ch_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void ch_buf_cleanup(struct ch_buf *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void ch_buf_reset(struct ch_buf *b)
{
	b->off = b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for n more bytes plus the terminating NUL. Growing copies
 * into a new block and wipes the old one: a buffer may hold secrets, and
 * realloc would leave copies of them in freed memory. */
static int reserve(struct ch_buf *b, size_t n)
{
	size_t need, ncap;
	char *p;

	/* The NUL needs one byte beyond max, so max may be SIZE_MAX only in
	 * name: the sum below must not wrap. */
	if (n > b->max - b->len || n >= SIZE_MAX / 2 - b->len)
		return CH_ERR_LIMIT;
	need = b->len + n + 1;
	if (b->off + need <= b->cap)
		return CH_OK;
	if (need <= b->cap) {	/* enough room once compacted */
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return CH_OK;
	}
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;	/* need < SIZE_MAX / 2: cannot wrap */
	if ((p = malloc(ncap)) == NULL)
		return CH_ERR_NOMEM;
	if (b->data) {
		memcpy(p, b->data + b->off, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->off = 0;
	b->cap = ncap;
	return CH_OK;
}

int ch_buf_put(struct ch_buf *b, const void *p, size_t n)
{
	int r;

	if ((r = reserve(b, n)) != CH_OK)
		return r;
	if (n)
		memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	b->data[b->off + b->len] = '\0';
	return CH_OK;
}

int ch_buf_puts(struct ch_buf *b, const char *s)
{
	return ch_buf_put(b, s, strlen(s));
}

int ch_buf_printf(struct ch_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CH_ERR_INVAL;
	if ((r = reserve(b, (size_t)n)) != CH_OK)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->off + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return CH_OK;
}

void ch_buf_consume(struct ch_buf *b, size_t n)
{
	if (n >= b->len) {
		ch_buf_reset(b);
		return;
	}
	b->off += n;
	b->len -= n;
}

char *ch_buf_take(struct ch_buf *b)
{
	char *s;

	if (b->data == NULL)
		return strdup("");
	if (b->off)
		memmove(b->data, b->data + b->off, b->len + 1);
	s = b->data;
	b->data = NULL;
	b->off = b->len = b->cap = 0;
	return s;
}

char *ch_strndup(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *c = malloc(n + 1);

	if (c) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}
