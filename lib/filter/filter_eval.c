/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * filter_eval.c - evaluates a compiled filter on one parsed frame.
 *
 * Each frame level (innermost, outermost) is seen as an untagged Ethernet
 * frame: its MAC addresses, the ethertype after its VLAN tags, then the
 * rest of the frame. Native primitives read the header fields libpcap's
 * code for the same primitive reads, at the same offsets of that view, so
 * the verdict is tcpdump's. When a truncated frame ends before a field a
 * native primitive could need (libpcap then aborts the whole program), a
 * plain-tcpdump expression is decided by its whole libpcap program instead.
 *
 * No allocation, no syscall, no lock.
 */
#include <string.h>

#include <pcap/pcap.h>

#include "filter_internal.h"

/*
 * The view of a level with tags, of a tunnel's inner frame, or of a frame
 * shorter than an Ethernet header. The inner frame of a VXLAN packet is
 * the UDP payload after the VXLAN header: it ends where the outer UDP
 * datagram ends. Too many or cut tags: the frame as it is.
 */
void dpc_filter_view_slow(const struct dpc_key *key, uint32_t caplen,
			  int scope, struct fview *v)
{
	const uint8_t *frame = v->frame;
	uint32_t l2 = 0, off, et, k = 0, wire;

	wire = key->wirelen > caplen ? key->wirelen : caplen;
	if (scope == SCOPE_INNER && (key->flags & DPC_KEY_VXLAN)) {
		uint32_t end;

		if (key->inner.off.l2 != DPC_OFF_NONE)
			l2 = key->inner.off.l2;
		else if (key->outer.off.payload != DPC_OFF_NONE)
			l2 = key->outer.off.payload + 8u;
		else
			l2 = caplen;
		if (key->outer.off.l4 != DPC_OFF_NONE) {
			end = (uint32_t)key->outer.off.l4 + key->outer.l4.udp_len;
			if (end >= l2) {
				wire = end;
				if (end < caplen)
					caplen = end;
			}
		}
	}
	if (l2 > caplen)
		l2 = caplen;
	if (wire < caplen)
		wire = caplen;
	v->l2 = l2;
	v->contiguous = true;
	v->base = frame + l2;
	v->ethertype = 0;
	v->vcaplen = caplen - l2;
	v->vwirelen = wire - l2;
	if (caplen - l2 < 14)
		return;
	off = l2 + 12;
	et = fv_be16(frame + off);
	v->ethertype = (uint16_t)et;
	while (fv_is_tpid(et)) {
		if (k == DPC_PARSE_VLAN_MAX || off + 6 > caplen)
			return;
		off += 4;
		et = fv_be16(frame + off);
		k++;
	}
	if (k == 0)
		return;
	v->ethertype = (uint16_t)et;
	v->base = frame + off + 2 - 14;
	v->contiguous = false;
	v->vcaplen = caplen - (off + 2) + 14;
	v->vwirelen = wire - (off + 2) + 14;
}

static uint32_t exec_slot(const struct dpc_filter_bpf_slot *s,
			  const uint8_t *pkt, uint32_t len, uint32_t wirelen)
{
	if (s->exec)
		return s->exec(s->ctx, pkt, len, wirelen);
	return bpf_filter(s->insns, pkt, wirelen, len);
}

/* Tags cut out: the view is assembled on the stack (kept out of line so
 * the native path carries no large frame). */
static __attribute__((noinline)) bool
run_bpf_copy(const struct dpc_filter_bpf_slot *s, const struct fview *v)
{
	uint8_t buf[VIEW_BUF];
	uint32_t len = v->vcaplen;

	if (len > VIEW_BUF)
		len = VIEW_BUF;
	memcpy(buf, v->frame + v->l2, 12);
	buf[12] = (uint8_t)(v->ethertype >> 8);
	buf[13] = (uint8_t)v->ethertype;
	memcpy(buf + 14, v->base + 14, len - 14);
	return exec_slot(s, buf, len, v->vwirelen) != 0;
}

static __attribute__((noinline)) bool
run_bpf(const struct dpc_filter *f, uint32_t slot, const struct fview *v)
{
	const struct dpc_filter_bpf_slot *s = &f->slots[slot];

	if (!v->contiguous)
		return run_bpf_copy(s, v);
	return exec_slot(s, v->frame + v->l2, v->vcaplen, v->vwirelen) != 0;
}

static inline bool l4_proto_ok(uint32_t proto, uint8_t set)
{
	return (proto == 6 && (set & L4_TCP)) || (proto == 17 && (set & L4_UDP)) ||
	       (proto == 132 && (set & L4_SCTP));
}

