/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_parse.c - golden frames for lib/parse.
 *
 * Every frame is built here byte by byte (frames.h) and every expectation is
 * the value written into the frame, so nothing is derived from the parser.
 * Each frame is parsed from an exact-size heap copy, so under ASan a read
 * one byte past caplen is a crash. Well-formed frames are also cut at every
 * byte: the parser must report TRUNCATED at exactly the layer the cut falls
 * in (frames.h records each header's span), and OK once all headers fit.
 *
 * With DPC_PARSE_CORPUS_OUT=DIR set, each golden frame is also written to
 * DIR (that is how tests/parse/corpus_parse/ got its golden-* seeds).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_test.h"
#include "frames.h"

static struct dpc_parse_opts defopts;

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
static const uint8_t inner_mac_c[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x0c };
static const uint8_t inner_mac_d[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x0d };

/* Parse from an exact-size heap copy so ASan sees any over-read. */
static int parse(const struct dpc_parse_opts *o, const uint8_t *b, uint32_t cap,
		 uint32_t wire, struct dpc_key *k)
{
	uint8_t *copy = malloc(cap ? cap : 1);
	int st;

	if (copy == NULL) {
		perror("malloc");
		exit(2);
	}
	memcpy(copy, b, cap);
	st = dpc_parse(o, cap ? copy : NULL, cap, wire, k);
	free(copy);
	return st;
}

static void save(const char *name, const uint8_t *b, uint32_t len)
{
	const char *dir = getenv("DPC_PARSE_CORPUS_OUT");
	char path[4096];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/golden-%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return;
	fwrite(b, 1, len, f);
	fclose(f);
}

static int v4eq(const struct dpc_addr *a, uint32_t host)
{
	return a->v4 == htonl(host);
}

/* Cut a well-formed frame at every byte (wirelen = full length). */
static void check_cuts(const char *name, const struct fb *f, const struct dpc_parse_opts *o)
{
	unsigned bad = 0;

	for (uint32_t c = 0; c < f->n; c++) {
		struct dpc_key k;
		int want = DPC_PARSE_OK, layer = DPC_LAYER_NONE, depth = 0;

		for (unsigned i = 0; i < f->nspan; i++) {
			if (c >= f->span[i].start && c < f->span[i].end) {
				want = DPC_PARSE_TRUNCATED;
				layer = f->span[i].layer;
				depth = f->span[i].depth;
				break;
			}
		}
		parse(o, f->b, c, f->n, &k);
		if (k.status != want || k.err_layer != layer || k.err_depth != depth ||
		    k.caplen != c || k.wirelen != f->n) {
			char d[64];

			if (bad++ < 3)
				printf("#   %s cut at %u: got %s depth %u, want %s at %s depth %d\n",
				       name, c, dpc_parse_describe(&k, d, sizeof(d)), k.err_depth,
				       dpc_parse_status_name(want), dpc_parse_layer_name(layer), depth);
		}
	}
	CHECK_EQ(bad, 0, "%s: cut at each of its %u bytes: truncated at the layer cut", name, f->n);
}

static void check_status(const struct dpc_key *k, int st, int layer, int depth, const char *what)
{
	char d[64];

	CHECK(k->status == st && k->err_layer == layer && k->err_depth == depth,
	      "%s: status %s (want %s at %s, depth %d)", what,
	      dpc_parse_describe(k, d, sizeof(d)), dpc_parse_status_name(st),
	      dpc_parse_layer_name(layer), depth);
}

/* ---- well-formed frames ------------------------------------------------ */

static void build_ipv4_tcp(struct fb *f, uint8_t optlen, uint32_t tcp_hlen)
{
	struct fb_ip4 ip = { .tos = 0x28, .ttl = 63, .proto = 6, .optlen = optlen,
			     .id = 0xbeef, .frag = 0x4000, .src = IP4(10, 0, 0, 1),
			     .dst = IP4(192, 168, 7, 9) };

	fb_init(f);
	fb_eth(f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(f, &ip);
	fb_tcp(f, 40000, 443, DPC_TCP_SYN | DPC_TCP_ACK, tcp_hlen);
	fb_payload(f, 100, 3);
	fb_finish(f);
}

static void test_ipv4_tcp(void)
{
	struct fb f;
	struct dpc_key k;
	int st;

	build_ipv4_tcp(&f, 0, 20);
	save("ipv4-tcp", f.b, f.n);
	st = parse(&defopts, f.b, f.n, f.n, &k);
	CHECK_EQ(st, DPC_PARSE_OK, "ipv4/tcp: returns ok");
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv4/tcp");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV4 | DPC_HAVE_L4 | DPC_HAVE_TCP,
		 "ipv4/tcp: have bits");
	CHECK(memcmp(k.outer.l2.dst, fb_mac_a, 6) == 0 && memcmp(k.outer.l2.src, fb_mac_b, 6) == 0,
	      "ipv4/tcp: MACs");
	CHECK_EQ(k.outer.l2.ethertype, 0x0800, "ipv4/tcp: ethertype");
	CHECK_EQ(k.outer.l2.n_vlan, 0, "ipv4/tcp: no tags");
	CHECK_EQ(k.outer.off.l2, 0, "ipv4/tcp: l2 offset");
	CHECK_EQ(k.outer.off.l3, 14, "ipv4/tcp: l3 offset");
	CHECK_EQ(k.outer.off.l4, 34, "ipv4/tcp: l4 offset");
	CHECK_EQ(k.outer.off.payload, 54, "ipv4/tcp: payload offset");
	CHECK_EQ(k.outer.l3.family, 4, "ipv4/tcp: family");
	CHECK(v4eq(&k.outer.l3.src, IP4(10, 0, 0, 1)) && v4eq(&k.outer.l3.dst, IP4(192, 168, 7, 9)),
	      "ipv4/tcp: addresses");
	CHECK_EQ(k.outer.l3.proto, 6, "ipv4/tcp: proto");
	CHECK_EQ(k.outer.l3.ttl, 63, "ipv4/tcp: ttl");
	CHECK_EQ(k.outer.l3.tos, 0x28, "ipv4/tcp: tos");
	CHECK_EQ(k.outer.l3.tot_len, 20 + 20 + 100, "ipv4/tcp: total length");
	CHECK_EQ(k.outer.l3.ip_id, 0xbeef, "ipv4/tcp: ip id");
	CHECK_EQ(k.outer.l3.frag, DPC_FRAG_DF, "ipv4/tcp: DF only");
	CHECK_EQ(k.outer.l3.frag_off, 0, "ipv4/tcp: fragment offset");
	CHECK_EQ(k.outer.l4.sport, 40000, "ipv4/tcp: sport");
	CHECK_EQ(k.outer.l4.dport, 443, "ipv4/tcp: dport");
	CHECK_EQ(k.outer.l4.tcp_flags, DPC_TCP_SYN | DPC_TCP_ACK, "ipv4/tcp: flags");
	CHECK_EQ(k.outer.l4.tcp_hlen, 20, "ipv4/tcp: header length");
	CHECK_EQ(k.outer.l4.seq, 0x01020304, "ipv4/tcp: seq");
	CHECK_EQ(k.outer.l4.ack, 0x0a0b0c0d, "ipv4/tcp: ack");
	CHECK_EQ(k.outer.l4.window, 0xfaf0, "ipv4/tcp: window");
	CHECK_EQ(k.flags, 0, "ipv4/tcp: no key flags");
	CHECK_EQ(k.tunnel_depth, 0, "ipv4/tcp: no tunnel");
	CHECK_EQ(k.inner.have, 0, "ipv4/tcp: inner empty");
	CHECK_EQ(k.inner.off.l2, DPC_OFF_NONE, "ipv4/tcp: inner l2 offset none");
	CHECK(dpc_key_inner(&k) == &k.outer, "ipv4/tcp: dpc_key_inner is the outer frame");
	CHECK_EQ(k.caplen, f.n, "ipv4/tcp: caplen");
	check_cuts("ipv4/tcp", &f, &defopts);

	/* IPv4 options (IHL 15: 40 bytes of options) and TCP options. */
	build_ipv4_tcp(&f, 40, 32);
	save("ipv4opts-tcpopts", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv4 options/tcp options");
	CHECK_EQ(k.outer.off.l4, 14 + 60, "ipv4 options: l4 offset after 60-byte header");
	CHECK_EQ(k.outer.l4.tcp_hlen, 32, "tcp options: header length 32");
	CHECK_EQ(k.outer.off.payload, 14 + 60 + 32, "tcp options: payload offset");
	CHECK_EQ(k.outer.l4.dport, 443, "ipv4 options: dport");
	check_cuts("ipv4 options/tcp options", &f, &defopts);

	/* Ethernet padding after a short IP packet is not part of it. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
	{
		struct fb_ip4 ip = { .ttl = 1, .proto = 17, .src = IP4(1, 2, 3, 4),
				     .dst = IP4(5, 6, 7, 8) };
		fb_ipv4(&f, &ip);
	}
	fb_udp(&f, 53, 5353);
	fb_finish(&f);
	fb_payload(&f, 60 - f.n, 0); /* padding, after the lengths were set */
	save("ipv4-udp-padded", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "padded 60-byte ipv4/udp");
	CHECK_EQ(k.outer.l3.tot_len, 28, "padded: total length 28");
	CHECK_EQ(k.outer.l4.udp_len, 8, "padded: udp length 8");
	CHECK_EQ(k.outer.off.payload, 42, "padded: payload offset");
}

static void test_ipv4_udp_icmp(void)
{
	struct fb f;
	struct dpc_key k;
	struct fb_ip4 ip = { .ttl = 64, .proto = 17, .id = 7, .src = IP4(172, 16, 0, 1),
			     .dst = IP4(172, 16, 0, 2) };

	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(&f, &ip);
	fb_udp(&f, 1234, 53);
	fb_payload(&f, 30, 9);
	fb_finish(&f);
	save("ipv4-udp", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv4/udp");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV4 | DPC_HAVE_L4 | DPC_HAVE_UDP,
		 "ipv4/udp: have bits");
	CHECK_EQ(k.outer.l4.sport, 1234, "ipv4/udp: sport");
	CHECK_EQ(k.outer.l4.dport, 53, "ipv4/udp: dport");
	CHECK_EQ(k.outer.l4.udp_len, 38, "ipv4/udp: udp length");
	CHECK_EQ(k.outer.off.payload, 42, "ipv4/udp: payload offset");
	CHECK_EQ(k.outer.l3.frag, 0, "ipv4/udp: not a fragment");
	check_cuts("ipv4/udp", &f, &defopts);

	ip.proto = 1;
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(&f, &ip);
	fb_icmp(&f, 8, 0, 0);
	fb_payload(&f, 56, 1);
	fb_finish(&f);
	save("ipv4-icmp", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv4/icmp echo");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV4 | DPC_HAVE_L4 | DPC_HAVE_ICMP,
		 "ipv4/icmp: have bits");
	CHECK_EQ(k.outer.l4.icmp_type, 8, "ipv4/icmp: type");
	CHECK_EQ(k.outer.l4.icmp_code, 0, "ipv4/icmp: code");
	CHECK_EQ(k.outer.l4.sport + k.outer.l4.dport, 0, "ipv4/icmp: no ports");
	CHECK_EQ(k.outer.off.payload, 42, "ipv4/icmp: payload after 8-byte header");
	check_cuts("ipv4/icmp", &f, &defopts);

	/* Protocol 1 over IPv6 is not ICMP (and 58 over IPv4 not ICMPv6). */
	ip.proto = 58;
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(&f, &ip);
	fb_payload(&f, 16, 1);
	fb_finish(&f);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv4 proto 58");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV4, "ipv4 proto 58: no L4");
	CHECK_EQ(k.outer.l3.proto, 58, "ipv4 proto 58: proto kept");
}

static void test_ipv4_fragments(void)
{
	struct fb f;
	struct dpc_key k;
	struct fb_ip4 ip = { .ttl = 64, .proto = 17, .id = 0x4242, .frag = 0x2000,
			     .src = IP4(10, 1, 1, 1), .dst = IP4(10, 2, 2, 2) };

	/* First fragment: MF, offset 0; UDP length covers the whole datagram. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(&f, &ip);
	{
		uint32_t u = fb_udp(&f, 5000, 6000);

		fb_payload(&f, 64, 2);
		fb_finish(&f);
		fb_w16(f.b + u + 4, 3000);
	}
	save("ipv4-frag-first", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv4 first fragment");
	CHECK_EQ(k.outer.l3.frag, DPC_FRAG_MF | DPC_FRAG_IS, "first fragment: MF|IS");
	CHECK_EQ(k.outer.l3.frag_off, 0, "first fragment: offset 0");
	CHECK(k.outer.have & DPC_HAVE_UDP, "first fragment: UDP header parsed");
	CHECK_EQ(k.outer.l4.dport, 6000, "first fragment: dport");
	CHECK_EQ(k.outer.l4.udp_len, 3000, "first fragment: udp length of the datagram");
	check_cuts("ipv4 first fragment", &f, &defopts);

	/* Later fragment: offset 1480, last one: no L4 even though bytes follow. */
	ip.frag = 185;
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(&f, &ip);
	fb_payload(&f, 40, 5);
	fb_finish(&f);
	save("ipv4-frag-later", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv4 later fragment");
	CHECK_EQ(k.outer.l3.frag, DPC_FRAG_IS | DPC_FRAG_LATER, "later fragment: IS|LATER");
	CHECK_EQ(k.outer.l3.frag_off, 1480, "later fragment: offset in bytes");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV4, "later fragment: no L4");
	CHECK_EQ(k.outer.off.l4, DPC_OFF_NONE, "later fragment: no L4 offset");
	CHECK_EQ(k.outer.l3.proto, 17, "later fragment: proto kept");
	check_cuts("ipv4 later fragment", &f, &defopts);

	/* Middle fragment: MF and an offset. */
	ip.frag = 0x2000 | 10;
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(&f, &ip);
	fb_payload(&f, 80, 5);
	fb_finish(&f);
	parse(&defopts, f.b, f.n, f.n, &k);
	CHECK_EQ(k.outer.l3.frag, DPC_FRAG_MF | DPC_FRAG_IS | DPC_FRAG_LATER,
		 "middle fragment: MF|IS|LATER");
	CHECK_EQ(k.outer.l3.frag_off, 80, "middle fragment: offset 80");

	/* A first fragment whose TCP options continue in the next fragment. */
	build_ipv4_tcp(&f, 0, 20);
	f.b[20] = 0x20; /* MF */
	f.b[34 + 12] = 0xc0; /* 48-byte TCP header */
	fb_w16(f.b + 16, 20 + 30);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "first fragment, TCP options cut by it");
	CHECK(k.outer.have & DPC_HAVE_TCP, "TCP options cut by the fragment: ports read");
	CHECK_EQ(k.outer.off.payload, DPC_OFF_NONE, "TCP options cut by the fragment: no payload");
	parse(&defopts, f.b, 40, f.n, &k);
	check_status(&k, DPC_PARSE_TRUNCATED, DPC_LAYER_TCP, 0,
		     "first fragment snapped inside its fixed TCP header");
	parse(&defopts, f.b, 60, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0,
		     "first fragment snapped in TCP options that run past the fragment");

	/* A tiny first fragment whose IP payload cannot hold the TCP header. */
	ip.frag = 0x2000;
	ip.proto = 6;
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(&f, &ip);
	fb_payload(&f, 8, 5);
	fb_finish(&f);
	fb_payload(&f, 20, 0); /* trailer beyond the IP packet */
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "tiny first fragment");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV4, "tiny first fragment: no L4");
}

