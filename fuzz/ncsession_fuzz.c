/* ncsession_fuzz.c - libFuzzer target for the NETCONF session engine
 * (src/lib/nc/ncproto.c): the hello exchange, framing and the base:1.0 to
 * base:1.1 switch, driven as a transport drives it.
 *
 * The first input byte steers the run, the rest is what the peer sends:
 *   bit 0     our role (0 client, 1 server)
 *   bits 1-2  our capabilities: base 1.0+1.1, 1.0 only, 1.1 only, both
 *             plus a module capability
 *   bits 3-5  how the stream is cut into ch_nc_input() calls (piece.h)
 *   bits 6-7  max_msg: default, 64, 512 or 4096 bytes
 * Every message the engine delivers is echoed with ch_nc_send (a server
 * answering, a client sending its next rpc) unless it starts with
 * "<close", which stops input as a <close-session> would. What the engine
 * sends goes to a bounded sink and is decoded again by a second
 * ch_frame: our hello (EOM framed, our capabilities, a session-id exactly
 * when we are the server) and then each echo, in the framing the engine
 * says it uses. Checks: a session needs a base version both sides offer
 * and is chunked exactly when both offer base:1.1 (RFC 6242 4.1);
 * nothing is delivered or sendable before the hello;
 * a failure is CH_ERR_PROTO or CH_ERR_LIMIT with a reason; the engine's
 * view (ready, chunked, peer hello) matches what was negotiated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/nc/frame.h"
#include "piece.h"
#include "lib/nc/msg.h"
#include "lib/nc/ncproto.h"

#define SINK_MAX (1u << 20)	/* bytes the engine may send per step */
#define SESSION_ID 4711

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t max_msgs[4] = { 0, 64, 512, 4096 };

static const char *const caps_both[] = { CH_NC_BASE10, CH_NC_BASE11 };
static const char *const caps_10[] = { CH_NC_BASE10 };
static const char *const caps_11[] = { CH_NC_BASE11 };
static const char *const caps_mod[] = {
	CH_NC_BASE10, CH_NC_BASE11,
	"urn:example:system?module=example-system&revision=2026-11-01",
};

static const struct {
	const char *const *caps;
	size_t n;
} cap_sets[4] = {
	{ caps_both, 2 }, { caps_10, 1 }, { caps_11, 1 }, { caps_mod, 3 },
};

struct run {
	struct ch_nc *nc;
	int role;
	size_t set;
	struct ch_buf sink;	/* what the engine sent, not yet decoded */
	struct ch_frame *wire;	/* decodes the sink */
	int hello_seen;		/* our hello came out of the wire */
	int hellos;		/* on_hello calls */
	int in_callback;
};

static int is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int sink_send(void *ctx, const char *data, size_t len)
{
	struct run *u = ctx;

	return ch_buf_put(&u->sink, data, len);	/* CH_ERR_LIMIT when full */
}

/* Our hello, as the peer reads it. */
static void check_our_hello(const struct run *u, const char *msg, size_t len)
{
	struct ch_hello h;

	if (ch_hello_parse(msg, len, &h) != CH_OK ||
	    h.ncaps != cap_sets[u->set].n ||
	    h.has_session_id != (u->role == CH_NC_SERVER) ||
	    (h.has_session_id && h.session_id != SESSION_ID))
		abort();
	for (size_t i = 0; i < h.ncaps; i++)
		if (strcmp(h.caps[i], cap_sets[u->set].caps[i]) != 0)
			abort();
	ch_hello_cleanup(&h);
}

/* Decodes everything in the sink; expect (when not NULL) is the one
 * message that must come out after the hello. */
static void drain(struct run *u, const char *expect, size_t elen)
{
	char *msg;
	size_t len, ws = 0;
	int got = 0;

	if (ch_buf_len(&u->sink) == 0 && expect == NULL)
		return;
	if (ch_frame_feed(u->wire, ch_buf_ptr(&u->sink),
			  ch_buf_len(&u->sink)) != CH_OK)
		abort();
	ch_buf_reset(&u->sink);
	while (ch_frame_next(u->wire, &msg, &len) == CH_OK) {
		if (!u->hello_seen) {
			check_our_hello(u, msg, len);
			u->hello_seen = 1;
		} else {
			if (expect == NULL || got++)
				abort();	/* nothing else is sent */
			if (ch_frame_mode(u->wire) == CH_FRAME_EOM)
				while (ws < elen && is_xml_space(expect[ws]))
					ws++;
			if (len != elen - ws || memcmp(msg, expect + ws, len))
				abort();
		}
		free(msg);
	}
	if (*ch_frame_error(u->wire) || (expect != NULL && got != 1))
		abort();
}

