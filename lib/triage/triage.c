/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * triage.c - the analyser's core: bounded tables, per-packet dispatch, the
 * link and internet layers (sizes, MTU, VXLAN, malformed frames, VLANs,
 * protocol mix, fragments, ICMP errors, TTLs, routing loops).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "triage_internal.h"

enum { PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, PROTO_OTHER_IP,
       PROTO_ARP, PROTO_NONIP, PROTO_VXLAN };

/* ---- tables ---- */

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h;
}

void tab_init(struct tab *t, uint32_t esz, uint32_t ksz, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	t->esz = esz;
	t->ksz = ksz;
	t->max = max ? max : 1;
}

void tab_fini(struct tab *t)
{
	free(t->slots);
	free(t->ents);
	t->slots = NULL;
	t->ents = NULL;
	t->n = t->cap = t->nslots = 0;
}

void *tab_find(const struct tab *t, const void *key)
{
	uint32_t mask, i;

	if (t->nslots == 0)
		return NULL;
	mask = t->nslots - 1;
	i = (uint32_t)hash_bytes(key, t->ksz, 0) & mask;
	while (t->slots[i]) {
		void *e = tab_at(t, t->slots[i] - 1);

		if (memcmp(e, key, t->ksz) == 0)
			return e;
		i = (i + 1) & mask;
	}
	return NULL;
}

