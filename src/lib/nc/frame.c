/* frame.c - NETCONF message framing, RFC 6242 section 4.
 *
 * ch_frame_feed() only appends to the input buffer; all decoding happens in
 * ch_frame_next(), so a mode switch between two messages applies to every
 * byte not yet handed out.
 *
 * EOM mode: the raw message is everything before the first "]]>]]>". The
 * scan resumes where the previous call stopped (minus a possible partial
 * delimiter), so drip-feeding is linear. Input is consumed only when a whole
 * message is found (style B2), which keeps bytes that follow the hello for
 * the chunked decoder.
 *
 * Leading whitespace: RFC 6242 defines no separator between EOM messages,
 * but some peers send a newline after "]]>]]>". XML allows whitespace
 * outside the root element (Misc), so in EOM mode whitespace (SP, HT, CR,
 * LF) at the start of a message is dropped when the message is handed out;
 * it still counts against max_msg. The chunked grammar (4.2) has no such
 * slack: there anything but the exact grammar is CH_ERR_PROTO.
 *
 * Chunked mode: a byte-wise state machine over the chunk headers; chunk
 * data is moved to the message buffer as it arrives, so a 4 GB chunk is
 * never buffered twice and max_msg is enforced on the message, not on the
 * chunk.
 */
#include "lib/nc/frame.h"
#include "lib/core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EOM_DELIM "]]>]]>"
#define EOM_DELIM_LEN 6
/* ch_buf computes len + n + 1: a max this far from SIZE_MAX is safe. Undecoded
 * input may exceed max_msg by CH_FRAME_FEED_SLACK (limits.h). */
#define BUF_MAX_SANE ((size_t)-1 / 2)
#define CHUNK_DIGITS_MAX 10	/* "4294967295" */
#define ERR_TEXT_LEN 160

enum chunk_state {
	CS_LF,		/* expect LF opening a chunk or the end-of-chunks */
	CS_HASH,	/* after LF: expect '#' */
	CS_FIRST,	/* after "\n#": expect DIGIT1 or '#' */
	CS_SIZE,	/* in chunk-size: expect DIGIT or LF */
	CS_DATA,	/* chunk_size data bytes to go */
	CS_END_LF,	/* after "\n##": expect LF */
};

struct ch_frame {
	struct ch_buf in;	/* fed, not yet decoded */
	struct ch_buf msg;	/* chunked: message decoded so far */
	size_t max_msg;
	enum ch_frame_mode mode;
	int err;		/* sticky CH_ERR_PROTO / CH_ERR_LIMIT, or 0 */
	char errtext[ERR_TEXT_LEN];
	/* EOM: no delimiter starts before this offset into in */
	size_t eom_scan;
	/* chunked */
	enum chunk_state cs;
	uint64_t chunk_size;	/* size being parsed, then data left */
	unsigned int ndigits;
	size_t nchunks;		/* chunks in the current message */
};

static int fail(struct ch_frame *f, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ch_frame *f, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->errtext, sizeof(f->errtext), fmt, ap);
	va_end(ap);
	f->err = code;
	return code;
}

static void reset_state(struct ch_frame *f)
{
	f->eom_scan = 0;
	f->cs = CS_LF;
	f->chunk_size = 0;
	f->ndigits = 0;
	f->nchunks = 0;
	ch_buf_reset(&f->msg);
}

struct ch_frame *ch_frame_new(size_t max_msg)
{
	struct ch_frame *f;
	size_t in_max;

	if (max_msg == 0)
		max_msg = CH_FRAME_MAX_MSG_DEFAULT;
	/* ch_buf computes len + n + 1: keep its max far from SIZE_MAX */
	in_max = max_msg > BUF_MAX_SANE - CH_FRAME_FEED_SLACK ? BUF_MAX_SANE :
		 max_msg + CH_FRAME_FEED_SLACK;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->max_msg = max_msg;
	f->mode = CH_FRAME_EOM;
	ch_buf_init(&f->in, in_max);
	ch_buf_init(&f->msg, max_msg < BUF_MAX_SANE ? max_msg : BUF_MAX_SANE);
	reset_state(f);
	return f;
}

void ch_frame_free(struct ch_frame *f)
{
	if (f == NULL)
		return;
	ch_buf_cleanup(&f->in);
	ch_buf_cleanup(&f->msg);
	free(f);
}

/* Switching drops a chunked message that is only partly decoded; the API
 * switches once, between messages, so that never happens in practice.
 * Setting the current mode again changes nothing. */
void ch_frame_set_mode(struct ch_frame *f, enum ch_frame_mode mode)
{
	if (f->mode == mode)
		return;
	f->mode = mode;
	reset_state(f);
}

enum ch_frame_mode ch_frame_mode(const struct ch_frame *f)
{
	return f->mode;
}

const char *ch_frame_error(const struct ch_frame *f)
{
	return f->err ? f->errtext : "";
}

