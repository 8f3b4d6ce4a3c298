/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_filter_corpus.c - the filter on real captures (tcpdump's own test
 * files, $DPCAP_CORPUS, many malformed). Every packet of every Ethernet
 * file is parsed and evaluated with every expression (no crash under the
 * sanitizers); for untagged, non-overlay packets each verdict must equal
 * libpcap's (pcap_offline_filter on the same bytes, as tcpdump -r would
 * decide). The classifier is checked against the individual verdicts on
 * the same packets. Skipped (counted) when the corpus is absent.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "dpc_filter.h"
#include "dpc_parse.h"
#include "dpc_test.h"
#include "filter_exprs.h"

static const char *const extra[] = {
	"vxlan", "vni 42", "outer udp port 4789", "vlan", "vlan 100 or tcp",
	"outer host 10.0.0.1 and icmp", "not vxlan and ip6 and not tcp",
};
#define N_EXTRA (sizeof(extra) / sizeof(extra[0]))
#define N_ALL (N_PLAIN + N_EXTRA)

int main(void)
{
	const char *dir = getenv("DPCAP_CORPUS");
	struct dpc_filter *f[N_ALL];
	struct bpf_program prog[N_PLAIN];
	unsigned bad[N_PLAIN] = { 0 };
	unsigned long compared = 0, packets = 0, files = 0, skipped_files = 0;
	unsigned long cl_bad = 0, shown = 0;
	struct dpc_classifier *cl, *cl2;
	struct dpc_parse_opts opts;
	pcap_t *pd;
	DIR *d;
	struct dirent *e;

	if (dir == NULL || (d = opendir(dir)) == NULL) {
		DPC_SKIP("corpus %s absent", dir ? dir : "(DPCAP_CORPUS unset)");
		return dpc_test_done();
	}
	pd = pcap_open_dead(DLT_EN10MB, 262144);
	for (unsigned i = 0; i < N_ALL; i++) {
		const char *x = i < N_PLAIN ? plain_exprs[i] : extra[i - N_PLAIN];

		f[i] = dpc_filter_compile(x, NULL);
		if (f[i] == NULL || (i < N_PLAIN && pcap_compile(pd, &prog[i], x, 1,
						PCAP_NETMASK_UNKNOWN) != 0)) {
			CHECK(0, "compile '%s'", x);
			return dpc_test_done();
		}
	}
	cl = dpc_classifier_build(f, DPC_CLASSIFIER_MAX);
	cl2 = dpc_classifier_build(f + DPC_CLASSIFIER_MAX - 8, N_ALL - (DPC_CLASSIFIER_MAX - 8));
	dpc_parse_opts_init(&opts);
	dpc_parse_opts_add_vxlan_port(&opts, 8472);
	while ((e = readdir(d)) != NULL) {
		char path[4096], errbuf[PCAP_ERRBUF_SIZE];
		struct pcap_pkthdr *h;
		const u_char *data;
		pcap_t *in;

		if (!strstr(e->d_name, ".pcap"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		in = pcap_open_offline(path, errbuf);
		if (in == NULL || pcap_datalink(in) != DLT_EN10MB) {
			skipped_files++;
			if (in)
				pcap_close(in);
			continue;
		}
		files++;
		while (pcap_next_ex(in, &h, &data) == 1) {
			struct dpc_key key;
			bool plain;
			uint64_t want = 0, want2 = 0;

			packets++;
			dpc_parse(&opts, data, h->caplen, h->len, &key);
			plain = !(key.flags & DPC_KEY_VXLAN) &&
				!(h->caplen >= 14 && (((data[12] << 8) | data[13]) == 0x8100 ||
						      ((data[12] << 8) | data[13]) == 0x88a8 ||
						      ((data[12] << 8) | data[13]) == 0x9100));
			for (unsigned i = 0; i < N_ALL; i++) {
				bool got = dpc_filter_match(f[i], &key, data, h->caplen);

				if (i < DPC_CLASSIFIER_MAX && got)
					want |= 1ull << i;
				if (i >= DPC_CLASSIFIER_MAX - 8 && got)
					want2 |= 1ull << (i - (DPC_CLASSIFIER_MAX - 8));
				if (i < N_PLAIN && plain) {
					bool ref = pcap_offline_filter(&prog[i], h, data) != 0;

					if (ref != got) {
						bad[i]++;
						if (shown++ < 20)
							printf("# %s packet %lu: '%s' dpcap %d "
							       "libpcap %d\n", e->d_name, packets,
							       plain_exprs[i], got, ref);
					}
				}
			}
			if (plain)
				compared++;
			if (cl && dpc_classifier_match(cl, &key, data, h->caplen) != want)
				cl_bad++;
			if (cl2 && dpc_classifier_match(cl2, &key, data, h->caplen) != want2)
				cl_bad++;
		}
		pcap_close(in);
	}
	closedir(d);
	CHECK(files > 0, "%lu Ethernet files read (%lu other link types skipped), "
	      "%lu packets, %lu untagged non-overlay", files, skipped_files, packets,
	      compared);
	for (unsigned i = 0; i < N_PLAIN; i++)
		CHECK_EQ(bad[i], 0, "corpus: '%s' == libpcap on %lu packets",
			 plain_exprs[i], compared);
	CHECK(cl != NULL && cl2 != NULL && cl_bad == 0,
	      "classifier mask == individual verdicts on every packet (%lu wrong)",
	      cl_bad);
	dpc_classifier_free(cl);
	dpc_classifier_free(cl2);
	for (unsigned i = 0; i < N_ALL; i++)
		dpc_filter_free(f[i]);
	for (unsigned i = 0; i < N_PLAIN; i++)
		pcap_freecode(&prog[i]);
	pcap_close(pd);
	return dpc_test_done();
}
