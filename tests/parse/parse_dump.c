/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * parse_dump.c - test helper for test_parse_oracle.py.
 *
 *   parse_dump merge OUT.pcap FILE...
 *       Copies every record libpcap reads from each Ethernet FILE into one
 *       nanosecond pcap (so tshark runs once, on exactly the records the
 *       parser sees) and prints "NAME<TAB>RECORDS" per file.
 *   parse_dump dump FILE [VXLAN_PORT...]
 *       Parses every record with dpc_parse() (default options plus the
 *       given VXLAN ports) and prints one JSON object per record.
 */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_parse.h"

static void print_mac(const char *name, const uint8_t *m)
{
	printf("\"%s\":\"%02x:%02x:%02x:%02x:%02x:%02x\",", name, m[0], m[1], m[2], m[3], m[4],
	       m[5]);
}

/* Bytes of IP payload after the IPv4 header or the fixed IPv6 header
 * without extension headers (-1 otherwise): lets the oracle recognise
 * an empty IP payload. */
static long l4_room(const struct dpc_hdrs *h, const uint8_t *f, uint32_t wirelen)
{
	if ((h->have & DPC_HAVE_IPV4) && h->off.l3 != DPC_OFF_NONE) {
		long ihl = (f[h->off.l3] & 0x0f) * 4;
		long end = h->l3.tot_len ? h->off.l3 + h->l3.tot_len : (long)wirelen;

		return end - (h->off.l3 + ihl);
	}
	if ((h->have & DPC_HAVE_IPV6) && h->l3.n_ext == 0)
		return (long)h->l3.tot_len - 40;
	return -1;
}

static void print_level(const struct dpc_hdrs *h, const uint8_t *f, uint32_t wirelen)
{
	char s[INET6_ADDRSTRLEN] = "", d[INET6_ADDRSTRLEN] = "";

	printf("{\"have\":%u,", h->have);
	print_mac("src", h->l2.src);
	print_mac("dst", h->l2.dst);
	printf("\"nvlan\":%u,\"tags\":[", h->l2.n_vlan);
	for (unsigned i = 0; i < h->l2.n_vlan && i < DPC_VLAN_KEEP; i++)
		printf("%s[%u,%u]", i ? "," : "", h->l2.vlan_tpid[i], h->l2.vlan_tci[i]);
	if (h->l3.family == 4) {
		inet_ntop(AF_INET, &h->l3.src.v4, s, sizeof(s));
		inet_ntop(AF_INET, &h->l3.dst.v4, d, sizeof(d));
	} else if (h->l3.family == 6) {
		inet_ntop(AF_INET6, h->l3.src.v6, s, sizeof(s));
		inet_ntop(AF_INET6, h->l3.dst.v6, d, sizeof(d));
	}
	printf("],\"et\":%u,\"fam\":%u,\"s\":\"%s\",\"d\":\"%s\",\"proto\":%u,\"ttl\":%u,"
	       "\"frag\":%u,\"fo\":%u,\"nh\":%u,\"n_ext\":%u,\"op\":%u,",
	       h->l2.ethertype, h->l3.family, s, d, h->l3.proto, h->l3.ttl, h->l3.frag,
	       h->l3.frag_off, h->l3.first_nh, h->l3.n_ext, h->l3.arp_op);
	printf("\"sp\":%u,\"dp\":%u,\"tf\":%u,\"ul\":%u,\"it\":%u,\"ic\":%u,\"room\":%ld}",
	       h->l4.sport, h->l4.dport, h->l4.tcp_flags, h->l4.udp_len, h->l4.icmp_type,
	       h->l4.icmp_code, l4_room(h, f, wirelen));
}

static int dump(const char *file, int nports, char **ports)
{
	char err[PCAP_ERRBUF_SIZE];
	struct dpc_parse_opts o;
	struct pcap_pkthdr *ph;
	const u_char *data;
	pcap_t *p;
	unsigned n = 0;

	dpc_parse_opts_init(&o);
	for (int i = 0; i < nports; i++)
		if (dpc_parse_opts_add_vxlan_port(&o, (uint16_t)atoi(ports[i])) < 0) {
			fprintf(stderr, "parse_dump: bad VXLAN port %s\n", ports[i]);
			return 2;
		}
	p = pcap_open_offline(file, err);
	if (p == NULL) {
		fprintf(stderr, "parse_dump: %s\n", err);
		return 2;
	}
	while (pcap_next_ex(p, &ph, &data) == 1) {
		struct dpc_key k;
		char desc[64];

		dpc_parse(&o, data, ph->caplen, ph->len, &k);
		printf("{\"n\":%u,\"status\":\"%s\",\"flags\":%u,\"depth\":%u,\"vni\":%u,"
		       "\"vflags\":%u,\"outer\":",
		       ++n, dpc_parse_describe(&k, desc, sizeof(desc)), k.flags, k.tunnel_depth,
		       k.vni, k.vxlan_flags);
		print_level(&k.outer, data, k.wirelen);
		printf(",\"inner\":");
		print_level(&k.inner, data, k.wirelen);
		printf("}\n");
	}
	pcap_close(p);
	return 0;
}

static int merge(const char *out, int nfiles, char **files)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144,
							    PCAP_TSTAMP_PRECISION_NANO);
	pcap_dumper_t *w;
	int rc = 0;

	if (dead == NULL)
		return 2;
	w = pcap_dump_open(dead, out);
	if (w == NULL) {
		fprintf(stderr, "parse_dump: %s: %s\n", out, pcap_geterr(dead));
		pcap_close(dead);
		return 2;
	}
	for (int i = 0; i < nfiles; i++) {
		const char *name = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
		pcap_t *p = pcap_open_offline_with_tstamp_precision(files[i],
								    PCAP_TSTAMP_PRECISION_NANO, err);
		struct pcap_pkthdr *ph;
		const u_char *data;
		unsigned n = 0;

		if (p == NULL) {
			printf("%s\t0\n", name);
			continue;
		}
		if (pcap_datalink(p) == DLT_EN10MB)
			while (pcap_next_ex(p, &ph, &data) == 1) {
				pcap_dump((u_char *)w, ph, data);
				n++;
			}
		printf("%s\t%u\n", name, n);
		pcap_close(p);
	}
	if (pcap_dump_flush(w) != 0)
		rc = 2;
	pcap_dump_close(w);
	pcap_close(dead);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "dump") == 0)
		return dump(argv[2], argc - 3, argv + 3);
	if (argc >= 3 && strcmp(argv[1], "merge") == 0)
		return merge(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: parse_dump merge OUT.pcap FILE... | dump FILE [VXLAN_PORT...]\n");
	return 2;
}
