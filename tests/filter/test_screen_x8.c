/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_screen_x8.c - the eight-frame screen (dpc_screen_x8.h) against the
 * one-frame screen it stands in for (dpc_screen_v4, itself checked
 * against dpc_parse + the jobs' own verdicts by the oracle and fuzz
 * tests).
 *
 * Frames: TCP, UDP, VXLAN, ICMP, GRE, IPv6, ARP and VLAN templates with
 * random addresses (a quarter of them a job's host) and ports, then half
 * of them damaged: a random byte of the first 60 changed, the capture
 * cut short, the wire length made longer, the IP length, header length,
 * fragment word or TCP data offset changed. Eight at a time through
 * dpc_screen_v4_x8(), under five sets of parser options (VXLAN on 4789;
 * off; on 4789 and 8472; four ports, 8472 first; on 4789 and 8472 but
 * no tunnel level decapsulated).
 *   - sound: every lane it settles, dpc_screen_v4() says UNWANTED;
 *   - complete: every undamaged TCP/UDP/ICMP/GRE frame of 54 bytes or
 *     more, and VXLAN datagram of 104 bytes or more carrying one, that
 *     dpc_screen_v4() says UNWANTED, it settles too (so a version that
 *     settles nothing fails);
 *   - valid lanes only: a lane outside the valid mask is never settled.
 * Each frame sits in a buffer of exactly its captured length (ASan builds
 * see the scalar screen's reads; the vector reads are masked to frames of
 * 54 bytes or more and stay inside them by construction).
 * Skipped (TAP SKIP) on a CPU without AVX-512.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_filter.h"
#include "dpc_parse.h"
#include "dpc_screen_x8.h"
#include "dpc_test.h"

#define N_FRAMES 200000

static uint64_t rs = 88172645463325252ull;

static uint32_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs >> 16);
}

static const char *const exprs[] = {
	"host 10.0.0.1", "host 192.168.1.1 and tcp port 80", "src host 172.16.0.1",
	"dst host 10.1.2.3 and udp", "host 10.2.0.7 and port 2007",
};
static const uint32_t hosts[] = { 0x0a000001, 0xc0a80101, 0xac100001, 0x0a010203, 0x0a020007 };

enum kind { K_TCP, K_UDP, K_VXLAN, K_ICMP, K_GRE, K_IP6, K_ARP, K_VLAN, K_N };

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint32_t addr(void)
{
	return rnd() % 4 == 0 ? hosts[rnd() % 5] : 0x0a000000u | (rnd() & 0xffffff);
}

/* An IPv4 packet at p (l4 header and payload: plen bytes, already there) */
static void ipv4(uint8_t *p, unsigned proto, unsigned plen)
{
	p[0] = 0x45;
	put16(p + 2, 20 + plen);
	put16(p + 4, rnd());
	p[6] = 0x40;
	p[8] = 64;
	p[9] = (uint8_t)proto;
	put32(p + 12, addr());
	put32(p + 16, addr());
}

/* An Ethernet + IPv4 + l4 frame of len bytes at f (len >= 64) */
static void inner(uint8_t *f, unsigned len, unsigned proto)
{
	unsigned plen = len - 34;

	memset(f, 0, len);
	f[0] = 0x02;
	f[6] = 0x02;
	put16(f + 12, 0x0800);
	ipv4(f + 14, proto, plen);
	put16(f + 34, 1024 + rnd() % 60000);
	put16(f + 36, rnd() % 4 ? 2000 + rnd() % 100 : rnd() & 0xffff);
	if (proto == 6)
		f[46] = (uint8_t)((5 + (rnd() % 4 == 0 ? rnd() % 4 : 0)) << 4);
	else if (proto == 17)
		put16(f + 38, plen);
}

