/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * triage_internal.h - state of the triage analyser, shared by its files.
 * Every table is bounded: see struct tab (capped, no deletion) and struct
 * flowtab (capped, LRU eviction, idle expiry).
 */
#ifndef DPC_TRIAGE_INTERNAL_H
#define DPC_TRIAGE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dpc_parse.h"
#include "dpc_triage.h"

#define EV_MAX DPC_TRIAGE_EVIDENCE_MAX
#define NS 1000000000ull
#define NO_VNI 0xffffffffu

/* Packet numbers kept as evidence: the first EV_MAX distinct ones. */
struct ev {
	uint64_t p[EV_MAX];
	uint32_t n;
};

static inline void ev_add(struct ev *e, uint64_t pkt)
{
	for (uint32_t i = 0; i < e->n; i++)
		if (e->p[i] == pkt)
			return;
	if (e->n < EV_MAX)
		e->p[e->n++] = pkt;
}

/* An address as a table key: family 4 uses the first 4 bytes of a. */
struct ipa {
	uint8_t fam;
	uint8_t _pad[3];
	uint8_t a[16];
};

/* Reservoir of latency samples (microseconds). */
#define RES_MAX 128
struct res {
	uint64_t seen;
	uint32_t n;
	uint32_t v[RES_MAX];
};

/* Capped hash table of fixed-size entries, the key at offset 0 (ksz bytes,
 * compared with memcmp: keys must be zeroed before being filled). Entries are
 * contiguous and never deleted; pointers move when the table grows. */
struct tab {
	uint32_t esz, ksz, max;
	uint32_t n, cap;           /* entries used / allocated */
	uint32_t nslots;           /* power of two */
	uint32_t *slots;           /* entry index + 1, 0 empty */
	uint8_t *ents;
	uint64_t overflow;         /* inserts refused at max */
	int nomem;
};

void tab_init(struct tab *t, uint32_t esz, uint32_t ksz, uint32_t max);
void tab_fini(struct tab *t);
void *tab_find(const struct tab *t, const void *key);
void *tab_get(struct tab *t, const void *key);   /* find or insert zeroed */
static inline void *tab_at(const struct tab *t, uint32_t i)
{
	return t->ents + (size_t)i * t->esz;
}
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

/* ---- flows ---- */
struct fkey {
	uint32_t vni;
	uint8_t fam, proto;
	uint16_t port[2];
	uint8_t ip[2][16];
};

struct fdir {
	uint64_t pkts, bytes;
	uint32_t nxt, ack;
	uint16_t win;
	uint8_t nxt_ok, ack_ok;
	uint8_t fin;
};

#define F_SYN      0x0001u
#define F_SYNACK   0x0002u
#define F_EST      0x0004u
#define F_REFUSED  0x0008u
#define F_RESET    0x0010u
#define F_UNREACH  0x0020u
#define F_RSTSEEN  0x0040u
#define F_COUNTED  0x0080u  /* counted as an attempt */

#define FL_NONE 0xffffffffu

struct flow {
	struct fkey k;
	uint32_t hnext, lprev, lnext;
	uint16_t st;
	uint8_t client;            /* 0/1 side index, 2 unknown */
	uint8_t live;
	uint8_t icmp_type, icmp_code;
	uint8_t has_vtep;
	uint8_t first_dir;         /* side of the first packet */
	struct ipa vtep[2];        /* outer src/dst of the first VXLAN packet */
	uint64_t first_ts, last_ts, syn_ts;
	uint64_t first_pkt, syn_pkt, icmp_pkt;
	uint32_t syns, isn;
	struct fdir d[2];
};

struct flowtab {
	struct flow *pool;
	uint32_t cap, max, used;   /* allocated / cap / high-water index */
	uint32_t *buckets;
	uint32_t nbuckets;
	uint32_t free_head;
	uint32_t lru_head, lru_tail;
	uint32_t live, max_live;
	uint64_t created, evicted, expired;
	int nomem;
};

/* ---- aggregate entries (key first) ---- */
struct vlan_e { uint16_t vid; uint16_t _p; uint64_t frames, first_pkt; };

