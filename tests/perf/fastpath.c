/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fastpath - parse + classify in isolation (benchmark measurement 1).
 *
 *   fastpath --engine dpcap|parse|libpcap|jit [--load N] [--windows W]
 *            [--count N] FILE [EXPR...]
 *   fastpath --all --ks 1,8,64 [--windows W] FILE EXPR... --bpf BPFEXPR...
 *
 * Loads the first --load packets of FILE (all by default) into memory, one
 * contiguous arena, then walks them in order, as a worker sees a stream:
 *   dpcap   what dpcapd's worker does: dpc_classifier_screen() (a raw-bytes
 *           check that settles most packets no job wants without a parse),
 *           then for the others dpc_parse() + dpc_classifier_match() over
 *           the K EXPRs
 *   parse   dpc_parse() only
 *   libpcap the peer: libpcap's bpf_filter() once per job (K EXPRs,
 *           compiled with pcap_compile for DLT_EN10MB), as a capture tool
 *           running K independent filters would
 *   jit     the DPDK peer: the same libpcap programs converted with
 *           rte_bpf_convert, loaded with rte_bpf_load and run through the
 *           x86-64 JIT (rte_bpf_get_jit), once per job, as dpdk-dumpcap
 *           and pdump run a filter. A converted program reads a struct
 *           rte_mbuf: one mbuf header (single segment, no copy) is pointed
 *           at each packet's bytes before its K programs run, as a worker
 *           hands each received mbuf to its filters. EAL is started (no
 *           hugepages, no PCI, no shared config, on the CPU this process
 *           is bound to) only for this engine: rte_bpf_convert allocates
 *           with rte_malloc. Built only with DPDK (DPC_FASTPATH_JIT).
 * --windows W: W passes over all loaded packets, one JSON line each:
 *   {"engine":..,"k":K,"window":i,"pkts":N,"ns_per_pkt":x,"deliveries":D}
 * (deliveries = sum over packets of the number of matching jobs; the
 * harness checks it is the same for every engine and every window).
 * --all: load FILE once and run parse, then for each K of --ks the dpcap
 * engine on the first K EXPRs, libpcap and jit on the first K BPFEXPRs
 * (the libpcap spelling of the same jobs), W windows each. When jit
 * cannot run, one line {"engine":"jit","k":K,"unavailable":"reason"}
 * stands for its windows.
 * --count N: one pass of exactly N packets (cycling), for callgrind with
 * --toggle-collect=fastpath_loop: two N subtracted give instructions per
 * packet without start-up and loading.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef DPC_FASTPATH_JIT
#include <rte_bpf.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#endif

#include "dpc_filter.h"
#include "dpc_parse.h"

#define MAX_K DPC_CLASSIFIER_MAX

enum engine { ENG_DPCAP, ENG_PARSE, ENG_LIBPCAP, ENG_JIT };

struct pkt {
	uint64_t off;
	uint32_t caplen, wirelen;
};

static uint8_t *arena;
static struct pkt *pkts;
static uint64_t n_pkts;

static struct dpc_parse_opts popts;
static struct dpc_classifier *cls;
static struct bpf_program progs[MAX_K];
static unsigned k_jobs;

#ifdef DPC_FASTPATH_JIT
static struct rte_bpf *rbpf[MAX_K];
static uint64_t (*jit_fn[MAX_K])(void *);
static struct rte_mbuf jit_mbuf;
static int eal_state;   /* 0 not tried, 1 up, -1 failed */
#endif
static char jit_why[160] = "built without DPDK";

