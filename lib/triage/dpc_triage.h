/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_triage.h - a per-layer incident report from captured packets.
 *
 * The analyser takes frames one at a time (or whole pcap/pcapng files and
 * dpcap job directories through libpcap), parses each once with lib/parse
 * (VXLAN seen through), and keeps bounded state: a flow table with idle
 * expiry and a hard cap (an overflow evicts the least recently seen flow and
 * is counted), and capped aggregate tables (an insert past the cap is
 * counted, never stored). Memory depends on the caps, not on the file size.
 *
 * dpc_triage_finish() turns the state into findings, most serious first,
 * each one sentence with the packet numbers that show it and the layer it
 * points to (docs/triage.md lists every finding). The report is written as
 * text, JSON (schema in docs/triage.md) or one self-contained HTML page.
 *
 * No DPDK. Not thread-safe: one analyser is fed by one thread.
 */
#ifndef DPC_TRIAGE_H
#define DPC_TRIAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dpc_parse.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The layer a finding points at. Names: dpc_triage_layer_name(). */
enum dpc_triage_layer {
	DPC_TRIAGE_CAPTURE = 0,   /**< the capture file itself */
	DPC_TRIAGE_LINK,
	DPC_TRIAGE_INTERNET,
	DPC_TRIAGE_TRANSPORT,
	DPC_TRIAGE_APPLICATION,
	DPC_TRIAGE_LAYER_COUNT
};

/** Severity of a finding; higher is worse. */
enum dpc_triage_severity {
	DPC_TRIAGE_WARNING = 1,
	DPC_TRIAGE_ERROR = 2,
	DPC_TRIAGE_CRITICAL = 3,
};

/** Packet numbers kept as evidence per finding. */
#define DPC_TRIAGE_EVIDENCE_MAX 10

/** One finding of the verdict. Packet numbers are 1-based over all input
 *  files in the order they were read. */
struct dpc_triage_finding {
	uint8_t layer;             /**< enum dpc_triage_layer */
	uint8_t severity;          /**< enum dpc_triage_severity */
	char code[32];             /**< stable identifier, e.g. "tcp_refused" */
	char text[640];            /**< the one actionable sentence */
	uint64_t count;            /**< events behind the finding */
	uint64_t pkts[DPC_TRIAGE_EVIDENCE_MAX];
	uint32_t n_pkts;
	bool has_vni;
	uint32_t vni;              /**< overlay the finding is in (has_vni) */
	char underlay[96];         /**< "VTEP a -> VTEP b" for overlay findings */
};

/** Match callback for an optional filter expression: true keeps the frame. */
typedef bool (*dpc_triage_match_fn)(void *ctx, const struct dpc_key *key,
				    const uint8_t *frame, uint32_t caplen);

struct dpc_triage_opts {
	uint32_t mtu;              /**< IP MTU of links/underlay; default 1500 */
	uint32_t max_flows;        /**< flow table cap; default 65536 */
	uint32_t flow_idle_s;      /**< idle expiry of a flow; default 120 */
	uint32_t max_entries;      /**< cap of each aggregate table; default 4096 */
	uint32_t top_n;            /**< rows in "top" tables; default 10 */
	struct dpc_parse_opts parse;
	dpc_triage_match_fn match; /**< NULL: every frame */
	void *match_ctx;
};

/** Defaults (see the fields). */
void dpc_triage_opts_init(struct dpc_triage_opts *opts);

struct dpc_triage;                 /* opaque analyser */

/** @return an analyser, or NULL with errno (EINVAL bad opts, ENOMEM). */
struct dpc_triage *dpc_triage_new(const struct dpc_triage_opts *opts);

/** Free; NULL is a no-op. */
void dpc_triage_free(struct dpc_triage *t);

/**
 * Feed one Ethernet frame. Frames must come in capture order; a timestamp
 * going backwards is tolerated (counted). Never fails: frames that do not
 * parse are counted by layer and status.
 */
void dpc_triage_packet(struct dpc_triage *t, uint64_t ts_ns,
		       const uint8_t *frame, uint32_t caplen, uint32_t wirelen);

/**
 * Read every packet of a pcap/pcapng stream (libpcap) into the analyser.
 * name labels the input in the report. A stream that ends inside a record
 * is a capture-layer finding, not an error; a non-Ethernet link type is
 * skipped with a finding.
 * @return 0, or -errno when the stream cannot be opened as a capture
 *         (message in *err when err is not NULL, errlen bytes).
 */
int dpc_triage_read_stream(struct dpc_triage *t, FILE *fp, const char *name,
			   char *err, size_t errlen);

/**
 * Read a pcap/pcapng file, or a dpcap job directory: the files its
 * manifest.json lists, in order (without a manifest: every *.pcap,
 * *.pcapng and *.pcap.part in name order).
 * @return 0 or -errno (message in err as above).
 */
int dpc_triage_read_path(struct dpc_triage *t, const char *path,
			 char *err, size_t errlen);

/** Finish: close every flow and compute the findings. Idempotent. */
void dpc_triage_finish(struct dpc_triage *t);

/** Findings after dpc_triage_finish(), most serious first. Owned by t. */
const struct dpc_triage_finding *dpc_triage_findings(const struct dpc_triage *t,
						      size_t *n);

/** Frames fed / kept by the match callback. */
uint64_t dpc_triage_packets(const struct dpc_triage *t);

/** Write the report (after finish). @return 0 or -errno of the stream. */
int dpc_triage_write_text(struct dpc_triage *t, FILE *out);
int dpc_triage_write_json(struct dpc_triage *t, FILE *out);
int dpc_triage_write_html(struct dpc_triage *t, FILE *out);

/** Static names. */
const char *dpc_triage_layer_name(enum dpc_triage_layer layer);
const char *dpc_triage_severity_name(enum dpc_triage_severity sev);

#ifdef __cplusplus
}
#endif

#endif /* DPC_TRIAGE_H */
