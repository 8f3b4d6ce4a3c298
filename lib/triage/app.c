/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * app.c - the application layer: DNS over UDP port 53 (queries matched to
 * responses, rcodes, unanswered queries, latency), plaintext HTTP request
 * lines and status codes, TLS ClientHello SNI and unencrypted alerts.
 * Only the first segment's bytes are looked at; nothing is reassembled.
 */
#include <ctype.h>
#include <string.h>

#include "triage_internal.h"

static struct dnss_e *dns_server(struct dpc_triage *t, const struct ipa *srv,
				 uint32_t vni)
{
	struct dnss_k k;

	memset(&k, 0, sizeof(k));
	k.server = *srv;
	k.vni = vni;
	return tab_get(&t->dnss, &k);
}

/* First question name, dotted and lower case; "" when it does not parse. */
static void dns_qname(const uint8_t *p, uint32_t len, char *out, size_t outlen)
{
	uint32_t off = 12, o = 0;
	unsigned hops = 0;

	out[0] = 0;
	if (len < 12 || (p[4] == 0 && p[5] == 0))
		return;
	while (off < len && hops < 64) {
		uint8_t l = p[off];

		if (l == 0)
			break;
		if ((l & 0xc0) == 0xc0) {
			if (off + 1 >= len)
				break;
			off = (uint32_t)(l & 0x3f) << 8 | p[off + 1];
			hops++;
			continue;
		}
		if (l > 63 || off + 1 + l > len)
			break;
		for (uint32_t i = 0; i < l && o + 2 < outlen; i++) {
			uint8_t c = p[off + 1 + i];

			out[o++] = (char)(isgraph(c) && c != '"' && c != '\\' && c != '<' &&
					  c != '>' && c != '&' ? tolower(c) : '?');
		}
		if (o + 1 < outlen)
			out[o++] = '.';
		off += 1u + l;
		hops++;
	}
	if (o > 0 && out[o - 1] == '.')
		o--;
	out[o < outlen ? o : outlen - 1] = 0;
	if (o == 0 && outlen > 1) {
		out[0] = '.';
		out[1] = 0;
	}
}

static uint32_t dnsq_slot(const struct ipa *c, const struct ipa *s,
			  uint16_t cport, uint16_t id, uint32_t vni)
{
	struct { struct ipa c, s; uint32_t vni; uint16_t p, id; } k;

	memset(&k, 0, sizeof(k));
	k.c = *c;
	k.s = *s;
	k.vni = vni;
	k.p = cport;
	k.id = id;
	return (uint32_t)(hash_bytes(&k, sizeof(k), 5) % DNSQ_N);
}

static void dnsq_close(struct dpc_triage *t, struct dnsq *q, bool at_end)
{
	struct dnss_e *e = dns_server(t, &q->server, q->vni);

	q->live = 0;
	if (e == NULL)
		return;
	if (at_end && t->last_ts - q->ts < NS) {
		e->pending++;
		return;
	}
	e->unanswered++;
	ev_add(&e->ev_unans, q->pkt);
	tl_add(t, q->ts, 1 + DPC_TRIAGE_APPLICATION, 1);
}

