/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_screen.c - libFuzzer target for dpc_classifier_screen().
 *
 * Input: one option byte, then a frame. The option byte picks the parser
 * options (VXLAN ports, tunnel depth) and how much longer than the
 * capture the wire length is (a snapped frame). For three job sets (host
 * jobs only: the short path; a mixed indexed set: the general walk; a
 * set whose jobs match everything the generator-like seeds carry), a
 * frame the screen settles must parse OK and be wanted by no job of the
 * set, as the full path decides on its own. Any difference aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_filter.h"
#include "dpc_parse.h"
#include "dpc_screen_x8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const set_exprs[3][5] = {
	{ "host 10.0.0.1", "host 192.168.1.1 and tcp port 80", "src host 172.16.0.1",
	  "dst host 10.1.2.3 and udp", NULL },
	{ "port 80", "vni 42", "outer host 10.9.0.1", "ip6 host 2001:db8::1",
	  "dst port 53" },
	{ "host 10.0.0.2 or port 443", "outer udp port 4789 and vni 5001",
	  "sctp port 5432", "ip6 host 2001:db8::2 and port 22", NULL },
};

static struct dpc_filter *jobs[3][5];
static unsigned n_jobs[3];
static struct dpc_classifier *cls[3];

static void init(void)
{
	for (int s = 0; s < 3; s++) {
		for (int j = 0; j < 5 && set_exprs[s][j]; j++) {
			jobs[s][j] = dpc_filter_compile(set_exprs[s][j], NULL);
			if (jobs[s][j] == NULL) {
				fprintf(stderr, "fuzz_screen: cannot compile %s\n",
					set_exprs[s][j]);
				abort();
			}
			n_jobs[s]++;
		}
		cls[s] = dpc_classifier_build(jobs[s], n_jobs[s]);
		if (cls[s] == NULL)
			abort();
	}
}

#ifdef DPC_SCREEN_X8
/* The frame captured to caplen, caplen - 1, ... caplen - 7 in eight lanes
 * of dpc_screen_v4_x8(); aborts when it settles a lane dpc_screen_v4()
 * does not. */
static __attribute__((noinline)) DPC_SCREEN_X8_TARGET void
check_x8(const uint64_t *bloom, const struct dpc_parse_opts *opts,
	 const uint8_t *frame, uint32_t caplen, uint32_t wirelen)
{
	uint64_t f[8], cap[8], end[8];
	unsigned got;

	for (unsigned l = 0; l < 8; l++) {
		f[l] = (uint64_t)(uintptr_t)frame;
		cap[l] = caplen > l ? caplen - l : 0;
		end[l] = wirelen > cap[l] ? wirelen : cap[l];
	}
	got = dpc_screen_v4_x8(bloom, opts, _mm512_loadu_si512(f), _mm512_loadu_si512(cap),
			       _mm512_loadu_si512(end), 0xff);
	for (unsigned l = 0; l < 8; l++)
		if (((got >> l) & 1) &&
		    dpc_screen_v4(bloom, opts, frame, (uint32_t)cap[l], wirelen) !=
		    DPC_SCREEN_UNWANTED) {
			fprintf(stderr, "x8 settles lane %u (caplen %u) that the screen does not\n",
				l, (unsigned)cap[l]);
			abort();
		}
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dpc_parse_opts opts;
	const uint8_t *frame;
	uint32_t caplen, wirelen;
	uint8_t opt;

	if (cls[0] == NULL)
		init();
	if (size < 1)
		return 0;
	opt = data[0];
	frame = data + 1;
	caplen = (uint32_t)(size - 1);
	wirelen = caplen + ((opt & 0x80) ? (uint32_t)(opt & 0x1f) * 64 : 0);
	dpc_parse_opts_init(&opts);
	if (opt & 0x20)
		dpc_parse_opts_add_vxlan_port(&opts, 8472);
	if (opt & 0x40)
		opts.max_tunnel_depth = (opt & 1) ? 0 : 2;
#ifdef DPC_SCREEN_X8
	{
		static int x8 = -1;

		if (x8 < 0)
			x8 = dpc_screen_x8_usable();
		if (x8 && dpc_classifier_screen_v4(cls[0]))
			check_x8(dpc_classifier_screen_v4(cls[0]), &opts, frame, caplen, wirelen);
	}
#endif
	for (int s = 0; s < 3; s++) {
		struct dpc_key key;

		if (!dpc_classifier_screen(cls[s], &opts, frame, caplen, wirelen))
			continue;
		dpc_parse(&opts, frame, caplen, wirelen, &key);
		if (key.status != DPC_PARSE_OK) {
			fprintf(stderr, "screened frame parses %d (set %d)\n",
				key.status, s);
			abort();
		}
		for (unsigned j = 0; j < n_jobs[s]; j++)
			if (dpc_filter_match(jobs[s][j], &key, frame, caplen)) {
				fprintf(stderr, "screened frame wanted by '%s'\n",
					set_exprs[s][j]);
				abort();
			}
		if (dpc_classifier_match(cls[s], &key, frame, caplen) != 0)
			abort();
	}
	return 0;
}
