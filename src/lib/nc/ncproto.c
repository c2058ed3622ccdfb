#include "lib/nc/ncproto.h"
#include "lib/core/err.h"
#include "lib/nc/frame.h"
#include "lib/core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ch_nc {
	enum ch_nc_role role;
	uint32_t session_id;
	char **caps;
	size_t ncaps;
	struct ch_frame *frame;
	const struct ch_nc_ops *ops;
	void *ctx;
	struct ch_hello peer;
	int hello_sent;
	int ready;
	char error[256];
};

struct ch_nc *ch_nc_new(enum ch_nc_role role, uint32_t session_id,
			const char *const *caps, size_t ncaps, size_t max_msg,
			const struct ch_nc_ops *ops, void *ctx)
{
	struct ch_nc *nc = calloc(1, sizeof(*nc));

	if (nc == NULL)
		return NULL;
	nc->role = role;
	nc->session_id = session_id;
	nc->ops = ops;
	nc->ctx = ctx;
	if ((nc->frame = ch_frame_new(max_msg)) == NULL)
		goto fail;
	if (ncaps && (nc->caps = calloc(ncaps, sizeof(char *))) == NULL)
		goto fail;
	for (size_t i = 0; i < ncaps; i++) {
		if ((nc->caps[i] = strdup(caps[i])) == NULL)
			goto fail;
		nc->ncaps++;
	}
	return nc;
fail:
	ch_nc_free(nc);
	return NULL;
}

void ch_nc_free(struct ch_nc *nc)
{
	if (nc == NULL)
		return;
	for (size_t i = 0; i < nc->ncaps; i++)
		free(nc->caps[i]);
	free(nc->caps);
	ch_frame_free(nc->frame);
	ch_hello_cleanup(&nc->peer);
	free(nc);
}

/* Records why the session must end; returns r. */
static int fail(struct ch_nc *nc, int r, const char *what, const char *detail)
{
	snprintf(nc->error, sizeof(nc->error), "%s%s", what, detail);
	return r;
}

int ch_nc_start(struct ch_nc *nc)
{
	struct ch_buf out;
	int r;

	if (nc->hello_sent)
		return CH_ERR_INVAL;
	ch_buf_init(&out, CH_FRAME_MAX_MSG_DEFAULT);
	if ((r = ch_hello_build(&out, (const char *const *)nc->caps, nc->ncaps,
				nc->role == CH_NC_SERVER ? nc->session_id : 0)) ||
	    (r = ch_buf_put(&out, "]]>]]>", 6)))
		goto out;
	nc->hello_sent = 1;
	r = nc->ops->send(nc->ctx, ch_buf_ptr(&out), ch_buf_len(&out));
out:
	ch_buf_cleanup(&out);
	return r;
}

static int has_cap(char *const *caps, size_t n, const char *cap)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(caps[i], cap) == 0)
			return 1;
	return 0;
}

static int take_hello(struct ch_nc *nc, const char *msg, size_t len)
{
	const char *why = NULL;
	int chunked = 0, r;

	if ((r = ch_hello_parse(msg, len, &nc->peer)) != CH_OK)
		return fail(nc, CH_ERR_PROTO,
			    "the peer's first message is not a valid <hello>", "");
	if (ch_hello_negotiate(&nc->peer, nc->role == CH_NC_SERVER, &chunked,
			       &why) != CH_OK)
		return fail(nc, CH_ERR_PROTO, "hello refused: ", why);
	/* That read the peer's hello alone; the base version must be one
	 * both offered (RFC 6241 8.1), base:1.1 framing only when both
	 * offered it (RFC 6242 4.1). */
	if (chunked && !has_cap(nc->caps, nc->ncaps, CH_NC_BASE11))
		chunked = 0;
	if (!chunked && (!has_cap(nc->caps, nc->ncaps, CH_NC_BASE10) ||
			 !has_cap(nc->peer.caps, nc->peer.ncaps, CH_NC_BASE10)))
		return fail(nc, CH_ERR_PROTO, "hello refused: ",
			    "no common NETCONF base version");
	if (chunked)
		ch_frame_set_mode(nc->frame, CH_FRAME_CHUNKED);
	nc->ready = 1;
	ch_debug("hello accepted: %zu capabilities, %s framing",
		 nc->peer.ncaps, chunked ? "chunked (base:1.1)" : "EOM (base:1.0)");
	if (nc->ops->on_hello)
		nc->ops->on_hello(nc->ctx, &nc->peer);
	return CH_OK;
}

int ch_nc_input(struct ch_nc *nc, const void *data, size_t len)
{
	char *msg;
	size_t mlen;
	int r;

	if ((r = ch_frame_feed(nc->frame, data, len)) != CH_OK)
		return fail(nc, r, "framing: ", *ch_frame_error(nc->frame) ?
			    ch_frame_error(nc->frame) : ch_strerror(r));
	for (;;) {
		r = ch_frame_next(nc->frame, &msg, &mlen);
		if (r == CH_ERR_AGAIN)
			return CH_OK;
		if (r != CH_OK)
			return fail(nc, r, "framing: ",
				    *ch_frame_error(nc->frame) ?
				    ch_frame_error(nc->frame) : ch_strerror(r));
		if (!nc->ready)
			r = take_hello(nc, msg, mlen);
		else
			r = nc->ops->on_message(nc->ctx, msg, mlen);
		free(msg);
		if (r != CH_OK)
			return r;
	}
}

int ch_nc_send(struct ch_nc *nc, const char *msg, size_t len)
{
	struct ch_buf out;
	int r;

	if (!nc->ready)
		return CH_ERR_INVAL;
	if (len > CH_MAX_MESSAGE_MAX) {	/* no peer of ours would take it */
		ch_log(CH_LOG_WARN, "NETCONF: a %zu-byte message not sent: "
		       "over %u bytes (CH_MAX_MESSAGE_MAX)", len,
		       (unsigned)CH_MAX_MESSAGE_MAX);
		return CH_ERR_LIMIT;
	}
	ch_buf_init(&out, CH_FRAME_ENCODED_MAX(len));
	r = ch_frame_encode(&out, ch_frame_mode(nc->frame), msg, len);
	if (r == CH_OK)
		r = nc->ops->send(nc->ctx, ch_buf_ptr(&out), ch_buf_len(&out));
	ch_buf_cleanup(&out);
	return r;
}

int ch_nc_ready(const struct ch_nc *nc)
{
	return nc->ready;
}

int ch_nc_chunked(const struct ch_nc *nc)
{
	return ch_frame_mode(nc->frame) == CH_FRAME_CHUNKED;
}

const struct ch_hello *ch_nc_peer_hello(const struct ch_nc *nc)
{
	return &nc->peer;
}

const char *ch_nc_error(const struct ch_nc *nc)
{
	return nc->error;
}
