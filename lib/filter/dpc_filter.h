/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_filter.h - dpcap's filter language and the multi-job classifier.
 *
 * The language is tcpdump's, with overlay scoping (docs/filters.md):
 *   - an unscoped primitive addresses the innermost frame (the tenant frame
 *     of a VXLAN packet, else the frame itself), VLAN tags seen through;
 *   - "outer <prim>" / "outer ( ... )" addresses the outermost headers;
 *   - "vxlan" matches tunnelled packets, "vni N" their VNI;
 *   - "vlan [ID]" tests a tag and shifts nothing.
 * Host/net/port/portrange/proto/length/vlan/vni primitives are evaluated
 * natively from the parsed key (struct dpc_key). Any other tcpdump
 * primitive is compiled with libpcap to classic BPF and run on the frame
 * level it addresses, presented as an untagged Ethernet frame.
 *
 * Compiling happens off the fast path. Matching and classifying never
 * allocate, lock or make a syscall, and are safe from many threads at once
 * on the same compiled object.
 */
#ifndef DPC_FILTER_H
#define DPC_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "dpc_parse.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most jobs one classifier answers for (bits of the returned mask). */
#define DPC_CLASSIFIER_MAX 64
/** Longest expression accepted, in bytes. */
#define DPC_FILTER_EXPR_MAX 4096

/** Compile error: where and what. */
struct dpc_filter_error {
	int column;                /**< 1-based column of the offending token; 0 if none */
	char token[64];            /**< the offending token, "" at end of input */
	char msg[256];             /**< full sentence, names column and token */
};

struct dpc_filter;                 /* one compiled expression, immutable */

/**
 * Compile an expression. An empty or NULL expr matches every packet.
 * @return the filter, or NULL with *err filled (when err is not NULL) and
 *         errno EINVAL (syntax/semantics) or ENOMEM.
 */
struct dpc_filter *dpc_filter_compile(const char *expr,
				      struct dpc_filter_error *err);

/**
 * Does the packet match? frame/caplen are the bytes the key was parsed from
 * (needed by BPF-evaluated primitives and for malformed packets).
 */
bool dpc_filter_match(const struct dpc_filter *f, const struct dpc_key *key,
		      const uint8_t *frame, uint32_t caplen);

/** True when every primitive is evaluated natively (no BPF). */
bool dpc_filter_is_native(const struct dpc_filter *f);

/** The expression as given (never NULL). */
const char *dpc_filter_text(const struct dpc_filter *f);

/** Free; NULL is a no-op. */
void dpc_filter_free(struct dpc_filter *f);

/*
 * BPF acceleration. Each BPF-evaluated primitive of a compiled filter holds
 * a classic BPF program (run with libpcap's bpf_filter() by default); a
 * plain-tcpdump expression also holds its whole-expression program, which
 * decides frames truncated before a field the native code reads and
 * expressions mixing native and BPF primitives. A host that has a faster
 * engine (the daemon: DPDK rte_bpf JIT) installs an exec function per
 * program; it is called with the level's untagged view (MACs, ethertype
 * after the tags, rest of the frame), its captured and wire length, and
 * returns the BPF return value (non-zero: match).
 */
struct bpf_insn;
typedef uint32_t (*dpc_filter_bpf_exec_t)(void *ctx, const uint8_t *pkt,
					  uint32_t caplen, uint32_t wirelen);
struct dpc_filter_bpf_slot {
	const struct bpf_insn *insns;
	uint32_t n_insns;
	dpc_filter_bpf_exec_t exec;    /**< NULL: libpcap's bpf_filter */
	void *ctx;
};
/**
 * Call cb for each BPF program of f (filters are immutable to matchers but
 * their slots may be set before f is shared). cb returning non-zero stops
 * the walk and is returned.
 */
int dpc_filter_bpf_foreach(struct dpc_filter *f,
			   int (*cb)(struct dpc_filter_bpf_slot *slot, void *arg),
			   void *arg);

/*
 * The classifier: K compiled filters (K <= DPC_CLASSIFIER_MAX) answering
 * "which jobs want this packet" as a bitmask, bit i for filters[i]. The
 * cost of host/port/net/proto/vni filters does not grow linearly with K.
 * The classifier borrows the filters: they must outlive it.
 */
struct dpc_classifier;

/** @return the classifier, or NULL with errno (EINVAL n > max, ENOMEM). */
struct dpc_classifier *dpc_classifier_build(struct dpc_filter *const *filters,
					    unsigned n);

/** Bit i set when filters[i] matches. */
uint64_t dpc_classifier_match(const struct dpc_classifier *c,
			      const struct dpc_key *key,
			      const uint8_t *frame, uint32_t caplen);

/**
 * The check before the parse: true when the frame is certainly wanted by
 * no job AND dpc_parse(opts, frame, caplen, wirelen) would return
 * DPC_PARSE_OK, so the caller may count it unwanted without parsing it.
 * Reads only the raw frame (Ethernet, two tags, IPv4/IPv6, TCP/UDP/ICMP/
 * SCTP, one VXLAN level on opts' ports) and the classifier's Bloom filter;
 * false (parse and classify) for anything else, for job sets with a job
 * not indexed on an address, port or VNI (a BPF-only job, `tcp`, `not
 * ...`), and for a Bloom hit. Costs a few tens of instructions.
 */
bool dpc_classifier_screen(const struct dpc_classifier *c,
			   const struct dpc_parse_opts *opts,
			   const uint8_t *frame, uint32_t caplen, uint32_t wirelen);

/**
 * The Bloom filter for dpc_screen_v4() (dpc_screen.h), the screen's fast
 * form inlined into a poll loop, when every job of c is indexed on
 * innermost IPv4 addresses only; NULL otherwise (use
 * dpc_classifier_screen()). Valid as long as c.
 */
const uint64_t *dpc_classifier_screen_v4(const struct dpc_classifier *c);

/** Free; NULL is a no-op. */
void dpc_classifier_free(struct dpc_classifier *c);

#ifdef __cplusplus
}
#endif

#endif /* DPC_FILTER_H */