static void test_vlan(void)
{
	struct fb f;
	struct dpc_key k;
	struct fb_ip4 ip = { .ttl = 64, .proto = 17, .src = IP4(10, 0, 0, 1),
			     .dst = IP4(10, 0, 0, 2) };

	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x8100);
	fb_vlan(&f, 0x6064, 0x0800); /* PCP 3, VID 100 */
	fb_ipv4(&f, &ip);
	fb_udp(&f, 7, 9);
	fb_finish(&f);
	save("vlan-ipv4-udp", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "802.1Q");
	CHECK(k.outer.have & DPC_HAVE_VLAN, "802.1Q: have VLAN");
	CHECK_EQ(k.outer.l2.n_vlan, 1, "802.1Q: one tag");
	CHECK_EQ(k.outer.l2.vlan_tpid[0], 0x8100, "802.1Q: tpid");
	CHECK_EQ(k.outer.l2.vlan_tci[0], 0x6064, "802.1Q: tci");
	CHECK_EQ(k.outer.l2.ethertype, 0x0800, "802.1Q: ethertype after the tag");
	CHECK_EQ(k.outer.off.l3, 18, "802.1Q: l3 offset");
	CHECK_EQ(k.outer.l4.dport, 9, "802.1Q: dport");
	check_cuts("802.1Q", &f, &defopts);

	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x88a8);
	fb_vlan(&f, 0x0123, 0x8100);
	fb_vlan(&f, 0x0456, 0x86dd);
	fb_ipv6(&f, 58, 0, 255, v6a, v6b);
	fb_icmp(&f, 135, 0, 1);
	fb_payload(&f, 16, 0);
	fb_finish(&f);
	save("qinq-ipv6-icmpv6", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "802.1ad QinQ");
	CHECK_EQ(k.outer.l2.n_vlan, 2, "QinQ: two tags");
	CHECK(k.outer.l2.vlan_tpid[0] == 0x88a8 && k.outer.l2.vlan_tpid[1] == 0x8100,
	      "QinQ: tpids outermost first");
	CHECK(k.outer.l2.vlan_tci[0] == 0x0123 && k.outer.l2.vlan_tci[1] == 0x0456,
	      "QinQ: tcis outermost first");
	CHECK_EQ(k.outer.l2.ethertype, 0x86dd, "QinQ: inner ethertype");
	CHECK_EQ(k.outer.off.l3, 22, "QinQ: l3 offset");
	CHECK_EQ(k.outer.l4.icmp_type, 135, "QinQ: ICMPv6 neighbour solicitation");
	check_cuts("QinQ", &f, &defopts);

	/* Five tags: all walked, four kept, flagged. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x9100);
	for (int i = 0; i < 4; i++)
		fb_vlan(&f, (uint16_t)(i + 1), 0x8100);
	fb_vlan(&f, 5, 0x0800);
	fb_ipv4(&f, &ip);
	fb_udp(&f, 1, 2);
	fb_finish(&f);
	save("vlan5", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "five tags");
	CHECK_EQ(k.outer.l2.n_vlan, 5, "five tags: n_vlan 5");
	CHECK(k.flags & DPC_KEY_VLAN_DEPTH, "five tags: DPC_KEY_VLAN_DEPTH");
	CHECK_EQ(k.outer.l2.vlan_tpid[0], 0x9100, "five tags: 0x9100 outermost");
	CHECK_EQ(k.outer.l2.vlan_tci[3], 4, "five tags: fourth tci kept");
	CHECK_EQ(k.outer.off.l3, 14 + 20, "five tags: l3 offset");
	CHECK_EQ(k.outer.l4.dport, 2, "five tags: dport");

	/* Exactly DPC_PARSE_VLAN_MAX tags is fine, one more is invalid. */
	for (int extra = 0; extra <= 1; extra++) {
		int ntags = DPC_PARSE_VLAN_MAX + extra;

		fb_init(&f);
		fb_eth(&f, fb_mac_a, fb_mac_b, 0x8100);
		for (int i = 0; i < ntags - 1; i++)
			fb_vlan(&f, (uint16_t)i, 0x8100);
		fb_vlan(&f, 99, 0x0800);
		fb_ipv4(&f, &ip);
		fb_udp(&f, 1, 2);
		fb_finish(&f);
		parse(&defopts, f.b, f.n, f.n, &k);
		if (!extra) {
			check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "8 tags");
			CHECK_EQ(k.outer.l2.n_vlan, 8, "8 tags walked");
		} else {
			save("vlan9", f.b, f.n);
			check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_VLAN, 0, "9 tags");
			CHECK_EQ(k.outer.l2.n_vlan, 8, "9 tags: 8 walked");
			CHECK(!(k.outer.have & DPC_HAVE_IPV4), "9 tags: nothing after");
		}
	}
}

