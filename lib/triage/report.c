/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * report.c - the report as one JSON document (schema: docs/triage.md), and
 * the terminal rendering of that same document, so the two never disagree.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "triage_internal.h"

#define A(ip, b) ipa_str((ip), (b), sizeof(b))

static json_t *jip(const struct ipa *a)
{
	char b[64];

	return json_string(A(a, b));
}

static json_t *jev(const uint64_t *p, uint32_t n)
{
	json_t *a = json_array();

	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)p[i]));
	return a;
}

static void jvni(json_t *o, uint32_t vni)
{
	json_object_set_new(o, "vni", vni == NO_VNI ? json_null() : json_integer(vni));
}

/* Indices of a table's entries sorted by a 64-bit weight, descending. */
struct order { uint64_t w; uint32_t i; };

static int cmp_order(const void *x, const void *y)
{
	const struct order *a = x, *b = y;

	if (a->w != b->w)
		return a->w > b->w ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static struct order *sorted(const struct tab *t, uint64_t (*w)(const void *))
{
	struct order *o = malloc((t->n ? t->n : 1) * sizeof(*o));

	if (o == NULL)
		return NULL;
	for (uint32_t i = 0; i < t->n; i++) {
		o[i].w = w(tab_at(t, i));
		o[i].i = i;
	}
	qsort(o, t->n, sizeof(*o), cmp_order);
	return o;
}

static uint64_t w_vlan(const void *e) { return ((const struct vlan_e *)e)->frames; }
static uint64_t w_vx(const void *e) { return ((const struct vx_e *)e)->pkts; }
static uint64_t w_ttl(const void *e) { return ((const struct ttl_e *)e)->pkts; }
static uint64_t w_icmp(const void *e) { return ((const struct icmp_e *)e)->count; }
static uint64_t w_svc(const void *e)
{
	const struct svc_e *s = e;

	return (s->refused + s->unanswered + s->unreachable + s->reset_c + s->reset_s +
		s->retrans + s->zerowin) * 1000000ull + s->attempts + s->data_pkts;
}
static uint64_t w_rtt(const void *e) { return ((const struct rtt_e *)e)->r.seen; }
static uint64_t w_udpnr(const void *e) { return ((const struct udpnr_e *)e)->flows; }
static uint64_t w_port(const void *e) { return ((const struct port_e *)e)->conns; }
static uint64_t w_dnss(const void *e) { return ((const struct dnss_e *)e)->queries +
					       ((const struct dnss_e *)e)->responses; }
static uint64_t w_dnsn(const void *e) { return ((const struct dnsn_e *)e)->count; }
static uint64_t w_httpr(const void *e) { return ((const struct httpr_e *)e)->count; }
static uint64_t w_https(const void *e) { return ((const struct https_e *)e)->count; }
static uint64_t w_sni(const void *e) { return ((const struct sni_e *)e)->count; }
static uint64_t w_alert(const void *e) { return ((const struct alert_e *)e)->count; }

#define FOR_TOP(tabp, wfn, var, type, limit)                                   \
	for (struct order *o_ = sorted((tabp), (wfn)), *once_ = o_; once_;     \
	     free(o_), once_ = NULL)                                           \
		for (uint32_t j_ = 0; o_ && j_ < (tabp)->n && j_ < (limit); j_++) \
			for (type *var = tab_at((tabp), o_[j_].i); var; var = NULL)

static json_t *j_link(struct dpc_triage *t)
{
	static const char *const rng[SIZE_BUCKETS] = {
		"0-63", "64-127", "128-255", "256-511", "512-1023", "1024-1518",
		"1519-1522", "1523-9018", "9019+",
	};
	json_t *o = json_object(), *a = json_array(), *m = json_array(), *v, *x;

	for (unsigned i = 0; i < SIZE_BUCKETS; i++)
		json_array_append_new(a, json_pack("{ss sI}", "bytes", rng[i], "frames",
						   (json_int_t)t->sizes[i]));
	json_object_set_new(o, "sizes", a);
	json_object_set_new(o, "largest_frame", json_integer(t->max_frame));
	json_object_set_new(o, "mtu", json_integer(t->o.mtu));
	json_object_set_new(o, "over_mtu", json_integer((json_int_t)t->over_mtu));
	json_object_set_new(o, "snapped", json_integer((json_int_t)t->snapped));
	for (unsigned s = 0; s < 2; s++)
		for (unsigned l = 0; l < DPC_LAYER_COUNT; l++)
			for (unsigned d = 0; d < 2; d++) {
				const struct perr *p = &t->perr[s][l][d];

				if (p->frames == 0)
					continue;
				json_array_append_new(m, json_pack(
					"{ss ss sb sI sI so}",
					"status", s ? "invalid" : "truncated",
					"layer", dpc_parse_layer_name((enum dpc_layer)l),
					"inner", d, "frames", (json_int_t)p->frames,
					"snapped", (json_int_t)p->snapped,
					"packets", jev(p->ev.p, p->ev.n)));
			}
	json_object_set_new(o, "malformed", m);
	v = json_array();
	FOR_TOP(&t->vlans, w_vlan, e, struct vlan_e, 64)
		json_array_append_new(v, json_pack("{sI sI sI}", "vid", (json_int_t)e->vid,
						   "frames", (json_int_t)e->frames,
						   "first_packet", (json_int_t)e->first_pkt));
	json_object_set_new(o, "vlans", v);
	x = json_array();
	FOR_TOP(&t->vxlans, w_vx, e, struct vx_e, t->o.top_n)
		json_array_append_new(x, json_pack(
			"{sI so so sI sI sI sI}", "vni", (json_int_t)e->k.vni,
			"vtep_src", jip(&e->k.src), "vtep_dst", jip(&e->k.dst),
			"packets", (json_int_t)e->pkts, "bytes", (json_int_t)e->bytes,
			"max_inner_ip", (json_int_t)e->max_inner,
			"too_big", (json_int_t)e->too_big));
	json_object_set_new(o, "vxlan", x);
	return o;
}

static json_t *j_internet(struct dpc_triage *t)
{
	json_t *o = json_object(), *a, *p;

	p = json_pack("{sI sI sI sI sI sI sI sI}",
		      "tcp", (json_int_t)t->proto[0], "udp", (json_int_t)t->proto[1],
		      "icmp", (json_int_t)t->proto[2], "icmpv6", (json_int_t)t->proto[3],
		      "other_ip", (json_int_t)t->proto[4], "arp", (json_int_t)t->proto[5],
		      "non_ip", (json_int_t)t->proto[6], "vxlan", (json_int_t)t->proto[7]);
	json_object_set_new(o, "protocols", p);
	json_object_set_new(o, "fragments", json_pack(
		"{sI sI sI sI sI sI}", "packets", (json_int_t)t->frag_pkts,
		"ipv6_packets", (json_int_t)t->frag_v6,
		"datagrams", (json_int_t)t->frag_dgrams,
		"complete", (json_int_t)t->frag_complete,
		"incomplete", (json_int_t)t->frag_incomplete,
		"untracked", (json_int_t)t->frag_untracked));
	a = json_array();
	FOR_TOP(&t->icmps, w_icmp, e, struct icmp_e, 100) {
		json_t *r = json_pack("{so ss si si ss so so sI sI so}",
			"reporter", jip(&e->k.reporter), "family", e->k.v6 ? "icmpv6" : "icmp",
			"type", e->k.type, "code", e->k.code,
			"name", icmp_name(e->k.v6, e->k.type, e->k.code),
			"about_src", jip(&e->osrc), "about_dst", jip(&e->k.odst),
			"about_port", (json_int_t)e->k.odport, "count", (json_int_t)e->count,
			"packets", jev(e->ev.p, e->ev.n));
		if (e->mtu)
			json_object_set_new(r, "mtu", json_integer(e->mtu));
		if (e->has_qvni)
			json_object_set_new(r, "vni", json_integer(e->qvni));
		if (e->traceroute)
			json_object_set_new(r, "traceroute", json_integer((json_int_t)e->traceroute));
		json_array_append_new(a, r);
	}
	json_object_set_new(o, "icmp_errors", a);
	a = json_array();
	for (uint32_t i = 0; i < t->loops.n; i++) {
		struct loop_e *e = tab_at(&t->loops, i);

		json_array_append_new(a, json_pack("{so so sI si si so}",
			"src", jip(&e->k.src), "dst", jip(&e->k.dst),
			"packets", (json_int_t)e->pkts, "ttl_first", e->ttl_hi,
			"ttl_last", e->ttl_lo, "evidence", jev(e->ev.p, e->ev.n)));
	}
	json_object_set_new(o, "loops", a);
	a = json_array();
	FOR_TOP(&t->ttls, w_ttl, e, struct ttl_e, t->o.top_n) {
		json_t *vals = json_array();

		for (unsigned i = 0; i < e->nv; i++)
			json_array_append_new(vals, json_pack("[iI]", e->val[i],
							      (json_int_t)e->cnt[i]));
		json_t *r = json_pack("{so sI si si so sI}", "source", jip(&e->src),
				      "packets", (json_int_t)e->pkts, "min", e->min,
				      "max", e->max, "values", vals,
				      "other", (json_int_t)e->other);
		jvni(r, e->vni);
		json_array_append_new(a, r);
	}
	json_object_set_new(o, "ttl", a);
	return o;
}

static json_t *j_transport(struct dpc_triage *t)
{
	json_t *o = json_object(), *a;
	char b1[64], b2[64];

	a = json_array();
	FOR_TOP(&t->svcs, w_svc, e, struct svc_e, 50) {
		json_t *r = json_pack(
			"{so so si sI sI sI sI sI sI sI sI sI sI sI sI}",
			"client", jip(&e->k.client), "server", jip(&e->k.server),
			"port", e->k.port, "attempts", (json_int_t)e->attempts,
			"completed", (json_int_t)e->completed,
			"refused", (json_int_t)e->refused,
			"unanswered", (json_int_t)e->unanswered,
			"unreachable", (json_int_t)e->unreachable,
			"pending", (json_int_t)e->pending,
			"reset", (json_int_t)(e->reset_c + e->reset_s),
			"retransmissions", (json_int_t)e->retrans,
			"syn_retransmissions", (json_int_t)e->hs_retrans,
			"dup_acks", (json_int_t)e->dupacks,
			"zero_windows", (json_int_t)e->zerowin,
			"data_segments", (json_int_t)e->data_pkts);
		jvni(r, e->k.vni);
		if (e->has_vtep)
			json_object_set_new(r, "underlay", json_pack("[oo]", jip(&e->vtep[0]),
								     jip(&e->vtep[1])));
		json_array_append_new(a, r);
	}
	json_object_set_new(o, "tcp", a);
	a = json_array();
	FOR_TOP(&t->rtts, w_rtt, e, struct rtt_e, 50) {
		json_t *r = json_pack("{so si sI sf sf sf}", "server", jip(&e->k.server),
				      "port", e->k.port, "samples", (json_int_t)e->r.seen,
				      "p50_ms", res_pct(&e->r, 50) / 1000.0,
				      "p90_ms", res_pct(&e->r, 90) / 1000.0,
				      "p99_ms", res_pct(&e->r, 99) / 1000.0);
		jvni(r, e->k.vni);
		json_array_append_new(a, r);
	}
	json_object_set_new(o, "handshake_rtt", a);
	a = json_array();
	FOR_TOP(&t->udpnr, w_udpnr, e, struct udpnr_e, 50) {
		json_t *r = json_pack("{so si sI sI so so}", "server", jip(&e->k.server),
				      "port", e->k.port, "flows", (json_int_t)e->flows,
				      "datagrams", (json_int_t)e->pkts,
				      "first_client", jip(&e->client),
				      "packets", jev(e->ev.p, e->ev.n));
		jvni(r, e->k.vni);
		json_array_append_new(a, r);
	}
	json_object_set_new(o, "udp_no_reply", a);
	a = json_array();
	for (uint32_t i = 0; i < t->n_top; i++) {
		const struct talker *k = &t->top[i];
		struct ipa x, y;

		memset(&x, 0, sizeof(x));
		memset(&y, 0, sizeof(y));
		x.fam = y.fam = k->k.fam;
		memcpy(x.a, k->k.ip[0], 16);
		memcpy(y.a, k->k.ip[1], 16);
		json_t *r = json_pack("{ss ss ss sI sI}",
				      "proto", k->k.proto == 6 ? "tcp" : "udp",
				      "a", A(&x, b1), "b", A(&y, b2),
				      "packets", (json_int_t)k->pkts,
				      "bytes", (json_int_t)k->bytes);
		json_object_set_new(r, "a_port", json_integer(k->k.port[0]));
		json_object_set_new(r, "b_port", json_integer(k->k.port[1]));
		jvni(r, k->k.vni);
		json_array_append_new(a, r);
	}
	json_object_set_new(o, "top_talkers", a);
	a = json_array();
	FOR_TOP(&t->ports, w_port, e, struct port_e, t->o.top_n) {
		json_t *r = json_pack("{so si si sI}", "client", jip(&e->client),
				      "min", e->min, "max", e->max,
				      "connections", (json_int_t)e->conns);
		jvni(r, e->vni);
		json_array_append_new(a, r);
	}
	json_object_set_new(o, "ephemeral_ports", a);
	json_object_set_new(o, "flows", json_pack(
		"{sI si si sI sI sI}", "created", (json_int_t)t->ft.created,
		"cap", t->ft.max, "max_live", t->ft.max_live,
		"expired", (json_int_t)t->ft.expired, "evicted", (json_int_t)t->ft.evicted,
		"pending_at_end", (json_int_t)t->tcp_pending_end));
	return o;
}

static json_t *j_app(struct dpc_triage *t)
{
	json_t *o = json_object(), *d = json_object(), *a, *rc;
	uint64_t q = 0, r = 0, un = 0, codes[16] = {0};

	a = json_array();
	FOR_TOP(&t->dnss, w_dnss, e, struct dnss_e, 50) {
		json_t *row, *c = json_object();

		q += e->queries;
		r += e->responses;
		un += e->unanswered;
		for (unsigned i = 0; i < 16; i++) {
			codes[i] += e->rcode[i];
			if (e->rcode[i])
				json_object_set_new(c, dns_rcode_name(i),
						    json_integer((json_int_t)e->rcode[i]));
		}
		row = json_pack("{so sI sI sI sI so sf sf sf}", "server", jip(&e->k.server),
				"queries", (json_int_t)e->queries,
				"responses", (json_int_t)e->responses,
				"unanswered", (json_int_t)e->unanswered,
				"retries", (json_int_t)e->retries, "rcodes", c,
				"p50_ms", res_pct(&e->lat, 50) / 1000.0,
				"p90_ms", res_pct(&e->lat, 90) / 1000.0,
				"p99_ms", res_pct(&e->lat, 99) / 1000.0);
		jvni(row, e->k.vni);
		json_array_append_new(a, row);
	}
	rc = json_object();
	for (unsigned i = 0; i < 16; i++)
		if (codes[i])
			json_object_set_new(rc, dns_rcode_name(i), json_integer((json_int_t)codes[i]));
	json_object_set_new(d, "queries", json_integer((json_int_t)q));
	json_object_set_new(d, "responses", json_integer((json_int_t)r));
	json_object_set_new(d, "unanswered", json_integer((json_int_t)un));
	json_object_set_new(d, "unmatched_responses", json_integer((json_int_t)t->dns_unmatched));
	json_object_set_new(d, "rcodes", rc);
	json_object_set_new(d, "servers", a);
	a = json_array();
	FOR_TOP(&t->dnsn, w_dnsn, e, struct dnsn_e, 20)
		json_array_append_new(a, json_pack("{ss ss sI sI}", "name", e->k.name,
						   "rcode", dns_rcode_name(e->k.rcode),
						   "count", (json_int_t)e->count,
						   "first_packet", (json_int_t)e->first_pkt));
	json_object_set_new(d, "failed_names", a);
	json_object_set_new(o, "dns", d);

	d = json_object();
	json_object_set_new(d, "requests", json_integer((json_int_t)t->http_requests));
	json_object_set_new(d, "responses", json_integer((json_int_t)t->http_responses));
	a = json_array();
	FOR_TOP(&t->httpr, w_httpr, e, struct httpr_e, 20)
		json_array_append_new(a, json_pack("{ss sI sI}", "line", e->k.line,
						   "count", (json_int_t)e->count,
						   "first_packet", (json_int_t)e->first_pkt));
	json_object_set_new(d, "request_lines", a);
	a = json_array();
	FOR_TOP(&t->https, w_https, e, struct https_e, 50)
		json_array_append_new(a, json_pack("{so si si sI so}", "server",
						   jip(&e->k.server), "port", e->k.port,
						   "status", e->k.code, "count", (json_int_t)e->count,
						   "packets", jev(e->ev.p, e->ev.n)));
	json_object_set_new(d, "status", a);
	json_object_set_new(o, "http", d);

	d = json_object();
	json_object_set_new(d, "client_hellos", json_integer((json_int_t)t->tls_hellos));
	json_object_set_new(d, "encrypted_alerts", json_integer((json_int_t)t->tls_enc_alerts));
	a = json_array();
	FOR_TOP(&t->snis, w_sni, e, struct sni_e, 50)
		json_array_append_new(a, json_pack("{ss so si sI sI}", "sni", e->k.name,
						   "server", jip(&e->k.server), "port", e->k.port,
						   "count", (json_int_t)e->count,
						   "first_packet", (json_int_t)e->first_pkt));
	json_object_set_new(d, "sni", a);
	a = json_array();
	FOR_TOP(&t->alerts, w_alert, e, struct alert_e, 50)
		json_array_append_new(a, json_pack("{so so si ss ss si sI so}", "from",
						   jip(&e->k.from), "to", jip(&e->k.to),
						   "port", e->k.port,
						   "level", e->k.level == 2 ? "fatal" : "warning",
						   "description", tls_alert_name(e->k.desc),
						   "code", e->k.desc, "count", (json_int_t)e->count,
						   "packets", jev(e->ev.p, e->ev.n)));
	json_object_set_new(d, "alerts", a);
	json_object_set_new(o, "tls", d);
	return o;
}

static json_t *j_timeline(struct dpc_triage *t)
{
	json_t *o = json_object(), *bins = json_array(), *names = json_array();

	json_array_append_new(names, json_string("all"));
	for (unsigned l = 0; l < DPC_TRIAGE_LAYER_COUNT; l++)
		json_array_append_new(names, json_string(dpc_triage_layer_name(l)));
	for (uint32_t i = 0; i < t->tl.used; i++) {
		json_t *b = json_array();

		for (unsigned s = 0; s < TL_SERIES; s++)
			json_array_append_new(b, json_integer(t->tl.c[i][s]));
		json_array_append_new(bins, b);
	}
	json_object_set_new(o, "start_ns", json_integer((json_int_t)t->tl.t0));
	json_object_set_new(o, "bin_s", json_real((double)t->tl.bin_ns / 1e9));
	json_object_set_new(o, "series", names);
	json_object_set_new(o, "bins", bins);
	return o;
}

json_t *report_build(struct dpc_triage *t);
json_t *report_build(struct dpc_triage *t)
{
	json_t *root = json_object(), *ins = json_array(), *fs = json_array();

	for (struct input *in = t->inputs; in != NULL; in = in->next)
		json_array_append_new(ins, json_pack("{ss sI sI ss?}", "name", in->name,
						     "first_packet", (json_int_t)in->first_pkt,
						     "packets", (json_int_t)in->pkts,
						     "error", in->err[0] ? in->err : NULL));
	for (size_t i = 0; i < t->n_findings; i++) {
		const struct dpc_triage_finding *f = &t->findings[i];
		json_t *j = json_pack("{ss ss ss ss sI so}",
			"severity", dpc_triage_severity_name(f->severity),
			"layer", dpc_triage_layer_name(f->layer), "code", f->code,
			"text", f->text, "count", (json_int_t)f->count,
			"packets", jev(f->pkts, f->n_pkts));

		json_object_set_new(j, "vni", f->has_vni ? json_integer(f->vni) : json_null());
		json_object_set_new(j, "underlay", f->underlay[0] ? json_string(f->underlay)
								  : json_null());
		json_array_append_new(fs, j);
	}
	json_object_set_new(root, "dpcap_triage", json_integer(1));
	json_object_set_new(root, "inputs", ins);
	json_object_set_new(root, "summary", json_pack(
		"{sI sI sI sI sI sI sf sI}", "packets", (json_int_t)t->pkt_no,
		"analysed", (json_int_t)t->analysed, "filtered_out", (json_int_t)t->filtered,
		"bytes", (json_int_t)t->bytes, "first_ns", (json_int_t)t->first_ts,
		"last_ns", (json_int_t)t->last_ts,
		"duration_s", (double)(t->last_ts - t->first_ts) / 1e9,
		"time_went_backwards", (json_int_t)t->backwards));
	json_object_set_new(root, "findings", fs);
	json_object_set_new(root, "link", j_link(t));
	json_object_set_new(root, "internet", j_internet(t));
	json_object_set_new(root, "transport", j_transport(t));
	json_object_set_new(root, "application", j_app(t));
	json_object_set_new(root, "timeline", j_timeline(t));
	return root;
}

int dpc_triage_write_json(struct dpc_triage *t, FILE *out)
{
	json_t *root;
	int rc;

	dpc_triage_finish(t);
	root = report_build(t);
	if (root == NULL)
		return -ENOMEM;
	rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (rc != 0 || fputc('\n', out) == EOF || fflush(out) != 0)
		return -EIO;
	return 0;
}

/* ---- terminal ---- */

static json_int_t I(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *S(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static void pkts_list(FILE *out, json_t *a)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		fprintf(out, "%s#%lld", i ? " " : "", (long long)json_integer_value(v));
}

int dpc_triage_write_text(struct dpc_triage *t, FILE *out)
{
	json_t *root, *s, *f, *l, *x, *v, *a;
	size_t i;

	dpc_triage_finish(t);
	root = report_build(t);
	if (root == NULL)
		return -ENOMEM;
	s = json_object_get(root, "summary");
	fprintf(out, "dpcap triage: %lld packets analysed (%lld filtered out), %.3f s, "
		"%lld bytes\n", (long long)I(s, "analysed"), (long long)I(s, "filtered_out"),
		json_real_value(json_object_get(s, "duration_s")), (long long)I(s, "bytes"));
	json_array_foreach(json_object_get(root, "inputs"), i, v) {
		fprintf(out, "  input %s: packets #%lld..#%lld", S(v, "name"),
			(long long)I(v, "first_packet"),
			(long long)(I(v, "first_packet") + I(v, "packets") - 1));
		if (json_is_string(json_object_get(v, "error")))
			fprintf(out, " (%s)", S(v, "error"));
		fputc('\n', out);
	}

	f = json_object_get(root, "findings");
	fprintf(out, "\n== Verdict: %zu finding%s\n", json_array_size(f),
		json_array_size(f) == 1 ? "" : "s");
	if (json_array_size(f) == 0)
		fprintf(out, "  Nothing wrong found at any layer.\n");
	json_array_foreach(f, i, v) {
		fprintf(out, "%2zu. [%s] %s: %s\n    ", i + 1, S(v, "severity"),
			S(v, "layer"), S(v, "text"));
		if (json_array_size(json_object_get(v, "packets"))) {
			fprintf(out, "packets ");
			pkts_list(out, json_object_get(v, "packets"));
			fprintf(out, "  ");
		}
		fprintf(out, "(%s)\n", S(v, "code"));
	}

	l = json_object_get(root, "link");
	fprintf(out, "\n== Link\n  frame sizes:");
	json_array_foreach(json_object_get(l, "sizes"), i, v)
		if (I(v, "frames"))
			fprintf(out, " %s:%lld", S(v, "bytes"), (long long)I(v, "frames"));
	fprintf(out, "\n  largest frame %lld bytes; IP packets over the %lld-byte MTU: %lld; "
		"snapped by snaplen: %lld\n", (long long)I(l, "largest_frame"),
		(long long)I(l, "mtu"), (long long)I(l, "over_mtu"), (long long)I(l, "snapped"));
	json_array_foreach(json_object_get(l, "malformed"), i, v)
		fprintf(out, "  %s at %s%s: %lld frames\n", S(v, "status"), S(v, "layer"),
			json_is_true(json_object_get(v, "inner")) ? " (inner)" : "",
			(long long)I(v, "frames"));
	a = json_object_get(l, "vlans");
	if (json_array_size(a)) {
		fprintf(out, "  VLANs:");
		json_array_foreach(a, i, v)
			fprintf(out, " %lld (%lld)", (long long)I(v, "vid"), (long long)I(v, "frames"));
		fputc('\n', out);
	}
	json_array_foreach(json_object_get(l, "vxlan"), i, v)
		fprintf(out, "  VXLAN VNI %lld %s -> %s: %lld packets, largest inner IP %lld, "
			"%lld too big for the underlay\n", (long long)I(v, "vni"),
			S(v, "vtep_src"), S(v, "vtep_dst"), (long long)I(v, "packets"),
			(long long)I(v, "max_inner_ip"), (long long)I(v, "too_big"));

	x = json_object_get(root, "internet");
	a = json_object_get(x, "protocols");
	fprintf(out, "\n== Internet\n  protocols: tcp %lld, udp %lld, icmp %lld, icmpv6 %lld, "
		"other IP %lld, arp %lld, non-IP %lld (vxlan %lld)\n",
		(long long)I(a, "tcp"), (long long)I(a, "udp"), (long long)I(a, "icmp"),
		(long long)I(a, "icmpv6"), (long long)I(a, "other_ip"), (long long)I(a, "arp"),
		(long long)I(a, "non_ip"), (long long)I(a, "vxlan"));
	a = json_object_get(x, "fragments");
	fprintf(out, "  fragments: %lld packets, %lld IPv4 datagrams (%lld complete, "
		"%lld incomplete)\n", (long long)I(a, "packets"), (long long)I(a, "datagrams"),
		(long long)I(a, "complete"), (long long)I(a, "incomplete"));
	json_array_foreach(json_object_get(x, "icmp_errors"), i, v)
		fprintf(out, "  %s %s from %s about %s -> %s port %lld: %lld\n",
			S(v, "family"), S(v, "name"), S(v, "reporter"), S(v, "about_src"),
			S(v, "about_dst"), (long long)I(v, "about_port"), (long long)I(v, "count"));
	fprintf(out, "  TTL per source (top):\n");
	json_array_foreach(json_object_get(x, "ttl"), i, v) {
		size_t j;
		json_t *p;

		fprintf(out, "    %-40s %8lld pkts  ttl", S(v, "source"), (long long)I(v, "packets"));
		json_array_foreach(json_object_get(v, "values"), j, p)
			fprintf(out, " %lld(%lld)", (long long)json_integer_value(json_array_get(p, 0)),
				(long long)json_integer_value(json_array_get(p, 1)));
		fputc('\n', out);
	}

	x = json_object_get(root, "transport");
	fprintf(out, "\n== Transport\n  TCP (client -> server:port): attempts completed refused "
		"unanswered reset retrans dupack zerowin\n");
	json_array_foreach(json_object_get(x, "tcp"), i, v) {
		char ep[160];

		if (i >= t->o.top_n)
			break;
		snprintf(ep, sizeof(ep), "%s -> %s:%lld", S(v, "client"), S(v, "server"),
			 (long long)I(v, "port"));
		fprintf(out, "    %-52s %5lld %5lld %5lld %5lld %5lld %5lld %5lld %5lld\n", ep,
			(long long)I(v, "attempts"), (long long)I(v, "completed"),
			(long long)I(v, "refused"), (long long)I(v, "unanswered"),
			(long long)I(v, "reset"), (long long)I(v, "retransmissions"),
			(long long)I(v, "dup_acks"), (long long)I(v, "zero_windows"));
	}
	json_array_foreach(json_object_get(x, "handshake_rtt"), i, v) {
		if (i >= t->o.top_n)
			break;
		fprintf(out, "  handshake RTT %s:%lld  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms "
			"(%lld)\n", S(v, "server"), (long long)I(v, "port"),
			json_real_value(json_object_get(v, "p50_ms")),
			json_real_value(json_object_get(v, "p90_ms")),
			json_real_value(json_object_get(v, "p99_ms")), (long long)I(v, "samples"));
	}
	json_array_foreach(json_object_get(x, "udp_no_reply"), i, v) {
		if (i >= t->o.top_n)
			break;
		fprintf(out, "  UDP without reply: %s port %lld: %lld flows\n", S(v, "server"),
			(long long)I(v, "port"), (long long)I(v, "flows"));
	}
	fprintf(out, "  top talkers:\n");
	json_array_foreach(json_object_get(x, "top_talkers"), i, v)
		fprintf(out, "    %s %s:%lld <-> %s:%lld  %lld pkts %lld bytes\n", S(v, "proto"),
			S(v, "a"), (long long)I(v, "a_port"), S(v, "b"), (long long)I(v, "b_port"),
			(long long)I(v, "packets"), (long long)I(v, "bytes"));
	fprintf(out, "  client port ranges:\n");
	json_array_foreach(json_object_get(x, "ephemeral_ports"), i, v)
		fprintf(out, "    %-40s %5lld-%5lld (%lld flows)\n", S(v, "client"),
			(long long)I(v, "min"), (long long)I(v, "max"),
			(long long)I(v, "connections"));
	a = json_object_get(x, "flows");
	fprintf(out, "  flows: %lld created, %lld max live (cap %lld), %lld expired, "
		"%lld evicted\n", (long long)I(a, "created"), (long long)I(a, "max_live"),
		(long long)I(a, "cap"), (long long)I(a, "expired"), (long long)I(a, "evicted"));

	x = json_object_get(root, "application");
	a = json_object_get(x, "dns");
	fprintf(out, "\n== Application\n  DNS: %lld queries, %lld responses, %lld unanswered;",
		(long long)I(a, "queries"), (long long)I(a, "responses"),
		(long long)I(a, "unanswered"));
	{
		const char *k;
		json_t *c;

		json_object_foreach(json_object_get(a, "rcodes"), k, c)
			fprintf(out, " %s %lld", k, (long long)json_integer_value(c));
	}
	fputc('\n', out);
	json_array_foreach(json_object_get(a, "servers"), i, v)
		fprintf(out, "    server %s: %lld queries, latency p50 %.3f ms p90 %.3f ms\n",
			S(v, "server"), (long long)I(v, "queries"),
			json_real_value(json_object_get(v, "p50_ms")),
			json_real_value(json_object_get(v, "p90_ms")));
	json_array_foreach(json_object_get(a, "failed_names"), i, v) {
		if (i >= t->o.top_n)
			break;
		fprintf(out, "    %s %s: %lld\n", S(v, "rcode"), S(v, "name"), (long long)I(v, "count"));
	}
	a = json_object_get(x, "http");
	fprintf(out, "  HTTP: %lld requests, %lld responses\n", (long long)I(a, "requests"),
		(long long)I(a, "responses"));
	json_array_foreach(json_object_get(a, "request_lines"), i, v) {
		if (i >= t->o.top_n)
			break;
		fprintf(out, "    %6lld  %s\n", (long long)I(v, "count"), S(v, "line"));
	}
	json_array_foreach(json_object_get(a, "status"), i, v)
		fprintf(out, "    status %lld from %s:%lld: %lld\n", (long long)I(v, "status"),
			S(v, "server"), (long long)I(v, "port"), (long long)I(v, "count"));
	a = json_object_get(x, "tls");
	fprintf(out, "  TLS: %lld ClientHellos\n", (long long)I(a, "client_hellos"));
	json_array_foreach(json_object_get(a, "sni"), i, v) {
		if (i >= t->o.top_n)
			break;
		fprintf(out, "    SNI %s -> %s:%lld: %lld\n", S(v, "sni"), S(v, "server"),
			(long long)I(v, "port"), (long long)I(v, "count"));
	}
	json_array_foreach(json_object_get(a, "alerts"), i, v)
		fprintf(out, "    alert %s %s from %s to %s: %lld\n", S(v, "level"),
			S(v, "description"), S(v, "from"), S(v, "to"), (long long)I(v, "count"));
	json_decref(root);
	return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}
