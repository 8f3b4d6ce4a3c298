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

#include "filter_internal.h"

#define MAX_ATOMS 8

enum atom_type { A_V4 = 1, A_PORT, A_VNI, A_V6 };

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

struct dpc_classifier {
	struct dpc_filter *filters[DPC_CLASSIFIER_MAX];
	unsigned n;
	uint64_t linear;       /* jobs evaluated on every packet */
	uint32_t want;         /* bit (type * 2 + scope) for atoms present */
	struct e64 *t64;
	uint32_t t64_mask;
	struct e128 *t128;
	uint32_t t128_mask;
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

static uint64_t key64(uint32_t type, uint32_t scope, uint32_t v)
{
	return ((uint64_t)type << 40) | ((uint64_t)scope << 32) | v;
}

static inline uint32_t hash64(uint64_t k, uint32_t mask)
{
	return (uint32_t)((k * 0x9E3779B97F4A7C15ull) >> 40) & mask;
}

static inline uint32_t hash128(const uint32_t *v, uint32_t scope, uint32_t mask)
{
	uint64_t k = ((uint64_t)v[0] << 32 | v[1]) ^
		     (((uint64_t)v[2] << 32 | v[3]) * 0xC2B2AE3D27D4EB4Full) ^ scope;

	return hash64(k, mask);
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

			if (e->key == UINT64_MAX)
				e->key = k;
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
	free(sets);
	return c;

nomem:
	free(sets);
	dpc_classifier_free(c);
	errno = ENOMEM;
	return NULL;
}

static inline void look64(const struct dpc_classifier *c, uint64_t k,
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
static void scope_lookup(const struct dpc_classifier *c, const struct fview *v,
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
		if (so) {
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

uint64_t dpc_classifier_match(const struct dpc_classifier *c,
			      const struct dpc_key *key,
			      const uint8_t *frame, uint32_t caplen)
{
	uint64_t cand = c->linear, out = 0;
	const uint32_t in_bits = (1u << (A_V4 * 2)) | (1u << (A_V6 * 2)) |
				 (1u << (A_PORT * 2));
	struct fview v;

	if (c->want & in_bits) {
		dpc_filter_view(key, frame, caplen, SCOPE_INNER, &v);
		scope_lookup(c, &v, SCOPE_INNER, &cand);
	}
	if (c->want & (in_bits << 1)) {
		dpc_filter_view(key, frame, caplen, SCOPE_OUTER, &v);
		scope_lookup(c, &v, SCOPE_OUTER, &cand);
	}
	if ((c->want & (1u << (A_VNI * 2))) && (key->flags & DPC_KEY_VXLAN))
		look64(c, key64(A_VNI, 0, key->vni), &cand, true);
	while (cand) {
		unsigned i = (unsigned)__builtin_ctzll(cand);

		cand &= cand - 1;
		if (dpc_filter_match(c->filters[i], key, frame, caplen))
			out |= 1ull << i;
	}
	return out;
}

void dpc_classifier_free(struct dpc_classifier *c)
{
	if (c == NULL)
		return;
	free(c->t64);
	free(c->t128);
	free(c);
}