static int tab_rehash(struct tab *t, uint32_t nslots)
{
	uint32_t *s = calloc(nslots, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	free(t->slots);
	t->slots = s;
	t->nslots = nslots;
	for (uint32_t j = 0; j < t->n; j++) {
		uint32_t i = (uint32_t)hash_bytes(tab_at(t, j), t->ksz, 0) & (nslots - 1);

		while (s[i])
			i = (i + 1) & (nslots - 1);
		s[i] = j + 1;
	}
	return 0;
}

void *tab_get(struct tab *t, const void *key)
{
	void *e = tab_find(t, key);
	uint32_t i;

	if (e != NULL)
		return e;
	if (t->n >= t->max) {
		t->overflow++;
		return NULL;
	}
	if (t->n + 1 > t->cap) {
		uint32_t nc = t->cap ? t->cap * 2 : 16;
		uint8_t *ne;

		if (nc > t->max)
			nc = t->max;
		ne = realloc(t->ents, (size_t)nc * t->esz);
		if (ne == NULL) {
			t->nomem = 1;
			t->overflow++;
			return NULL;
		}
		t->ents = ne;
		t->cap = nc;
	}
	if ((t->n + 1) * 2 > t->nslots) {
		if (tab_rehash(t, t->nslots ? t->nslots * 2 : 32) != 0) {
			t->nomem = 1;
			t->overflow++;
			return NULL;
		}
	}
	e = tab_at(t, t->n);
	memset(e, 0, t->esz);
	memcpy(e, key, t->ksz);
	i = (uint32_t)hash_bytes(key, t->ksz, 0) & (t->nslots - 1);
	while (t->slots[i])
		i = (i + 1) & (t->nslots - 1);
	t->slots[i] = ++t->n;
	return e;
}

/* ---- small helpers ---- */

void ipa_from(struct ipa *a, uint8_t fam, const struct dpc_addr *d)
{
	memset(a, 0, sizeof(*a));
	a->fam = fam;
	if (fam == 4)
		memcpy(a->a, &d->v4, 4);
	else if (fam == 6)
		memcpy(a->a, d->v6, 16);
}

static void ipa_raw(struct ipa *a, uint8_t fam, const uint8_t *p)
{
	memset(a, 0, sizeof(*a));
	a->fam = fam;
	memcpy(a->a, p, fam == 4 ? 4 : 16);
}

const char *ipa_str(const struct ipa *a, char *buf, size_t len)
{
	if (a->fam == 4 || a->fam == 6) {
		if (inet_ntop(a->fam == 4 ? AF_INET : AF_INET6, a->a, buf,
			      (socklen_t)len) != NULL)
			return buf;
	}
	snprintf(buf, len, "-");
	return buf;
}

void res_add(struct dpc_triage *t, struct res *r, uint32_t v)
{
	r->seen++;
	if (r->n < RES_MAX) {
		r->v[r->n++] = v;
		return;
	}
	/* reservoir sampling with a deterministic xorshift */
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 17;
	t->rng ^= t->rng << 5;
	uint64_t j = t->rng % r->seen;
	if (j < RES_MAX)
		r->v[j] = v;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the samples (sorts them in a copy). */
uint32_t res_pct(const struct res *r, unsigned pct)
{
	uint32_t v[RES_MAX];
	uint32_t rank;

	if (r->n == 0)
		return 0;
	memcpy(v, r->v, r->n * sizeof(v[0]));
	qsort(v, r->n, sizeof(v[0]), cmp_u32);
	rank = (pct * r->n + 99) / 100;
	if (rank == 0)
		rank = 1;
	return v[rank - 1];
}

const char *icmp_name(int v6, unsigned type, unsigned code)
{
	static const char *const unreach4[] = {
		"net unreachable", "host unreachable", "protocol unreachable",
		"port unreachable", "fragmentation needed", "source route failed",
		"destination network unknown", "destination host unknown",
		"source host isolated", "network administratively prohibited",
		"host administratively prohibited", "network unreachable for TOS",
		"host unreachable for TOS", "communication administratively prohibited",
		"host precedence violation", "precedence cutoff in effect",
	};
	static const char *const unreach6[] = {
		"no route to destination", "communication administratively prohibited",
		"beyond scope of source address", "address unreachable",
		"port unreachable", "source address failed ingress/egress policy",
		"reject route to destination",
	};

	if (!v6) {
		if (type == 3)
			return code < 16 ? unreach4[code] : "unreachable (unknown code)";
		if (type == 11)
			return code == 0 ? "time exceeded in transit (TTL)" :
					   "fragment reassembly time exceeded";
		if (type == 12)
			return "parameter problem";
		return "icmp error";
	}
	if (type == 1)
		return code < 7 ? unreach6[code] : "unreachable (unknown code)";
	if (type == 2)
		return "packet too big";
	if (type == 3)
		return code == 0 ? "hop limit exceeded in transit" :
				   "fragment reassembly time exceeded";
	if (type == 4)
		return "parameter problem";
	return "icmpv6 error";
}

const char *tls_alert_name(unsigned d)
{
	switch (d) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 86: return "inappropriate_fallback";
	case 90: return "user_canceled";
	case 109: return "missing_extension";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	case 116: return "certificate_required";
	case 120: return "no_application_protocol";
	default: return "unknown_alert";
	}
}

const char *dns_rcode_name(unsigned rc)
{
	static const char *const n[16] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11",
		"RCODE12", "RCODE13", "RCODE14", "RCODE15",
	};
	return n[rc & 15];
}

const char *dpc_triage_layer_name(enum dpc_triage_layer layer)
{
	switch (layer) {
	case DPC_TRIAGE_CAPTURE: return "capture";
	case DPC_TRIAGE_LINK: return "link";
	case DPC_TRIAGE_INTERNET: return "internet";
	case DPC_TRIAGE_TRANSPORT: return "transport";
	case DPC_TRIAGE_APPLICATION: return "application";
	default: return "unknown";
	}
}

const char *dpc_triage_severity_name(enum dpc_triage_severity sev)
{
	switch (sev) {
	case DPC_TRIAGE_CRITICAL: return "critical";
	case DPC_TRIAGE_ERROR: return "error";
	case DPC_TRIAGE_WARNING: return "warning";
	default: return "info";
	}
}

/* ---- timeline ---- */

