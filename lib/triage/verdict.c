/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * verdict.c - turns the analyser's tables into findings: one actionable
 * sentence each, with the layer, the packet numbers and (for overlay
 * trouble) the VNI and the underlay endpoints; most serious first.
 * docs/triage.md describes every finding code used here.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "triage_internal.h"

#define A(ip, b) ipa_str((ip), (b), sizeof(b))

static struct dpc_triage_finding *
add(struct dpc_triage *t, enum dpc_triage_layer layer,
    enum dpc_triage_severity sev, const char *code, uint64_t count,
    const struct ev *ev, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static struct dpc_triage_finding *
add(struct dpc_triage *t, enum dpc_triage_layer layer,
    enum dpc_triage_severity sev, const char *code, uint64_t count,
    const struct ev *ev, const char *fmt, ...)
{
	struct dpc_triage_finding *f;
	va_list ap;

	if (t->n_findings == t->cap_findings) {
		size_t nc = t->cap_findings ? t->cap_findings * 2 : 16;
		struct dpc_triage_finding *nf;

		if (nc > 32768) {
			t->findings_dropped++;
			return NULL;
		}
		nf = realloc(t->findings, nc * sizeof(*nf));
		if (nf == NULL)
			return NULL;
		t->findings = nf;
		t->cap_findings = nc;
	}
	f = &t->findings[t->n_findings++];
	memset(f, 0, sizeof(*f));
	f->layer = (uint8_t)layer;
	f->severity = (uint8_t)sev;
	snprintf(f->code, sizeof(f->code), "%s", code);
	f->count = count;
	if (ev != NULL) {
		f->n_pkts = ev->n;
		memcpy(f->pkts, ev->p, sizeof(f->pkts[0]) * ev->n);
	}
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	return f;
}

static void set_overlay(struct dpc_triage_finding *f, uint32_t vni,
			const struct ipa *a, const struct ipa *b)
{
	char x[64], y[64];

	if (f == NULL || vni == NO_VNI)
		return;
	f->has_vni = true;
	f->vni = vni;
	if (a != NULL && b != NULL)
		snprintf(f->underlay, sizeof(f->underlay), "%s -> %s", A(a, x), A(b, y));
}

static const char *vni_note(uint32_t vni, char *buf, size_t len)
{
	if (vni == NO_VNI)
		buf[0] = 0;
	else
		snprintf(buf, len, " in VXLAN VNI %u", vni);
	return buf;
}

static enum dpc_triage_layer perr_layer(unsigned l)
{
	switch (l) {
	case DPC_LAYER_IPV4: case DPC_LAYER_IPV6: case DPC_LAYER_IPV6_EXT:
	case DPC_LAYER_ICMP: case DPC_LAYER_ICMPV6:
		return DPC_TRIAGE_INTERNET;
	case DPC_LAYER_TCP: case DPC_LAYER_UDP:
		return DPC_TRIAGE_TRANSPORT;
	default:
		return DPC_TRIAGE_LINK;
	}
}

static void capture_findings(struct dpc_triage *t)
{
	struct tab *tabs[] = {
		&t->vlans, &t->bigs, &t->vxlans, &t->ttls, &t->icmps, &t->loops,
		&t->fraggaps, &t->svcs, &t->rtts, &t->udpnr, &t->ports, &t->dnss,
		&t->dnsn, &t->httpr, &t->https, &t->snis, &t->alerts,
	};
	uint64_t over = 0;

	for (struct input *in = t->inputs; in != NULL; in = in->next) {
		struct ev ev = {0};

		if (in->err[0] == 0)
			continue;
		if (in->pkts)
			ev_add(&ev, in->first_pkt + in->pkts - 1);
		if (in->linktype >= 0 && in->linktype != 1)
			add(t, DPC_TRIAGE_CAPTURE, DPC_TRIAGE_WARNING, "capture_linktype", 1,
			    NULL, "%s: %s; capture on an Ethernet interface (or convert "
			    "the file) to triage it.", in->name, in->err);
		else
			add(t, DPC_TRIAGE_CAPTURE, DPC_TRIAGE_ERROR, "capture_damaged", 1,
			    &ev, "%s is %s: the capture was cut short (disk full, writer "
			    "killed, or copied while still being written); packets after "
			    "that point are missing from this report.", in->name, in->err);
	}
	if (t->ft.evicted)
		add(t, DPC_TRIAGE_CAPTURE, DPC_TRIAGE_WARNING, "flow_overflow",
		    t->ft.evicted, NULL,
		    "%llu flows were closed early because the flow table was full "
		    "(%u live flows): transport results are partial; raise the flow cap.",
		    (unsigned long long)t->ft.evicted, t->ft.max);
	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++)
		over += tabs[i]->overflow;
	over += t->frag_untracked + t->dns_untracked;
	if (over)
		add(t, DPC_TRIAGE_CAPTURE, DPC_TRIAGE_WARNING, "table_overflow", over,
		    NULL, "%llu events were not tracked because a bounded table was "
		    "full: per-endpoint tables are partial (totals stay exact).",
		    (unsigned long long)over);
}

