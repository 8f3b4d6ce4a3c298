/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_parse.h - one bounds-checked pass over an Ethernet frame.
 *
 * dpc_parse() walks a captured frame once: Ethernet, 802.1Q/802.1ad tags,
 * ARP, IPv4 (options, fragments), IPv6 (extension headers), TCP, UDP, ICMP,
 * ICMPv6, and VXLAN on the configured UDP ports followed by the inner
 * Ethernet frame and its headers. It fills one compact key (struct dpc_key)
 * that the filter, the datapath and the triage report read; nothing else
 * re-parses the frame.
 *
 * It never reads past the captured length. A frame that ends inside a
 * header is TRUNCATED at that layer; a header whose own fields are
 * inconsistent (IPv4 IHL < 5, total length < IHL, UDP length < 8, an
 * unknown IP version, VXLAN without the I flag, ...) is INVALID at that
 * layer. Either way every field of the layers before it is valid and the
 * DPC_HAVE_* bits say exactly which layers were filled.
 *
 * Truncated or invalid, precisely:
 *  - Each header must fit in the bytes its enclosing header declares: the
 *    wire length (wirelen) for the outer Ethernet frame, the IPv4 total
 *    length / IPv6 payload length for L4 and IPv6 extension headers, the
 *    UDP length for VXLAN and the inner frame. A header that would fit in
 *    the declared bytes but not in the captured ones (snaplen) is
 *    TRUNCATED; one that does not fit in what a length field declares is
 *    INVALID. Outer L2/L3 headers that do not fit in the frame are
 *    TRUNCATED (nothing declared their size). Pass the real wirelen: with
 *    wirelen == caplen a snapped IPv4 packet whose total length exceeds
 *    the capture is INVALID at ipv4, not truncated.
 *  - IPv4: version != 4, IHL < 5, total length < IHL*4, total length past
 *    the enclosing end: INVALID at ipv4. Options cut by the capture:
 *    TRUNCATED at ipv4. Bytes after the total length (Ethernet padding)
 *    are ignored. Total length 0 (captured on a host doing TCP
 *    segmentation offload, or Linux BIG TCP) means "up to the enclosing
 *    end", as tshark reads it; l3.tot_len keeps the 0.
 *  - IPv6: version != 6 or payload length past the enclosing end: INVALID
 *    at ipv6 (payload length 0 with hop-by-hop first is a jumbogram and
 *    bounded by the enclosing end). Extension headers (hop-by-hop,
 *    routing, fragment, destination options, AH) are walked up to
 *    DPC_PARSE_IPV6_EXT_MAX; one more is INVALID at ipv6-ext.
 *  - Fragments: a later fragment (offset != 0) has no L4 header: status
 *    OK, DPC_FRAG_LATER, l3.proto says what it carries. A first fragment
 *    whose IP payload is too short for the L4 header is OK without L4, its
 *    UDP length is not checked against the IP payload, and VXLAN is never
 *    decapsulated from a fragment.
 *  - ARP/RARP: filled (DPC_HAVE_ARP, family 4, sender/target protocol
 *    address in src/dst) when the protocol type is IPv4 with address
 *    length 4, whatever the hardware type and length; other ARP kinds stop
 *    after arp_op, status OK.
 *  - TCP data offset < 5: INVALID at tcp. UDP length < 8 or past the IP
 *    payload: INVALID at udp. ICMP/ICMPv6 headers are 8 bytes.
 *  - VLAN: 802.1Q (0x8100), 802.1ad (0x88a8) and 0x9100 tags; more than
 *    DPC_PARSE_VLAN_MAX is INVALID at vlan.
 *  - VXLAN: only on a configured UDP destination port, only while fewer
 *    than max_tunnel_depth tunnels were decapsulated (else
 *    DPC_KEY_TUNNEL_DEPTH is set and the UDP payload is left alone, status
 *    OK). A VXLAN header without the I flag (0x08) is INVALID at vxlan:
 *    key->vxlan_flags holds its flags, vni stays 0, DPC_KEY_VXLAN is not
 *    set and nothing is decapsulated; the outer key is complete.
 *  - The layer that failed may be partly filled: its DPC_HAVE_* bit is set
 *    when its fixed fields were read (e.g. IPv4 addresses of a header with
 *    a bad total length, UDP ports of a datagram with a bad length). Always
 *    check key->status before trusting a layer.
 *  - Frames longer than 65535 bytes are parsed over their first 65535.
 *
 * Plain C, no DPDK: unit-tested and fuzzed without EAL.
 */