static void dns(struct dpc_triage *t, uint64_t ts, const struct dpc_hdrs *h,
		uint32_t vni, const uint8_t *p, uint32_t len)
{
	struct ipa src, dst;
	uint16_t id, flags;
	struct dnsq *q;
	struct dnss_e *e;
	uint32_t slot;

	if (len < 12)
		return;
	ipa_from(&src, h->l3.family, &h->l3.src);
	ipa_from(&dst, h->l3.family, &h->l3.dst);
	id = (uint16_t)(p[0] << 8 | p[1]);
	flags = (uint16_t)(p[2] << 8 | p[3]);
	if (!(flags & 0x8000)) {
		/* query */
		if (h->l4.dport != 53)
			return;
		e = dns_server(t, &dst, vni);
		if (e == NULL)
			return;
		e->queries++;
		slot = dnsq_slot(&src, &dst, h->l4.sport, id, vni);
		q = &t->dnsq[slot];
		if (q->live && q->id == id && q->cport == h->l4.sport &&
		    memcmp(&q->client, &src, sizeof(src)) == 0 &&
		    memcmp(&q->server, &dst, sizeof(dst)) == 0 && q->vni == vni) {
			e->retries++;
			q->ts = ts;
			return;
		}
		if (q->live) {
			if (ts - q->ts > 5 * NS) {
				dnsq_close(t, q, false);
			} else {
				t->dns_untracked++;
				return;
			}
		}
		q->live = 1;
		q->ts = ts;
		q->pkt = t->pkt_no;
		q->client = src;
		q->server = dst;
		q->cport = h->l4.sport;
		q->id = id;
		q->vni = vni;
		return;
	}
	/* response */
	if (h->l4.sport != 53)
		return;
	e = dns_server(t, &src, vni);
	if (e == NULL)
		return;
	e->responses++;
	e->rcode[flags & 15]++;
	slot = dnsq_slot(&dst, &src, h->l4.dport, id, vni);
	q = &t->dnsq[slot];
	if (q->live && q->id == id && q->cport == h->l4.dport &&
	    memcmp(&q->client, &dst, sizeof(dst)) == 0 &&
	    memcmp(&q->server, &src, sizeof(src)) == 0 && q->vni == vni) {
		q->live = 0;
		res_add(t, &e->lat, (uint32_t)((ts - q->ts) / 1000));
	} else {
		t->dns_unmatched++;
	}
	switch (flags & 15) {
	case 2:
		ev_add(&e->ev_fail, t->pkt_no);
		break;
	case 3:
		ev_add(&e->ev_nx, t->pkt_no);
		break;
	case 5:
		ev_add(&e->ev_ref, t->pkt_no);
		break;
	default:
		return;
	}
	t->cur_layers |= 1u << DPC_TRIAGE_APPLICATION;
	{
		struct dnsn_k nk;
		struct dnsn_e *n;

		memset(&nk, 0, sizeof(nk));
		dns_qname(p, len, nk.name, sizeof(nk.name));
		nk.rcode = flags & 15;
		n = tab_get(&t->dnsn, &nk);
		if (n != NULL && n->count++ == 0)
			n->first_pkt = t->pkt_no;
	}
}

void app_udp(struct dpc_triage *t, uint64_t ts, const struct dpc_hdrs *h,
	     uint32_t vni, const uint8_t *p, uint32_t len)
{
	if (h->l4.sport == 53 || h->l4.dport == 53)
		dns(t, ts, h, vni, p, len);
}

void app_finish(struct dpc_triage *t)
{
	for (unsigned i = 0; i < DNSQ_N; i++)
		if (t->dnsq[i].live)
			dnsq_close(t, &t->dnsq[i], true);
}

/* ---- HTTP ---- */

static void copy_line(char *out, size_t outlen, const uint8_t *p, uint32_t len)
{
	size_t o = 0;

	for (uint32_t i = 0; i < len && o + 1 < outlen; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			break;
		out[o++] = (char)(isprint(p[i]) ? p[i] : '?');
	}
	out[o] = 0;
}

static bool http_request(const uint8_t *p, uint32_t len)
{
	static const char *const m[] = {
		"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ",
		"CONNECT ", "TRACE ",
	};
	for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		size_t n = strlen(m[i]);

		if (len >= n && memcmp(p, m[i], n) == 0)
			return true;
	}
	return false;
}