static void link_findings(struct dpc_triage *t)
{
	char a[64], b[64], r[64], nb[48];

	for (unsigned s = 0; s < 2; s++)
		for (unsigned l = 0; l < DPC_LAYER_COUNT; l++)
			for (unsigned d = 0; d < 2; d++) {
				const struct perr *p = &t->perr[s][l][d];
				const char *ln = dpc_parse_layer_name((enum dpc_layer)l);
				const char *where = d ? " of a VXLAN inner frame" : "";

				if (p->frames == 0)
					continue;
				if (s == 0 && p->snapped == p->frames)
					add(t, DPC_TRIAGE_CAPTURE, DPC_TRIAGE_WARNING,
					    "snaplen_truncated", p->frames, &p->ev,
					    "%llu frames were cut by the capture's snap length "
					    "inside the %s header%s: they are only partly analysed; "
					    "capture with a larger snap length (-s 0) to see them whole.",
					    (unsigned long long)p->frames, ln, where);
				else if (s == 0)
					add(t, perr_layer(l), DPC_TRIAGE_ERROR, "frame_truncated",
					    p->frames, &p->ev,
					    "%llu frames end inside their %s header%s although they "
					    "were captured whole: a device or tunnel endpoint emits "
					    "cut frames; find the sender of the packets listed.",
					    (unsigned long long)p->frames, ln, where);
				else
					add(t, perr_layer(l), DPC_TRIAGE_ERROR, "frame_invalid",
					    p->frames, &p->ev,
					    "%llu frames carry an invalid %s header%s: a device or "
					    "tunnel endpoint emits malformed packets; find the sender "
					    "of the packets listed.",
					    (unsigned long long)p->frames, ln, where);
			}

	for (uint32_t i = 0; i < t->vxlans.n; i++) {
		struct vx_e *v = tab_at(&t->vxlans, i);
		struct icmp_e *ic = NULL;
		uint64_t icount = 0;
		struct dpc_triage_finding *f;
		uint32_t need = v->max_inner + DPC_VXLAN_OVERHEAD + (v->k.src.fam == 6 ? 20 : 0);

		if (v->too_big == 0)
			continue;
		for (uint32_t j = 0; j < t->icmps.n; j++) {
			struct icmp_e *e = tab_at(&t->icmps, j);
			bool ptb = (!e->k.v6 && e->k.type == 3 && e->k.code == 4) ||
				   (e->k.v6 && e->k.type == 2);

			if (!ptb || !e->vxlan ||
			    memcmp(&e->k.odst, &v->k.dst, sizeof(v->k.dst)) != 0)
				continue;
			if (e->has_qvni && e->qvni != v->k.vni)
				continue;
			e->_p = 1; /* explained here */
			icount += e->count;
			if (ic == NULL || e->count > ic->count)
				ic = e;
		}
		if (ic != NULL) {
			struct ev ev = v->ev;
			uint32_t mtu = ic->mtu ? ic->mtu : t->o.mtu;

			for (uint32_t k = 0; k < ic->ev.n; k++)
				ev_add(&ev, ic->ev.p[k]);
			f = add(t, DPC_TRIAGE_LINK, DPC_TRIAGE_CRITICAL, "vxlan_mtu_blackhole",
				v->too_big, &ev,
				"MTU black hole in VXLAN VNI %u (underlay %s -> %s): %llu inner "
				"packets of up to %u bytes need %u bytes on the underlay, and %s "
				"answered %llu times with ICMP fragmentation-needed (next-hop MTU "
				"%u); set the tenant MTU to %u or raise the underlay MTU to at "
				"least %u.", v->k.vni, A(&v->k.src, a), A(&v->k.dst, b),
				(unsigned long long)v->too_big, v->max_inner, need,
				A(&ic->k.reporter, r), (unsigned long long)icount, mtu,
				mtu > DPC_VXLAN_OVERHEAD ? mtu - DPC_VXLAN_OVERHEAD : mtu, need);
		} else {
			f = add(t, DPC_TRIAGE_LINK, DPC_TRIAGE_ERROR, "vxlan_too_big",
				v->too_big, &v->ev,
				"%llu inner packets in VXLAN VNI %u (underlay %s -> %s) are up "
				"to %u bytes and need %u bytes once VXLAN's %u bytes are added, "
				"more than the %u-byte underlay MTU: set the tenant MTU to %u or "
				"raise the underlay MTU to at least %u.",
				(unsigned long long)v->too_big, v->k.vni, A(&v->k.src, a),
				A(&v->k.dst, b), v->max_inner, need, DPC_VXLAN_OVERHEAD,
				t->o.mtu, t->o.mtu - DPC_VXLAN_OVERHEAD, need);
		}
		set_overlay(f, v->k.vni, &v->k.src, &v->k.dst);
	}

	for (uint32_t i = 0; i < t->bigs.n; i++) {
		struct big_e *e = tab_at(&t->bigs, i);

		add(t, DPC_TRIAGE_LINK, DPC_TRIAGE_WARNING, "frame_over_mtu", e->frames,
		    &e->ev,
		    "%llu frames from %s carry IP packets larger than the %u-byte MTU "
		    "(up to %u bytes): jumbo frames, or segmentation offload on the "
		    "capture host (turn off GRO/TSO to see wire sizes); a %u-byte path "
		    "drops them.", (unsigned long long)e->frames, A(&e->src, a), t->o.mtu,
		    e->max_len, t->o.mtu);
	}
	(void)nb;
}