static void test_arp(void)
{
	struct fb f;
	struct dpc_key k;
	uint32_t o;

	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0806);
	o = fb_arp(&f, 1, IP4(192, 168, 0, 1), IP4(192, 168, 0, 254));
	fb_payload(&f, 18, 0);
	fb_finish(&f);
	save("arp", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "arp request");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_ARP, "arp: have bits");
	CHECK_EQ(k.outer.l3.arp_op, 1, "arp: opcode");
	CHECK_EQ(k.outer.l3.family, 4, "arp: family 4");
	CHECK(v4eq(&k.outer.l3.src, IP4(192, 168, 0, 1)), "arp: sender address");
	CHECK(v4eq(&k.outer.l3.dst, IP4(192, 168, 0, 254)), "arp: target address");
	CHECK_EQ(k.outer.off.l3, 14, "arp: l3 offset");
	CHECK_EQ(k.outer.off.l4, DPC_OFF_NONE, "arp: no l4");
	check_cuts("arp", &f, &defopts);

	/* Hardware address length 8 (not Ethernet's 6): addresses move. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0806);
	o = fb_hdr(&f, DPC_LAYER_ARP, 8 + 8 + 4 + 8 + 4);
	fb_w16(f.b + o, 6);
	fb_w16(f.b + o + 2, 0x0800);
	f.b[o + 4] = 8;
	f.b[o + 5] = 4;
	fb_w16(f.b + o + 6, 2);
	fb_w32(f.b + o + 16, IP4(10, 9, 8, 7));
	fb_w32(f.b + o + 28, IP4(10, 9, 8, 6));
	save("arp-hlen8", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "arp hlen 8");
	CHECK(k.outer.have & DPC_HAVE_ARP, "arp hlen 8: filled");
	CHECK(v4eq(&k.outer.l3.src, IP4(10, 9, 8, 7)) && v4eq(&k.outer.l3.dst, IP4(10, 9, 8, 6)),
	      "arp hlen 8: addresses after 8-byte hardware addresses");
	CHECK_EQ(k.outer.l3.arp_op, 2, "arp hlen 8: reply");
	check_cuts("arp hlen 8", &f, &defopts);

	f.b[o + 5] = 16; /* protocol length 16 with IPv4: not filled */
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "arp plen 16");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH, "arp plen 16: only Ethernet");
	CHECK_EQ(k.outer.l3.arp_op, 2, "arp plen 16: opcode still read");

	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0806);
	o = fb_arp(&f, 1, IP4(192, 168, 0, 1), IP4(192, 168, 0, 254));
	fb_payload(&f, 18, 0);
	fb_w16(f.b + 12, 0x8035);
	fb_w16(f.b + o, 1);
	fb_w16(f.b + o + 6, 3);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "rarp");
	CHECK(k.outer.have & DPC_HAVE_ARP, "rarp: filled");
	CHECK_EQ(k.outer.l3.arp_op, 3, "rarp: opcode 3");
}