void tl_add(struct dpc_triage *t, uint64_t ts, unsigned series, uint32_t n)
{
	struct timeline *tl = &t->tl;
	uint64_t idx;

	if (series >= TL_SERIES || !t->started)
		return;
	if (ts < tl->t0)
		ts = tl->t0;
	idx = (ts - tl->t0) / tl->bin_ns;
	while (idx >= TL_N) {
		/* halve the resolution: merge pairs of bins */
		for (unsigned i = 0; i < TL_N / 2; i++)
			for (unsigned s = 0; s < TL_SERIES; s++)
				tl->c[i][s] = tl->c[2 * i][s] + tl->c[2 * i + 1][s];
		memset(tl->c[TL_N / 2], 0, sizeof(tl->c[0]) * (TL_N / 2));
		tl->bin_ns *= 2;
		tl->used = (tl->used + 1) / 2;
		idx = (ts - tl->t0) / tl->bin_ns;
	}
	tl->c[idx][series] += n;
	if (idx + 1 > tl->used)
		tl->used = (uint32_t)idx + 1;
}

/* ---- construction ---- */

void dpc_triage_opts_init(struct dpc_triage_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mtu = 1500;
	o->max_flows = 65536;
	o->flow_idle_s = 120;
	o->max_entries = 4096;
	o->top_n = 10;
	dpc_parse_opts_init(&o->parse);
}

struct dpc_triage *dpc_triage_new(const struct dpc_triage_opts *o)
{
	struct dpc_triage *t;
	uint32_t m;

	if (o == NULL || o->mtu < 68 || o->mtu > 65535 || o->max_flows < 16 ||
	    o->max_entries < 16 || o->top_n == 0 || o->top_n > 1000 ||
	    o->flow_idle_s == 0) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->o = *o;
	m = o->max_entries;
	tab_init(&t->vlans, sizeof(struct vlan_e), 4, m);
	tab_init(&t->bigs, sizeof(struct big_e), sizeof(struct ipa), m);
	tab_init(&t->vxlans, sizeof(struct vx_e), sizeof(struct vx_k), m);
	tab_init(&t->ttls, sizeof(struct ttl_e), sizeof(struct ipa) + 4, m);
	tab_init(&t->icmps, sizeof(struct icmp_e), sizeof(struct icmp_k), m);
	tab_init(&t->loops, sizeof(struct loop_e), sizeof(struct loop_k), m);
	tab_init(&t->fraggaps, sizeof(struct fraggap_e), sizeof(struct loop_k), m);
	tab_init(&t->svcs, sizeof(struct svc_e), sizeof(struct svc_k), m);
	tab_init(&t->rtts, sizeof(struct rtt_e), sizeof(struct rtt_k), m);
	tab_init(&t->udpnr, sizeof(struct udpnr_e), sizeof(struct udpnr_k), m);
	tab_init(&t->ports, sizeof(struct port_e), sizeof(struct ipa) + 4, m);
	tab_init(&t->dnss, sizeof(struct dnss_e), sizeof(struct dnss_k), m);
	tab_init(&t->dnsn, sizeof(struct dnsn_e), sizeof(struct dnsn_k), m);
	tab_init(&t->httpr, sizeof(struct httpr_e), sizeof(struct httpr_k), m);
	tab_init(&t->https, sizeof(struct https_e), sizeof(struct https_k), m);
	tab_init(&t->snis, sizeof(struct sni_e), sizeof(struct sni_k), m);
	tab_init(&t->alerts, sizeof(struct alert_e), sizeof(struct alert_k), m);
	t->ft.max = o->max_flows;
	t->ft.free_head = FL_NONE;
	t->ft.lru_head = t->ft.lru_tail = FL_NONE;
	t->top = calloc(o->top_n, sizeof(*t->top));
	if (t->top == NULL) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->tl.bin_ns = 10000000ull; /* 10 ms, doubled as the capture grows */
	t->rng = 0x9e3779b9u;
	return t;
}