static void http(struct dpc_triage *t, const struct dpc_hdrs *h,
		 const uint8_t *p, uint32_t len)
{
	if (http_request(p, len)) {
		struct httpr_k k;
		struct httpr_e *e;

		t->http_requests++;
		memset(&k, 0, sizeof(k));
		copy_line(k.line, sizeof(k.line), p, len);
		e = tab_get(&t->httpr, &k);
		if (e != NULL && e->count++ == 0)
			e->first_pkt = t->pkt_no;
		return;
	}
	if (len >= 12 && memcmp(p, "HTTP/", 5) == 0 && p[8] == ' ' &&
	    isdigit(p[9]) && isdigit(p[10]) && isdigit(p[11])) {
		struct https_k k;
		struct https_e *e;

		t->http_responses++;
		memset(&k, 0, sizeof(k));
		ipa_from(&k.server, h->l3.family, &h->l3.src);
		k.port = h->l4.sport;
		k.code = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
		e = tab_get(&t->https, &k);
		if (e != NULL) {
			e->count++;
			ev_add(&e->ev, t->pkt_no);
		}
		if (k.code >= 500)
			t->cur_layers |= 1u << DPC_TRIAGE_APPLICATION;
	}
}

/* ---- TLS ---- */

static void tls_hello(struct dpc_triage *t, const struct dpc_hdrs *h,
		      const uint8_t *p, uint32_t len)
{
	uint32_t off = 5 + 4 + 2 + 32, n;
	struct sni_k k;
	struct sni_e *e;

	t->tls_hellos++;
	memset(&k, 0, sizeof(k));
	if (off + 1 > len)
		goto out;
	off += 1u + p[off];                            /* session id */
	if (off + 2 > len)
		goto out;
	off += 2u + ((uint32_t)p[off] << 8 | p[off + 1]); /* cipher suites */
	if (off + 1 > len)
		goto out;
	off += 1u + p[off];                            /* compression */
	if (off + 2 > len)
		goto out;
	n = (uint32_t)p[off] << 8 | p[off + 1];
	off += 2;
	if (off + n < len)
		len = off + n;
	while (off + 4 <= len) {
		uint32_t type = (uint32_t)p[off] << 8 | p[off + 1];
		uint32_t elen = (uint32_t)p[off + 2] << 8 | p[off + 3];

		off += 4;
		if (off + elen > len)
			break;
		if (type == 0 && elen >= 5 && p[off + 2] == 0) {
			uint32_t nl = (uint32_t)p[off + 3] << 8 | p[off + 4];

			if (nl > elen - 5)
				nl = elen - 5;
			copy_line(k.name, sizeof(k.name), p + off + 5, nl);
			break;
		}
		off += elen;
	}
out:
	if (k.name[0] == 0)
		strcpy(k.name, "(no SNI)");
	ipa_from(&k.server, h->l3.family, &h->l3.dst);
	k.port = h->l4.dport;
	e = tab_get(&t->snis, &k);
	if (e != NULL && e->count++ == 0)
		e->first_pkt = t->pkt_no;
}

static void tls(struct dpc_triage *t, const struct dpc_hdrs *h,
		const uint8_t *p, uint32_t len)
{
	uint32_t rlen;

	if (len < 5 || p[1] != 3 || p[2] > 4)
		return;
	rlen = (uint32_t)p[3] << 8 | p[4];
	if (p[0] == 0x16 && len >= 6 && p[5] == 1) {
		tls_hello(t, h, p, len);
	} else if (p[0] == 0x15) {
		struct alert_k k;
		struct alert_e *e;

		if (rlen != 2 || len < 7) {
			t->tls_enc_alerts++;
			return;
		}
		memset(&k, 0, sizeof(k));
		ipa_from(&k.from, h->l3.family, &h->l3.src);
		ipa_from(&k.to, h->l3.family, &h->l3.dst);
		k.port = h->l4.sport < h->l4.dport ? h->l4.sport : h->l4.dport;
		k.level = p[5];
		k.desc = p[6];
		e = tab_get(&t->alerts, &k);
		if (e != NULL) {
			e->count++;
			ev_add(&e->ev, t->pkt_no);
		}
		if (k.level == 2)
			t->cur_layers |= 1u << DPC_TRIAGE_APPLICATION;
	}
}

void app_tcp(struct dpc_triage *t, const struct dpc_hdrs *h,
	     const uint8_t *p, uint32_t len)
{
	if (len == 0)
		return;
	if (p[0] == 0x16 || p[0] == 0x15)
		tls(t, h, p, len);
	else
		http(t, h, p, len);
}
