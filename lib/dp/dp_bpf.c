/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_bpf.c - run a filter's libpcap-compiled BPF programs with DPDK's
 * rte_bpf: rewritten around DPDK 22.11's converter and JIT bugs
 * (dp_bpf_fix.c), converted from classic BPF, JIT-compiled where
 * available. What cannot take that path stays on libpcap's interpreter.
 *
 * A converted program reads a struct rte_mbuf; the filter hands us raw
 * frame bytes, so each call fills the few fields of a one-segment mbuf
 * header on the stack that the converted code reads (no copy of the data).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_branch_prediction.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dp_internal.h"
#include "dp_bpf.h"
#include "dp_bpf_fix.h"
#include "dp_bpf_jitcheck.h"

struct dp_bpf {
	struct dp_bpf *next;
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *);
	const struct bpf_insn *orig;    /* libpcap's program (borrowed) */
	bool uses_len;
};

/* What dp_bpf_attach installed on one job (job->bpf_list). */
struct dp_bpf_set {
	struct dp_bpf *head;
	unsigned n[DP_BPF_JIT + 1];     /* programs per engine */
	char engine[32];
};

uint32_t dp_bpf_exec(void *ctx, const uint8_t *pkt, uint32_t caplen,
		     uint32_t wirelen)
{
	struct dp_bpf *b = ctx;
	struct rte_mbuf m;

	/* The converted program's "len" is pkt_len, the captured length, and
	 * an mbuf segment holds at most 64 KiB - 1: libpcap decides those. */
	if (unlikely(caplen > UINT16_MAX || (b->uses_len && caplen != wirelen)))
		return bpf_filter(b->orig, pkt, wirelen, caplen);
	/* Only the fields the converted code and __rte_pktmbuf_read() read
	 * (a memset of the whole header per call was measurable). */
	m.buf_addr = (void *)(uintptr_t)pkt;
	m.buf_len = (uint16_t)caplen;
	m.data_off = 0;
	m.data_len = (uint16_t)caplen;
	m.pkt_len = caplen;
	m.nb_segs = 1;
	m.next = NULL;
	if (likely(b->jit != NULL))
		return (uint32_t)b->jit(&m);
	return (uint32_t)rte_bpf_exec(b->bpf, &m);
}

struct dp_bpf *dp_bpf_load(const struct bpf_insn *insns, uint32_t n, bool want_jit)
{
	struct dp_bpf_fix_info info;
	struct bpf_insn *fixed = NULL;
	struct rte_bpf_prm *prm = NULL;
	struct bpf_program prog;
	struct rte_bpf_jit jit;
	struct dp_bpf *b = NULL;
	uint32_t nf;
	int rc;

	rc = dp_bpf_fix(insns, n, &fixed, &nf, &info);
	if (rc)
		goto fail;
	prog.bf_len = nf;
	prog.bf_insns = fixed;
	prm = rte_bpf_convert(&prog);
	if (!prm) {
		rc = -ENOTSUP;
		goto fail;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		rc = -ENOMEM;
		goto fail;
	}
	b->orig = insns;
	b->uses_len = info.uses_len;
	b->bpf = rte_bpf_load(prm);
	if (!b->bpf) {
		rc = -ENOTSUP;
		goto fail;
	}
	memset(&jit, 0, sizeof(jit));
	if (want_jit) {
		if (rte_bpf_get_jit(b->bpf, &jit) != 0 || !jit.func) {
			rc = -ENOTSUP;
			goto fail;
		}
		/* the JIT can emit jumps that miss their targets */
		rc = dp_bpf_jit_check(prm->ins, prm->nb_ins, (const void *)jit.func,
				      jit.sz);
		if (rc) {
			rc = rc == -ENOMEM ? -ENOMEM : -ENOEXEC;
			goto fail;
		}
		b->jit = jit.func;
	}
	rte_free(prm);
	free(fixed);
	return b;
fail:
	if (b)
		rte_bpf_destroy(b->bpf);
	free(b);
	rte_free(prm);
	free(fixed);
	errno = -rc;
	return NULL;
}