static int has(const char *const *caps, size_t n, const char *cap)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(caps[i], cap) == 0)
			return 1;
	return 0;
}

static void on_hello(void *ctx, const struct ch_hello *peer)
{
	struct run *u = ctx;
	const char *const *ours = cap_sets[u->set].caps;
	size_t n = cap_sets[u->set].n;
	int both10, both11;

	both10 = has(ours, n, CH_NC_BASE10) &&
		 has((const char *const *)peer->caps, peer->ncaps,
		     CH_NC_BASE10);
	both11 = has(ours, n, CH_NC_BASE11) &&
		 has((const char *const *)peer->caps, peer->ncaps,
		     CH_NC_BASE11);
	/* RFC 6242 4.1: chunked when both offer base:1.1; RFC 6241 8.1: no
	 * session without a base version in common */
	if ((!both10 && !both11) || ch_nc_chunked(u->nc) != both11)
		abort();
	u->hellos++;
	if (u->hellos != 1 || !ch_nc_ready(u->nc) ||
	    peer != ch_nc_peer_hello(u->nc))
		abort();
	/* the framing after the hello is the engine's, from now on */
	ch_frame_set_mode(u->wire, ch_nc_chunked(u->nc) ? CH_FRAME_CHUNKED
							: CH_FRAME_EOM);
	/* a server's peer must not send a session-id; the client needs one */
	if (u->role == CH_NC_SERVER ? peer->has_session_id
				    : !peer->has_session_id)
		abort();
}

static int on_message(void *ctx, const char *msg, size_t len)
{
	struct run *u = ctx;
	int r;

	if (!ch_nc_ready(u->nc) || u->hellos != 1 || msg[len] != '\0')
		abort();
	if (len >= 6 && memcmp(msg, "<close", 6) == 0)
		return CH_ERR_CLOSED;
	r = ch_nc_send(u->nc, msg, len);
	if (r == CH_OK)
		drain(u, msg, len);
	else if (r != CH_ERR_INVAL && r != CH_ERR_LIMIT)
		abort();	/* not representable in this framing, or full */
	ch_buf_reset(&u->sink);
	return CH_OK;
}

static const struct ch_nc_ops ops = {
	.send = sink_send,
	.on_hello = on_hello,
	.on_message = on_message,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run u;
	unsigned int ctl, pattern;
	size_t off = 0, len, i;
	int r = CH_OK;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	memset(&u, 0, sizeof(u));
	u.role = (ctl & 1) ? CH_NC_SERVER : CH_NC_CLIENT;
	u.set = (ctl >> 1) & 3;
	pattern = (ctl >> 3) & 7;
	ch_buf_init(&u.sink, SINK_MAX);
	if ((u.wire = ch_frame_new(0)) == NULL ||
	    (u.nc = ch_nc_new(u.role, SESSION_ID, cap_sets[u.set].caps,
			      cap_sets[u.set].n, max_msgs[(ctl >> 6) & 3],
			      &ops, &u)) == NULL)
		goto out;
	if (ch_nc_send(u.nc, "<x/>", 4) != CH_ERR_INVAL ||
	    ch_nc_start(u.nc) != CH_OK || ch_nc_start(u.nc) != CH_ERR_INVAL)
		abort();
	drain(&u, NULL, 0);
	if (!u.hello_seen)
		abort();
	for (i = 0; off < size; i++) {
		len = fuzz_piece(pattern, i, size - off);
		r = ch_nc_input(u.nc, data + off, len);
		off += len;
		if (r != CH_OK)
			break;
	}
	if (r == CH_ERR_CLOSED)
		goto out;
	if (r != CH_OK &&
	    ((r != CH_ERR_PROTO && r != CH_ERR_LIMIT) ||
	     ch_nc_error(u.nc)[0] == '\0'))
		abort();
	if (r == CH_OK && ch_nc_error(u.nc)[0] != '\0')
		abort();
	if (ch_nc_ready(u.nc) != (u.hellos == 1))
		abort();
	if (!ch_nc_ready(u.nc) && ch_nc_send(u.nc, "<x/>", 4) != CH_ERR_INVAL)
		abort();
out:
	ch_nc_free(u.nc);
	ch_frame_free(u.wire);
	ch_buf_cleanup(&u.sink);
	return 0;
}
