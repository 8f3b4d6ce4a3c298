/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_parse.c - one bounds-checked pass over an Ethernet frame.
 *
 * Every header is reached through need(): the walk keeps an offset into the
 * frame and, per frame level, a region: the end the enclosing headers
 * declare (wire length outside, IP total/payload length, UDP length) and the
 * end of what was captured. A header that does not fit in the captured
 * bytes but would fit in the declared ones is TRUNCATED; one that does not
 * fit in what an enclosing length field declares is INVALID. No byte at or
 * past the captured length is ever read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dpc_parse.h"

/* The key is copied per packet and read by every classifier: keep it to
 * four cache lines and its layout fixed. */
_Static_assert(sizeof(struct dpc_key) == 256, "struct dpc_key must stay 256 bytes");
_Static_assert(sizeof(struct dpc_hdrs) == 116, "struct dpc_hdrs layout changed");
_Static_assert(DPC_LAYER_COUNT <= 255, "err_layer is a uint8_t");

#define ETH_HLEN 14
#define ET_IPV4 0x0800
#define ET_ARP 0x0806
#define ET_RARP 0x8035
#define ET_VLAN 0x8100
#define ET_QINQ 0x88a8
#define ET_QINQ_OLD 0x9100
#define ET_IPV6 0x86dd

#define IPP_HOPOPT 0
#define IPP_ICMP 1
#define IPP_TCP 6
#define IPP_UDP 17
#define IPP_ROUTING 43
#define IPP_FRAGMENT 44
#define IPP_AH 51
#define IPP_ICMPV6 58
#define IPP_DSTOPTS 60

#define VXLAN_HLEN 8
#define VXLAN_FLAG_I 0x08

/* Frames longer than this are parsed as if captured up to here, so that
 * every header offset fits the key's uint16_t offsets. */
#define PARSE_LIMIT 0xffffu

/* Bounds of one region of the frame: [.., cap) captured, [.., end)
 * declared by the enclosing header. `declared` says whether end comes from
 * a length field (overrun = INVALID) or from the wire (overrun = TRUNCATED). */
struct region {
	uint32_t cap;
	uint32_t end;
	bool declared;
};

struct walk {
	const uint8_t *f;
	const struct dpc_parse_opts *opts;
	struct dpc_key *key;
	uint8_t depth;
};

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline struct region sub_region(const struct region *outer, uint32_t end)
{
	struct region r = { .end = end, .declared = true };

	r.cap = end < outer->cap ? end : outer->cap;
	return r;
}

/* 0 when n bytes at off are captured, else the status to report. */
static inline int need(const struct region *r, uint32_t off, uint32_t n)
{
	if (off + n <= r->cap)
		return DPC_PARSE_OK;
	if (r->declared && off + n > r->end)
		return DPC_PARSE_INVALID;
	return DPC_PARSE_TRUNCATED;
}

static int fail(struct walk *w, int status, enum dpc_layer layer)
{
	w->key->status = (uint8_t)status;
	w->key->err_layer = (uint8_t)layer;
	w->key->err_depth = w->depth;
	return status;
}


/* Where a level hands over to the next: set by parse_udp on VXLAN. */
struct next_level {
	uint32_t off;
	struct region r;
	bool go;
};

/* need() for an L4 header. In a first fragment a header that runs past
 * the IP packet continues in the next fragment: that is not an error, the
 * walk just stops (*stop set). */
static inline int l4_need(const struct region *r, uint32_t off, uint32_t n, bool frag,
			  bool *stop)
{
	if (off + n <= r->cap)
		return DPC_PARSE_OK;
	if (frag && off + n > r->end) {
		*stop = true;
		return DPC_PARSE_OK;
	}
	return need(r, off, n);
}

