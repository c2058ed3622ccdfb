/* xport_impl.h - what a transport kind (sshmux.c, tlsxport.c, fdxport.c)
 * shares with the generic part (xport.c). Not for the layers above: they
 * use xport.h only.
 *
 * The generic part keeps the list of streams, their ids and the cap, the
 * owner's callbacks and the order of the end: every stream's closed(),
 * then down(), then the kind's teardown, then closed(). A kind does the
 * I/O and reports what happened through the ch_xport_* / ch_stream_*
 * functions below; it never calls the owner's callbacks for the end
 * itself.
 */
#ifndef CH_XPORT_IMPL_H
#define CH_XPORT_IMPL_H

#include "lib/xport/xport.h"

struct ch_xport_impl {
	const char *name;		/* "ssh", "tls", "fd" */
	enum ch_xport_kind kind;
	void (*deadline)(struct ch_xport *x, uint64_t ms, const char *why);
	int (*keepalive)(struct ch_xport *x, uint32_t interval_ms,
			 uint32_t count);	/* NULL: CH_ERR_INVAL */
	/* Client role: start opening s (its req is set); the kind calls
	 * ch_stream_opened later. NULL: streams cannot be opened. */
	int (*open)(struct ch_xport *x, struct ch_stream *s);
	int (*write)(struct ch_stream *s, const void *p, size_t n);
	/* stderr (server role); NULL: written as data */
	int (*write_err)(struct ch_stream *s, const void *p, size_t n);
	size_t (*pending)(const struct ch_stream *s);
	void (*pause)(struct ch_stream *s, int paused);	/* s->paused set */
	void (*eof)(struct ch_stream *s);
	void (*exit_status)(struct ch_stream *s, int status); /* may be NULL */
	void (*exit_signal)(struct ch_stream *s, const char *signal,
			    int core, const char *msg);	/* may be NULL */
	int (*signal)(struct ch_stream *s, const char *name); /* may be NULL */
	void (*resize)(struct ch_stream *s, uint32_t cols,
		       uint32_t rows);		/* may be NULL */
	/* Start closing s (after its queue, or at once with hard); the kind
	 * calls ch_stream_gone when it is done. Called once per stream. */
	void (*stream_close)(struct ch_stream *s, int hard);
	/* Free the kind's part of s (s->impl), after closed(). May be
	 * NULL. */
	void (*stream_free)(struct ch_stream *s);
	/* Every stream is gone and down() was told: close the handles and
	 * the fd, then call ch_xport_finish (from a handle's close
	 * callback). Called once. */
	void (*teardown)(struct ch_xport *x);
	uint64_t (*rx_bytes)(const struct ch_xport *x);
	/* Deferred work of the kind (ch_xport_kick), run after the due
	 * opened() (ch_stream_open_soon) and before the gone streams are
	 * told: e.g. delivering what waited while a stream was paused.
	 * Not called once the kind is torn down. May be NULL. */
	void (*soon)(struct ch_xport *x);
	ssh_session (*ssh)(const struct ch_xport *x);	/* may be NULL */
	struct ch_tls *(*tls)(const struct ch_xport *x);	/* may be NULL */
};

struct ch_stream {
	struct ch_xport *x;
	unsigned id;
	struct ch_stream_req req;	/* strings point at the copies below */
	/* copies sized to fit (ch_text_set): thousands of idle streams
	 * should not each carry buffers for the longest name */
	char *name;
	char *orig_host;
	char *term;
	char **env;			/* req.env's copies */
	const struct ch_stream_cb *cb;	/* NULL until taken */
	void *ctx;
	struct ch_logctx log;		/* the connection's, with chan= */
	int open_due;			/* client role: opened() comes from
					 * the loop (ch_stream_open_soon) */
	int paused;			/* ch_stream_pause(s, 1) */
	int closing;			/* stream_close was called */
	int gone;			/* the kind is done with it */
	int told;			/* closed() was delivered */
	char *why;			/* how it ended (NULL: not yet) */
	void *impl;			/* the kind's state */
	struct ch_stream *next;
};

struct ch_xport {
	const struct ch_xport_impl *impl;
	uv_loop_t *loop;
	enum ch_xport_role role;
	const struct ch_xport_ops *ops;
	void *owner;
	const struct ch_logctx *log;	/* the owner's, or a default */
	struct ch_logctx log_default;
	uint32_t max_streams;
	const char *peer_name;		/* for reasons: "device", "peer" */
	const char *own_key_name;	/* "the hub's", "our" */
	struct ch_stream *streams;
	size_t nstreams;
	struct ch_stream *one;		/* a single-stream kind's stream
					 * (ch_xport_open_one/offer_one):
					 * NULL before, and once freed */
	unsigned next_stream_id;
	int up;
	int closing;
	int down_told;
	int torn_down;
	const char *why;		/* static, or why_buf */
	char *why_buf;			/* a reason built at run time */
	uv_timer_t soon;		/* deferred: due opened(), the
					 * kind's soon(), closed() of gone
					 * streams, the end of the connection */
	int soon_open;
	void *impl_data;		/* the kind's state */
};

