/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_bpf_fix.c - the classic BPF rewrite the daemon applies before
 * rte_bpf_convert (lib/dp/dp_bpf_fix.c) preserves libpcap's semantics:
 * for every program of bpf_cases.h (filter_exprs.h and BPF-only incident
 * expressions, whole and per primitive, and seeded random programs), the
 * rewritten program passes libpcap's bpf_validate and, run by libpcap's
 * bpf_filter, returns exactly what the original returns on every packet
 * (dpcap-gen's sample and malformed traffic given as arguments, built-in
 * frames, every truncation up to 128 bytes). Plus the refusals: all 16
 * scratch slots used, an 8-bit jump overflow, load offsets above 0xffff,
 * invalid programs. No DPDK, no EAL.
 */
#include <errno.h>

#include "bpf_cases.h"
#include "dp_bpf_fix.h"
#include "dpc_test.h"

#define N_RANDOM 3000
#define N_COMBOS 1000

static uint32_t run(const struct bpf_insn *p, const struct bc_pkt *k)
{
	return bpf_filter(p, k->data, k->wirelen, k->caplen);
}

static bool backward(const struct bc_prog *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (p->insns[i].code == (BPF_JMP | BPF_JA) && p->insns[i].k >= p->n - i - 1)
			return true;
	return false;
}

/* Programs the rewrite must refuse or handle at its limits. */
static void limits(void)
{
	struct bpf_insn p[400], *o = NULL;
	struct dp_bpf_fix_info info;
	uint32_t n, no, i;
	uint8_t pkt[64];
	int rc;

	memset(pkt, 0x5a, sizeof(pkt));
	/* all 16 slots used, jset #1 with X live at its target */
	n = 0;
	for (i = 0; i < BPF_MEMWORDS; i++)
		p[n++] = (struct bpf_insn)BPF_STMT(BPF_ST, i);
	p[n++] = (struct bpf_insn)BPF_STMT(BPF_LDX | BPF_W | BPF_IMM, 7);
	p[n++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 3);
	p[n++] = (struct bpf_insn)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1);
	p[n++] = (struct bpf_insn)BPF_STMT(BPF_MISC | BPF_TXA, 0);
	p[n++] = (struct bpf_insn)BPF_STMT(BPF_RET | BPF_A, 0);
	CHECK(bpf_validate(p, (int)n), "limits: 16-slot program is valid");
	rc = dp_bpf_fix(p, n, &o, &no, &info);
	CHECK_EQ(rc, -EBUSY, "jset with X live and all 16 scratch slots used: -EBUSY");
	/* the same with slot 9 free: saved in slot 9, same verdict */
	p[9] = (struct bpf_insn)BPF_STMT(BPF_ST, 8);
	rc = dp_bpf_fix(p, n, &o, &no, &info);
	CHECK(rc == 0 && info.scratch == 9 && info.n_jset_save == 1,
	      "jset with X live: X saved in the free slot 9 (rc %d, slot %d)", rc,
	      rc ? -1 : info.scratch);
	if (rc == 0) {
		CHECK(bpf_validate(o, (int)no), "limits: rewritten 16-slot program is valid");
		CHECK_EQ(bpf_filter(o, pkt, 64, 64), bpf_filter(p, pkt, 64, 64),
			 "limits: X restored after the jset (jf edge)");
		pkt[3] = 0x5b;
		CHECK_EQ(bpf_filter(o, pkt, 64, 64), bpf_filter(p, pkt, 64, 64),
			 "limits: X restored after the jset (jt edge)");
		free(o);
	}
	/* an indexed load whose jump to the appended "ret #0" exceeds 255 */
	n = 0;
	p[n++] = (struct bpf_insn)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14);
	p[n++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13);
	for (i = 0; i < 300; i++)
		p[n++] = (struct bpf_insn)BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1);
	p[n++] = (struct bpf_insn)BPF_STMT(BPF_RET | BPF_A, 0);
	rc = dp_bpf_fix(p, n, &o, &no, &info);
	CHECK_EQ(rc, -ERANGE, "indexed load 300 instructions before the end: -ERANGE");
	/* a jump over a rewritten instruction that no longer fits 8 bits */
	n = 0;
	p[n++] = (struct bpf_insn)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14);
	p[n++] = (struct bpf_insn)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 254);
	for (i = 0; i < 127; i++)
		p[n++] = (struct bpf_insn)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 0);
	for (; i < 254; i++)
		p[n++] = (struct bpf_insn)BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1);
	p[n++] = (struct bpf_insn)BPF_STMT(BPF_RET | BPF_A, 0);
	CHECK(bpf_validate(p, (int)n), "limits: jf 254 program is valid");
	rc = dp_bpf_fix(p, n, &o, &no, &info);
	CHECK_EQ(rc, -ERANGE, "jf 254 over 127 expanded jset: -ERANGE");
	/* load offsets */
	p[0] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0x10000);
	p[1] = (struct bpf_insn)BPF_STMT(BPF_RET | BPF_A, 0);
	CHECK_EQ(dp_bpf_fix(p, 2, &o, &no, NULL), -ERANGE, "ldb [0x10000]: -ERANGE");
	p[0] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0xfffffffcu);
	CHECK_EQ(dp_bpf_fix(p, 2, &o, &no, NULL), -ERANGE, "ld [x - 4]: -ERANGE");
	p[0] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0xffff);
	rc = dp_bpf_fix(p, 2, &o, &no, NULL);
	CHECK(rc == 0 && no == 2, "ldb [0xffff] kept as is");
	if (rc == 0)
		free(o);
	/* invalid programs */
	p[0] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0);
	CHECK_EQ(dp_bpf_fix(p, 1, &o, &no, NULL), -EINVAL, "no final return: -EINVAL");
	p[0] = (struct bpf_insn)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0);
	CHECK_EQ(dp_bpf_fix(p, 2, &o, &no, NULL), -EINVAL, "jump past the end: -EINVAL");
	p[0] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_MEM, 16);
	CHECK_EQ(dp_bpf_fix(p, 2, &o, &no, NULL), -EINVAL, "M[16]: -EINVAL");
	p[0] = (struct bpf_insn)BPF_STMT(0x28 | 0x40 | 0x10, 0);
	CHECK_EQ(dp_bpf_fix(p, 2, &o, &no, NULL), -EINVAL, "unknown opcode: -EINVAL");
	CHECK_EQ(dp_bpf_fix(p, 0, &o, &no, NULL), -EINVAL, "empty program: -EINVAL");
}