static inline bool in_range(const struct fnode *n, uint32_t port)
{
	return port - n->u.port.lo <= (uint32_t)(n->u.port.hi - n->u.port.lo);
}

static inline bool port_match(const struct fview *v, const struct fnode *n)
{
	uint32_t x, s, d, so;

	if (v->ethertype == 0x0800) {
		if (!fv_ld8(v, 23, &x) || !l4_proto_ok(x, n->link))
			return false;
		if (!fv_ld16(v, 20, &x) || (x & 0x1fff))
			return false;
		so = 14 + (v->base[14] & 0xfu) * 4; /* 14 < 23: loaded */
	} else if (v->ethertype == 0x86dd) {
		if (!fv_ld8(v, 20, &x) || !l4_proto_ok(x, n->link))
			return false;
		so = 54;
	} else {
		return false;
	}
	switch (n->dir) {
	case DIR_SRC:
		return fv_ld16(v, so, &s) && in_range(n, s);
	case DIR_DST:
		return fv_ld16(v, so + 2, &d) && in_range(n, d);
	case DIR_BOTH:
		return fv_ld16(v, so, &s) && in_range(n, s) &&
		       fv_ld16(v, so + 2, &d) && in_range(n, d);
	default:
		return (fv_ld16(v, so, &s) && in_range(n, s)) ||
		       (fv_ld16(v, so + 2, &d) && in_range(n, d));
	}
}

static inline bool v4_at(const struct fview *v, uint32_t off,
			 const struct fnode *n)
{
	uint32_t x;

	return fv_ld32(v, off, &x) && (x & n->u.v4.mask) == n->u.v4.addr;
}

static inline bool host4_match(const struct fview *v, const struct fnode *n)
{
	uint32_t so;

	if (v->ethertype == 0x0800 && (n->link & LINK_IP))
		so = 26;
	else if ((v->ethertype == 0x0806 && (n->link & LINK_ARP)) ||
		 (v->ethertype == 0x8035 && (n->link & LINK_RARP)))
		so = 28;
	else
		return false;
	switch (n->dir) {
	case DIR_SRC: return v4_at(v, so, n);
	case DIR_DST: return v4_at(v, so == 26 ? 30 : 38, n);
	case DIR_BOTH: return v4_at(v, so, n) && v4_at(v, so == 26 ? 30 : 38, n);
	default: return v4_at(v, so, n) || v4_at(v, so == 26 ? 30 : 38, n);
	}
}

static bool v6_at(const struct fview *v, uint32_t off, const struct fnode *n)
{
	for (int i = 0; i < 4; i++) {
		uint32_t x;

		if (n->u.v6.mask[i] == 0)
			continue;
		if (!fv_ld32(v, off + 4u * (uint32_t)i, &x) ||
		    (x & n->u.v6.mask[i]) != n->u.v6.addr[i])
			return false;
	}
	return true;
}

static bool host6_match(const struct fview *v, const struct fnode *n)
{
	if (v->ethertype != 0x86dd)
		return false;
	switch (n->dir) {
	case DIR_SRC: return v6_at(v, 22, n);
	case DIR_DST: return v6_at(v, 38, n);
	case DIR_BOTH: return v6_at(v, 22, n) && v6_at(v, 38, n);
	default: return v6_at(v, 22, n) || v6_at(v, 38, n);
	}
}

static bool vlan_match(const struct dpc_key *key, int scope, uint32_t id)
{
	const struct dpc_hdrs *h = (scope == SCOPE_INNER) ? dpc_key_inner(key) :
							    &key->outer;
	unsigned n = h->l2.n_vlan < DPC_VLAN_KEEP ? h->l2.n_vlan : DPC_VLAN_KEEP;

	if (h->l2.n_vlan == 0)
		return false;
	if (id == UINT32_MAX)
		return true;
	for (unsigned i = 0; i < n; i++)
		if ((h->l2.vlan_tci[i] & 0x0fff) == id)
			return true;
	return false;
}

struct ectx {
	const struct fview *in;  /* innermost level */
	const struct dpc_key *key;
	const uint8_t *frame;
	uint32_t caplen;
	bool have_outer;
	struct fview out;        /* outermost level, built on first use */
};

