/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gen_profiles.c - the traffic profiles of dpcap-gen (docs/cli.md).
 *
 * sample and malformed are scripts (every frame chosen on purpose; the seed
 * only varies ports, sequence numbers and payload bytes); small, imix and
 * overlay draw each frame independently from a seeded PRNG with the
 * host/port spread documented in docs/cli.md.
 */
#include "gen.h"

#include <arpa/inet.h>
#include <string.h>

struct ctx {
	struct gen_sink *s;
	struct gen_rng r;
	uint8_t buf[GEN_FRAME_MAX];
};

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
			 (uint32_t)(c) << 8 | (uint32_t)(d))

static void mac_of(uint8_t *mac, uint32_t tag)
{
	mac[0] = 0x02;
	mac[1] = 0x00;
	mac[2] = (uint8_t)(tag >> 24);
	mac[3] = (uint8_t)(tag >> 16);
	mac[4] = (uint8_t)(tag >> 8);
	mac[5] = (uint8_t)tag;
}

static void hosts4(struct gen_hdrs *h, uint32_t s, uint32_t d)
{
	h->ipv = 4;
	h->s4 = s;
	h->d4 = d;
	mac_of(h->smac, s);
	mac_of(h->dmac, d);
}

static void hosts6(struct gen_hdrs *h, const char *s, const char *d)
{
	h->ipv = 6;
	inet_pton(AF_INET6, s, h->s6);
	inet_pton(AF_INET6, d, h->d6);
	mac_of(h->smac, (uint32_t)h->s6[12] << 24 | (uint32_t)h->s6[13] << 16 |
	       (uint32_t)h->s6[14] << 8 | h->s6[15]);
	mac_of(h->dmac, (uint32_t)h->d6[12] << 24 | (uint32_t)h->d6[13] << 16 |
	       (uint32_t)h->d6[14] << 8 | h->d6[15]);
}

static void vlans(struct gen_hdrs *h, unsigned n, const uint16_t *ids)
{
	unsigned i;

	h->n_vlan = n;
	for (i = 0; i < n; i++) {
		h->tpid[i] = (n > 1 && i + 1 < n) ? GEN_ET_QINQ : GEN_ET_VLAN;
		h->tci[i] = ids[i];
	}
}

/* Swap the direction of one level: MACs, addresses, ports. */
static void flip(struct gen_hdrs *h, bool ports)
{
	uint8_t m[6], a6[16];
	uint32_t a;
	uint16_t p;

	memcpy(m, h->smac, 6);
	memcpy(h->smac, h->dmac, 6);
	memcpy(h->dmac, m, 6);
	a = h->s4;
	h->s4 = h->d4;
	h->d4 = a;
	memcpy(a6, h->s6, 16);
	memcpy(h->s6, h->d6, 16);
	memcpy(h->d6, a6, 16);
	if (ports) {
		p = h->sport;
		h->sport = h->dport;
		h->dport = p;
	}
}

static void emit(struct ctx *c, const struct gen_hdrs *h)
{
	size_t len = gen_build(h, c->buf, true);

	gen_sink_put(c->s, c->buf, (uint32_t)len, (uint32_t)len);
	gen_sink_tick(c->s, 20000 + gen_below(&c->r, 80000));
}

static void emit_frag_cb(void *arg, const uint8_t *frame, size_t len)
{
	struct ctx *c = arg;

	gen_sink_put(c->s, frame, (uint32_t)len, (uint32_t)len);
	gen_sink_tick(c->s, 5000 + gen_below(&c->r, 5000));
}

static uint16_t ephemeral(struct ctx *c)
{
	return (uint16_t)(32768 + gen_below(&c->r, 28232));
}

/*
 * A TCP session. o is the frame as sent by the client; when in is set, o
 * is the VXLAN underlay (o->inner == in) and the session lives in in.
 */
static void tcp_session(struct ctx *c, struct gen_hdrs *o, struct gen_hdrs *in,
			unsigned exchanges, uint16_t req, uint16_t resp, bool rst)
{
	struct gen_hdrs *l = in ? in : o;
	uint32_t cs = (uint32_t)gen_rand(&c->r), ss = (uint32_t)gen_rand(&c->r);
	unsigned i;

#define TO_SERVER() do { } while (0)
#define TO_CLIENT() do { flip(l, true); if (in) flip(o, false); } while (0)
#define BACK() TO_CLIENT()
	l->proto = GEN_P_TCP;
	l->fill = (uint8_t)gen_rand(&c->r);
	l->tcp_flags = GEN_TH_SYN; l->seq = cs; l->ack = 0; l->payload = 0;
	emit(c, o);
	cs++;
	TO_CLIENT();
	l->tcp_flags = GEN_TH_SYN | GEN_TH_ACK; l->seq = ss; l->ack = cs;
	emit(c, o);
	ss++;
	BACK();
	if (rst) {
		l->tcp_flags = GEN_TH_RST | GEN_TH_ACK; l->seq = cs; l->ack = ss;
		emit(c, o);
		return;
	}
	l->tcp_flags = GEN_TH_ACK; l->seq = cs; l->ack = ss;
	emit(c, o);
	for (i = 0; i < exchanges; i++) {
		l->tcp_flags = GEN_TH_PSH | GEN_TH_ACK; l->seq = cs; l->ack = ss;
		l->payload = req;
		emit(c, o);
		cs += req;
		TO_CLIENT();
		l->seq = ss; l->ack = cs; l->payload = resp;
		emit(c, o);
		ss += resp;
		BACK();
		l->tcp_flags = GEN_TH_ACK; l->seq = cs; l->ack = ss; l->payload = 0;
		emit(c, o);
	}
	l->tcp_flags = GEN_TH_FIN | GEN_TH_ACK; l->seq = cs; l->ack = ss;
	emit(c, o);
	cs++;
	TO_CLIENT();
	l->seq = ss; l->ack = cs;
	emit(c, o);
	ss++;
	BACK();
	l->tcp_flags = GEN_TH_ACK; l->seq = cs; l->ack = ss;
	emit(c, o);
#undef TO_SERVER
#undef TO_CLIENT
#undef BACK
}