static int parse_tcp(struct walk *w, struct dpc_hdrs *h, uint32_t off,
		     const struct region *r, bool frag)
{
	const uint8_t *p = w->f + off;
	bool stop = false;
	int st = l4_need(r, off, 20, frag, &stop);
	unsigned hlen;

	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_TCP);
	if (stop)
		return DPC_PARSE_OK;
	h->off.l4 = (uint16_t)off;
	h->l4.sport = rd16(p);
	h->l4.dport = rd16(p + 2);
	h->l4.seq = rd32(p + 4);
	h->l4.ack = rd32(p + 8);
	hlen = (unsigned)(p[12] >> 4) * 4;
	h->l4.tcp_hlen = (uint8_t)hlen;
	h->l4.tcp_flags = p[13];
	h->l4.window = rd16(p + 14);
	h->have |= DPC_HAVE_L4 | DPC_HAVE_TCP;
	if (hlen < 20)
		return fail(w, DPC_PARSE_INVALID, DPC_LAYER_TCP);
	st = l4_need(r, off, hlen, frag, &stop);
	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_TCP);
	if (stop)
		return DPC_PARSE_OK;
	h->off.payload = (uint16_t)(off + hlen);
	return DPC_PARSE_OK;
}

static int parse_icmp(struct walk *w, struct dpc_hdrs *h, uint32_t off,
		      const struct region *r, bool frag, bool v6)
{
	enum dpc_layer layer = v6 ? DPC_LAYER_ICMPV6 : DPC_LAYER_ICMP;
	const uint8_t *p = w->f + off;
	bool stop = false;
	int st = l4_need(r, off, 8, frag, &stop);

	if (st != DPC_PARSE_OK)
		return fail(w, st, layer);
	if (stop)
		return DPC_PARSE_OK;
	h->off.l4 = (uint16_t)off;
	h->off.payload = (uint16_t)(off + 8);
	h->l4.icmp_type = p[0];
	h->l4.icmp_code = p[1];
	h->have |= DPC_HAVE_L4 | (v6 ? DPC_HAVE_ICMPV6 : DPC_HAVE_ICMP);
	return DPC_PARSE_OK;
}

static int parse_udp(struct walk *w, struct dpc_hdrs *h, uint32_t off,
		     const struct region *r, bool frag, struct next_level *nx)
{
	const uint8_t *p = w->f + off;
	const struct dpc_parse_opts *o = w->opts;
	struct region vr;
	uint16_t ulen;
	bool stop = false;
	int st = l4_need(r, off, 8, frag, &stop);

	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_UDP);
	if (stop)
		return DPC_PARSE_OK;
	h->off.l4 = (uint16_t)off;
	h->l4.sport = rd16(p);
	h->l4.dport = rd16(p + 2);
	ulen = rd16(p + 4);
	h->l4.udp_len = ulen;
	h->have |= DPC_HAVE_L4 | DPC_HAVE_UDP;
	if (ulen < 8)
		return fail(w, DPC_PARSE_INVALID, DPC_LAYER_UDP);
	/* A first fragment carries the whole datagram's length. */
	if (!frag && off + ulen > r->end)
		return fail(w, DPC_PARSE_INVALID, DPC_LAYER_UDP);
	h->off.payload = (uint16_t)(off + 8);

	/* VXLAN is decapsulated only from unfragmented datagrams. */
	if (frag || o->n_vxlan_ports == 0 || !dpc_parse_is_vxlan_port(o, h->l4.dport))
		return DPC_PARSE_OK;
	if (w->depth >= o->max_tunnel_depth || w->depth >= DPC_PARSE_TUNNEL_MAX) {
		w->key->flags |= DPC_KEY_TUNNEL_DEPTH;
		return DPC_PARSE_OK;
	}
	vr = sub_region(r, off + ulen);
	off += 8;
	st = need(&vr, off, VXLAN_HLEN);
	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_VXLAN);
	p = w->f + off;
	if (w->depth == 0)
		w->key->vxlan_flags = p[0];
	if (!(p[0] & VXLAN_FLAG_I))
		return fail(w, DPC_PARSE_INVALID, DPC_LAYER_VXLAN);
	if (w->depth == 0)
		w->key->vni = (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6];
	w->key->flags |= DPC_KEY_VXLAN;
	w->key->tunnel_depth++;
	nx->go = true;
	nx->off = off + VXLAN_HLEN;
	nx->r = vr;
	return DPC_PARSE_OK;
}

