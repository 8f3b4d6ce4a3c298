/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_parse.c - what dpc_parse() costs per frame on a realistic mix
 * (suite perf, not run by CI; meaningful in a release build).
 *
 * The mix is generated here, deterministically: 30% VXLAN (outer IPv4, a
 * tenth over IPv6, inner IPv4/IPv6 TCP/UDP), the rest IPv4/IPv6 TCP/UDP,
 * ICMP and ARP; 20% of frames carry an 802.1Q tag and 5% a QinQ pair;
 * sizes are 64-byte heavy: half the frames 64 bytes, the rest IMIX
 * (7:4:1 of 64/576/1500), VXLAN frames at least as large as their headers.
 * Frames sit 2 KiB apart like mbuf data rooms. Two working sets are timed:
 * 4096 frames (8 MiB, beyond L2: the headers come from LLC/DRAM as they
 * would from a NIC ring) and 64 frames (hot in L1). Keys go to a burst
 * array of 32, as the datapath does. Time is this thread's CPU time, so a
 * busy machine slows the run down but does not inflate the result much
 * (caches shared with other processes still do).
 *
 * Usage: bench_parse [SECONDS]   (default 1 per measurement)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpc_test.h"
#include "frames.h"

#define POOL 4096
#define STRIDE 2048
#define BURST 32

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 32) % n);
}

static uint32_t pick_size(void)
{
	uint32_t r;

	if (rnd(2) == 0)
		return 64;
	r = rnd(12);
	return r < 7 ? 64 : r < 11 ? 576 : 1500;
}

