/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_screen.h - the screen's fast form, inline, for a poll loop.
 *
 * dpc_classifier_screen() (dpc_filter.h) answers "certainly wanted by no
 * job, and dpc_parse() would say OK" for a frame, before any parse. For
 * the commonest job set, jobs indexed on innermost IPv4 hosts only
 * (`host A`, `host A and port P`, `src host A and tcp`, ...), its work on
 * the commonest frame is a short walk and two Bloom probes: about forty
 * instructions, of which a function call (register saves, argument
 * checks) would be a third. This header holds that walk so a poll loop
 * can inline it; dpc_classifier_screen() runs the very same code, so the
 * oracle tests and the fuzzer of the screen cover it.
 *
 *   const uint64_t *bloom = dpc_classifier_screen_v4(cls);  // per burst
 *   r = bloom ? dpc_screen_v4(bloom, opts, frame, caplen, wirelen) : -1;
 *   r == DPC_SCREEN_UNWANTED: count the frame unwanted, no parse;
 *   r == DPC_SCREEN_HIT: a Bloom hit: parse and classify;
 *   r == DPC_SCREEN_OTHER: not the common frame: dpc_classifier_screen().
 *
 * The Bloom filter's geometry and key layout are the classifier's
 * (classifier.c builds it with these definitions).
 */
#ifndef DPC_SCREEN_H
#define DPC_SCREEN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dpc_parse.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DPC_SCREEN_BLOOM_LOG2 14
/** The Bloom filter's size in bytes (2 KiB: 32 cache lines). */
#define DPC_SCREEN_BLOOM_BYTES ((1u << DPC_SCREEN_BLOOM_LOG2) / 8)
/* The classifier's 64-bit key of an innermost IPv4 address atom, less the
 * address: type A_V4 (1) << 40 | scope inner (0) << 32. */
#define DPC_SCREEN_KEY_V4_INNER ((uint64_t)1 << 40)

enum {
	DPC_SCREEN_OTHER = -1,    /* not the common frame: ask the full screen */
	DPC_SCREEN_HIT = 0,       /* a Bloom hit: parse and classify */
	DPC_SCREEN_UNWANTED = 1,  /* no job wants it and it parses OK */
};

/** The Bloom bit of a classifier key: a 32-bit multiplicative hash of
 * the value mixed with its type and scope (the high word), so that for
 * one kind of key the mix folds into a constant and a probe costs an xor,
 * a multiply and two shifts. */
static inline uint32_t dpc_screen_bloom_bit(uint64_t k)
{
	uint32_t x = ((uint32_t)k ^ ((uint32_t)(k >> 32) * 0x85EBCA6Bu)) * 0x9E3779B1u;

	return x >> (32 - DPC_SCREEN_BLOOM_LOG2);
}

static inline bool dpc_screen_bloom_has(const uint64_t *bloom, uint64_t k)
{
	uint32_t b = dpc_screen_bloom_bit(k);

	return (bloom[b >> 6] >> (b & 63)) & 1;
}

static inline uint32_t dpc_screen_be16(const uint8_t *p)
{
	return ((uint32_t)p[0] << 8) | p[1];
}

static inline uint32_t dpc_screen_be32(const uint8_t *p)
{
	uint32_t x;

	memcpy(&x, p, 4);
	return __builtin_bswap32(x);
}

/* A 16-bit field as loaded in host order, compared with a constant
 * swapped at compile time (saves the byte swap per load). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define DPC_SCREEN_RAW16(x) ((uint16_t)((((x) >> 8) & 0xff) | (((x) & 0xff) << 8)))
#else
#define DPC_SCREEN_RAW16(x) ((uint16_t)(x))
#endif

static inline uint16_t dpc_screen_ld16(const uint8_t *p)
{
	uint16_t x;

	memcpy(&x, p, 2);
	return x;
}

/*
 * One frame level at o, captured to cap, declared to end (the wire length
 * outside, the UDP length inside VXLAN): untagged Ethernet, IPv4 with a
 * 20-byte header, not a fragment, TCP/UDP/ICMP or another protocol, at
 * most one VXLAN level whose tenant frame is the same. It repeats exactly
 * the checks dpc_parse() makes on such a frame.
 * 1: the IPv4 header is at *l3 and passes every check dpc_parse() makes
 * on it and above; 0: not IPv4 and nothing above Ethernet to parse;
 * 2: VXLAN, the tenant frame at *inner (inner == NULL: give up instead);
 * -1: anything else.
 */
