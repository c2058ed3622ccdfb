#include "lib/core/err.h"

const char *ch_strerror(int r)
{
	switch (r) {
	case CH_OK: return "success";
	case CH_ERR_AGAIN: return "operation would block";
	case CH_ERR_NOMEM: return "out of memory";
	case CH_ERR_PROTO: return "protocol error";
	case CH_ERR_LIMIT: return "limit exceeded";
	case CH_ERR_TIMEOUT: return "timed out";
	case CH_ERR_IO: return "I/O error";
	case CH_ERR_SSH: return "SSH error";
	case CH_ERR_TLS: return "TLS error";
	case CH_ERR_DB: return "database error";
	case CH_ERR_INVAL: return "invalid argument";
	case CH_ERR_NOTFOUND: return "not found";
	case CH_ERR_EXISTS: return "already exists";
	case CH_ERR_CLOSED: return "connection closed";
	case CH_ERR_DENIED: return "access denied";
	case CH_ERR_AMBIGUOUS: return "ambiguous name";
	}
	return "unknown error";
}
