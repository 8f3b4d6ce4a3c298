/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * filter_gen.h - deterministic traffic for the filter tests and benchmark.
 *
 * gen_frame() builds one frame from a seed and records, next to the bytes,
 * what a reader who knows how it was built knows: the untagged innermost
 * frame (the view libpcap is run on as the oracle), the untagged outer
 * frame, the tags, the VNI. The frame is built from that inner frame by
 * adding tags and a VXLAN underlay, so the oracle does not depend on
 * dpcap's parser.
 */
#ifndef FILTER_GEN_H
#define FILTER_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define GEN_MAX 9800

struct gen_rng {
	uint64_t s;
};

static inline uint32_t gen_next(struct gen_rng *r)
{
	r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(r->s >> 33);
}

static inline uint32_t gen_below(struct gen_rng *r, uint32_t n)
{
	return n ? gen_next(r) % n : 0;
}

struct gen_frame {
	uint8_t b[GEN_MAX];       /* the frame as captured */
	uint32_t len, wirelen;
	uint8_t view[GEN_MAX];     /* innermost frame, untagged (oracle input) */
	uint32_t view_len, view_wirelen;
	uint8_t oview[GEN_MAX];    /* outermost frame, untagged */
	uint32_t oview_len, oview_wirelen;
	bool vxlan;                /* a VXLAN packet dpcap decapsulates */
	uint32_t vni;
	unsigned n_tags, n_otags;  /* innermost / outer tags */
	uint16_t vid[2], ovid[2];
	bool compare;              /* the oracle views are defined */
	int kind;
};

static inline void gen_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void gen_put32(uint8_t *p, uint32_t v)
{
	gen_put16(p, v >> 16);
	gen_put16(p + 2, v);
}

