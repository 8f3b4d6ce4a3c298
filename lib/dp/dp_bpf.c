/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_bpf.c - run a filter's libpcap-compiled BPF programs with DPDK's
 * rte_bpf (converted from classic BPF, JIT-compiled where available).
 *
 * A converted program reads a struct rte_mbuf; the filter hands us raw
 * frame bytes, so each call builds a one-segment mbuf header on the stack
 * that points at them (no copy of the data).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dp_internal.h"

struct dp_bpf {
	struct dp_bpf *next;
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *);
};

static uint32_t dp_bpf_exec(void *ctx, const uint8_t *pkt, uint32_t caplen,
			    uint32_t wirelen)
{
	struct dp_bpf *b = ctx;
	struct rte_mbuf m;

	(void)wirelen;
	memset(&m, 0, sizeof(m));
	m.buf_addr = (void *)(uintptr_t)pkt;
	m.buf_len = (uint16_t)(caplen > UINT16_MAX ? UINT16_MAX : caplen);
	m.data_off = 0;
	m.data_len = m.buf_len;
	m.pkt_len = m.buf_len;
	m.nb_segs = 1;
	m.next = NULL;
	if (b->jit)
		return (uint32_t)b->jit(&m);
	return (uint32_t)rte_bpf_exec(b->bpf, &m);
}

static int attach_one(struct dpc_filter_bpf_slot *slot, void *arg)
{
	struct dp_job *job = arg;
	struct bpf_program prog;
	struct rte_bpf_prm *prm;
	struct rte_bpf_jit jit;
	struct dp_bpf *b;
	unsigned i;

	/* DPDK 22.11's converter mistranslates the IPv4 header-length load
	 * (ldxb 4*([k]&0xf), used by every tcp[]/udp[] access): such programs
	 * never match under rte_bpf and crash its JIT. Keep them on libpcap's
	 * interpreter (found by tests/integration/test_replay.py). */
	for (i = 0; i < slot->n_insns; i++)
		if (slot->insns[i].code == (BPF_LDX | BPF_MSH | BPF_B))
			return 0;
	/* Its x86 JIT also gets "jset" wrong ("ether[0] & 1 != 0" matched
	 * everything): those stay on libpcap too. */
	for (i = 0; i < slot->n_insns; i++)
		if (BPF_CLASS(slot->insns[i].code) == BPF_JMP &&
		    BPF_OP(slot->insns[i].code) == BPF_JSET)
			return 0;
	prog.bf_len = slot->n_insns;
	prog.bf_insns = (struct bpf_insn *)(uintptr_t)slot->insns;
	prm = rte_bpf_convert(&prog);
	if (!prm)
		return 0;  /* keep libpcap's interpreter for this one */
	b = calloc(1, sizeof(*b));
	if (!b) {
		rte_free(prm);
		return -ENOMEM;
	}
	b->bpf = rte_bpf_load(prm);
	rte_free(prm);
	if (!b->bpf) {
		free(b);
		return 0;
	}
	memset(&jit, 0, sizeof(jit));
	if (!getenv("DPCAPD_NO_JIT") && rte_bpf_get_jit(b->bpf, &jit) == 0 && jit.func)
		b->jit = jit.func;
	slot->exec = dp_bpf_exec;
	slot->ctx = b;
	b->next = job->bpf_list;
	job->bpf_list = b;
	return 0;
}

int dp_bpf_attach(struct dp_job *job)
{
	return dpc_filter_bpf_foreach(job->filter, attach_one, job);
}

void dp_bpf_detach(struct dp_job *job)
{
	struct dp_bpf *b = job->bpf_list, *n;

	for (; b; b = n) {
		n = b->next;
		rte_bpf_destroy(b->bpf);
		free(b);
	}
	job->bpf_list = NULL;
}