/* L4 dispatch shared by IPv4 and IPv6. */
static int parse_l4(struct walk *w, struct dpc_hdrs *h, uint32_t off,
		    const struct region *r, struct next_level *nx)
{
	bool frag = (h->l3.frag & DPC_FRAG_IS) != 0;

	switch (h->l3.proto) {
	case IPP_TCP:
		return parse_tcp(w, h, off, r, frag);
	case IPP_UDP:
		return parse_udp(w, h, off, r, frag, nx);
	case IPP_ICMP:
		return h->l3.family == 4 ? parse_icmp(w, h, off, r, frag, false) : DPC_PARSE_OK;
	case IPP_ICMPV6:
		return h->l3.family == 6 ? parse_icmp(w, h, off, r, frag, true) : DPC_PARSE_OK;
	default:
		return DPC_PARSE_OK;
	}
}

static int parse_ipv4(struct walk *w, struct dpc_hdrs *h, uint32_t off,
		      const struct region *r, struct next_level *nx)
{
	const uint8_t *p = w->f + off;
	struct region ir;
	unsigned ihl, tot, fo;
	int st = need(r, off, 20);

	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_IPV4);
	if ((p[0] >> 4) != 4)
		return fail(w, DPC_PARSE_INVALID, DPC_LAYER_IPV4);
	ihl = (unsigned)(p[0] & 0x0f) * 4;
	tot = rd16(p + 2);
	fo = rd16(p + 6);
	h->l3.family = 4;
	h->l3.tos = p[1];
	h->l3.tot_len = (uint16_t)tot;
	h->l3.ip_id = rd16(p + 4);
	h->l3.ttl = p[8];
	h->l3.proto = p[9];
	memcpy(&h->l3.src.v4, p + 12, 4);
	memcpy(&h->l3.dst.v4, p + 16, 4);
	h->l3.frag_off = (uint16_t)((fo & 0x1fff) * 8);
	if (fo & 0x4000)
		h->l3.frag |= DPC_FRAG_DF;
	if (fo & 0x2000)
		h->l3.frag |= DPC_FRAG_MF | DPC_FRAG_IS;
	if (fo & 0x1fff)
		h->l3.frag |= DPC_FRAG_IS | DPC_FRAG_LATER;
	h->have |= DPC_HAVE_IPV4;
	/* Total length 0 is what a host with TCP segmentation offload (or
	 * Linux BIG TCP) hands the capture: the packet is the whole rest of
	 * what encloses it, as tshark reads it. */
	bool tso = tot == 0 && ihl >= 20;

	if (tso)
		tot = r->end - off;
	/* IHL, total length and the enclosing length checked both ways. */
	if (ihl < 20 || tot < ihl || off + tot > r->end)
		return fail(w, DPC_PARSE_INVALID, DPC_LAYER_IPV4);
	st = need(r, off, ihl);
	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_IPV4);
	if (h->l3.frag & DPC_FRAG_LATER)
		return DPC_PARSE_OK;
	/* With TSO nothing declared the end: keep the enclosing region. */
	ir = tso ? *r : sub_region(r, off + tot);
	return parse_l4(w, h, off + ihl, &ir, nx);
}