static inline __attribute__((always_inline)) int
dpc_screen_level(const uint8_t *f, uint32_t o, uint32_t cap, uint32_t end,
		 const struct dpc_parse_opts *opts, uint32_t *l3, uint32_t *inner,
		 uint32_t *icap_out, uint32_t *iend_out)
{
	uint32_t p = o + 14, tot, iend, icap, l4;
	uint16_t et;
	const uint8_t *b;

	if (p + 20 > cap)
		return -1;
	et = dpc_screen_ld16(f + o + 12);
	if (et != DPC_SCREEN_RAW16(0x0800)) {
		if (et == DPC_SCREEN_RAW16(0x86dd) || et == DPC_SCREEN_RAW16(0x0806) ||
		    et == DPC_SCREEN_RAW16(0x8035) || et == DPC_SCREEN_RAW16(0x8100) ||
		    et == DPC_SCREEN_RAW16(0x88a8) || et == DPC_SCREEN_RAW16(0x9100))
			return -1;
		return 0;
	}
	b = f + p;
	tot = dpc_screen_be16(b + 2);
	iend = p + tot;
	if (b[0] != 0x45 || tot < 20 || iend > end ||
	    (dpc_screen_ld16(b + 6) & DPC_SCREEN_RAW16(0x3fff)))
		return -1;
	icap = iend < cap ? iend : cap;
	*l3 = p;
	l4 = p + 20;
	switch (b[9]) {
	case 6: {
		uint32_t x;

		if (l4 + 20 > icap)
			return -1;
		x = f[l4 + 12];
		return x >= 0x50 && l4 + (x >> 4) * 4 <= icap ? 1 : -1;
	}
	case 17: {
		uint32_t ulen, vend, vcap;

		if (l4 + 8 > icap)
			return -1;
		ulen = dpc_screen_be16(f + l4 + 4);
		vend = l4 + ulen;
		if (ulen < 8 || vend > iend)
			return -1;
		if (opts->n_vxlan_ports == 0 ||
		    !dpc_parse_is_vxlan_port(opts, (uint16_t)dpc_screen_be16(f + l4 + 2)))
			return 1;
		if (inner == NULL || opts->max_tunnel_depth < 1)
			return -1;
		vcap = vend < icap ? vend : icap;
		if (l4 + 16 > vcap || !(f[l4 + 8] & 0x08))
			return -1;
		*inner = l4 + 16;
		*icap_out = vcap;
		*iend_out = vend;
		return 2;
	}
	case 1:
		return l4 + 8 <= icap ? 1 : -1;
	default:
		return 1;
	}
}

/**
 * The screen of a set of innermost-IPv4 host jobs, whose Bloom filter
 * dpc_classifier_screen_v4() returned. DPC_SCREEN_UNWANTED exactly when
 * dpc_classifier_screen() would return true by its fast walk;
 * DPC_SCREEN_HIT when the walk passed and an address hit the Bloom filter
 * (dpc_classifier_screen() says false); DPC_SCREEN_OTHER when the frame
 * is not one the walk knows (dpc_classifier_screen() decides).
 */
static inline __attribute__((always_inline)) int
dpc_screen_v4(const uint64_t *bloom, const struct dpc_parse_opts *opts,
	      const uint8_t *frame, uint32_t caplen, uint32_t wirelen)
{
	uint32_t end = wirelen > caplen ? wirelen : caplen;
	uint32_t l3 = 0, in = 0, icap = 0, iend = 0;
	int r;

	if (caplen > 0xffff)
		return DPC_SCREEN_OTHER;
	r = dpc_screen_level(frame, 0, caplen, end, opts, &l3, &in, &icap, &iend);
	if (r == 2)
		r = dpc_screen_level(frame, in, icap, iend, opts, &l3, NULL, &icap, &iend);
	if (r == 0)
		return DPC_SCREEN_UNWANTED;
	if (r == 1) {
		/* both probes, then one branch */
		uint32_t s = dpc_screen_bloom_bit(DPC_SCREEN_KEY_V4_INNER |
						  dpc_screen_be32(frame + l3 + 12));
		uint32_t d = dpc_screen_bloom_bit(DPC_SCREEN_KEY_V4_INNER |
						  dpc_screen_be32(frame + l3 + 16));

		return ((bloom[s >> 6] >> (s & 63)) | (bloom[d >> 6] >> (d & 63))) & 1 ?
			DPC_SCREEN_HIT : DPC_SCREEN_UNWANTED;
	}
	return DPC_SCREEN_OTHER;
}

#ifdef __cplusplus
}
#endif

#endif /* DPC_SCREEN_H */