int main(int argc, char **argv)
{
	struct bc_set s;
	unsigned i, refused = 0, combo_refused = 0, bad_combos = 0, bad_progs = 0;
	unsigned n_ind = 0, n_jset = 0, n_save = 0;
	unsigned long runs = 0;

	bc_load_checked(&s, argc, argv, N_COMBOS, N_RANDOM);
	CHECK(s.n_progs > s.n_exprs + N_COMBOS + N_RANDOM - s.compile_failed,
	      "programs collected: %u", s.n_progs);

	for (i = 0; i < s.n_progs; i++) {
		const struct bc_prog *p = &s.progs[i];
		struct dp_bpf_fix_info info;
		struct bpf_insn *o;
		unsigned long bad = 0;
		uint32_t no, k;
		int rc;

		rc = dp_bpf_fix(p->insns, p->n, &o, &no, &info);
		if (backward(p)) {
			/* protochain: libpcap emits a backward "ja" (a loop;
			 * libpcap's bpf_validate lets the wrapped offset
			 * through), which rte_bpf_convert refuses too */
			CHECK_EQ(rc, -EINVAL, "'%s': not valid classic BPF (backward jump): "
				 "refused, stays on libpcap", p->name);
			if (rc == 0)
				free(o);
			continue;
		}
		if (rc) {
			/* random programs may exceed the limits; libpcap's
			 * programs here must all be rewritten */
			refused++;
			if (i < s.n_progs - s.n_random - s.n_combos)
				CHECK(0, "'%s': rewrite refused: %d", p->name, rc);
			else if (i < s.n_progs - s.n_random)
				combo_refused++;
			continue;
		}
		n_ind += info.n_ind;
		n_jset += info.n_jset;
		n_save += info.n_jset_save;
		if (!bpf_validate(o, (int)no)) {
			CHECK(0, "'%s': rewritten program fails bpf_validate", p->name);
			free(o);
			continue;
		}
		for (k = 0; k < s.n_pkts; k++) {
			uint32_t want = run(p->insns, &s.pkts[k]), got = run(o, &s.pkts[k]);

			runs++;
			if (want != got && bad++ < 3)
				printf("# '%s' packet %u (caplen %u): original %u, rewritten %u\n",
				       p->name, k, s.pkts[k].caplen, want, got);
		}
		if (i < s.n_progs - s.n_random - s.n_combos)
			CHECK(bad == 0, "'%s' (%u -> %u insns, %u ind, %u jset): same verdicts "
			      "on %u packets (%lu differ)", p->name, p->n, no, info.n_ind,
			      info.n_jset, s.n_pkts, bad);
		else if (bad && i < s.n_progs - s.n_random)
			bad_combos++;
		else if (bad)
			bad_progs++;
		free(o);
	}
	CHECK(bad_combos == 0 && combo_refused == 0, "%u combined expressions: rewritten == "
	      "original on every packet (%u differ, %u refused)", s.n_combos, bad_combos,
	      combo_refused);
	CHECK(bad_progs == 0, "%u random programs: rewritten == original on every packet "
	      "(%u differ, %u refused)", s.n_random, bad_progs, refused);
	CHECK(refused - combo_refused < s.n_random / 10, "random programs refused by the rewrite: %u", refused);
	CHECK(n_ind > 0 && n_jset > 0 && n_save > 0,
	      "rewrites exercised: %u indexed loads, %u jset (%u with X saved)",
	      n_ind, n_jset, n_save);
	printf("# %lu program runs compared\n", runs);
	limits();
	bc_free(&s);
	return dpc_test_done();
}
