/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * classifier.c - which of K jobs want a packet.
 *
 * At build time each job's expression is reduced to a necessary condition:
 * a small set of "atoms" (IPv4 address, IPv6 address, L4 port, VNI, at a
 * scope and in a direction) at least one of which holds whenever the job
 * matches. Jobs with such a set are indexed in two hash tables keyed on
 * the atom's value; the others go on a linear list. Per packet the
 * classifier reads the handful of fields the indexed atoms name (with the
 * very loads the evaluator makes), looks each up, and evaluates only the
 * candidate jobs in full. The object is immutable once built.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_screen.h"
#include "filter_internal.h"

#define MAX_ATOMS 8
/* Bloom pre-check: 2^14 bits (2 KiB, 32 cache lines). 64 host jobs set 64
 * bits, so a frame whose two addresses no job names still hits ~0.8% of
 * the time and takes the full path (~3% with the 4096 bits it had). */
#define BLOOM_LOG2 DPC_SCREEN_BLOOM_LOG2
#define BLOOM_WORDS ((1u << BLOOM_LOG2) / 64)

enum atom_type { A_V4 = 1, A_PORT, A_VNI, A_V6 };

/* dpc_screen.h probes this classifier's Bloom filter with its own copy of
 * the IPv4 key layout (key64 below). */
_Static_assert((((uint64_t)A_V4 << 40) | ((uint64_t)SCOPE_INNER << 32)) ==
	       DPC_SCREEN_KEY_V4_INNER, "dpc_screen.h's IPv4 key");

struct atom {
	uint8_t type, scope, dir;
	uint32_t v[4];
};

struct atomset {
	int n; /* -1: no necessary condition */
	struct atom a[MAX_ATOMS];
};

struct e64 {
	uint64_t key;          /* UINT64_MAX: empty */
	uint64_t m_src, m_dst;
};

struct e128 {
	uint32_t v[4];
	uint32_t scope;        /* UINT32_MAX: empty */
	uint64_t m_src, m_dst;
};

/*
 * What is left to check of a job once its IPv4 host atom was found on an
 * untagged IPv4 frame of >= 34 bytes (the fast path): nothing ("host A"),
 * one port primitive ("host A and tcp port 80"), or the whole expression.
 */
enum { R_FULL = 0, R_NONE, R_PORT };
struct resid {
	uint8_t kind, dir, link;
	uint16_t lo, hi;
};

struct dpc_classifier {
	struct dpc_filter *filters[DPC_CLASSIFIER_MAX];
	unsigned n;
	uint64_t linear;       /* jobs evaluated on every packet */
	uint32_t want;         /* bit (type * 2 + scope) for atoms present */
	struct e64 *t64;
	uint32_t t64_mask;
	struct e128 *t128;
	uint32_t t128_mask;
	uint64_t bloom[BLOOM_WORDS]; /* 16384-bit pre-check of t64 keys */
	bool v4_only;          /* only innermost IPv4 atoms, no linear jobs */
	bool screen;           /* every job indexed: dpc_classifier_screen works */
	struct resid resid[DPC_CLASSIFIER_MAX];
};

static int rank(const struct atomset *s)
{
	int r = 0;

	if (s->n < 0)
		return -1;
	for (int i = 0; i < s->n; i++) {
		int x = s->a[i].type == A_PORT ? 1 : s->a[i].type == A_VNI ? 2 : 3;

		if (i == 0 || x < r)
			r = x;
	}
	return r * 16 - s->n;
}

