/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_bpf_fix.c - classic BPF rewrite for DPDK 22.11's rte_bpf_convert and
 * x86 JIT (what and why: dp_bpf_fix.h).
 *
 * Classic BPF only jumps forward, so one backward pass gives exact X
 * liveness, and a program is rewritten in two passes: sizes (hence the
 * new position of every original instruction), then emission with every
 * jump offset recomputed against the new positions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/bpf.h>

#include "dp_bpf_fix.h"

#define LOAD_MAX 0xffffu      /* highest load offset kept */
#define JSET_BAD_MAX 0x7fu    /* jset #k mis-encoded for 0 <= k <= this */

/* Instruction kinds the rewrite cares about. */
enum kind { K_PLAIN, K_JUMP, K_JA, K_RET, K_IND, K_JSET_SMALL };

/* Classifies one instruction; -EINVAL for what libpcap's interpreter
 * does not run either. Sets *uses_x / *defs_x for the liveness pass. */
static int classify(const struct bpf_insn *p, enum kind *kind, bool *uses_x,
		    bool *defs_x)
{
	uint16_t c = p->code;

	*kind = K_PLAIN;
	*uses_x = false;
	*defs_x = false;
	if (c & 0xff00)
		return -EINVAL;
	switch (BPF_CLASS(c)) {
	case BPF_LD:
		switch (c) {
		case BPF_LD | BPF_W | BPF_ABS:
		case BPF_LD | BPF_H | BPF_ABS:
		case BPF_LD | BPF_B | BPF_ABS:
			return p->k > LOAD_MAX ? -ERANGE : 0;
		case BPF_LD | BPF_W | BPF_IND:
		case BPF_LD | BPF_H | BPF_IND:
		case BPF_LD | BPF_B | BPF_IND:
			*kind = K_IND;
			*uses_x = true;
			return p->k > LOAD_MAX ? -ERANGE : 0;
		case BPF_LD | BPF_W | BPF_LEN:
		case BPF_LD | BPF_IMM:
			return 0;
		case BPF_LD | BPF_MEM:
			return p->k < BPF_MEMWORDS ? 0 : -EINVAL;
		}
		return -EINVAL;
	case BPF_LDX:
		*defs_x = true;
		switch (c) {
		case BPF_LDX | BPF_W | BPF_IMM:
		case BPF_LDX | BPF_W | BPF_LEN:
			return 0;
		case BPF_LDX | BPF_W | BPF_MEM:
			return p->k < BPF_MEMWORDS ? 0 : -EINVAL;
		case BPF_LDX | BPF_B | BPF_MSH:
			return p->k > LOAD_MAX ? -ERANGE : 0;
		}
		return -EINVAL;
	case BPF_ST:
	case BPF_STX:
		if (c != BPF_ST && c != BPF_STX)
			return -EINVAL;
		*uses_x = c == BPF_STX;
		return p->k < BPF_MEMWORDS ? 0 : -EINVAL;
	case BPF_ALU:
		switch (BPF_OP(c)) {
		case BPF_NEG:
			return c == (BPF_ALU | BPF_NEG) ? 0 : -EINVAL;
		case BPF_ADD: case BPF_SUB: case BPF_MUL: case BPF_DIV:
		case BPF_MOD: case BPF_AND: case BPF_OR: case BPF_XOR:
		case BPF_LSH: case BPF_RSH:
			*uses_x = BPF_SRC(c) == BPF_X;
			/* libpcap refuses these at compile time; the
			 * interpreter returns 0 for them. */
			if (BPF_SRC(c) == BPF_K && p->k == 0 &&
			    (BPF_OP(c) == BPF_DIV || BPF_OP(c) == BPF_MOD))
				return -EINVAL;
			return 0;
		}
		return -EINVAL;
	case BPF_JMP:
		if (c == (BPF_JMP | BPF_JA)) {
			*kind = K_JA;
			return 0;
		}
		switch (BPF_OP(c)) {
		case BPF_JEQ: case BPF_JGT: case BPF_JGE: case BPF_JSET:
			*kind = K_JUMP;
			*uses_x = BPF_SRC(c) == BPF_X;
			if (c == (BPF_JMP | BPF_JSET | BPF_K) && p->k <= JSET_BAD_MAX)
				*kind = K_JSET_SMALL;
			return 0;
		}
		return -EINVAL;
	case BPF_RET:
		*kind = K_RET;
		return c == (BPF_RET | BPF_K) || c == (BPF_RET | BPF_A) ? 0 : -EINVAL;
	case BPF_MISC:
		if (c == (BPF_MISC | BPF_TAX)) {
			*defs_x = true;
			return 0;
		}
		if (c == (BPF_MISC | BPF_TXA)) {
			*uses_x = true;
			return 0;
		}
		return -EINVAL;
	}
	return -EINVAL;
}