/* A native primitive on a view (ethertype 0 when the view is short). */
static inline __attribute__((always_inline)) bool native(const struct fnode *n, const struct fview *v)
{
	uint32_t x;

	switch (n->kind) {
	case FP_ETHERTYPE:
		return v->vcaplen >= 14 && v->ethertype == n->u.num;
	case FP_PROTO4:
		return v->ethertype == 0x0800 && fv_ld8(v, 23, &x) && x == n->u.num;
	case FP_PROTO6:
		if (v->ethertype != 0x86dd || !fv_ld8(v, 20, &x))
			return false;
		if (x == n->u.num)
			return true;
		return x == 44 && fv_ld8(v, 54, &x) && x == n->u.num;
	case FP_HOST4:
		return v->vcaplen >= 14 && host4_match(v, n);
	case FP_HOST6:
		return host6_match(v, n);
	case FP_PORT:
		return port_match(v, n);
	case FP_LEN_LE:
		return v->vwirelen <= n->u.num;
	default: /* FP_LEN_GE */
		return v->vwirelen >= n->u.num;
	}
}

/* Tunnel, tag, outer-scoped and BPF primitives. */
static __attribute__((noinline)) bool
prim_slow(const struct dpc_filter *f, const struct fnode *n, struct ectx *c)
{
	const struct fview *v;

	switch (n->kind) {
	case FP_VXLAN:
		return (c->key->flags & DPC_KEY_VXLAN) != 0;
	case FP_VNI:
		return (c->key->flags & DPC_KEY_VXLAN) && c->key->vni == n->u.num;
	case FP_VLAN:
		return vlan_match(c->key, n->scope, n->u.num);
	default:
		break;
	}
	if (n->scope == SCOPE_OUTER) {
		if (!c->have_outer) {
			dpc_filter_view(c->key, c->frame, c->caplen, SCOPE_OUTER,
					&c->out);
			c->have_outer = true;
		}
		v = &c->out;
	} else {
		v = c->in;
	}
	if (n->kind == FP_BPF)
		return run_bpf(f, n->u.slot, v);
	return native(n, v);
}

static inline bool prim(const struct dpc_filter *f, const struct fnode *n,
			struct ectx *c)
{
	if (n->kind <= FP_LEN_GE && n->scope == SCOPE_INNER)
		return native(n, c->in);
	return prim_slow(f, n, c);
}

static bool eval(const struct dpc_filter *f, uint32_t idx, struct ectx *c)
{
	for (;;) {
		const struct fnode *n = &f->nodes[idx], *a;
		bool r;

		switch (n->op) {
		case FN_PRIM:
			return prim(f, n, c);
		case FN_AND:
		case FN_OR:
			a = &f->nodes[n->a];
			r = a->op == FN_PRIM ? prim(f, a, c) : eval(f, n->a, c);
			if (r != (n->op == FN_AND))
				return r;
			idx = n->b;
			break;
		case FN_NOT:
			return !eval(f, n->a, c);
		default:
			return true;
		}
	}
}

/*
 * Would libpcap's program for this expression read past the view? Only
 * the loads a native primitive of f makes, for the view's ethertype.
 */
static inline bool too_short(const struct dpc_filter *f, const struct fview *v)
{
	if (v->vcaplen < 14)
		return true;
	switch (v->ethertype) {
	case 0x0800:
		if (v->vcaplen < f->need4)
			return true;
		return f->need_l4 && v->vcaplen < 18 + (v->base[14] & 0xfu) * 4;
	case 0x86dd:
		return v->vcaplen < f->need6;
	case 0x0806:
	case 0x8035:
		return v->vcaplen < f->need_arp;
	default:
		return false;
	}
}

bool dpc_filter_match_view(const struct dpc_filter *f, const struct dpc_key *key,
			   const uint8_t *frame, uint32_t caplen,
			   const struct fview *inner)
{
	struct ectx c;

	if (f->whole >= 0 && (!f->native || too_short(f, inner)))
		return run_bpf(f, (uint32_t)f->whole, inner);
	if (f->n_conj) {
		for (unsigned i = 0; i < f->n_conj; i++)
			if (!native(&f->nodes[f->conj[i]], inner))
				return false;
		return true;
	}
	c.in = inner;
	c.key = key;
	c.frame = frame;
	c.caplen = caplen;
	c.have_outer = false;
	return eval(f, f->root, &c);
}

bool dpc_filter_match(const struct dpc_filter *f, const struct dpc_key *key,
		      const uint8_t *frame, uint32_t caplen)
{
	struct fview v;

	dpc_filter_view(key, frame, caplen, SCOPE_INNER, &v);
	return dpc_filter_match_view(f, key, frame, caplen, &v);
}
