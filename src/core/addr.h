/*
 * addr.h - the one address toolkit of the message path: socket addresses shown, built,
 * compared and hashed, and CIDR blocks parsed and matched.
 *
 * Every part of stirwired that touches a struct sockaddr (the loader, the proxy's
 * decisions, the sockets, later the TAP) uses these functions, so that a v4-mapped
 * peer, an IPv6 scope or a bracketed literal is handled one way everywhere. Nothing here
 * resolves names: a name is the loader's business, at load time only.
 */
#ifndef SW_CORE_ADDR_H
#define SW_CORE_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text sw_addr_str() writes: "[v6%scope]:65535". */
#define SW_ADDR_STRLEN 80

/*
 * The IP of sa as text (an IPv4-mapped IPv6 address as plain IPv4) and its port. An
 * address of another family gives "" and port 0.
 */
void sw_addr_ip(const struct sockaddr *sa, char *ip, size_t size, int *port);
/* "192.0.2.1:5060" or "[2001:db8::1]:5060", for logs. */
void sw_addr_str(const struct sockaddr *sa, char *out, size_t size);
/*
 * An address from an IP literal (IPv6 without brackets, optionally with %scope) and a
 * port. IPv4 goes through inet_pton, which refuses the "10.1" and "0x7f.1" spellings that
 * inet_aton and getaddrinfo accept. Returns 0, or -1 when host is not an IP literal.
 */
int sw_addr_from_ip(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);
/* The port of an AF_INET / AF_INET6 address (host order), 0 otherwise. */
int sw_addr_port(const struct sockaddr *sa);
/*
 * Whether a message may be sent to sa as to one host: not unspecified, not multicast,
 * not the limited broadcast (inside 240.0.0.0/4, reserved), in IPv4, IPv6 or IPv4-mapped
 * form. A subnet's directed broadcast cannot be told from a host here; the kernel
 * refuses it without SO_BROADCAST.
 */
int sw_addr_unicast(const struct sockaddr *sa);
/* Sets the port (host order) of an AF_INET / AF_INET6 address; others are left alone. */
void sw_addr_set_port(struct sockaddr_storage *ss, int port);
/* A v4-mapped IPv6 address becomes plain IPv4, so one peer has one key everywhere. */
void sw_addr_normalise(struct sockaddr_storage *ss, socklen_t *len);
/* Same family, address and port. */
int sw_addr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* FNV-1a over address and port, for hash tables. */
unsigned sw_addr_hash(const struct sockaddr *sa);

/* A CIDR block. */
struct sw_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
};

/*
 * "192.0.2.0/24", "2001:db8::/32", or a bare address (a host: /32 or /128). Bits set past
 * the prefix are refused, with the network named in why. 0, or -1 with why.
 */
int sw_cidr_parse(const char *s, struct sw_cidr *c, char *why, size_t whylen);
/* Whether sa (IPv4, IPv6, or IPv4-mapped IPv6 matched against IPv4 blocks) is in c. */
int sw_cidr_match(const struct sw_cidr *c, const struct sockaddr *sa);

#endif /* SW_CORE_ADDR_H */