struct ttl_e {
	struct ipa src; uint32_t vni;
	uint64_t pkts; uint8_t min, max, nv, _p;
	uint8_t val[6]; uint64_t cnt[6]; uint64_t other;
};

struct icmp_k {
	struct ipa reporter, odst;
	uint8_t v6, type, code, oproto;
	uint16_t odport; uint16_t _p;
};
struct icmp_e {
	struct icmp_k k;
	uint64_t count;
	uint32_t mtu;              /* smallest next-hop MTU reported */
	uint32_t qvni;
	uint8_t vxlan, has_qvni, traceroute, _p;
	struct ipa osrc;
	struct ev ev;
};

struct loop_k { struct ipa src, dst; };
struct loop_e { struct loop_k k; uint64_t pkts; uint8_t ttl_hi, ttl_lo, _p[2]; struct ev ev; };

struct loopsig { uint64_t sig; uint64_t pkt; uint8_t ttl, seen, first_ttl, _p; uint32_t _p2; };
#define LOOPSIG_N 4096

struct frag_s {
	uint64_t sig, ts, first_pkt;
	uint32_t bytes, total;
	uint16_t pkts;
	uint8_t live, have_last;
	struct ipa src, dst;
};
#define FRAG_N 1024
struct fraggap_e { struct loop_k k; uint64_t datagrams; struct ev ev; };

struct big_e { struct ipa src; uint64_t frames; uint32_t max_len; uint32_t _p; struct ev ev; };

struct vx_k { uint32_t vni; struct ipa src, dst; };
struct vx_e {
	struct vx_k k;
	uint64_t pkts, bytes, too_big;
	uint32_t max_inner;        /* largest inner IP packet */
	uint32_t _p;
	struct ev ev;
};

struct perr {
	uint64_t frames, snapped;
	struct ev ev;
};

struct svc_k { struct ipa client, server; uint32_t vni; uint16_t port; uint16_t _p; };
struct svc_e {
	struct svc_k k;
	uint64_t attempts, completed, refused, unanswered, unreachable, pending;
	uint64_t reset_c, reset_s, retrans, hs_retrans, dupacks, zerowin;
	uint64_t data_pkts, pkts;
	uint8_t has_vtep, zw_side_server, _p[6];
	struct ipa vtep[2];
	struct ev ev_ref, ev_unans, ev_reset, ev_retrans, ev_zw;
};

struct rtt_k { struct ipa server; uint32_t vni; uint16_t port; uint16_t _p; };
struct rtt_e { struct rtt_k k; struct res r; };

struct udpnr_k { struct ipa server; uint32_t vni; uint16_t port; uint16_t _p; };
struct udpnr_e { struct udpnr_k k; uint64_t flows, pkts, clients; struct ipa client; struct ev ev; };

struct port_e { struct ipa client; uint32_t vni; uint16_t min, max; uint64_t conns; };

struct dnss_k { struct ipa server; uint32_t vni; };
struct dnss_e {
	struct dnss_k k;
	uint64_t queries, responses, unanswered, retries, pending, rcode[16];
	struct res lat;
	struct ev ev_nx, ev_fail, ev_unans, ev_ref;
};
struct dnsn_k { char name[80]; uint8_t rcode; uint8_t _p[3]; };
struct dnsn_e { struct dnsn_k k; uint64_t count, first_pkt; };
struct dnsq {
	uint64_t ts, pkt;
	struct ipa client, server;
	uint32_t vni;
	uint16_t cport, id;
	uint8_t live, _p[3];
};
#define DNSQ_N 4096

struct httpr_k { char line[100]; };
struct httpr_e { struct httpr_k k; uint64_t count, first_pkt; };
struct https_k { struct ipa server; uint16_t port, code; };
struct https_e { struct https_k k; uint64_t count; struct ev ev; };

struct sni_k { char name[96]; struct ipa server; uint16_t port; uint16_t _p; };
struct sni_e { struct sni_k k; uint64_t count, first_pkt; };
struct alert_k { struct ipa from, to; uint16_t port; uint8_t level, desc; };
struct alert_e { struct alert_k k; uint64_t count; struct ev ev; };

struct talker {
	struct fkey k;
	uint64_t pkts, bytes;
};

