/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_screen_x8.h - the screen's common case, eight frames at a time
 * (x86-64 AVX-512).
 *
 * dpc_screen_v4() (dpc_screen.h) walks one frame with a branch per
 * header check: about 90 instructions a frame in the poll loop, with the
 * mbuf checks and the Bloom probes, which on 64-byte frames is a third of
 * the time the PMD itself takes per frame. The commonest frame (untagged
 * Ethernet, IPv4 with a 20-byte header, not a fragment, TCP, UDP that is
 * not VXLAN, ICMP or another protocol, at least 54 bytes captured) needs
 * the same few fields at the same offsets in every frame, so eight frames
 * go through it side by side: the fields are gathered into 64-bit lanes,
 * every check of dpc_screen_level() on such a frame is a lane compare
 * into a mask, and the two Bloom probes of all eight frames are one
 * 16-lane gather. About 20 instructions for eight frames' checks.
 *
 * It only ever says "unwanted" for a frame dpc_screen_v4() settles
 * through that common case with a Bloom miss; every other frame (a hit,
 * VXLAN, IPv6, short, odd) is left for dpc_screen_v4() to decide, so
 * the answer is the scalar screen's, frame for frame (tests/filter:
 * test_screen_x8 and fuzz_screen compare the two).
 *
 * Usable only where the CPU has AVX-512 F, BW, DQ and VL
 * (dpc_screen_x8_usable(): Intel Skylake-SP and later, AMD Zen 4); the
 * calling function must carry DPC_SCREEN_X8_TARGET.
 */
#ifndef DPC_SCREEN_X8_H
#define DPC_SCREEN_X8_H

#include "dpc_screen.h"

#if defined(__x86_64__) && defined(__GNUC__) && \
	__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define DPC_SCREEN_X8 1
#include <immintrin.h>

#define DPC_SCREEN_X8_TARGET \
	__attribute__((target("avx2,avx512f,avx512bw,avx512dq,avx512vl")))

/** Whether this CPU runs the x8 screen. */
static inline bool dpc_screen_x8_usable(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

/* 8 bytes at f + off in each lane of m (0 elsewhere). */
static inline __attribute__((always_inline)) DPC_SCREEN_X8_TARGET __m512i
dpc_screen_x8_at(__m512i f, long long off, __mmask8 m)
{
	return _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), m,
					   _mm512_add_epi64(f, _mm512_set1_epi64(off)),
					   (const void *)0, 1);
}

/*
 * One frame level at o (0, or 50 for the tenant frame of a VXLAN
 * datagram) in the lanes of m, captured to cap, declared to end: the
 * lanes where dpc_screen_level() returns 1 with the IPv4 header at o + 14,
 * given that every lane of m has cap >= o + 54. *addrs: the level's
 * source and destination (as loaded); *vx: the lanes that are a valid
 * UDP datagram to a VXLAN port (not in the result), with *ulen, *icap and
 * *flags (bits 16-23: the byte at o + 42, VXLAN's flags) for the caller.
 */