static void test_ipv6(void)
{
	struct fb f;
	struct dpc_key k;

	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x86dd);
	fb_ipv6(&f, 6, 0xb8, 57, v6a, v6b);
	fb_tcp(&f, 22, 50000, DPC_TCP_PSH | DPC_TCP_ACK, 24);
	fb_payload(&f, 10, 0);
	fb_finish(&f);
	save("ipv6-tcp", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv6/tcp");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV6 | DPC_HAVE_L4 | DPC_HAVE_TCP,
		 "ipv6/tcp: have bits");
	CHECK_EQ(k.outer.l3.family, 6, "ipv6/tcp: family");
	CHECK(memcmp(k.outer.l3.src.v6, v6a, 16) == 0 && memcmp(k.outer.l3.dst.v6, v6b, 16) == 0,
	      "ipv6/tcp: addresses");
	CHECK_EQ(k.outer.l3.tos, 0xb8, "ipv6/tcp: traffic class");
	CHECK_EQ(k.outer.l3.ttl, 57, "ipv6/tcp: hop limit");
	CHECK_EQ(k.outer.l3.tot_len, 40 + 24 + 10, "ipv6/tcp: 40 + payload length");
	CHECK_EQ(k.outer.l3.first_nh, 6, "ipv6/tcp: first next header");
	CHECK_EQ(k.outer.l3.n_ext, 0, "ipv6/tcp: no extension headers");
	CHECK_EQ(k.outer.off.l4, 54, "ipv6/tcp: l4 offset");
	CHECK_EQ(k.outer.off.payload, 78, "ipv6/tcp: payload offset");
	CHECK_EQ(k.outer.l4.sport, 22, "ipv6/tcp: sport");
	CHECK_EQ(k.outer.l4.tcp_hlen, 24, "ipv6/tcp: header length");
	check_cuts("ipv6/tcp", &f, &defopts);

	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x86dd);
	fb_ipv6(&f, 58, 0, 64, v6a, v6b);
	fb_icmp(&f, 128, 0, 1);
	fb_payload(&f, 32, 0);
	fb_finish(&f);
	save("ipv6-icmpv6", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv6/icmpv6");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV6 | DPC_HAVE_L4 | DPC_HAVE_ICMPV6,
		 "ipv6/icmpv6: have bits");
	CHECK_EQ(k.outer.l4.icmp_type, 128, "ipv6/icmpv6: echo request");
	check_cuts("ipv6/icmpv6", &f, &defopts);

	/* Hop-by-hop, destination options, routing, AH, then UDP. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x86dd);
	fb_ipv6(&f, 0, 0, 64, v6a, v6b);
	fb_ext6(&f, 0, 60, 8);
	fb_ext6(&f, 60, 43, 16);
	fb_ext6(&f, 43, 51, 24);
	fb_ext6(&f, 51, 17, 24);
	fb_udp(&f, 4000, 4001);
	fb_payload(&f, 12, 0);
	fb_finish(&f);
	save("ipv6-ext-udp", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv6 hbh/dst/rt/ah/udp");
	CHECK_EQ(k.outer.l3.n_ext, 4, "ipv6 ext: four headers walked");
	CHECK_EQ(k.outer.l3.first_nh, 0, "ipv6 ext: first next header hop-by-hop");
	CHECK_EQ(k.outer.l3.proto, 17, "ipv6 ext: final protocol UDP");
	CHECK_EQ(k.outer.off.l4, 14 + 40 + 8 + 16 + 24 + 24, "ipv6 ext: l4 offset");
	CHECK_EQ(k.outer.l4.dport, 4001, "ipv6 ext: dport");
	CHECK_EQ(k.outer.l3.frag, 0, "ipv6 ext: not a fragment");
	check_cuts("ipv6 ext headers", &f, &defopts);

	/* Fragment header, first fragment (offset 0, M): L4 present. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x86dd);
	fb_ipv6(&f, 44, 0, 64, v6a, v6b);
	fb_frag6(&f, 17, 0, 1, 0xdeadbeef);
	fb_udp(&f, 53, 53);
	fb_payload(&f, 40, 0);
	fb_finish(&f);
	save("ipv6-frag-first", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv6 first fragment");
	CHECK_EQ(k.outer.l3.frag, DPC_FRAG_IS | DPC_FRAG_MF, "ipv6 first fragment: IS|MF");
	CHECK_EQ(k.outer.l3.ip_id, 0xdeadbeef, "ipv6 first fragment: id");
	CHECK(k.outer.have & DPC_HAVE_UDP, "ipv6 first fragment: UDP parsed");
	CHECK_EQ(k.outer.l3.n_ext, 1, "ipv6 first fragment: one extension");
	check_cuts("ipv6 first fragment", &f, &defopts);

	/* Later fragment: no L4. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x86dd);
	fb_ipv6(&f, 44, 0, 64, v6a, v6b);
	fb_frag6(&f, 6, 1232, 0, 77);
	fb_payload(&f, 40, 0);
	fb_finish(&f);
	save("ipv6-frag-later", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv6 later fragment");
	CHECK_EQ(k.outer.l3.frag, DPC_FRAG_IS | DPC_FRAG_LATER, "ipv6 later fragment: IS|LATER");
	CHECK_EQ(k.outer.l3.frag_off, 1232, "ipv6 later fragment: offset");
	CHECK_EQ(k.outer.l3.proto, 6, "ipv6 later fragment: proto");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV6, "ipv6 later fragment: no L4");
	check_cuts("ipv6 later fragment", &f, &defopts);

	/* No next header (59): nothing after IPv6. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x86dd);
	fb_ipv6(&f, 59, 0, 64, v6a, v6b);
	fb_finish(&f);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "ipv6 no next header");
	CHECK_EQ(k.outer.l3.proto, 59, "ipv6 no next header: proto 59");

	/* DPC_PARSE_IPV6_EXT_MAX destination options are fine, one more is not. */
	for (int extra = 0; extra <= 1; extra++) {
		int n = DPC_PARSE_IPV6_EXT_MAX + extra;

		fb_init(&f);
		fb_eth(&f, fb_mac_a, fb_mac_b, 0x86dd);
		fb_ipv6(&f, 60, 0, 64, v6a, v6b);
		for (int i = 0; i < n; i++)
			fb_ext6(&f, 60, i == n - 1 ? 17 : 60, 8);
		fb_udp(&f, 1, 2);
		fb_finish(&f);
		parse(&defopts, f.b, f.n, f.n, &k);
		if (!extra) {
			check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "8 ipv6 ext headers");
			CHECK_EQ(k.outer.l3.n_ext, 8, "8 ipv6 ext headers walked");
			CHECK_EQ(k.outer.l4.dport, 2, "8 ipv6 ext headers: dport");
		} else {
			save("ipv6-ext9", f.b, f.n);
			check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV6_EXT, 0,
				     "9 ipv6 ext headers");
			CHECK_EQ(k.outer.l3.n_ext, 8, "9 ipv6 ext headers: 8 walked");
			CHECK(!(k.outer.have & DPC_HAVE_L4), "9 ipv6 ext headers: no L4");
		}
	}
}

