/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_dp.h - the DPDK datapath of dpcapd.
 *
 * One struct dpc_dp owns the capture ports, their rx queues, one worker
 * lcore per rx queue, the staging-block pool, the worker->writer rings and
 * the writer threads. Workers: rx_burst -> dpc_parse -> classify against an
 * immutable job-set snapshot (published with rte_rcu_qsbr) -> copy each
 * wanted packet as a pcap record into a per-(worker, job) staging block ->
 * full or aged blocks go through an SPSC ring to the job's writer thread,
 * which appends them with dpc_pcapfile_write_block(). mbufs are freed at
 * once; the poll loop makes no syscall, takes no lock, allocates nothing.
 *
 * Threading: every function here is called from ONE control thread (the
 * EAL main lcore, which runs app/dpcapd's loop), never from workers or
 * writers, never concurrently. Callbacks (events, validate results) are
 * called from dpc_dp_service() on that same thread.
 *
 * JSON results are new references owned by the caller (json_decref them).
 * Errors: 0 / -errno, with a human sentence in err naming the field.
 */
#ifndef DPC_DP_H
#define DPC_DP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dpc_job.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DPC_DP_PORTS_MAX     16
#define DPC_DP_QUEUES_MAX    16      /**< rx queues per port */
#define DPC_DP_WORKERS_MAX   64
#define DPC_DP_WRITERS_MAX   16
#define DPC_DP_JOBS_MAX      64      /**< running jobs at once (classifier width) */
#define DPC_DP_DEVICE_MAX    512

/** One capture port, as configured (docs/config.md "ports"). */
struct dpc_dp_port_cfg {
	char name[32];                  /**< label used in stats, e.g. "p0" */
	char device[DPC_DP_DEVICE_MAX]; /**< PCI address "0000:3b:00.0" or vdev
	                                     string "net_pcap0,rx_pcap=x.pcap" */
	uint16_t rx_queues;             /**< 1..DPC_DP_QUEUES_MAX */
	uint16_t rx_desc;               /**< descriptors per rx queue */
	bool rss;                       /**< symmetric RSS over the queues when
	                                     the port supports it */
	bool promisc;
	/** "auto": the NIC's rx timestamp when the port offers one and its
	 *  clock can be read (calibrated against CLOCK_REALTIME), else TSC;
	 *  "tsc": TSC converted once per burst; "hw": the PMD's timestamp
	 *  even without a readable clock, taken as ns since the epoch (net_pcap
	 *  then replays the file's own timestamps). */
	enum { DPC_DP_TS_AUTO = 0, DPC_DP_TS_TSC, DPC_DP_TS_HW } timestamps;
};

/** Everything dpc_dp_create() needs; app/dpcapd/config.c fills it. */
struct dpc_dp_config {
	struct dpc_dp_port_cfg ports[DPC_DP_PORTS_MAX];
	unsigned n_ports;
	unsigned worker_lcores[DPC_DP_WORKERS_MAX]; /**< one per rx queue, in port/queue order */
	unsigned n_worker_lcores;       /**< 0 = the EAL worker lcores in order */
	unsigned writers;               /**< writer threads, 1..DPC_DP_WRITERS_MAX */
	uint32_t mbufs;                 /**< mbuf pool size (per socket) */
	uint32_t mbuf_cache;
	uint32_t mbuf_data_room;        /**< bytes, incl. headroom */
	uint32_t burst;                 /**< rx burst size, 1..64 */
	bool screen_simd;               /**< screen eight frames at a time with
	                                     AVX-512 where the CPU has it */
	uint32_t block_size;            /**< staging block bytes */
	uint32_t blocks;                /**< staging blocks in the pool; 0 = 2 x workers x max_jobs, at least 256 */
	uint32_t ring_size;             /**< worker->writer ring entries (power of 2) */
	uint32_t flush_ms;              /**< staged records reach the writer within this */
	uint32_t file_buf_size;         /**< pcapfile write buffer bytes */
	char capture_root[PATH_MAX];    /**< jobs write to <root>/<name>/ */
	uint64_t min_free_bytes;        /**< a job fails "disk low" below this */
	uint16_t vxlan_ports[4];
	unsigned n_vxlan_ports;
	unsigned max_jobs;              /**< 1..DPC_DP_JOBS_MAX */
	uint32_t validate_ms;           /**< job.validate sampling time */
	uint32_t worker_idle_sleep_us;  /**< 0: pure polling; else a worker whose
	                                     queue stayed empty sleeps this long */
	bool sha256;                    /**< sha256 per file in manifests */
	uint32_t calibrate_ms;          /**< 0: off. Else a measurement mode: each
	                                     worker alternates slots this long of
	                                     its loop and of a bare rx loop (whose
	                                     packets no job sees: "calibration"),
	                                     and counts packets and TSC cycles of
	                                     both (stats.get workers[].calibrate) */
	const char *calibrate_bpf;      /**< with calibrate_ms: a tcpdump filter
	                                     that a third, "peer" slot runs on
	                                     every packet of a bare loop, compiled
	                                     by libpcap and JIT-compiled by rte_bpf
	                                     (NULL: two slots only). Borrowed */
	struct dpc_job_spec job_defaults; /**< base of every job spec */
	const json_t *config_json;      /**< the whole config as loaded, shown by
	                                     dpc_dp_info() (dp keeps a reference) */
};

/** Built-in defaults for every field (docs/config.md lists them). */
void dpc_dp_config_init(struct dpc_dp_config *cfg);

struct dpc_dp;                          /* opaque */

/**
 * Whether libpcap compiles expr for Ethernet, as dpc_dp_create() will for
 * calibrate_bpf; no EAL needed. @return 0, or -EINVAL/-ENOMEM with err
 * "\"expr\": libpcap's reason".
 */
int dpc_dp_calibrate_bpf_check(const char *expr, char *err, size_t errlen);

/**
 * Bring up ports, queues, pools, rings, RCU and writer threads and recover
 * ".part" files under capture_root. The workers do not poll yet: start the
 * config's jobs, then call dpc_dp_start() (so a finite input such as a
 * net_pcap file is not consumed before the first job exists).
 * EAL must be initialised.
 * @return the datapath or NULL with errno and err filled.
 */
struct dpc_dp *dpc_dp_create(const struct dpc_dp_config *cfg, char *err,
			     size_t errlen);

/** Launch the worker lcores. @return 0 or -errno (err filled). */
int dpc_dp_start(struct dpc_dp *dp, char *err, size_t errlen);

/**
 * Stop polling (a shutdown step: call once no job is active, so the last
 * dpc_dp_stats() is exact and ethdev counters agree with the workers').
 * Packets arriving afterwards are left to the NIC. Idempotent.
 */
void dpc_dp_stop_workers(struct dpc_dp *dp);

/**
 * End every running job (reason SHUTDOWN), flush every block, finalize every
 * file and manifest, stop workers, writers and ports, free everything.
 * NULL is a no-op. @return 0 or the first -errno met while finalizing.
 */
int dpc_dp_destroy(struct dpc_dp *dp);

/**
 * Housekeeping, called by the control loop at least every 50 ms: ends jobs
 * whose writer finished or failed or whose duration passed, retires ended
 * jobs from the worker snapshot (RCU), finalizes their files, completes
 * job.validate samplings, emits events. Never blocks for long.
 * @return number of jobs still active (running or finishing).
 */
int dpc_dp_service(struct dpc_dp *dp);

/** A copy of the daemon's job defaults: the base spec for job.start. */
void dpc_dp_job_defaults(const struct dpc_dp *dp, struct dpc_job_spec *spec);

/**
 * Start a job: validate the spec, compile its filter, create
 * <capture_root>/<name>/ (it must not exist or must be empty of pcap
 * files, and must not be reached through a symlink), open its writer and
 * publish it to the workers.
 * @param id   gets the job id (> 0, never reused during the daemon's life)
 * @return 0;
 *   -EINVAL  bad spec field (err "<field>: <reason>");
 *   -EBADMSG filter does not compile (err is the filter's message naming
 *            column and token; dpc_dp_filter_error() gives them apart);
 *   -EEXIST  a job with that name is active, or its directory holds files;
 *   -ENOSPC  max_jobs active, or free disk below min_free_bytes;
 *   -EIO / other -errno: directory or file creation failed (err says).
 */
int dpc_dp_job_start(struct dpc_dp *dp, const struct dpc_job_spec *spec,
		     uint64_t *id, char *err, size_t errlen);

struct dpc_filter_error;
/** Column/token/message of the last -EBADMSG; valid until the next call. */
const struct dpc_filter_error *dpc_dp_filter_error(const struct dpc_dp *dp);

/**
 * Stop a running job (state "stopped", reason "stopped by request").
 * Staged records are still flushed and the files finalized; the job's final
 * state event comes from dpc_dp_service() once that is done.
 * @return 0, -ENOENT unknown id, -EALREADY job already ended.
 */
int dpc_dp_job_stop(struct dpc_dp *dp, uint64_t id);

/** End every running job with reason (REQUEST, SHUTDOWN or IDLE). */
void dpc_dp_job_stop_all(struct dpc_dp *dp, enum dpc_job_reason reason);

/**
 * One job as JSON:
 * {"id":1,"name":"x","state":"running","reason":"","finishing":false,
 *  "spec":{...resolved spec...},"dir":"/root/x","started_ns":..,"ended_ns":..,
 *  "counters":{...dpc_job_counters_to_json...},"progress":{...},
 *  "files":[{"name":"x-00000.pcap","packets":N,"bytes":N,"state":"closed"}]}
 * @return 0 or -ENOENT.
 */
int dpc_dp_job_get(struct dpc_dp *dp, uint64_t id, json_t **out);

/**
 * Jobs known to the daemon (running and ended, newest last) as a JSON
 * array of the same objects as dpc_dp_job_get() (without "files").
 * state_filter: NULL for all, else "running"/"completed"/"stopped"/"failed".
 * @return 0, -EINVAL unknown state name.
 */
int dpc_dp_job_list(struct dpc_dp *dp, const char *state_filter, json_t **out);

/**
 * Counters: {"ports":[{"name","rx_packets","imissed","rx_nombuf","ierrors",
 * "queues":[...]}], "workers":[{"lcore","port","queue","rx","unwanted",
 * "matched","deliveries","parse_truncated","parse_invalid","dropped":{..}}],
 * "writers":[...], "jobs":[{"id","name","state",counters,"writer":{...}}],
 * "drops":{"ring_full":N,...} (all jobs), "disk":{"path","free_bytes",
 * "min_free_bytes"}, "balanced":true, "snapshots":{"worker_reads","retries"}}
 * Balance: per worker rx == unwanted + matched; sum of the workers'
 * deliveries == sum of the listed jobs' matched (until the oldest ended
 * jobs leave the history, 1024 jobs); per job in_flight (matched -
 * written - sum(dropped)) >= 0, and 0 once ended. The result is one
 * consistent snapshot (the workers' published counters, read under their
 * seqcounts, see dp_worker.c), so these hold in every result, taken while
 * the workers run or not. A job's "writer" is its pcapfile's totals
 * (packets, refused, dropped_disk_error, dropped_disk_low, stop_reason),
 * as in its manifest.
 */
int dpc_dp_stats(struct dpc_dp *dp, json_t **out);

/** {"version","ports":[...],"lcores":{"main","workers":[..]},"writers",
 *   "capture_root","config":{...as loaded...}}. */
int dpc_dp_info(struct dpc_dp *dp, json_t **out);

/**
 * job.validate: compile the filter (errors returned at once, as for
 * dpc_dp_job_start: -EINVAL / -EBADMSG), then sample live traffic for
 * validate_ms without writing anything (a hidden job that only counts).
 * Returns at once; cb is called later from dpc_dp_service() with
 *   {"valid":true,"engine":"native"|"bpf","bpf_engine":"jit"|"libpcap"|
 *    "rte_bpf"|"jit+libpcap"|..|"none","sample_ms":1000,
 *    "received":N,"matched":M,"match_pps":x,"rx_pps":y}
 * (the result is owned by cb: json_decref it). cb is called exactly once
 * unless dpc_dp_validate_cancel() is called first.
 * @param vid gets a handle for cancel (> 0).
 * @return 0, -EINVAL, -EBADMSG, -ENOSPC (no free classifier slot).
 */
typedef void (*dpc_dp_validate_cb)(void *arg, json_t *result);
int dpc_dp_validate(struct dpc_dp *dp, const struct dpc_job_spec *spec,
		    dpc_dp_validate_cb cb, void *arg, uint64_t *vid,
		    char *err, size_t errlen);
/** Forget a pending validation (its cb is never called). -ENOENT if done. */
int dpc_dp_validate_cancel(struct dpc_dp *dp, uint64_t vid);

/**
 * Events, called from dpc_dp_service() / dpc_dp_job_*():
 *   event "job.state", params {"id","name","state","reason","counters"}
 * when a job starts ("running") and when it has ended and its files are
 * final. params is borrowed: incref to keep it.
 */
typedef void (*dpc_dp_event_cb)(void *arg, const char *event,
				json_t *params);
void dpc_dp_set_event_cb(struct dpc_dp *dp, dpc_dp_event_cb fn, void *arg);

/** Packets received by all queues so far (idle detection). */
uint64_t dpc_dp_rx_total(struct dpc_dp *dp);

/** Jobs started since the daemon started (not counting validations). */
unsigned dpc_dp_jobs_started(const struct dpc_dp *dp);

/** Number of jobs running or still finishing their files. */
unsigned dpc_dp_jobs_active(const struct dpc_dp *dp);

#ifdef __cplusplus
}
#endif

#endif /* DPC_DP_H */