void dpc_triage_free(struct dpc_triage *t)
{
	struct input *in, *next;

	if (t == NULL)
		return;
	tab_fini(&t->vlans);
	tab_fini(&t->bigs);
	tab_fini(&t->vxlans);
	tab_fini(&t->ttls);
	tab_fini(&t->icmps);
	tab_fini(&t->loops);
	tab_fini(&t->fraggaps);
	tab_fini(&t->svcs);
	tab_fini(&t->rtts);
	tab_fini(&t->udpnr);
	tab_fini(&t->ports);
	tab_fini(&t->dnss);
	tab_fini(&t->dnsn);
	tab_fini(&t->httpr);
	tab_fini(&t->https);
	tab_fini(&t->snis);
	tab_fini(&t->alerts);
	flowtab_fini(&t->ft);
	for (in = t->inputs; in != NULL; in = next) {
		next = in->next;
		free(in);
	}
	free(t->top);
	free(t->findings);
	free(t);
}

uint64_t dpc_triage_packets(const struct dpc_triage *t)
{
	return t->analysed;
}

/* ---- link layer ---- */

static unsigned size_bucket(uint32_t len)
{
	static const uint32_t edge[SIZE_BUCKETS - 1] = {
		64, 128, 256, 512, 1024, 1519, 1523, 9019,
	};
	unsigned i;

	for (i = 0; i < SIZE_BUCKETS - 1; i++)
		if (len < edge[i])
			return i;
	return SIZE_BUCKETS - 1;
}

static void link_vlans(struct dpc_triage *t, const struct dpc_hdrs *h)
{
	unsigned n = h->l2.n_vlan < DPC_VLAN_KEEP ? h->l2.n_vlan : DPC_VLAN_KEEP;

	for (unsigned i = 0; i < n; i++) {
		uint32_t vid = h->l2.vlan_tci[i] & 0x0fff;
		struct vlan_e *e = tab_get(&t->vlans, &vid);

		if (e == NULL)
			continue;
		if (e->frames++ == 0)
			e->first_pkt = t->pkt_no;
	}
}

/* IP packet size as it was on the wire: the header's total length, unless
 * the frame on the wire was shorter (a malformed length, not a big packet). */
static uint32_t wire_ip_len(const struct dpc_hdrs *h, uint32_t wirelen)
{
	uint32_t room = h->off.l3 < wirelen ? wirelen - h->off.l3 : 0;

	return h->l3.tot_len < room ? h->l3.tot_len : room;
}

static void link_layer(struct dpc_triage *t, const struct dpc_key *key,
		       uint32_t caplen, uint32_t wirelen)
{
	const struct dpc_hdrs *o = &key->outer;

	t->sizes[size_bucket(wirelen)]++;
	if (wirelen > t->max_frame)
		t->max_frame = wirelen;
	if (caplen < wirelen)
		t->snapped++;
	if (key->status != DPC_PARSE_OK && key->status <= DPC_PARSE_INVALID &&
	    key->err_layer < DPC_LAYER_COUNT) {
		struct perr *p = &t->perr[key->status - 1][key->err_layer]
					 [key->err_depth > 0];

		p->frames++;
		if (caplen < wirelen)
			p->snapped++;
		ev_add(&p->ev, t->pkt_no);
		t->cur_layers |= 1u << DPC_TRIAGE_LINK;
	}
	if (o->have & DPC_HAVE_VLAN)
		link_vlans(t, o);
	if ((key->flags & DPC_KEY_VXLAN) && (key->inner.have & DPC_HAVE_VLAN))
		link_vlans(t, &key->inner);

	if (!(o->have & (DPC_HAVE_IPV4 | DPC_HAVE_IPV6)))
		return;
	if (key->flags & DPC_KEY_VXLAN) {
		struct vx_k k;
		struct vx_e *e;
		uint32_t inner = 0, need;

		memset(&k, 0, sizeof(k));
		k.vni = key->vni;
		ipa_from(&k.src, o->l3.family, &o->l3.src);
		ipa_from(&k.dst, o->l3.family, &o->l3.dst);
		e = tab_get(&t->vxlans, &k);
		if (e == NULL)
			return;
		e->pkts++;
		e->bytes += wirelen;
		if (key->inner.have & (DPC_HAVE_IPV4 | DPC_HAVE_IPV6))
			inner = wire_ip_len(&key->inner, wirelen);
		need = inner + DPC_VXLAN_OVERHEAD + (o->l3.family == 6 ? 20 : 0);
		if (inner > e->max_inner)
			e->max_inner = inner;
		if (inner && need > t->o.mtu) {
			e->too_big++;
			ev_add(&e->ev, t->pkt_no);
			t->cur_layers |= 1u << DPC_TRIAGE_LINK;
		}
		return;
	}
	if (wire_ip_len(o, wirelen) > t->o.mtu) {
		uint32_t len = wire_ip_len(o, wirelen);
		struct ipa src;
		struct big_e *e;

		t->over_mtu++;
		ipa_from(&src, o->l3.family, &o->l3.src);
		e = tab_get(&t->bigs, &src);
		if (e != NULL) {
			e->frames++;
			if (len > e->max_len)
				e->max_len = len;
			ev_add(&e->ev, t->pkt_no);
		}
		t->cur_layers |= 1u << DPC_TRIAGE_LINK;
	}
}