static unsigned make(uint8_t *f, enum kind k)
{
	static const unsigned sizes[] = { 54, 60, 64, 66, 90, 128, 570, 1514 };
	unsigned len = sizes[rnd() % 8];

	switch (k) {
	case K_TCP:
		inner(f, len < 54 ? 54 : len, 6);
		return len < 54 ? 54 : len;
	case K_UDP:
		inner(f, len, 17);
		return len;
	case K_ICMP:
		inner(f, len, 1);
		return len;
	case K_GRE:
		inner(f, len, 47);
		return len;
	case K_VXLAN:
		if (len < 114)
			len = 114;
		inner(f, len, 17);
		put16(f + 36, rnd() % 2 ? 4789 : 8472);
		f[42] = 0x08;
		put32(f + 46, (rnd() % 8) << 8);
		inner(f + 50, len - 50, rnd() % 2 ? 6 : 17);
		return len;
	case K_IP6:
		memset(f, 0, len);
		put16(f + 12, 0x86dd);
		f[14] = 0x60;
		return len;
	case K_ARP:
		memset(f, 0, 60);
		put16(f + 12, 0x0806);
		return 60;
	case K_VLAN:
		inner(f + 4, len - 4, 6);
		memmove(f, f + 4, 12);
		put16(f + 12, 0x8100);
		put16(f + 14, 100);
		put16(f + 16, 0x0800);
		return len;
	default:
		return 0;
	}
}

/* Damage: returns 1 when the frame was changed */
static int damage(uint8_t *f, unsigned *cap, unsigned *wire)
{
	switch (rnd() % 9) {
	case 0:
		f[rnd() % (*cap < 60 ? *cap : 60)] = (uint8_t)rnd();
		return 1;
	case 1:
		*cap = rnd() % (*cap + 1);
		return 1;
	case 2:
		*wire += 1 + rnd() % 200;
		return 1;
	case 3:
		put16(f + 16, rnd() % 4 ? (f[16] << 8 | f[17]) + rnd() % 64 - 32 : rnd() & 0xffff);
		return 1;
	case 4:
		f[14] = (uint8_t)(0x40 | (rnd() & 0xf));
		return 1;
	case 5:
		put16(f + 20, rnd() % 2 ? 0x2000 : rnd() & 0x1fff);
		return 1;
	case 6:
		f[46] = (uint8_t)rnd();         /* TCP data offset */
		return 1;
	default:
		return 0;
	}
}

/* Whether an undamaged frame of kind k is the x8 screen's common case
 * under po: IPv4 TCP, UDP (to a port that is not VXLAN), ICMP, GRE; or
 * a VXLAN datagram whose tenant frame is one of those, captured to 104
 * bytes or more. */
static int common(const struct dpc_parse_opts *po, enum kind k, const uint8_t *f,
		  unsigned cap)
{
	unsigned dport = (unsigned)f[36] << 8 | f[37];

	switch (k) {
	case K_TCP:
	case K_ICMP:
	case K_GRE:
		return 1;
	case K_UDP:
		return !dpc_parse_is_vxlan_port(po, (uint16_t)dport);
	case K_VXLAN:
		if (!dpc_parse_is_vxlan_port(po, (uint16_t)dport))
			return 1;       /* plain UDP under po */
		return po->max_tunnel_depth >= 1 && cap >= 104 &&
		       !(f[50 + 23] == 17 &&
			 dpc_parse_is_vxlan_port(po, (uint16_t)(f[50 + 36] << 8 | f[50 + 37])));
	default:
		return 0;
	}
}

#ifdef DPC_SCREEN_X8
/* eight frames (addresses, captured and declared lengths) through x8 */
static __attribute__((noinline)) DPC_SCREEN_X8_TARGET unsigned
x8_group(const uint64_t *bloom, const struct dpc_parse_opts *po, const uint64_t *fa,
	 const uint64_t *ca, const uint64_t *ea, unsigned valid)
{
	return dpc_screen_v4_x8(bloom, po, _mm512_loadu_si512(fa), _mm512_loadu_si512(ca),
				_mm512_loadu_si512(ea), (__mmask8)valid);
}
#endif