/* Outer Ethernet/IPv4/UDP(dport)/VXLAN(flags, vni)/inner Ethernet/IPv4/TCP. */
static void build_vxlan4(struct fb *f, uint16_t dport, uint8_t flags, uint32_t vni)
{
	struct fb_ip4 o = { .ttl = 64, .proto = 17, .frag = 0x4000, .src = IP4(100, 64, 0, 1),
			    .dst = IP4(100, 64, 0, 2) };
	struct fb_ip4 i = { .ttl = 32, .proto = 6, .tos = 4, .src = IP4(192, 168, 10, 1),
			    .dst = IP4(192, 168, 10, 2) };

	fb_init(f);
	fb_eth(f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(f, &o);
	fb_udp(f, 49152, dport);
	fb_vxlan(f, flags, vni);
	fb_eth(f, inner_mac_c, inner_mac_d, 0x0800);
	fb_ipv4(f, &i);
	fb_tcp(f, 33000, 80, DPC_TCP_SYN, 20);
	fb_payload(f, 20, 0);
	fb_finish(f);
}

static void test_vxlan(void)
{
	struct fb f;
	struct dpc_key k;
	struct dpc_parse_opts o8472, deep;

	build_vxlan4(&f, 4789, 0x08, 0x123456);
	save("vxlan4-ipv4-tcp", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "vxlan");
	CHECK(k.flags & DPC_KEY_VXLAN, "vxlan: DPC_KEY_VXLAN");
	CHECK_EQ(k.tunnel_depth, 1, "vxlan: tunnel depth 1");
	CHECK_EQ(k.vni, 0x123456, "vxlan: vni");
	CHECK_EQ(k.vxlan_flags, 0x08, "vxlan: flags");
	CHECK(dpc_key_inner(&k) == &k.inner, "vxlan: dpc_key_inner is the inner frame");
	CHECK_EQ(k.outer.l4.dport, 4789, "vxlan: outer dport");
	CHECK_EQ(k.outer.off.payload, 42, "vxlan: outer UDP payload offset");
	CHECK_EQ(k.inner.off.l2, 50, "vxlan: inner l2 offset");
	CHECK_EQ(k.inner.off.l3, 64, "vxlan: inner l3 offset");
	CHECK_EQ(k.inner.off.l4, 84, "vxlan: inner l4 offset");
	CHECK_EQ(k.inner.off.payload, 104, "vxlan: inner payload offset");
	CHECK(memcmp(k.inner.l2.dst, inner_mac_c, 6) == 0 && memcmp(k.inner.l2.src, inner_mac_d, 6) == 0,
	      "vxlan: inner MACs");
	CHECK(v4eq(&k.inner.l3.src, IP4(192, 168, 10, 1)) && v4eq(&k.inner.l3.dst, IP4(192, 168, 10, 2)),
	      "vxlan: inner addresses");
	CHECK(v4eq(&k.outer.l3.src, IP4(100, 64, 0, 1)), "vxlan: outer address kept");
	CHECK_EQ(k.inner.l3.ttl, 32, "vxlan: inner ttl");
	CHECK_EQ(k.inner.l3.tos, 4, "vxlan: inner tos");
	CHECK_EQ(k.inner.l4.dport, 80, "vxlan: inner dport");
	CHECK_EQ(k.inner.l4.tcp_flags, DPC_TCP_SYN, "vxlan: inner tcp flags");
	CHECK_EQ(k.inner.have, DPC_HAVE_ETH | DPC_HAVE_IPV4 | DPC_HAVE_L4 | DPC_HAVE_TCP,
		 "vxlan: inner have bits");
	check_cuts("vxlan", &f, &defopts);

	/* Disabled decapsulation: the same frame is plain UDP. */
	{
		struct dpc_parse_opts none;

		dpc_parse_opts_init(&none);
		none.n_vxlan_ports = 0;
		parse(&none, f.b, f.n, f.n, &k);
		check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "vxlan with no ports");
		CHECK_EQ(k.flags, 0, "no ports: not decapsulated");
		CHECK_EQ(k.inner.have, 0, "no ports: inner empty");
	}

	/* I flag unset: not decapsulated, INVALID at vxlan, outer complete. */
	build_vxlan4(&f, 4789, 0x00, 0x123456);
	save("vxlan-no-i-flag", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_VXLAN, 0, "vxlan without I flag");
	CHECK_EQ(k.flags & DPC_KEY_VXLAN, 0, "no I flag: DPC_KEY_VXLAN clear");
	CHECK_EQ(k.vni, 0, "no I flag: vni 0");
	CHECK_EQ(k.vxlan_flags, 0, "no I flag: flags recorded");
	CHECK_EQ(k.tunnel_depth, 0, "no I flag: depth 0");
	CHECK_EQ(k.outer.have, DPC_HAVE_ETH | DPC_HAVE_IPV4 | DPC_HAVE_L4 | DPC_HAVE_UDP,
		 "no I flag: outer complete");
	CHECK_EQ(k.inner.have, 0, "no I flag: inner empty");
	build_vxlan4(&f, 4789, 0x80, 0x123456);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_VXLAN, 0, "vxlan with only a reserved flag");
	CHECK_EQ(k.vxlan_flags, 0x80, "reserved flag: flags recorded");

	/* Non-standard port: plain UDP by default, VXLAN once configured. */
	build_vxlan4(&f, 8472, 0x08, 42);
	save("vxlan-8472", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "udp 8472, default opts");
	CHECK_EQ(k.flags, 0, "udp 8472 default: not VXLAN");
	CHECK_EQ(k.outer.l4.dport, 8472, "udp 8472 default: dport");
	dpc_parse_opts_init(&o8472);
	CHECK_EQ(dpc_parse_opts_add_vxlan_port(&o8472, 8472), 0, "opts: add 8472");
	parse(&o8472, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "udp 8472 with 8472 configured");
	CHECK(k.flags & DPC_KEY_VXLAN, "8472 configured: VXLAN");
	CHECK_EQ(k.vni, 42, "8472 configured: vni");
	CHECK_EQ(k.inner.l4.dport, 80, "8472 configured: inner dport");
	check_cuts("vxlan on 8472", &f, &o8472);

	/* IPv6 underlay with a VLAN tag, inner IPv6/UDP. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x8100);
	fb_vlan(&f, 10, 0x86dd);
	fb_ipv6(&f, 17, 0, 64, v6a, v6b);
	fb_udp(&f, 1000, 4789);
	fb_vxlan(&f, 0x08, 0xffffff);
	fb_eth(&f, inner_mac_c, inner_mac_d, 0x86dd);
	fb_ipv6(&f, 17, 0, 9, v6b, v6a);
	fb_udp(&f, 546, 547);
	fb_payload(&f, 30, 0);
	fb_finish(&f);
	save("vxlan6-ipv6-udp", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "vxlan over ipv6");
	CHECK_EQ(k.vni, 0xffffff, "vxlan6: vni");
	CHECK_EQ(k.outer.l2.n_vlan, 1, "vxlan6: outer tag");
	CHECK_EQ(k.inner.l3.family, 6, "vxlan6: inner family");
	CHECK(memcmp(k.inner.l3.src.v6, v6b, 16) == 0, "vxlan6: inner source");
	CHECK_EQ(k.inner.l3.ttl, 9, "vxlan6: inner hop limit");
	CHECK_EQ(k.inner.l4.dport, 547, "vxlan6: inner dport");
	CHECK_EQ(k.inner.off.l2, 14 + 4 + 40 + 8 + 8, "vxlan6: inner l2 offset");
	check_cuts("vxlan over ipv6", &f, &defopts);

	/* Nested VXLAN: default opts stop after one level. */
	fb_init(&f);
	{
		struct fb_ip4 a = { .ttl = 64, .proto = 17, .src = IP4(1, 1, 1, 1),
				    .dst = IP4(2, 2, 2, 2) };
		struct fb_ip4 b = { .ttl = 63, .proto = 17, .src = IP4(3, 3, 3, 3),
				    .dst = IP4(4, 4, 4, 4) };
		struct fb_ip4 c = { .ttl = 62, .proto = 1, .src = IP4(5, 5, 5, 5),
				    .dst = IP4(6, 6, 6, 6) };

		fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
		fb_ipv4(&f, &a);
		fb_udp(&f, 10, 4789);
		fb_vxlan(&f, 0x08, 1);
		fb_eth(&f, fb_mac_b, fb_mac_a, 0x0800);
		fb_ipv4(&f, &b);
		fb_udp(&f, 20, 4789);
		fb_vxlan(&f, 0x08, 2);
		fb_eth(&f, inner_mac_c, inner_mac_d, 0x0800);
		fb_ipv4(&f, &c);
		fb_icmp(&f, 0, 0, 0);
		fb_finish(&f);
	}
	save("vxlan-nested", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "nested vxlan, depth 1");
	CHECK_EQ(k.tunnel_depth, 1, "nested, depth 1: one decapsulated");
	CHECK(k.flags & DPC_KEY_TUNNEL_DEPTH, "nested, depth 1: DPC_KEY_TUNNEL_DEPTH");
	CHECK(v4eq(&k.inner.l3.src, IP4(3, 3, 3, 3)), "nested, depth 1: inner is level 1");
	CHECK_EQ(k.inner.l4.dport, 4789, "nested, depth 1: inner UDP to 4789");
	CHECK_EQ(k.vni, 1, "nested, depth 1: vni of the outer tunnel");
	dpc_parse_opts_init(&deep);
	deep.max_tunnel_depth = 2;
	parse(&deep, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "nested vxlan, depth 2");
	CHECK_EQ(k.tunnel_depth, 2, "nested, depth 2: two decapsulated");
	CHECK_EQ(k.flags & DPC_KEY_TUNNEL_DEPTH, 0, "nested, depth 2: no depth flag");
	CHECK(v4eq(&k.inner.l3.src, IP4(5, 5, 5, 5)), "nested, depth 2: inner is innermost");
	CHECK_EQ(k.inner.l4.icmp_type, 0, "nested, depth 2: innermost ICMP echo reply");
	CHECK(k.inner.have & DPC_HAVE_ICMP, "nested, depth 2: innermost ICMP");
	CHECK_EQ(k.inner.off.l2, 50 + 50, "nested, depth 2: innermost l2 offset");
	CHECK_EQ(k.vni, 1, "nested, depth 2: vni of the outermost tunnel");
	check_cuts("nested vxlan", &f, &deep);
	deep.max_tunnel_depth = 0;
	parse(&deep, f.b, f.n, f.n, &k);
	CHECK(k.flags == DPC_KEY_TUNNEL_DEPTH && k.tunnel_depth == 0,
	      "max_tunnel_depth 0: nothing decapsulated, depth flag");

	/* An inner header that is bad: status says inner. */
	build_vxlan4(&f, 4789, 0x08, 5);
	f.b[64] = 0x44; /* inner IHL 4 */
	save("vxlan-inner-bad-ihl", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV4, 1, "vxlan, inner IHL 4");
	CHECK(k.flags & DPC_KEY_VXLAN, "inner IHL 4: still VXLAN");
	{
		char d[64];

		CHECK_STR(dpc_parse_describe(&k, d, sizeof(d)), "invalid at ipv4 (inner)",
			  "describe an inner error");
	}

	/* UDP length too short for the VXLAN header, and too short for the
	 * inner Ethernet header: invalid (declared), not truncated. */
	build_vxlan4(&f, 4789, 0x08, 5);
	fb_w16(f.b + 34 + 4, 8 + 4);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_VXLAN, 0, "udp length 12 on vxlan");
	fb_w16(f.b + 34 + 4, 8 + 8 + 10);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_ETH, 1, "udp length leaves 10 inner bytes");
	fb_w16(f.b + 34 + 4, 8 + 8 + 14 + 20 + 10);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV4, 1,
		     "inner total length past the UDP length");
}

