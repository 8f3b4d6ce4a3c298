/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_bpf_jitcheck.c - checks the x86 code DPDK 22.11's JIT produced for a
 * converted classic BPF program before the daemon runs it.
 *
 * Why: the JIT sizes its jumps (rel8 or rel32) in dry passes that use the
 * previous pass's instruction offsets, and stops when the total code size
 * is unchanged between two passes. A pass can grow one jump and shrink
 * another by the same amount: the size is "stable" but the layout moved,
 * and the final code jumps a few bytes off its targets (into the middle of
 * instructions: SIGILL/SIGSEGV or wrong verdicts). Found by
 * tests/filter/test_bpf_jit.c's random programs; ordinary combined
 * tcpdump expressions hit it too (a few in a thousand).
 *
 * How: decode the machine code (only the instruction forms that JIT emits
 * for rte_bpf_convert's output), walk it alongside the eBPF program
 * knowing how many x86 instructions the JIT emits for each eBPF
 * instruction, and check that every jump lands exactly where it must:
 * the first instruction of the eBPF target, the epilogue, or the slow /
 * final part of a packet load. Anything unexpected fails the check (the
 * program then stays on libpcap).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bpf.h>

#include "dp_bpf_jitcheck.h"

/* x86 registers the JIT maps eBPF registers to (DPDK's fixed mapping). */
enum { RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7,
       R13 = 13, R14 = 14, R15 = 15 };
static const uint8_t x86_reg[EBPF_REG_NUM] = {
	[EBPF_REG_0] = RAX, [EBPF_REG_1] = RDI, [EBPF_REG_2] = RSI,
	[EBPF_REG_3] = RDX, [EBPF_REG_4] = RCX, [EBPF_REG_5] = 8,
	[EBPF_REG_6] = RBX, [EBPF_REG_7] = R13, [EBPF_REG_8] = R14,
	[EBPF_REG_9] = R15, [EBPF_REG_10] = RBP,
};

struct x86 {
	size_t len;
	bool jump;       /* rel8/rel32 jmp or jcc */
	bool ret;
	size_t target;   /* jump target (offset in the code) */
	uint8_t op[4];   /* first bytes after prefixes */
};

/* Length of a ModRM operand (ModRM byte, SIB, displacement). */
static size_t modrm_len(const uint8_t *c, size_t left)
{
	uint8_t m, mod, rm;
	size_t n = 1;

	if (left < 1)
		return 0;
	m = c[0];
	mod = m >> 6;
	rm = m & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) {
		if (left < 2)
			return 0;
		n++;
		if (mod == 0 && (c[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4;
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= left ? n : 0;
}

/* A jump's displacement of w (1 or 4) bytes at c[*q]: the jump's target
 * (relative to the end of the instruction), *q moved past it. */
static bool jump_rel(const uint8_t *c, size_t sz, size_t *q, size_t w, struct x86 *x)
{
	int32_t rel;

	if (*q + w > sz)
		return false;
	if (w == 1) {
		rel = (int8_t)c[*q];
	} else {
		memcpy(&rel, c + *q, 4);
	}
	*q += w;
	x->jump = true;
	x->target = (size_t)((int64_t)*q + rel);
	return true;
}

/* Decodes the instruction at c[p]; false if it is not one the JIT emits. */
static bool decode(const uint8_t *c, size_t sz, size_t p, struct x86 *x)
{
	size_t q = p, m;
	bool rexw = false;
	uint8_t o;

	memset(x, 0, sizeof(*x));
	if (q < sz && c[q] == 0x66)
		q++;
	if (q < sz && (c[q] & 0xf0) == 0x40) {
		rexw = (c[q] & 8) != 0;
		q++;
	}
	if (q >= sz)
		return false;
	o = c[q++];
	memcpy(x->op, c + q - 1, sz - (q - 1) < 4 ? sz - (q - 1) : 4);
	switch (o) {
	case 0x01: case 0x09: case 0x21: case 0x29: case 0x31: case 0x39:
	case 0x85: case 0x87: case 0x89: case 0x8b:
		m = modrm_len(c + q, sz - q);
		if (!m)
			return false;
		q += m;
		break;
	case 0x81: case 0x83: case 0xc1: case 0xc7:
		m = modrm_len(c + q, sz - q);
		if (!m)
			return false;
		q += m + (o == 0x83 || o == 0xc1 ? 1 : 4);
		break;
	case 0xd3: case 0xff:
		m = modrm_len(c + q, sz - q);
		if (!m)
			return false;
		q += m;
		break;
	case 0xf7: {
		uint8_t reg;

		if (q >= sz)
			return false;
		reg = (c[q] >> 3) & 7;
		m = modrm_len(c + q, sz - q);
		if (!m || reg == 1)
			return false;
		/* /0 is test with an imm32; /2../7 (not, neg, mul, div) none */
		q += m + (reg == 0 ? 4 : 0);
		break;
	}
	case 0xb8: case 0xb9: case 0xba: case 0xbb:
	case 0xbc: case 0xbd: case 0xbe: case 0xbf:
		q += rexw ? 8 : 4;
		break;
	case 0xc3:
		x->ret = true;
		break;
	case 0xeb:
	case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75:
	case 0x76: case 0x77: case 0x78: case 0x79: case 0x7a: case 0x7b:
	case 0x7c: case 0x7d: case 0x7e: case 0x7f:
		if (!jump_rel(c, sz, &q, 1, x))
			return false;
		break;
	case 0xe9:
		if (!jump_rel(c, sz, &q, 4, x))
			return false;
		break;
	case 0x0f:
		if (q >= sz)
			return false;
		o = c[q++];
		if (o >= 0x80 && o <= 0x8f) {
			if (!jump_rel(c, sz, &q, 4, x))
				return false;
		} else if (o == 0xb6 || o == 0xb7 || (o >= 0x40 && o <= 0x4f)) {
			m = modrm_len(c + q, sz - q);
			if (!m)
				return false;
			q += m;
		} else if (o < 0xc8 || o > 0xcf) {
			return false;   /* not bswap either */
		}
		break;
	default:
		return false;
	}
	if (q > sz)
		return false;
	x->len = q - p;
	return true;
}

/* What a jump of the code must land on. */
enum want { W_INSN, W_EXIT, W_AT };
struct pending {
	size_t from, target;  /* code offsets: the jump, where it lands */
	enum want want;
	size_t at;            /* W_INSN: eBPF index; W_AT: code offset */
};

struct walk {
	const uint8_t *code;
	size_t sz, p;
	struct pending *pend;
	uint32_t n_pend, cap_pend;
};

static int add_pending(struct walk *w, const struct x86 *x, size_t from,
		       enum want want, size_t at)
{
	if (!x->jump)
		return -EFAULT;
	if (w->n_pend == w->cap_pend) {
		uint32_t cap = w->cap_pend ? 2 * w->cap_pend : 64;
		struct pending *np = realloc(w->pend, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		w->pend = np;
		w->cap_pend = cap;
	}
	w->pend[w->n_pend++] = (struct pending){ from, x->target, want, at };
	return 0;
}

/* Decodes the next k instructions; starts[] gets their offsets, xs[]
 * their decodings (k <= 24). */
static int take(struct walk *w, unsigned k, size_t *starts, struct x86 *xs)
{
	for (unsigned j = 0; j < k; j++) {
		if (!decode(w->code, w->sz, w->p, &xs[j]))
			return -EFAULT;
		starts[j] = w->p;
		w->p += xs[j].len;
	}
	return 0;
}

/* Number of x86 instructions the JIT emits for one eBPF instruction (not
 * loads, jumps, exits: handled by the caller); -1 if not expected. */
static int alu_count(const struct ebpf_insn *ins)
{
	uint8_t op = ins->code, d = x86_reg[ins->dst_reg], s = x86_reg[ins->src_reg];

	if (BPF_CLASS(op) == EBPF_ALU64) {
		switch (BPF_OP(op)) {
		case EBPF_MOV:
			return BPF_SRC(op) == BPF_X && s == d ? 0 : 1;
		case BPF_ADD: case BPF_SUB: case BPF_AND: case BPF_OR: case BPF_XOR:
			return 1;
		}
		return -1;
	}
	switch (BPF_OP(op)) {
	case EBPF_MOV: case BPF_ADD: case BPF_SUB: case BPF_AND: case BPF_OR:
	case BPF_XOR: case BPF_NEG:
		return 1;
	case BPF_LSH: case BPF_RSH:
		return BPF_SRC(op) == BPF_K ? 1 : (s == RCX ? 1 : 3);
	case BPF_MUL:
		/* save rax, rdx; rax = dst; rdx = src; mul; restore rdx;
		 * dst = rax; restore rax */
		return 2 + (d != RAX) + 1 + 1 + (d != RDX) + (d != RAX ? 2 : 0);
	}
	return -1;
}

int dp_bpf_jit_check(const struct ebpf_insn *ins, uint32_t n,
		     const void *code, size_t sz)
{
	struct walk w = { .code = code, .sz = sz };
	size_t *start = NULL, epilog = SIZE_MAX, st[24];
	struct x86 xs[24], x;
	uint32_t i, j;
	int rc = -EFAULT;

	if (!ins || !n || !code || !sz)
		return -EINVAL;
	start = calloc(n, sizeof(*start));
	if (!start)
		return -ENOMEM;
	/* prologue: sub $N,%rsp; mov %reg,N(%rsp)...; [mov %rsp,%rbp;
	 * sub $N,%rsp] - the program itself starts with "xor r0, r0" */
	while (decode(w.code, sz, w.p, &x)) {
		const uint8_t *b = w.code + w.p;

		if (!((b[0] == 0x48 && (b[1] == 0x83 || b[1] == 0x81) && b[2] == 0xec) ||
		      ((b[0] & 0xf0) == 0x40 && b[1] == 0x89 && (b[2] & 0xc7) == 0x44 &&
		       b[3] == 0x24) ||
		      (b[0] == 0x48 && b[1] == 0x89 && b[2] == 0xe5)))
			break;
		w.p += x.len;
	}
	for (i = 0; i < n; i++) {
		const struct ebpf_insn *in = &ins[i];
		uint8_t op = in->code;
		int k;

		start[i] = w.p;
		switch (BPF_CLASS(op)) {
		case BPF_ALU:
		case EBPF_ALU64:
			k = alu_count(in);
			if (k < 0) {
				rc = -ENOTSUP;
				goto out;
			}
			if (take(&w, (unsigned)k, st, xs))
				goto out;
			for (j = 0; j < (unsigned)k; j++)
				if (xs[j].jump || xs[j].ret)
					goto out;
			break;
		case BPF_LDX:
		case BPF_STX:
			if (BPF_MODE(op) != BPF_MEM) {
				rc = -ENOTSUP;
				goto out;
			}
			if (take(&w, 1, st, xs) || xs[0].jump || xs[0].ret)
				goto out;
			break;
		case BPF_LD: {
			/* fast path: off = imm [+ src]; len check; jl slow;
			 * ptr = buf_addr + data_off + off; jmp fin. slow path:
			 * __rte_pktmbuf_read(); je exit. fin: load [+ swap]. */
			unsigned fast, slow = 8, fin;

			if (BPF_MODE(op) != BPF_ABS && BPF_MODE(op) != BPF_IND) {
				rc = -ENOTSUP;
				goto out;
			}
			fast = BPF_MODE(op) == BPF_IND ? 11 : 10;
			fin = 1 + (BPF_SIZE(op) == BPF_H ? 2 : BPF_SIZE(op) == BPF_W ? 1 : 0);
			if (take(&w, fast + slow + fin, st, xs))
				goto out;
			for (j = 0; j < fast + slow + fin; j++) {
				if (xs[j].ret)
					goto out;
				if (j == fast - 6)
					rc = add_pending(&w, &xs[j], st[j], W_AT, st[fast]);
				else if (j == fast - 1)
					rc = add_pending(&w, &xs[j], st[j], W_AT, st[fast + slow]);
				else if (j == fast + slow - 1)
					rc = add_pending(&w, &xs[j], st[j], W_EXIT, 0);
				else
					rc = xs[j].jump ? -EFAULT : 0;
				if (rc)
					goto out;
				rc = -EFAULT;
			}
			break;
		}
		case BPF_JMP:
			if (BPF_OP(op) == EBPF_EXIT) {
				if (epilog == SIZE_MAX) {
					/* [mov %rbp,%rsp; mov N(%rsp),%reg...;
					 * add $N,%rsp]; ret */
					epilog = w.p;
					for (j = 0; j < 16; j++) {
						if (take(&w, 1, st, xs) || xs[0].jump)
							goto out;
						if (xs[0].ret)
							break;
					}
					if (j == 16)
						goto out;
				} else {
					if (take(&w, 1, st, xs) ||
					    add_pending(&w, &xs[0], st[0], W_EXIT, 0))
						goto out;
				}
				break;
			}
			if (BPF_OP(op) == EBPF_CALL) {
				rc = -ENOTSUP;
				goto out;
			}
			if ((int64_t)i + in->off + 1 < 0 || (int64_t)i + in->off + 1 >= n)
				goto out;
			if (BPF_OP(op) == BPF_JA) {
				if (take(&w, 1, st, xs) ||
				    add_pending(&w, &xs[0], st[0], W_INSN,
						(size_t)((int64_t)i + in->off + 1)))
					goto out;
				break;
			}
			/* cmp/test, then jcc */
			if (BPF_OP(op) == BPF_JSET && BPF_SRC(op) == BPF_K &&
			    in->imm == (int8_t)in->imm) {
				rc = -ENOTSUP;  /* the imm8 encoding bug */
				goto out;
			}
			if (take(&w, 2, st, xs) || xs[0].jump || xs[0].ret ||
			    add_pending(&w, &xs[1], st[1], W_INSN,
					(size_t)((int64_t)i + in->off + 1)))
				goto out;
			break;
		default:
			rc = -ENOTSUP;
			goto out;
		}
	}
	if (w.p != sz || epilog == SIZE_MAX)
		goto out;
	for (j = 0; j < w.n_pend; j++) {
		const struct pending *pd = &w.pend[j];
		size_t want = pd->want == W_EXIT ? epilog :
			      pd->want == W_AT ? pd->at : start[pd->at];

		if (pd->target != want)
			goto out;
	}
	rc = 0;
out:
	free(w.pend);
	free(start);
	return rc;
}
