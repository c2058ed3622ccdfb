/* fwdpolicy.c - the forwarding rule (fwdpolicy.h). */
#include "agent/fwdpolicy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"

#define WHY_UNSPEC "the unspecified address is never a destination"
#define WHY_LOOPBACK "a loopback address of the device, not named by an " \
	"allow rule"
#define WHY_OWN "an address of the device itself, not named by an allow rule"
#define WHY_OUTSIDE "not in the interior prefix set and no allow rule " \
	"matches (host and port)"
#define WHY_OUTSIDE_NOBORDER "no border classification (rtnetlink) and no " \
	"allow rule matches (host and port)"

/* sa as a family and its address bytes (v4-mapped IPv6 as IPv4). */
static int addr_of(const struct sockaddr *sa, const uint8_t **addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	const uint8_t *a;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		*addr = (const uint8_t *)
			&((const struct sockaddr_in *)sa)->sin_addr;
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		*addr = a + sizeof(mapped);
		return AF_INET;
	}
	*addr = a;
	return AF_INET6;
}

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* addr (of family) inside family/pfx/len. */
static int in_prefix(int pfamily, const uint8_t *pfx, unsigned len,
		     int family, const uint8_t *addr)
{
	unsigned full = len / 8, rest = len % 8;

	if (pfamily != family || len > alen(family) * 8)
		return 0;
	if (memcmp(pfx, addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((pfx[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int fwd_is_loopback(const struct sockaddr *sa)
{
	static const uint8_t lo4[4] = { 127, 0, 0, 0 };
	static const uint8_t lo6[16] = { [15] = 1 };
	const uint8_t *a;
	int f = addr_of(sa, &a);

	return (f == AF_INET && in_prefix(AF_INET, lo4, 8, f, a)) ||
	       (f == AF_INET6 && memcmp(a, lo6, 16) == 0);
}

static int is_unspecified(int family, const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, alen(family)) == 0;
}

int fwd_rule_match(const struct fwd_rule *r, const struct sockaddr *sa,
		   uint16_t port)
{
	const uint8_t *a;
	int f = addr_of(sa, &a);

	return f && port >= r->lo && port <= r->hi &&
	       in_prefix(r->pfx.family, r->pfx.addr, r->pfx.len, f, a);
}

/* The rule names this loopback or own address explicitly. */
static int names(const struct fwd_rule *r, int family, const uint8_t *a,
		 int loopback)
{
	static const uint8_t lo4[4] = { 127, 0, 0, 0 };
	unsigned full = (unsigned)alen(family) * 8;

	if (r->pfx.family != family)
		return 0;
	if (loopback && family == AF_INET && r->pfx.len >= 8 &&
	    in_prefix(AF_INET, lo4, 8, AF_INET, r->pfx.addr))
		return 1;
	return r->pfx.len == full && memcmp(r->pfx.addr, a, alen(family)) == 0;
}

const char *fwd_policy_check(const struct fwd_policy *p,
			     const struct border *b,
			     const struct sockaddr *sa, uint16_t port,
			     int own)
{
	const uint8_t *a;
	int f = addr_of(sa, &a), loopback, ruled = 0;

	if (!p->enabled)
		return FWD_WHY_OFF;
	if (f == 0 || port == 0)
		return WHY_OUTSIDE;
	if (is_unspecified(f, a))
		return WHY_UNSPEC;
	loopback = fwd_is_loopback(sa);
	for (size_t i = 0; i < p->nrules; i++) {
		const struct fwd_rule *r = &p->rules[i];

		if (!fwd_rule_match(r, sa, port))
			continue;
		if ((loopback || own) && !names(r, f, a, loopback))
			continue;
		ruled = 1;
		break;
	}
	if (ruled)
		return NULL;
	if (loopback)
		return WHY_LOOPBACK;
	if (own)
		return WHY_OWN;
	if (b == NULL)
		return WHY_OUTSIDE_NOBORDER;
	return border_is_interior(b, sa) ? NULL : WHY_OUTSIDE;
}

/* "N" or "N-M" into lo, hi. */
static int parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	char *end;
	unsigned long a, z;

	if (*s < '0' || *s > '9')
		return CH_ERR_INVAL;
	a = strtoul(s, &end, 10);
	z = a;
	if (*end == '-') {
		s = end + 1;
		if (*s < '0' || *s > '9')
			return CH_ERR_INVAL;
		z = strtoul(s, &end, 10);
	}
	if (*end != '\0' || a < 1 || a > 65535 || z < a || z > 65535)
		return CH_ERR_INVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)z;
	return CH_OK;
}

int fwd_rule_parse(const char *text, struct fwd_rule *r, char *err,
		   size_t size)
{
	char buf[INET6_ADDRSTRLEN + 16], *ports = NULL, *slash, *end;
	const char *colon;
	unsigned long len;
	size_t n;

	memset(r, 0, sizeof(*r));
	r->lo = 1;
	r->hi = 65535;
	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, size, "'%s' is too long", text);
		return CH_ERR_INVAL;
	}
	if (text[0] == '[') {		/* [V6PREFIX]:PORTS */
		if ((colon = strchr(text, ']')) == NULL ||
		    (colon[1] != '\0' && colon[1] != ':')) {
			snprintf(err, size, "'%s': a '[' without ']' or ']' "
				 "not followed by ':PORT'", text);
			return CH_ERR_INVAL;
		}
		n = (size_t)(colon - text - 1);
		memcpy(buf, text + 1, n);
		buf[n] = '\0';
		if (colon[1] == ':')
			ports = (char *)colon + 2;
	} else {
		snprintf(buf, sizeof(buf), "%s", text);
		colon = strchr(buf, ':');
		/* one colon: IPv4 (or a name-less prefix) with ports; more:
		 * an IPv6 prefix, every port */
		if (colon && strchr(colon + 1, ':') == NULL) {
			ports = (char *)colon + 1;
			*(char *)colon = '\0';
		}
	}
	if (ports && parse_ports(ports, &r->lo, &r->hi) != CH_OK) {
		snprintf(err, size, "'%s': the port is not N or N-M within "
			 "1-65535", text);
		return CH_ERR_INVAL;
	}
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, r->pfx.addr) == 1)
		r->pfx.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, r->pfx.addr) == 1)
		r->pfx.family = AF_INET6;
	else {
		snprintf(err, size, "'%s': '%s' is not an IPv4 or IPv6 "
			 "address (names are not rules: they may resolve "
			 "anywhere)", text, buf);
		return CH_ERR_INVAL;
	}
	len = alen(r->pfx.family) * 8;
	if (slash) {
		if (*slash < '0' || *slash > '9' ||
		    (len = strtoul(slash, &end, 10), *end != '\0') ||
		    len > alen(r->pfx.family) * 8) {
			snprintf(err, size, "'%s': the prefix length is not "
				 "0-%zu", text, alen(r->pfx.family) * 8);
			return CH_ERR_INVAL;
		}
	}
	r->pfx.len = (uint8_t)len;
	/* host bits off: the prefix as it matches */
	for (unsigned i = 0; i < alen(r->pfx.family); i++) {
		unsigned keep = len >= 8 * (i + 1) ? 8 : len > 8 * i
			? (unsigned)len - 8 * i : 0;

		r->pfx.addr[i] &= (uint8_t)(0xff00 >> keep);
	}
	return CH_OK;
}

void fwd_rule_text(const struct fwd_rule *r, char *buf, size_t size)
{
	char p[INET6_ADDRSTRLEN + 8];

	border_prefix_text(&r->pfx, p, sizeof(p));
	if (r->pfx.family == AF_INET6)
		snprintf(buf, size, "[%s]:%u-%u", p, r->lo, r->hi);
	else
		snprintf(buf, size, "%s:%u-%u", p, r->lo, r->hi);
}
