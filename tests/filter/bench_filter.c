/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_filter.c - cost of dpcap's filter and classifier per packet, next
 * to libpcap's bpf_filter and DPDK's JIT-compiled rte_bpf on the same
 * packets (suite perf; not run by CI).
 *
 * Mix: NPKT packets held in memory (in cache), 30% VXLAN, sizes 64-byte
 * heavy plus IMIX (55% 64 B, 25% 576 B, 15% 1518 B, 5% uniform). Jobs:
 * "host 10.1.0.<i+1> and tcp port 80", each matching ~1% of the packets.
 * For K = 1, 8, 64 jobs it reports ns/packet of
 *   dpcap   dpc_classifier_match on the parsed key (and with the parse),
 *   libpcap bpf_filter, once per job, on the frame bytes,
 *   rte_bpf the same programs via rte_bpf_convert + JIT, once per job,
 * plus the parse alone, dpc_filter_match of a single job and a hand-written
 * C check. With --callgrind it re-runs each case under valgrind for two
 * run lengths and reports instructions/packet (the difference, so start-up
 * cancels). Prints a table, then one JSON line.
 *
 * Usage: bench_filter [--callgrind] [--reps N]  (N: passes over the mix per
 * timed run; the shortest of 25 runs is reported)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <pcap/pcap.h>

#include <rte_bpf.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dpc_filter.h"
#include "dpc_parse.h"
#include "filter_gen.h"

#define NPKT 1024
#define KMAX 64

struct bpkt {
	uint8_t data[1600];
	uint32_t len;
	struct dpc_key key;
	struct rte_mbuf *m;
};

static struct bpkt *pkts;
static struct dpc_filter *jobs[KMAX];
static struct bpf_program progs[KMAX];
static struct rte_bpf *rbpf[KMAX];
static struct rte_bpf_jit jit[KMAX];
static struct dpc_classifier *cls[3];
static const unsigned ks[3] = { 1, 8, 64 };
static struct dpc_parse_opts opts;
static bool have_eal;
static volatile uint64_t sink;

static uint32_t job_addr(unsigned i)
{
	return 0x0a010000u | (i + 1);
}

