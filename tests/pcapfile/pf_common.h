/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pf_common.h - deterministic frames and a libpcap read-back checker shared
 * by the lib/pcapfile tests. Frames are well-formed Ethernet/IPv4/UDP
 * (lengths consistent with the wire length) so tshark and tcpdump dissect
 * them without complaint; the payload depends on a seed.
 */
#ifndef PF_COMMON_H
#define PF_COMMON_H

#include <stdint.h>
#include <string.h>

#define PF_BASE_NS 1700000000123456789ull

struct pf_rec {
	uint64_t ts;
	uint32_t len;                /* wire length */
	uint32_t seed;
};

static inline uint16_t pf_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Fill len (>= 42) bytes of an Ethernet/IPv4/UDP frame for seed. */
static inline void pf_frame(uint8_t *p, uint32_t len, uint32_t seed)
{
	uint32_t i, ipl = len - 14, udpl = len - 34;
	uint16_t c;

	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	memcpy(p, dst, 6);
	p[6] = 0x02; p[7] = 0; p[8] = 0; p[9] = (uint8_t)(seed >> 16);
	p[10] = (uint8_t)(seed >> 8); p[11] = (uint8_t)seed;
	p[12] = 0x08; p[13] = 0x00;
	p[14] = 0x45; p[15] = 0;
	p[16] = (uint8_t)(ipl >> 8); p[17] = (uint8_t)ipl;
	p[18] = (uint8_t)(seed >> 8); p[19] = (uint8_t)seed;
	p[20] = 0x40; p[21] = 0; p[22] = 64; p[23] = 17;
	p[24] = 0; p[25] = 0;
	p[26] = 10; p[27] = 0; p[28] = (uint8_t)(seed >> 8); p[29] = (uint8_t)seed;
	p[30] = 10; p[31] = 1; p[32] = 0; p[33] = 1;
	c = pf_csum(p + 14, 20);
	p[24] = (uint8_t)(c >> 8); p[25] = (uint8_t)c;
	p[34] = (uint8_t)((10000 + seed % 1000) >> 8); p[35] = (uint8_t)(10000 + seed % 1000);
	p[36] = 0x13; p[37] = 0x88;  /* 5000 */
	p[38] = (uint8_t)(udpl >> 8); p[39] = (uint8_t)udpl;
	p[40] = 0; p[41] = 0;        /* no UDP checksum */
	for (i = 42; i < len; i++)
		p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

/* A varied, deterministic sequence: sizes 60..1514, ts 1 us apart (+jitter). */
static inline void pf_seq(struct pf_rec *r, size_t n, uint64_t base, uint64_t step)
{
	size_t i;

	for (i = 0; i < n; i++) {
		r[i].ts = base + i * step + (i * 37u) % 997u;
		r[i].len = 60u + (uint32_t)((i * 389u) % 1455u);
		r[i].seed = (uint32_t)i + 1u;
	}
}

#endif /* PF_COMMON_H */