/* ---- internet layer ---- */

static void ttl_note(struct dpc_triage *t, const struct dpc_hdrs *h, uint32_t vni)
{
	struct { struct ipa src; uint32_t vni; } k;
	struct ttl_e *e;
	uint8_t ttl = h->l3.ttl;
	unsigned i;

	memset(&k, 0, sizeof(k));
	ipa_from(&k.src, h->l3.family, &h->l3.src);
	k.vni = vni;
	e = tab_get(&t->ttls, &k);
	if (e == NULL)
		return;
	if (e->pkts++ == 0)
		e->min = e->max = ttl;
	if (ttl < e->min)
		e->min = ttl;
	if (ttl > e->max)
		e->max = ttl;
	for (i = 0; i < e->nv; i++)
		if (e->val[i] == ttl) {
			e->cnt[i]++;
			return;
		}
	if (e->nv < 6) {
		e->val[e->nv] = ttl;
		e->cnt[e->nv++] = 1;
	} else {
		e->other++;
	}
}

static void frag_close(struct dpc_triage *t, struct frag_s *f)
{
	struct fraggap_e *g;
	struct loop_k k;

	f->live = 0;
	if (f->have_last && f->bytes >= f->total) {
		t->frag_complete++;
		return;
	}
	t->frag_incomplete++;
	memset(&k, 0, sizeof(k));
	k.src = f->src;
	k.dst = f->dst;
	g = tab_get(&t->fraggaps, &k);
	if (g != NULL) {
		g->datagrams++;
		ev_add(&g->ev, f->first_pkt);
	}
	tl_add(t, f->ts, 1 + DPC_TRIAGE_INTERNET, f->pkts);
}

static void frag_note(struct dpc_triage *t, uint64_t ts, const struct dpc_hdrs *h,
		      const uint8_t *frame, uint32_t caplen)
{
	struct { uint8_t src[4], dst[4]; uint32_t id; uint8_t proto; } s;
	struct frag_s *f;
	uint32_t ihl, plen;
	uint64_t sig;

	t->frag_pkts++;
	if (h->l3.family != 4) {
		t->frag_v6++;
		return;
	}
	if (h->off.l3 >= caplen)
		return;
	ihl = (frame[h->off.l3] & 0x0f) * 4u;
	if (ihl < 20 || h->l3.tot_len < ihl)
		return;
	plen = h->l3.tot_len - ihl;
	memset(&s, 0, sizeof(s));
	memcpy(s.src, &h->l3.src.v4, 4);
	memcpy(s.dst, &h->l3.dst.v4, 4);
	s.id = h->l3.ip_id;
	s.proto = h->l3.proto;
	sig = hash_bytes(&s, sizeof(s), 7) | 1;
	f = &t->frags[sig % FRAG_N];
	if (f->live && f->sig != sig) {
		if (ts > f->ts && ts - f->ts > 30 * NS) {
			frag_close(t, f);
		} else {
			t->frag_untracked++;
			return;
		}
	}
	if (!f->live) {
		memset(f, 0, sizeof(*f));
		f->live = 1;
		f->sig = sig;
		f->ts = ts;
		f->first_pkt = t->pkt_no;
		ipa_from(&f->src, 4, &h->l3.src);
		ipa_from(&f->dst, 4, &h->l3.dst);
		t->frag_dgrams++;
	}
	f->bytes += plen;
	f->pkts++;
	if (!(h->l3.frag & DPC_FRAG_MF)) {
		f->have_last = 1;
		f->total = (uint32_t)h->l3.frag_off + plen;
	}
	if (f->have_last && f->bytes >= f->total)
		frag_close(t, f);
}

