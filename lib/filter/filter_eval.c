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
	memcpy(buf + 14, v->frame + v->body, len - 14);
	return exec_slot(s, buf, len, v->vwirelen) != 0;
}

static bool run_bpf(const struct dpc_filter *f, uint32_t slot,
		    const struct fview *v)
{
	const struct dpc_filter_bpf_slot *s = &f->slots[slot];

	if (!v->contiguous)
		return run_bpf_copy(s, v);
	return exec_slot(s, v->frame + v->l2, v->vcaplen, v->vwirelen) != 0;
}

static bool l4_proto_ok(uint32_t proto, uint8_t set)
{
	return (proto == 6 && (set & L4_TCP)) || (proto == 17 && (set & L4_UDP)) ||
	       (proto == 132 && (set & L4_SCTP));
}

static bool in_range(const struct fnode *n, uint32_t port)
{
	return port >= n->u.port.lo && port <= n->u.port.hi;
}

static bool port_match(const struct fview *v, const struct fnode *n)
{
	uint32_t x, s, d, so, dof;

	if (v->vcaplen < 14)
		return false;
	if (v->ethertype == 0x86dd) {
		if (!fv_ld8(v, 20, &x) || !l4_proto_ok(x, n->link))
			return false;
		so = 54;
		dof = 56;
	} else if (v->ethertype == 0x0800) {
		if (!fv_ld8(v, 23, &x) || !l4_proto_ok(x, n->link))
			return false;
		if (!fv_ld16(v, 20, &x) || (x & 0x1fff))
			return false;
		if (!fv_ld8(v, 14, &x))
			return false;
		so = 14 + (x & 0xf) * 4;
		dof = so + 2;
	} else {
		return false;
	}
	switch (n->dir) {
	case DIR_SRC:
		return fv_ld16(v, so, &s) && in_range(n, s);
	case DIR_DST:
		return fv_ld16(v, dof, &d) && in_range(n, d);
	case DIR_BOTH:
		return fv_ld16(v, so, &s) && in_range(n, s) &&
		       fv_ld16(v, dof, &d) && in_range(n, d);
	default:
		return (fv_ld16(v, so, &s) && in_range(n, s)) ||
		       (fv_ld16(v, dof, &d) && in_range(n, d));
	}
}

static bool v4_at(const struct fview *v, uint32_t off, const struct fnode *n)
{
	uint32_t x;

	return fv_ld32(v, off, &x) && (x & n->u.v4.mask) == n->u.v4.addr;
}

static bool host4_match(const struct fview *v, const struct fnode *n)
{
	uint32_t so, dof;

	if (v->vcaplen < 14)
		return false;
	if (v->ethertype == 0x0800 && (n->link & LINK_IP)) {
		so = 26;
		dof = 30;
	} else if ((v->ethertype == 0x0806 && (n->link & LINK_ARP)) ||
		   (v->ethertype == 0x8035 && (n->link & LINK_RARP))) {
		so = 28;
		dof = 38;
	} else {
		return false;
	}
	switch (n->dir) {
	case DIR_SRC: return v4_at(v, so, n);
	case DIR_DST: return v4_at(v, dof, n);
	case DIR_BOTH: return v4_at(v, so, n) && v4_at(v, dof, n);
	default: return v4_at(v, so, n) || v4_at(v, dof, n);
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
	if (v->vcaplen < 14 || v->ethertype != 0x86dd)
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
	const struct dpc_key *key;
	const uint8_t *frame;
	uint32_t caplen;
	struct fview v[2];
	uint8_t built;
};

static const struct fview *view_of(struct ectx *c, int scope)
{
	if (!(c->built & (1u << scope))) {
		dpc_filter_view(c->key, c->frame, c->caplen, scope, &c->v[scope]);
		c->built |= (uint8_t)(1u << scope);
	}
	return &c->v[scope];
}

static bool eval_prim(const struct dpc_filter *f, const struct fnode *n,
		      struct ectx *c)
{
	const struct fview *v;
	uint32_t x;

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
	v = view_of(c, n->scope);
	switch (n->kind) {
	case FP_ETHERTYPE:
		return v->vcaplen >= 14 && v->ethertype == n->u.num;
	case FP_PROTO4:
		return v->vcaplen >= 14 && v->ethertype == 0x0800 &&
		       fv_ld8(v, 23, &x) && x == n->u.num;
	case FP_PROTO6:
		if (v->vcaplen < 14 || v->ethertype != 0x86dd || !fv_ld8(v, 20, &x))
			return false;
		if (x == n->u.num)
			return true;
		return x == 44 && fv_ld8(v, 54, &x) && x == n->u.num;
	case FP_HOST4:
		return host4_match(v, n);
	case FP_HOST6:
		return host6_match(v, n);
	case FP_PORT:
		return port_match(v, n);
	case FP_LEN_LE:
		return v->vwirelen <= n->u.num;
	case FP_LEN_GE:
		return v->vwirelen >= n->u.num;
	case FP_BPF:
		return run_bpf(f, n->u.slot, v);
	default:
		return false;
	}
}

static bool eval(const struct dpc_filter *f, uint32_t idx, struct ectx *c)
{
	for (;;) {
		const struct fnode *n = &f->nodes[idx];

		switch (n->op) {
		case FN_TRUE:
			return true;
		case FN_PRIM:
			return eval_prim(f, n, c);
		case FN_NOT:
			return !eval(f, n->a, c);
		case FN_AND:
			if (!eval(f, n->a, c))
				return false;
			idx = n->b;
			break;
		case FN_OR:
			if (eval(f, n->a, c))
				return true;
			idx = n->b;
			break;
		default:
			return false;
		}
	}
}

/*
 * Would libpcap's program for this expression read past the view? Only
 * the loads a native primitive of f makes, for the view's ethertype.
 */
static bool too_short(const struct dpc_filter *f, const struct fview *v)
{
	uint32_t need = 14, x;

	if (v->vcaplen < 14)
		return true;
	switch (v->ethertype) {
	case 0x0800:
		if (f->need & NEED_V4PROTO)
			need = 24;
		if (f->need & NEED_V4ADDR)
			need = 34;
		if (f->need & NEED_V4L4) {
			if (!fv_ld8(v, 14, &x))
				return true;
			x = 18 + (x & 0xf) * 4;
			if (x < 24)
				x = 24;
			if (x > need)
				need = x;
		}
		break;
	case 0x86dd:
		if (f->need & NEED_V6NH)
			need = 55;
		if (f->need & NEED_V6ADDR)
			need = need > 54 ? need : 54;
		if (f->need & NEED_V6L4)
			need = 58;
		break;
	case 0x0806:
	case 0x8035:
		if (f->need & NEED_ARP)
			need = 42;
		break;
	default:
		break;
	}
	return v->vcaplen < need;
}

bool dpc_filter_match(const struct dpc_filter *f, const struct dpc_key *key,
		      const uint8_t *frame, uint32_t caplen)
{
	struct ectx c;

	c.key = key;
	c.frame = frame;
	c.caplen = caplen;
	c.built = 0;
	if (f->whole >= 0) {
		const struct fview *v = view_of(&c, SCOPE_INNER);

		if (!f->native || too_short(f, v))
			return run_bpf(f, (uint32_t)f->whole, v);
	}
	return eval(f, f->root, &c);
}
