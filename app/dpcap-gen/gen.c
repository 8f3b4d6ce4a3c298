/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gen.c - dpcap-gen's frame builder, PRNG and pcap sink.
 */
#include "gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- byte helpers -------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- sizes --------------------------------------------------------- */

static size_t ext_len(uint8_t type)
{
	return type == GEN_P_ROUTING ? 24 : 8;
}

size_t gen_l2_len(const struct gen_hdrs *h)
{
	return 14 + 4 * (size_t)h->n_vlan;
}

size_t gen_l3_len(const struct gen_hdrs *h)
{
	size_t n = 0;
	unsigned i;

	if (h->ethertype == GEN_ET_ARP)
		return 28;
	if (h->ipv == 4)
		return 20 + h->ip4_opts_len;
	for (i = 0; i < h->n_ext; i++)
		n += ext_len(h->ext[i]);
	return 40 + n;
}

size_t gen_l4_hdr_len(const struct gen_hdrs *h)
{
	if (h->ethertype == GEN_ET_ARP)
		return 0;
	switch (h->proto) {
	case GEN_P_TCP:
		return 20;
	case GEN_P_UDP:
	case GEN_P_ICMP:
	case GEN_P_ICMPV6:
		return 8;
	default:
		return 0;
	}
}

/* ---- headers ------------------------------------------------------- */

static size_t put_l2(const struct gen_hdrs *h, uint8_t *p)
{
	uint16_t et = h->ethertype ? h->ethertype :
		(h->ipv == 6 ? GEN_ET_IPV6 : GEN_ET_IPV4);
	size_t o = 12;
	unsigned i;

	memcpy(p, h->dmac, 6);
	memcpy(p + 6, h->smac, 6);
	for (i = 0; i < h->n_vlan; i++) {
		put16(p + o, h->tpid[i] ? h->tpid[i] : GEN_ET_VLAN);
		put16(p + o + 2, h->tci[i]);
		o += 4;
	}
	put16(p + o, et);
	return o + 2;
}

static void addr6_pseudo(const struct gen_hdrs *h, uint32_t *sum,
			 uint32_t l4len, uint8_t proto)
{
	uint8_t b[8];

	*sum = csum_add(*sum, h->s6, 16);
	*sum = csum_add(*sum, h->d6, 16);
	put32(b, l4len);
	b[4] = b[5] = b[6] = 0;
	b[7] = proto;
	*sum = csum_add(*sum, b, 8);
}

static void addr4_pseudo(const struct gen_hdrs *h, uint32_t *sum,
			 uint32_t l4len, uint8_t proto)
{
	uint8_t b[12];

	put32(b, h->s4);
	put32(b + 4, h->d4);
	b[8] = 0;
	b[9] = proto;
	put16(b + 10, (uint16_t)l4len);
	*sum = csum_add(*sum, b, 12);
}

/*
 * Write the L4 segment (header + payload) at p; returns its length.
 * Payload length is pay (or, with inner, the VXLAN header + inner frame).
 */
static size_t put_l4(const struct gen_hdrs *h, uint8_t *p, size_t pay)
{
	size_t hl = gen_l4_hdr_len(h), len, i;
	uint8_t *d = p + hl;
	uint32_t sum = 0;
	uint16_t ck;

	if (h->inner != NULL) {
		d[0] = h->vxlan_flags_set ? h->vxlan_flags : 0x08;
		d[1] = d[2] = d[3] = 0;
		put32(d + 4, h->vni << 8);
		pay = 8 + gen_build(h->inner, d + 8, false);
	} else {
		for (i = 0; i < pay; i++)
			d[i] = (uint8_t)(h->fill + i * 7 + (i >> 8));
	}
	len = hl + pay;
	switch (h->proto) {
	case GEN_P_TCP:
		put16(p, h->sport);
		put16(p + 2, h->dport);
		put32(p + 4, h->seq);
		put32(p + 8, h->ack);
		p[12] = 5 << 4;
		p[13] = h->tcp_flags;
		put16(p + 14, 64240);
		put16(p + 16, 0);
		put16(p + 18, 0);
		break;
	case GEN_P_UDP:
		put16(p, h->sport);
		put16(p + 2, h->dport);
		put16(p + 4, (uint16_t)len);
		put16(p + 6, 0);
		break;
	case GEN_P_ICMP:
	case GEN_P_ICMPV6:
		p[0] = h->icmp_type;
		p[1] = h->icmp_code;
		put16(p + 2, 0);
		put16(p + 4, h->icmp_id);
		put16(p + 6, h->icmp_seq);
		break;
	default:
		return len;
	}
	if (h->proto == GEN_P_UDP && h->inner != NULL && h->ipv == 4)
		return len;             /* VXLAN over IPv4: checksum 0 */
	if (h->proto != GEN_P_ICMP) {
		if (h->ipv == 6)
			addr6_pseudo(h, &sum, (uint32_t)len, h->proto);
		else
			addr4_pseudo(h, &sum, (uint32_t)len, h->proto);
	}
	sum = csum_add(sum, p, len);
	ck = csum_fold(sum);
	if (h->proto == GEN_P_UDP && ck == 0)
		ck = 0xffff;
	put16(p + (h->proto == GEN_P_TCP ? 16 : h->proto == GEN_P_UDP ? 6 : 2),
	      ck);
	return len;
}

