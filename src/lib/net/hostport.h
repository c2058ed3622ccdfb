/* hostport.h - "HOST[:PORT]" as given on command lines, and socket
 * addresses printed for logs.
 *
 * Accepted: "name", "name:4334", "192.0.2.1", "192.0.2.1:4334", "[::1]",
 * "[::1]:4334", "::1" (an IPv6 literal without brackets takes the default
 * port), "[::]:4334". Refused (CH_ERR_INVAL): empty host, port 0 or above
 * 65535, junk after the port, unbalanced brackets, a host longer than 253.
 */
#ifndef CH_HOSTPORT_H
#define CH_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/core/limits.h"

#define CH_ADDRSTR_LEN 64	/* fits "[ipv6%scope]:port" */

/* *host is new (free with free()), without brackets. */
int ch_hostport_parse(const char *s, uint16_t default_port, char **host,
		      uint16_t *port);

/* "ADDR[:PORT]" with a numeric address (no name is resolved): *ss and
 * *len for bind(2)/connect(2)/sendto(2). loopback 1 also refuses an
 * address outside 127.0.0.0/8 and ::1. CH_ERR_INVAL otherwise. */
int ch_sockaddr_parse(const char *s, uint16_t default_port, int loopback,
		      struct sockaddr_storage *ss, socklen_t *len);
/* 1 when sa is a loopback address (127.0.0.0/8, ::1). */
int ch_sockaddr_is_loopback(const struct sockaddr *sa);

/* The address of sa (port left out) as 16 bytes, IPv4 as v4-mapped IPv6,
 * so that one table holds both families: 0, or -1 for another family. */
int ch_sockaddr_key(const struct sockaddr *sa, uint8_t key[16]);
/* 1 when key (ch_sockaddr_key) is an IPv4 address. */
int ch_addr_key_is_v4(const uint8_t key[16]);

/* Formats sa as "192.0.2.1:4334" or "[2001:db8::1]:4334" into buf
 * (CH_ADDRSTR_LEN bytes); returns buf. Unknown families print "?". */
char *ch_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif
