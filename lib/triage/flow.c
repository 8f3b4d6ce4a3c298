/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow.c - the transport layer: a bounded flow table (hash chains over a
 * pool, LRU list for idle expiry and for eviction at the cap), TCP
 * handshake outcomes per (client, server, port), retransmissions, duplicate
 * ACKs, zero windows, handshake RTT per server, UDP flows without a reply,
 * top talkers and client port ranges.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "triage_internal.h"

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)

/* ---- the table ---- */

static uint32_t fk_bucket(const struct flowtab *ft, const struct fkey *k)
{
	return (uint32_t)hash_bytes(k, sizeof(*k), 3) & (ft->nbuckets - 1);
}

static uint32_t ft_lookup(const struct flowtab *ft, const struct fkey *k)
{
	uint32_t i;

	if (ft->nbuckets == 0)
		return FL_NONE;
	for (i = ft->buckets[fk_bucket(ft, k)]; i != FL_NONE; i = ft->pool[i].hnext)
		if (memcmp(&ft->pool[i].k, k, sizeof(*k)) == 0)
			return i;
	return FL_NONE;
}

static void lru_unlink(struct flowtab *ft, uint32_t i)
{
	struct flow *f = &ft->pool[i];

	if (f->lprev != FL_NONE)
		ft->pool[f->lprev].lnext = f->lnext;
	else
		ft->lru_head = f->lnext;
	if (f->lnext != FL_NONE)
		ft->pool[f->lnext].lprev = f->lprev;
	else
		ft->lru_tail = f->lprev;
	f->lprev = f->lnext = FL_NONE;
}

static void lru_append(struct flowtab *ft, uint32_t i)
{
	struct flow *f = &ft->pool[i];

	f->lprev = ft->lru_tail;
	f->lnext = FL_NONE;
	if (ft->lru_tail != FL_NONE)
		ft->pool[ft->lru_tail].lnext = i;
	else
		ft->lru_head = i;
	ft->lru_tail = i;
}