static int load(const char *path, uint64_t limit)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, eb);
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t cap_pk = 1 << 16, cap_b = 1 << 26, used = 0;

	if (!p) {
		fprintf(stderr, "fastpath: %s\n", eb);
		return -1;
	}
	arena = malloc(cap_b);
	pkts = malloc(cap_pk * sizeof(*pkts));
	if (!arena || !pkts)
		goto nomem;
	while ((!limit || n_pkts < limit) && pcap_next_ex(p, &h, &d) == 1) {
		if (n_pkts == cap_pk) {
			cap_pk *= 2;
			struct pkt *np = realloc(pkts, cap_pk * sizeof(*pkts));
			if (!np)
				goto nomem;
			pkts = np;
		}
		if (used + h->caplen + 64 > cap_b) {
			cap_b *= 2;
			uint8_t *na = realloc(arena, cap_b);
			if (!na)
				goto nomem;
			arena = na;
		}
		memcpy(arena + used, d, h->caplen);
		pkts[n_pkts].off = used;
		pkts[n_pkts].caplen = h->caplen;
		pkts[n_pkts].wirelen = h->len;
		n_pkts++;
		/* Frames start on 64-byte boundaries, as in mbufs. */
		used += (h->caplen + 63) & ~63u;
	}
	pcap_close(p);
	return n_pkts ? 0 : -1;
nomem:
	fprintf(stderr, "fastpath: out of memory loading %s\n", path);
	pcap_close(p);
	return -1;
}

/* The measured loop: n packets from index start, cycling. Kept out of line
 * so callgrind can count exactly this function. */
__attribute__((noinline)) uint64_t fastpath_loop(enum engine e, uint64_t start,
						  uint64_t n);
__attribute__((noinline)) uint64_t fastpath_loop(enum engine e, uint64_t start,
						  uint64_t n)
{
	struct dpc_key key;
	uint64_t deliveries = 0, i = start % n_pkts;

	for (uint64_t c = 0; c < n; c++) {
		const struct pkt *pk = &pkts[i];
		const uint8_t *f = arena + pk->off;

		__builtin_prefetch(arena + pkts[(i + 4) % n_pkts].off);
		switch (e) {
		case ENG_DPCAP:
			if (dpc_classifier_screen(cls, &popts, f, pk->caplen,
						  pk->wirelen))
				break;
			dpc_parse(&popts, f, pk->caplen, pk->wirelen, &key);
			deliveries += (uint64_t)__builtin_popcountll(
				dpc_classifier_match(cls, &key, f, pk->caplen));
			break;
		case ENG_PARSE:
			dpc_parse(&popts, f, pk->caplen, pk->wirelen, &key);
			deliveries += key.status == DPC_PARSE_OK;
			break;
		case ENG_LIBPCAP:
			for (unsigned j = 0; j < k_jobs; j++)
				deliveries += bpf_filter(progs[j].bf_insns, f,
							 pk->wirelen, pk->caplen) != 0;
			break;
		case ENG_JIT:
#ifdef DPC_FASTPATH_JIT
			jit_mbuf.buf_addr = (void *)(uintptr_t)f;
			jit_mbuf.buf_len = (uint16_t)pk->caplen;
			jit_mbuf.data_len = (uint16_t)pk->caplen;
			jit_mbuf.pkt_len = pk->caplen;
			for (unsigned j = 0; j < k_jobs; j++)
				deliveries += jit_fn[j](&jit_mbuf) != 0;
#endif
			break;
		}
		if (++i == n_pkts)
			i = 0;
	}
	return deliveries;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct dpc_filter *filters[MAX_K];

#ifdef DPC_FASTPATH_JIT
/* EAL once, on the CPU this process is bound to (taskset), so that EAL's
 * own pinning of the main lcore does not move the measured loop. */
static int eal_up(const char *argv0)
{
	char cpu[16], prefix[64];
	cpu_set_t set;
	int c = 0;

	if (eal_state)
		return eal_state > 0 ? 0 : -1;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		while (c < CPU_SETSIZE - 1 && !CPU_ISSET(c, &set))
			c++;
	snprintf(cpu, sizeof(cpu), "%d", c);
	snprintf(prefix, sizeof(prefix), "dpc-fastpath-%d", (int)getpid());
	char *eal[] = { (char *)argv0, "-l", cpu, "--no-huge", "-m", "64",
			"--no-pci", "--no-shconf", "--no-telemetry",
			"--file-prefix", prefix, "--log-level", "error", NULL };

	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		snprintf(jit_why, sizeof(jit_why), "EAL init failed: %s",
			 rte_strerror(rte_errno));
		eal_state = -1;
		return -1;
	}
	eal_state = 1;
	return 0;
}
#endif