/* A request and its reply (UDP or ICMP echo) at level l of o. */
static void ping_pong(struct ctx *c, struct gen_hdrs *o, struct gen_hdrs *in,
		      uint16_t req, uint16_t resp)
{
	struct gen_hdrs *l = in ? in : o;

	l->fill = (uint8_t)gen_rand(&c->r);
	l->payload = req;
	if (l->proto == GEN_P_ICMP)
		l->icmp_type = 8;
	else if (l->proto == GEN_P_ICMPV6)
		l->icmp_type = 128;
	l->icmp_id = (uint16_t)gen_rand(&c->r);
	l->icmp_seq = 1;
	emit(c, o);
	flip(l, true);
	if (in)
		flip(o, false);
	l->payload = resp;
	if (l->proto == GEN_P_ICMP)
		l->icmp_type = 0;
	else if (l->proto == GEN_P_ICMPV6)
		l->icmp_type = 129;
	emit(c, o);
	flip(l, true);
	if (in)
		flip(o, false);
}

static void arp_pair(struct ctx *c, const uint16_t *vl, unsigned nv,
		     uint32_t who, uint32_t tell)
{
	struct gen_hdrs h = { 0 };

	h.ethertype = GEN_ET_ARP;
	vlans(&h, nv, vl);
	hosts4(&h, tell, who);
	memset(h.dmac, 0xff, 6);
	h.arp_op = 1;
	emit(c, &h);
	hosts4(&h, who, tell);
	h.arp_op = 2;
	emit(c, &h);
}

/* The same family of conversations on a given VLAN stack. */
static void sample_l2(struct ctx *c, const uint16_t *vl, unsigned nv,
		      uint8_t net)
{
	struct gen_hdrs h;

	arp_pair(c, vl, nv, IP4(10, 0, net, 1), IP4(10, 0, net, 2));

	memset(&h, 0, sizeof(h));
	vlans(&h, nv, vl);
	hosts4(&h, IP4(10, 0, net, 2), IP4(10, 0, net, 80));
	h.sport = ephemeral(c);
	h.dport = 80;
	h.df = true;
	tcp_session(c, &h, NULL, 2, 310, 1400, false);

	memset(&h, 0, sizeof(h));
	vlans(&h, nv, vl);
	hosts4(&h, IP4(10, 0, net, 3), IP4(10, 0, net, 25));
	h.sport = ephemeral(c);
	h.dport = 22;
	tcp_session(c, &h, NULL, 0, 0, 0, true);

	memset(&h, 0, sizeof(h));
	vlans(&h, nv, vl);
	hosts4(&h, IP4(10, 0, net, 2), IP4(10, 0, net, 53));
	h.proto = GEN_P_UDP;
	h.sport = ephemeral(c);
	h.dport = 53;
	ping_pong(c, &h, NULL, 40, 120);

	memset(&h, 0, sizeof(h));
	vlans(&h, nv, vl);
	hosts4(&h, IP4(10, 0, net, 2), IP4(10, 0, net, 1));
	h.proto = GEN_P_ICMP;
	ping_pong(c, &h, NULL, 56, 56);

	memset(&h, 0, sizeof(h));
	vlans(&h, nv, vl);
	hosts6(&h, "2001:db8:0:1::2", "2001:db8:0:1::443");
	h.s6[5] = h.d6[5] = net;
	h.sport = ephemeral(c);
	h.dport = 443;
	tcp_session(c, &h, NULL, 1, 517, 2900, false);

	memset(&h, 0, sizeof(h));
	vlans(&h, nv, vl);
	hosts6(&h, "2001:db8:0:1::2", "2001:db8:0:1::1");
	h.s6[5] = h.d6[5] = net;
	h.proto = GEN_P_ICMPV6;
	ping_pong(c, &h, NULL, 56, 56);
	/* neighbour solicitation / advertisement */
	h.icmp_type = 135;
	h.payload = 16;
	h.ttl = 255;
	emit(c, &h);
	flip(&h, true);
	h.icmp_type = 136;
	emit(c, &h);

	memset(&h, 0, sizeof(h));
	vlans(&h, nv, vl);
	hosts6(&h, "2001:db8:0:1::2", "2001:db8:0:1::53");
	h.s6[5] = h.d6[5] = net;
	h.proto = GEN_P_UDP;
	h.sport = ephemeral(c);
	h.dport = 53;
	ping_pong(c, &h, NULL, 45, 200);
}

