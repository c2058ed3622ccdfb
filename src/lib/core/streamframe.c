/* streamframe.c - the terminal stream's framing (streamframe.h). */
#include "lib/core/streamframe.h"

#include <string.h>

#include "lib/core/err.h"

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Whether a header's type and length can be a frame. */
static int header_ok(uint8_t type, uint32_t len, uint32_t max)
{
	if (len > max)
		return 0;
	switch (type) {
	case CH_SFRAME_STDIN:
	case CH_SFRAME_STDOUT:
	case CH_SFRAME_STDERR:
	case CH_SFRAME_CLOSE:
		return 1;
	case CH_SFRAME_EOF:
		return len == 0;
	case CH_SFRAME_RESIZE:
		return len == 8;
	case CH_SFRAME_EXIT:
		return len >= 4 && len <= 4 + CH_SFRAME_SIGNAL_MAX;
	default:
		return 0;
	}
}

/* A signal name: printable ASCII with no spaces. */
static int signal_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] > '~')
			return 0;
	return 1;
}

int ch_sframe_parse(const uint8_t *p, size_t n, uint32_t max,
		    struct ch_sframe *f, size_t *used)
{
	uint32_t len;

	memset(f, 0, sizeof(*f));
	*used = 0;
	if (n < CH_SFRAME_HDR)
		return CH_ERR_AGAIN;
	len = get32(p + 1);
	if (!header_ok(p[0], len, max))
		return CH_ERR_INVAL;
	if (n - CH_SFRAME_HDR < len)
		return CH_ERR_AGAIN;
	if (p[0] == CH_SFRAME_EXIT &&
	    !signal_ok(p + CH_SFRAME_HDR + 4, len - 4))
		return CH_ERR_INVAL;
	f->type = (enum ch_sframe_type)p[0];
	f->payload = p + CH_SFRAME_HDR;
	f->len = len;
	*used = CH_SFRAME_HDR + (size_t)len;
	return CH_OK;
}

void ch_sframe_header(uint8_t hdr[CH_SFRAME_HDR], enum ch_sframe_type type,
		      uint32_t len)
{
	hdr[0] = (uint8_t)type;
	put32(hdr + 1, len);
}

void ch_sframe_resize_put(uint8_t out[8], uint32_t cols, uint32_t rows)
{
	put32(out, cols);
	put32(out + 4, rows);
}

void ch_sframe_resize_get(const struct ch_sframe *f, uint32_t *cols,
			  uint32_t *rows)
{
	*cols = get32(f->payload);
	*rows = get32(f->payload + 4);
}

size_t ch_sframe_exit_put(uint8_t out[4 + CH_SFRAME_SIGNAL_MAX],
			  int32_t status, const char *signal)
{
	size_t n = 0;

	put32(out, (uint32_t)status);
	if (signal) {
		n = strlen(signal);
		if (n > CH_SFRAME_SIGNAL_MAX)
			n = CH_SFRAME_SIGNAL_MAX;
		memcpy(out + 4, signal, n);
	}
	return 4 + n;
}

void ch_sframe_exit_get(const struct ch_sframe *f, int32_t *status,
			char sig[CH_SFRAME_SIGNAL_MAX + 1])
{
	size_t n = f->len - 4;

	*status = (int32_t)get32(f->payload);
	memcpy(sig, f->payload + 4, n);
	sig[n] = '\0';
}

const char *ch_sframe_type_name(int type)
{
	static const char *const names[] = {
		[CH_SFRAME_STDIN] = "stdin", [CH_SFRAME_STDOUT] = "stdout",
		[CH_SFRAME_STDERR] = "stderr", [CH_SFRAME_EOF] = "eof",
		[CH_SFRAME_RESIZE] = "resize", [CH_SFRAME_EXIT] = "exit",
		[CH_SFRAME_CLOSE] = "close",
	};

	if (type < CH_SFRAME_STDIN || type > CH_SFRAME_CLOSE)
		return "?";
	return names[type];
}
