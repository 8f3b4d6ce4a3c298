/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_bpf_jit.c - ns/packet of BPF-only filters (default
 * "tcp[tcpflags] & tcp-syn != 0") on libpcap's interpreter and on the
 * daemon's engine (lib/dp/dp_bpf.c: rewrite + rte_bpf JIT), on the same
 * packets held in memory (suite perf; not a timed test, not run by CI).
 *
 * Rows per expression:
 *   libpcap      bpf_filter() on the frame
 *   jit          dp_bpf_exec() (the daemon's call: mbuf header + JIT code)
 *   rte_bpf      dp_bpf_exec() on DPDK's interpreter
 *   filter/pcap  dpc_filter_match() on the parsed key, BPF slots on libpcap
 *   filter/jit   the same with the daemon's JIT engine installed
 * (the shortest of 15 timed runs of REPS passes over the packets).
 *
 * Usage: bench_bpf_jit [-e EXPR]... FILE.pcap...  (dpcap-gen's sample
 * profile by default in meson)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <rte_eal.h>

#include "dp_bpf.h"
#include "dpc_filter.h"
#include "dpc_parse.h"

#define MAXPKT 20000
#define REPS 200
#define RUNS 15

struct pk {
	const uint8_t *data;
	uint32_t caplen, wirelen;
	struct dpc_key key;
};

static struct pk pkts[MAXPKT];
static unsigned npkt;
static volatile uint32_t sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

enum row { R_PCAP, R_JIT, R_RTE, R_FPCAP, R_FJIT, R_N };
static const char *const row_name[R_N] = {
	"libpcap bpf_filter", "rte_bpf JIT (dp_bpf_exec)", "rte_bpf interpreter",
	"dpc_filter_match, libpcap", "dpc_filter_match, JIT",
};

struct ctx {
	struct bpf_program prog;
	struct dp_bpf *jit, *rte;
	struct dpc_filter *f_pcap, *f_jit;
	unsigned matches[R_N];
};

static unsigned one_pass(enum row r, struct ctx *c)
{
	unsigned m = 0;

	for (unsigned i = 0; i < npkt; i++) {
		const struct pk *p = &pkts[i];

		switch (r) {
		case R_PCAP:
			m += bpf_filter(c->prog.bf_insns, p->data, p->wirelen, p->caplen) != 0;
			break;
		case R_JIT:
			m += dp_bpf_exec(c->jit, p->data, p->caplen, p->wirelen) != 0;
			break;
		case R_RTE:
			m += dp_bpf_exec(c->rte, p->data, p->caplen, p->wirelen) != 0;
			break;
		case R_FPCAP:
			m += dpc_filter_match(c->f_pcap, &p->key, p->data, p->caplen);
			break;
		case R_FJIT:
			m += dpc_filter_match(c->f_jit, &p->key, p->data, p->caplen);
			break;
		default:
			break;
		}
	}
	return m;
}

static int install(struct dpc_filter_bpf_slot *slot, void *arg)
{
	struct dp_bpf *b = dp_bpf_load(slot->insns, slot->n_insns, true);

	(void)arg;
	if (b) {
		slot->exec = dp_bpf_exec;
		slot->ctx = b;
	}
	return 0;
}

static void bench(const char *expr, pcap_t *pd)
{
	double best[R_N];
	struct ctx c;

	memset(&c, 0, sizeof(c));
	if (pcap_compile(pd, &c.prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		printf("%s: %s\n", expr, pcap_geterr(pd));
		return;
	}
	c.jit = dp_bpf_load(c.prog.bf_insns, c.prog.bf_len, true);
	c.rte = dp_bpf_load(c.prog.bf_insns, c.prog.bf_len, false);
	c.f_pcap = dpc_filter_compile(expr, NULL);
	c.f_jit = dpc_filter_compile(expr, NULL);
	if (c.f_jit)
		dpc_filter_bpf_foreach(c.f_jit, install, NULL);
	printf("\n%s  (%u packets, %u instructions)\n", expr, npkt, c.prog.bf_len);
	for (int r = 0; r < R_N; r++) {
		if ((r == R_JIT && (!c.jit || dp_bpf_engine_of(c.jit) != DP_BPF_JIT)) ||
		    (r == R_RTE && !c.rte) || (r >= R_FPCAP && !c.f_pcap)) {
			printf("  %-28s   n/a\n", row_name[r]);
			best[r] = -1;
			continue;
		}
		c.matches[r] = one_pass((enum row)r, &c);
		best[r] = 1e300;
		for (int k = 0; k < RUNS; k++) {
			double t0 = now_ns();

			for (int j = 0; j < REPS; j++)
				sink += one_pass((enum row)r, &c);
			t0 = (now_ns() - t0) / ((double)REPS * npkt);
			if (t0 < best[r])
				best[r] = t0;
		}
		printf("  %-28s %6.2f ns/packet  (%u matches)\n", row_name[r], best[r],
		       c.matches[r]);
	}
	if (best[R_JIT] > 0)
		printf("  libpcap / JIT: %.2fx\n", best[R_PCAP] / best[R_JIT]);
	if (c.matches[R_JIT] != c.matches[R_PCAP] || c.matches[R_RTE] != c.matches[R_PCAP])
		printf("  MISMATCH: match counts differ\n");
	dp_bpf_free(c.jit);
	dp_bpf_free(c.rte);
	pcap_freecode(&c.prog);
	/* f_jit's slots point at dp_bpf objects: leaked with the process */
	dpc_filter_free(c.f_pcap);
}

int main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "128", "--no-pci",
			"--no-telemetry", "--file-prefix", prefix, "--log-level", "*:error" };
	const char *exprs[16];
	unsigned nexpr = 0;
	struct dpc_parse_opts opts;
	pcap_t *pd;

	snprintf(prefix, sizeof(prefix), "dpc-bpfjit-%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "bench_bpf_jit: EAL init failed\n");
		return 1;
	}
	dpc_parse_opts_init(&opts);
	for (int a = 1; a < argc; a++) {
		char errbuf[PCAP_ERRBUF_SIZE];
		struct pcap_pkthdr *h;
		const u_char *d;
		pcap_t *in;

		if (!strcmp(argv[a], "-e") && a + 1 < argc && nexpr < 16) {
			exprs[nexpr++] = argv[++a];
			continue;
		}
		in = pcap_open_offline(argv[a], errbuf);
		if (!in) {
			fprintf(stderr, "%s: %s\n", argv[a], errbuf);
			return 1;
		}
		while (npkt < MAXPKT && pcap_next_ex(in, &h, &d) == 1) {
			uint8_t *copy = malloc(h->caplen ? h->caplen : 1);

			if (!copy)
				return 1;
			memcpy(copy, d, h->caplen);
			pkts[npkt].data = copy;
			pkts[npkt].caplen = h->caplen;
			pkts[npkt].wirelen = h->len;
			dpc_parse(&opts, copy, h->caplen, h->len, &pkts[npkt].key);
			npkt++;
		}
		pcap_close(in);
	}
	if (!npkt) {
		fprintf(stderr, "usage: bench_bpf_jit [-e EXPR]... FILE.pcap...\n");
		return 2;
	}
	if (!nexpr) {
		exprs[nexpr++] = "tcp[tcpflags] & tcp-syn != 0";
		exprs[nexpr++] = "ether[0] & 1 != 0";
		exprs[nexpr++] = "tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420";
		exprs[nexpr++] = "ip[8] = 64";
	}
	pd = pcap_open_dead(DLT_EN10MB, 65535);
	for (unsigned i = 0; i < nexpr; i++)
		bench(exprs[i], pd);
	pcap_close(pd);
	rte_eal_cleanup();
	return 0;
}
