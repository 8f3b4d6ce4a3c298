/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pf_write.c - test tool: writes deterministic frames through lib/pcapfile
 * into DIR and, as an independent reference, the same accepted records
 * through libpcap's pcap_dump into REF (one file, nanosecond precision).
 *
 *   pf_write [-c N] [-s SNAPLEN] [-C FILE_BYTES] [-W FILES] [-b] DIR REF N
 *
 * -b offers the records as pre-built blocks (dpc_pcapfile_write_block).
 * Exit 0 when the writer closed without error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "dpc_pcapfile.h"
#include "pf_common.h"

#define BLOCK_RECS 64

static void ref_dump(pcap_dumper_t *d, const struct pf_rec *r, uint32_t snap,
		     const uint8_t *frame)
{
	struct pcap_pkthdr h;

	h.ts.tv_sec = (time_t)(r->ts / 1000000000ull);
	h.ts.tv_usec = (suseconds_t)(r->ts % 1000000000ull); /* ns: nano dumper */
	h.caplen = r->len < snap ? r->len : snap;
	h.len = r->len;
	pcap_dump((u_char *)d, &h, frame);
}

int main(int argc, char **argv)
{
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile *w;
	struct pf_rec *r;
	pcap_dumper_t *dump;
	pcap_t *dead;
	static uint8_t frame[9100];
	bool blocks = false;
	size_t n, i;
	uint32_t snap = 0;
	int c, rc = 0, crc;

	memset(&o, 0, sizeof(o));
	o.prefix = "cap";
	o.sha256 = true;
	while ((c = getopt(argc, argv, "c:s:C:W:b")) != -1) {
		switch (c) {
		case 'c': o.limits.max_packets = strtoull(optarg, NULL, 0); break;
		case 's': snap = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'C': o.limits.file_bytes = strtoull(optarg, NULL, 0); break;
		case 'W': o.limits.max_files = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': blocks = true; break;
		default:
			fprintf(stderr, "usage: pf_write [-c N] [-s SNAPLEN] [-C BYTES] [-W FILES] [-b] DIR REF N\n");
			return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "pf_write: need DIR REF N\n");
		return 2;
	}
	o.dir = argv[optind];
	o.limits.snaplen = snap;
	if (!snap)
		snap = DPC_PCAP_SNAPLEN_MAX;
	n = strtoul(argv[optind + 2], NULL, 0);
	r = calloc(n ? n : 1, sizeof(*r));
	pf_seq(r, n, PF_BASE_NS, 1234);
	w = dpc_pcapfile_open(&o);
	if (!w) {
		fprintf(stderr, "pf_write: open %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)snap, PCAP_TSTAMP_PRECISION_NANO);
	dump = pcap_dump_open(dead, argv[optind + 1]);
	if (!dump) {
		fprintf(stderr, "pf_write: %s\n", pcap_geterr(dead));
		return 1;
	}
	for (i = 0; i < n && rc == 0;) {
		if (!blocks) {
			pf_frame(frame, r[i].len, r[i].seed);
			rc = dpc_pcapfile_write(w, r[i].ts, frame, r[i].len, r[i].len);
			if (rc == 0)
				ref_dump(dump, &r[i], snap, frame);
			i++;
		} else {
			static uint8_t blk[BLOCK_RECS * (16 + 9100)];
			size_t k, off = 0, cnt = n - i < BLOCK_RECS ? n - i : BLOCK_RECS;
			uint32_t used = 0;

			for (k = 0; k < cnt; k++) {
				struct dpc_pcap_rec_hdr h = {
					(uint32_t)(r[i + k].ts / 1000000000ull),
					(uint32_t)(r[i + k].ts % 1000000000ull),
					r[i + k].len, r[i + k].len };

				memcpy(blk + off, &h, sizeof(h));
				pf_frame(blk + off + sizeof(h), r[i + k].len, r[i + k].seed);
				off += sizeof(h) + r[i + k].len;
			}
			rc = dpc_pcapfile_write_block(w, blk, off, &used);
			for (k = 0; k < used; k++) {
				pf_frame(frame, r[i + k].len, r[i + k].seed);
				ref_dump(dump, &r[i + k], snap, frame);
			}
			i += cnt;
		}
	}
	pcap_dump_close(dump);
	pcap_close(dead);
	crc = dpc_pcapfile_close(w, NULL);
	free(r);
	if (rc < 0 || crc) {
		fprintf(stderr, "pf_write: %s\n", strerror(-(rc < 0 ? rc : crc)));
		return 1;
	}
	return 0;
}