static const uint32_t gen_v4[] = {
	0x0a000001, 0x0a000002, 0x0a000105, 0xc0a80101, 0xc0a80709, 0xac100001,
};
static const uint8_t gen_v6[][16] = {
	{ 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
	{ 0x20, 0x01, 0x0d, 0xb8, [15] = 2 },
	{ 0xfe, 0x80, [15] = 1 },
	{ 0x20, 0x01, 0x0d, 0xb9, 0xff, [15] = 7 },
};
static const uint16_t gen_ports[] = { 80, 443, 53, 5432, 22, 4789, 8080, 1000, 5500, 123 };

static inline uint32_t gen_addr4(struct gen_rng *r)
{
	return gen_below(r, 4) ? gen_v4[gen_below(r, 6)] : gen_next(r);
}

static inline void gen_addr6(struct gen_rng *r, uint8_t *p)
{
	if (gen_below(r, 4)) {
		memcpy(p, gen_v6[gen_below(r, 4)], 16);
	} else {
		for (int i = 0; i < 16; i++)
			p[i] = (uint8_t)gen_next(r);
	}
}

static inline uint16_t gen_port(struct gen_rng *r)
{
	return gen_below(r, 3) ? gen_ports[gen_below(r, 10)] : (uint16_t)gen_next(r);
}

static inline uint32_t gen_paylen(struct gen_rng *r)
{
	switch (gen_below(r, 8)) {
	case 0: case 1: case 2: return gen_below(r, 24);
	case 3: case 4: return 20 + gen_below(r, 200);
	case 5: return 200 + gen_below(r, 800);
	case 6: return 1400 + gen_below(r, 60);
	default: return gen_below(r, 10) ? gen_below(r, 64) : 8000;
	}
}

static inline void gen_macs(struct gen_rng *r, uint8_t *p)
{
	static const uint8_t m[3][6] = {
		{ 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 },
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	memcpy(p, m[gen_below(r, 3)], 6);
	memcpy(p + 6, m[gen_below(r, 2)], 6);
}

/* L4 header + payload at p; returns its length. */
static inline uint32_t gen_l4(struct gen_rng *r, uint8_t *p, int proto,
			      uint32_t pay)
{
	uint32_t hl;

	switch (proto) {
	case 6:
		gen_put16(p, gen_port(r));
		gen_put16(p + 2, gen_port(r));
		gen_put32(p + 4, gen_next(r));
		gen_put32(p + 8, gen_next(r));
		p[12] = 5 << 4;
		p[13] = (uint8_t)(gen_below(r, 2) ? 0x02 : gen_next(r));
		gen_put16(p + 14, 1024);
		memset(p + 16, 0, 4);
		hl = 20;
		break;
	case 17: {
		/* Only the generator's tunnels go to the VXLAN port. */
		uint16_t dp = gen_port(r);

		gen_put16(p, gen_port(r));
		gen_put16(p + 2, dp == 4789 ? 4790 : dp);
		gen_put16(p + 4, 8 + pay);
		gen_put16(p + 6, 0);
		hl = 8;
		break;
	}
	case 132:
		gen_put16(p, gen_port(r));
		gen_put16(p + 2, gen_port(r));
		gen_put32(p + 4, gen_next(r));
		gen_put32(p + 8, 0);
		hl = 12;
		break;
	case 1:
	case 58:
		p[0] = (uint8_t)(gen_below(r, 2) ? (proto == 1 ? 8 : 128) : gen_next(r));
		p[1] = 0;
		gen_put16(p + 2, 0);
		gen_put32(p + 4, gen_next(r));
		hl = 8;
		break;
	default:
		hl = 0;
		break;
	}
	for (uint32_t i = 0; i < pay; i++)
		p[hl + i] = (uint8_t)gen_next(r);
	return hl + pay;
}

/* An untagged Ethernet frame at p (the tenant/inner frame); returns length. */
static inline uint32_t gen_base(struct gen_rng *r, uint8_t *p, int *kind_out)
{
	static const int l4s[] = { 6, 17, 1, 132, 6, 17 };
	int kind = (int)gen_below(r, 17);
	uint32_t pay = gen_paylen(r), len = 14, n;

	gen_macs(r, p);
	*kind_out = kind;
	switch (kind) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 15: {
		/* IPv4: options, fragments, other protocols, bad IHL */
		int proto = kind == 5 ? 47 : l4s[gen_below(r, 6)];
		uint32_t ihl = gen_below(r, 4) ? 5 : 5 + gen_below(r, 11);
		uint8_t *ip = p + 14;

		gen_put16(p + 12, 0x0800);
		if (kind == 15)
			ihl = gen_below(r, 5);
		ip[0] = (uint8_t)(0x40 | ihl);
		ip[1] = 0;
		gen_put16(ip + 4, gen_next(r));
		if (kind == 4)
			gen_put16(ip + 6, gen_below(r, 2) ? 0x2000 :
				  (gen_below(r, 2) ? 0x2000 : 0) | (1 + gen_below(r, 100)));
		else
			gen_put16(ip + 6, gen_below(r, 2) ? 0x4000 : 0);
		ip[8] = (uint8_t)(1 + gen_below(r, 255));
		ip[9] = (uint8_t)proto;
		gen_put16(ip + 10, 0);
		gen_put32(ip + 12, gen_addr4(r));
		gen_put32(ip + 16, gen_addr4(r));
		if (ihl < 5)
			ihl = 5;
		for (uint32_t i = 20; i < ihl * 4; i++)
			ip[i] = 1; /* NOP options */
		n = gen_l4(r, ip + ihl * 4, proto, pay);
		gen_put16(ip + 2, kind == 15 && gen_below(r, 2) ? gen_next(r) :
			  ihl * 4 + n);
		len += ihl * 4 + n;
		break;
	}
	case 6: case 7: case 8: case 9: case 10: case 16: {
		static const int l6[] = { 6, 17, 58, 132 };
		int proto = kind == 16 ? 132 : l6[gen_below(r, 3)];
		uint8_t *ip = p + 14, *q = ip + 40;
		int nh = proto;
		uint32_t ext = 0;

		gen_put16(p + 12, 0x86dd);
		gen_put32(ip, 0x60000000);
		ip[7] = 64;
		gen_addr6(r, ip + 8);
		gen_addr6(r, ip + 24);
		if (kind == 9) {
			/* hop-by-hop or destination options, 8 bytes */
			q[0] = (uint8_t)proto;
			q[1] = 0;
			memset(q + 2, 0, 6);
			q[2] = 1;
			q[3] = 4;
			nh = gen_below(r, 2) ? 0 : 60;
			ext = 8;
		} else if (kind == 10) {
			q[0] = (uint8_t)proto;
			q[1] = 0;
			gen_put16(q + 2, gen_below(r, 2) ? 1 : (8 * gen_below(r, 50)) | 1);
			gen_put32(q + 4, gen_next(r));
			nh = 44;
			ext = 8;
		}
		ip[6] = (uint8_t)nh;
		n = gen_l4(r, q + ext, proto, pay);
		gen_put16(ip + 4, ext + n);
		len += 40 + ext + n;
		break;
	}
	case 11: case 12: {
		uint8_t *a = p + 14;

		gen_put16(p + 12, kind == 11 ? 0x0806 : 0x8035);
		gen_put16(a, 1);
		gen_put16(a + 2, 0x0800);
		a[4] = 6;
		a[5] = 4;
		gen_put16(a + 6, 1 + gen_below(r, 4));
		memcpy(a + 8, p + 6, 6);
		gen_put32(a + 14, gen_addr4(r));
		memset(a + 18, 0, 6);
		gen_put32(a + 24, gen_addr4(r));
		len += 28 + gen_below(r, 19);
		memset(a + 28, 0, 18);
		break;
	}
	case 13:
		gen_put16(p + 12, 0x88cc);
		for (uint32_t i = 0; i < 46 + pay % 100; i++)
			p[14 + i] = (uint8_t)gen_next(r);
		len += 46 + pay % 100;
		break;
	default: /* 14: 802.3 with LLC */
		gen_put16(p + 12, 46);
		p[14] = 0x42;
		p[15] = 0x42;
		p[16] = 3;
		for (uint32_t i = 3; i < 46; i++)
			p[14 + i] = (uint8_t)gen_next(r);
		len += 46;
		break;
	}
	return len;
}

/* Insert n tags after the MACs of the frame at p (len bytes). */
static inline uint32_t gen_tag(uint8_t *dst, const uint8_t *src, uint32_t len,
			       unsigned n, const uint16_t *vid)
{
	memcpy(dst, src, 12);
	for (unsigned i = 0; i < n; i++) {
		gen_put16(dst + 12 + 4 * i, (n == 2 && i == 0) ? 0x88a8 : 0x8100);
		gen_put16(dst + 14 + 4 * i, vid[i] | (i ? 0 : 0x2000));
	}
	memcpy(dst + 12 + 4 * n, src + 12, len - 12);
	return len + 4 * n;
}

static inline uint16_t gen_vid(struct gen_rng *r)
{
	static const uint16_t v[] = { 10, 100, 200 };

	return gen_below(r, 4) ? v[gen_below(r, 3)] : (uint16_t)(1 + gen_below(r, 4094));
}

/*
 * One frame from seed. mode: 0 plain, 1 VLAN-tagged, 2 VXLAN, -1 any.
 * Truncation keeps the innermost Ethernet header and tags whole (so the
 * untagged view is defined) except for plain frames, cut anywhere.
 */
static inline void gen_frame(struct gen_frame *g, uint64_t seed, int mode)
{
	struct gen_rng r = { seed * 0x9E3779B97F4A7C15ull + 1 };
	uint8_t inner[GEN_MAX], tagged[GEN_MAX];
	uint32_t ilen, tlen, prefix = 0;
	bool encap, bad_vxlan = false;

	memset(g, 0, sizeof(*g));
	gen_next(&r);
	if (mode < 0)
		mode = (int)gen_below(&r, 3);
	ilen = gen_base(&r, inner, &g->kind);
	g->n_tags = mode == 1 ? 1 + gen_below(&r, 2) :
		    (mode == 2 && gen_below(&r, 4) == 0) ? 1 : 0;
	for (unsigned i = 0; i < g->n_tags; i++)
		g->vid[i] = gen_vid(&r);
	tlen = gen_tag(tagged, inner, ilen, g->n_tags, g->vid);
	encap = mode == 2;
	if (encap) {
		/* outer Ethernet [tag] IPv4|IPv6 UDP VXLAN */
		uint8_t *o = g->b;
		uint32_t l3, ulen = 8 + 8 + tlen;
		int v6 = gen_below(&r, 4) == 0;
		uint16_t dport = 4789;
		int odd = (int)gen_below(&r, 12);

		gen_macs(&r, o);
		g->n_otags = gen_below(&r, 3) == 0 ? 1 : 0;
		g->ovid[0] = gen_vid(&r);
		l3 = 14 + 4 * g->n_otags;
		if (g->n_otags) {
			gen_put16(o + 12, 0x8100);
			gen_put16(o + 14, g->ovid[0]);
		}
		gen_put16(o + l3 - 2, v6 ? 0x86dd : 0x0800);
		if (v6) {
			gen_put32(o + l3, 0x60000000);
			gen_put16(o + l3 + 4, ulen);
			o[l3 + 6] = 17;
			o[l3 + 7] = 64;
			memcpy(o + l3 + 8, gen_v6[3], 16);
			gen_addr6(&r, o + l3 + 24);
			prefix = l3 + 40;
		} else {
			static const uint32_t u[] = { 0xc000020a, 0xc0000214 };

			o[l3] = 0x45;
			o[l3 + 1] = 0;
			gen_put16(o + l3 + 2, 20 + ulen);
			gen_put32(o + l3 + 4, 0);
			o[l3 + 8] = 64;
			o[l3 + 9] = 17;
			gen_put16(o + l3 + 10, 0);
			gen_put32(o + l3 + 12, u[gen_below(&r, 2)]);
			gen_put32(o + l3 + 16, gen_below(&r, 2) ? u[gen_below(&r, 2)] :
				  gen_addr4(&r));
			prefix = l3 + 20;
		}
		if (odd == 0)
			dport = 8472; /* not a VXLAN port by default */
		gen_put16(o + prefix, 49152 + gen_below(&r, 1000));
		gen_put16(o + prefix + 2, dport);
		gen_put16(o + prefix + 4, ulen);
		gen_put16(o + prefix + 6, 0);
		{
			static const uint32_t vnis[] = { 5001, 5002, 42 };

			g->vni = gen_below(&r, 4) ? vnis[gen_below(&r, 3)] :
				 gen_below(&r, 1u << 24);
		}
		o[prefix + 8] = odd == 1 ? 0x00 : 0x08; /* I flag */
		memset(o + prefix + 9, 0, 3);
		gen_put32(o + prefix + 12, g->vni << 8);
		prefix += 16;
		memcpy(o + prefix, tagged, tlen);
		g->len = prefix + tlen;
		bad_vxlan = odd <= 1;
		g->vxlan = !bad_vxlan;
		/* outer view: the outer frame without its tag */
		memcpy(g->oview, o, 12);
		memcpy(g->oview + 12, o + l3 - 2, g->len - (l3 - 2));
		g->oview_len = g->len - 4 * g->n_otags;
	} else {
		memcpy(g->b, tagged, tlen);
		g->len = tlen;
		memcpy(g->oview, inner, ilen);
		g->oview_len = ilen;
	}
	g->wirelen = g->len;
	g->oview_wirelen = g->oview_len;
	if (g->vxlan) {
		memcpy(g->view, inner, ilen);
		g->view_len = g->view_wirelen = ilen;
	} else {
		memcpy(g->view, g->oview, g->oview_len);
		g->view_len = g->view_wirelen = g->oview_len;
		if (encap) {
			g->n_tags = g->n_otags;
			g->vid[0] = g->ovid[0];
		}
	}
	g->compare = true;
	/* truncation */
	if (gen_below(&r, 5) == 0) {
		uint32_t min, cut;

		if (mode == 0)
			min = 0;
		else if (g->vxlan)
			min = prefix + 14 + 4 * g->n_tags;
		else
			min = 14 + 4 * g->n_tags;
		if (min < g->len) {
			cut = min + gen_below(&r, g->len - min);
			g->len = cut;
			g->view_len -= g->wirelen - cut;
			g->oview_len = g->oview_len > g->wirelen - cut ?
				       g->oview_len - (g->wirelen - cut) : 0;
			if (g->vxlan) {
				/* The outer view of a cut tunnel packet keeps its
				 * wire length; nothing else changes. */
			}
		}
	}
}

#endif /* FILTER_GEN_H */