static void nec(const struct dpc_filter *f, uint32_t idx, struct atomset *out)
{
	const struct fnode *n = &f->nodes[idx];
	struct atomset a, b;

	out->n = -1;
	switch (n->op) {
	case FN_PRIM:
		out->a[0].scope = n->scope;
		out->a[0].dir = n->dir;
		memset(out->a[0].v, 0, sizeof(out->a[0].v));
		if (n->kind == FP_HOST4 && n->u.v4.mask == 0xffffffffu) {
			out->a[0].type = A_V4;
			out->a[0].v[0] = n->u.v4.addr;
		} else if (n->kind == FP_HOST6 && n->u.v6.mask[0] == 0xffffffffu &&
			   n->u.v6.mask[1] == 0xffffffffu &&
			   n->u.v6.mask[2] == 0xffffffffu &&
			   n->u.v6.mask[3] == 0xffffffffu) {
			out->a[0].type = A_V6;
			memcpy(out->a[0].v, n->u.v6.addr, sizeof(out->a[0].v));
		} else if (n->kind == FP_PORT && n->u.port.lo == n->u.port.hi) {
			out->a[0].type = A_PORT;
			out->a[0].v[0] = n->u.port.lo;
		} else if (n->kind == FP_VNI) {
			out->a[0].type = A_VNI;
			out->a[0].scope = 0;
			out->a[0].dir = DIR_ANY;
			out->a[0].v[0] = n->u.num;
		} else {
			return;
		}
		out->n = 1;
		return;
	case FN_AND:
		nec(f, n->a, &a);
		nec(f, n->b, &b);
		*out = rank(&b) > rank(&a) ? b : a;
		return;
	case FN_OR:
		nec(f, n->a, &a);
		if (a.n < 0)
			return;
		nec(f, n->b, &b);
		if (b.n < 0 || a.n + b.n > MAX_ATOMS)
			return;
		*out = a;
		memcpy(&out->a[a.n], b.a, (size_t)b.n * sizeof(b.a[0]));
		out->n = a.n + b.n;
		return;
	default:
		return;
	}
}

#define HASH_MUL 0x9E3779B97F4A7C15ull
#define IN_BITS ((1u << (A_V4 * 2)) | (1u << (A_V6 * 2)) | (1u << (A_PORT * 2)))

static uint64_t key64(uint32_t type, uint32_t scope, uint32_t v)
{
	return ((uint64_t)type << 40) | ((uint64_t)scope << 32) | v;
}

static inline uint32_t hash64(uint64_t k, uint32_t mask)
{
	return (uint32_t)((k * HASH_MUL) >> 40) & mask;
}

/* Bloom bit of a t64 key: most lookups miss and stop here. */
static inline uint32_t bloom_bit(uint64_t k)
{
	return dpc_screen_bloom_bit(k);
}

static inline uint32_t hash128(const uint32_t *v, uint32_t scope, uint32_t mask)
{
	uint64_t k = ((uint64_t)v[0] << 32 | v[1]) ^
		     (((uint64_t)v[2] << 32 | v[3]) * 0xC2B2AE3D27D4EB4Full) ^ scope;

	return hash64(k, mask);
}

static struct resid residual(const struct dpc_filter *f, const struct atomset *s)
{
	struct resid r = { R_FULL, 0, 0, 0, 0 };
	const struct atom *a = &s->a[0];
	int host = -1, port = -1;

	if (f->n_conj == 0 || s->n != 1 || a->type != A_V4 ||
	    a->scope != SCOPE_INNER || a->dir == DIR_BOTH)
		return r;
	for (int i = 0; i < f->n_conj; i++) {
		const struct fnode *n = &f->nodes[f->conj[i]];

		if (host < 0 && n->kind == FP_HOST4 && n->u.v4.mask == 0xffffffffu &&
		    n->u.v4.addr == a->v[0] && n->dir == a->dir && (n->link & LINK_IP))
			host = i;
		else if (port < 0 && n->kind == FP_PORT)
			port = i;
		else
			return r;
	}
	if (host < 0)
		return r;
	if (port < 0) {
		r.kind = R_NONE;
	} else {
		const struct fnode *n = &f->nodes[f->conj[port]];

		r.kind = R_PORT;
		r.dir = n->dir;
		r.link = n->link;
		r.lo = n->u.port.lo;
		r.hi = n->u.port.hi;
	}
	return r;
}

