/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_job.h - capture jobs: spec, validation, state machine, counters.
 *
 * A job spec is what a user asks for (a name that becomes the output
 * directory, a filter, what to write, snaplen, limits, rotation, ports).
 * It comes from JSON: the daemon config's "jobs": [...] and the control
 * socket's job.start / job.validate params use the same parser, so both
 * accept exactly the same keys, reject unknown ones, and name the field in
 * every error.
 *
 * JSON shape (every key optional except "name"; defaults come from the
 * struct passed in, see dpc_job_spec_from_json):
 *   {
 *     "name":     "incident1",            [A-Za-z0-9._-]{1,64}, not "." or ".."
 *     "filter":   "vni 5001 and tcp port 5432",   <= DPC_JOB_FILTER_MAX bytes
 *     "write":    "frame" | "inner",      inner: the VXLAN inner frame
 *     "snaplen":  1..262144,
 *     "limits":   {"packets": N, "bytes": N, "duration_s": N},     0 = none
 *     "rotate":   {"file_bytes": N, "file_seconds": N, "max_files": N,
 *                  "mode": "stop" | "ring"},                        0 = none
 *     "ports":    [0, 1]                  config port indices; [] / absent = all
 *   }
 *
 * Plain C + jansson, no DPDK: unit-tested without EAL.
 */
#ifndef DPC_JOB_H
#define DPC_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DPC_JOB_NAME_MAX     64      /**< bytes, without the NUL */
#define DPC_JOB_FILTER_MAX   4096    /**< bytes, without the NUL (= DPC_FILTER_EXPR_MAX) */
#define DPC_JOB_SNAPLEN_MAX  262144
#define DPC_JOB_PORTS_MAX    32      /**< ports a job may name */
#define DPC_JOB_MAX_FILES    1000000

/** What a job writes for each matching packet. */
enum dpc_job_write {
	DPC_JOB_WRITE_FRAME = 0,   /**< the frame as received */
	DPC_JOB_WRITE_INNER,       /**< VXLAN: the inner frame, tunnel stripped;
	                                other packets: the frame as received */
};

/** What happens when max_files files are full. */
enum dpc_job_rotate_mode {
	DPC_JOB_ROTATE_STOP = 0,   /**< the job completes */
	DPC_JOB_ROTATE_RING,       /**< the oldest file is deleted, capture goes on */
};

struct dpc_job_limits {
	uint64_t packets;          /**< records in total; 0 = no bound */
	uint64_t bytes;            /**< file bytes in total (headers included) */
	uint64_t duration_s;       /**< seconds from the job's start */
};

struct dpc_job_rotate {
	uint64_t file_bytes;       /**< rotate before a file would exceed this */
	uint64_t file_seconds;     /**< rotate this long after a file's first record */
	uint32_t max_files;        /**< 0 = unbounded */
	enum dpc_job_rotate_mode mode;
};

/** A capture job as requested. Plain value: copy it freely. */
struct dpc_job_spec {
	char name[DPC_JOB_NAME_MAX + 1];
	char filter[DPC_JOB_FILTER_MAX + 1];  /**< "" matches every packet */
	enum dpc_job_write write;
	uint32_t snaplen;                      /**< 1..DPC_JOB_SNAPLEN_MAX */
	struct dpc_job_limits limits;
	struct dpc_job_rotate rotate;
	uint16_t n_ports;                      /**< 0 = all ports */
	uint16_t ports[DPC_JOB_PORTS_MAX];     /**< config port indices */
};

/** Built-in defaults: no name, empty filter, frame, snaplen 262144, no
 *  limits, no rotation, all ports. */
void dpc_job_spec_init(struct dpc_job_spec *spec);

/**
 * Fill a spec from a JSON object. *out is the starting point (the
 * defaults: dpc_job_spec_init() or the daemon's job defaults, see
 * dpc_dp_job_defaults()); each key present overrides it. Unknown keys (at
 * any level), wrong types, out-of-range values and a missing "name" are
 * errors. With require_name false "name" may be absent (job defaults,
 * job.validate).
 * @param err  gets "<field>: <reason>" on error, e.g.
 *             "limits.packets: must be an integer >= 0, got -1"
 *             or "frobnicate: unknown key". Field paths use dots.
 * @return 0, or -EINVAL (err filled; *out may be partly updated).
 */
int dpc_job_spec_from_json(const json_t *obj, struct dpc_job_spec *out,
			   char *err, size_t errlen);
int dpc_job_spec_from_json_ex(const json_t *obj, struct dpc_job_spec *out,
			      bool require_name, char *err, size_t errlen);

/**
 * Check a spec built in C (the same rules as the JSON parser).
 * @return 0 or -EINVAL with "<field>: <reason>" in err.
 */
int dpc_job_spec_validate(const struct dpc_job_spec *spec, char *err,
			  size_t errlen);

/** True when name matches [A-Za-z0-9._-]{1,64} and is not "." or "..". */
bool dpc_job_name_valid(const char *name);