static void loop_note(struct dpc_triage *t, const struct dpc_hdrs *h,
		      const uint8_t *frame, uint32_t caplen)
{
	uint8_t buf[16 + 16 + 4 + 2 + 1 + 8];
	struct loopsig *s;
	uint64_t sig;
	size_t alen = h->l3.family == 4 ? 4 : 16;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, h->l3.family == 4 ? (const void *)&h->l3.src.v4 : h->l3.src.v6, alen);
	memcpy(buf + 16, h->l3.family == 4 ? (const void *)&h->l3.dst.v4 : h->l3.dst.v6, alen);
	memcpy(buf + 32, &h->l3.ip_id, 4);
	memcpy(buf + 36, &h->l3.tot_len, 2);
	buf[38] = h->l3.proto;
	if (h->off.l4 != DPC_OFF_NONE && (uint32_t)h->off.l4 + 8 <= caplen)
		memcpy(buf + 39, frame + h->off.l4, 8);
	sig = hash_bytes(buf, sizeof(buf), 11) | 1;
	s = &t->loopsig[sig % LOOPSIG_N];
	if (s->sig == sig && h->l3.ttl < s->ttl) {
		s->ttl = h->l3.ttl;
		if (++s->seen >= 2) {
			struct loop_e *e;
			struct loop_k k;

			memset(&k, 0, sizeof(k));
			ipa_from(&k.src, h->l3.family, &h->l3.src);
			ipa_from(&k.dst, h->l3.family, &h->l3.dst);
			e = tab_get(&t->loops, &k);
			if (e != NULL) {
				if (s->seen == 2) {
					e->pkts += 2;
					ev_add(&e->ev, s->pkt);
					if (s->first_ttl > e->ttl_hi)
						e->ttl_hi = s->first_ttl;
				}
				e->pkts++;
				ev_add(&e->ev, t->pkt_no);
				if (e->ttl_lo == 0 || h->l3.ttl < e->ttl_lo)
					e->ttl_lo = h->l3.ttl;
			}
			t->cur_layers |= 1u << DPC_TRIAGE_INTERNET;
		}
		return;
	}
	s->sig = sig;
	s->ttl = s->first_ttl = h->l3.ttl;
	s->seen = 0;
	s->pkt = t->pkt_no;
}