static const char *unreach_advice(const struct icmp_k *k)
{
	if (!k->v6) {
		switch (k->code) {
		case 0: case 6: case 11:
			return "no route to that network: check the routing table of the reporter";
		case 1: case 7: case 12:
			return "the host is down or does not answer ARP/ND on its last hop: check the host";
		case 2:
			return "the host does not run that protocol";
		case 9: case 10: case 13:
			return "a firewall or ACL on the reporter rejects it: check its rules";
		default:
			return "check the path towards the destination";
		}
	}
	switch (k->code) {
	case 0: case 6:
		return "no route to that network: check the routing table of the reporter";
	case 3:
		return "the host is down or does not answer neighbour discovery: check the host";
	case 1: case 5:
		return "a firewall or policy on the reporter rejects it: check its rules";
	default:
		return "check the path towards the destination";
	}
}

static void internet_findings(struct dpc_triage *t)
{
	char a[64], b[64], r[64], v[48];

	for (uint32_t i = 0; i < t->loops.n; i++) {
		struct loop_e *e = tab_at(&t->loops, i);
		char routers[200] = "";
		uint64_t te = 0;
		struct ev ev = e->ev;
		size_t o = 0;

		for (uint32_t j = 0; j < t->icmps.n; j++) {
			struct icmp_e *c = tab_at(&t->icmps, j);

			if (!((!c->k.v6 && c->k.type == 11) || (c->k.v6 && c->k.type == 3)) ||
			    memcmp(&c->k.odst, &e->k.dst, sizeof(e->k.dst)) != 0)
				continue;
			c->_p = 1;
			te += c->count;
			if (o < sizeof(routers) - 64)
				o += (size_t)snprintf(routers + o, sizeof(routers) - o, "%s%s",
						      o ? ", " : "", A(&c->k.reporter, r));
			for (uint32_t k = 0; k < c->ev.n && k < 3; k++)
				ev_add(&ev, c->ev.p[k]);
		}
		if (te)
			add(t, DPC_TRIAGE_INTERNET, DPC_TRIAGE_CRITICAL, "ip_routing_loop",
			    e->pkts, &ev,
			    "Routing loop towards %s: %llu packets from %s passed this point "
			    "again and again with the TTL falling (%u -> %u) and %s sent %llu "
			    "ICMP time-exceeded; fix the routes for %s on those routers.",
			    A(&e->k.dst, b), (unsigned long long)e->pkts, A(&e->k.src, a),
			    e->ttl_hi, e->ttl_lo, routers, (unsigned long long)te,
			    A(&e->k.dst, b));
		else
			add(t, DPC_TRIAGE_INTERNET, DPC_TRIAGE_CRITICAL, "ip_routing_loop",
			    e->pkts, &ev,
			    "Routing loop towards %s: %llu packets from %s passed this point "
			    "again and again with the TTL falling (%u -> %u); fix the routes "
			    "for %s on the routers of this segment.",
			    A(&e->k.dst, b), (unsigned long long)e->pkts, A(&e->k.src, a),
			    e->ttl_hi, e->ttl_lo, A(&e->k.dst, b));
	}

	for (uint32_t i = 0; i < t->icmps.n; i++) {
		struct icmp_e *e = tab_at(&t->icmps, i);
		const struct icmp_k *k = &e->k;
		const char *name = icmp_name(k->v6, k->type, k->code);
		char port[32] = "";
		struct dpc_triage_finding *f = NULL;

		if (e->_p)
			continue;
		if (k->odport)
			snprintf(port, sizeof(port), " port %u", k->odport);
		if (e->has_qvni)
			snprintf(v, sizeof(v), " (VXLAN VNI %u)", e->qvni);
		else if (e->vxlan)
			snprintf(v, sizeof(v), " (VXLAN)");
		else
			v[0] = 0;
		if ((!k->v6 && k->type == 3 && k->code == 4) || (k->v6 && k->type == 2)) {
			f = add(t, DPC_TRIAGE_INTERNET, DPC_TRIAGE_ERROR, "ip_pmtu", e->count,
				&e->ev,
				"%s reported %llu times that packets from %s to %s%s do not fit "
				"the next hop (MTU %u) and may not be fragmented: path-MTU "
				"trouble; let these ICMP messages reach %s and lower the MTU or "
				"clamp the TCP MSS on that path.", A(&k->reporter, r),
				(unsigned long long)e->count, A(&e->osrc, a), A(&k->odst, b), v,
				e->mtu, A(&e->osrc, a));
		} else if ((!k->v6 && k->type == 3 && k->code == 3) ||
			   (k->v6 && k->type == 1 && k->code == 4)) {
			f = add(t, DPC_TRIAGE_TRANSPORT, DPC_TRIAGE_ERROR, "port_unreachable",
				e->count, &e->ev,
				"%llu %s datagrams from %s to %s%s%s were answered with ICMP port "
				"unreachable by %s: nothing listens on that port; start the "
				"service or fix the port the client uses.",
				(unsigned long long)e->count, k->oproto == 17 ? "UDP" : "IP",
				A(&e->osrc, a), A(&k->odst, b), port, v, A(&k->reporter, r));
		} else if ((!k->v6 && k->type == 3) || (k->v6 && k->type == 1)) {
			f = add(t, DPC_TRIAGE_INTERNET, DPC_TRIAGE_ERROR, "ip_unreachable",
				e->count, &e->ev,
				"%s answered %llu packets from %s to %s%s%s with ICMP %s: %s.",
				A(&k->reporter, r), (unsigned long long)e->count, A(&e->osrc, a),
				A(&k->odst, b), port, v, name, unreach_advice(k));
		} else if ((!k->v6 && k->type == 11) || (k->v6 && k->type == 3)) {
			if (e->traceroute == e->count)
				continue; /* traceroute probes: expected */
			if (k->code == 1)
				f = add(t, DPC_TRIAGE_INTERNET, DPC_TRIAGE_ERROR,
					"ip_reassembly_timeout", e->count, &e->ev,
					"%s gave up reassembling %llu fragmented packets from %s: "
					"fragments are lost on the way; avoid fragmentation (lower "
					"MTU/MSS) or find where fragments are dropped.",
					A(&k->reporter, r), (unsigned long long)e->count,
					A(&e->osrc, a));
			else
				f = add(t, DPC_TRIAGE_INTERNET, DPC_TRIAGE_ERROR, "ip_ttl_expired",
					e->count, &e->ev,
					"%llu packets from %s to %s%s expired in transit at %s (ICMP "
					"time exceeded): a routing loop or a sender TTL too small for "
					"the path; trace the route to %s.",
					(unsigned long long)e->count, A(&e->osrc, a), A(&k->odst, b), v,
					A(&k->reporter, r), A(&k->odst, b));
		} else {
			f = add(t, DPC_TRIAGE_INTERNET, DPC_TRIAGE_WARNING, "ip_param_problem",
				e->count, &e->ev,
				"%s rejected %llu packets from %s to %s with ICMP parameter "
				"problem: the sender builds headers the router cannot accept; "
				"check the sender's IP options/extension headers.",
				A(&k->reporter, r), (unsigned long long)e->count, A(&e->osrc, a),
				A(&k->odst, b));
		}
		if (f != NULL && e->has_qvni)
			set_overlay(f, e->qvni, &e->osrc, &k->odst);
	}

	for (uint32_t i = 0; i < t->fraggaps.n; i++) {
		struct fraggap_e *e = tab_at(&t->fraggaps, i);

		add(t, DPC_TRIAGE_INTERNET, DPC_TRIAGE_ERROR, "ip_fragments_missing",
		    e->datagrams, &e->ev,
		    "%llu fragmented IPv4 datagrams from %s to %s never completed here "
		    "(fragments missing): something on the path drops fragments; avoid "
		    "fragmentation (lower MTU/MSS) or allow fragments through.",
		    (unsigned long long)e->datagrams, A(&e->k.src, a), A(&e->k.dst, b));
	}
}