enum dp_bpf_engine dp_bpf_engine_of(const struct dp_bpf *b)
{
	return b->jit ? DP_BPF_JIT : DP_BPF_RTE;
}

dp_bpf_jit_fn dp_bpf_jit_of(const struct dp_bpf *b)
{
	return b->jit;
}

const char *dp_bpf_engine_name(enum dp_bpf_engine e)
{
	switch (e) {
	case DP_BPF_JIT:
		return "jit";
	case DP_BPF_RTE:
		return "rte_bpf";
	case DP_BPF_LIBPCAP:
		break;
	}
	return "libpcap";
}

void dp_bpf_free(struct dp_bpf *b)
{
	if (!b)
		return;
	rte_bpf_destroy(b->bpf);
	free(b);
}

struct attach_ctx {
	struct dp_bpf_set *set;
	bool want_jit;
	int why;                        /* first reason for libpcap */
};

static int attach_one(struct dpc_filter_bpf_slot *slot, void *arg)
{
	struct attach_ctx *a = arg;
	struct dp_bpf *b;

	b = dp_bpf_load(slot->insns, slot->n_insns, a->want_jit);
	if (!b) {
		if (errno == ENOMEM)
			return -ENOMEM;
		if (!a->why)
			a->why = errno;
		a->set->n[DP_BPF_LIBPCAP]++;
		return 0;
	}
	a->set->n[dp_bpf_engine_of(b)]++;
	slot->exec = dp_bpf_exec;
	slot->ctx = b;
	b->next = a->set->head;
	a->set->head = b;
	return 0;
}

int dp_bpf_attach(struct dp_job *job)
{
	struct attach_ctx a = { .want_jit = getenv("DPCAPD_NO_JIT") == NULL };
	static const enum dp_bpf_engine order[] = { DP_BPF_JIT, DP_BPF_RTE, DP_BPF_LIBPCAP };
	struct dp_bpf_set *set;
	unsigned i, total = 0;
	size_t len = 0;
	int rc;

	set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	job->bpf_list = set;
	a.set = set;
	rc = dpc_filter_bpf_foreach(job->filter, attach_one, &a);
	for (i = 0; i < RTE_DIM(order); i++) {
		if (!set->n[order[i]])
			continue;
		total += set->n[order[i]];
		len += (size_t)snprintf(set->engine + len, sizeof(set->engine) - len,
					"%s%s", len ? "+" : "",
					dp_bpf_engine_name(order[i]));
	}
	if (!total)
		snprintf(set->engine, sizeof(set->engine), "none");
	if (set->n[DP_BPF_LIBPCAP] && a.why)
		DP_LOG(INFO, "job \"%s\": BPF filter on %s (%u program%s; %u on libpcap: %s)",
		       job->spec.name, set->engine, total, total == 1 ? "" : "s",
		       set->n[DP_BPF_LIBPCAP], strerror(a.why));
	else
		DP_LOG(INFO, "job \"%s\": BPF filter on %s (%u program%s)",
		       job->spec.name, set->engine, total, total == 1 ? "" : "s");
	return rc;
}

void dp_bpf_detach(struct dp_job *job)
{
	struct dp_bpf_set *set = job->bpf_list;
	struct dp_bpf *b, *n;

	if (!set)
		return;
	for (b = set->head; b; b = n) {
		n = b->next;
		dp_bpf_free(b);
	}
	free(set);
	job->bpf_list = NULL;
}

const char *dp_bpf_job_engine(const struct dp_job *job)
{
	const struct dp_bpf_set *set = job->bpf_list;

	if (!job->filter || dpc_filter_is_native(job->filter))
		return "none";
	return set ? set->engine : "libpcap";
}
