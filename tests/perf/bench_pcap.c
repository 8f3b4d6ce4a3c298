/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_pcap - the benchmark's traffic generator and pcap record counter.
 *
 *   bench_pcap gen --profile small|imix|overlay -n N -o FILE [--seed S]
 *   bench_pcap count FILE...          (classic pcap, either magic, or pcapng)
 *
 * The traffic has a known shape so that filters of a known selectivity can
 * be written for it (scripts/bench relies on this):
 *   - 100 servers 10.2.0.1 .. 10.2.0.100; server s (1-based) listens on
 *     port 2000+s; each packet picks one server uniformly at random, so
 *     "host 10.2.0.s and port 2000+s" matches about 1% of the packets;
 *   - clients 10.1.x.y on random ports >= 1024, direction random;
 *   - 80% TCP (2% of them with SYN set, the rest ACK|PSH), 20% UDP;
 *   - small: 64-byte frames; imix: 64/570/1518 bytes in 7:4:1;
 *     overlay: IMIX sizes, 30% of frames are VXLAN (UDP 4789, underlay
 *     192.168.1.x -> 192.168.2.x, VNI 100..107) carrying the same
 *     inner TCP/UDP traffic (a VXLAN frame is at least 104 bytes).
 * Deterministic: the same arguments give byte-identical files.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP 65535u
#define N_SERVERS 100u
#define VXLAN_PORT 4789u

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: deterministic, fast, good enough for traffic shapes. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t ip_csum(const uint8_t *h)
{
	uint32_t s = 0;

	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void eth(uint8_t *p, uint32_t a, uint32_t b)
{
	static const uint8_t oui[3] = {0x02, 0x00, 0x5e};

	memcpy(p, oui, 3);
	put16(p + 3, (uint16_t)(b >> 8));
	p[5] = (uint8_t)b;
	memcpy(p + 6, oui, 3);
	put16(p + 9, (uint16_t)(a >> 8));
	p[11] = (uint8_t)a;
	put16(p + 12, 0x0800);
}

static void ipv4(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto,
		 uint16_t tot_len, uint16_t id)
{
	p[0] = 0x45;
	p[1] = 0;
	put16(p + 2, tot_len);
	put16(p + 4, id);
	put16(p + 6, 0x4000);
	p[8] = 64;
	p[9] = proto;
	put16(p + 10, 0);
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, ip_csum(p));
}

/* Ethernet/IPv4/TCP-or-UDP of exactly len bytes (len >= 54) at p. */
static void inner_frame(uint8_t *p, uint32_t len, uint32_t seq)
{
	uint32_t srv = rnd() % N_SERVERS + 1;
	uint32_t cli = 0x0a010000u | (rnd() & 0xffff);
	uint32_t server_ip = 0x0a020000u | srv;
	uint16_t sport = (uint16_t)(1024 + rnd() % 60000);
	uint16_t dport = (uint16_t)(2000 + srv);
	uint32_t r = rnd();
	int to_server = r & 1;
	int tcp = (r >> 1) % 10 < 8;
	uint32_t src = to_server ? cli : server_ip;
	uint32_t dst = to_server ? server_ip : cli;
	uint8_t *l4 = p + 34;

	if (!to_server) {
		uint16_t t = sport;

		sport = dport;
		dport = t;
	}
	eth(p, src, dst);
	ipv4(p + 14, src, dst, tcp ? 6 : 17, (uint16_t)(len - 14), (uint16_t)seq);
	put16(l4, sport);
	put16(l4 + 2, dport);
	if (tcp) {
		put32(l4 + 4, seq * 1000u);
		put32(l4 + 8, 1);
		l4[12] = 5 << 4;
		l4[13] = ((r >> 8) % 50 == 0) ? 0x02 : 0x18;
		put16(l4 + 14, 65535);
	} else {
		put16(l4 + 4, (uint16_t)(len - 34));
	}
}

static uint32_t imix_size(void)
{
	uint32_t r = rnd() % 12;

	return r < 7 ? 64 : r < 11 ? 570 : 1518;
}