static int parse_ipv6(struct walk *w, struct dpc_hdrs *h, uint32_t off,
		      const struct region *r, struct next_level *nx)
{
	const uint8_t *p = w->f + off;
	struct region ir;
	uint32_t plen, end;
	uint8_t nh;
	int st = need(r, off, 40);

	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_IPV6);
	if ((p[0] >> 4) != 6)
		return fail(w, DPC_PARSE_INVALID, DPC_LAYER_IPV6);
	plen = rd16(p + 4);
	nh = p[6];
	h->l3.family = 6;
	h->l3.tos = (uint8_t)(rd16(p) >> 4);
	h->l3.tot_len = (uint16_t)(plen + 40 > 0xffff ? 0xffff : plen + 40);
	h->l3.first_nh = nh;
	h->l3.proto = nh;
	h->l3.ttl = p[7];
	memcpy(h->l3.src.v6, p + 8, 16);
	memcpy(h->l3.dst.v6, p + 24, 16);
	h->have |= DPC_HAVE_IPV6;
	/* Payload length 0 with a hop-by-hop header: a jumbogram, bounded by
	 * what encloses it. */
	end = (plen == 0 && nh == IPP_HOPOPT) ? r->end : off + 40 + plen;
	if (end > r->end)
		return fail(w, DPC_PARSE_INVALID, DPC_LAYER_IPV6);
	ir = sub_region(r, end);
	off += 40;

	for (;;) {
		uint32_t len;

		if (nh != IPP_HOPOPT && nh != IPP_ROUTING && nh != IPP_FRAGMENT &&
		    nh != IPP_DSTOPTS && nh != IPP_AH)
			break;
		if (h->l3.n_ext >= DPC_PARSE_IPV6_EXT_MAX)
			return fail(w, DPC_PARSE_INVALID, DPC_LAYER_IPV6_EXT);
		st = need(&ir, off, nh == IPP_FRAGMENT ? 8 : 2);
		if (st != DPC_PARSE_OK)
			return fail(w, st, DPC_LAYER_IPV6_EXT);
		p = w->f + off;
		if (nh == IPP_FRAGMENT) {
			uint16_t fo = rd16(p + 2);

			len = 8;
			h->l3.frag_off = fo & 0xfff8;
			h->l3.frag |= DPC_FRAG_IS;
			if (fo & 1)
				h->l3.frag |= DPC_FRAG_MF;
			if (fo & 0xfff8)
				h->l3.frag |= DPC_FRAG_LATER;
			h->l3.ip_id = rd32(p + 4);
		} else if (nh == IPP_AH) {
			len = ((uint32_t)p[1] + 2) * 4;
		} else {
			len = ((uint32_t)p[1] + 1) * 8;
		}
		st = need(&ir, off, len);
		if (st != DPC_PARSE_OK)
			return fail(w, st, DPC_LAYER_IPV6_EXT);
		nh = p[0];
		h->l3.n_ext++;
		h->l3.proto = nh;
		off += len;
		/* A later fragment's payload is not an upper-layer header. */
		if (h->l3.frag & DPC_FRAG_LATER)
			return DPC_PARSE_OK;
	}
	return parse_l4(w, h, off, &ir, nx);
}

static int parse_arp(struct walk *w, struct dpc_hdrs *h, uint32_t off,
		     const struct region *r)
{
	const uint8_t *p = w->f + off;
	uint32_t hlen;
	int st = need(r, off, 8);

	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_ARP);
	h->l3.arp_op = rd16(p + 6);
	/* Only ARP carrying IPv4 addresses fills the key (any hardware type
	 * and address length, as tcpdump and tshark read it); other kinds
	 * stop here. */
	if (rd16(p + 2) != ET_IPV4 || p[5] != 4)
		return DPC_PARSE_OK;
	hlen = p[4];
	st = need(r, off, 8 + 2 * hlen + 8);
	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_ARP);
	h->l3.family = 4;
	memcpy(&h->l3.src.v4, p + 8 + hlen, 4);
	memcpy(&h->l3.dst.v4, p + 8 + 2 * hlen + 4, 4);
	h->have |= DPC_HAVE_ARP;
	return DPC_PARSE_OK;
}