#ifndef DPC_PARSE_H
#define DPC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Tags kept per frame; deeper stacks are walked up to DPC_PARSE_VLAN_MAX. */
#define DPC_VLAN_KEEP 4
/** Hard cap on VLAN tags walked in one frame (more is INVALID at VLAN). */
#define DPC_PARSE_VLAN_MAX 8
/** Hard cap on IPv6 extension headers walked (more is INVALID at IPV6_EXT). */
#define DPC_PARSE_IPV6_EXT_MAX 8
/** Hard cap on VXLAN headers decapsulated, whatever max_tunnel_depth says. */
#define DPC_PARSE_TUNNEL_MAX 8
/** VXLAN UDP ports a parser may be configured with. */
#define DPC_PARSE_VXLAN_PORTS_MAX 4
/** IANA VXLAN port. */
#define DPC_VXLAN_PORT 4789
/** Bytes VXLAN adds around an inner frame on an untagged IPv4 underlay. */
#define DPC_VXLAN_OVERHEAD 50

/** The layers a status can point at. Names: dpc_parse_layer_name(). */
enum dpc_layer {
	DPC_LAYER_NONE = 0,
	DPC_LAYER_ETH,
	DPC_LAYER_VLAN,
	DPC_LAYER_ARP,
	DPC_LAYER_IPV4,
	DPC_LAYER_IPV6,
	DPC_LAYER_IPV6_EXT,
	DPC_LAYER_TCP,
	DPC_LAYER_UDP,
	DPC_LAYER_ICMP,
	DPC_LAYER_ICMPV6,
	DPC_LAYER_VXLAN,
	DPC_LAYER_COUNT
};

/** Outcome of a parse. */
enum dpc_parse_status {
	DPC_PARSE_OK = 0,
	DPC_PARSE_TRUNCATED,   /**< captured bytes end inside a header */
	DPC_PARSE_INVALID,     /**< a header's own fields are inconsistent */
};

/* Which layers of one frame level were filled (struct dpc_hdrs.have). */
#define DPC_HAVE_ETH      (1u << 0)
#define DPC_HAVE_VLAN     (1u << 1)  /**< at least one tag */
#define DPC_HAVE_ARP      (1u << 2)  /**< ARP/RARP with IPv4 addresses */
#define DPC_HAVE_IPV4     (1u << 3)
#define DPC_HAVE_IPV6     (1u << 4)
#define DPC_HAVE_L4       (1u << 5)  /**< ports / ICMP type+code filled */
#define DPC_HAVE_TCP      (1u << 6)
#define DPC_HAVE_UDP      (1u << 7)
#define DPC_HAVE_ICMP     (1u << 8)
#define DPC_HAVE_ICMPV6   (1u << 9)

/* IP fragment flags (struct dpc_l3.frag). */
#define DPC_FRAG_DF       (1u << 0)  /**< IPv4 don't-fragment */
#define DPC_FRAG_MF       (1u << 1)  /**< more fragments follow */
#define DPC_FRAG_LATER    (1u << 2)  /**< fragment offset != 0: no L4 header */
#define DPC_FRAG_IS       (1u << 3)  /**< a fragment (v4 MF|offset, v6 frag hdr) */

