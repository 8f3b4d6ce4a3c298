/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_parse.c - libFuzzer target for dpc_parse().
 *
 * The input is one raw Ethernet frame (corpus_parse/ holds the golden frames
 * of test_parse.c and packets of the tcpdump corpus). Each input is parsed
 * three ways: default options with wirelen == caplen, VXLAN also on 8472
 * with nested tunnels allowed, and as a snapped capture (wirelen larger).
 * Besides the sanitizers, the target checks the key's invariants and
 * aborts when one fails, so a logic error is a crash too.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bug(const char *what)
{
	fprintf(stderr, "fuzz_parse: invariant broken: %s\n", what);
	abort();
}

static void check_hdrs(const struct dpc_hdrs *h, uint32_t caplen)
{
	const uint16_t offs[4] = { h->off.l2, h->off.l3, h->off.l4, h->off.payload };

	for (int i = 0; i < 4; i++)
		if (offs[i] != DPC_OFF_NONE && offs[i] > caplen)
			bug("offset past caplen");
	for (int i = 1; i < 4; i++)
		if (offs[i] != DPC_OFF_NONE && offs[i - 1] != DPC_OFF_NONE &&
		    offs[i] < offs[i - 1])
			bug("offsets out of order");
	if ((h->have & DPC_HAVE_L4) && h->off.l4 == DPC_OFF_NONE)
		bug("L4 without an offset");
	if ((h->have & (DPC_HAVE_IPV4 | DPC_HAVE_IPV6)) == (DPC_HAVE_IPV4 | DPC_HAVE_IPV6))
		bug("both IPv4 and IPv6");
	if ((h->have & DPC_HAVE_L4) && (h->l3.frag & DPC_FRAG_LATER))
		bug("L4 in a later fragment");
	if (h->have & DPC_HAVE_ETH && h->off.l2 + 14u > caplen)
		bug("Ethernet header past caplen");
}

static void check_key(const struct dpc_key *k, uint32_t caplen)
{
	if (k->status > DPC_PARSE_INVALID)
		bug("status");
	if ((k->status == DPC_PARSE_OK) != (k->err_layer == DPC_LAYER_NONE))
		bug("err_layer vs status");
	if (k->err_layer >= DPC_LAYER_COUNT)
		bug("err_layer range");
	if (k->err_depth > k->tunnel_depth)
		bug("err_depth deeper than the tunnels");
	if (!!(k->flags & DPC_KEY_VXLAN) != (k->tunnel_depth > 0))
		bug("VXLAN flag vs tunnel_depth");
	check_hdrs(&k->outer, caplen);
	if (k->flags & DPC_KEY_VXLAN) {
		check_hdrs(&k->inner, caplen);
		if (!(k->outer.have & DPC_HAVE_UDP) || k->inner.off.l2 == DPC_OFF_NONE ||
		    k->inner.off.l2 < k->outer.off.payload + 8u)
			bug("inner frame not after the outer VXLAN header");
	} else if (k->inner.have != 0 || k->inner.off.l2 != DPC_OFF_NONE) {
		bug("inner filled without VXLAN");
	}
}

/* IPv4 total length 0 (TSO) and IPv6 jumbograms end where the frame on
 * the wire ends: for them wirelen legitimately changes the outcome. */
static bool wire_bounded(const struct dpc_hdrs *h)
{
	return ((h->have & DPC_HAVE_IPV4) && h->l3.tot_len == 0) ||
	       ((h->have & DPC_HAVE_IPV6) && h->l3.tot_len == 40 && h->l3.first_nh == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dpc_parse_opts def, wide;
	static int init;
	struct dpc_key k1, k2;
	uint32_t len = size > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)size;
	char buf[64];

	if (!init) {
		dpc_parse_opts_init(&def);
		dpc_parse_opts_init(&wide);
		dpc_parse_opts_add_vxlan_port(&wide, 8472);
		wide.max_tunnel_depth = DPC_PARSE_TUNNEL_MAX;
		init = 1;
	}
	dpc_parse(&def, data, len, len, &k1);
	check_key(&k1, len);
	dpc_parse(&def, data, len, len, &k2);
	if (memcmp(&k1, &k2, sizeof(k1)) != 0)
		bug("not deterministic");
	dpc_parse_describe(&k1, buf, sizeof(buf));

	dpc_parse(&wide, data, len, len, &k2);
	check_key(&k2, len);
	/* Allowing more tunnels never changes the outer level of a frame that
	 * the defaults parsed without a VXLAN problem. */
	if (k1.err_depth == 0 && k1.status == DPC_PARSE_OK &&
	    memcmp(&k1.outer.l3, &k2.outer.l3, sizeof(k1.outer.l3)) != 0)
		bug("outer L3 depends on the VXLAN options");

	if (k1.status != DPC_PARSE_OK || len == 0)
		return 0;
	/* A frame that parsed OK parses the same when the capture says the
	 * wire had more bytes, and a capture cut one byte short is OK or
	 * TRUNCATED, never INVALID (the length fields did not change). */
	dpc_parse(&def, data, len, len + 1000, &k2);
	k2.wirelen = k1.wirelen;
	if (!wire_bounded(&k1.outer) && !wire_bounded(&k1.inner) &&
	    memcmp(&k1, &k2, sizeof(k1)) != 0)
		bug("a longer wirelen changed an OK key");
	dpc_parse(&def, data, len - 1, len, &k2);
	check_key(&k2, len - 1);
	if (k2.status == DPC_PARSE_INVALID)
		bug("cutting the capture made an OK frame INVALID");
	return 0;
}
