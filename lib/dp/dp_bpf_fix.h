/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_bpf_fix.h - rewrites a classic BPF program (as libpcap compiles it)
 * into an equivalent one that DPDK 22.11's rte_bpf_convert() and x86 JIT
 * run with libpcap's semantics. Plain C over struct bpf_insn: no DPDK, no
 * EAL, so it is unit-tested against libpcap's bpf_filter() alone.
 *
 * What DPDK 22.11 gets wrong, and what the rewrite does about it (details
 * and the evidence in docs/datapath.md, section BPF):
 *
 * 1. rte_bpf_convert() translates the indexed loads "ld/ldh/ldb [x + k]"
 *    into eBPF loads indexed by A (eBPF r0) instead of X (r7): it takes the
 *    index register from the BPF_X source bit, which an indexed load does
 *    not have. libpcap emits such a load after every "ldxb 4*([k]&0xf)"
 *    (tcp[...], udp[...], icmp[...], ports after an IPv4 header).
 *    Rewrite: "txa" before the load (A is overwritten by the load anyway,
 *    so A == X when the mistranslated load reads its index), preceded by
 *    a bound "jgt #0xffff -> ret #0" on X so X + k cannot wrap in the
 *    64-bit eBPF offset arithmetic (libpcap rejects such loads; frames
 *    here are at most 65535 bytes).
 *
 * 2. The x86 JIT encodes "jset #k" with 0 <= k <= 0x7f as a "test r64,
 *    imm32" opcode followed by a 1-byte immediate: the code after it is
 *    misdecoded (wrong verdicts, or a crash). The register form ("jset x")
 *    and immediates outside that range are encoded correctly.
 *    Rewrite: "ldx #k; jset x" when X is dead at both jump targets;
 *    otherwise X is saved in a scratch memory slot the program does not
 *    use and restored on both edges.
 *
 * Loads at offsets above 0xffff are refused (the eBPF offset is signed;
 * libpcap would reject them anyway), as are programs that need a scratch
 * slot when all 16 are used, and programs whose rewritten jumps no longer
 * fit classic BPF's 8-bit offsets: those stay on libpcap's interpreter.
 *
 * "len" (BPF_LEN) loads are kept; the converted program reads the mbuf's
 * pkt_len, which is the captured length, so the caller must run a program
 * with uses_len on libpcap when a frame's captured and wire lengths differ.
 */
#ifndef DP_BPF_FIX_H
#define DP_BPF_FIX_H

#include <stdbool.h>
#include <stdint.h>

struct bpf_insn;

/** Longest input program accepted (DPDK's converter limit). */
#define DP_BPF_FIX_MAXINSNS 4096u

struct dp_bpf_fix_info {
	uint32_t n_ind;       /**< indexed loads rewritten */
	uint32_t n_jset;      /**< jset #k rewritten */
	uint32_t n_jset_save; /**< ... of which needed the X save/restore */
	int scratch;          /**< memory slot used, -1 if none */
	bool uses_len;        /**< reads the packet length ("len") */
};

/**
 * Rewrite in[0..n) into a new program.
 * @param out gets a malloc'ed program (the caller frees it), *n_out its
 *        length. Untouched on error.
 * @param info optional; filled on success.
 * @return 0; -EINVAL: not a valid classic BPF program (unknown opcode,
 *         jump out of range, memory slot >= 16, last instruction not a
 *         return, longer than DP_BPF_FIX_MAXINSNS); -ERANGE: a load offset
 *         above 0xffff or a rewritten jump that no longer fits 8 bits;
 *         -EBUSY: a scratch slot is needed and all 16 are used; -ENOMEM.
 */
int dp_bpf_fix(const struct bpf_insn *in, uint32_t n, struct bpf_insn **out,
	       uint32_t *n_out, struct dp_bpf_fix_info *info);

#endif /* DP_BPF_FIX_H */