/* One frame level: Ethernet at off, bounded by r. */
static int parse_level(struct walk *w, struct dpc_hdrs *h, uint32_t off,
		       const struct region *r, struct next_level *nx)
{
	const uint8_t *p = w->f + off;
	uint16_t et;
	int st;

	h->off.l2 = (uint16_t)off;
	st = need(r, off, ETH_HLEN);
	if (st != DPC_PARSE_OK)
		return fail(w, st, DPC_LAYER_ETH);
	memcpy(h->l2.dst, p, 6);
	memcpy(h->l2.src, p + 6, 6);
	et = rd16(p + 12);
	h->have |= DPC_HAVE_ETH;
	off += ETH_HLEN;
	while (et == ET_VLAN || et == ET_QINQ || et == ET_QINQ_OLD) {
		h->l2.ethertype = et;
		if (h->l2.n_vlan >= DPC_PARSE_VLAN_MAX)
			return fail(w, DPC_PARSE_INVALID, DPC_LAYER_VLAN);
		st = need(r, off, 4);
		if (st != DPC_PARSE_OK)
			return fail(w, st, DPC_LAYER_VLAN);
		p = w->f + off;
		if (h->l2.n_vlan < DPC_VLAN_KEEP) {
			h->l2.vlan_tpid[h->l2.n_vlan] = et;
			h->l2.vlan_tci[h->l2.n_vlan] = rd16(p);
		} else {
			w->key->flags |= DPC_KEY_VLAN_DEPTH;
		}
		h->l2.n_vlan++;
		h->have |= DPC_HAVE_VLAN;
		et = rd16(p + 2);
		off += 4;
	}
	h->l2.ethertype = et;

	switch (et) {
	case ET_IPV4:
		h->off.l3 = (uint16_t)off;
		return parse_ipv4(w, h, off, r, nx);
	case ET_IPV6:
		h->off.l3 = (uint16_t)off;
		return parse_ipv6(w, h, off, r, nx);
	case ET_ARP:
	case ET_RARP:
		h->off.l3 = (uint16_t)off;
		return parse_arp(w, h, off, r);
	default:
		return DPC_PARSE_OK;
	}
}

#define NO_OFFS { DPC_OFF_NONE, DPC_OFF_NONE, DPC_OFF_NONE, DPC_OFF_NONE }
static const struct dpc_key blank_key = {
	.outer = { .off = NO_OFFS },
	.inner = { .off = NO_OFFS },
};

/* Clear the key with sixteen 16-byte stores. memset() or a struct copy of
 * blank_key became `rep stos` with GCC, which cost a quarter of a parse;
 * generic vector stores are not turned back into it. */
typedef uint8_t dpc_v16 __attribute__((vector_size(16), aligned(1), may_alias));

_Static_assert(sizeof(struct dpc_key) == 16 * sizeof(dpc_v16), "key_blank clears 256 bytes");

static inline void key_blank(struct dpc_key *key)
{
	const dpc_v16 zero = { 0 };
	dpc_v16 *v = (dpc_v16 *)(void *)key;

	v[0] = zero;
	v[1] = zero;
	v[2] = zero;
	v[3] = zero;
	v[4] = zero;
	v[5] = zero;
	v[6] = zero;
	v[7] = zero;
	v[8] = zero;
	v[9] = zero;
	v[10] = zero;
	v[11] = zero;
	v[12] = zero;
	v[13] = zero;
	v[14] = zero;
	v[15] = zero;
	key->outer.off = blank_key.outer.off;
	key->inner.off = blank_key.inner.off;
}

static void hdrs_reset(struct dpc_hdrs *h)
{
	*h = blank_key.inner;
}

static const struct dpc_parse_opts default_opts = {
	.vxlan_ports = { DPC_VXLAN_PORT },
	.n_vxlan_ports = 1,
	.max_tunnel_depth = 1,
};

