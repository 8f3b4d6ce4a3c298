/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_triage.c - libFuzzer target over the triage analyser's input: the
 * bytes of a pcap/pcapng file, read through libpcap into lib/triage with
 * small caps (so eviction and overflow paths run), then all three reports
 * rendered. Replayed over corpus_triage/ in suite fuzz by fuzz_replay.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dpc_triage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null_out;
	struct dpc_triage_opts o;
	struct dpc_triage *t;
	FILE *fp;

	if (size == 0)
		return 0;
	if (null_out == NULL) {
		null_out = fopen("/dev/null", "w");
		if (null_out == NULL)
			abort();
	}
	dpc_triage_opts_init(&o);
	o.max_flows = 32;
	o.max_entries = 32;
	o.top_n = 3;
	o.flow_idle_s = 5;
	dpc_parse_opts_add_vxlan_port(&o.parse, 8472);
	t = dpc_triage_new(&o);
	if (t == NULL)
		abort();
	fp = fmemopen((void *)(uintptr_t)data, size, "rb");
	if (fp != NULL)
		dpc_triage_read_stream(t, fp, "fuzz", NULL, 0);
	dpc_triage_finish(t);
	if (dpc_triage_write_text(t, null_out) != 0 ||
	    dpc_triage_write_json(t, null_out) != 0 ||
	    dpc_triage_write_html(t, null_out) != 0)
		abort();
	dpc_triage_free(t);
	return 0;
}