static inline __attribute__((always_inline)) DPC_SCREEN_X8_TARGET __mmask8
dpc_screen_x8_level(const struct dpc_parse_opts *opts, __m512i f, long long o,
		    __m512i cap, __m512i end, __mmask8 m, __m512i *addrs, __mmask8 *vx,
		    __m512i *ulen_out, __m512i *icap_out, __m512i *flags)
{
	/* byte swaps inside each 16-bit unit */
	const __m512i sw16 = _mm512_broadcast_i32x4(
		_mm_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14));
	const __m512i ff = _mm512_set1_epi64(0xff), ffff = _mm512_set1_epi64(0xffff);
	__m512i w0, w1, w4, w5, tot, iend, icap, proto, doff, ulen, dport;
	__mmask8 ok, tcp, udp, icmp, v = 0;
	unsigned n = opts->n_vxlan_ports;

	/* bytes 12-19: type, version/IHL, TOS, total length, id */
	w0 = dpc_screen_x8_at(f, o + 12, m);
	/* bytes 20-27: fragment word, TTL, protocol, checksum, source[0..1] */
	w1 = dpc_screen_x8_at(f, o + 20, m);
	/* bytes 26-33: source and destination */
	*addrs = dpc_screen_x8_at(f, o + 26, m);
	/* bytes 34-41: ports, UDP length (TCP: ports, sequence) */
	w4 = dpc_screen_x8_at(f, o + 34, m);
	/* bytes 40-47: VXLAN flags at 42, TCP data offset at 46 */
	w5 = dpc_screen_x8_at(f, o + 40, m);
	*flags = w5;

	ok = _mm512_mask_cmpeq_epi64_mask(m, _mm512_and_si512(w0, _mm512_set1_epi64(0xffffff)),
					  _mm512_set1_epi64(0x450008));
	w0 = _mm512_shuffle_epi8(w0, sw16);
	tot = _mm512_and_si512(_mm512_srli_epi64(w0, 32), ffff);
	iend = _mm512_add_epi64(tot, _mm512_set1_epi64(o + 14));
	ok = _mm512_mask_cmpge_epu64_mask(ok, tot, _mm512_set1_epi64(20));
	ok = _mm512_mask_cmple_epu64_mask(ok, iend, end);
	ok = _mm512_mask_testn_epi64_mask(ok, w1, _mm512_set1_epi64(DPC_SCREEN_RAW16(0x3fff)));
	icap = _mm512_min_epu64(iend, cap);
	*icap_out = icap;
	proto = _mm512_and_si512(_mm512_srli_epi64(w1, 24), ff);
	tcp = _mm512_mask_cmpeq_epi64_mask(ok, proto, _mm512_set1_epi64(6));
	udp = _mm512_mask_cmpeq_epi64_mask(ok, proto, _mm512_set1_epi64(17));
	icmp = _mm512_mask_cmpeq_epi64_mask(ok, proto, _mm512_set1_epi64(1));
	/* TCP: a whole 20-byte header, data offset >= 5 words, options captured */
	doff = _mm512_and_si512(_mm512_srli_epi64(w5, 48), ff);
	tcp = _mm512_mask_cmpge_epu64_mask(tcp, icap, _mm512_set1_epi64(o + 54));
	tcp = _mm512_mask_cmpge_epu64_mask(tcp, doff, _mm512_set1_epi64(0x50));
	tcp = _mm512_mask_cmple_epu64_mask(
		tcp, _mm512_add_epi64(_mm512_slli_epi64(_mm512_srli_epi64(doff, 4), 2),
				      _mm512_set1_epi64(o + 34)), icap);
	/* UDP: header captured, 8 <= length, datagram inside the IP packet,
	 * not a VXLAN port */
	w4 = _mm512_shuffle_epi8(w4, sw16);
	ulen = _mm512_and_si512(_mm512_srli_epi64(w4, 32), ffff);
	*ulen_out = ulen;
	dport = _mm512_and_si512(_mm512_srli_epi64(w4, 16), ffff);
	udp = _mm512_mask_cmpge_epu64_mask(udp, icap, _mm512_set1_epi64(o + 42));
	udp = _mm512_mask_cmpge_epu64_mask(udp, ulen, _mm512_set1_epi64(8));
	udp = _mm512_mask_cmple_epu64_mask(
		udp, _mm512_add_epi64(ulen, _mm512_set1_epi64(o + 34)), iend);
	for (unsigned k = 0; k < n && k < DPC_PARSE_VXLAN_PORTS_MAX; k++)
		v |= _mm512_mask_cmpeq_epi64_mask(udp, dport,
						  _mm512_set1_epi64(opts->vxlan_ports[k]));
	*vx = v;
	udp &= (__mmask8)~v;
	icmp = _mm512_mask_cmpge_epu64_mask(icmp, icap, _mm512_set1_epi64(o + 42));
	/* another protocol: nothing above IPv4 to check */
	return tcp | udp | icmp |
	       _mm512_mask_cmpneq_epi64_mask(
		       _mm512_mask_cmpneq_epi64_mask(
			       _mm512_mask_cmpneq_epi64_mask(ok, proto, _mm512_set1_epi64(6)),
			       proto, _mm512_set1_epi64(17)),
		       proto, _mm512_set1_epi64(1));
}