int ch_frame_feed(struct ch_frame *f, const void *data, size_t len)
{
	int r;

	if (f->err)
		return f->err;
	if ((r = ch_buf_put(&f->in, data, len)) == CH_ERR_LIMIT)
		return fail(f, r, "more than %zu bytes of undecoded input",
			    f->in.max);
	return r;	/* CH_OK, or CH_ERR_NOMEM with nothing changed */
}

static int is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Length of the longest proper prefix of the delimiter ending p[0..n). */
static size_t delim_tail(const char *p, size_t n)
{
	size_t k;

	for (k = EOM_DELIM_LEN - 1; k > 0; k--)
		if (k <= n && memcmp(p + n - k, EOM_DELIM, k) == 0)
			return k;
	return 0;
}

static int next_eom(struct ch_frame *f, char **msg, size_t *len)
{
	const char *p = ch_buf_ptr(&f->in), *d;
	size_t n = ch_buf_len(&f->in), end, ws, mlen;
	char *m;

	if (f->eom_scan < n) {
		d = memmem(p + f->eom_scan, n - f->eom_scan,
			   EOM_DELIM, EOM_DELIM_LEN);
		if (d == NULL) {
			end = n - delim_tail(p, n);
			if (end > f->eom_scan)
				f->eom_scan = end;
		} else {
			f->eom_scan = (size_t)(d - p);
		}
	}
	if (f->eom_scan > f->max_msg)
		return fail(f, CH_ERR_LIMIT,
			    "message exceeds %zu bytes without \"]]>]]>\"",
			    f->max_msg);
	if (f->eom_scan + EOM_DELIM_LEN > n ||
	    memcmp(p + f->eom_scan, EOM_DELIM, EOM_DELIM_LEN) != 0)
		return CH_ERR_AGAIN;

	end = f->eom_scan;
	for (ws = 0; ws < end && is_xml_space(p[ws]); ws++)
		;
	mlen = end - ws;
	if ((m = malloc(mlen + 1)) == NULL)
		return CH_ERR_NOMEM;	/* nothing consumed: retry works */
	memcpy(m, p + ws, mlen);
	m[mlen] = '\0';
	ch_buf_consume(&f->in, end + EOM_DELIM_LEN);
	f->eom_scan = 0;
	*msg = m;
	*len = mlen;
	return CH_OK;
}

/* One header byte of the chunked grammar. CH_OK to go on, CH_ERR_AGAIN
 * never; CH_ERR_PROTO / CH_ERR_LIMIT (sticky) on a violation. Sets *done
 * when the byte completed the end-of-chunks. */
static int chunk_header_byte(struct ch_frame *f, unsigned char c, int *done)
{
	switch (f->cs) {
	case CS_LF:
		if (c != '\n')
			return fail(f, CH_ERR_PROTO,
				    "expected LF before chunk header, got 0x%02x",
				    c);
		f->cs = CS_HASH;
		break;
	case CS_HASH:
		if (c != '#')
			return fail(f, CH_ERR_PROTO,
				    "expected '#' after LF in chunk header, got 0x%02x",
				    c);
		f->cs = CS_FIRST;
		break;
	case CS_FIRST:
		if (c == '#') {
			if (f->nchunks == 0)
				return fail(f, CH_ERR_PROTO,
					    "end-of-chunks before any chunk");
			f->cs = CS_END_LF;
		} else if (c == '0') {
			return fail(f, CH_ERR_PROTO,
				    "chunk size starts with '0' (zero or leading zero)");
		} else if (c >= '1' && c <= '9') {
			f->chunk_size = c - '0';
			f->ndigits = 1;
			f->cs = CS_SIZE;
		} else {
			return fail(f, CH_ERR_PROTO,
				    "expected chunk size or '#' after \"\\n#\", got 0x%02x",
				    c);
		}
		break;
	case CS_SIZE:
		if (c >= '0' && c <= '9') {
			if (++f->ndigits > CHUNK_DIGITS_MAX)
				return fail(f, CH_ERR_PROTO,
					    "chunk size has more than %d digits",
					    CHUNK_DIGITS_MAX);
			f->chunk_size = f->chunk_size * 10 + (c - '0');
			if (f->chunk_size > CH_FRAME_CHUNK_SIZE_MAX)
				return fail(f, CH_ERR_PROTO,
					    "chunk size above %llu",
					    CH_FRAME_CHUNK_SIZE_MAX);
		} else if (c == '\n') {
			if (f->chunk_size > f->max_msg)
				return fail(f, CH_ERR_LIMIT,
					    "chunk size %llu above the message limit %zu",
					    (unsigned long long)f->chunk_size,
					    f->max_msg);
			if (f->chunk_size > f->max_msg - ch_buf_len(&f->msg))
				return fail(f, CH_ERR_LIMIT,
					    "chunked message above the limit %zu",
					    f->max_msg);
			f->cs = CS_DATA;
		} else {
			return fail(f, CH_ERR_PROTO,
				    "expected digit or LF in chunk size, got 0x%02x",
				    c);
		}
		break;
	case CS_END_LF:
		if (c != '\n')
			return fail(f, CH_ERR_PROTO,
				    "expected LF after \"\\n##\", got 0x%02x", c);
		*done = 1;
		break;
	case CS_DATA:
		break;	/* not reached: data is copied in bulk */
	}
	return CH_OK;
}