/* Sets up the generic part (the kind allocated x with calloc); starts the
 * soon timer handle. CH_ERR_IO if libuv refuses. */
int ch_xport_init(struct ch_xport *x, uv_loop_t *loop,
		  const struct ch_xport_impl *impl, enum ch_xport_role role,
		  const struct ch_xport_opts *o,
		  const struct ch_xport_ops *ops, void *owner);
/* Allocates *xp and size bytes (zeroed) of the kind's state, then
 * ch_xport_init. Returns the state (x->impl_data), or NULL when memory
 * (or libuv) failed: fd is closed then and nothing is left. */
void *ch_xport_new(uv_loop_t *loop, int fd, const struct ch_xport_impl *impl,
		   enum ch_xport_role role, const struct ch_xport_opts *o,
		   const struct ch_xport_ops *ops, void *owner, size_t size,
		   struct ch_xport **xp);
/* Frees a connection whose start failed before anything was reported
 * (closes the soon handle first; x and x->impl_data are freed from the
 * loop, as after closed()). */
void ch_xport_abort(struct ch_xport *x);

/* The peer presented id: the owner's decision (CH_OK or a refusal with
 * *why set). */
int ch_xport_identify(struct ch_xport *x, const struct ch_peer_id *id,
		      const char **why);
/* Authenticated: up() now. */
void ch_xport_set_up(struct ch_xport *x);
/* The connection failed or the peer ended it: as ch_xport_close, with a
 * reason built at run time (copied). */
void ch_xport_fail(struct ch_xport *x, const char *what, const char *detail);
/* The kind's teardown is complete: closed() and free, from the loop. */
void ch_xport_finish(struct ch_xport *x);

/* A new stream for req (copied), linked and counted; NULL at the cap
 * (*capped set) or out of memory. */
struct ch_stream *ch_stream_new(struct ch_xport *x,
				const struct ch_stream_req *req, int *capped);
/* Server role: offers s (its req now complete) to the owner. CH_OK:
 * taken (its callbacks are set). Otherwise it stays untaken: the kind
 * refuses the peer and closes s (an untaken stream gets no closed()). */
int ch_stream_offer(struct ch_stream *s);
/* Client role: the peer took s (CH_OK) or refused it. */
void ch_stream_opened(struct ch_stream *s, int status, const char *why);
/* The kind is done with s: closed() comes from the loop. why: copied. */
void ch_stream_gone(struct ch_stream *s, const char *why);
/* Adds "name=value" to s's req.env (a copy). CH_ERR_LIMIT past
 * CH_STREAM_ENV_MAX or CH_STREAM_ENV_LEN, CH_ERR_INVAL for a name that is
 * empty or holds '=', CH_ERR_NOMEM. */
int ch_stream_env_add(struct ch_stream *s, const char *name,
		      const char *value);
/* Server role, a session channel not yet taken: the peer's env request,
 * to the owner's env(); kept in req.env when it agrees and it fits.
 * CH_OK or the refusal. */
int ch_stream_env_offer(struct ch_stream *s, const char *name,
			const char *value);
/* 1 when name is a signal's name as RFC 4254 6.9 sends it: [A-Z0-9]+,
 * at most CH_STREAM_SIGNAL_NAME_MAX bytes, or with an "@domain" tail of
 * printable ASCII. */
int ch_stream_signal_name_ok(const char *name);
/* Replaces *dst with a copy of src cut to max bytes (NULL: none);
 * CH_ERR_NOMEM leaves *dst NULL. */
int ch_text_set(char **dst, const char *src, size_t max);
/* The reason a stream ended, "" before. */
static inline const char *ch_stream_why(const struct ch_stream *s)
{
	return s->why ? s->why : "";
}

/* Runs the deferred work soon (from the loop). */
void ch_xport_kick(struct ch_xport *x);

/* Client role, from the kind's open(): the peer has nothing to agree to
 * (TLS, fd), so s is open at once; opened(CH_OK) comes from the loop,
 * before the kind's soon(), unless s is closing by then. Until it came,
 * s->open_due is set: the kind delivers no data. */
void ch_stream_open_soon(struct ch_stream *s);
/* 1 when the kind may deliver data to s (NULL: 0): taken, opened, not
 * paused, not closing. */
int ch_stream_may_read(const struct ch_stream *s);

/* ---- kinds that carry exactly one stream (tlsxport.c, fdxport.c) ----
 * x->one is that stream. */

/* Client role, the kind's open(): s becomes x->one, opened from the loop
 * (ch_stream_open_soon). CH_ERR_INVAL when it is not of type or x->one
 * is already taken. */
int ch_xport_open_one(struct ch_xport *x, struct ch_stream *s,
		      enum ch_stream_type type);
/* Server role, once up: x->one, of req, offered to accept(); out of
 * memory or refused, the connection closes. */
void ch_xport_offer_one(struct ch_xport *x, const struct ch_stream_req *req);
/* The one stream is done (why: NULL keeps the close's own), and the
 * connection ends with it, for the same reason. */
void ch_xport_one_gone(struct ch_stream *s, const char *why);

#endif
