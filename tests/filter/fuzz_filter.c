/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_filter.c - libFuzzer target for the filter compiler.
 *
 * Input: an expression. dpcap's compiler must not crash; for a plain
 * tcpdump expression (no dpcap keyword) it must accept exactly what
 * libpcap accepts, and on a fixed set of generated frames (plain, tagged,
 * VXLAN, truncated) its verdicts must equal libpcap's on the innermost
 * untagged frame, alone and through the classifier. Any difference aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "dpc_filter.h"
#include "dpc_parse.h"
#include "filter_gen.h"

#define N_FRAMES 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gen_frame frames[N_FRAMES];
static struct dpc_key keys[N_FRAMES];
static pcap_t *pd;

static void init(void)
{
	struct dpc_parse_opts opts;

	dpc_parse_opts_init(&opts);
	for (unsigned i = 0; i < N_FRAMES; i++) {
		gen_frame(&frames[i], 4242u + i * 31u, (int)(i % 3));
		dpc_parse(&opts, frames[i].b, frames[i].len, frames[i].wirelen,
			  &keys[i]);
	}
	pd = pcap_open_dead(DLT_EN10MB, 262144);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char expr[DPC_FILTER_EXPR_MAX + 2];
	struct dpc_filter_error err;
	struct dpc_filter *f, *jobs[3];
	struct dpc_classifier *c;
	struct bpf_program prog;
	bool plain, pcap_ok;
	size_t n = size < sizeof(expr) - 1 ? size : sizeof(expr) - 1;

	if (pd == NULL)
		init();
	memcpy(expr, data, n);
	expr[n] = '\0';
	plain = !strstr(expr, "outer") && !strstr(expr, "vxlan") &&
		!strstr(expr, "vni") && !strstr(expr, "vlan") &&
		strlen(expr) <= DPC_FILTER_EXPR_MAX;
	f = dpc_filter_compile(expr, &err);
	if (f == NULL) {
		if (err.column < 0 || strlen(err.msg) == 0)
			abort();
	}
	if (!plain || expr[0] == '\0') {
		/* exercise evaluation anyway */
		if (f) {
			for (unsigned i = 0; i < N_FRAMES; i++)
				(void)dpc_filter_match(f, &keys[i], frames[i].b,
						       frames[i].len);
		}
		dpc_filter_free(f);
		return 0;
	}
	pcap_ok = pcap_compile(pd, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
	if (pcap_ok != (f != NULL)) {
		fprintf(stderr, "accept mismatch on '%s': dpcap %d libpcap %d (%s)\n",
			expr, f != NULL, pcap_ok, f ? "" : err.msg);
		abort();
	}
	if (!pcap_ok)
		return 0;
	jobs[0] = jobs[1] = jobs[2] = f;
	c = dpc_classifier_build(jobs, 3);
	for (unsigned i = 0; i < N_FRAMES; i++) {
		const struct gen_frame *g = &frames[i];
		struct pcap_pkthdr h = { 0 };
		bool want, got;
		uint64_t m;

		h.caplen = g->view_len;
		h.len = g->view_wirelen;
		want = pcap_offline_filter(&prog, &h, g->view) != 0;
		got = dpc_filter_match(f, &keys[i], g->b, g->len);
		if (want != got) {
			fprintf(stderr, "verdict mismatch on '%s' frame %u: dpcap %d "
				"libpcap %d\n", expr, i, got, want);
			abort();
		}
		if (c) {
			m = dpc_classifier_match(c, &keys[i], g->b, g->len);
			if (m != (want ? 7u : 0u))
				abort();
		}
	}
	dpc_classifier_free(c);
	pcap_freecode(&prog);
	dpc_filter_free(f);
	return 0;
}