int main(void)
{
	struct dpc_filter *jobs[5];
	struct dpc_classifier *cls;
	struct dpc_parse_opts opts[5];
	const uint64_t *bloom;
	static uint8_t *fr[8];
	static uint8_t buf[2048];
	uint32_t cap[8], wire[8];
	int plain[8];
	unsigned long settled = 0, unwanted_common = 0, unsound = 0, incomplete = 0;
	unsigned long outside = 0, frames = 0;

#ifndef DPC_SCREEN_X8
	DPC_SKIP("no AVX-512 screen on this architecture");
	return dpc_test_done();
#else
	if (!dpc_screen_x8_usable()) {
		DPC_SKIP("this CPU has no AVX-512 F/BW/DQ/VL");
		return dpc_test_done();
	}
	for (unsigned j = 0; j < 5; j++) {
		jobs[j] = dpc_filter_compile(exprs[j], NULL);
		CHECK(jobs[j] != NULL, "compile %s", exprs[j]);
		if (!jobs[j])
			return dpc_test_done();
	}
	cls = dpc_classifier_build(jobs, 5);
	bloom = cls ? dpc_classifier_screen_v4(cls) : NULL;
	CHECK(bloom != NULL, "a host-job set has the v4 Bloom filter");
	if (!bloom)
		return dpc_test_done();
	for (unsigned o = 0; o < 5; o++)
		dpc_parse_opts_init(&opts[o]);
	opts[1].n_vxlan_ports = 0;
	dpc_parse_opts_add_vxlan_port(&opts[2], 8472);
	opts[3].n_vxlan_ports = 0;
	dpc_parse_opts_add_vxlan_port(&opts[3], 8472);
	dpc_parse_opts_add_vxlan_port(&opts[3], 4789);
	dpc_parse_opts_add_vxlan_port(&opts[3], 6081);
	dpc_parse_opts_add_vxlan_port(&opts[3], 1);
	dpc_parse_opts_add_vxlan_port(&opts[4], 8472);
	opts[4].max_tunnel_depth = 0;

	for (unsigned g = 0; g < N_FRAMES / 8; g++) {
		const struct dpc_parse_opts *po = &opts[g % 5];
		uint64_t fa[8], ca[8], ea[8];
		unsigned valid = rnd() % 4 ? 0xff : rnd() & 0xff, got;

		for (unsigned l = 0; l < 8; l++) {
			enum kind k = (enum kind)(rnd() % K_N);
			unsigned c = make(buf, k), w = c;
			int dmg = rnd() % 2 ? damage(buf, &c, &w) : 0;

			free(fr[l]);
			fr[l] = malloc(c ? c : 1);
			memcpy(fr[l], buf, c);
			cap[l] = c;
			wire[l] = w;
			plain[l] = !dmg && c >= 54 && common(po, k, buf, c);
			fa[l] = (uint64_t)(uintptr_t)fr[l];
			ca[l] = c;
			ea[l] = w > c ? w : c;
		}
		got = x8_group(bloom, po, fa, ca, ea, valid);
		for (unsigned l = 0; l < 8; l++) {
			int r = dpc_screen_v4(bloom, po, fr[l], cap[l], wire[l]);
			int in = (got >> l) & 1;

			frames++;
			if (!((valid >> l) & 1)) {
				outside += in;
				continue;
			}
			settled += in;
			if (in && r != DPC_SCREEN_UNWANTED)
				unsound++;
			if (plain[l] && r == DPC_SCREEN_UNWANTED) {
				unwanted_common++;
				incomplete += !in;
			}
		}
	}
	for (unsigned l = 0; l < 8; l++)
		free(fr[l]);
	printf("# %lu frames, %lu settled by x8, %lu plain unwanted\n", frames, settled,
	       unwanted_common);
	CHECK_EQ(unsound, 0, "every frame x8 settles, dpc_screen_v4 says UNWANTED");
	CHECK_EQ(incomplete, 0, "every plain frame dpc_screen_v4 says UNWANTED, x8 settles");
	CHECK_EQ(outside, 0, "no lane outside the valid mask is settled");
	CHECK(unwanted_common > frames / 20, "the test reaches the common case (%lu frames)",
	      unwanted_common);
	CHECK(settled >= unwanted_common, "x8 settles damaged frames that are still plain too");
	dpc_classifier_free(cls);
	for (unsigned j = 0; j < 5; j++)
		dpc_filter_free(jobs[j]);
	return dpc_test_done();
#endif
}