static int gen(const char *profile, unsigned long n, const char *out,
	       uint64_t seed)
{
	static uint8_t frame[2048];
	uint8_t gh[24] = {0};
	FILE *f;
	int mode;

	if (!strcmp(profile, "small"))
		mode = 0;
	else if (!strcmp(profile, "imix"))
		mode = 1;
	else if (!strcmp(profile, "overlay"))
		mode = 2;
	else {
		fprintf(stderr, "bench_pcap: unknown profile '%s'\n", profile);
		return 2;
	}
	f = fopen(out, "wb");
	if (!f) {
		fprintf(stderr, "bench_pcap: %s: %s\n", out, strerror(errno));
		return 1;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 22);
	rng_state = seed ? seed : 1;
	/* Classic pcap, microsecond magic, written in host (little) order. */
	uint32_t magic = 0xa1b2c3d4, snap = SNAP, link = 1;
	uint16_t vmaj = 2, vmin = 4;
	memcpy(gh, &magic, 4);
	memcpy(gh + 4, &vmaj, 2);
	memcpy(gh + 6, &vmin, 2);
	memcpy(gh + 16, &snap, 4);
	memcpy(gh + 20, &link, 4);
	fwrite(gh, 1, sizeof(gh), f);
	for (unsigned long i = 0; i < n; i++) {
		uint32_t len = mode == 0 ? 64 : imix_size();
		int vx = mode == 2 && rnd() % 10 < 3;

		memset(frame, 0, len < 104 ? 104 : len);
		if (vx) {
			uint32_t osrc = 0xc0a80100u | (rnd() % 16 + 1);
			uint32_t odst = 0xc0a80200u | (rnd() % 16 + 1);
			uint32_t vni = 100 + rnd() % 8;

			if (len < 104)
				len = 104;
			eth(frame, osrc, odst);
			ipv4(frame + 14, osrc, odst, 17, (uint16_t)(len - 14),
			     (uint16_t)i);
			put16(frame + 34, (uint16_t)(49152 + rnd() % 16384));
			put16(frame + 36, VXLAN_PORT);
			put16(frame + 38, (uint16_t)(len - 34));
			frame[42] = 0x08;
			put32(frame + 46, vni << 8);
			inner_frame(frame + 50, len - 50, (uint32_t)i);
		} else {
			inner_frame(frame, len, (uint32_t)i);
		}
		uint32_t rh[4];
		uint64_t us = 1700000000000000ULL + i;
		rh[0] = (uint32_t)(us / 1000000);
		rh[1] = (uint32_t)(us % 1000000);
		rh[2] = len;
		rh[3] = len;
		fwrite(rh, 1, sizeof(rh), f);
		fwrite(frame, 1, len, f);
	}
	if (fclose(f)) {
		fprintf(stderr, "bench_pcap: %s: %s\n", out, strerror(errno));
		return 1;
	}
	printf("%lu\n", n);
	return 0;
}

/* Count records: classic pcap (any magic/byte order) or pcapng EPB/SPB/PB.
 * Returns -1 on a malformed file. */
static long long count_file(const char *path, unsigned long long *bytes)
{
	uint8_t buf[28];
	long long n = 0;
	FILE *f = fopen(path, "rb");

	*bytes = 0;
	if (!f)
		return -1;
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	if (fread(buf, 1, 4, f) != 4) {
		fclose(f);
		return 0; /* empty file: no records */
	}
	uint32_t m;
	memcpy(&m, buf, 4);
	if (m == 0x0a0d0d0a) { /* pcapng: walk blocks */
		uint32_t t, bl;
		int sw = 0;

		if (fseek(f, 0, SEEK_SET))
			goto bad;
		while (fread(&t, 1, 4, f) == 4) {
			if (fread(&bl, 1, 4, f) != 4)
				goto bad;
			if (t == 0x0a0d0d0a) {
				uint32_t bom;

				if (fread(&bom, 1, 4, f) != 4)
					goto bad;
				sw = bom == 0x4d3c2b1a;
				if (sw)
					bl = __builtin_bswap32(bl);
				if (bl < 28 || fseek(f, (long)bl - 12, SEEK_CUR))
					goto bad;
				continue;
			}
			if (sw) {
				t = __builtin_bswap32(t);
				bl = __builtin_bswap32(bl);
			}
			if (bl < 12)
				goto bad;
			if (t == 6 || t == 3 || t == 2) {
				n++;
				*bytes += bl;
			}
			if (fseek(f, (long)bl - 8, SEEK_CUR))
				goto bad;
		}
		fclose(f);
		return n;
	}
	int swap;
	if (m == 0xa1b2c3d4 || m == 0xa1b23c4d)
		swap = 0;
	else if (m == 0xd4c3b2a1 || m == 0x4d3cb2a1)
		swap = 1;
	else
		goto bad;
	if (fseek(f, 24, SEEK_SET))
		goto bad;
	for (;;) {
		uint32_t rh[4];
		size_t got = fread(rh, 1, 16, f);
		if (got == 0)
			break;
		if (got != 16)
			goto bad;
		uint32_t cl = swap ? __builtin_bswap32(rh[2]) : rh[2];
		if (cl > 262144 || fseek(f, cl, SEEK_CUR))
			goto bad;
		n++;
		*bytes += cl;
	}
	fclose(f);
	return n;
bad:
	fclose(f);
	return -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_pcap gen --profile small|imix|overlay -n N -o FILE [--seed S]\n"
		"       bench_pcap count FILE...\n");
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "gen")) {
		const char *profile = NULL, *out = NULL;
		unsigned long n = 0;
		uint64_t seed = 12345;

		for (int i = 2; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "--profile"))
				profile = argv[i + 1];
			else if (!strcmp(argv[i], "-n"))
				n = strtoul(argv[i + 1], NULL, 0);
			else if (!strcmp(argv[i], "-o"))
				out = argv[i + 1];
			else if (!strcmp(argv[i], "--seed"))
				seed = strtoull(argv[i + 1], NULL, 0);
			else {
				usage();
				return 2;
			}
		}
		if (!profile || !out || !n) {
			usage();
			return 2;
		}
		return gen(profile, n, out, seed);
	}
	if (argc >= 3 && !strcmp(argv[1], "count")) {
		int rc = 0;
		for (int i = 2; i < argc; i++) {
			unsigned long long bytes;
			long long n = count_file(argv[i], &bytes);
			if (n < 0) {
				fprintf(stderr, "bench_pcap: %s: not a readable pcap\n",
					argv[i]);
				rc = 1;
			}
			printf("%lld %llu\n", n, bytes);
		}
		return rc;
	}
	usage();
	return 2;
}