/* FP_PORT on an untagged IPv4 frame b of len >= 34 bytes (libpcap's loads). */
static inline bool port_ok_v4(const struct resid *r, const uint8_t *b, uint32_t len)
{
	uint32_t proto = b[23], so, span = (uint32_t)(r->hi - r->lo);

	if (!((proto == 6 && (r->link & L4_TCP)) || (proto == 17 && (r->link & L4_UDP)) ||
	      (proto == 132 && (r->link & L4_SCTP))))
		return false;
	if (fv_be16(b + 20) & 0x1fff)
		return false;
	so = 14 + (b[14] & 0xfu) * 4;
	switch (r->dir) {
	case DIR_SRC:
		return so + 2 <= len && fv_be16(b + so) - r->lo <= span;
	case DIR_DST:
		return so + 4 <= len && fv_be16(b + so + 2) - r->lo <= span;
	case DIR_BOTH:
		return so + 4 <= len && fv_be16(b + so) - r->lo <= span &&
		       fv_be16(b + so + 2) - r->lo <= span;
	default:
		return (so + 2 <= len && fv_be16(b + so) - r->lo <= span) ||
		       (so + 4 <= len && fv_be16(b + so + 2) - r->lo <= span);
	}
}

static void add_masks(uint64_t *ms, uint64_t *md, int dir, uint64_t bit)
{
	if (dir == DIR_SRC || dir == DIR_BOTH || dir == DIR_ANY)
		*ms |= bit;
	if (dir == DIR_DST || dir == DIR_ANY)
		*md |= bit;
}

static void insert(struct dpc_classifier *c, const struct atom *a, uint64_t bit)
{
	if (a->type == A_V6) {
		uint32_t h = hash128(a->v, a->scope, c->t128_mask);

		for (;; h = (h + 1) & c->t128_mask) {
			struct e128 *e = &c->t128[h];

			if (e->scope == UINT32_MAX) {
				memcpy(e->v, a->v, sizeof(e->v));
				e->scope = a->scope;
			}
			if (e->scope == a->scope && !memcmp(e->v, a->v, sizeof(e->v))) {
				add_masks(&e->m_src, &e->m_dst, a->dir, bit);
				return;
			}
		}
	} else {
		uint64_t k = key64(a->type, a->scope, a->v[0]);
		uint32_t h = hash64(k, c->t64_mask);

		for (;; h = (h + 1) & c->t64_mask) {
			struct e64 *e = &c->t64[h];

			if (e->key == UINT64_MAX) {
				e->key = k;
				c->bloom[bloom_bit(k) >> 6] |= 1ull << (bloom_bit(k) & 63);
			}
			if (e->key == k) {
				add_masks(&e->m_src, &e->m_dst, a->dir, bit);
				return;
			}
		}
	}
}

static uint32_t table_size(unsigned entries)
{
	uint32_t s = 16;

	while (s < entries * 4u)
		s <<= 1;
	return s;
}