/* TCP flags as on the wire (struct dpc_l4.tcp_flags). */
#define DPC_TCP_FIN 0x01
#define DPC_TCP_SYN 0x02
#define DPC_TCP_RST 0x04
#define DPC_TCP_PSH 0x08
#define DPC_TCP_ACK 0x10
#define DPC_TCP_URG 0x20
#define DPC_TCP_ECE 0x40
#define DPC_TCP_CWR 0x80

/** An IPv4 or IPv6 address. IPv4 is in v4 (network byte order); v6 is
 *  all 16 bytes. Which one is meant is dpc_l3.family. */
struct dpc_addr {
	union {
		uint8_t v6[16];
		uint32_t v4;
	};
};

/** Link layer of one frame level. */
struct dpc_l2 {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t ethertype;        /**< after all VLAN tags, host order */
	uint8_t n_vlan;            /**< tags walked (may exceed DPC_VLAN_KEEP) */
	uint8_t _pad;
	uint16_t vlan_tpid[DPC_VLAN_KEEP]; /**< outermost first, host order */
	uint16_t vlan_tci[DPC_VLAN_KEEP];  /**< PCP/DEI/VID, host order */
};

/** Network layer of one frame level (also ARP: spa/tpa in src/dst). */
struct dpc_l3 {
	uint8_t family;            /**< 0 none, 4 IPv4 (or ARP), 6 IPv6 */
	uint8_t proto;             /**< final L4 protocol after v6 ext headers */
	uint8_t ttl;               /**< TTL / hop limit */
	uint8_t frag;              /**< DPC_FRAG_* */
	uint8_t tos;               /**< IPv4 TOS / IPv6 traffic class */
	uint8_t first_nh;          /**< IPv6 next header of the fixed header */
	uint8_t n_ext;             /**< IPv6 extension headers walked */
	uint8_t _pad;
	uint16_t tot_len;          /**< IPv4 total length / IPv6 40+payload len */
	uint16_t frag_off;         /**< fragment offset in bytes */
	uint32_t ip_id;            /**< IPv4 id / IPv6 fragment id */
	uint16_t arp_op;           /**< ARP opcode when DPC_HAVE_ARP */
	uint16_t _pad2;
	struct dpc_addr src, dst;
};

/** Transport layer of one frame level. */
struct dpc_l4 {
	uint16_t sport, dport;     /**< host order; 0 for ICMP */
	uint8_t tcp_flags;         /**< DPC_TCP_* */
	uint8_t icmp_type, icmp_code;
	uint8_t tcp_hlen;          /**< TCP header length in bytes */
	uint32_t seq, ack;         /**< TCP, host order */
	uint16_t window;           /**< TCP raw window, host order */
	uint16_t udp_len;          /**< UDP length field, host order */
};

/** Byte offsets of each header of one level from the start of the whole
 *  frame (the outer Ethernet header); 0xffff when absent. */
struct dpc_offs {
	uint16_t l2;               /**< Ethernet header */
	uint16_t l3;               /**< IP / ARP header after the tags */
	uint16_t l4;               /**< TCP/UDP/ICMP header */
	uint16_t payload;          /**< first byte after the L4 header */
};
#define DPC_OFF_NONE 0xffff

/** Everything known about one frame level (outer, or the tunnelled one). */
struct dpc_hdrs {
	uint32_t have;             /**< DPC_HAVE_* */
	struct dpc_offs off;
	struct dpc_l2 l2;
	struct dpc_l3 l3;
	struct dpc_l4 l4;
};

/* Key flags (struct dpc_key.flags). */
#define DPC_KEY_VXLAN          (1u << 0) /**< a VXLAN tunnel was decapsulated */
#define DPC_KEY_TUNNEL_DEPTH   (1u << 1) /**< more tunnels than max_tunnel_depth:
                                               the rest is inner payload */
#define DPC_KEY_VLAN_DEPTH     (1u << 2) /**< more tags than DPC_VLAN_KEEP */