/**
 * The lanes of valid (up to eight frames: frame address f, captured
 * length cap, declared length end = max(wire length, cap)) that
 * dpc_screen_v4(bloom, opts, ...) would answer DPC_SCREEN_UNWANTED for
 * through the common case, on the outer frame or, for a VXLAN datagram
 * (one level, as opts allow), on its tenant frame. A lane not in the
 * result may still be unwanted: ask dpc_screen_v4(). Reads only within
 * the first 54 bytes of frames with cap >= 54 (104 bytes of a VXLAN
 * datagram's, when its tenant frame is captured that far), and the Bloom
 * filter.
 */
static inline __attribute__((always_inline)) DPC_SCREEN_X8_TARGET __mmask8
dpc_screen_v4_x8(const uint64_t *bloom, const struct dpc_parse_opts *opts,
		 __m512i f, __m512i cap, __m512i end, __mmask8 valid)
{
	/* byte swaps inside each 32-bit unit */
	const __m512i sw32 = _mm512_broadcast_i32x4(
		_mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
	__mmask8 m = valid & _mm512_cmpge_epu64_mask(cap, _mm512_set1_epi64(54));
	__m512i wa, ulen, icap, flags, h;
	__mmask8 l4, vx;

	if (!m)
		return 0;
	l4 = dpc_screen_x8_level(opts, f, 0, cap, end, m, &wa, &vx, &ulen, &icap, &flags);
	if (vx && opts->max_tunnel_depth >= 1) {
		/* VXLAN: the datagram (34 + UDP length) bounds the tenant
		 * frame at 50; its flags must carry the I bit */
		__m512i vend = _mm512_add_epi64(ulen, _mm512_set1_epi64(34));
		__m512i vcap = _mm512_min_epu64(vend, icap);
		__m512i wi, u2, c2, f2;
		__mmask8 vx2, in;

		vx = _mm512_mask_cmpge_epu64_mask(vx, vcap, _mm512_set1_epi64(50 + 54));
		vx = _mm512_mask_test_epi64_mask(vx, flags, _mm512_set1_epi64(0x08 << 16));
		if (vx) {
			/* the tenant frame; a VXLAN port inside is not the
			 * common case (vx2 lanes are left out) */
			in = dpc_screen_x8_level(opts, f, 50, vcap, vend, vx, &wi, &vx2,
						 &u2, &c2, &f2);
			wa = _mm512_mask_blend_epi64(in, wa, wi);
			l4 |= in;
		}
	}
	if (!l4)
		return 0;
	/* Both probes of all eight frames: addresses (byte-swapped to host
	 * order) in 32-bit lanes, dpc_screen_bloom_bit() on each, one gather
	 * of the filter's 32-bit words. Lanes outside l4 probe whatever their
	 * zeros hash to, inside the filter, and are masked off after. */
	h = _mm512_shuffle_epi8(wa, sw32);
	h = _mm512_xor_si512(h, _mm512_set1_epi32((int)((uint32_t)(DPC_SCREEN_KEY_V4_INNER >> 32) *
							  0x85EBCA6Bu)));
	h = _mm512_srli_epi32(_mm512_mullo_epi32(h, _mm512_set1_epi32((int)0x9E3779B1u)),
			      32 - DPC_SCREEN_BLOOM_LOG2);
	h = _mm512_srlv_epi32(_mm512_i32gather_epi32(_mm512_srli_epi32(h, 5), bloom, 4),
			      _mm512_and_si512(h, _mm512_set1_epi32(31)));
	/* a frame is a miss when neither of its two probes hit */
	h = _mm512_or_si512(h, _mm512_srli_epi64(h, 32));
	return l4 & (__mmask8)~_mm512_test_epi64_mask(h, _mm512_set1_epi64(1));
}
#endif

#endif /* DPC_SCREEN_X8_H */