/** The resolved spec as JSON (every key present). New reference; NULL on ENOMEM. */
json_t *dpc_job_spec_to_json(const struct dpc_job_spec *spec);

/** "frame"/"inner", "stop"/"ring". */
const char *dpc_job_write_name(enum dpc_job_write w);
const char *dpc_job_rotate_mode_name(enum dpc_job_rotate_mode m);

/* ---------------------------------------------------------------- states */

/** Job life: RUNNING -> COMPLETED | STOPPED | FAILED, nothing else. */
enum dpc_job_state {
	DPC_JOB_RUNNING = 0,
	DPC_JOB_COMPLETED,         /**< a limit (packets, bytes, duration, files) */
	DPC_JOB_STOPPED,           /**< job.stop, daemon shutdown, input idle */
	DPC_JOB_FAILED,            /**< disk low, disk error, start error */
	DPC_JOB_STATE_COUNT
};

/** Why a job left RUNNING. Names: dpc_job_reason_name(). */
#define DPC_JOB_REASONS(X)                                              \
	X(NONE,         "")                                             \
	X(PACKETS,      "packet limit")                                 \
	X(BYTES,        "byte limit")                                   \
	X(DURATION,     "duration limit")                               \
	X(FILES,        "file limit")                                   \
	X(REQUEST,      "stopped by request")                           \
	X(SHUTDOWN,     "daemon shutdown")                              \
	X(IDLE,         "input idle")                                   \
	X(DISK_LOW,     "disk low")                                     \
	X(DISK_ERROR,   "disk error")                                   \
	X(START_ERROR,  "start error")

enum dpc_job_reason {
#define DPC_JOB_REASON_ENUM(id, s) DPC_JOB_REASON_##id,
	DPC_JOB_REASONS(DPC_JOB_REASON_ENUM)
#undef DPC_JOB_REASON_ENUM
	DPC_JOB_REASON_COUNT
};

/** "running", "completed", "stopped", "failed". */
const char *dpc_job_state_name(enum dpc_job_state s);
/** Parse a state name; -1 when unknown. */
int dpc_job_state_from_name(const char *name);
/** The reason text, "" for NONE. */
const char *dpc_job_reason_name(enum dpc_job_reason r);
/** The final state a reason leads to (PACKETS.. FILES -> COMPLETED, ...). */
enum dpc_job_state dpc_job_reason_state(enum dpc_job_reason r);

/** A job's life so far. */
struct dpc_job_status {
	enum dpc_job_state state;
	enum dpc_job_reason reason;
	uint64_t started_ns;       /**< CLOCK_REALTIME */
	uint64_t ended_ns;         /**< 0 while running */
};

/**
 * Move a running job to the final state its reason implies.
 * @return 0, or -EALREADY when the job had already ended (nothing changes:
 *         the first reason wins), -EINVAL for REASON_NONE.
 */
int dpc_job_status_end(struct dpc_job_status *st, enum dpc_job_reason reason,
		       uint64_t now_ns);

/* -------------------------------------------------------------- counters */

/** Drop reasons, from dpc_drops.def. */
enum dpc_drop {
#define DPC_DROP(id, name, help) DPC_DROP_##id,
#include "dpc_drops.def"
#undef DPC_DROP
	DPC_DROP_COUNT
};

/** "ring_full", ... as in dpc_drops.def. */
const char *dpc_drop_name(enum dpc_drop d);
const char *dpc_drop_help(enum dpc_drop d);

/**
 * One job's counters. They balance once the job has ended:
 *   matched == written + sum(dropped[])
 * (while it runs, the difference is what is in flight in staging blocks
 * and rings: in_flight()).
 */
struct dpc_job_counters {
	uint64_t matched;          /**< packets the job's filter selected */
	uint64_t matched_bytes;    /**< their wire bytes */
	uint64_t written;          /**< records in the job's files */
	uint64_t written_bytes;    /**< file bytes (headers included) */
	uint64_t wire_bytes;       /**< sum of orig_len of written records */
	uint64_t snapped;          /**< written records cut to snaplen */
	uint32_t files;            /**< files opened (ring mode: incl. deleted) */
	uint32_t files_deleted;
	uint64_t dropped[DPC_DROP_COUNT];
};

/** Sum of dropped[]. */
uint64_t dpc_job_counters_dropped(const struct dpc_job_counters *c);
/** matched - written - dropped (0 when balanced). */
int64_t dpc_job_counters_in_flight(const struct dpc_job_counters *c);

/** {"matched":..,"written":..,..,"dropped":{"ring_full":..,..}}. New ref. */
json_t *dpc_job_counters_to_json(const struct dpc_job_counters *c);

/**
 * Progress toward each limit that is set:
 * {"packets":{"done":N,"limit":L,"fraction":0.25}, "bytes":{...},
 *  "duration_s":{...}}; elapsed_ns from the start. New ref.
 */
json_t *dpc_job_progress_to_json(const struct dpc_job_spec *spec,
				 const struct dpc_job_counters *c,
				 uint64_t elapsed_ns);

#ifdef __cplusplus
}
#endif

#endif /* DPC_JOB_H */