struct frag {
	bool on;
	uint32_t off;              /* bytes */
	bool mf;
	uint32_t id;
};

/* Write the L3 header for l4len bytes of payload; returns header length. */
static size_t put_l3(const struct gen_hdrs *h, uint8_t *p, size_t l4len,
		     const struct frag *fr)
{
	size_t hl, o;
	unsigned i, n;
	uint8_t nh;

	if (h->ethertype == GEN_ET_ARP) {
		put16(p, 1);
		put16(p + 2, GEN_ET_IPV4);
		p[4] = 6;
		p[5] = 4;
		put16(p + 6, h->arp_op);
		memcpy(p + 8, h->smac, 6);
		put32(p + 14, h->s4);
		if (h->arp_op == 2)
			memcpy(p + 18, h->dmac, 6);
		else
			memset(p + 18, 0, 6);
		put32(p + 24, h->d4);
		return 28;
	}
	if (h->ipv == 4) {
		uint16_t ff = 0;

		hl = 20 + h->ip4_opts_len;
		p[0] = (uint8_t)(0x40 | (hl / 4));
		p[1] = h->tos;
		put16(p + 2, (uint16_t)(hl + l4len));
		put16(p + 4, h->ip_id);
		if (h->df)
			ff |= 0x4000;
		if (fr != NULL && fr->on) {
			ff |= (uint16_t)(fr->off / 8);
			if (fr->mf)
				ff |= 0x2000;
		}
		put16(p + 6, ff);
		p[8] = h->ttl ? h->ttl : 64;
		p[9] = h->proto;
		put16(p + 10, 0);
		put32(p + 12, h->s4);
		put32(p + 16, h->d4);
		if (h->ip4_opts_len)
			memcpy(p + 20, h->ip4_opts, h->ip4_opts_len);
		put16(p + 10, csum_fold(csum_add(0, p, hl)));
		return hl;
	}
	/* IPv6 with extension headers, plus a fragment header when fr->on. */
	n = h->n_ext;
	o = 40;
	for (i = 0; i < n; i++) {
		uint8_t *e = p + o;
		uint8_t t = h->ext[i];

		nh = (i + 1 < n) ? h->ext[i + 1] :
			(fr != NULL && fr->on) ? GEN_P_FRAG : h->proto;
		memset(e, 0, ext_len(t));
		e[0] = nh;
		if (t == GEN_P_ROUTING) {
			e[1] = 2;       /* 24 bytes: type 0, one address */
			e[2] = 0;
			e[3] = 0;       /* segments left */
			memcpy(e + 8, h->d6, 16);
		} else if (t == GEN_P_FRAG) {
			/* atomic fragment: offset 0, M 0 */
			put32(e + 4, 0x5eed0000u | h->ip_id);
		} else {
			e[1] = 0;
			if (t == GEN_P_HOPOPT) {
				e[2] = 5;       /* router alert */
				e[3] = 2;
				e[4] = e[5] = 0;
				e[6] = 1;       /* PadN, 0 bytes */
				e[7] = 0;
			} else {
				e[2] = 1;       /* PadN, 4 bytes */
				e[3] = 4;
			}
		}
		o += ext_len(t);
	}
	if (fr != NULL && fr->on) {
		uint8_t *e = p + o;

		e[0] = h->proto;
		e[1] = 0;
		put16(e + 2, (uint16_t)((fr->off / 8) << 3 | (fr->mf ? 1 : 0)));
		put32(e + 4, fr->id);
		o += 8;
	}
	nh = n ? h->ext[0] : (fr != NULL && fr->on) ? GEN_P_FRAG : h->proto;
	put32(p, 0x60000000u | (uint32_t)h->tos << 20 | (h->ip_id & 0xfffff));
	put16(p + 4, (uint16_t)(o - 40 + l4len));
	p[6] = nh;
	p[7] = h->ttl ? h->ttl : 64;
	memcpy(p + 8, h->s6, 16);
	memcpy(p + 24, h->d6, 16);
	return o;
}