/**
 * The compact key. outer is the frame as received. When DPC_KEY_VXLAN is
 * set, inner is the innermost decapsulated frame and vni/vxlan_flags are
 * those of the outermost VXLAN header; otherwise inner is unused.
 * dpc_key_inner() gives the frame an unscoped filter primitive addresses.
 */
struct dpc_key {
	struct dpc_hdrs outer;
	struct dpc_hdrs inner;
	uint32_t vni;
	uint8_t vxlan_flags;
	uint8_t tunnel_depth;      /**< VXLAN headers decapsulated */
	uint8_t status;            /**< enum dpc_parse_status */
	uint8_t err_layer;         /**< enum dpc_layer where status != OK */
	uint8_t err_depth;         /**< 0 outer, 1.. inside that many tunnels */
	uint8_t _pad[3];
	uint32_t flags;            /**< DPC_KEY_* */
	uint32_t caplen;           /**< bytes captured (input length) */
	uint32_t wirelen;          /**< bytes on the wire (>= caplen) */
};

/** Parser options. Zero-initialised means no VXLAN decapsulation: start
 *  from dpc_parse_opts_init. */
struct dpc_parse_opts {
	uint16_t vxlan_ports[DPC_PARSE_VXLAN_PORTS_MAX]; /**< host order */
	uint8_t n_vxlan_ports;     /**< 0 disables VXLAN decapsulation */
	uint8_t max_tunnel_depth;  /**< VXLAN headers to decapsulate (default 1) */
};

/** Defaults: VXLAN on UDP 4789 only, one tunnel level. */
void dpc_parse_opts_init(struct dpc_parse_opts *opts);

/** Whether UDP destination port (host order) is one opts decapsulates as
 *  VXLAN. The parser's own test, shared with the classifier's screen,
 *  which must decide exactly as the parser does. */
static inline bool dpc_parse_is_vxlan_port(const struct dpc_parse_opts *o,
					   uint16_t port)
{
	for (unsigned i = 0; i < o->n_vxlan_ports && i < DPC_PARSE_VXLAN_PORTS_MAX; i++)
		if (o->vxlan_ports[i] == port)
			return true;
	return false;
}

/**
 * Add a VXLAN UDP port (host order). Returns 0, -EEXIST when already
 * present, -ENOSPC when DPC_PARSE_VXLAN_PORTS_MAX are set, -EINVAL for 0.
 */
int dpc_parse_opts_add_vxlan_port(struct dpc_parse_opts *opts, uint16_t port);

/**
 * Parse one frame.
 * @param opts    parser options (not modified; may be shared across threads;
 *                NULL means the dpc_parse_opts_init defaults)
 * @param frame   first byte of the Ethernet header
 * @param caplen  bytes available at frame
 * @param wirelen original length on the wire (caplen if unknown)
 * @param key     filled completely (every byte written, even on error)
 * @return enum dpc_parse_status, also stored in key->status.
 * Never reads frame[caplen] or beyond; never allocates; thread-safe.
 */
int dpc_parse(const struct dpc_parse_opts *opts, const uint8_t *frame,
	      uint32_t caplen, uint32_t wirelen, struct dpc_key *key);

/** The frame level unscoped filter primitives address: the innermost. */
static inline const struct dpc_hdrs *
dpc_key_inner(const struct dpc_key *key)
{
	return (key->flags & DPC_KEY_VXLAN) ? &key->inner : &key->outer;
}

/** Static name of a layer ("eth", "vlan", "ipv4", ... "vxlan"). */
const char *dpc_parse_layer_name(enum dpc_layer layer);

/** Static name of a status ("ok", "truncated", "invalid"). */
const char *dpc_parse_status_name(enum dpc_parse_status status);

/**
 * Describe a key's status in words, e.g. "truncated at ipv4 (inner)".
 * Writes at most len bytes including the NUL; returns buf.
 */
char *dpc_parse_describe(const struct dpc_key *key, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* DPC_PARSE_H */