static void frag_emit(struct ctx *c, const struct gen_hdrs *h, unsigned mtu)
{
	gen_build_fragments(h, mtu, emit_frag_cb, c);
	gen_sink_tick(c->s, 50000);
}

/* A VXLAN underlay from vtep a to vtep b on UDP port vport. */
static void underlay(struct ctx *c, struct gen_hdrs *o, uint32_t a, uint32_t b,
		     uint16_t vport, uint32_t vni, struct gen_hdrs *in)
{
	memset(o, 0, sizeof(*o));
	hosts4(o, a, b);
	o->proto = GEN_P_UDP;
	o->sport = (uint16_t)(49152 + gen_below(&c->r, 16384));
	o->dport = vport;
	o->vni = vni;
	o->inner = in;
	o->df = true;
}

static void profile_sample(struct gen_sink *s, uint64_t n, uint64_t seed)
{
	static const uint8_t ra[4] = { 0x94, 0x04, 0x00, 0x00 };
	static const uint8_t rr[40] = { 0x07, 39, 4 };   /* record route, 9 slots */
	static const uint8_t ts[12] = { 0x44, 12, 5, 0x00 }; /* timestamp */
	static const uint16_t v100[1] = { 100 }, qq[2] = { 200, 300 };
	static const uint16_t v10[1] = { 10 };
	struct ctx *c = &(struct ctx){ .s = s, .r = { seed } };
	struct gen_hdrs h, o, in;
	unsigned i, round;

	(void)n;
	for (round = 0; !gen_sink_full(s); round++) {
		/* Link layers: untagged, 802.1Q, QinQ. */
		sample_l2(c, NULL, 0, 0);
		sample_l2(c, v100, 1, 100);
		sample_l2(c, qq, 2, 200);

		/* IPv4 options. */
		memset(&h, 0, sizeof(h));
		hosts4(&h, IP4(10, 0, 0, 5), IP4(10, 0, 0, 6));
		h.proto = GEN_P_UDP;
		h.sport = 5000;
		h.dport = 5001;
		h.ip4_opts = ra;
		h.ip4_opts_len = sizeof(ra);
		h.payload = 20;
		emit(c, &h);
		h.proto = GEN_P_ICMP;
		h.icmp_type = 8;
		h.ip4_opts = rr;
		h.ip4_opts_len = sizeof(rr);
		emit(c, &h);
		h.proto = GEN_P_TCP;
		h.tcp_flags = GEN_TH_SYN;
		h.sport = ephemeral(c);
		h.dport = 8080;
		h.ip4_opts = ts;
		h.ip4_opts_len = sizeof(ts);
		h.payload = 0;
		emit(c, &h);

		/* IPv4 fragments: UDP 4000 B, ICMP 2000 B, tagged UDP. */
		memset(&h, 0, sizeof(h));
		hosts4(&h, IP4(10, 0, 0, 7), IP4(10, 0, 0, 9));
		h.proto = GEN_P_UDP;
		h.sport = ephemeral(c);
		h.dport = 5000;
		h.payload = 4000;
		h.ip_id = 0x4242;
		frag_emit(c, &h, 1500);
		h.proto = GEN_P_ICMP;
		h.icmp_type = 8;
		h.payload = 2000;
		h.ip_id = 0x4243;
		frag_emit(c, &h, 1500);
		vlans(&h, 1, v100);
		h.proto = GEN_P_UDP;
		h.payload = 1800;
		h.ip_id = 0x4244;
		frag_emit(c, &h, 576);

		/* IPv6 extension headers. */
		memset(&h, 0, sizeof(h));
		hosts6(&h, "2001:db8:6::1", "2001:db8:6::2");
		h.proto = GEN_P_UDP;
		h.sport = ephemeral(c);
		h.dport = 547;
		h.n_ext = 1;
		h.ext[0] = GEN_P_HOPOPT;
		h.payload = 60;
		emit(c, &h);
		h.proto = GEN_P_TCP;
		h.tcp_flags = GEN_TH_SYN;
		h.dport = 179;
		h.ext[0] = GEN_P_ROUTING;
		h.payload = 0;
		emit(c, &h);
		h.ext[0] = GEN_P_DSTOPTS;
		h.dport = 443;
		emit(c, &h);
		h.n_ext = 4;
		h.ext[0] = GEN_P_HOPOPT;
		h.ext[1] = GEN_P_DSTOPTS;
		h.ext[2] = GEN_P_ROUTING;
		h.ext[3] = GEN_P_FRAG;
		h.tcp_flags = GEN_TH_PSH | GEN_TH_ACK;
		h.payload = 100;
		emit(c, &h);
		h.n_ext = 1;
		h.ext[0] = GEN_P_HOPOPT;
		h.proto = GEN_P_ICMPV6;
		h.icmp_type = 143;          /* MLDv2 report */
		h.payload = 20;
		emit(c, &h);
		h.n_ext = 0;
		h.proto = GEN_P_UDP;
		h.dport = 4501;
		h.payload = 3000;
		h.ip_id = 7;
		frag_emit(c, &h, 1280);
		h.n_ext = 1;
		h.ext[0] = GEN_P_DSTOPTS;
		h.payload = 2000;
		h.ip_id = 8;
		frag_emit(c, &h, 1280);

		/* VXLAN 4789, VNI 5001: 10.0.1.5 -> 10.0.3.7:5432 via 192.0.2.10. */
		for (i = 0; i < 2; i++) {
			memset(&in, 0, sizeof(in));
			hosts4(&in, IP4(10, 0, 1, 5), IP4(10, 0, 3, 7));
			in.sport = ephemeral(c);
			in.dport = 5432;
			in.df = true;
			underlay(c, &o, IP4(192, 0, 2, 10), IP4(192, 0, 2, 20),
				 4789, 5001, &in);
			tcp_session(c, &o, &in, 3 + i, 120 + 40 * i, 600 + 800 * i,
				    false);
		}
		/* ... and the same tenant pair on a tagged underlay. */
		memset(&in, 0, sizeof(in));
		hosts4(&in, IP4(10, 0, 1, 5), IP4(10, 0, 3, 7));
		in.sport = ephemeral(c);
		in.dport = 5432;
		underlay(c, &o, IP4(192, 0, 2, 10), IP4(192, 0, 2, 20), 4789, 5001,
			 &in);
		vlans(&o, 1, v10);
		tcp_session(c, &o, &in, 1, 80, 300, false);
		/* other tenant traffic in VNI 5001: DNS, ping, a reset */
		memset(&in, 0, sizeof(in));
		hosts4(&in, IP4(10, 0, 1, 5), IP4(10, 0, 3, 53));
		in.proto = GEN_P_UDP;
		in.sport = ephemeral(c);
		in.dport = 53;
		underlay(c, &o, IP4(192, 0, 2, 10), IP4(192, 0, 2, 20), 4789, 5001,
			 &in);
		ping_pong(c, &o, &in, 35, 90);
		in.proto = GEN_P_ICMP;
		in.d4 = IP4(10, 0, 3, 7);
		ping_pong(c, &o, &in, 56, 56);
		memset(&in, 0, sizeof(in));
		hosts4(&in, IP4(10, 0, 1, 6), IP4(10, 0, 3, 7));
		in.sport = ephemeral(c);
		in.dport = 5433;
		underlay(c, &o, IP4(192, 0, 2, 11), IP4(192, 0, 2, 20), 4789, 5001,
			 &in);
		tcp_session(c, &o, &in, 0, 0, 0, true);

		/* VNI 5002: IPv6 TCP, UDP to port 5432, ARP, tagged inner. */
		memset(&in, 0, sizeof(in));
		hosts6(&in, "2001:db8:5002::1", "2001:db8:5002::2");
		in.sport = ephemeral(c);
		in.dport = 443;
		underlay(c, &o, IP4(192, 0, 2, 12), IP4(192, 0, 2, 21), 4789, 5002,
			 &in);
		tcp_session(c, &o, &in, 1, 300, 1200, false);
		memset(&in, 0, sizeof(in));
		hosts4(&in, IP4(10, 0, 1, 5), IP4(10, 0, 3, 7));
		in.proto = GEN_P_UDP;
		in.sport = ephemeral(c);
		in.dport = 5432;
		underlay(c, &o, IP4(192, 0, 2, 12), IP4(192, 0, 2, 21), 4789, 5002,
			 &in);
		ping_pong(c, &o, &in, 64, 64);
		memset(&in, 0, sizeof(in));
		in.ethertype = GEN_ET_ARP;
		hosts4(&in, IP4(10, 0, 3, 1), IP4(10, 0, 3, 9));
		memset(in.dmac, 0xff, 6);
		in.arp_op = 1;
		underlay(c, &o, IP4(192, 0, 2, 12), IP4(192, 0, 2, 21), 4789, 5002,
			 &in);
		emit(c, &o);
		memset(&in, 0, sizeof(in));
		vlans(&in, 1, v100);
		hosts4(&in, IP4(10, 0, 4, 1), IP4(10, 0, 4, 2));
		in.proto = GEN_P_UDP;
		in.sport = ephemeral(c);
		in.dport = 514;
		underlay(c, &o, IP4(192, 0, 2, 12), IP4(192, 0, 2, 21), 4789, 5002,
			 &in);
		ping_pong(c, &o, &in, 100, 0);

		/* VXLAN on 8472 (Linux default), VNI 5001 and 5002, and an
		 * IPv6 underlay on 4789. */
		memset(&in, 0, sizeof(in));
		hosts4(&in, IP4(10, 0, 1, 5), IP4(10, 0, 3, 7));
		in.sport = ephemeral(c);
		in.dport = 5432;
		underlay(c, &o, IP4(192, 0, 2, 30), IP4(192, 0, 2, 40), 8472, 5001,
			 &in);
		tcp_session(c, &o, &in, 1, 100, 500, false);
		memset(&in, 0, sizeof(in));
		hosts6(&in, "2001:db8:5002::1", "2001:db8:5002::3");
		in.proto = GEN_P_UDP;
		in.sport = ephemeral(c);
		in.dport = 123;
		underlay(c, &o, IP4(192, 0, 2, 30), IP4(192, 0, 2, 40), 8472, 5002,
			 &in);
		ping_pong(c, &o, &in, 48, 48);
		memset(&in, 0, sizeof(in));
		hosts4(&in, IP4(10, 0, 5, 1), IP4(10, 0, 5, 2));
		in.proto = GEN_P_UDP;
		in.sport = ephemeral(c);
		in.dport = 8125;
		underlay(c, &o, 0, 0, 4789, 5003, &in);
		hosts6(&o, "2001:db8:ffff::10", "2001:db8:ffff::20");
		ping_pong(c, &o, &in, 30, 0);

		/* Sizes: jumbo frames up to 9000, VXLAN jumbo, minimum frames. */
		memset(&h, 0, sizeof(h));
		hosts4(&h, IP4(10, 0, 0, 20), IP4(10, 0, 0, 21));
		h.proto = GEN_P_TCP;
		h.tcp_flags = GEN_TH_ACK | GEN_TH_PSH;
		h.sport = 2049;
		h.dport = ephemeral(c);
		h.df = true;
		h.frame_len = 9000;
		emit(c, &h);
		h.frame_len = 4096;
		emit(c, &h);
		h.frame_len = 1518;
		emit(c, &h);
		h.frame_len = 60;
		h.proto = GEN_P_UDP;
		emit(c, &h);
		memset(&in, 0, sizeof(in));
		hosts4(&in, IP4(10, 0, 1, 5), IP4(10, 0, 3, 7));
		in.tcp_flags = GEN_TH_ACK;
		in.proto = GEN_P_TCP;
		in.sport = 5432;
		in.dport = ephemeral(c);
		in.frame_len = 8950;
		underlay(c, &o, IP4(192, 0, 2, 20), IP4(192, 0, 2, 10), 4789, 5001,
			 &in);
		emit(c, &o);

		/* Varied hosts and ports: SYNs and UDP across 10.0.2/24 ->
		 * 10.0.4/24 (seeded). */
		for (i = 0; i < 40; i++) {
			static const uint16_t ports[] = { 22, 53, 80, 123, 443,
				3306, 5432, 6379, 8080, 9092 };

			memset(&h, 0, sizeof(h));
			hosts4(&h, IP4(10, 0, 2, 1 + gen_below(&c->r, 254)),
			       IP4(10, 0, 4, 1 + gen_below(&c->r, 20)));
			h.proto = (i % 4 == 3) ? GEN_P_UDP : GEN_P_TCP;
			h.tcp_flags = GEN_TH_SYN;
			h.sport = ephemeral(c);
			h.dport = ports[gen_below(&c->r, 10)];
			h.payload = h.proto == GEN_P_UDP ?
				(uint16_t)(8 + gen_below(&c->r, 900)) : 0;
			emit(c, &h);
		}
		if (s->limit == 0)
			break;
	}
	(void)round;
}