static int ft_grow(struct flowtab *ft)
{
	uint32_t nc = ft->cap ? ft->cap * 2 : 256, nb;
	struct flow *np;
	uint32_t *b;

	if (nc > ft->max)
		nc = ft->max;
	np = realloc(ft->pool, (size_t)nc * sizeof(*np));
	if (np == NULL)
		return -ENOMEM;
	ft->pool = np;
	ft->cap = nc;
	for (nb = 16; nb < nc * 2; nb *= 2)
		;
	if (nb == ft->nbuckets)
		return 0;
	b = malloc((size_t)nb * sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	memset(b, 0xff, (size_t)nb * sizeof(*b));
	free(ft->buckets);
	ft->buckets = b;
	ft->nbuckets = nb;
	for (uint32_t i = 0; i < ft->used; i++) {
		struct flow *f = &ft->pool[i];

		if (!f->live)
			continue;
		uint32_t h = fk_bucket(ft, &f->k);
		f->hnext = b[h];
		b[h] = i;
	}
	return 0;
}

static void ft_remove(struct flowtab *ft, uint32_t i)
{
	struct flow *f = &ft->pool[i];
	uint32_t *pp = &ft->buckets[fk_bucket(ft, &f->k)];

	while (*pp != FL_NONE && *pp != i)
		pp = &ft->pool[*pp].hnext;
	if (*pp == i)
		*pp = f->hnext;
	lru_unlink(ft, i);
	f->live = 0;
	f->hnext = ft->free_head;
	ft->free_head = i;
	ft->live--;
}

void flowtab_fini(struct flowtab *ft)
{
	free(ft->pool);
	free(ft->buckets);
	ft->pool = NULL;
	ft->buckets = NULL;
}

/* ---- aggregates ---- */

static bool ipa_multicast(const struct ipa *a)
{
	if (a->fam == 4)
		return (a->a[0] >= 224 && a->a[0] <= 239) ||
		       (a->a[0] == 255 && a->a[1] == 255 && a->a[2] == 255 && a->a[3] == 255);
	return a->fam == 6 && a->a[0] == 0xff;
}

static uint8_t flow_client(const struct flow *f)
{
	if (f->client < 2)
		return f->client;
	if (f->k.port[0] < f->k.port[1])
		return 1;
	if (f->k.port[1] < f->k.port[0])
		return 0;
	return f->first_dir;
}

static struct svc_e *svc_of(struct dpc_triage *t, const struct flow *f)
{
	struct svc_k k;
	struct svc_e *e;
	uint8_t c = flow_client(f);

	memset(&k, 0, sizeof(k));
	k.client.fam = k.server.fam = f->k.fam;
	memcpy(k.client.a, f->k.ip[c], 16);
	memcpy(k.server.a, f->k.ip[!c], 16);
	k.port = f->k.port[!c];
	k.vni = f->k.vni;
	e = tab_get(&t->svcs, &k);
	if (e != NULL && f->has_vtep && !e->has_vtep) {
		e->has_vtep = 1;
		e->vtep[0] = f->vtep[0];
		e->vtep[1] = f->vtep[1];
	}
	return e;
}

static void ports_note(struct dpc_triage *t, const struct flow *f, uint8_t c)
{
	struct { struct ipa client; uint32_t vni; } k;
	struct port_e *e;
	uint16_t p = f->k.port[c];

	memset(&k, 0, sizeof(k));
	k.client.fam = f->k.fam;
	memcpy(k.client.a, f->k.ip[c], 16);
	k.vni = f->k.vni;
	e = tab_get(&t->ports, &k);
	if (e == NULL)
		return;
	if (e->conns++ == 0 || p < e->min)
		e->min = p;
	if (p > e->max)
		e->max = p;
}

static void top_insert(struct dpc_triage *t, const struct flow *f)
{
	uint64_t bytes = f->d[0].bytes + f->d[1].bytes;
	uint32_t n = t->n_top, i;

	if (n == t->o.top_n && bytes <= t->top[n - 1].bytes)
		return;
	if (n < t->o.top_n)
		t->n_top = ++n;
	for (i = n - 1; i > 0 && t->top[i - 1].bytes < bytes; i--)
		t->top[i] = t->top[i - 1];
	t->top[i].k = f->k;
	t->top[i].pkts = f->d[0].pkts + f->d[1].pkts;
	t->top[i].bytes = bytes;
}

static void flow_final(struct dpc_triage *t, uint32_t idx, bool at_end)
{
	struct flow *f = &t->ft.pool[idx];

	if (f->k.proto == 6) {
		if ((f->st & F_SYN) && !(f->st & (F_SYNACK | F_RSTSEEN | F_EST))) {
			struct svc_e *e = svc_of(t, f);

			if (e != NULL) {
				if (f->st & F_UNREACH) {
					e->unreachable++;
				} else if (f->syns >= 2 || t->last_ts - f->syn_ts >= NS) {
					e->unanswered++;
					ev_add(&e->ev_unans, f->syn_pkt);
					tl_add(t, f->syn_ts, 1 + DPC_TRIAGE_TRANSPORT, f->syns);
				} else {
					e->pending++;
					t->tcp_pending_end++;
				}
			}
		}
	} else if (f->k.proto == 17) {
		uint8_t c = flow_client(f);
		struct udpnr_k k;
		struct udpnr_e *e;

		memset(&k, 0, sizeof(k));
		k.server.fam = f->k.fam;
		memcpy(k.server.a, f->k.ip[!c], 16);
		k.port = f->k.port[!c];
		k.vni = f->k.vni;
		if (f->d[c].pkts > 0 && f->d[!c].pkts == 0 && !(f->st & F_UNREACH) &&
		    k.port != 53 && !ipa_multicast(&k.server) &&
		    !(at_end && t->last_ts - f->last_ts < NS)) {
			e = tab_get(&t->udpnr, &k);
			if (e != NULL) {
				if (e->flows++ == 0) {
					e->client.fam = f->k.fam;
					memcpy(e->client.a, f->k.ip[c], 16);
				}
				e->pkts += f->d[c].pkts;
				ev_add(&e->ev, f->first_pkt);
			}
		}
	}
	top_insert(t, f);
	ft_remove(&t->ft, idx);
}

void flow_expire(struct dpc_triage *t, uint64_t now)
{
	uint64_t idle = (uint64_t)t->o.flow_idle_s * NS;

	while (t->ft.lru_head != FL_NONE) {
		struct flow *f = &t->ft.pool[t->ft.lru_head];

		if (f->last_ts + idle >= now)
			break;
		t->ft.expired++;
		flow_final(t, t->ft.lru_head, false);
	}
}

void flow_finish_all(struct dpc_triage *t)
{
	while (t->ft.lru_head != FL_NONE)
		flow_final(t, t->ft.lru_head, true);
}

static uint32_t flow_new(struct dpc_triage *t, const struct fkey *k)
{
	struct flowtab *ft = &t->ft;
	uint32_t i, h;

	if (ft->live >= ft->max) {
		ft->evicted++;
		flow_final(t, ft->lru_head, false);
	}
	if (ft->free_head != FL_NONE) {
		i = ft->free_head;
		ft->free_head = ft->pool[i].hnext;
	} else {
		if (ft->used == ft->cap && ft_grow(ft) != 0) {
			ft->nomem = 1;
			return FL_NONE;
		}
		if (ft->used == ft->cap)
			return FL_NONE;
		i = ft->used++;
	}
	memset(&ft->pool[i], 0, sizeof(ft->pool[i]));
	ft->pool[i].k = *k;
	ft->pool[i].live = 1;
	ft->pool[i].client = 2;
	h = fk_bucket(ft, k);
	ft->pool[i].hnext = ft->buckets[h];
	ft->buckets[h] = i;
	lru_append(ft, i);
	ft->created++;
	if (++ft->live > ft->max_live)
		ft->max_live = ft->live;
	return i;
}

void flow_mark_icmp(struct dpc_triage *t, const struct fkey *k, uint8_t type,
		    uint8_t code, uint64_t pkt)
{
	uint32_t i = ft_lookup(&t->ft, k);

	if (i == FL_NONE)
		return;
	t->ft.pool[i].st |= F_UNREACH;
	t->ft.pool[i].icmp_type = type;
	t->ft.pool[i].icmp_code = code;
	t->ft.pool[i].icmp_pkt = pkt;
}

/* ---- per packet ---- */

static void tcp_packet(struct dpc_triage *t, uint64_t ts, struct flow *f,
		       uint8_t s, const struct dpc_hdrs *h, uint32_t seglen,
		       const uint8_t *payload, uint32_t avail)
{
	struct fdir *d = &f->d[s], *o = &f->d[!s];
	uint8_t fl = h->l4.tcp_flags;
	uint32_t seq = h->l4.seq, ack = h->l4.ack;
	const uint32_t tbit = 1u << DPC_TRIAGE_TRANSPORT;
	struct svc_e *e;
	bool retrans = false;

	if ((fl & DPC_TCP_SYN) && !(fl & DPC_TCP_ACK)) {
		if (f->client == 2)
			f->client = s;
		if (!(f->st & F_SYN)) {
			f->st |= F_SYN;
			f->isn = seq;
			f->syn_pkt = t->pkt_no;
			e = svc_of(t, f);
			if (e != NULL)
				e->attempts++;
			ports_note(t, f, s);
		}
		f->syns++;
		f->syn_ts = ts;
	} else if ((fl & DPC_TCP_SYN) && (fl & DPC_TCP_ACK)) {
		if (f->client == 2)
			f->client = !s;
		if ((f->st & F_SYN) && !(f->st & F_SYNACK) && s != f->client) {
			struct rtt_k rk;
			struct rtt_e *r;

			f->st |= F_SYNACK;
			e = svc_of(t, f);
			if (e != NULL)
				e->completed++;
			memset(&rk, 0, sizeof(rk));
			rk.server.fam = f->k.fam;
			memcpy(rk.server.a, f->k.ip[s], 16);
			rk.port = f->k.port[s];
			rk.vni = f->k.vni;
			r = tab_get(&t->rtts, &rk);
			if (r != NULL)
				res_add(t, &r->r, (uint32_t)((ts - f->syn_ts) / 1000));
		} else if (!(f->st & F_SYN)) {
			f->st |= F_SYNACK;
		}
	}
	if (fl & DPC_TCP_RST) {
		if (!(f->st & F_RSTSEEN)) {
			f->st |= F_RSTSEEN;
			if ((f->st & F_SYN) && !(f->st & (F_SYNACK | F_EST)) &&
			    s != f->client) {
				f->st |= F_REFUSED;
				e = svc_of(t, f);
				if (e != NULL) {
					e->refused++;
					ev_add(&e->ev_ref, t->pkt_no);
				}
				t->cur_layers |= tbit;
			} else if ((f->st & (F_EST | F_SYNACK)) && !(d->fin && o->fin)) {
				f->st |= F_RESET;
				e = svc_of(t, f);
				if (e != NULL) {
					if (s == flow_client(f))
						e->reset_c++;
					else
						e->reset_s++;
					ev_add(&e->ev_reset, t->pkt_no);
				}
				t->cur_layers |= tbit;
			}
		}
	} else if (!(fl & DPC_TCP_SYN)) {
		if (!(f->st & (F_SYN | F_SYNACK)) || s == f->client)
			f->st |= F_EST;
	}
	if (fl & DPC_TCP_FIN)
		d->fin = 1;

	/* retransmission: data (or SYN/FIN) that does not advance the sequence */
	if (seglen > 0 || (fl & (DPC_TCP_SYN | DPC_TCP_FIN))) {
		uint32_t end = seq + seglen + !!(fl & DPC_TCP_SYN) + !!(fl & DPC_TCP_FIN);

		if (d->nxt_ok && SEQ_LT(seq, d->nxt)) {
			bool keepalive = seglen <= 1 && !(fl & (DPC_TCP_SYN | DPC_TCP_FIN |
								 DPC_TCP_RST)) &&
					 seq == d->nxt - 1;

			if (!keepalive) {
				retrans = true;
				e = svc_of(t, f);
				if (e != NULL) {
					if (fl & DPC_TCP_SYN) {
						e->hs_retrans++;
					} else {
						e->retrans++;
						ev_add(&e->ev_retrans, t->pkt_no);
					}
				}
				t->cur_layers |= tbit;
			}
		}
		if (!d->nxt_ok || SEQ_GT(end, d->nxt)) {
			d->nxt = end;
			d->nxt_ok = 1;
		}
	} else if (!d->nxt_ok) {
		d->nxt = seq;
		d->nxt_ok = 1;
	}
	if (fl & DPC_TCP_ACK) {
		if (h->l4.window == 0 && !(fl & (DPC_TCP_SYN | DPC_TCP_FIN | DPC_TCP_RST))) {
			e = svc_of(t, f);
			if (e != NULL) {
				e->zerowin++;
				ev_add(&e->ev_zw, t->pkt_no);
				if (s != flow_client(f))
					e->zw_side_server = 1;
			}
			t->cur_layers |= tbit;
		} else if (seglen == 0 && d->ack_ok && h->l4.window == d->win &&
			   ack == d->ack && seq == d->nxt &&
			   !(fl & (DPC_TCP_SYN | DPC_TCP_FIN | DPC_TCP_RST))) {
			e = svc_of(t, f);
			if (e != NULL)
				e->dupacks++;
		}
		d->ack = ack;
		d->win = h->l4.window;
		d->ack_ok = 1;
	}
	if (seglen > 0) {
		e = svc_of(t, f);
		if (e != NULL)
			e->data_pkts++;
		if (!retrans && avail > 0)
			app_tcp(t, h, payload, avail);
	}
}

void flow_packet(struct dpc_triage *t, uint64_t ts, const struct dpc_key *key,
		 const struct dpc_hdrs *h, const uint8_t *frame, uint32_t caplen)
{
	struct fkey k;
	struct flow *f;
	uint32_t idx, l3end, seglen = 0, avail = 0;
	const uint8_t *payload = NULL;
	size_t alen = h->l3.family == 4 ? 4 : 16;
	uint8_t src[16] = {0}, dst[16] = {0};
	int cmp;
	uint8_t s;

	memcpy(src, h->l3.family == 4 ? (const void *)&h->l3.src.v4 : h->l3.src.v6, alen);
	memcpy(dst, h->l3.family == 4 ? (const void *)&h->l3.dst.v4 : h->l3.dst.v6, alen);
	memset(&k, 0, sizeof(k));
	k.vni = (key->flags & DPC_KEY_VXLAN) ? key->vni : NO_VNI;
	k.fam = h->l3.family;
	k.proto = (h->have & DPC_HAVE_TCP) ? 6 : 17;
	cmp = memcmp(src, dst, 16);
	s = cmp > 0 || (cmp == 0 && h->l4.sport > h->l4.dport);
	memcpy(k.ip[s], src, 16);
	memcpy(k.ip[!s], dst, 16);
	k.port[s] = h->l4.sport;
	k.port[!s] = h->l4.dport;

	if (h->off.payload != DPC_OFF_NONE && h->off.payload <= caplen) {
		payload = frame + h->off.payload;
		avail = caplen - h->off.payload;
		if (k.proto == 6) {
			l3end = (uint32_t)h->off.l3 + h->l3.tot_len;
			seglen = l3end > h->off.payload ? l3end - h->off.payload : 0;
		} else {
			seglen = h->l4.udp_len >= 8 ? h->l4.udp_len - 8u : 0;
		}
		if (avail > seglen)
			avail = seglen;
	}

	idx = ft_lookup(&t->ft, &k);
	if (idx != FL_NONE && k.proto == 6 &&
	    (h->l4.tcp_flags & (DPC_TCP_SYN | DPC_TCP_ACK)) == DPC_TCP_SYN) {
		f = &t->ft.pool[idx];
		/* a new connection on the same four-tuple */
		if ((f->st & F_RSTSEEN) || (f->d[0].fin && f->d[1].fin) ||
		    ((f->st & F_SYN) && h->l4.seq != f->isn && (f->st & (F_EST | F_SYNACK)))) {
			flow_final(t, idx, false);
			idx = FL_NONE;
		}
	}
	if (idx == FL_NONE) {
		idx = flow_new(t, &k);
		if (idx == FL_NONE)
			return;
		f = &t->ft.pool[idx];
		f->first_ts = ts;
		f->first_pkt = t->pkt_no;
		f->first_dir = s;
		if (key->flags & DPC_KEY_VXLAN) {
			f->has_vtep = 1;
			ipa_from(&f->vtep[0], key->outer.l3.family, &key->outer.l3.src);
			ipa_from(&f->vtep[1], key->outer.l3.family, &key->outer.l3.dst);
		}
		if (k.proto == 17) {
			f->client = s;
			ports_note(t, f, s);
		}
	} else {
		lru_unlink(&t->ft, idx);
		lru_append(&t->ft, idx);
	}
	f = &t->ft.pool[idx];
	f->last_ts = ts;
	f->d[s].pkts++;
	f->d[s].bytes += h->l3.tot_len;
	if (k.proto == 6) {
		tcp_packet(t, ts, f, s, h, seglen, payload, avail);
	} else if (payload != NULL) {
		app_udp(t, ts, h, k.vni, payload, avail);
	}
}