/* An ICMP/ICMPv6 error: who reports what about which packet. */
static void icmp_error(struct dpc_triage *t, const struct dpc_key *key,
		       const struct dpc_hdrs *h, const uint8_t *frame,
		       uint32_t caplen)
{
	int v6 = (h->have & DPC_HAVE_ICMPV6) != 0;
	uint8_t type = h->l4.icmp_type, code = h->l4.icmp_code;
	uint32_t l4 = h->off.l4, qoff, qlen, ihl = 0;
	const uint8_t *q;
	struct icmp_k k;
	struct icmp_e *e;
	uint32_t mtu = 0, qvni = 0;
	uint8_t oproto = 0, has_qvni = 0, vx = 0, trace = 0;
	uint16_t osport = 0, odport = 0;
	struct ipa osrc;

	if (!v6 && type != 3 && type != 11 && type != 12)
		return;
	if (v6 && (type < 1 || type > 4))
		return;
	if (l4 == DPC_OFF_NONE || l4 + 8 > caplen)
		return;
	if (!v6 && type == 3 && code == 4)
		mtu = (uint32_t)frame[l4 + 6] << 8 | frame[l4 + 7];
	if (v6 && type == 2)
		mtu = (uint32_t)frame[l4 + 4] << 24 | (uint32_t)frame[l4 + 5] << 16 |
		      (uint32_t)frame[l4 + 6] << 8 | frame[l4 + 7];
	qoff = l4 + 8;
	qlen = caplen - qoff;
	q = frame + qoff;
	memset(&k, 0, sizeof(k));
	memset(&osrc, 0, sizeof(osrc));
	if (!v6 && qlen >= 20 && (q[0] >> 4) == 4) {
		ihl = (q[0] & 0x0f) * 4u;
		oproto = q[9];
		ipa_raw(&osrc, 4, q + 12);
		ipa_raw(&k.odst, 4, q + 16);
	} else if (v6 && qlen >= 40 && (q[0] >> 4) == 6) {
		ihl = 40;
		oproto = q[6];
		ipa_raw(&osrc, 6, q + 8);
		ipa_raw(&k.odst, 6, q + 24);
	}
	if (ihl >= 20 && qlen >= ihl + 4 &&
	    (oproto == 6 || oproto == 17 || oproto == 132)) {
		osport = (uint16_t)(q[ihl] << 8 | q[ihl + 1]);
		odport = (uint16_t)(q[ihl + 2] << 8 | q[ihl + 3]);
	}
	if (ihl >= 20 && oproto == 17) {
		for (unsigned i = 0; i < t->o.parse.n_vxlan_ports; i++)
			if (odport == t->o.parse.vxlan_ports[i])
				vx = 1;
		if (vx && qlen >= ihl + 16 && (q[ihl + 8] & 0x08)) {
			has_qvni = 1;
			qvni = (uint32_t)q[ihl + 12] << 16 | (uint32_t)q[ihl + 13] << 8 |
			       q[ihl + 14];
		}
		if (odport >= 33434 && odport <= 33534)
			trace = 1;
	}
	if (ihl >= 20 && qlen >= ihl + 1 &&
	    ((oproto == 1 && q[ihl] == 8) || (oproto == 58 && q[ihl] == 128)))
		trace = 1;
	ipa_from(&k.reporter, h->l3.family, &h->l3.src);
	k.v6 = (uint8_t)v6;
	k.type = type;
	k.code = code;
	k.oproto = oproto;
	k.odport = odport;
	e = tab_get(&t->icmps, &k);
	if (e != NULL) {
		if (e->count++ == 0) {
			e->osrc = osrc;
			e->mtu = mtu;
		}
		if (mtu && (e->mtu == 0 || mtu < e->mtu))
			e->mtu = mtu;
		e->vxlan |= vx;
		if (has_qvni) {
			e->has_qvni = 1;
			e->qvni = qvni;
		}
		e->traceroute += trace;
		ev_add(&e->ev, t->pkt_no);
	}
	if ((!v6 && type == 3 && code == 3) || (v6 && type == 1 && code == 4))
		t->cur_layers |= 1u << DPC_TRIAGE_TRANSPORT;
	else
		t->cur_layers |= 1u << DPC_TRIAGE_INTERNET;
	/* tell the flow the error is about (unreachables only) */
	if (((!v6 && type == 3) || (v6 && type == 1)) && osport && odport) {
		struct fkey fk;
		int swap;

		memset(&fk, 0, sizeof(fk));
		fk.vni = (h == &key->inner) ? key->vni : NO_VNI;
		fk.fam = osrc.fam;
		fk.proto = oproto;
		swap = memcmp(osrc.a, k.odst.a, 16) > 0 ||
		       (memcmp(osrc.a, k.odst.a, 16) == 0 && osport > odport);
		memcpy(fk.ip[swap], osrc.a, 16);
		memcpy(fk.ip[!swap], k.odst.a, 16);
		fk.port[swap] = osport;
		fk.port[!swap] = odport;
		flow_mark_icmp(t, &fk, type, code, t->pkt_no);
	}
}