static uint32_t build_inner(struct gen_rng *r, uint8_t *p, uint32_t size)
{
	uint8_t *ip = p + 14, *l4 = ip + 20;
	uint32_t src = 0xac100000u | gen_below(r, 65536);
	uint32_t dst = 0xac100000u | gen_below(r, 65536);
	uint16_t sp = (uint16_t)(1024 + gen_below(r, 60000));
	uint16_t dp = gen_below(r, 10) ? (uint16_t)(1024 + gen_below(r, 60000)) : 80;
	int proto = gen_below(r, 10) < 7 ? 6 : 17;

	if (gen_below(r, 100) < 64) {
		/* wanted by job j: its host on one side, tcp port 80 mostly */
		unsigned j = gen_below(r, KMAX);

		if (gen_below(r, 2))
			src = job_addr(j);
		else
			dst = job_addr(j);
		proto = 6;
		dp = gen_below(r, 10) ? 80 : 8080;
	}
	memset(p, 0, size);
	memcpy(p, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	gen_put16(p + 12, 0x0800);
	ip[0] = 0x45;
	gen_put16(ip + 2, size - 14);
	ip[8] = 64;
	ip[9] = (uint8_t)proto;
	gen_put32(ip + 12, src);
	gen_put32(ip + 16, dst);
	gen_put16(l4, sp);
	gen_put16(l4 + 2, dp);
	if (proto == 6)
		l4[12] = 0x50;
	else
		gen_put16(l4 + 4, size - 34);
	return size;
}

static uint32_t pick_size(struct gen_rng *r)
{
	uint32_t x = gen_below(r, 100);

	if (x < 55)
		return 64;
	if (x < 80)
		return 576;
	if (x < 95)
		return 1518;
	return 64 + gen_below(r, 1455);
}

static void build_mix(void)
{
	struct gen_rng r = { 2026 };

	for (unsigned i = 0; i < NPKT; i++) {
		struct bpkt *b = &pkts[i];
		uint32_t size = pick_size(&r);

		if (gen_below(&r, 10) < 3) {
			/* VXLAN: outer Eth/IPv4/UDP 4789/VXLAN + inner frame */
			uint32_t in = size > 114 ? size - 50 : 64;
			uint8_t *o = b->data;

			memset(o, 0, 50);
			memcpy(o, "\x02\x00\x00\x00\x00\x0a\x02\x00\x00\x00\x00\x0b", 12);
			gen_put16(o + 12, 0x0800);
			o[14] = 0x45;
			gen_put16(o + 16, 36 + in);
			o[22] = 64;
			o[23] = 17;
			gen_put32(o + 26, 0xc000020a);
			gen_put32(o + 30, 0xc0000214);
			gen_put16(o + 34, 50000);
			gen_put16(o + 36, 4789);
			gen_put16(o + 38, 16 + in);
			o[42] = 0x08;
			gen_put32(o + 46, 5001u << 8);
			build_inner(&r, o + 50, in);
			b->len = 50 + in;
		} else {
			b->len = build_inner(&r, b->data, size);
		}
		dpc_parse(&opts, b->data, b->len, b->len, &b->key);
	}
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The hand-written check for "host 10.1.0.1 and tcp port 80" (plain IPv4). */
static bool hand_check(const uint8_t *p, uint32_t len)
{
	uint32_t a = job_addr(0), s, d, ihl;

	if (len < 34 || p[12] != 0x08 || p[13] != 0x00)
		return false;
	s = (uint32_t)p[26] << 24 | p[27] << 16 | p[28] << 8 | p[29];
	d = (uint32_t)p[30] << 24 | p[31] << 16 | p[32] << 8 | p[33];
	if ((s != a && d != a) || p[23] != 6 || ((p[20] << 8 | p[21]) & 0x1fff))
		return false;
	ihl = (p[14] & 0xf) * 4u;
	if (len < 14 + ihl + 4)
		return false;
	return (p[14 + ihl] << 8 | p[15 + ihl]) == 80 ||
	       (p[16 + ihl] << 8 | p[17 + ihl]) == 80;
}

enum bcase { C_PARSE, C_MATCH1, C_HAND, C_DPCAP, C_DPCAP_PARSE, C_E2E, C_PCAP, C_RTE, C_N };
static const char *const cname[C_N] = {
	"parse", "dpcap_match_k1", "hand_c_k1", "dpcap", "dpcap_parse", "dpcap_e2e",
	"libpcap", "rte_bpf_jit",
};

static void run_case(int c, int ki, unsigned reps)
{
	uint64_t acc = 0;
	unsigned k = ks[ki];

	for (unsigned rep = 0; rep < reps; rep++) {
		for (unsigned i = 0; i < NPKT; i++) {
			struct bpkt *b = &pkts[i];

			switch (c) {
			case C_PARSE:
				acc += (uint64_t)dpc_parse(&opts, b->data, b->len, b->len, &b->key);
				break;
			case C_MATCH1:
				acc += dpc_filter_match(jobs[0], &b->key, b->data, b->len);
				break;
			case C_HAND:
				acc += hand_check(b->data, b->len);
				break;
			case C_DPCAP:
				acc += dpc_classifier_match(cls[ki], &b->key, b->data, b->len);
				break;
			case C_DPCAP_PARSE: {
				struct dpc_key key;

				dpc_parse(&opts, b->data, b->len, b->len, &key);
				acc += dpc_classifier_match(cls[ki], &key, b->data, b->len);
				break;
			}
			case C_E2E: {
				/* what dpcapd's worker does: the screen, and the
				 * parse + classify only for what it lets through */
				struct dpc_key key;

				if (dpc_classifier_screen(cls[ki], &opts, b->data, b->len,
							  b->len))
					break;
				dpc_parse(&opts, b->data, b->len, b->len, &key);
				acc += dpc_classifier_match(cls[ki], &key, b->data, b->len);
				break;
			}
			case C_PCAP:
				for (unsigned j = 0; j < k; j++)
					acc += bpf_filter(progs[j].bf_insns, b->data, b->len,
							  b->len) != 0;
				break;
			case C_RTE:
				for (unsigned j = 0; j < k; j++)
					acc += jit[j].func(b->m) != 0;
				break;
			}
		}
	}
	sink += acc;
}

static bool case_has_k(int c)
{
	return c == C_DPCAP || c == C_DPCAP_PARSE || c == C_E2E || c == C_PCAP ||
	       c == C_RTE;
}

static double measure(int c, int ki, unsigned reps)
{
	double best = 1e30;

	run_case(c, ki, 2);
	/* the shortest of many short runs: this box is shared and noisy */
	for (int t = 0; t < 25; t++) {
		double t0 = now_ns(), dt;

		run_case(c, ki, reps);
		dt = (now_ns() - t0) / ((double)reps * NPKT);
		if (dt < best)
			best = dt;
	}
	return best;
}

static int setup(const char *argv0, bool want_eal)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 262144);
	struct rte_mempool *mp;

	dpc_parse_opts_init(&opts);
	pkts = calloc(NPKT, sizeof(*pkts));
	if (pkts == NULL || pd == NULL)
		return -ENOMEM;
	build_mix();
	for (unsigned i = 0; i < KMAX; i++) {
		char e[96];
		struct dpc_filter_error err;

		snprintf(e, sizeof(e), "host 10.1.0.%u and tcp port 80", i + 1);
		jobs[i] = dpc_filter_compile(e, &err);
		if (jobs[i] == NULL || pcap_compile(pd, &progs[i], e, 1,
						    PCAP_NETMASK_UNKNOWN) != 0) {
			fprintf(stderr, "bench: cannot compile %s\n", e);
			return -EINVAL;
		}
	}
	for (int i = 0; i < 3; i++)
		cls[i] = dpc_classifier_build(jobs, ks[i]);
	pcap_close(pd);
	if (!want_eal)
		return 0;
	{
		char prefix[64];
		char *eal[] = { (char *)argv0, "-l", "0", "--no-huge", "-m", "512",
				"--no-pci", "--file-prefix", prefix,
				"--log-level", "lib.*:error", NULL };

		snprintf(prefix, sizeof(prefix), "dpc-filter-bench-%d", (int)getpid());
		if (rte_eal_init(11, eal) < 0) {
			fprintf(stderr, "bench: EAL init failed; rte_bpf rows skipped\n");
			return 0;
		}
	}
	mp = rte_pktmbuf_pool_create("bench", NPKT * 2, 0, 0,
				     RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (mp == NULL)
		return 0;
	for (unsigned i = 0; i < NPKT; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		char *d;

		if (m == NULL || (d = rte_pktmbuf_append(m, (uint16_t)pkts[i].len)) == NULL)
			return 0;
		memcpy(d, pkts[i].data, pkts[i].len);
		pkts[i].m = m;
	}
	for (unsigned i = 0; i < KMAX; i++) {
		struct rte_bpf_prm *prm = rte_bpf_convert(&progs[i]);

		if (prm == NULL)
			return 0;
		rbpf[i] = rte_bpf_load(prm);
		rte_free(prm);
		if (rbpf[i] == NULL || rte_bpf_get_jit(rbpf[i], &jit[i]) != 0 ||
		    jit[i].func == NULL)
			return 0;
	}
	have_eal = true;
	return 0;
}

/* Instructions executed by `self --case c --k ki --reps n`, from callgrind. */
static double callgrind_ir(const char *self, int c, int ki, unsigned reps)
{
	char out[128], cmd[1024], line[512];
	double ir = -1;
	FILE *f;

	snprintf(out, sizeof(out), "/tmp/dpc-filter-cg-%d.out", (int)getpid());
	snprintf(cmd, sizeof(cmd), "valgrind --tool=callgrind --callgrind-out-file=%s "
		 "%s --case %d --k %d --reps %u >/dev/null 2>&1", out, self, c, ki, reps);
	if (system(cmd) != 0)
		return -1;
	f = fopen(out, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "summary:", 8) || !strncmp(line, "totals:", 7))
			ir = strtod(strchr(line, ':') + 1, NULL);
	if (f)
		fclose(f);
	unlink(out);
	return ir;
}