static int next_chunked(struct ch_frame *f, char **msg, size_t *len)
{
	const char *p;
	size_t n, take;
	int r, done = 0;

	while (!done) {
		p = ch_buf_ptr(&f->in);
		n = ch_buf_len(&f->in);
		if (n == 0)
			return CH_ERR_AGAIN;
		if (f->cs == CS_DATA) {
			take = f->chunk_size < n ? (size_t)f->chunk_size : n;
			/* the header check makes CH_ERR_LIMIT impossible */
			if ((r = ch_buf_put(&f->msg, p, take)) != CH_OK)
				return r == CH_ERR_LIMIT ? fail(f, r,
					"chunked message above the limit %zu",
					f->max_msg) : r;
			ch_buf_consume(&f->in, take);
			f->chunk_size -= take;
			if (f->chunk_size == 0) {
				f->nchunks++;
				f->cs = CS_LF;
			}
			continue;
		}
		if ((r = chunk_header_byte(f, (unsigned char)p[0], &done)) != CH_OK)
			return r;
		if (done)
			break;
		ch_buf_consume(&f->in, 1);
	}
	/* The final LF is consumed only once the message is out, so
	 * CH_ERR_NOMEM can be retried. */
	*len = ch_buf_len(&f->msg);
	if ((*msg = ch_buf_take(&f->msg)) == NULL) {
		*len = 0;
		return CH_ERR_NOMEM;
	}
	ch_buf_consume(&f->in, 1);
	f->cs = CS_LF;
	f->nchunks = 0;
	return CH_OK;
}

/* Bytes of the header "\n#<n>\n". */
static size_t chunk_hdr_len(size_t n)
{
	return (size_t)snprintf(NULL, 0, "\n#%zu\n", n);
}

int ch_frame_next(struct ch_frame *f, char **msg, size_t *len)
{
	*msg = NULL;
	*len = 0;
	if (f->err)
		return f->err;
	if (f->mode == CH_FRAME_CHUNKED)
		return next_chunked(f, msg, len);
	return next_eom(f, msg, len);
}

int ch_frame_encode(struct ch_buf *out, enum ch_frame_mode mode,
		    const char *msg, size_t len)
{
	char *tmp, *w;
	size_t total, room, off, n, nfull, rem;
	int r;

	room = out->max - ch_buf_len(out);
	if (len > room || len > (size_t)-1 / 2)	/* no overflow below */
		return CH_ERR_LIMIT;
	if (mode == CH_FRAME_EOM) {
		/* The delimiter inside the message would split it (and let
		 * message content forge a second message). A message ending
		 * in "]]>" would end early too: the delimiter has period 3.
		 * Neither can be well-formed XML. */
		if ((len >= EOM_DELIM_LEN &&
		     memmem(msg, len, EOM_DELIM, EOM_DELIM_LEN) != NULL) ||
		    (len >= 3 && memcmp(msg + len - 3, "]]>", 3) == 0))
			return CH_ERR_INVAL;
		if (EOM_DELIM_LEN > room - len)
			return CH_ERR_LIMIT;
		total = len + EOM_DELIM_LEN;
	} else {
		if (len == 0)
			return CH_ERR_INVAL;
		nfull = len / CH_FRAME_ENCODE_CHUNK;
		rem = len % CH_FRAME_ENCODE_CHUNK;
		total = len + 4 + nfull * chunk_hdr_len(CH_FRAME_ENCODE_CHUNK) +
			(rem ? chunk_hdr_len(rem) : 0);
		if (total > room)
			return CH_ERR_LIMIT;
	}
	/* Frame into a scratch copy so a failure appends nothing (D4). */
	if ((tmp = malloc(total + 1)) == NULL)
		return CH_ERR_NOMEM;
	w = tmp;
	if (mode == CH_FRAME_EOM) {
		if (len)
			memcpy(w, msg, len);
		memcpy(w + len, EOM_DELIM, EOM_DELIM_LEN);
	} else {
		for (off = 0; off < len; off += n) {
			n = len - off < CH_FRAME_ENCODE_CHUNK ?
			    len - off : CH_FRAME_ENCODE_CHUNK;
			/* +1: snprintf's NUL lands on the next byte */
			w += snprintf(w, chunk_hdr_len(n) + 1, "\n#%zu\n", n);
			memcpy(w, msg + off, n);
			w += n;
		}
		memcpy(w, "\n##\n", 4);
	}
	r = ch_buf_put(out, tmp, total);
	free(tmp);
	return r;
}