/* ---- malformed frames -------------------------------------------------- */

static void test_malformed(void)
{
	struct fb f;
	struct dpc_key k;
	struct fb_ip4 ip = { .ttl = 64, .proto = 17, .src = IP4(9, 9, 9, 9),
			     .dst = IP4(8, 8, 8, 8) };
	uint32_t u;

	/* Bad IHL. */
	build_ipv4_tcp(&f, 0, 20);
	f.b[14] = 0x44;
	save("ipv4-ihl4", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV4, 0, "IHL 4");
	CHECK(k.outer.have & DPC_HAVE_IPV4, "IHL 4: addresses still read");
	CHECK(v4eq(&k.outer.l3.src, IP4(10, 0, 0, 1)), "IHL 4: source address");
	CHECK(!(k.outer.have & DPC_HAVE_L4), "IHL 4: no L4");
	f.b[14] = 0x40;
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV4, 0, "IHL 0");

	/* Total length < IHL (options header of 24 bytes, total 22). */
	build_ipv4_tcp(&f, 4, 20);
	fb_w16(f.b + 16, 22);
	save("ipv4-totlen-lt-ihl", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV4, 0, "total length < IHL");
	fb_w16(f.b + 16, 1);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV4, 0, "total length 1");

	/* Total length 0: TSO capture, the packet runs to the end of the frame. */
	build_ipv4_tcp(&f, 0, 20);
	fb_w16(f.b + 16, 0);
	save("ipv4-totlen0-tso", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "total length 0 (TSO)");
	CHECK_EQ(k.outer.l3.tot_len, 0, "TSO: total length kept as 0");
	CHECK_EQ(k.outer.l4.dport, 443, "TSO: TCP parsed");
	parse(&defopts, f.b, 40, 40, &k);
	check_status(&k, DPC_PARSE_TRUNCATED, DPC_LAYER_TCP, 0, "TSO frame cut in TCP");

	/* Total length past the frame on the wire. */
	build_ipv4_tcp(&f, 0, 20);
	fb_w16(f.b + 16, (uint16_t)(f.n - 14 + 1));
	save("ipv4-totlen-past-end", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV4, 0, "total length past the end");
	/* ... unless the capture was snapped: then the wire had those bytes. */
	parse(&defopts, f.b, f.n, f.n + 1, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "total length within wirelen");

	/* A frame cut on the wire (wirelen == caplen) inside TCP: the IPv4
	 * total length is then inconsistent with the frame. */
	build_ipv4_tcp(&f, 0, 20);
	parse(&defopts, f.b, 40, 40, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV4, 0, "runt frame: total length past it");

	/* IP version 5 behind 0x0800, version 4 behind 0x86dd. */
	build_ipv4_tcp(&f, 0, 20);
	f.b[14] = 0x55;
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV4, 0, "ipv4 ethertype, version 5");
	CHECK(!(k.outer.have & DPC_HAVE_IPV4), "version 5: not IPv4");

	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x86dd);
	fb_ipv6(&f, 17, 0, 64, v6a, v6b);
	fb_udp(&f, 1, 2);
	fb_finish(&f);
	f.b[14] = 0x45;
	save("ipv6-version4", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV6, 0, "ipv6 ethertype, version 4");
	f.b[14] = 0x60;
	fb_w16(f.b + 18, 9);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV6, 0, "ipv6 payload length past the end");
	fb_w16(f.b + 18, 4);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_UDP, 0, "ipv6 payload length 4, UDP");

	/* IPv6 extension header longer than the payload length. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x86dd);
	fb_ipv6(&f, 43, 0, 64, v6a, v6b);
	u = fb_ext6(&f, 43, 17, 16);
	fb_udp(&f, 1, 2);
	fb_finish(&f);
	f.b[u + 1] = 10;
	save("ipv6-ext-too-long", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_IPV6_EXT, 0, "routing header past the payload");

	/* UDP length past the end and below 8. */
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x0800);
	fb_ipv4(&f, &ip);
	u = fb_udp(&f, 1000, 2000);
	fb_payload(&f, 20, 0);
	fb_finish(&f);
	fb_w16(f.b + u + 4, 29);
	save("udp-len-past-end", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_UDP, 0, "UDP length past the IP payload");
	CHECK(k.outer.have & DPC_HAVE_UDP, "UDP length past the end: ports read");
	CHECK_EQ(k.outer.l4.udp_len, 29, "UDP length past the end: length kept");
	CHECK_EQ(k.outer.l4.dport, 2000, "UDP length past the end: dport");
	fb_w16(f.b + u + 4, 7);
	save("udp-len-7", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_UDP, 0, "UDP length 7");
	fb_w16(f.b + u + 4, 8);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "UDP length 8 with trailing bytes");

	/* TCP data offset < 5, and TCP options past the IP payload. */
	build_ipv4_tcp(&f, 0, 20);
	f.b[34 + 12] = 0x40;
	save("tcp-doff4", f.b, f.n);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_TCP, 0, "TCP data offset 4");
	f.b[34 + 12] = 0xf0;
	fb_w16(f.b + 16, 20 + 40);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_INVALID, DPC_LAYER_TCP, 0, "TCP header past the IP payload");

	/* Ethernet only, and empty. */
	parse(&defopts, f.b, 0, 0, &k);
	check_status(&k, DPC_PARSE_TRUNCATED, DPC_LAYER_ETH, 0, "empty frame");
	CHECK_EQ(k.outer.have, 0, "empty frame: nothing");
	CHECK_EQ(k.outer.off.l2, 0, "empty frame: l2 offset 0");
	parse(&defopts, f.b, 13, 13, &k);
	check_status(&k, DPC_PARSE_TRUNCATED, DPC_LAYER_ETH, 0, "13-byte frame");
	fb_init(&f);
	fb_eth(&f, fb_mac_a, fb_mac_b, 0x88cc); /* LLDP: not parsed further */
	fb_payload(&f, 46, 0);
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "LLDP");
	CHECK_EQ(k.outer.l2.ethertype, 0x88cc, "LLDP: ethertype");
	CHECK_EQ(k.outer.off.l3, DPC_OFF_NONE, "LLDP: no l3 offset");
	fb_w16(f.b + 12, 46); /* 802.3 length */
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "802.3 length field");
	CHECK_EQ(k.outer.l2.ethertype, 46, "802.3: length kept as ethertype");

	/* VXLAN header cut by the capture (snaplen) is truncated. */
	build_vxlan4(&f, 4789, 0x08, 5);
	parse(&defopts, f.b, 46, f.n, &k);
	check_status(&k, DPC_PARSE_TRUNCATED, DPC_LAYER_VXLAN, 0, "snapped inside VXLAN");
	parse(&defopts, f.b, 70, f.n, &k);
	check_status(&k, DPC_PARSE_TRUNCATED, DPC_LAYER_IPV4, 1, "snapped inside the inner IPv4");
	CHECK(k.flags & DPC_KEY_VXLAN, "snapped inner: VXLAN");
	CHECK(k.inner.have & DPC_HAVE_ETH, "snapped inner: inner Ethernet");
	{
		char d[64];

		CHECK_STR(dpc_parse_describe(&k, d, sizeof(d)), "truncated at ipv4 (inner)",
			  "describe a truncated inner frame");
	}

	/* VXLAN in a first fragment is not decapsulated. */
	build_vxlan4(&f, 4789, 0x08, 5);
	f.b[20] = 0x20; /* MF */
	f.b[21] = 0;
	parse(&defopts, f.b, f.n, f.n, &k);
	check_status(&k, DPC_PARSE_OK, DPC_LAYER_NONE, 0, "vxlan in a first fragment");
	CHECK_EQ(k.flags & DPC_KEY_VXLAN, 0, "first fragment: not decapsulated");
}