static void internet_layer(struct dpc_triage *t, uint64_t ts,
			   const struct dpc_key *key, const struct dpc_hdrs *h,
			   const uint8_t *frame, uint32_t caplen)
{
	if (key->flags & DPC_KEY_VXLAN) {
		t->proto[PROTO_VXLAN]++;
		if (key->outer.have & (DPC_HAVE_IPV4 | DPC_HAVE_IPV6))
			ttl_note(t, &key->outer, NO_VNI);
	}
	if (h->have & DPC_HAVE_ARP) {
		t->proto[PROTO_ARP]++;
		return;
	}
	if (!(h->have & (DPC_HAVE_IPV4 | DPC_HAVE_IPV6))) {
		t->proto[PROTO_NONIP]++;
		return;
	}
	switch (h->l3.proto) {
	case 6: t->proto[PROTO_TCP]++; break;
	case 17: t->proto[PROTO_UDP]++; break;
	case 1: t->proto[PROTO_ICMP]++; break;
	case 58: t->proto[PROTO_ICMPV6]++; break;
	default: t->proto[PROTO_OTHER_IP]++; break;
	}
	ttl_note(t, h, (key->flags & DPC_KEY_VXLAN) ? key->vni : NO_VNI);
	if (h->l3.frag & DPC_FRAG_IS)
		frag_note(t, ts, h, frame, caplen);
	loop_note(t, h, frame, caplen);
	if (h->have & (DPC_HAVE_ICMP | DPC_HAVE_ICMPV6))
		icmp_error(t, key, h, frame, caplen);
}

void dpc_triage_packet(struct dpc_triage *t, uint64_t ts, const uint8_t *frame,
		       uint32_t caplen, uint32_t wirelen)
{
	struct dpc_key key;
	const struct dpc_hdrs *h;

	if (t->finished)
		return;
	t->pkt_no++;
	if (wirelen < caplen)
		wirelen = caplen;
	dpc_parse(&t->o.parse, frame, caplen, wirelen, &key);
	if (t->o.match && !t->o.match(t->o.match_ctx, &key, frame, caplen)) {
		t->filtered++;
		return;
	}
	t->analysed++;
	t->bytes += wirelen;
	if (!t->started) {
		t->started = true;
		t->first_ts = t->last_ts = ts;
		t->tl.t0 = ts;
	}
	if (ts < t->last_ts) {
		t->backwards++;
		ts = t->last_ts;
	}
	t->last_ts = ts;
	t->cur_layers = 0;
	flow_expire(t, ts);

	h = dpc_key_inner(&key);
	link_layer(t, &key, caplen, wirelen);
	internet_layer(t, ts, &key, h, frame, caplen);
	if ((h->have & (DPC_HAVE_TCP | DPC_HAVE_UDP)) &&
	    !(h->l3.frag & DPC_FRAG_LATER))
		flow_packet(t, ts, &key, h, frame, caplen);

	tl_add(t, ts, 0, 1);
	for (unsigned l = 0; l < DPC_TRIAGE_LAYER_COUNT; l++)
		if (t->cur_layers & (1u << l))
			tl_add(t, ts, 1 + l, 1);
}

void dpc_triage_finish(struct dpc_triage *t)
{
	if (t->finished)
		return;
	flow_finish_all(t);
	for (unsigned i = 0; i < FRAG_N; i++)
		if (t->frags[i].live)
			frag_close(t, &t->frags[i]);
	app_finish(t);
	verdict_build(t);
	t->finished = true;
}

const struct dpc_triage_finding *dpc_triage_findings(const struct dpc_triage *t,
						      size_t *n)
{
	*n = t->n_findings;
	return t->findings;
}