static const char *prog_name = "fastpath";

/* Convert, load and JIT the k libpcap programs in progs[]. -1 with
 * jit_why set when that cannot be done here. */
static int jit_setup(unsigned k)
{
#ifdef DPC_FASTPATH_JIT
	if (eal_up(prog_name) < 0)
		return -1;
	memset(&jit_mbuf, 0, sizeof(jit_mbuf));
	jit_mbuf.nb_segs = 1;
	jit_mbuf.next = NULL;
	for (unsigned j = 0; j < k; j++) {
		struct rte_bpf_prm *prm = rte_bpf_convert(&progs[j]);
		struct rte_bpf_jit jit;

		if (!prm) {
			snprintf(jit_why, sizeof(jit_why), "rte_bpf_convert of job %u: %s",
				 j, rte_strerror(rte_errno));
			return -1;
		}
		rbpf[j] = rte_bpf_load(prm);
		rte_free(prm);
		memset(&jit, 0, sizeof(jit));
		if (!rbpf[j] || rte_bpf_get_jit(rbpf[j], &jit) != 0 || !jit.func) {
			snprintf(jit_why, sizeof(jit_why), "rte_bpf_load/get_jit of job %u: %s",
				 j, rbpf[j] ? "no JIT code" : rte_strerror(rte_errno));
			return -1;
		}
		jit_fn[j] = jit.func;
	}
	return 0;
#else
	(void)k;
	return -1;
#endif
}

/* Compile the first k expressions for engine e (replacing earlier ones). */
static int setup(enum engine e, const char *const *exprs, unsigned k)
{
	dpc_classifier_free(cls);
	cls = NULL;
	for (unsigned j = 0; j < MAX_K; j++) {
		dpc_filter_free(filters[j]);
		filters[j] = NULL;
		if (progs[j].bf_insns)
			pcap_freecode(&progs[j]);
#ifdef DPC_FASTPATH_JIT
		rte_bpf_destroy(rbpf[j]);
		rbpf[j] = NULL;
		jit_fn[j] = NULL;
#endif
	}
	k_jobs = k;
	if (e == ENG_DPCAP) {
		for (unsigned j = 0; j < k; j++) {
			struct dpc_filter_error fe;

			filters[j] = dpc_filter_compile(exprs[j], &fe);
			if (!filters[j]) {
				fprintf(stderr, "fastpath: '%s': %s\n", exprs[j], fe.msg);
				return -1;
			}
		}
		cls = dpc_classifier_build(filters, k);
		if (!cls) {
			fprintf(stderr, "fastpath: classifier: %s\n", strerror(errno));
			return -1;
		}
	} else if (e == ENG_LIBPCAP || e == ENG_JIT) {
		pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);

		for (unsigned j = 0; j < k; j++) {
			if (pcap_compile(dead, &progs[j], exprs[j], 1,
					 PCAP_NETMASK_UNKNOWN) < 0) {
				fprintf(stderr, "fastpath: '%s': %s\n", exprs[j],
					pcap_geterr(dead));
				pcap_close(dead);
				return -1;
			}
		}
		pcap_close(dead);
		if (e == ENG_JIT)
			return jit_setup(k);
	}
	return 0;
}

static const char *const engine_names[] = {"dpcap", "parse", "libpcap", "jit"};