/* Timeline: TL_N bins of bin_ns, doubled (bins merged) to cover the span. */
#define TL_N 600
#define TL_SERIES (1 + DPC_TRIAGE_LAYER_COUNT)  /* total, then per layer */
struct timeline {
	uint64_t t0, bin_ns;
	uint32_t used;
	uint32_t c[TL_N][TL_SERIES];
};

struct input {
	char name[256];
	uint64_t first_pkt, pkts;
	int linktype;
	char err[160];
	struct input *next;
};

#define SIZE_BUCKETS 9

struct dpc_triage {
	struct dpc_triage_opts o;
	uint64_t pkt_no;           /* frames fed (numbering) */
	uint64_t analysed, filtered, bytes;
	uint64_t first_ts, last_ts, backwards;
	bool started, finished;
	uint32_t cur_layers;       /* layers this packet is evidence for */
	struct input *inputs, *inputs_tail;
	uint32_t n_inputs;

	/* link */
	uint64_t sizes[SIZE_BUCKETS];
	uint64_t snapped;          /* caplen < wirelen */
	uint32_t max_frame;
	struct perr perr[2][DPC_LAYER_COUNT][2]; /* status-1, layer, depth>0 */
	uint64_t over_mtu;
	struct tab vlans, bigs, vxlans;
	/* internet */
	uint64_t proto[8];         /* see PROTO_* in triage.c */
	uint64_t frag_pkts, frag_dgrams, frag_complete, frag_incomplete,
		 frag_untracked, frag_v6;
	struct frag_s frags[FRAG_N];
	struct loopsig loopsig[LOOPSIG_N];
	struct tab ttls, icmps, loops, fraggaps;
	/* transport */
	struct flowtab ft;
	struct tab svcs, rtts, udpnr, ports;
	struct talker *top;
	uint32_t n_top;
	uint64_t tcp_pending_end;
	/* application */
	struct tab dnss, dnsn, httpr, https, snis, alerts;
	struct dnsq dnsq[DNSQ_N];
	uint64_t dns_unmatched, dns_untracked, http_requests, http_responses,
		 tls_hellos, tls_enc_alerts;
	/* verdict */
	struct dpc_triage_finding *findings;
	size_t n_findings, cap_findings;
	uint64_t findings_dropped;
	struct timeline tl;
	uint32_t rng;
};

/* triage.c */
void tl_add(struct dpc_triage *t, uint64_t ts, unsigned series, uint32_t n);
void ipa_from(struct ipa *a, uint8_t fam, const struct dpc_addr *d);
const char *ipa_str(const struct ipa *a, char *buf, size_t len);
void res_add(struct dpc_triage *t, struct res *r, uint32_t v);
uint32_t res_pct(const struct res *r, unsigned pct);
const char *icmp_name(int v6, unsigned type, unsigned code);
const char *tls_alert_name(unsigned desc);
const char *dns_rcode_name(unsigned rc);
/* flow.c */
void flow_packet(struct dpc_triage *t, uint64_t ts, const struct dpc_key *key,
		 const struct dpc_hdrs *h, const uint8_t *frame, uint32_t caplen);
void flow_expire(struct dpc_triage *t, uint64_t now);
void flow_finish_all(struct dpc_triage *t);
void flow_mark_icmp(struct dpc_triage *t, const struct fkey *k, uint8_t type,
		    uint8_t code, uint64_t pkt);
void flowtab_fini(struct flowtab *ft);
/* app.c */
void app_udp(struct dpc_triage *t, uint64_t ts, const struct dpc_hdrs *h,
	     uint32_t vni, const uint8_t *p, uint32_t len);
void app_tcp(struct dpc_triage *t, const struct dpc_hdrs *h,
	     const uint8_t *p, uint32_t len);
void app_finish(struct dpc_triage *t);
/* verdict.c */
void verdict_build(struct dpc_triage *t);
/* report.c, html.c */
int report_text(struct dpc_triage *t, FILE *out);
int report_json(struct dpc_triage *t, FILE *out);
int report_html(struct dpc_triage *t, FILE *out);

#endif /* DPC_TRIAGE_INTERNAL_H */