static void test_api(void)
{
	struct dpc_parse_opts o;
	struct dpc_key k;
	char d[64];
	static const uint8_t zero[64];

	dpc_parse_opts_init(&o);
	CHECK(o.n_vxlan_ports == 1 && o.vxlan_ports[0] == 4789 && o.max_tunnel_depth == 1,
	      "opts_init: 4789, one tunnel");
	CHECK_EQ(dpc_parse_opts_add_vxlan_port(&o, 4789), -EEXIST, "add 4789 again: -EEXIST");
	CHECK_EQ(dpc_parse_opts_add_vxlan_port(&o, 0), -EINVAL, "add port 0: -EINVAL");
	CHECK_EQ(dpc_parse_opts_add_vxlan_port(&o, 8472), 0, "add 8472");
	CHECK_EQ(dpc_parse_opts_add_vxlan_port(&o, 4790), 0, "add 4790");
	CHECK_EQ(dpc_parse_opts_add_vxlan_port(&o, 4791), 0, "add 4791");
	CHECK_EQ(dpc_parse_opts_add_vxlan_port(&o, 4792), -ENOSPC, "fifth port: -ENOSPC");

	CHECK_STR(dpc_parse_layer_name(DPC_LAYER_IPV6_EXT), "ipv6-ext", "layer name ipv6-ext");
	CHECK_STR(dpc_parse_layer_name(DPC_LAYER_VXLAN), "vxlan", "layer name vxlan");
	CHECK_STR(dpc_parse_layer_name(DPC_LAYER_COUNT), "unknown", "layer name out of range");
	CHECK_STR(dpc_parse_status_name(DPC_PARSE_TRUNCATED), "truncated", "status name");
	for (int l = 0; l < DPC_LAYER_COUNT; l++)
		CHECK(strcmp(dpc_parse_layer_name((enum dpc_layer)l), "unknown") != 0,
		      "layer %d has a name (%s)", l, dpc_parse_layer_name((enum dpc_layer)l));

	/* NULL opts means the defaults; every byte of the key is written. */
	memset(&k, 0xa5, sizeof(k));
	dpc_parse(NULL, zero, sizeof(zero), sizeof(zero), &k);
	CHECK(k._pad[0] == 0 && k.inner.l2._pad == 0 && k.outer.l3._pad2 == 0,
	      "key padding written");
	CHECK_STR(dpc_parse_describe(&k, d, sizeof(d)), "ok", "describe ok");
	CHECK_EQ(k.outer.l2.ethertype, 0, "zero frame: ethertype 0 (802.3 length)");
	CHECK_EQ(dpc_parse(NULL, zero, 20, 10, &k), DPC_PARSE_OK, "wirelen < caplen: ok");
	CHECK_EQ(k.wirelen, 20, "wirelen < caplen: raised to caplen");
	dpc_parse_describe(&k, d, 4);
	CHECK_STR(d, "ok", "describe fits a small buffer");
	k.status = DPC_PARSE_TRUNCATED;
	k.err_layer = DPC_LAYER_UDP;
	k.err_depth = 2;
	CHECK_STR(dpc_parse_describe(&k, d, sizeof(d)), "truncated at udp (inner, depth 2)",
		  "describe depth 2");
	dpc_parse_describe(&k, d, 8);
	CHECK_STR(d, "truncat", "describe truncates to the buffer");
}

int main(void)
{
	dpc_parse_opts_init(&defopts);
	test_ipv4_tcp();
	test_ipv4_udp_icmp();
	test_ipv4_fragments();
	test_vlan();
	test_arp();
	test_ipv6();
	test_vxlan();
	test_malformed();
	test_api();
	return dpc_test_done();
}
