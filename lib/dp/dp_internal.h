/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_internal.h - shared structures of lib/dp (not a public header).
 */
#ifndef DPC_DP_INTERNAL_H
#define DPC_DP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_rcu_qsbr.h>

#include "dpc_dp.h"
#include "dpc_filter.h"
#include "dpc_job.h"
#include "dpc_parse.h"
#include "dpc_pcapfile.h"

extern int dpc_dp_logtype;
#define DP_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, dpc_dp_logtype, "dpcapd: " fmt "\n", ##__VA_ARGS__)

struct dp_job;
struct dp_bpf;
struct bpf_program;

/*
 * A job's writer-side counters: records the writer dropped before
 * offering them to pcapfile (the job had ended, a malformed block), and
 * pcapfile's own counters, which say what became of every record offered:
 * offered = packets + dropped_disk_error + dropped_disk_low + refused.
 */
struct dp_wr_ctr {
	uint64_t dropped[DPC_DROP_COUNT];
	struct dpc_pcapfile_stats pst;
};

/* A staging block: pcap records back to back, for one job. Blocks are the
 * elements of dp->block_pool; data[] is cfg.block_size bytes. */
struct dp_block {
	struct dp_job *job;
	uint32_t len;               /* bytes used in data[] */
	uint32_t n_rec;             /* records in data[] */
	uint32_t pf;                /* data[] prefetched for writing up to here */
	uint64_t born_tsc;
	uint8_t data[];
};

/*
 * Counters one worker keeps for one job (only that worker writes them).
 * Each job holds two per worker: wc, the worker's live copy, updated as it
 * goes, and wpub, the copy it publishes under its seqcount (struct
 * dp_worker.seq) at burst boundaries, which is the only one other threads
 * read (see "Publishing counters" in dp_worker.c).
 */
struct dp_job_wctr {
	uint64_t matched;
	uint64_t matched_bytes;
	uint64_t dropped[DPC_DROP_COUNT];
} __rte_cache_aligned;

/* Life of a job inside the datapath. */
enum dp_phase {
	DP_PHASE_RUNNING = 0,       /* in the published job set */
	DP_PHASE_RETIRE1,           /* removed from the set, 1st grace period */
	DP_PHASE_RETIRE2,           /* 2nd grace period: workers flushed */
	DP_PHASE_CLOSING,           /* writer asked to drain and close */
	DP_PHASE_DONE,              /* files final, event sent */
};

struct dp_job {
	uint64_t id;
	struct dpc_job_spec spec;
	struct dpc_filter *filter;
	void *bpf_list;             /* struct dp_bpf chain (dp_bpf.c) */
	bool hidden;                /* job.validate sampling: counts only */
	char dir[PATH_MAX];
	unsigned writer;
	uint32_t port_mask;         /* bit per dp port index */
	struct dpc_job_status status;
	enum dp_phase phase;
	uint64_t rcu_token;
	/* workers */
	_Atomic uint64_t reserved;  /* packet budget taken (limits.packets) */
	_Atomic int stop_drop;      /* -1 while taking; else enum dpc_drop for new packets */
	/* writer -> control */
	struct dpc_pcapfile *pf;    /* owned by the writer thread once published */
	_Atomic int end_reason;     /* enum dpc_job_reason the writer asks for */
	_Atomic int closed;         /* writer closed pf; wr_final valid */
	int close_rc;
	/* writer-side counters (written by the job's writer only, inside
	 * wr_seq odd/even; readers use dp_job_wr_read()) */
	_Atomic uint32_t wr_seq;
	struct dp_wr_ctr wr;
	/* validate */
	dpc_dp_validate_cb vcb;
	void *varg;
	uint64_t v_rx0, v_t0_ns, v_deadline_ns;
	bool v_cancelled;
	struct dp_job_wctr wc[DPC_DP_WORKERS_MAX];    /* live, per worker */
	struct dp_job_wctr wpub[DPC_DP_WORKERS_MAX];  /* published, per worker */
};

/* The immutable job set the workers read. */
struct dp_jobset {
	unsigned n;
	struct dp_job *jobs[DPC_DP_JOBS_MAX];
	struct dpc_filter *filters[DPC_DP_JOBS_MAX];
	uint64_t count_only;        /* bits of hidden (validate) jobs */
	uint64_t port_jobs[DPC_DP_PORTS_MAX];  /* jobs that listen on each port */
	uint64_t limited;           /* jobs with a packet limit */
	struct dpc_classifier *cls;
	uint64_t rcu_token;         /* when retired */
	bool second_gp;             /* waiting out the second grace period */
};

/* Per-worker counters (only that worker writes them). */
struct dp_wctr {
	uint64_t rx;
	uint64_t rx_bytes;
	uint64_t unwanted;
	uint64_t screened;          /* of unwanted: settled by the screen, unparsed */
	uint64_t matched;           /* packets at least one real job wanted */
	uint64_t calibration;       /* received in a calibrate_ms bare slot: no job saw them */
	uint64_t deliveries;        /* (packet, job) pairs */
	uint64_t parse_truncated;
	uint64_t parse_invalid;
	uint64_t blocks_sent;
	uint64_t dropped[DPC_DROP_COUNT];
	uint64_t polls, idle_polls;
	/* calibrate_ms: packets and TSC cycles of the loop's and the bare
	 * loop's slots */
	uint64_t cal_loop_pkts, cal_loop_cycles, cal_bare_pkts, cal_bare_cycles;
	/* ... and of the peer slots (calibrate_bpf), with the packets its
	 * filter accepted */
	uint64_t cal_peer_pkts, cal_peer_cycles, cal_peer_matched;
} __rte_cache_aligned;

