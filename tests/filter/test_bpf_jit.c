/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_bpf_jit.c - the daemon's BPF engine (lib/dp/dp_bpf.c: rewrite,
 * rte_bpf_convert, rte_bpf_load, JIT) gives libpcap's verdict: for every
 * program of bpf_cases.h (filter_exprs.h and BPF-only incident
 * expressions, whole and per primitive, and seeded random programs) and
 * every packet (dpcap-gen's sample and malformed traffic given as
 * arguments, built-in frames, every truncation up to 128 bytes, wire
 * length kept), dp_bpf_exec returns exactly what libpcap's bpf_filter
 * returns on the original program, on the JIT and on DPDK's interpreter.
 * Every expression program (protochain's loop aside) must get the JIT.
 *
 * Also reports, without asserting, how many expression programs DPDK
 * 22.11's converter gets wrong without the rewrite (interpreter only: the
 * unrewritten JIT code can crash).
 */
#include <errno.h>
#include <unistd.h>

#include <rte_bpf.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "bpf_cases.h"
#include "dp_bpf.h"
#include "dpc_test.h"

#define N_RANDOM 2000
#define N_COMBOS 1000

static bool backward(const struct bc_prog *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (p->insns[i].code == (BPF_JMP | BPF_JA) && p->insns[i].k >= p->n - i - 1)
			return true;
	return false;
}

/* The unrewritten program on DPDK's interpreter: -1 if DPDK refuses it,
 * else the number of packets whose verdict differs from libpcap's. */
static long raw_differs(const struct bc_prog *p, const struct bc_set *s)
{
	struct bpf_program prog = { .bf_len = p->n, .bf_insns = p->insns };
	struct rte_bpf_prm *prm = rte_bpf_convert(&prog);
	struct rte_bpf *b;
	long bad = 0;

	if (!prm)
		return -1;
	b = rte_bpf_load(prm);
	rte_free(prm);
	if (!b)
		return -1;
	for (unsigned k = 0; k < s->n_pkts; k++) {
		const struct bc_pkt *q = &s->pkts[k];
		struct rte_mbuf m;

		memset(&m, 0, sizeof(m));
		m.buf_addr = (void *)(uintptr_t)q->data;
		m.buf_len = m.data_len = (uint16_t)q->caplen;
		m.pkt_len = q->caplen;
		m.nb_segs = 1;
		if ((uint32_t)rte_bpf_exec(b, &m) !=
		    bpf_filter(p->insns, q->data, q->caplen, q->caplen))
			bad++;
	}
	rte_bpf_destroy(b);
	return bad;
}

/* A program whose JIT code (DPDK 22.11) jumps 3 bytes off its targets
 * (SIGILL/SIGSEGV when run): the code check must keep it off the JIT. */
static void layout_regression(void)
{
	static const struct bpf_insn p[] = {
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x7c, 3, 0),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 39),
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, 14),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x52ed, 0, 2),
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 19),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x31, 0, 1),
		BPF_STMT(BPF_LDX | BPF_W | BPF_IMM, 0x18),
		BPF_STMT(BPF_ST, 4),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x6474, 0, 3),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 12),
		BPF_STMT(BPF_STX, 8),
		BPF_STMT(BPF_RET | BPF_A, 0),
		BPF_STMT(BPF_RET | BPF_K, 0x1234),
	};
	struct dp_bpf *b;

	errno = 0;
	b = dp_bpf_load(p, sizeof(p) / sizeof(p[0]), true);
	CHECK(!b && errno == ENOEXEC, "JIT layout bug regression: the code check "
	      "refuses the misassembled program (%s)", b ? "accepted" : strerror(errno));
	dp_bpf_free(b);
	b = dp_bpf_load(p, sizeof(p) / sizeof(p[0]), false);
	CHECK(b != NULL, "... which still loads on DPDK's interpreter");
	dp_bpf_free(b);
}

