/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * filter_internal.h - compiled filter representation shared by the
 * compiler, the evaluator and the classifier. Not a public interface.
 */
#ifndef DPC_FILTER_INTERNAL_H
#define DPC_FILTER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <pcap/pcap.h>

#include "dpc_filter.h"
#include "dpc_screen.h"

/* Node operators. */
enum fn_op { FN_TRUE = 0, FN_AND, FN_OR, FN_NOT, FN_PRIM };

/* Primitive kinds (FN_PRIM). */
enum fp_kind {
	FP_ETHERTYPE = 0, /* ip, ip6, arp, rarp: ethertype == num */
	FP_PROTO4,        /* ip proto N (tcp/udp/icmp on IPv4) */
	FP_PROTO6,        /* ip6 proto N, also behind one fragment header */
	FP_HOST4,         /* host/net on IPv4 (and ARP/RARP sender/target) */
	FP_HOST6,         /* host/net on IPv6 */
	FP_PORT,          /* port/portrange on TCP/UDP/SCTP */
	FP_LEN_LE,        /* less N: wire length <= N */
	FP_LEN_GE,        /* greater N: wire length >= N */
	FP_VLAN,          /* vlan [ID] */
	FP_VXLAN,         /* vxlan */
	FP_VNI,           /* vni N */
	FP_BPF,           /* anything else: a libpcap program */
};

enum { DIR_ANY = 0, DIR_SRC, DIR_DST, DIR_BOTH };
enum { SCOPE_INNER = 0, SCOPE_OUTER = 1 };

/* FP_HOST4 link types. */
#define LINK_IP   0x1
#define LINK_ARP  0x2
#define LINK_RARP 0x4
/* FP_PORT transport protocols. */
#define L4_TCP  0x1
#define L4_UDP  0x2
#define L4_SCTP 0x4

/* Loads a level's native primitives need, for the truncation check. */
#define NEED_V4ADDR  (1u << 0)
#define NEED_V4PROTO (1u << 1)
#define NEED_V4L4    (1u << 2)
#define NEED_V6ADDR  (1u << 3)
#define NEED_V6NH    (1u << 4)
#define NEED_V6L4    (1u << 5)
#define NEED_ARP     (1u << 6)

struct fnode {
	uint8_t op;        /* enum fn_op */
	uint8_t kind;      /* enum fp_kind */
	uint8_t scope;     /* SCOPE_* */
	uint8_t dir;       /* DIR_* */
	uint8_t link;      /* LINK_* or L4_* */
	uint8_t _pad[3];
	uint32_t a, b;     /* children */
	union {
		struct { uint32_t addr, mask; } v4;    /* host order */
		struct { uint32_t addr[4], mask[4]; } v6;
		struct { uint16_t lo, hi; } port;
		uint32_t num;  /* ethertype, proto, length, vni; vlan id or -1 */
		uint32_t slot; /* FP_BPF: index into bpf[] */
	} u;
};

struct dpc_filter {
	char *text;
	struct fnode *nodes;
	uint32_t n_nodes;
	uint32_t root;
	bool native;             /* no FP_BPF leaf */
	bool has_outer;          /* some node is outer-scoped or tunnel-level */
	int whole;               /* slot of the whole-expression program, -1 */
	uint32_t need;           /* NEED_* of inner-scoped native primitives */
	uint16_t need4, need6, need_arp; /* view bytes those loads need */
	bool need_l4;            /* + the IPv4 L4 ports (IHL-dependent) */
	uint8_t n_conj;          /* root is an and-chain of these inner native */
	uint32_t conj[8];        /* primitives (node indices), 0: use the tree */
	struct bpf_program *progs;          /* n_slots programs */
	struct dpc_filter_bpf_slot *slots;  /* n_slots */
	uint32_t n_slots;
};

/* A frame level presented as an untagged Ethernet frame. */
struct fview {
	const uint8_t *base;     /* view byte o (o >= 14) is base[o] */
	const uint8_t *frame;    /* whole captured frame */
	uint32_t l2;             /* start of this level's Ethernet header */
	uint32_t vcaplen;        /* view length (may be < 14: short) */
	uint32_t vwirelen;       /* view wire length */
	uint16_t ethertype;      /* valid when vcaplen >= 14 */
	bool contiguous;         /* view bytes are frame[l2 .. l2 + vcaplen) */
};

/* Largest view handed to a BPF program when tags must be cut out. */
#define VIEW_BUF 16384

/* Big-endian field loads: the screen's (dpc_screen.h), so that the
 * screen, the evaluator and the classifier read fields the same way. */
#define fv_be16 dpc_screen_be16
#define fv_be32 dpc_screen_be32

static inline bool fv_is_tpid(uint32_t et)
{
	return et >= 0x8100 && (et == 0x8100 || et == 0x88a8 || et == 0x9100);
}

void dpc_filter_view_slow(const struct dpc_key *key, uint32_t caplen,
			  int scope, struct fview *v);

/*
 * Build the view of one level. The common case (no VXLAN or the inner
 * level of one, no tags) is inline; tags and tunnels go out of line.
 */
static inline void dpc_filter_view(const struct dpc_key *key,
				   const uint8_t *frame, uint32_t caplen,
				   int scope, struct fview *v)
{
	v->frame = frame;
	v->contiguous = true;
	if (scope == SCOPE_INNER && (key->flags & DPC_KEY_VXLAN)) {
		/* untagged inner frame captured whole */
		uint32_t l2 = key->inner.off.l2;
		uint32_t end = (uint32_t)key->outer.off.l4 + key->outer.l4.udp_len;

		if (l2 == DPC_OFF_NONE || key->outer.off.l4 == DPC_OFF_NONE ||
		    end > caplen || end < l2 + 14 ||
		    fv_is_tpid(fv_be16(frame + l2 + 12))) {
			dpc_filter_view_slow(key, caplen, scope, v);
			return;
		}
		v->l2 = l2;
		v->base = frame + l2;
		v->vcaplen = v->vwirelen = end - l2;
		v->ethertype = (uint16_t)fv_be16(frame + l2 + 12);
		return;
	}
	if (caplen < 14 || fv_is_tpid(fv_be16(frame + 12))) {
		dpc_filter_view_slow(key, caplen, scope, v);
		return;
	}
	v->l2 = 0;
	v->base = frame;
	v->vcaplen = caplen;
	v->vwirelen = key->wirelen > caplen ? key->wirelen : caplen;
	v->ethertype = (uint16_t)fv_be16(frame + 12);
}

/* Loads at view offsets >= 14, false when past the captured bytes. */
static inline bool fv_ld8(const struct fview *v, uint32_t off, uint32_t *out)
{
	if (off + 1 > v->vcaplen)
		return false;
	*out = v->base[off];
	return true;
}

static inline bool fv_ld16(const struct fview *v, uint32_t off, uint32_t *out)
{
	if (off + 2 > v->vcaplen)
		return false;
	*out = fv_be16(v->base + off);
	return true;
}

static inline bool fv_ld32(const struct fview *v, uint32_t off, uint32_t *out)
{
	if (off + 4 > v->vcaplen)
		return false;
	*out = fv_be32(v->base + off);
	return true;
}

/* dpc_filter_match with the innermost view already built. */
bool dpc_filter_match_view(const struct dpc_filter *f, const struct dpc_key *key,
			   const uint8_t *frame, uint32_t caplen,
			   const struct fview *inner);

#endif /* DPC_FILTER_INTERNAL_H */
