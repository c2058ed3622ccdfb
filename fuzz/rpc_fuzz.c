/* rpc_fuzz.c - libFuzzer target for <rpc> parsing, the reply builders and
 * ch_rpc_build.
 *
 * Server side: an input that parses as an <rpc> is answered with ok, data
 * and error replies; each must parse as an <rpc-reply> carrying the same
 * message-id (the builders echo the <rpc>'s attributes and namespace
 * declarations, so this checks they stay well-formed). Client side: the
 * input is also used as op_xml; when ch_rpc_build accepts it, the result
 * must parse as an <rpc> with our message-id and an operation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/nc/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The reply in b parses, answers rpc, and has what kind asks for. */
static void check_reply(const struct ch_buf *b, const struct ch_rpc *rpc,
			int kind)
{
	struct ch_reply rep;

	if (ch_reply_parse(ch_buf_ptr(b), ch_buf_len(b), &rep) != CH_OK)
		abort();
	if (!same(rep.message_id, rpc ? rpc->message_id : NULL))
		abort();
	switch (kind) {
	case 0:
		if (!rep.is_ok || rep.has_error)
			abort();
		break;
	case 1:
		if (rep.is_ok || rep.has_error)
			abort();
		break;
	default:
		if (rep.is_ok || !rep.has_error ||
		    !same(rep.error_tag, "operation-not-supported") ||
		    !same(rep.error_message, "no <such> \"op\" & more"))
			abort();
		break;
	}
	ch_reply_cleanup(&rep);
}

static void server_side(const uint8_t *data, size_t size)
{
	static const struct ch_rpc_error e = {
		.type = "protocol", .tag = "operation-not-supported",
		.path = "/a:b[c=\"'\"]", .message = "no <such> \"op\" & more",
		.info_xml = "<bad-element>x</bad-element>",
	};
	struct ch_rpc *rpc = NULL;
	struct ch_buf b;

	if (ch_rpc_parse((const char *)data, size, &rpc) != CH_OK) {
		if (rpc != NULL)
			abort();
		return;
	}
	if (rpc->doc == NULL || rpc->rpc == NULL ||
	    (rpc->op == NULL) != (rpc->op_name == NULL))
		abort();
	ch_buf_init(&b, 2 * (size_t)CH_XML_MAX_SIZE);
	if (ch_reply_ok(&b, rpc) != CH_OK)
		abort();
	check_reply(&b, rpc, 0);
	ch_buf_reset(&b);
	if (ch_reply_data(&b, rpc, "<x xmlns=\"urn:x\">&lt;</x>", 25) != CH_OK)
		abort();
	check_reply(&b, rpc, 1);
	ch_buf_reset(&b);
	if (ch_reply_error(&b, rpc, &e) != CH_OK)
		abort();
	check_reply(&b, rpc, 2);
	ch_buf_reset(&b);
	if (ch_reply_error(&b, NULL, &e) != CH_OK)
		abort();
	check_reply(&b, NULL, 2);
	ch_buf_cleanup(&b);
	ch_rpc_free(rpc);
}

static void client_side(const uint8_t *data, size_t size)
{
	struct ch_rpc *rpc = NULL;
	struct ch_buf b;
	const char *why = NULL;
	char *op = malloc(size + 1);
	int r;

	if (op == NULL)
		return;
	memcpy(op, data, size);
	op[size] = '\0';
	ch_buf_init(&b, 2 * (size_t)CH_XML_MAX_SIZE);
	r = ch_rpc_build(&b, 4242, op, &why);
	if (r != CH_OK) {
		if (ch_buf_len(&b) != 0 ||
		    (r == CH_ERR_PROTO && why == NULL))
			abort();
		goto out;
	}
	if (why != NULL)
		abort();
	if (ch_rpc_parse(ch_buf_ptr(&b), ch_buf_len(&b), &rpc) != CH_OK)
		abort();
	if (!same(rpc->message_id, "4242") || rpc->op == NULL)
		abort();
	ch_rpc_free(rpc);
out:
	ch_buf_cleanup(&b);
	free(op);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	server_side(data, size);
	client_side(data, size);
	return 0;
}
