/* hostport.c - "HOST[:PORT]" parsing and socket addresses for logs.
 *
 * Forms (see hostport.h): "name[:port]", "a.b.c.d[:port]",
 * "[v6]" or "[v6]:port", and a bare IPv6 literal which takes the default
 * port. A bare string with two or more colons is therefore always read as
 * an IPv6 address ("::1:4334" is the address ::1:4334, not port 4334); it
 * must parse as one, or it is refused. A zone ("fe80::1%eth0") is allowed
 * on IPv6 literals because link-local call home needs it.
 */
#include "lib/net/hostport.h"
#include "lib/core/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Letters, digits, '-', '.', '_': what a DNS name or IPv4 literal uses. */
static int name_ok(const char *h, size_t n)
{
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return 0;
	}
	return 1;
}

/* An IPv6 literal with an optional "%zone". */
static int ipv6_ok(const char *h, size_t n)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a;
	const char *pct;
	size_t alen;

	pct = memchr(h, '%', n);
	alen = pct ? (size_t)(pct - h) : n;
	if (alen == 0 || alen >= sizeof(tmp))
		return 0;
	if (pct && (n - alen - 1 == 0 || !name_ok(pct + 1, n - alen - 1)))
		return 0;
	memcpy(tmp, h, alen);
	tmp[alen] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* Decimal 1..65535, digits only: strtoul alone would take " +12". */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return CH_ERR_INVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 65535)
		return CH_ERR_INVAL;
	*port = (uint16_t)v;
	return CH_OK;
}

int ch_hostport_parse(const char *s, uint16_t default_port, char **host,
		      uint16_t *port)
{
	const char *h, *close, *colon, *rest = NULL;
	size_t hlen;
	uint16_t p = default_port;
	char *copy;
	int r = CH_ERR_INVAL;

	*host = NULL;
	*port = 0;
	if (s == NULL)
		goto out;
	if (s[0] == '[') {
		h = s + 1;
		if ((close = strchr(h, ']')) == NULL)
			goto out;
		hlen = (size_t)(close - h);
		if (!ipv6_ok(h, hlen))	/* also refuses "[]" and "[[" */
			goto out;
		if (close[1] == ':')
			rest = close + 2;
		else if (close[1] != '\0')
			goto out;
	} else {
		h = s;
		if (strchr(s, '[') || strchr(s, ']'))
			goto out;
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			hlen = strlen(s);	/* bare IPv6 literal */
			if (!ipv6_ok(h, hlen))
				goto out;
		} else {
			hlen = colon ? (size_t)(colon - s) : strlen(s);
			if (colon)
				rest = colon + 1;
			if (!name_ok(h, hlen))
				goto out;
		}
	}
	if (hlen == 0 || hlen > CH_HOST_MAX)
		goto out;
	if (rest && parse_port(rest, &p) != CH_OK)
		goto out;
	if (p == 0)		/* no port given and no usable default */
		goto out;
	if ((copy = strndup(h, hlen)) == NULL) {
		r = CH_ERR_NOMEM;
		goto out;
	}
	*host = copy;
	*port = p;
	r = CH_OK;
out:
	return r;
}

char *ch_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	char addr[INET6_ADDRSTRLEN], scope[IF_NAMESIZE + 1] = "";

	if (len == 0)
		return buf;
	if (sa == NULL)
		goto unknown;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		if (inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr)) == NULL)
			goto unknown;
		snprintf(buf, len, "%s:%u", addr, ntohs(sin->sin_port));
		return buf;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, addr,
			      sizeof(addr)) == NULL)
			goto unknown;
		if (sin6->sin6_scope_id != 0) {
			scope[0] = '%';
			/* the interface may be gone: fall back to its index */
			if (if_indextoname(sin6->sin6_scope_id, scope + 1) == NULL)
				snprintf(scope + 1, sizeof(scope) - 1, "%u",
					 (unsigned int)sin6->sin6_scope_id);
		}
		snprintf(buf, len, "[%s%s]:%u", addr, scope,
			 ntohs(sin6->sin6_port));
		return buf;
	}
unknown:
	snprintf(buf, len, "?");
	return buf;
}

int ch_sockaddr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	return 0;
}

int ch_sockaddr_parse(const char *s, uint16_t default_port, int loopback,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char *host = NULL;
	uint16_t port;
	int r = CH_ERR_INVAL;

	memset(ss, 0, sizeof(*ss));
	*len = 0;
	if (ch_hostport_parse(s, default_port, &host, &port) != CH_OK)
		return CH_ERR_INVAL;
	if (port == 0)
		goto out;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
	} else {
		goto out;
	}
	if (loopback && !ch_sockaddr_is_loopback((struct sockaddr *)ss))
		goto out;
	r = CH_OK;
out:
	if (r != CH_OK) {
		memset(ss, 0, sizeof(*ss));
		*len = 0;
	}
	free(host);
	return r;
}

int ch_sockaddr_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	return -1;
}

int ch_addr_key_is_v4(const uint8_t key[16])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return memcmp(key, mapped, sizeof(mapped)) == 0;
}