static void run_windows(enum engine e, unsigned windows)
{
	for (unsigned w = 0; w < windows; w++) {
		double t0 = now_ns();
		uint64_t d = fastpath_loop(e, 0, n_pkts);
		double dt = now_ns() - t0;

		printf("{\"engine\":\"%s\",\"k\":%u,\"window\":%u,\"pkts\":%" PRIu64
		       ",\"ns_per_pkt\":%.3f,\"deliveries\":%" PRIu64 "}\n",
		       engine_names[e], k_jobs, w, n_pkts, dt / (double)n_pkts, d);
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	const char *engine_name = "dpcap", *file = NULL;
	unsigned windows = 1, n_expr = 0, n_bpf = 0, ks[8], n_ks = 0;
	uint64_t limit = 0, count = 0;
	const char *exprs[MAX_K], *bpf[MAX_K];
	int all = 0, in_bpf = 0, rc = 1;
	enum engine e;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--engine") && i + 1 < argc)
			engine_name = argv[++i];
		else if (!strcmp(argv[i], "--load") && i + 1 < argc)
			limit = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--windows") && i + 1 < argc)
			windows = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--all"))
			all = 1;
		else if (!strcmp(argv[i], "--bpf"))
			in_bpf = 1;
		else if (!strcmp(argv[i], "--ks") && i + 1 < argc) {
			char *p = argv[++i];

			while (*p && n_ks < 8) {
				ks[n_ks++] = (unsigned)strtoul(p, &p, 10);
				if (*p == ',')
					p++;
			}
		} else if (argv[i][0] == '-' && argv[i][1] == '-')
			goto usage;
		else if (!file)
			file = argv[i];
		else if (in_bpf && n_bpf < MAX_K)
			bpf[n_bpf++] = argv[i];
		else if (!in_bpf && n_expr < MAX_K)
			exprs[n_expr++] = argv[i];
		else {
			fprintf(stderr, "fastpath: at most %d expressions\n", MAX_K);
			return 2;
		}
	}
	if (!file || !windows)
		goto usage;
	prog_name = argv[0];
	dpc_parse_opts_init(&popts);
	if (all) {
		for (unsigned j = 0; j < n_ks; j++)
			if (!ks[j] || ks[j] > n_expr || ks[j] > n_bpf) {
				fprintf(stderr, "fastpath: K=%u needs %u EXPRs and BPFEXPRs\n",
					ks[j], ks[j]);
				return 2;
			}
		if (load(file, limit) < 0)
			return 1;
		run_windows(ENG_PARSE, windows);
		for (unsigned j = 0; j < n_ks; j++) {
			if (setup(ENG_DPCAP, exprs, ks[j]) < 0)
				goto out;
			run_windows(ENG_DPCAP, windows);
			if (setup(ENG_LIBPCAP, bpf, ks[j]) < 0)
				goto out;
			run_windows(ENG_LIBPCAP, windows);
			if (setup(ENG_JIT, bpf, ks[j]) < 0) {
				printf("{\"engine\":\"jit\",\"k\":%u,\"unavailable\":\"%s\"}\n",
				       ks[j], jit_why);
				fflush(stdout);
				continue;
			}
			run_windows(ENG_JIT, windows);
		}
		rc = 0;
		goto out;
	}
	if (!strcmp(engine_name, "dpcap"))
		e = ENG_DPCAP;
	else if (!strcmp(engine_name, "parse"))
		e = ENG_PARSE;
	else if (!strcmp(engine_name, "libpcap"))
		e = ENG_LIBPCAP;
	else if (!strcmp(engine_name, "jit"))
		e = ENG_JIT;
	else
		goto usage;
	if (e != ENG_PARSE && !n_expr) {
		fprintf(stderr, "fastpath: engine %s needs at least one EXPR\n",
			engine_name);
		return 2;
	}
	if (setup(e, exprs, n_expr) < 0) {
		if (e == ENG_JIT)
			fprintf(stderr, "fastpath: jit: %s\n", jit_why);
		goto out;
	}
	if (load(file, limit) < 0)
		goto out;
	if (count) {
		uint64_t d = fastpath_loop(e, 0, count);

		printf("{\"engine\":\"%s\",\"k\":%u,\"pkts\":%" PRIu64
		       ",\"deliveries\":%" PRIu64 "}\n", engine_name, k_jobs, count, d);
	} else {
		run_windows(e, windows);
	}
	rc = 0;
out:
	setup(ENG_PARSE, NULL, 0);
	free(arena);
	free(pkts);
#ifdef DPC_FASTPATH_JIT
	if (eal_state > 0)
		rte_eal_cleanup();
#endif
	return rc;
usage:
	fprintf(stderr, "usage: fastpath --engine dpcap|parse|libpcap|jit [--load N] "
			"[--windows W] [--count N] FILE [EXPR...]\n"
			"       fastpath --all --ks K,K.. [--windows W] FILE EXPR... "
			"--bpf BPFEXPR...\n");
	return 2;
}
