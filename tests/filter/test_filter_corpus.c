/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_filter_corpus.c - the filter on real captures (tcpdump's own test
 * files, $DPCAP_CORPUS, many malformed). Every packet of every Ethernet
 * file is parsed and evaluated with every expression (no crash under the
 * sanitizers); for untagged, non-overlay packets each verdict must equal
 * libpcap's (pcap_offline_filter on the same bytes, as tcpdump -r would
 * decide). The classifier is checked against the individual verdicts on
 * the same packets. Skipped (counted) when the corpus is absent.
 *
 * With file arguments (dpcap-gen's sample, malformed and overlay traffic)
 * it reads those instead, and also checks VXLAN packets whose underlay is
 * untagged Ethernet/IPv4 without options: their tenant frame starts at
 * byte 50, so libpcap on frame+50 is the oracle for the unscoped verdicts.
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
/* Indexed jobs only, so the screen is on: its "unwanted" must agree with
 * the parse status and these jobs' own verdicts on every packet. */
static const char *const scr_jobs[] = {
	"port 80", "port 53", "tcp port 179", "udp port 123", "host 10.0.0.1",
	"host 192.168.1.1", "ip6 host 2001:db8::1", "vni 42", "outer udp port 4789",
	"port 443 or port 22", "host 10.9.9.9", "dst port 5060",
};
#define N_SCR (sizeof(scr_jobs) / sizeof(scr_jobs[0]))
#define N_ALL (N_PLAIN + N_EXTRA)

int main(int argc, char **argv)
{
	const char *dir = getenv("DPCAP_CORPUS");
	unsigned long vx_compared = 0, vx_bad = 0;
	int argi = 1;
	struct dpc_filter *f[N_ALL];
	struct bpf_program prog[N_PLAIN];
	unsigned bad[N_PLAIN] = { 0 };
	unsigned long compared = 0, packets = 0, files = 0, skipped_files = 0;
	unsigned long cl_bad = 0, shown = 0;
	unsigned long scr_n = 0, scr_bad = 0;
	struct dpc_filter *sf[N_SCR];
	struct dpc_classifier *cl, *cl2, *cls = NULL;
	struct dpc_parse_opts opts;
	pcap_t *pd;
	DIR *d;
	struct dirent *e;

	d = NULL;
	if (argc == 1 && (dir == NULL || (d = opendir(dir)) == NULL)) {
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
	for (unsigned i = 0; i < N_SCR; i++)
		sf[i] = dpc_filter_compile(scr_jobs[i], NULL);
	for (unsigned i = 0; i < N_SCR; i++)
		if (sf[i] == NULL) {
			CHECK(0, "compile '%s'", scr_jobs[i]);
			return dpc_test_done();
		}
	cls = dpc_classifier_build(sf, N_SCR);
	dpc_parse_opts_init(&opts);
	dpc_parse_opts_add_vxlan_port(&opts, 8472);
	for (;;) {
		char path[4096], errbuf[PCAP_ERRBUF_SIZE];
		struct pcap_pkthdr *h;
		const u_char *data;
		pcap_t *in;
		const char *name;

		if (d) {
			if ((e = readdir(d)) == NULL)
				break;
			if (!strstr(e->d_name, ".pcap"))
				continue;
			name = e->d_name;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		} else {
			if (argi >= argc)
				break;
			name = argv[argi];
			snprintf(path, sizeof(path), "%s", argv[argi++]);
		}
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
							       "libpcap %d\n", name, packets,
							       plain_exprs[i], got, ref);
					}
				}
			}
			if (plain)
				compared++;
			if ((key.flags & DPC_KEY_VXLAN) && h->caplen >= 50 + 14 &&
			    data[12] == 0x08 && data[13] == 0x00 && data[14] == 0x45 &&
			    key.inner.off.l2 == 50 &&
			    !(data[62] == 0x81 && data[63] == 0x00) &&
			    !(data[62] == 0x88 && data[63] == 0xa8) &&
			    !(data[62] == 0x91 && data[63] == 0x00) &&
			    data[23] == 17 && ((data[38] << 8) | data[39]) >= 30) {
				/* tenant frame at 50, to the end of the UDP datagram */
				struct pcap_pkthdr ih = *h;
				uint32_t ulen = (uint32_t)((data[38] << 8) | data[39]);
				uint32_t end = 34 + ulen;

				ih.len = end - 50;
				ih.caplen = h->caplen < end ? h->caplen - 50 : end - 50;
				vx_compared++;
				for (unsigned i = 0; i < N_PLAIN; i++) {
					bool ref = pcap_offline_filter(&prog[i], &ih, data + 50) != 0;

					if (ref != dpc_filter_match(f[i], &key, data, h->caplen)) {
						vx_bad++;
						if (shown++ < 20)
							printf("# %s packet %lu (vxlan): '%s'\n",
							       name, packets, plain_exprs[i]);
					}
				}
			}
			if (cls && dpc_classifier_screen(cls, &opts, data, h->caplen, h->len)) {
				bool any = key.status != DPC_PARSE_OK;

				for (unsigned i = 0; i < N_SCR && !any; i++)
					any = dpc_filter_match(sf[i], &key, data, h->caplen);
				scr_n++;
				if (any) {
					scr_bad++;
					if (shown++ < 20)
						printf("# %s packet %lu: screened, but parse "
						       "status %d or a job wants it\n", name,
						       packets, key.status);
				}
			}
			if (cl && dpc_classifier_match(cl, &key, data, h->caplen) != want)
				cl_bad++;
			if (cl2 && dpc_classifier_match(cl2, &key, data, h->caplen) != want2)
				cl_bad++;
		}
		pcap_close(in);
	}
	if (d)
		closedir(d);
	CHECK(files > 0, "%lu Ethernet files read (%lu other link types skipped), "
	      "%lu packets, %lu untagged non-overlay", files, skipped_files, packets,
	      compared);
	for (unsigned i = 0; i < N_PLAIN; i++)
		CHECK_EQ(bad[i], 0, "corpus: '%s' == libpcap on %lu packets",
			 plain_exprs[i], compared);
	if (argc > 1)
		CHECK(vx_compared > 0 && vx_bad == 0, "VXLAN tenant frames (underlay "
		      "Eth/IPv4/UDP, tenant at byte 50): %lu packets x %zu expressions == "
		      "libpcap on the tenant frame (%lu disagreements)", vx_compared,
		      N_PLAIN, vx_bad);
	CHECK(cl != NULL && cl2 != NULL && cl_bad == 0,
	      "classifier mask == individual verdicts on every packet (%lu wrong)",
	      cl_bad);
	CHECK(cls != NULL && scr_n > 0 && scr_bad == 0,
	      "screen: %lu of %lu packets screened, each parses OK and is wanted "
	      "by none of %zu jobs (%lu wrong)", scr_n, packets, N_SCR, scr_bad);
	dpc_classifier_free(cls);
	for (unsigned i = 0; i < N_SCR; i++)
		dpc_filter_free(sf[i]);
	dpc_classifier_free(cl);
	dpc_classifier_free(cl2);
	for (unsigned i = 0; i < N_ALL; i++)
		dpc_filter_free(f[i]);
	for (unsigned i = 0; i < N_PLAIN; i++)
		pcap_freecode(&prog[i]);
	pcap_close(pd);
	return dpc_test_done();
}