static size_t payload_len(const struct gen_hdrs *h)
{
	size_t hdr = gen_l2_len(h) + gen_l3_len(h) + gen_l4_hdr_len(h);

	if (h->frame_len)
		return h->frame_len > hdr ? h->frame_len - hdr : 0;
	return h->payload;
}

size_t gen_build(const struct gen_hdrs *h, uint8_t *out, bool pad)
{
	size_t l2 = gen_l2_len(h), l3 = gen_l3_len(h), l4 = 0, len;

	if (h->ethertype != GEN_ET_ARP)
		l4 = put_l4(h, out + l2 + l3, payload_len(h));
	put_l3(h, out + l2, l4, NULL);
	put_l2(h, out);
	len = l2 + l3 + l4;
	if (pad && len < 60) {
		memset(out + len, 0, 60 - len);
		len = 60;
	}
	return len;
}

void gen_build_fragments(const struct gen_hdrs *h, unsigned mtu,
			 gen_emit_fn emit, void *arg)
{
	static uint8_t seg[GEN_FRAME_MAX], out[GEN_FRAME_MAX];
	size_t l2 = gen_l2_len(h), l3 = gen_l3_len(h), seglen, chunk, off;
	struct frag fr = { .on = true, .id = 0x1000u + h->ip_id };

	seglen = put_l4(h, seg, payload_len(h));
	if (h->ipv == 6)
		l3 += 8;
	chunk = (mtu - l3) & ~(size_t)7;
	for (off = 0; off < seglen; off += chunk) {
		size_t c = seglen - off < chunk ? seglen - off : chunk, len;

		fr.off = (uint32_t)off;
		fr.mf = off + c < seglen;
		put_l2(h, out);
		put_l3(h, out + l2, c, &fr);
		memcpy(out + l2 + l3, seg + off, c);
		len = l2 + l3 + c;
		if (len < 60) {
			memset(out + len, 0, 60 - len);
			len = 60;
		}
		emit(arg, out, len);
	}
}

/* ---- PRNG ---------------------------------------------------------- */

uint64_t gen_rand(struct gen_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- pcap sink ----------------------------------------------------- */

static void sink_flush(struct gen_sink *s)
{
	if (s->used && s->err == 0 && fwrite(s->buf, 1, s->used, s->f) != s->used)
		s->err = errno ? errno : EIO;
	s->used = 0;
}

static void sink_raw(struct gen_sink *s, const void *p, size_t n)
{
	if (s->used + n > s->cap)
		sink_flush(s);
	memcpy(s->buf + s->used, p, n);
	s->used += n;
}

int gen_sink_open(struct gen_sink *s, const char *path, uint64_t limit)
{
	uint32_t hdr[6] = { 0xa1b23c4du, 0x00040002u, 0, 0, GEN_SNAPLEN, 1 };

	memset(s, 0, sizeof(*s));
	s->cap = 4u << 20;
	s->buf = malloc(s->cap);
	if (s->buf == NULL)
		return -ENOMEM;
	s->f = fopen(path, "wb");
	if (s->f == NULL) {
		int e = errno;

		free(s->buf);
		s->buf = NULL;
		return -e;
	}
	setvbuf(s->f, NULL, _IONBF, 0);
	s->limit = limit;
	/* 2026-01-01T00:00:00Z */
	s->ts_ns = 1767225600ull * 1000000000ull;
	sink_raw(s, hdr, sizeof(hdr));
	return 0;
}

void gen_sink_put(struct gen_sink *s, const uint8_t *frame, uint32_t caplen,
		  uint32_t orig_len)
{
	uint32_t rec[4];

	if (gen_sink_full(s))
		return;
	rec[0] = (uint32_t)(s->ts_ns / 1000000000u);
	rec[1] = (uint32_t)(s->ts_ns % 1000000000u);
	rec[2] = caplen;
	rec[3] = orig_len;
	sink_raw(s, rec, sizeof(rec));
	if (caplen > s->cap) {
		sink_flush(s);
		if (s->err == 0 && fwrite(frame, 1, caplen, s->f) != caplen)
			s->err = errno ? errno : EIO;
	} else {
		sink_raw(s, frame, caplen);
	}
	s->frames++;
	s->bytes += caplen;
}

int gen_sink_close(struct gen_sink *s)
{
	int err;

	sink_flush(s);
	if (s->f != NULL && fclose(s->f) != 0 && s->err == 0)
		s->err = errno ? errno : EIO;
	free(s->buf);
	err = s->err;
	memset(s, 0, sizeof(*s));
	return -err;
}