/* ---- malformed ----------------------------------------------------- */

static void put_cut(struct ctx *c, const uint8_t *f, size_t len, size_t cut,
		    unsigned k)
{
	if (cut == 0 || cut >= len)
		return;
	/* odd: cut by a snaplen (orig_len full); even: a runt on the wire */
	gen_sink_put(c->s, f, (uint32_t)cut, (uint32_t)((k & 1) ? len : cut));
	gen_sink_tick(c->s, 10000);
}

/* Cut f at the start, middle and last byte of every header. */
static void cuts(struct ctx *c, const uint8_t *f, size_t len,
		 const size_t *bounds, unsigned nb)
{
	unsigned i, k = 0;

	for (i = 0; i + 1 < nb; i++) {
		size_t a = bounds[i], b = bounds[i + 1];

		put_cut(c, f, len, a, k++);
		put_cut(c, f, len, a + (b - a) / 2, k++);
		put_cut(c, f, len, b - 1, k++);
	}
}

static void put_frame(struct ctx *c, const uint8_t *f, size_t len)
{
	gen_sink_put(c->s, f, (uint32_t)len, (uint32_t)len);
	gen_sink_tick(c->s, 10000);
}

static void profile_malformed(struct gen_sink *s, uint64_t n, uint64_t seed)
{
	static const uint16_t v100[1] = { 100 }, qq[2] = { 200, 300 };
	static const uint16_t many[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static const uint8_t ra[4] = { 0x94, 0x04, 0x00, 0x00 };
	struct ctx *c = &(struct ctx){ .s = s, .r = { seed } };
	static uint8_t f[GEN_FRAME_MAX];
	struct gen_hdrs h, o, in, in2, in3;
	size_t len, l2, l3, b[12];
	unsigned i;

	(void)n;
	for (;;) {
		/* 1. VLAN + IPv4 with options + TCP + payload, cut everywhere. */
		memset(&h, 0, sizeof(h));
		vlans(&h, 1, v100);
		hosts4(&h, IP4(10, 9, 0, 1), IP4(10, 9, 0, 2));
		h.ip4_opts = ra;
		h.ip4_opts_len = 4;
		h.proto = GEN_P_TCP;
		h.tcp_flags = GEN_TH_ACK | GEN_TH_PSH;
		h.sport = ephemeral(c);
		h.dport = 80;
		h.payload = 40;
		len = gen_build(&h, f, true);
		b[0] = 0; b[1] = 14; b[2] = 18; b[3] = 42; b[4] = 62; b[5] = len;
		cuts(c, f, len, b, 6);

		/* 2. IPv6 + hop-by-hop + dest-opts + UDP. */
		memset(&h, 0, sizeof(h));
		hosts6(&h, "2001:db8:9::1", "2001:db8:9::2");
		h.n_ext = 2;
		h.ext[0] = GEN_P_HOPOPT;
		h.ext[1] = GEN_P_DSTOPTS;
		h.proto = GEN_P_UDP;
		h.sport = ephemeral(c);
		h.dport = 53;
		h.payload = 30;
		len = gen_build(&h, f, true);
		b[0] = 0; b[1] = 14; b[2] = 54; b[3] = 62; b[4] = 70; b[5] = 78;
		b[6] = len;
		cuts(c, f, len, b, 7);

		/* 3. VXLAN (4789) carrying Ethernet/IPv4/TCP. */
		memset(&in, 0, sizeof(in));
		hosts4(&in, IP4(10, 0, 1, 5), IP4(10, 0, 3, 7));
		in.proto = GEN_P_TCP;
		in.tcp_flags = GEN_TH_SYN;
		in.sport = ephemeral(c);
		in.dport = 5432;
		in.payload = 10;
		underlay(c, &o, IP4(192, 0, 2, 10), IP4(192, 0, 2, 20), 4789, 5001,
			 &in);
		len = gen_build(&o, f, true);
		b[0] = 0; b[1] = 14; b[2] = 34; b[3] = 42; b[4] = 50; b[5] = 64;
		b[6] = 84; b[7] = 104; b[8] = len;
		cuts(c, f, len, b, 9);

		/* 4. QinQ + ARP; IPv4 ICMP; IPv6 ICMPv6. */
		memset(&h, 0, sizeof(h));
		h.ethertype = GEN_ET_ARP;
		vlans(&h, 2, qq);
		hosts4(&h, IP4(10, 9, 1, 1), IP4(10, 9, 1, 2));
		h.arp_op = 1;
		len = gen_build(&h, f, false);
		b[0] = 0; b[1] = 14; b[2] = 22; b[3] = 50;
		cuts(c, f, len, b, 4);
		memset(&h, 0, sizeof(h));
		hosts4(&h, IP4(10, 9, 2, 1), IP4(10, 9, 2, 2));
		h.proto = GEN_P_ICMP;
		h.icmp_type = 8;
		h.payload = 20;
		len = gen_build(&h, f, true);
		b[0] = 14; b[1] = 34; b[2] = 42; b[3] = len;
		cuts(c, f, len, b, 4);
		memset(&h, 0, sizeof(h));
		hosts6(&h, "2001:db8:9::1", "2001:db8:9::2");
		h.proto = GEN_P_ICMPV6;
		h.icmp_type = 128;
		h.payload = 20;
		len = gen_build(&h, f, true);
		b[0] = 14; b[1] = 54; b[2] = 62; b[3] = len;
		cuts(c, f, len, b, 4);

		/* 5. Runts: 1..13 bytes of an Ethernet header. */
		for (i = 1; i < 14; i++) {
			gen_sink_put(s, f, i, i);
			gen_sink_tick(s, 10000);
		}

		/* 6. Inconsistent IPv4 headers. */
		memset(&h, 0, sizeof(h));
		hosts4(&h, IP4(10, 9, 3, 1), IP4(10, 9, 3, 2));
		h.proto = GEN_P_UDP;
		h.sport = ephemeral(c);
		h.dport = 9999;
		h.payload = 26;
		l2 = 14;
		len = gen_build(&h, f, true);
		f[l2] = 0x43;                     /* IHL 3 */
		put_frame(c, f, len);
		f[l2] = 0x44;                     /* IHL 4 */
		put_frame(c, f, len);
		f[l2] = 0x4f;                     /* IHL 15, total length 54 */
		put_frame(c, f, len);
		f[l2] = 0x45;
		f[l2 + 2] = 0; f[l2 + 3] = 12;    /* total length < IHL */
		put_frame(c, f, len);
		f[l2 + 2] = 0x05; f[l2 + 3] = 0xdc;   /* total length 1500 */
		put_frame(c, f, len);
		f[l2 + 2] = 0; f[l2 + 3] = 54;
		f[l2] = 0x55;                     /* version 5 */
		put_frame(c, f, len);
		f[l2] = 0x65;                     /* version 6 under 0x0800 */
		put_frame(c, f, len);
		f[l2] = 0x45;
		f[l2 + 24] = 0; f[l2 + 25] = 4;   /* UDP length 4 */
		put_frame(c, f, len);
		f[l2 + 25] = 200;                 /* UDP length past the end */
		put_frame(c, f, len);
		f[l2 + 24] = 0x03; f[l2 + 25] = 0xe8; /* UDP length 1000 */
		put_frame(c, f, len);
		/* option with length 0, then one running past the IHL */
		memset(&h, 0, sizeof(h));
		hosts4(&h, IP4(10, 9, 3, 1), IP4(10, 9, 3, 2));
		h.ip4_opts = ra;
		h.ip4_opts_len = 4;
		h.proto = GEN_P_ICMP;
		h.icmp_type = 8;
		len = gen_build(&h, f, true);
		f[l2 + 21] = 0;
		put_frame(c, f, len);
		f[l2 + 21] = 40;
		put_frame(c, f, len);

		/* 7. Inconsistent TCP and IPv6. */
		memset(&h, 0, sizeof(h));
		hosts4(&h, IP4(10, 9, 4, 1), IP4(10, 9, 4, 2));
		h.proto = GEN_P_TCP;
		h.tcp_flags = GEN_TH_ACK;
		h.sport = ephemeral(c);
		h.dport = 443;
		h.payload = 8;
		len = gen_build(&h, f, true);
		f[l2 + 20 + 12] = 3 << 4;         /* data offset 3 */
		put_frame(c, f, len);
		f[l2 + 20 + 12] = 15 << 4;        /* data offset past the end */
		put_frame(c, f, len);
		memset(&h, 0, sizeof(h));
		hosts6(&h, "2001:db8:9::1", "2001:db8:9::2");
		h.n_ext = 1;
		h.ext[0] = GEN_P_HOPOPT;
		h.proto = GEN_P_UDP;
		h.sport = ephemeral(c);
		h.dport = 53;
		h.payload = 12;
		len = gen_build(&h, f, true);
		f[l2 + 4] = 0x0f;                 /* payload length past the end */
		put_frame(c, f, len);
		f[l2 + 4] = 0;
		f[l2 + 40 + 1] = 200;             /* ext header past the end */
		put_frame(c, f, len);
		f[l2 + 40 + 1] = 0;
		f[l2] = 0x40;                     /* version 4 under 0x86dd */
		put_frame(c, f, len);

		/* 8. Too many VLAN tags; ARP with a bad hardware length. */
		memset(&h, 0, sizeof(h));
		vlans(&h, 12, many);
		hosts4(&h, IP4(10, 9, 5, 1), IP4(10, 9, 5, 2));
		h.proto = GEN_P_UDP;
		h.sport = 1;
		h.dport = 2;
		h.payload = 4;
		len = gen_build(&h, f, true);
		put_frame(c, f, len);
		memset(&h, 0, sizeof(h));
		h.ethertype = GEN_ET_ARP;
		hosts4(&h, IP4(10, 9, 5, 1), IP4(10, 9, 5, 2));
		h.arp_op = 1;
		len = gen_build(&h, f, true);
		f[l2 + 4] = 7;
		put_frame(c, f, len);

		/* 9. VXLAN: I flag unset, reserved flags, truncated, nested. */
		memset(&in, 0, sizeof(in));
		hosts4(&in, IP4(10, 0, 1, 5), IP4(10, 0, 3, 7));
		in.proto = GEN_P_UDP;
		in.sport = ephemeral(c);
		in.dport = 5432;
		in.payload = 16;
		underlay(c, &o, IP4(192, 0, 2, 10), IP4(192, 0, 2, 20), 4789, 5001,
			 &in);
		o.vxlan_flags_set = true;
		o.vxlan_flags = 0x00;             /* I flag unset */
		len = gen_build(&o, f, true);
		put_frame(c, f, len);
		o.vxlan_flags = 0x88;             /* I + reserved bit */
		len = gen_build(&o, f, true);
		put_frame(c, f, len);
		o.vxlan_flags_set = false;
		len = gen_build(&o, f, true);
		l3 = 14 + 20;
		/* UDP length claims more than the IP packet holds */
		f[l3 + 4] = 0x04;
		f[l3 + 5] = 0x00;
		put_frame(c, f, len);
		/* nested: VXLAN in VXLAN (depth 2), and depth 3 on 8472 */
		memset(&in2, 0, sizeof(in2));
		hosts4(&in2, IP4(10, 0, 1, 5), IP4(10, 0, 3, 7));
		in2.proto = GEN_P_TCP;
		in2.tcp_flags = GEN_TH_SYN;
		in2.sport = ephemeral(c);
		in2.dport = 5432;
		underlay(c, &in, IP4(172, 16, 0, 1), IP4(172, 16, 0, 2), 4789,
			 6001, &in2);
		underlay(c, &o, IP4(192, 0, 2, 10), IP4(192, 0, 2, 20), 4789, 5001,
			 &in);
		len = gen_build(&o, f, true);
		put_frame(c, f, len);
		memcpy(&in3, &o, sizeof(in3));
		in3.dport = 8472;
		underlay(c, &o, IP4(192, 0, 2, 30), IP4(192, 0, 2, 40), 8472, 7001,
			 &in3);
		len = gen_build(&o, f, true);
		put_frame(c, f, len);
		/* nested and cut inside the second VXLAN header */
		put_cut(c, f, len, 50 + 14 + 20 + 8 + 4, 1);

		if (s->limit == 0 || gen_sink_full(s))
			break;
	}
}

/* ---- benchmark profiles -------------------------------------------- */

static const uint16_t server_ports[100] = {
	80, 443, 53, 5432, 3306, 6379, 8080, 9092, 11211, 22,
	9000, 9001, 9002, 9003, 9004, 9005, 9006, 9007, 9008, 9009,
	9010, 9011, 9012, 9013, 9014, 9015, 9016, 9017, 9018, 9019,
	9020, 9021, 9022, 9023, 9024, 9025, 9026, 9027, 9028, 9029,
	9030, 9031, 9032, 9033, 9034, 9035, 9036, 9037, 9038, 9039,
	9040, 9041, 9042, 9043, 9044, 9045, 9046, 9047, 9048, 9049,
	9050, 9051, 9052, 9053, 9054, 9055, 9056, 9057, 9058, 9059,
	9060, 9061, 9062, 9063, 9064, 9065, 9066, 9067, 9068, 9069,
	9070, 9071, 9072, 9073, 9074, 9075, 9076, 9077, 9078, 9079,
	9080, 9081, 9082, 9083, 9084, 9085, 9086, 9087, 9088, 9089,
};

/*
 * One tenant-style packet: a client 10.2.X.Y (65536 hosts) talking to one
 * of 100 servers 10.1.0.1..100 on one of 100 server ports, both uniform;
 * 80% TCP, 20% UDP; half the packets flow server -> client.
 */
static void bench_flow(struct gen_rng *r, struct gen_hdrs *h, uint32_t len)
{
	uint32_t cl = gen_below(r, 65536), sv = 1 + gen_below(r, 100);
	uint16_t cport = (uint16_t)(32768 + gen_below(r, 28232));
	uint16_t sport = server_ports[gen_below(r, 100)];
	bool tcp = gen_below(r, 10) < 8, back = gen_below(r, 2) != 0;

	memset(h, 0, sizeof(*h));
	hosts4(h, IP4(10, 2, cl >> 8, cl & 0xff), IP4(10, 1, 0, sv));
	h->sport = cport;
	h->dport = sport;
	h->proto = tcp ? GEN_P_TCP : GEN_P_UDP;
	h->tcp_flags = GEN_TH_ACK | GEN_TH_PSH;
	h->seq = (uint32_t)gen_rand(r);
	h->ack = (uint32_t)gen_rand(r);
	h->ip_id = (uint16_t)gen_rand(r);
	h->df = true;
	h->frame_len = len;
	h->fill = (uint8_t)cl;
	if (back)
		flip(h, true);
}

static uint32_t imix_size(struct gen_rng *r)
{
	uint32_t k = gen_below(r, 12);

	return k < 7 ? 64 : k < 11 ? 570 : 1518;
}

static void bench_run(struct gen_sink *s, uint64_t n, uint64_t seed,
		      int kind)
{
	struct ctx *c = &(struct ctx){ .s = s, .r = { seed } };
	struct gen_hdrs h, o;
	uint64_t i;
	size_t len;

	for (i = 0; i < n && !gen_sink_full(s); i++) {
		uint32_t size = kind == 0 ? 64 : imix_size(&c->r);

		if (kind == 2 && gen_below(&c->r, 10) < 3) {
			uint32_t vt = gen_below(&c->r, 16);

			bench_flow(&c->r, &h, size > 50 ? size - 50 : 0);
			underlay(c, &o, IP4(192, 0, 2, 1 + vt),
				 IP4(192, 0, 2, 101 + gen_below(&c->r, 16)),
				 4789, 5000 + gen_below(&c->r, 100), &h);
			len = gen_build(&o, c->buf, true);
		} else {
			bench_flow(&c->r, &h, size);
			len = gen_build(&h, c->buf, true);
		}
		gen_sink_put(s, c->buf, (uint32_t)len, (uint32_t)len);
		gen_sink_tick(s, 100 + gen_below(&c->r, 200));
	}
}

static void profile_small(struct gen_sink *s, uint64_t n, uint64_t seed)
{
	bench_run(s, n, seed, 0);
}

static void profile_imix(struct gen_sink *s, uint64_t n, uint64_t seed)
{
	bench_run(s, n, seed, 1);
}

static void profile_overlay(struct gen_sink *s, uint64_t n, uint64_t seed)
{
	bench_run(s, n, seed, 2);
}

const struct gen_profile gen_profiles[] = {
	{ "sample", "every protocol dpcap parses, VXLAN 4789/8472, "
	  "VNI 5001/5002, sizes 60..9000 (~330 frames)", 0, profile_sample },
	{ "malformed", "truncated at every header, bad lengths, VXLAN "
	  "without I flag, nested VXLAN, runts (~170 frames)", 0,
	  profile_malformed },
	{ "small", "64-byte TCP/UDP frames, benchmark host/port spread",
	  100000, profile_small },
	{ "imix", "7:4:1 of 64/570/1518-byte frames, benchmark spread",
	  100000, profile_imix },
	{ "overlay", "IMIX sizes, 30% VXLAN (inner TCP/UDP), benchmark spread",
	  100000, profile_overlay },
};
const unsigned gen_n_profiles = sizeof(gen_profiles) / sizeof(gen_profiles[0]);