int main(int argc, char **argv)
{
	bool cg = false;
	int only_case = -1, only_k = 0;
	unsigned reps = 40;
	double ns[C_N][3], ipp[C_N][3];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--callgrind"))
			cg = true;
		else if (!strcmp(argv[i], "--case") && i + 1 < argc)
			only_case = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--k") && i + 1 < argc)
			only_k = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--callgrind] [--reps N]\n", argv[0]);
			return 2;
		}
	}
	if (only_case >= 0) {
		/* child of --callgrind: one case, nothing printed */
		if (setup(argv[0], only_case == C_RTE) != 0)
			return 1;
		if (only_case == C_RTE && !have_eal)
			return 1;
		run_case(only_case, only_k, reps);
		return 0;
	}
	if (setup(argv[0], true) != 0)
		return 1;
	for (int c = 0; c < C_N; c++)
		for (int ki = 0; ki < 3; ki++) {
			ns[c][ki] = ipp[c][ki] = -1;
			if (ki > 0 && !case_has_k(c))
				continue;
			if (c == C_RTE && !have_eal)
				continue;
			ns[c][ki] = measure(c, ki, reps);
			if (cg) {
				double a = callgrind_ir(argv[0], c, ki, 4);
				double b = callgrind_ir(argv[0], c, ki, 12);

				if (a > 0 && b > 0)
					ipp[c][ki] = (b - a) / (8.0 * NPKT);
			}
		}
	if (have_eal) {
		/* Same program, same bytes: do the two BPF engines agree? */
		unsigned pc = 0, rc = 0, diff = 0;

		for (unsigned i = 0; i < NPKT; i++) {
			bool a = bpf_filter(progs[0].bf_insns, pkts[i].data, pkts[i].len,
					    pkts[i].len) != 0;
			bool b = jit[0].func(pkts[i].m) != 0;

			pc += a;
			rc += b;
			diff += a != b;
		}
		printf("job 0 on the raw frames: libpcap %u matches, rte_bpf JIT %u%s\n",
		       pc, rc, diff ? " (DISAGREE: DPDK 22.11 mistranslates this program; "
		       "its timing is not a valid comparison)" : "");
	}
	{
		unsigned vx = 0, bytes = 0;

		for (unsigned i = 0; i < NPKT; i++) {
			vx += (pkts[i].key.flags & DPC_KEY_VXLAN) != 0;
			bytes += pkts[i].len;
		}
		printf("filter benchmark: %u packets in memory, %.0f%% VXLAN, mean %u B; "
		       "jobs 'host 10.1.0.N and tcp port 80'\n", NPKT, 100.0 * vx / NPKT,
		       bytes / NPKT);
	}
	printf("%-16s %10s %10s %10s   %10s %10s %10s\n", "case", "ns K=1", "ns K=8",
	       "ns K=64", "ins K=1", "ins K=8", "ins K=64");
	for (int c = 0; c < C_N; c++) {
		printf("%-16s", cname[c]);
		for (int ki = 0; ki < 3; ki++)
			ns[c][ki] >= 0 ? printf(" %10.1f", ns[c][ki]) : printf(" %10s", "-");
		printf("  ");
		for (int ki = 0; ki < 3; ki++)
			ipp[c][ki] >= 0 ? printf(" %10.0f", ipp[c][ki]) : printf(" %10s", "-");
		printf("\n");
	}
	printf("ratio dpcap K=64/K=1: %.2f ns (with parse %.2f); dpcap 1 job / rte_bpf JIT: %.2f ns\n",
	       ns[C_DPCAP][2] / ns[C_DPCAP][0], ns[C_DPCAP_PARSE][2] / ns[C_DPCAP_PARSE][0],
	       have_eal ? ns[C_DPCAP][0] / ns[C_RTE][0] : -1.0);
	if (ipp[C_DPCAP][0] > 0 && ipp[C_DPCAP][2] > 0)
		printf("ratio dpcap K=64/K=1: %.2f instructions; dpcap 1 job / rte_bpf JIT: %.2f "
		       "instructions\n", ipp[C_DPCAP][2] / ipp[C_DPCAP][0],
		       ipp[C_RTE][0] > 0 ? ipp[C_DPCAP][0] / ipp[C_RTE][0] : -1.0);
	printf("end to end (screen, else parse + classify): K=64/K=1 %.2f ns; "
	       "1 job / rte_bpf JIT %.2f ns", ns[C_E2E][2] / ns[C_E2E][0],
	       have_eal ? ns[C_E2E][0] / ns[C_RTE][0] : -1.0);
	if (ipp[C_E2E][0] > 0 && ipp[C_E2E][2] > 0)
		printf(", K=64/K=1 %.2f instructions; 1 job / rte_bpf JIT %.2f instructions",
		       ipp[C_E2E][2] / ipp[C_E2E][0],
		       ipp[C_RTE][0] > 0 ? ipp[C_E2E][0] / ipp[C_RTE][0] : -1.0);
	printf("\n");
	printf("{\"bench\":\"filter\",\"packets\":%d,\"jobs\":\"host A and tcp port 80\"", NPKT);
	for (int c = 0; c < C_N; c++)
		for (int ki = 0; ki < 3; ki++) {
			if (ns[c][ki] < 0)
				continue;
			printf(",\"%s%s%s_ns\":%.2f", cname[c], case_has_k(c) ? "_k" : "",
			       case_has_k(c) ? (ki == 0 ? "1" : ki == 1 ? "8" : "64") : "",
			       ns[c][ki]);
			if (ipp[c][ki] >= 0)
				printf(",\"%s%s%s_ins\":%.1f", cname[c], case_has_k(c) ? "_k" : "",
				       case_has_k(c) ? (ki == 0 ? "1" : ki == 1 ? "8" : "64") : "",
				       ipp[c][ki]);
		}
	printf(",\"ratio_k64_k1\":%.3f,\"ratio_k64_k1_with_parse\":%.3f",
	       ns[C_DPCAP][2] / ns[C_DPCAP][0], ns[C_DPCAP_PARSE][2] / ns[C_DPCAP_PARSE][0]);
	if (have_eal)
		printf(",\"ratio_dpcap_k1_rte_bpf_k1\":%.3f,\"ratio_e2e_k1_rte_bpf_k1\":%.3f",
		       ns[C_DPCAP][0] / ns[C_RTE][0], ns[C_E2E][0] / ns[C_RTE][0]);
	printf(",\"ratio_e2e_k64_k1\":%.3f", ns[C_E2E][2] / ns[C_E2E][0]);
	if (ipp[C_DPCAP][0] > 0 && ipp[C_DPCAP][2] > 0)
		printf(",\"ratio_k64_k1_ins\":%.3f", ipp[C_DPCAP][2] / ipp[C_DPCAP][0]);
	if (ipp[C_DPCAP][0] > 0 && ipp[C_RTE][0] > 0)
		printf(",\"ratio_dpcap_k1_rte_bpf_k1_ins\":%.3f",
		       ipp[C_DPCAP][0] / ipp[C_RTE][0]);
	if (ipp[C_E2E][0] > 0 && ipp[C_RTE][0] > 0)
		printf(",\"ratio_e2e_k1_rte_bpf_k1_ins\":%.3f,\"ratio_e2e_k64_k1_ins\":%.3f",
		       ipp[C_E2E][0] / ipp[C_RTE][0], ipp[C_E2E][2] / ipp[C_E2E][0]);
	printf("}\n");
	if (have_eal)
		rte_eal_cleanup();
	return 0;
}