static const uint8_t v6x[16] = { 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
static const uint8_t v6y[16] = { 0x20, 0x01, 0x0d, 0xb8, 9, 9, 9, 9, 5, 6, 7, 8, 9, 10, 11, 13 };

static void l2(struct fb *f, uint16_t type)
{
	uint32_t r = rnd(100);

	if (r < 5) {
		fb_eth(f, fb_mac_a, fb_mac_b, 0x88a8);
		fb_vlan(f, (uint16_t)rnd(4096), 0x8100);
		fb_vlan(f, (uint16_t)rnd(4096), type);
	} else if (r < 25) {
		fb_eth(f, fb_mac_a, fb_mac_b, 0x8100);
		fb_vlan(f, (uint16_t)rnd(4096), type);
	} else {
		fb_eth(f, fb_mac_a, fb_mac_b, type);
	}
}

static void l3l4(struct fb *f, int v6, uint8_t proto)
{
	struct fb_ip4 ip = { .ttl = 64, .proto = proto, .frag = 0x4000,
			     .src = 0x0a000000u | rnd(1 << 16), .dst = 0xc0a80000u | rnd(256) };

	if (v6)
		fb_ipv6(f, proto, 0, 64, v6x, v6y);
	else
		fb_ipv4(f, &ip);
	if (proto == 6)
		fb_tcp(f, (uint16_t)(1024 + rnd(60000)), rnd(2) ? 443 : 80, DPC_TCP_ACK,
		       rnd(2) ? 20 : 32);
	else if (proto == 17)
		fb_udp(f, (uint16_t)(1024 + rnd(60000)), 53);
	else
		fb_icmp(f, 8, 0, v6);
}

static void build(struct fb *f, int *is_vxlan)
{
	uint32_t want = pick_size(), r = rnd(100);

	fb_init(f);
	*is_vxlan = 0;
	if (r < 30) {
		int o6 = rnd(10) == 0;
		struct fb_ip4 ip = { .ttl = 64, .proto = 17, .src = 0x64400001u,
				     .dst = 0x64400000u | rnd(256) };

		*is_vxlan = 1;
		l2(f, o6 ? 0x86dd : 0x0800);
		if (o6)
			fb_ipv6(f, 17, 0, 64, v6x, v6y);
		else
			fb_ipv4(f, &ip);
		fb_udp(f, (uint16_t)(49152 + rnd(16384)), 4789);
		fb_vxlan(f, 0x08, rnd(1 << 24));
		fb_eth(f, fb_mac_b, fb_mac_a, rnd(5) ? 0x0800 : 0x86dd);
		l3l4(f, f->b[f->n - 2] == 0x86, rnd(3) ? 6 : 17);
	} else if (r < 95) {
		uint32_t k = rnd(100);
		int v6 = k >= 70;
		uint8_t proto = (k % 70) < 45 ? 6 : (k % 70) < 65 ? 17 : (v6 ? 58 : 1);

		l2(f, v6 ? 0x86dd : 0x0800);
		l3l4(f, v6, proto);
	} else {
		l2(f, 0x0806);
		fb_arp(f, 1, 0x0a000001u, 0x0a000002u);
	}
	if (f->n < want)
		fb_payload(f, want - f->n, 0);
	fb_finish(f);
}

/* CPU time of this thread: on a shared machine, time spent descheduled
 * would otherwise be charged to the parser. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Parse frames [0, n) of the pool round after round for `secs`; ns/frame. */
static double run(const struct dpc_parse_opts *o, uint8_t *pool, const uint32_t *len,
		  const uint32_t *idx, unsigned n, double secs, uint64_t *sink)
{
	static struct dpc_key keys[BURST];
	uint64_t frames = 0, acc = 0;
	double t0 = now(), t;

	do {
		for (unsigned i = 0; i < n; i += BURST) {
			unsigned m = n - i < BURST ? n - i : BURST;

			for (unsigned j = 0; j < m; j++) {
				unsigned x = idx[i + j];

				dpc_parse(o, pool + (size_t)x * STRIDE, len[x], len[x], &keys[j]);
			}
			for (unsigned j = 0; j < m; j++)
				acc += keys[j].status + dpc_key_inner(&keys[j])->l4.dport;
		}
		frames += n;
		t = now();
	} while (t - t0 < secs);
	*sink += acc;
	return (t - t0) * 1e9 / (double)frames;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	uint8_t *pool = aligned_alloc(64, (size_t)POOL * STRIDE);
	static uint32_t len[POOL], all[POOL], vx[POOL], plain[POOL];
	unsigned nvx = 0, nplain = 0, ok = 0;
	uint64_t bytes = 0, sink = 0;
	struct dpc_parse_opts o;
	struct fb *f = malloc(sizeof(*f));
	double ns_all, ns_hot, ns_vx, ns_plain;

	if (pool == NULL || f == NULL)
		return 2;
	dpc_parse_opts_init(&o);
	for (unsigned i = 0; i < POOL; i++) {
		int is_vx;
		struct dpc_key k;

		build(f, &is_vx);
		len[i] = f->n < STRIDE ? f->n : STRIDE;
		memcpy(pool + (size_t)i * STRIDE, f->b, len[i]);
		bytes += len[i];
		all[i] = i;
		if (is_vx)
			vx[nvx++] = i;
		else
			plain[nplain++] = i;
		dpc_parse(&o, f->b, len[i], len[i], &k);
		ok += k.status == DPC_PARSE_OK && (!is_vx || (k.flags & DPC_KEY_VXLAN));
	}
	free(f);
	CHECK_EQ(ok, POOL, "every generated frame parses ok (VXLAN ones decapsulated)");
	printf("# mix: %u frames, %u VXLAN (%.0f%%), mean %.0f bytes\n", POOL, nvx,
	       100.0 * nvx / POOL, (double)bytes / POOL);
	ns_all = run(&o, pool, len, all, POOL, secs, &sink);
	ns_hot = run(&o, pool, len, all, 64, secs, &sink);
	ns_vx = run(&o, pool, len, vx, nvx, secs, &sink);
	ns_plain = run(&o, pool, len, plain, nplain, secs, &sink);
	printf("# dpc_parse: %.1f ns/frame on the mix (4096 frames, 8 MiB), %.1f ns/frame hot "
	       "(64 frames)\n", ns_all, ns_hot);
	printf("# dpc_parse: %.1f ns/frame VXLAN only, %.1f ns/frame non-VXLAN only\n", ns_vx,
	       ns_plain);
	printf("# (checksum %llu)\n", (unsigned long long)sink);
	CHECK(ns_all > 0 && ns_all < 1000, "mix parses in under 1 us/frame (%.1f ns)", ns_all);
	free(pool);
	return dpc_test_done();
}