int main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "256", "--no-pci",
			"--no-telemetry", "--file-prefix", prefix,
			"--log-level", "*:error" };
	unsigned i, n_expr_progs, raw_bad = 0, raw_total = 0;
	unsigned jit_refused = 0, rnd_bad = 0, rnd_loaded = 0;
	unsigned combo_off = 0, combo_caught = 0, combo_bad = 0;
	unsigned long runs = 0;
	struct bc_set s;

	snprintf(prefix, sizeof(prefix), "dpc-bpfjit-%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		DPC_SKIP("EAL init failed: %s", rte_strerror(rte_errno));
		return dpc_test_done();
	}
	layout_regression();
	bc_load_checked(&s, argc, argv, N_COMBOS, N_RANDOM);
	n_expr_progs = s.n_progs - s.n_random - s.n_combos;

	for (i = 0; i < s.n_progs; i++) {
		const struct bc_prog *p = &s.progs[i];
		bool expr = i < n_expr_progs;
		struct dp_bpf *jit, *interp;
		unsigned long bad_jit = 0, bad_int = 0;
		long raw;
		int why;

		if (expr && !backward(p)) {
			raw = raw_differs(p, &s);
			raw_total++;
			raw_bad += raw != 0;
		}
		errno = 0;
		jit = dp_bpf_load(p->insns, p->n, true);
		why = errno;
		interp = dp_bpf_load(p->insns, p->n, false);
		if (backward(p)) {
			CHECK(!jit && !interp, "'%s': loops (backward ja): stays on libpcap",
			      p->name);
			dp_bpf_free(jit);
			dp_bpf_free(interp);
			continue;
		}
		if (!jit || !interp || dp_bpf_engine_of(jit) != DP_BPF_JIT) {
			if (!expr && i < n_expr_progs + s.n_combos) {
				combo_off++;
				if (!jit && why == ENOEXEC)
					combo_caught++;
			} else if (expr)
				CHECK(0, "'%s': not on the JIT (%s)", p->name,
				      jit ? "no JIT code" : strerror(why));
			else if (jit_refused++ < 3 && getenv("BPF_JIT_DEBUG")) {
				printf("# '%s' refused (JIT: %s; rte_bpf: %s):\n", p->name,
				       jit ? "ok" : strerror(why), interp ? "ok" : strerror(errno));
				for (uint32_t j = 0; j < p->n; j++)
					printf("#   %s\n", bpf_image(&p->insns[j], (int)j));
			}
			dp_bpf_free(jit);
			dp_bpf_free(interp);
			continue;
		}
		if (getenv("BPF_JIT_DEBUG")) {
			printf("# running '%s':\n", p->name);
			for (uint32_t j = 0; j < p->n; j++)
				printf("#   %s\n", bpf_image(&p->insns[j], (int)j));
			fflush(stdout);
		}
		for (unsigned k = 0; k < s.n_pkts; k++) {
			const struct bc_pkt *q = &s.pkts[k];
			uint32_t want = bpf_filter(p->insns, q->data, q->wirelen, q->caplen);
			uint32_t gj = dp_bpf_exec(jit, q->data, q->caplen, q->wirelen);
			uint32_t gi = dp_bpf_exec(interp, q->data, q->caplen, q->wirelen);

			runs++;
			if (gj != want && bad_jit++ < 3)
				printf("# '%s' packet %u (caplen %u wirelen %u): libpcap %u, "
				       "JIT %u\n", p->name, k, q->caplen, q->wirelen, want, gj);
			if (gi != want && bad_int++ < 3)
				printf("# '%s' packet %u (caplen %u wirelen %u): libpcap %u, "
				       "rte_bpf %u\n", p->name, k, q->caplen, q->wirelen, want, gi);
		}
		if (expr)
			CHECK(bad_jit == 0 && bad_int == 0, "'%s': JIT and rte_bpf == libpcap "
			      "on %u packets (%lu, %lu differ)", p->name, s.n_pkts,
			      bad_jit, bad_int);
		else if (i < n_expr_progs + s.n_combos)
			combo_bad += bad_jit || bad_int;
		else {
			rnd_loaded++;
			rnd_bad += bad_jit || bad_int;
		}
		dp_bpf_free(jit);
		dp_bpf_free(interp);
	}
	CHECK(combo_bad == 0, "%u combined expressions: JIT and rte_bpf == libpcap on every "
	      "packet (%u differ)", s.n_combos, combo_bad);
	CHECK(combo_off < s.n_combos / 50, "combined expressions kept off the JIT: %u of %u "
	      "(%u by the JIT code check)", combo_off, s.n_combos, combo_caught);
	CHECK(rnd_bad == 0, "random programs: JIT and rte_bpf == libpcap on every packet "
	      "(%u of %u loaded differ)", rnd_bad, rnd_loaded);
	CHECK(jit_refused < N_RANDOM / 10, "random programs kept off the JIT: %u of %u",
	      jit_refused, N_RANDOM);
	printf("# %lu program runs compared\n", runs);
	printf("# without the rewrite, DPDK's converter gets %u of %u expression programs "
	       "wrong (interpreter; its JIT crashes on some)\n", raw_bad, raw_total);
	bc_free(&s);
	rte_eal_cleanup();
	return dpc_test_done();
}
