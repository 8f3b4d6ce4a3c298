/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * frames.h - a tiny frame builder for the parser's tests and benchmark.
 *
 * Headers are appended one after another; each records a span (where it
 * starts and ends, which parser layer it is, at which tunnel depth) so a
 * test can cut the frame at every byte and know which layer the parser must
 * report as truncated. fb_finish() fills every IPv4 total length, IPv6
 * payload length and UDP length from what follows the header.
 */
#ifndef DPC_TEST_FRAMES_H
#define DPC_TEST_FRAMES_H

#include <stdint.h>
#include <string.h>

#include "dpc_parse.h"

#define FB_MAX 10000
#define FB_SPANS 48

struct fb_span {
	uint32_t start, end;
	uint8_t layer, depth;
};

struct fb {
	uint8_t b[FB_MAX];
	uint32_t n;
	uint8_t depth;             /* VXLAN headers appended so far */
	unsigned nspan, nfix;
	struct fb_span span[FB_SPANS];
	struct { uint32_t off; uint8_t kind; } fix[FB_SPANS];
};

enum { FIX_IPV4, FIX_IPV6, FIX_UDP };

static inline void fb_init(struct fb *f)
{
	memset(f, 0, sizeof(*f));
}

static inline void fb_w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void fb_w32(uint8_t *p, uint32_t v)
{
	fb_w16(p, (uint16_t)(v >> 16));
	fb_w16(p + 2, (uint16_t)v);
}

/* Append len zero bytes as a header of `layer`; returns its offset. */
static inline uint32_t fb_hdr(struct fb *f, enum dpc_layer layer, uint32_t len)
{
	uint32_t off = f->n;

	if (f->n + len > FB_MAX || f->nspan >= FB_SPANS)
		return off; /* tests never build frames this large */
	memset(f->b + off, 0, len);
	f->n += len;
	if (layer != DPC_LAYER_NONE) {
		f->span[f->nspan].start = off;
		f->span[f->nspan].end = off + len;
		f->span[f->nspan].layer = (uint8_t)layer;
		f->span[f->nspan].depth = f->depth;
		f->nspan++;
	}
	return off;
}

static inline void fb_fix(struct fb *f, uint32_t off, uint8_t kind)
{
	f->fix[f->nfix].off = off;
	f->fix[f->nfix].kind = kind;
	f->nfix++;
}

static inline void fb_finish(struct fb *f)
{
	for (unsigned i = 0; i < f->nfix; i++) {
		uint32_t off = f->fix[i].off;

		switch (f->fix[i].kind) {
		case FIX_IPV4:
			fb_w16(f->b + off + 2, (uint16_t)(f->n - off));
			break;
		case FIX_IPV6:
			fb_w16(f->b + off + 4, (uint16_t)(f->n - off - 40));
			break;
		case FIX_UDP:
			fb_w16(f->b + off + 4, (uint16_t)(f->n - off));
			break;
		}
	}
}

static const uint8_t fb_mac_a[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t fb_mac_b[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b };

static inline uint32_t fb_eth(struct fb *f, const uint8_t *dst, const uint8_t *src,
			      uint16_t type)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_ETH, 14);

	memcpy(f->b + o, dst, 6);
	memcpy(f->b + o + 6, src, 6);
	fb_w16(f->b + o + 12, type);
	return o;
}

/* A tag: TCI then the next ethertype (the TPID is the previous type). */
static inline uint32_t fb_vlan(struct fb *f, uint16_t tci, uint16_t type)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_VLAN, 4);

	fb_w16(f->b + o, tci);
	fb_w16(f->b + o + 2, type);
	return o;
}

struct fb_ip4 {
	uint8_t tos, ttl, proto, optlen;
	uint16_t id, frag;         /* flags + offset field as on the wire */
	uint32_t src, dst;         /* host order */
};

static inline uint32_t fb_ipv4(struct fb *f, const struct fb_ip4 *ip)
{
	uint32_t hl = 20u + ip->optlen;
	uint32_t o = fb_hdr(f, DPC_LAYER_IPV4, hl);
	uint8_t *p = f->b + o;

	p[0] = (uint8_t)(0x40 | (hl / 4));
	p[1] = ip->tos;
	fb_w16(p + 4, ip->id);
	fb_w16(p + 6, ip->frag);
	p[8] = ip->ttl;
	p[9] = ip->proto;
	fb_w32(p + 12, ip->src);
	fb_w32(p + 16, ip->dst);
	for (uint32_t i = 20; i < hl; i++)
		p[i] = 1; /* NOP options */
	fb_fix(f, o, FIX_IPV4);
	return o;
}