struct dpc_classifier *dpc_classifier_build(struct dpc_filter *const *filters,
					    unsigned n)
{
	struct dpc_classifier *c;
	struct atomset *sets = NULL;
	unsigned n64 = 0, n128 = 0;

	if (n > DPC_CLASSIFIER_MAX || (n > 0 && filters == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned i = 0; i < n; i++)
		if (filters[i] == NULL) {
			errno = EINVAL;
			return NULL;
		}
	c = calloc(1, sizeof(*c));
	sets = calloc(n ? n : 1, sizeof(*sets));
	if (c == NULL || sets == NULL)
		goto nomem;
	c->n = n;
	for (unsigned i = 0; i < n; i++) {
		c->filters[i] = filters[i];
		nec(filters[i], filters[i]->root, &sets[i]);
		if (sets[i].n < 0) {
			c->linear |= 1ull << i;
			continue;
		}
		for (int j = 0; j < sets[i].n; j++) {
			if (sets[i].a[j].type == A_V6)
				n128++;
			else
				n64++;
			c->want |= 1u << (sets[i].a[j].type * 2 + sets[i].a[j].scope);
		}
	}
	c->t64_mask = table_size(n64) - 1;
	c->t128_mask = table_size(n128) - 1;
	c->t64 = malloc((c->t64_mask + 1) * sizeof(*c->t64));
	c->t128 = malloc((c->t128_mask + 1) * sizeof(*c->t128));
	if (c->t64 == NULL || c->t128 == NULL)
		goto nomem;
	for (uint32_t i = 0; i <= c->t64_mask; i++) {
		c->t64[i].key = UINT64_MAX;
		c->t64[i].m_src = c->t64[i].m_dst = 0;
	}
	for (uint32_t i = 0; i <= c->t128_mask; i++) {
		memset(&c->t128[i], 0, sizeof(c->t128[i]));
		c->t128[i].scope = UINT32_MAX;
	}
	for (unsigned i = 0; i < n; i++)
		for (int j = 0; j < sets[i].n; j++)
			insert(c, &sets[i].a[j], 1ull << i);
	c->v4_only = c->linear == 0 && c->want == (1u << (A_V4 * 2 + SCOPE_INNER));
	c->screen = n > 0 && c->linear == 0;
	for (unsigned i = 0; i < n; i++)
		c->resid[i] = residual(filters[i], &sets[i]);
	free(sets);
	return c;

nomem:
	free(sets);
	dpc_classifier_free(c);
	errno = ENOMEM;
	return NULL;
}

/* Exact lookup of a t64 key (no Bloom pre-check). */
static inline void probe64(const struct dpc_classifier *c, uint64_t k,
			   uint64_t *cand, bool as_src)
{
	uint32_t h = hash64(k, c->t64_mask);

	for (;; h = (h + 1) & c->t64_mask) {
		const struct e64 *e = &c->t64[h];

		if (e->key == k) {
			*cand |= as_src ? e->m_src : e->m_dst;
			return;
		}
		if (e->key == UINT64_MAX)
			return;
	}
}

static inline void look64(const struct dpc_classifier *c, uint64_t k,
			  uint64_t *cand, bool as_src)
{
	uint32_t b = bloom_bit(k), h;

	if (!((c->bloom[b >> 6] >> (b & 63)) & 1))
		return;
	h = hash64(k, c->t64_mask);

	for (;; h = (h + 1) & c->t64_mask) {
		const struct e64 *e = &c->t64[h];

		if (e->key == k) {
			*cand |= as_src ? e->m_src : e->m_dst;
			return;
		}
		if (e->key == UINT64_MAX)
			return;
	}
}

static void look128(const struct dpc_classifier *c, const struct fview *v,
		    uint32_t off, uint32_t scope, uint64_t *cand, bool as_src)
{
	uint32_t w[4];
	uint32_t h;

	for (int i = 0; i < 4; i++)
		if (!fv_ld32(v, off + 4u * (uint32_t)i, &w[i]))
			return;
	h = hash128(w, scope, c->t128_mask);
	for (;; h = (h + 1) & c->t128_mask) {
		const struct e128 *e = &c->t128[h];

		if (e->scope == scope && !memcmp(e->v, w, sizeof(w))) {
			*cand |= as_src ? e->m_src : e->m_dst;
			return;
		}
		if (e->scope == UINT32_MAX)
			return;
	}
}

/* Candidates from one frame level's addresses and ports. */
static inline __attribute__((always_inline)) void scope_lookup(const struct dpc_classifier *c, const struct fview *v,
			 uint32_t scope, uint64_t *cand)
{
	uint32_t x, so, dof;

	if (v->vcaplen < 14)
		return;
	if (c->want & (1u << (A_V4 * 2 + scope))) {
		so = dof = 0;
		if (v->ethertype == 0x0800) {
			so = 26;
			dof = 30;
		} else if (v->ethertype == 0x0806 || v->ethertype == 0x8035) {
			so = 28;
			dof = 38;
		}
		if (so && v->vcaplen >= dof + 4) {
			look64(c, key64(A_V4, scope, fv_be32(v->base + so)), cand, true);
			look64(c, key64(A_V4, scope, fv_be32(v->base + dof)), cand, false);
		} else if (so) {
			if (fv_ld32(v, so, &x))
				look64(c, key64(A_V4, scope, x), cand, true);
			if (fv_ld32(v, dof, &x))
				look64(c, key64(A_V4, scope, x), cand, false);
		}
	}
	if ((c->want & (1u << (A_V6 * 2 + scope))) && v->ethertype == 0x86dd) {
		look128(c, v, 22, scope, cand, true);
		look128(c, v, 38, scope, cand, false);
	}
	if (c->want & (1u << (A_PORT * 2 + scope))) {
		so = 0;
		if (v->ethertype == 0x86dd) {
			if (fv_ld8(v, 20, &x) && (x == 6 || x == 17 || x == 132)) {
				so = 54;
			}
		} else if (v->ethertype == 0x0800) {
			if (fv_ld8(v, 23, &x) && (x == 6 || x == 17 || x == 132) &&
			    fv_ld16(v, 20, &x) && !(x & 0x1fff) && fv_ld8(v, 14, &x))
				so = 14 + (x & 0xf) * 4;
		}
		if (so) {
			if (fv_ld16(v, so, &x))
				look64(c, key64(A_PORT, scope, x), cand, true);
			if (fv_ld16(v, so + 2, &x))
				look64(c, key64(A_PORT, scope, x), cand, false);
		}
	}
}

/* The full check of each candidate job (out of line: most packets have
 * none and skip it). */
static __attribute__((noinline)) uint64_t
check_candidates(const struct dpc_classifier *c, uint64_t cand,
		 const struct dpc_key *key, const uint8_t *frame,
		 uint32_t caplen, const struct fview *v)
{
	uint64_t out = 0;

	while (cand) {
		unsigned i = (unsigned)__builtin_ctzll(cand);

		cand &= cand - 1;
		if (dpc_filter_match_view(c->filters[i], key, frame, caplen, v))
			out |= 1ull << i;
	}
	return out;
}

static __attribute__((noinline)) void
outer_lookup(const struct dpc_classifier *c, const struct dpc_key *key,
	     const uint8_t *frame, uint32_t caplen, uint64_t *cand)
{
	struct fview o;

	dpc_filter_view(key, frame, caplen, SCOPE_OUTER, &o);
	scope_lookup(c, &o, SCOPE_OUTER, cand);
}

static inline bool bloom_has(const struct dpc_classifier *c, uint64_t k)
{
	uint32_t b = bloom_bit(k);

	return (c->bloom[b >> 6] >> (b & 63)) & 1;
}

static uint64_t match_general(const struct dpc_classifier *c,
			      const struct dpc_key *key,
			      const uint8_t *frame, uint32_t caplen);
static uint64_t check_candidates(const struct dpc_classifier *c, uint64_t cand,
				 const struct dpc_key *key, const uint8_t *frame,
				 uint32_t caplen, const struct fview *v);
static uint64_t v4_hit(const struct dpc_classifier *c, uint64_t ks, uint64_t kd,
		       unsigned hit, const struct dpc_key *key, const uint8_t *frame,
		       uint32_t caplen, const uint8_t *b, uint32_t len);

/*
 * Jobs indexed on innermost IPv4 addresses only (host jobs, alone or with
 * ports/protocols): an untagged IPv4 innermost frame whose two addresses
 * miss the Bloom filter is wanted by none. Everything else takes the
 * general path, which decides the same.
 */
static inline uint64_t match_v4_only(const struct dpc_classifier *c,
				     const struct dpc_key *key,
				     const uint8_t *frame, uint32_t caplen)
{
	const uint8_t *b = frame;
	uint32_t len = caplen, et;

	if (key->flags & DPC_KEY_VXLAN) {
		uint32_t l2 = key->inner.off.l2, l4 = key->outer.off.l4;
		uint32_t end = l4 + key->outer.l4.udp_len;

		if (l2 == DPC_OFF_NONE || l4 == DPC_OFF_NONE || end > caplen ||
		    end < l2 + 34)
			return match_general(c, key, frame, caplen);
		b = frame + l2;
		len = end - l2;
	}
	if (len < 34)
		return match_general(c, key, frame, caplen);
	et = fv_be16(b + 12);
	if (et != 0x0800) {
		if (et == 0x0806 || et == 0x8035 || fv_is_tpid(et))
			return match_general(c, key, frame, caplen);
		return 0;
	}
	{
		uint64_t ks = key64(A_V4, SCOPE_INNER, fv_be32(b + 26));
		uint64_t kd = key64(A_V4, SCOPE_INNER, fv_be32(b + 30));
		unsigned hit = (unsigned)bloom_has(c, ks) | (unsigned)bloom_has(c, kd) << 1;

		if (hit == 0)
			return 0;
		return v4_hit(c, ks, kd, hit, key, frame, caplen, b, len);
	}
}

/* Jobs with more than a port left to check, on the fast path's frame. */
static __attribute__((noinline)) uint64_t
v4_full(const struct dpc_classifier *c, uint64_t cand, const struct dpc_key *key,
	const uint8_t *frame, uint32_t caplen, const uint8_t *b, uint32_t len)
{
	struct fview v;

	v.frame = frame;
	v.base = b;
	v.l2 = (uint32_t)(b - frame);
	v.vcaplen = len;
	v.vwirelen = (key->flags & DPC_KEY_VXLAN) ? len :
		     (key->wirelen > caplen ? key->wirelen : caplen);
	v.ethertype = 0x0800;
	v.contiguous = true;
	return check_candidates(c, cand, key, frame, caplen, &v);
}

/* match_v4_only after a Bloom hit: the exact lookups, then the checks. */
static __attribute__((noinline)) uint64_t
v4_hit(const struct dpc_classifier *c, uint64_t ks, uint64_t kd, unsigned hit,
       const struct dpc_key *key, const uint8_t *frame, uint32_t caplen,
       const uint8_t *b, uint32_t len)
{
	{
		uint64_t cand = 0;

		if (hit & 1)
			probe64(c, ks, &cand, true);
		if (hit & 2)
			probe64(c, kd, &cand, false);
		if (cand == 0)
			return 0;
		{
			uint64_t out = 0, rest = 0;

			while (cand) {
				unsigned i = (unsigned)__builtin_ctzll(cand);
				const struct resid *r = &c->resid[i];

				cand &= cand - 1;
				if (r->kind == R_NONE)
					out |= 1ull << i;
				else if (r->kind == R_PORT)
					out |= (uint64_t)port_ok_v4(r, b, len) << i;
				else
					rest |= 1ull << i;
			}
			if (rest == 0)
				return out;
			return out | v4_full(c, rest, key, frame, caplen, b, len);
		}
	}
}

uint64_t dpc_classifier_match(const struct dpc_classifier *c,
			      const struct dpc_key *key,
			      const uint8_t *frame, uint32_t caplen)
{
	if (c->v4_only)
		return match_v4_only(c, key, frame, caplen);
	return match_general(c, key, frame, caplen);
}

static uint64_t match_general(const struct dpc_classifier *c,
			      const struct dpc_key *key,
			      const uint8_t *frame, uint32_t caplen)
{
	uint64_t cand = c->linear;
	struct fview v;

	dpc_filter_view(key, frame, caplen, SCOPE_INNER, &v);
	if (c->want & IN_BITS)
		scope_lookup(c, &v, SCOPE_INNER, &cand);
	if (__builtin_expect(c->want & ~IN_BITS, 0)) {
		if (c->want & (IN_BITS << 1))
			outer_lookup(c, key, frame, caplen, &cand);
		if ((c->want & (1u << (A_VNI * 2))) && (key->flags & DPC_KEY_VXLAN))
			look64(c, key64(A_VNI, 0, key->vni), &cand, true);
	}
	if (cand == 0)
		return 0;
	return check_candidates(c, cand, key, frame, caplen, &v);
}

/*
 * The screen: a walk over the raw frame, before any parse, that answers
 * "certainly wanted by no job, and dpc_parse() would say OK" for the
 * common frames (Ethernet, up to two tags, IPv4 without options past the
 * capture or IPv6 without extension headers, TCP/UDP/ICMP/SCTP, VXLAN on a
 * configured port with the same inside). It repeats exactly the checks of
 * dpc_parse() that can fail on such a frame and gives up (false: parse
 * and classify) on anything else, so a screened frame is one whose parse
 * status is OK and whose classifier mask is 0. The lookups are the
 * classifier's own (same fields, same keys, same Bloom filter); only a
 * Bloom miss on every field the indexed atoms name screens the frame.
 */
struct scr_level {
	uint32_t et;          /* ethertype after the tags */
	uint32_t l3;          /* offset of the IP header */
	uint32_t l4;          /* offset of the L4 header when ports is set */
	uint32_t inner;       /* offset of the VXLAN inner frame, 0: none */
	uint32_t icap, iend;  /* the VXLAN payload's captured and declared end */
	uint32_t vni;
	bool ports;           /* the classifier reads ports at l4 */
};

/* One frame level at off, captured to cap, declared to end (the wire
 * length outside, the UDP length inside VXLAN). 0 when dpc_parse() would
 * pass it, -1 to give up. depth: VXLAN headers already walked. */
static inline int scr_level(const uint8_t *f, uint32_t off, uint32_t cap,
			    uint32_t end, unsigned depth,
			    const struct dpc_parse_opts *o, struct scr_level *L)
{
	uint32_t et, p, icap, iend, l4, proto;
	const uint8_t *b;

	if (off + 14 > cap)
		return -1;
	et = fv_be16(f + off + 12);
	p = off + 14;
	if (fv_is_tpid(et)) {
		if (p + 4 > cap)
			return -1;
		et = fv_be16(f + p + 2);
		p += 4;
		if (fv_is_tpid(et)) {
			if (p + 4 > cap)
				return -1;
			et = fv_be16(f + p + 2);
			p += 4;
			if (fv_is_tpid(et))
				return -1;
		}
	}
	L->et = et;
	L->l3 = p;
	L->ports = false;
	L->inner = 0;
	b = f + p;
	if (et == 0x0800) {
		uint32_t ihl, tot, fo;

		if (p + 20 > cap || (b[0] >> 4) != 4)
			return -1;
		ihl = (b[0] & 0xfu) * 4;
		tot = fv_be16(b + 2);
		fo = fv_be16(b + 6);
		if (ihl < 20 || tot < ihl || p + tot > end || p + ihl > cap)
			return -1;       /* also total length 0 (TSO) */
		if (fo & 0x1fff)
			return 0;        /* a later fragment: no L4 */
		if (fo & 0x2000)
			return -1;       /* a first fragment */
		proto = b[9];
		iend = p + tot;
		l4 = p + ihl;
		if (proto == 1) {
			return l4 + 8 <= (iend < cap ? iend : cap) ? 0 : -1;
		}
	} else if (et == 0x86dd) {
		uint32_t plen;

		if (p + 40 > cap || (b[0] >> 4) != 6)
			return -1;
		plen = fv_be16(b + 4);
		proto = b[6];
		if (proto == 0 || proto == 43 || proto == 44 || proto == 60 ||
		    proto == 51)
			return -1;       /* extension headers */
		iend = p + 40 + plen;
		if (iend > end)
			return -1;
		l4 = p + 40;
		if (proto == 58) {
			return l4 + 8 <= (iend < cap ? iend : cap) ? 0 : -1;
		}
	} else if (et == 0x0806 || et == 0x8035) {
		return -1;
	} else {
		return 0;                /* nothing above Ethernet is parsed */
	}
	icap = iend < cap ? iend : cap;
	L->l4 = l4;
	if (proto == 6) {
		uint32_t hlen;

		if (l4 + 20 > icap)
			return -1;
		hlen = (uint32_t)(f[l4 + 12] >> 4) * 4;
		if (hlen < 20 || l4 + hlen > icap)
			return -1;
		L->ports = true;
	} else if (proto == 17) {
		uint32_t ulen;

		if (l4 + 8 > icap)
			return -1;
		ulen = fv_be16(f + l4 + 4);
		if (ulen < 8 || l4 + ulen > iend)
			return -1;
		L->ports = true;
		if (o->n_vxlan_ports && dpc_parse_is_vxlan_port(o, (uint16_t)fv_be16(f + l4 + 2))) {
			uint32_t vend = l4 + ulen, vcap = vend < icap ? vend : icap;

			if (depth > 0 || o->max_tunnel_depth < 1 ||
			    l4 + 16 > vcap || !(f[l4 + 8] & 0x08))
				return -1;
			L->inner = l4 + 16;
			L->icap = vcap;
			L->iend = vend;
			L->vni = (uint32_t)f[l4 + 12] << 16 | (uint32_t)f[l4 + 13] << 8 |
				 f[l4 + 14];
		}
	} else if (proto == 132) {
		/* not parsed; the classifier still reads its ports */
		if (l4 + 4 > icap)
			return -1;
		L->ports = true;
	}
	return 0;
}

/* Any Bloom/table hit at one level and scope: the screen gives up. */
static inline bool scr_hit(const struct dpc_classifier *c, const uint8_t *f,
			   const struct scr_level *L, uint32_t scope)
{
	if ((c->want & (1u << (A_V4 * 2 + scope))) && L->et == 0x0800 &&
	    (bloom_has(c, key64(A_V4, scope, fv_be32(f + L->l3 + 12))) ||
	     bloom_has(c, key64(A_V4, scope, fv_be32(f + L->l3 + 16)))))
		return true;
	if ((c->want & (1u << (A_V6 * 2 + scope))) && L->et == 0x86dd) {
		for (uint32_t a = 8; a <= 24; a += 16) {
			uint32_t w[4];
			uint32_t h;

			for (int i = 0; i < 4; i++)
				w[i] = fv_be32(f + L->l3 + a + 4u * (uint32_t)i);
			h = hash128(w, scope, c->t128_mask);
			for (;; h = (h + 1) & c->t128_mask) {
				const struct e128 *e = &c->t128[h];

				if (e->scope == scope && !memcmp(e->v, w, sizeof(w)))
					return true;
				if (e->scope == UINT32_MAX)
					break;
			}
		}
	}
	if ((c->want & (1u << (A_PORT * 2 + scope))) && L->ports &&
	    (bloom_has(c, key64(A_PORT, scope, fv_be16(f + L->l4))) ||
	     bloom_has(c, key64(A_PORT, scope, fv_be16(f + L->l4 + 2)))))
		return true;
	return false;
}

static __attribute__((noinline)) bool scr_general(const struct dpc_classifier *c,
			const struct dpc_parse_opts *opts,
			const uint8_t *frame, uint32_t caplen, uint32_t wirelen);

bool dpc_classifier_screen(const struct dpc_classifier *c,
			   const struct dpc_parse_opts *opts,
			   const uint8_t *frame, uint32_t caplen, uint32_t wirelen)
{
	if (c->v4_only && frame != NULL) {
		int r = dpc_screen_v4(c->bloom, opts, frame, caplen, wirelen);

		if (r != DPC_SCREEN_OTHER)
			return r == DPC_SCREEN_UNWANTED;
	}
	return scr_general(c, opts, frame, caplen, wirelen);
}

const uint64_t *dpc_classifier_screen_v4(const struct dpc_classifier *c)
{
	return c->v4_only ? c->bloom : NULL;
}

static __attribute__((noinline)) bool scr_general(const struct dpc_classifier *c,
			const struct dpc_parse_opts *opts,
			const uint8_t *frame, uint32_t caplen, uint32_t wirelen)
{
	struct scr_level out = { 0 }, in;
	const struct scr_level *inner = &out;

	if (!c->screen || frame == NULL || caplen > 0xffff)
		return false;
	if (wirelen < caplen)
		wirelen = caplen;
	if (scr_level(frame, 0, caplen, wirelen, 0, opts, &out) != 0)
		return false;
	if (out.inner) {
		if (scr_level(frame, out.inner, out.icap, out.iend, 1, opts, &in) != 0)
			return false;
		inner = &in;
		if ((c->want & (1u << (A_VNI * 2))) &&
		    bloom_has(c, key64(A_VNI, 0, out.vni)))
			return false;
	}
	if (scr_hit(c, frame, inner, SCOPE_INNER))
		return false;
	if ((c->want & (IN_BITS << 1)) && scr_hit(c, frame, &out, SCOPE_OUTER))
		return false;
	return true;
}

void dpc_classifier_free(struct dpc_classifier *c)
{
	if (c == NULL)
		return;
	free(c->t64);
	free(c->t128);
	free(c);
}