static const char *udp_service(uint16_t p)
{
	switch (p) {
	case 67: return "DHCP";
	case 69: return "TFTP";
	case 88: return "Kerberos";
	case 123: return "NTP";
	case 137: return "NetBIOS";
	case 161: return "SNMP";
	case 389: return "CLDAP";
	case 500: return "IKE";
	case 1812: return "RADIUS";
	case 1813: return "RADIUS accounting";
	case 3478: return "STUN";
	case 4500: return "IPsec NAT-T";
	case 5060: return "SIP";
	default: return NULL;
	}
}

static void transport_findings(struct dpc_triage *t)
{
	char a[64], b[64], v[48];

	for (uint32_t i = 0; i < t->svcs.n; i++) {
		struct svc_e *e = tab_at(&t->svcs, i);
		const struct svc_k *k = &e->k;
		struct dpc_triage_finding *f;
		const struct ipa *u0 = e->has_vtep ? &e->vtep[0] : NULL;
		const struct ipa *u1 = e->has_vtep ? &e->vtep[1] : NULL;

		vni_note(k->vni, v, sizeof(v));
		if (e->refused) {
			f = add(t, DPC_TRIAGE_TRANSPORT, DPC_TRIAGE_ERROR, "tcp_refused",
				e->refused, &e->ev_ref,
				"%llu connection attempts from %s to %s:%u%s were refused (SYN "
				"answered by RST): nothing listens on that port (or a firewall "
				"rejects); start the service or fix the port the client uses.",
				(unsigned long long)e->refused, A(&k->client, a), A(&k->server, b),
				k->port, v);
			set_overlay(f, k->vni, u0, u1);
		}
		if (e->unanswered) {
			f = add(t, DPC_TRIAGE_TRANSPORT, DPC_TRIAGE_ERROR, "tcp_unanswered",
				e->unanswered, &e->ev_unans,
				"%llu connection attempts from %s to %s:%u%s got no answer (%llu "
				"SYN retransmissions, no SYN-ACK, no RST): a firewall drops them "
				"silently or the host is down; check ACLs and routing towards %s.",
				(unsigned long long)e->unanswered, A(&k->client, a),
				A(&k->server, b), k->port, v, (unsigned long long)e->hs_retrans,
				A(&k->server, b));
			set_overlay(f, k->vni, u0, u1);
		}
		if (e->reset_c + e->reset_s) {
			f = add(t, DPC_TRIAGE_TRANSPORT, DPC_TRIAGE_WARNING, "tcp_reset",
				e->reset_c + e->reset_s, &e->ev_reset,
				"%llu connections between %s and %s:%u%s were reset mid-stream "
				"(%llu RST from the server, %llu from the client): the "
				"application aborted them or a middlebox (firewall, load "
				"balancer idle timeout) killed them.",
				(unsigned long long)(e->reset_c + e->reset_s), A(&k->client, a),
				A(&k->server, b), k->port, v, (unsigned long long)e->reset_s,
				(unsigned long long)e->reset_c);
			set_overlay(f, k->vni, u0, u1);
		}
		if (e->retrans >= 3 && e->retrans * 100 >= e->data_pkts) {
			double pct = e->data_pkts ? 100.0 * (double)e->retrans /
						    (double)e->data_pkts : 100.0;
			f = add(t, DPC_TRIAGE_TRANSPORT,
				pct >= 10.0 ? DPC_TRIAGE_ERROR : DPC_TRIAGE_WARNING,
				"tcp_retransmissions", e->retrans, &e->ev_retrans,
				"%llu of %llu data segments between %s and %s:%u%s were "
				"retransmitted (%.1f%%, %llu duplicate ACKs): packets are lost "
				"on the path; check interface errors and queue drops between "
				"them.", (unsigned long long)e->retrans,
				(unsigned long long)e->data_pkts, A(&k->client, a),
				A(&k->server, b), k->port, v, pct,
				(unsigned long long)e->dupacks);
			set_overlay(f, k->vni, u0, u1);
		}
		if (e->zerowin) {
			const struct ipa *rcv = e->zw_side_server ? &k->server : &k->client;
			char srv[64];

			f = add(t, DPC_TRIAGE_TRANSPORT, DPC_TRIAGE_WARNING, "tcp_zero_window",
				e->zerowin, &e->ev_zw,
				"%s advertised a zero receive window %llu times on connections "
				"%s -> %s:%u%s: the application on %s does not read its data fast "
				"enough (a slow consumer, not the network).", A(rcv, a),
				(unsigned long long)e->zerowin, A(&k->client, b),
				A(&k->server, srv), k->port, v, A(rcv, a));
			set_overlay(f, k->vni, u0, u1);
		}
	}
	for (uint32_t i = 0; i < t->udpnr.n; i++) {
		struct udpnr_e *e = tab_at(&t->udpnr, i);
		const char *svc = udp_service(e->k.port);
		struct dpc_triage_finding *f;

		if (svc == NULL)
			continue;
		vni_note(e->k.vni, v, sizeof(v));
		f = add(t, DPC_TRIAGE_TRANSPORT, DPC_TRIAGE_WARNING, "udp_no_reply",
			e->flows, &e->ev,
			"%llu UDP flows (%llu datagrams) from %s%s to %s port %u (%s)%s got "
			"no reply: the service is down or a firewall drops the requests; "
			"check it on %s.", (unsigned long long)e->flows,
			(unsigned long long)e->pkts, A(&e->client, a),
			e->flows > 1 ? " and others" : "", A(&e->k.server, b), e->k.port, svc,
			v, A(&e->k.server, b));
		set_overlay(f, e->k.vni, NULL, NULL);
	}
}