#define DP_STASH_MAX 64
/* A worker publishes at the end of a burst at most this often while
 * packets keep coming (at once when its queue drains, before any block
 * goes to a writer, and at a job-set change). */
#define DP_PUBLISH_US 20

struct dp_worker {
	unsigned id;
	unsigned lcore;
	uint16_t port_idx;          /* dp port index */
	uint16_t port_id;           /* ethdev port id */
	uint16_t queue;
	struct dpc_dp *dp;
	struct rte_ring *rings[DPC_DP_WRITERS_MAX];  /* to each writer, SPSC */
	const struct dp_jobset *cur;
	struct dp_block *blk[DPC_DP_JOBS_MAX];
	uint64_t open_mask;
	uint64_t oldest_tsc;
	struct dp_wctr c;           /* live counters (this worker only) */
	/* publishing (dp_worker.c): full blocks wait in stash until the
	 * counters that include their records are published */
	bool unpub;                 /* c changed since the last publish */
	uint64_t dirty;             /* slots of cur whose wc changed since */
	uint64_t pub_tsc, pub_ival; /* last end-of-burst publish; min gap */
	unsigned n_stash;
	struct dp_block *stash[DP_STASH_MAX];
	uint8_t stash_slot[DP_STASH_MAX];
	bool launched;
	bool screen_x8;             /* pass 1 eight frames at a time (AVX-512) */
	bool hwts;                  /* copies of the port's conversion */
	bool hwts_epoch_ns;
	uint64_t hw_base, hw_base_ns, hw_mult;
	uint8_t linbuf[16384];      /* multi-segment frames are copied here */
	/* what other threads read: odd while the worker publishes */
	_Atomic uint32_t seq __rte_cache_aligned;
	struct dp_wctr pub;         /* c as of the last publish */
} __rte_cache_aligned;

struct dp_writer {
	unsigned id;
	struct dpc_dp *dp;
	pthread_t thread;
	bool started;
	struct rte_ring *ctl;       /* control -> writer: open/close messages */
	struct dp_job *open[DPC_DP_JOBS_MAX * 2];
	unsigned n_open;
	_Atomic uint64_t blocks, records, busy_loops;
};

struct dp_port {
	uint16_t port_id;
	char name[32];
	char devname[RTE_ETH_NAME_MAX_LEN];
	uint16_t n_queues;
	bool rss_on;
	bool started;
	char driver[64];
	/* link, as rte_eth_link_get_nowait last said (control thread only) */
	int link_up;                /* 1 up, 0 down, -1 unknown */
	uint32_t link_speed;        /* Mbit/s, 0 unknown */
	uint64_t link_changes;      /* transitions seen since start */
	/* rx timestamps from the NIC */
	bool hwts;
	bool hwts_epoch_ns;         /* PMD value is already ns since the epoch */
	uint64_t hw_base, hw_base_ns, hw_mult;  /* ns = base_ns + (hw-base)*mult>>32 */
	char ts_desc[64];
};

struct dpc_dp {
	struct dpc_dp_config cfg;
	json_t *config_json;
	struct dpc_parse_opts popts;
	struct dp_port ports[DPC_DP_PORTS_MAX];
	unsigned n_ports;
	struct dp_worker *workers[DPC_DP_WORKERS_MAX];
	unsigned n_workers;
	struct dp_writer writers[DPC_DP_WRITERS_MAX];
	unsigned n_writers;
	struct rte_mempool *mbuf_pool;
	struct rte_mempool *block_pool;
	struct rte_rcu_qsbr *qs;
	_Atomic(const struct dp_jobset *) set;
	struct dp_jobset *retired_sets[64];
	unsigned n_retired_sets;
	_Atomic int stop_workers;
	_Atomic int stop_writers;
	uint64_t flush_tsc;
	uint64_t tsc_hz;
	/* calibrate_bpf: the peer slot's program (JIT) and libpcap's, which
	 * it borrows */
	struct dp_bpf *cal_bpf;
	struct bpf_program *cal_prog;
	/* jobs (control thread only) */
	struct dp_job **jobs;       /* every job ever started, by start order */
	unsigned n_jobs, cap_jobs;
	uint64_t next_id;
	bool need_publish;
	uint64_t sets_published;    /* job sets handed to the workers */
	uint64_t sets_at_launch;    /* ... of which before the workers polled */
	struct dpc_filter_error ferr;
	dpc_dp_event_cb ev_fn;
	void *ev_arg;
	pthread_mutex_t tel_lock;   /* telemetry snapshot */
	char *tel_stats, *tel_jobs; /* compact JSON, refreshed by service */
	uint64_t tel_last_ns;
	uint64_t snap_reads, snap_retries;  /* worker counter reads, retried */
	uint64_t start_ns;
	bool workers_launched;
	int ts_off;                 /* rx timestamp dynfield offset, -1 if none */
	uint64_t ts_flag;
};

/* dp_worker.c */
int dp_worker_main(void *arg);

/* dp_writer.c */
void *dp_writer_main(void *arg);
enum dpc_drop dp_drop_of_stop(enum dpc_pcapfile_stop s);
/* A consistent copy of job->wr (any thread). */
void dp_job_wr_read(const struct dp_job *job, struct dp_wr_ctr *out);
#define DP_MSG_OPEN  0u
#define DP_MSG_CLOSE 1u

/* dp_bpf.c */
int dp_bpf_attach(struct dp_job *job);
void dp_bpf_detach(struct dp_job *job);

/* dp_telemetry.c */
void dp_telemetry_register(struct dpc_dp *dp);
void dp_telemetry_refresh(struct dpc_dp *dp);
bool dp_telemetry_wanted(void);   /* a telemetry reader waits for a refresh */

uint64_t dp_now_ns(void);

#endif