int dpc_parse(const struct dpc_parse_opts *opts, const uint8_t *frame,
	      uint32_t caplen, uint32_t wirelen, struct dpc_key *key)
{
	struct walk w = { .f = frame, .opts = opts ? opts : &default_opts, .key = key };
	struct region r;
	struct next_level nx = { 0 };
	struct dpc_hdrs *h = &key->outer;
	int st;

	key_blank(key);
	if (wirelen < caplen)
		wirelen = caplen;
	key->caplen = caplen;
	key->wirelen = wirelen;
	if (frame == NULL)
		caplen = 0;
	r.cap = caplen < PARSE_LIMIT ? caplen : PARSE_LIMIT;
	r.end = wirelen;
	r.declared = false;

	st = parse_level(&w, h, 0, &r, &nx);
	while (st == DPC_PARSE_OK && nx.go) {
		uint32_t off = nx.off;

		r = nx.r;
		nx.go = false;
		w.depth++;
		h = &key->inner;
		if (w.depth > 1)
			hdrs_reset(h);
		st = parse_level(&w, h, off, &r, &nx);
	}
	return key->status;
}

void dpc_parse_opts_init(struct dpc_parse_opts *opts)
{
	*opts = default_opts;
}

int dpc_parse_opts_add_vxlan_port(struct dpc_parse_opts *opts, uint16_t port)
{
	if (port == 0)
		return -EINVAL;
	if (dpc_parse_is_vxlan_port(opts, port))
		return -EEXIST;
	if (opts->n_vxlan_ports >= DPC_PARSE_VXLAN_PORTS_MAX)
		return -ENOSPC;
	opts->vxlan_ports[opts->n_vxlan_ports++] = port;
	return 0;
}

static const char *const layer_names[DPC_LAYER_COUNT] = {
	[DPC_LAYER_NONE] = "none",
	[DPC_LAYER_ETH] = "eth",
	[DPC_LAYER_VLAN] = "vlan",
	[DPC_LAYER_ARP] = "arp",
	[DPC_LAYER_IPV4] = "ipv4",
	[DPC_LAYER_IPV6] = "ipv6",
	[DPC_LAYER_IPV6_EXT] = "ipv6-ext",
	[DPC_LAYER_TCP] = "tcp",
	[DPC_LAYER_UDP] = "udp",
	[DPC_LAYER_ICMP] = "icmp",
	[DPC_LAYER_ICMPV6] = "icmpv6",
	[DPC_LAYER_VXLAN] = "vxlan",
};

const char *dpc_parse_layer_name(enum dpc_layer layer)
{
	if ((unsigned)layer >= DPC_LAYER_COUNT)
		return "unknown";
	return layer_names[layer];
}

const char *dpc_parse_status_name(enum dpc_parse_status status)
{
	switch (status) {
	case DPC_PARSE_OK:
		return "ok";
	case DPC_PARSE_TRUNCATED:
		return "truncated";
	case DPC_PARSE_INVALID:
		return "invalid";
	}
	return "unknown";
}

char *dpc_parse_describe(const struct dpc_key *key, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return buf;
	if (key->status == DPC_PARSE_OK)
		snprintf(buf, len, "ok");
	else if (key->err_depth == 0)
		snprintf(buf, len, "%s at %s",
			 dpc_parse_status_name((enum dpc_parse_status)key->status),
			 dpc_parse_layer_name((enum dpc_layer)key->err_layer));
	else if (key->err_depth == 1)
		snprintf(buf, len, "%s at %s (inner)",
			 dpc_parse_status_name((enum dpc_parse_status)key->status),
			 dpc_parse_layer_name((enum dpc_layer)key->err_layer));
	else
		snprintf(buf, len, "%s at %s (inner, depth %u)",
			 dpc_parse_status_name((enum dpc_parse_status)key->status),
			 dpc_parse_layer_name((enum dpc_layer)key->err_layer),
			 (unsigned)key->err_depth);
	return buf;
}