/* Instructions whose k is ignored by classic BPF: rte_bpf_convert copies
 * k into the eBPF immediate, which rte_bpf_load then refuses unless 0. */
static bool k_unused(uint16_t c)
{
	switch (BPF_CLASS(c)) {
	case BPF_ALU:
		return BPF_SRC(c) == BPF_X || BPF_OP(c) == BPF_NEG;
	case BPF_MISC:
		return true;
	case BPF_RET:
		return BPF_RVAL(c) == BPF_A;
	case BPF_LD:
	case BPF_LDX:
		return BPF_MODE(c) == BPF_LEN;
	}
	return false;
}

static struct bpf_insn stmt(uint16_t code, uint32_t k)
{
	struct bpf_insn i = { .code = code, .jt = 0, .jf = 0, .k = k };

	return i;
}

/* Offset of a jump from the instruction at out position `at` to out
 * position `to`, as an 8-bit field. */
static int off8(uint32_t at, uint32_t to, uint8_t *v)
{
	if (to <= at || to - at - 1 > 255)
		return -ERANGE;
	*v = (uint8_t)(to - at - 1);
	return 0;
}

int dp_bpf_fix(const struct bpf_insn *in, uint32_t n, struct bpf_insn **out,
	       uint32_t *n_out, struct dp_bpf_fix_info *info)
{
	struct dp_bpf_fix_info inf = { .scratch = -1 };
	uint32_t *start = NULL, total = 0, i, used_mem = 0, ret0 = 0;
	struct bpf_insn *o = NULL;
	uint8_t *live = NULL, *kinds = NULL;
	bool need_scratch = false;
	int rc;

	if (!in || n == 0 || n > DP_BPF_FIX_MAXINSNS || !out || !n_out)
		return -EINVAL;
	start = calloc(n + 1, sizeof(*start));
	live = calloc(n + 1, 1);
	kinds = calloc(n, 1);
	if (!start || !live || !kinds) {
		rc = -ENOMEM;
		goto out;
	}

	/* Check, classify, and compute X liveness backwards (live[i]: X is
	 * read at or after i before being written). */
	if (BPF_CLASS(in[n - 1].code) != BPF_RET) {
		rc = -EINVAL;
		goto out;
	}
	for (i = n; i-- > 0;) {
		const struct bpf_insn *p = &in[i];
		bool uses_x, defs_x, l;
		enum kind k;

		rc = classify(p, &k, &uses_x, &defs_x);
		if (rc)
			goto out;
		kinds[i] = (uint8_t)k;
		if (BPF_CLASS(p->code) == BPF_ST || BPF_CLASS(p->code) == BPF_STX ||
		    ((BPF_CLASS(p->code) == BPF_LD || BPF_CLASS(p->code) == BPF_LDX) &&
		     BPF_MODE(p->code) == BPF_MEM))
			used_mem |= 1u << p->k;
		switch (k) {
		case K_RET:
			l = false;
			break;
		case K_JA:
			if (p->k >= n - i - 1) {
				rc = -EINVAL;
				goto out;
			}
			l = live[i + 1 + p->k];
			break;
		case K_JUMP:
		case K_JSET_SMALL:
			if ((uint32_t)p->jt + 1 + i >= n || (uint32_t)p->jf + 1 + i >= n) {
				rc = -EINVAL;
				goto out;
			}
			l = live[i + 1 + p->jt] || live[i + 1 + p->jf];
			break;
		default:
			l = live[i + 1];
			break;
		}
		live[i] = uses_x || (l && !defs_x);
	}

	/* Sizes: the new position of each original instruction. */
	for (i = 0; i < n; i++) {
		const struct bpf_insn *p = &in[i];

		start[i] = total;
		switch (kinds[i]) {
		case K_IND:
			inf.n_ind++;
			total += 3;     /* txa; jgt #0xffff -> ret 0; load */
			break;
		case K_JSET_SMALL:
			inf.n_jset++;
			if (!live[i + 1 + p->jt] && !live[i + 1 + p->jf]) {
				total += 2;     /* ldx #k; jset x */
			} else {
				inf.n_jset_save++;
				need_scratch = true;
				total += 7;
			}
			break;
		default:
			total += 1;
			break;
		}
		if ((p->code == (BPF_LD | BPF_W | BPF_LEN)) ||
		    (p->code == (BPF_LDX | BPF_W | BPF_LEN)))
			inf.uses_len = true;
	}
	start[n] = total;
	if (inf.n_ind)
		ret0 = total++;
	if (total > DP_BPF_FIX_MAXINSNS) {
		rc = -ERANGE;
		goto out;
	}
	if (need_scratch) {
		for (i = 0; i < BPF_MEMWORDS; i++)
			if (!(used_mem & (1u << i)))
				break;
		if (i == BPF_MEMWORDS) {
			rc = -EBUSY;
			goto out;
		}
		inf.scratch = (int)i;
	}

	o = calloc(total, sizeof(*o));
	if (!o) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct bpf_insn *p = &in[i];
		uint32_t at = start[i], t, f;
		struct bpf_insn *q = &o[at];

		switch (kinds[i]) {
		case K_IND:
			q[0] = stmt(BPF_MISC | BPF_TXA, 0);
			q[1] = stmt(BPF_JMP | BPF_JGT | BPF_K, LOAD_MAX);
			rc = off8(at + 1, ret0, &q[1].jt);
			if (rc)
				goto out;
			q[2] = *p;
			break;
		case K_JA:
			*q = *p;
			q->k = start[i + 1 + p->k] - at - 1;
			break;
		case K_JUMP:
			*q = *p;
			if (BPF_SRC(p->code) == BPF_X)
				q->k = 0;
			rc = off8(at, start[i + 1 + p->jt], &q->jt);
			if (!rc)
				rc = off8(at, start[i + 1 + p->jf], &q->jf);
			if (rc)
				goto out;
			break;
		case K_JSET_SMALL:
			t = start[i + 1 + p->jt];
			f = start[i + 1 + p->jf];
			if (!live[i + 1 + p->jt] && !live[i + 1 + p->jf]) {
				q[0] = stmt(BPF_LDX | BPF_W | BPF_IMM, p->k);
				q[1] = stmt(BPF_JMP | BPF_JSET | BPF_X, 0);
				rc = off8(at + 1, t, &q[1].jt);
				if (!rc)
					rc = off8(at + 1, f, &q[1].jf);
				if (rc)
					goto out;
				break;
			}
			/* stx M[s]; ldx #k; jset x 0/2; ldx M[s]; ja t;
			 * ldx M[s]; ja f */
			q[0] = stmt(BPF_STX, (uint32_t)inf.scratch);
			q[1] = stmt(BPF_LDX | BPF_W | BPF_IMM, p->k);
			q[2] = stmt(BPF_JMP | BPF_JSET | BPF_X, 0);
			q[2].jt = 0;
			q[2].jf = 2;
			q[3] = stmt(BPF_LDX | BPF_W | BPF_MEM, (uint32_t)inf.scratch);
			q[4] = stmt(BPF_JMP | BPF_JA, t - (at + 4) - 1);
			q[5] = stmt(BPF_LDX | BPF_W | BPF_MEM, (uint32_t)inf.scratch);
			q[6] = stmt(BPF_JMP | BPF_JA, f - (at + 6) - 1);
			break;
		default:
			*q = *p;
			q->jt = q->jf = 0;
			if (k_unused(p->code))
				q->k = 0;
			break;
		}
	}
	if (inf.n_ind)
		o[ret0] = stmt(BPF_RET | BPF_K, 0);
	*out = o;
	*n_out = total;
	o = NULL;
	if (info)
		*info = inf;
	rc = 0;
out:
	free(o);
	free(start);
	free(live);
	free(kinds);
	return rc;
}
