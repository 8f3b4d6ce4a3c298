/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_bpf_jitcheck.h - verify DPDK 22.11's x86 JIT output for a program
 * made by rte_bpf_convert (why and how: dp_bpf_jitcheck.c).
 */
#ifndef DP_BPF_JITCHECK_H
#define DP_BPF_JITCHECK_H

#include <stddef.h>
#include <stdint.h>

struct ebpf_insn;

/**
 * Check that code[0..sz) (rte_bpf_get_jit's func and sz) is what the JIT
 * should have emitted for ins[0..n): every jump lands on its target.
 * @return 0: safe to run; -EFAULT: a jump is off (the JIT's layout bug) or
 *   the code is not as expected; -ENOTSUP: an instruction this check does
 *   not model (division, calls, ...); -EINVAL, -ENOMEM.
 */
int dp_bpf_jit_check(const struct ebpf_insn *ins, uint32_t n,
		     const void *code, size_t sz);

#endif /* DP_BPF_JITCHECK_H */
