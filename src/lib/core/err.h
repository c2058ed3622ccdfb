/* err.h - the one error space of callhome (style D1).
 *
 * Every call that can fail returns int: CH_OK (0) or a negative CH_ERR_*.
 * Library errors of libssh, OpenSSL, libxml2, SQLite are translated at the
 * boundary into one of these plus one log line; their codes never travel up.
 */
#ifndef CH_ERR_H
#define CH_ERR_H

enum ch_err {
	CH_OK = 0,
	CH_ERR_AGAIN = -1,   /* need more input / would block; not a failure */
	CH_ERR_NOMEM = -2,
	CH_ERR_PROTO = -3,   /* peer broke the protocol (framing, XML, hello) */
	CH_ERR_LIMIT = -4,   /* a configured size or count limit was exceeded */
	CH_ERR_TIMEOUT = -5,
	CH_ERR_IO = -6,      /* system call failed; errno-based text was logged */
	CH_ERR_SSH = -7,
	CH_ERR_TLS = -8,
	CH_ERR_DB = -9,
	CH_ERR_INVAL = -10,  /* bad argument or configuration value */
	CH_ERR_NOTFOUND = -11,
	CH_ERR_EXISTS = -12,
	CH_ERR_CLOSED = -13, /* peer closed or session ended */
	CH_ERR_DENIED = -14, /* authentication or admission refused */
	CH_ERR_AMBIGUOUS = -15,
};

/* Returns a static, human-readable text for an error code. */
const char *ch_strerror(int r);

#endif
