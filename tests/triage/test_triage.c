/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_triage.c - lib/triage through its API with frames built here:
 * option validation, packet numbering in findings, the flow cap (eviction
 * counted, live flows never above the cap), capped tables (overflow
 * counted), and heap use that does not grow with the number of packets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dpc_test.h"
#include "dpc_triage.h"

/* Ethernet + IPv4 + TCP (20-byte header), no payload: 54 bytes. */
static uint32_t tcp_frame(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sp,
			  uint16_t dp, uint8_t flags, uint32_t seq, uint32_t ack)
{
	memset(f, 0, 54);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	f[14] = 0x45;
	f[16] = 0;
	f[17] = 40;
	f[22] = 64;
	f[23] = 6;
	src = htonl(src);
	dst = htonl(dst);
	memcpy(f + 26, &src, 4);
	memcpy(f + 30, &dst, 4);
	f[34] = (uint8_t)(sp >> 8);
	f[35] = (uint8_t)sp;
	f[36] = (uint8_t)(dp >> 8);
	f[37] = (uint8_t)dp;
	f[38] = (uint8_t)(seq >> 24);
	f[39] = (uint8_t)(seq >> 16);
	f[40] = (uint8_t)(seq >> 8);
	f[41] = (uint8_t)seq;
	f[42] = (uint8_t)(ack >> 24);
	f[43] = (uint8_t)(ack >> 16);
	f[44] = (uint8_t)(ack >> 8);
	f[45] = (uint8_t)ack;
	f[46] = 0x50;
	f[47] = flags;
	f[48] = 0xff;
	f[49] = 0xff;
	return 54;
}

static json_t *report(struct dpc_triage *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	json_t *j;

	if (m == NULL)
		return NULL;
	dpc_triage_write_json(t, m);
	fclose(m);
	j = json_loads(buf, 0, NULL);
	free(buf);
	return j;
}

static json_int_t jget(json_t *root, const char *a, const char *b, const char *c)
{
	json_t *x = json_object_get(json_object_get(root, a), b);

	if (c)
		x = json_object_get(x, c);
	return json_integer_value(x);
}

static void test_opts(void)
{
	struct dpc_triage_opts o;

	dpc_triage_opts_init(&o);
	CHECK_EQ(o.mtu, 1500, "default MTU 1500");
	o.mtu = 10;
	errno = 0;
	CHECK(dpc_triage_new(&o) == NULL && errno == EINVAL, "MTU 10 refused with EINVAL");
	dpc_triage_opts_init(&o);
	o.max_flows = 1;
	CHECK(dpc_triage_new(&o) == NULL && errno == EINVAL, "flow cap 1 refused with EINVAL");
	CHECK(dpc_triage_new(NULL) == NULL, "NULL options refused");
	dpc_triage_free(NULL);
	CHECK(1, "dpc_triage_free(NULL) is a no-op");
}

static void test_refused(void)
{
	struct dpc_triage_opts o;
	struct dpc_triage *t;
	const struct dpc_triage_finding *f;
	uint8_t fr[64];
	uint64_t ts = 1000000000ull;
	size_t n;

	dpc_triage_opts_init(&o);
	t = dpc_triage_new(&o);
	/* packet 1: unrelated; then 3 x (SYN, RST|ACK) */
	dpc_triage_packet(t, ts, fr, tcp_frame(fr, 0x0a000001, 0x0a000002, 1, 2, 0x10, 1, 1), 54);
	for (uint32_t i = 0; i < 3; i++) {
		dpc_triage_packet(t, ts + i * 1000, fr,
				  tcp_frame(fr, 0x0a000105, 0x0a000307, (uint16_t)(40000 + i),
					    5432, 0x02, 100, 0), 54);
		dpc_triage_packet(t, ts + i * 1000 + 10, fr,
				  tcp_frame(fr, 0x0a000307, 0x0a000105, 5432,
					    (uint16_t)(40000 + i), 0x14, 0, 101), 54);
	}
	dpc_triage_finish(t);
	f = dpc_triage_findings(t, &n);
	CHECK_EQ(n, 1, "three refused attempts: one finding");
	if (n == 1) {
		CHECK_STR(f[0].code, "tcp_refused", "finding code tcp_refused");
		CHECK_EQ(f[0].count, 3, "count 3");
		CHECK_EQ(f[0].layer, DPC_TRIAGE_TRANSPORT, "layer transport");
		CHECK(f[0].n_pkts == 3 && f[0].pkts[0] == 3 && f[0].pkts[1] == 5 &&
		      f[0].pkts[2] == 7, "evidence: the RSTs, packets #3 #5 #7");
		CHECK(strstr(f[0].text, "10.0.1.5") && strstr(f[0].text, "10.0.3.7:5432"),
		      "sentence names 10.0.1.5 and 10.0.3.7:5432");
	}
	CHECK_EQ(dpc_triage_packets(t), 7, "7 packets analysed");
	dpc_triage_free(t);
}

static void test_flow_cap(void)
{
	struct dpc_triage_opts o;
	struct dpc_triage *t;
	uint8_t fr[64];
	uint64_t ts = 1000000000ull;
	size_t heap10k = 0, heap200k = 0;
	json_t *j;
	const uint32_t total = 200000;

	dpc_triage_opts_init(&o);
	o.max_flows = 1024;
	o.max_entries = 256;
	t = dpc_triage_new(&o);
	for (uint32_t i = 0; i < total; i++) {
		/* distinct flows from distinct sources: flows and TTL table overflow */
		dpc_triage_packet(t, ts + (uint64_t)i * 1000, fr,
				  tcp_frame(fr, 0x0b000000 + i, 0x0a000307,
					    (uint16_t)(1024 + i % 60000), 80, 0x02, i, 0), 54);
		if (i + 1 == 10000)
			heap10k = mallinfo2().uordblks;
	}
	heap200k = mallinfo2().uordblks;
	CHECK(heap200k <= heap10k + 64 * 1024,
	      "heap in use does not grow with packets (%zu B after 10k, %zu B after 200k)",
	      heap10k, heap200k);
	j = report(t);
	CHECK(j != NULL, "JSON report parses");
	CHECK_EQ(jget(j, "transport", "flows", "created"), total, "every flow was created");
	CHECK_EQ(jget(j, "transport", "flows", "max_live"), 1024, "live flows never above the cap");
	CHECK_EQ(jget(j, "transport", "flows", "evicted"), total - 1024,
		 "evictions at the cap are counted");
	{
		size_t n, i, over = 0, ev = 0;
		const struct dpc_triage_finding *f = dpc_triage_findings(t, &n);

		for (i = 0; i < n; i++) {
			over += strcmp(f[i].code, "table_overflow") == 0;
			ev += strcmp(f[i].code, "flow_overflow") == 0;
		}
		CHECK(over == 1 && ev == 1, "overflows are capture-layer findings");
	}
	CHECK_EQ(json_array_size(jget(j, "internet", "ttl", NULL) ? NULL :
				 json_object_get(json_object_get(j, "internet"), "ttl")),
		 10, "TTL table lists the top 10 of its capped entries");
	json_decref(j);
	dpc_triage_free(t);
}

int main(void)
{
	test_opts();
	test_refused();
	test_flow_cap();
	return dpc_test_done();
}
