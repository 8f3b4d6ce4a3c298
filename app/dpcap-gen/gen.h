/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gen.h - frame builder and pcap sink of dpcap-gen (no DPDK, no libpcap).
 *
 * A frame is described by a struct gen_hdrs (link, network and transport
 * headers, optionally a VXLAN tunnel carrying another struct gen_hdrs) and
 * turned into wire bytes by gen_build(), with correct lengths and
 * checksums. Profiles (gen_profiles.c) describe traffic with it and hand
 * each frame to a gen_sink, which writes a nanosecond pcap through a large
 * buffer.
 */
#ifndef DPC_GEN_H
#define DPC_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GEN_FRAME_MAX 16384
#define GEN_SNAPLEN 262144
#define GEN_IP6_EXT_MAX 6

#define GEN_ET_IPV4 0x0800
#define GEN_ET_IPV6 0x86dd
#define GEN_ET_ARP 0x0806
#define GEN_ET_VLAN 0x8100
#define GEN_ET_QINQ 0x88a8

#define GEN_P_HOPOPT 0
#define GEN_P_ICMP 1
#define GEN_P_TCP 6
#define GEN_P_UDP 17
#define GEN_P_ROUTING 43
#define GEN_P_FRAG 44
#define GEN_P_ICMPV6 58
#define GEN_P_DSTOPTS 60

#define GEN_TH_FIN 0x01
#define GEN_TH_SYN 0x02
#define GEN_TH_RST 0x04
#define GEN_TH_PSH 0x08
#define GEN_TH_ACK 0x10

/* One frame level. Zero-initialise, then set what matters. */
struct gen_hdrs {
	uint8_t smac[6], dmac[6];
	unsigned n_vlan;
	uint16_t tpid[12], tci[12];
	uint16_t ethertype;        /* ARP when GEN_ET_ARP; else from ipv */
	int ipv;                   /* 4 or 6 (0 with ARP) */
	uint32_t s4, d4;           /* host order */
	uint8_t s6[16], d6[16];
	uint8_t ttl, tos;
	uint16_t ip_id;
	const uint8_t *ip4_opts;   /* multiple of 4 bytes, <= 40 */
	size_t ip4_opts_len;
	bool df;
	unsigned n_ext;            /* IPv6 extension headers, in order */
	uint8_t ext[GEN_IP6_EXT_MAX];
	uint8_t proto;             /* GEN_P_TCP / UDP / ICMP / ICMPV6 */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id, icmp_seq;
	uint16_t arp_op;           /* 1 request, 2 reply; addresses s4/d4 */
	/* VXLAN: the UDP payload is a VXLAN header and inner's frame. */
	const struct gen_hdrs *inner;
	uint32_t vni;
	uint8_t vxlan_flags;       /* used when vxlan_flags_set, else 0x08 */
	bool vxlan_flags_set;
	uint16_t payload;          /* L4 payload bytes (ignored with inner) */
	uint32_t frame_len;        /* when non-zero: payload chosen to hit it */
	uint8_t fill;              /* payload byte seed */
};

/* Header sizes of h (without payload). */
size_t gen_l2_len(const struct gen_hdrs *h);
size_t gen_l3_len(const struct gen_hdrs *h);
size_t gen_l4_hdr_len(const struct gen_hdrs *h);

/*
 * Build h into out (GEN_FRAME_MAX bytes). Frames shorter than 60 bytes are
 * zero-padded to 60 when pad is true (the outermost frame). Returns the
 * frame length.
 */
size_t gen_build(const struct gen_hdrs *h, uint8_t *out, bool pad);

/*
 * Build h as IP fragments of at most mtu bytes of IP packet each (IPv4 by
 * the flags/offset field, IPv6 by a fragment header appended to h's own
 * extension headers). Calls emit for each fragment frame.
 */
typedef void (*gen_emit_fn)(void *arg, const uint8_t *frame, size_t len);
void gen_build_fragments(const struct gen_hdrs *h, unsigned mtu,
			 gen_emit_fn emit, void *arg);

/* Deterministic PRNG (splitmix64). */
struct gen_rng {
	uint64_t s;
};
uint64_t gen_rand(struct gen_rng *r);
static inline uint32_t gen_below(struct gen_rng *r, uint32_t n)
{
	return (uint32_t)(gen_rand(r) % n);
}

/* The pcap writer. */
struct gen_sink {
	FILE *f;
	uint8_t *buf;
	size_t used, cap;
	uint64_t ts_ns;            /* timestamp of the next record */
	uint64_t frames, bytes;
	int err;                   /* first errno */
	uint64_t limit;            /* stop after this many frames (0: none) */
};

int gen_sink_open(struct gen_sink *s, const char *path, uint64_t limit);
/* Append one record: caplen bytes of frame, orig_len on the wire. */
void gen_sink_put(struct gen_sink *s, const uint8_t *frame, uint32_t caplen,
		  uint32_t orig_len);
/* Advance the clock by ns. */
static inline void gen_sink_tick(struct gen_sink *s, uint64_t ns)
{
	s->ts_ns += ns;
}
static inline bool gen_sink_full(const struct gen_sink *s)
{
	return s->err != 0 || (s->limit != 0 && s->frames >= s->limit);
}
int gen_sink_close(struct gen_sink *s);

/* Profiles (gen_profiles.c). */
struct gen_profile {
	const char *name;
	const char *summary;
	uint64_t default_n;        /* 0: the profile's fixed script */
	void (*run)(struct gen_sink *s, uint64_t n, uint64_t seed);
};
extern const struct gen_profile gen_profiles[];
extern const unsigned gen_n_profiles;

#endif /* DPC_GEN_H */
