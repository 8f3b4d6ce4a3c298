/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * filter_exprs.h - plain tcpdump expressions the filter tests compare with
 * libpcap: native primitives, abbreviations, negation and nesting, and
 * primitives that go through libpcap's BPF.
 */
#ifndef FILTER_EXPRS_H
#define FILTER_EXPRS_H

static const char *const plain_exprs[] = {
	"host 10.0.0.1",
	"src host 10.0.0.1",
	"dst host 10.0.0.2",
	"host 10.0.0.1 or 10.0.0.2",
	"src and dst net 10.0.0.0/16",
	"net 10.0.0.0/24",
	"net 10.0.0.0 mask 255.255.255.0",
	"net 192.168",
	"not net 10.0.0.0/16",
	"src or dst host 10.0.1.5",
	"host 2001:db8::1",
	"src host 2001:db8::2",
	"net 2001:db8::/32",
	"ip6 net fe80::/10",
	"dst net 2001:db9:ff00::/40",
	"port 80",
	"tcp port 443",
	"udp port 53",
	"sctp port 5432",
	"src port 53 or dst port 5432",
	"port 80 or 443",
	"tcp dst port 22 and not src host 10.0.0.1",
	"portrange 1-1024",
	"tcp portrange 5000-6000",
	"src and dst port 80",
	"tcp",
	"udp",
	"icmp",
	"icmp6",
	"ip",
	"ip6",
	"arp",
	"rarp",
	"sctp",
	"ip proto 1",
	"ip proto 17 or ip6 proto 6",
	"proto 132",
	"ip6 proto 58",
	"less 100",
	"greater 500",
	"not (tcp or udp)",
	"host 10.0.0.1 and (tcp port 80 or udp port 53)",
	"!(ip6 && tcp) || arp",
	"(host 10.0.0.1 or host 2001:db8::1) and not port 22",
	"host 10.0.0.1 and port 80 or 443",
	"arp host 10.0.0.1",
	"ip host 10.0.0.2 or arp",
	"ip6 and not icmp6 and greater 60",
	"not not tcp",
	"tcp src port 80 or 443 and not src 10.0.0.1",
	"udp port 4789",
	"host 10.0.0.1 and tcp port 80",
	/* through libpcap (BPF) */
	"tcp[tcpflags] & tcp-syn != 0",
	"tcp[13] & 2 != 0 and host 10.0.0.2",
	"ether host 02:00:00:00:00:01",
	"ether broadcast or arp",
	"len > 100",
	"ip[8] < 64",
	"icmp[icmptype] == icmp-echo",
	"ether proto 0x88cc",
	"not (ether src 02:00:00:00:00:02 and tcp)",
	"ip6 protochain 6",
	"llc",
	"udp[4:2] > 100 or icmp6",
};
#define N_PLAIN (sizeof(plain_exprs) / sizeof(plain_exprs[0]))

#endif /* FILTER_EXPRS_H */
