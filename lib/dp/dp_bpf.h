/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_bpf.h - the daemon's engine for a filter's libpcap-compiled BPF
 * programs: rewritten for DPDK 22.11 (dp_bpf_fix.h), converted with
 * rte_bpf_convert and JIT-compiled; a program that cannot take that path
 * stays on libpcap's bpf_filter (the filter's default).
 *
 * Off the fast path: dp_bpf_load, dp_bpf_free, dp_bpf_attach/detach.
 * On it: dp_bpf_exec (no allocation, no lock). Needs EAL (rte_malloc).
 */
#ifndef DP_BPF_H
#define DP_BPF_H

#include <stdbool.h>
#include <stdint.h>

struct bpf_insn;
struct dp_bpf;
struct dp_job;

/** Engines a BPF program can run on. */
enum dp_bpf_engine {
	DP_BPF_LIBPCAP = 0,  /**< libpcap's bpf_filter (not loaded here) */
	DP_BPF_RTE,          /**< DPDK's eBPF interpreter (DPCAPD_NO_JIT) */
	DP_BPF_JIT,          /**< DPDK's x86 JIT */
};

/**
 * Prepare insns[0..n) for rte_bpf. insns is borrowed and must outlive the
 * result (it is run by libpcap for the frames rte_bpf cannot take).
 * @param want_jit false: DPDK's interpreter only.
 * @return the program, or NULL with errno: the libpcap interpreter is to
 *   be used (ERANGE, EBUSY, EINVAL: the rewrite refused it; ENOTSUP: DPDK
 *   refused it or has no JIT; ENOEXEC: the JIT's code failed
 *   dp_bpf_jit_check; ENOMEM).
 */
struct dp_bpf *dp_bpf_load(const struct bpf_insn *insns, uint32_t n, bool want_jit);

/** Which engine b runs on (DP_BPF_JIT or DP_BPF_RTE). */
enum dp_bpf_engine dp_bpf_engine_of(const struct dp_bpf *b);

/** Name of an engine: "libpcap", "rte_bpf", "jit". */
const char *dp_bpf_engine_name(enum dp_bpf_engine e);

/**
 * Run b (a struct dp_bpf *) on a frame: the BPF return value, as libpcap's
 * bpf_filter(insns, pkt, wirelen, caplen) returns it. Matches
 * dpc_filter_bpf_exec_t.
 */
uint32_t dp_bpf_exec(void *b, const uint8_t *pkt, uint32_t caplen, uint32_t wirelen);

/** A JIT-compiled program's entry: takes a struct rte_mbuf *, returns the
 * BPF return value. */
typedef uint64_t (*dp_bpf_jit_fn)(void *mbuf);

/**
 * b's JIT-compiled code, to run on a received mbuf itself (what a
 * dpdk-pdump rx callback does), or NULL when b runs on the interpreter.
 */
dp_bpf_jit_fn dp_bpf_jit_of(const struct dp_bpf *b);

/** Free b (NULL: no-op). */
void dp_bpf_free(struct dp_bpf *b);

/**
 * Install the faster engine on each BPF program of job->filter and log,
 * once, which engine the job's BPF runs on. Programs rte_bpf cannot take
 * keep libpcap. Environment DPCAPD_NO_JIT: DPDK's interpreter instead of
 * the JIT (debugging). @return 0 or -ENOMEM.
 */
int dp_bpf_attach(struct dp_job *job);
void dp_bpf_detach(struct dp_job *job);

/**
 * The engine(s) job's BPF programs run on: "jit", "libpcap", "rte_bpf",
 * or several joined with '+' ("jit+libpcap"); "none" for a native filter.
 */
const char *dp_bpf_job_engine(const struct dp_job *job);

#endif /* DP_BPF_H */