static void dns_names(struct dpc_triage *t, unsigned rcode, char *out, size_t len)
{
	struct dnsn_e *best[3] = {0};
	size_t o = 0;

	out[0] = 0;
	for (uint32_t i = 0; i < t->dnsn.n; i++) {
		struct dnsn_e *e = tab_at(&t->dnsn, i);

		if (e->k.rcode != rcode)
			continue;
		for (unsigned j = 0; j < 3; j++) {
			if (best[j] == NULL || e->count > best[j]->count) {
				for (unsigned m = 2; m > j; m--)
					best[m] = best[m - 1];
				best[j] = e;
				break;
			}
		}
	}
	for (unsigned j = 0; j < 3 && best[j]; j++)
		o += (size_t)snprintf(out + o, len > o ? len - o : 0, "%s%s (%llu)",
				      j ? ", " : "", best[j]->k.name,
				      (unsigned long long)best[j]->count);
}

static void app_findings(struct dpc_triage *t)
{
	char a[64], b[64], names[300];

	for (uint32_t i = 0; i < t->dnss.n; i++) {
		struct dnss_e *e = tab_at(&t->dnss, i);
		uint64_t nx = e->rcode[3];
		struct dpc_triage_finding *f;

		if (nx >= 5 && nx * 5 >= e->responses) {
			bool storm = nx >= 20 && nx * 2 >= e->responses;

			dns_names(t, 3, names, sizeof(names));
			f = add(t, DPC_TRIAGE_APPLICATION,
				storm ? DPC_TRIAGE_ERROR : DPC_TRIAGE_WARNING, "dns_nxdomain", nx,
				&e->ev_nx,
				"DNS server %s answered %llu of %llu queries NXDOMAIN%s (names: "
				"%s): a client asks for names that do not exist; fix the name "
				"it is configured with or its resolver search domains.",
				A(&e->k.server, a), (unsigned long long)nx,
				(unsigned long long)e->responses, storm ? " - an NXDOMAIN storm" : "",
				names);
			set_overlay(f, e->k.vni, NULL, NULL);
		}
		if (e->rcode[2]) {
			dns_names(t, 2, names, sizeof(names));
			f = add(t, DPC_TRIAGE_APPLICATION, DPC_TRIAGE_ERROR, "dns_servfail",
				e->rcode[2], &e->ev_fail,
				"DNS server %s answered %llu queries SERVFAIL (names: %s): it "
				"cannot resolve them (upstream or DNSSEC trouble); check its "
				"forwarders and logs.", A(&e->k.server, a),
				(unsigned long long)e->rcode[2], names);
			set_overlay(f, e->k.vni, NULL, NULL);
		}
		if (e->rcode[5]) {
			f = add(t, DPC_TRIAGE_APPLICATION, DPC_TRIAGE_ERROR, "dns_refused",
				e->rcode[5], &e->ev_ref,
				"DNS server %s refused %llu queries: the client may not use it "
				"(ACL, recursion disabled); point the client at the right "
				"resolver.", A(&e->k.server, a), (unsigned long long)e->rcode[5]);
			set_overlay(f, e->k.vni, NULL, NULL);
		}
		if (e->unanswered >= 2) {
			f = add(t, DPC_TRIAGE_APPLICATION, DPC_TRIAGE_ERROR, "dns_unanswered",
				e->unanswered, &e->ev_unans,
				"%llu DNS queries to %s got no answer (%llu retries seen): the "
				"server is down or unreachable on UDP port 53; check it and the "
				"firewalls towards it.", (unsigned long long)e->unanswered,
				A(&e->k.server, a), (unsigned long long)e->retries);
			set_overlay(f, e->k.vni, NULL, NULL);
		}
	}
	for (uint32_t i = 0; i < t->https.n; i++) {
		struct https_e *e = tab_at(&t->https, i);

		if (e->k.code < 500 || e->k.code > 599)
			continue;
		add(t, DPC_TRIAGE_APPLICATION, DPC_TRIAGE_ERROR, "http_5xx", e->count,
		    &e->ev,
		    "%s:%u answered %llu HTTP requests with status %u: the server "
		    "application (or the proxy in front of it) fails; check its logs.",
		    A(&e->k.server, a), e->k.port, (unsigned long long)e->count, e->k.code);
	}
	for (uint32_t i = 0; i < t->alerts.n; i++) {
		struct alert_e *e = tab_at(&t->alerts, i);
		const char *advice;
		char sni[140] = "";
		unsigned d = e->k.desc;

		if (e->k.level != 2)
			continue;
		for (uint32_t j = 0; j < t->snis.n; j++) {
			struct sni_e *s = tab_at(&t->snis, j);

			if (s->k.port == e->k.port &&
			    (memcmp(&s->k.server, &e->k.from, sizeof(s->k.server)) == 0 ||
			     memcmp(&s->k.server, &e->k.to, sizeof(s->k.server)) == 0)) {
				snprintf(sni, sizeof(sni), " (SNI %s)", s->k.name);
				break;
			}
		}
		if (d == 42 || d == 43 || d == 44 || d == 45 || d == 46 || d == 48)
			advice = "check the certificate chain, its expiry and the CAs the peer trusts";
		else if (d == 40 || d == 70 || d == 71)
			advice = "client and server share no protocol version or cipher suite; align their TLS settings";
		else if (d == 112)
			advice = "the server has no certificate for that name";
		else
			advice = "read the TLS logs of both ends";
		add(t, DPC_TRIAGE_APPLICATION, DPC_TRIAGE_ERROR, "tls_alert", e->count,
		    &e->ev,
		    "%s sent %llu fatal TLS alert%s %s(%u) to %s on port %u%s: the TLS "
		    "handshake fails; %s.", A(&e->k.from, a), (unsigned long long)e->count,
		    e->count > 1 ? "s" : "", tls_alert_name(d), d, A(&e->k.to, b),
		    e->k.port, sni, advice);
	}
}