static inline uint32_t fb_ipv6(struct fb *f, uint8_t nh, uint8_t tc, uint8_t hlim,
			       const uint8_t *src, const uint8_t *dst)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_IPV6, 40);
	uint8_t *p = f->b + o;

	fb_w32(p, 0x60000000u | (uint32_t)tc << 20 | 0x12345);
	p[6] = nh;
	p[7] = hlim;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	fb_fix(f, o, FIX_IPV6);
	return o;
}

/* Generic extension header (hop-by-hop, routing, dest opts) of len bytes
 * (a multiple of 8), or AH (type 51, len a multiple of 4). */
static inline uint32_t fb_ext6(struct fb *f, uint8_t type, uint8_t nh, uint32_t len)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_IPV6_EXT, len);

	f->b[o] = nh;
	f->b[o + 1] = (uint8_t)(type == 51 ? len / 4 - 2 : len / 8 - 1);
	if (type != 51 && len > 2)
		f->b[o + 2] = 1; /* PadN over the rest */
	if (type != 51 && len > 3)
		f->b[o + 3] = (uint8_t)(len - 4);
	return o;
}

static inline uint32_t fb_frag6(struct fb *f, uint8_t nh, uint16_t off_bytes, int more,
				uint32_t id)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_IPV6_EXT, 8);

	f->b[o] = nh;
	fb_w16(f->b + o + 2, (uint16_t)((off_bytes & 0xfff8) | (more ? 1 : 0)));
	fb_w32(f->b + o + 4, id);
	return o;
}

static inline uint32_t fb_tcp(struct fb *f, uint16_t sport, uint16_t dport, uint8_t flags,
			      uint32_t hlen)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_TCP, hlen);
	uint8_t *p = f->b + o;

	fb_w16(p, sport);
	fb_w16(p + 2, dport);
	fb_w32(p + 4, 0x01020304);
	fb_w32(p + 8, 0x0a0b0c0d);
	p[12] = (uint8_t)((hlen / 4) << 4);
	p[13] = flags;
	fb_w16(p + 14, 0xfaf0);
	for (uint32_t i = 20; i < hlen; i++)
		p[i] = 1; /* NOP options */
	return o;
}

static inline uint32_t fb_udp(struct fb *f, uint16_t sport, uint16_t dport)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_UDP, 8);

	fb_w16(f->b + o, sport);
	fb_w16(f->b + o + 2, dport);
	fb_fix(f, o, FIX_UDP);
	return o;
}

static inline uint32_t fb_icmp(struct fb *f, uint8_t type, uint8_t code, int v6)
{
	uint32_t o = fb_hdr(f, v6 ? DPC_LAYER_ICMPV6 : DPC_LAYER_ICMP, 8);

	f->b[o] = type;
	f->b[o + 1] = code;
	fb_w16(f->b + o + 4, 0x4242);
	fb_w16(f->b + o + 6, 7);
	return o;
}

/* VXLAN header; the headers that follow are one tunnel deeper. */
static inline uint32_t fb_vxlan(struct fb *f, uint8_t flags, uint32_t vni)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_VXLAN, 8);

	f->b[o] = flags;
	f->b[o + 4] = (uint8_t)(vni >> 16);
	f->b[o + 5] = (uint8_t)(vni >> 8);
	f->b[o + 6] = (uint8_t)vni;
	f->depth++;
	return o;
}

static inline uint32_t fb_arp(struct fb *f, uint16_t op, uint32_t spa, uint32_t tpa)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_ARP, 28);
	uint8_t *p = f->b + o;

	fb_w16(p, 1);
	fb_w16(p + 2, 0x0800);
	p[4] = 6;
	p[5] = 4;
	fb_w16(p + 6, op);
	memcpy(p + 8, fb_mac_a, 6);
	fb_w32(p + 14, spa);
	fb_w32(p + 24, tpa);
	return o;
}

static inline uint32_t fb_payload(struct fb *f, uint32_t len, uint8_t seed)
{
	uint32_t o = fb_hdr(f, DPC_LAYER_NONE, len);

	for (uint32_t i = 0; i < len && o + i < FB_MAX; i++)
		f->b[o + i] = (uint8_t)(seed + i * 7);
	return o;
}

#endif /* DPC_TEST_FRAMES_H */