static int cmp_finding(const void *x, const void *y)
{
	const struct dpc_triage_finding *a = x, *b = y;

	if (a->severity != b->severity)
		return a->severity > b->severity ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->layer != b->layer)
		return a->layer < b->layer ? -1 : 1;
	return strcmp(a->text, b->text);
}

/* Keep the PER_CODE most serious findings of each code; fold the rest into
 * one summary finding per code so a capture with thousands of endpoints
 * still gives a verdict a person can read. */
#define PER_CODE 10
#define MAX_CODES 64

static void fold(struct dpc_triage *t)
{
	struct { char code[32]; uint32_t kept; uint64_t more, events; uint8_t layer, sev; }
		c[MAX_CODES];
	unsigned nc = 0;
	size_t o = 0;

	for (size_t i = 0; i < t->n_findings; i++) {
		struct dpc_triage_finding *f = &t->findings[i];
		unsigned j;

		for (j = 0; j < nc; j++)
			if (strcmp(c[j].code, f->code) == 0)
				break;
		if (j == nc && nc < MAX_CODES) {
			memcpy(c[nc].code, f->code, sizeof(c[nc].code));
			c[nc].kept = 0;
			c[nc].more = c[nc].events = 0;
			c[nc].layer = f->layer;
			c[nc].sev = f->severity;
			nc++;
		}
		if (j < nc && c[j].kept >= PER_CODE) {
			c[j].more++;
			c[j].events += f->count;
			continue;
		}
		if (j < nc)
			c[j].kept++;
		if (o != i)
			t->findings[o] = *f;
		o++;
	}
	t->n_findings = o;
	for (unsigned j = 0; j < nc; j++) {
		if (c[j].more == 0)
			continue;
		add(t, c[j].layer, c[j].sev, c[j].code, c[j].events, NULL,
		    "... and %llu more %s findings like the ones above (%llu events in "
		    "all): see the tables.", (unsigned long long)c[j].more, c[j].code,
		    (unsigned long long)c[j].events);
	}
}

void verdict_build(struct dpc_triage *t)
{
	t->n_findings = 0;
	capture_findings(t);
	link_findings(t);
	internet_findings(t);
	transport_findings(t);
	app_findings(t);
	if (t->n_findings > 1)
		qsort(t->findings, t->n_findings, sizeof(*t->findings), cmp_finding);
	fold(t);   /* summaries go last */
	if (t->findings_dropped)
		add(t, DPC_TRIAGE_CAPTURE, DPC_TRIAGE_WARNING, "findings_overflow",
		    t->findings_dropped, NULL,
		    "%llu further findings were not kept (verdict limit): see the tables.",
		    (unsigned long long)t->findings_dropped);
}
