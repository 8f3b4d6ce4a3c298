/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_pcapfile.h - bounded, rotating classic-pcap writer.
 *
 * One writer owns one capture job's output directory. It writes classic
 * pcap with the nanosecond magic (0xa1b23c4d), link type Ethernet, through a
 * large buffer (one write(2) per buffer, never one per record), and enforces
 * every bound exactly at record boundaries:
 *   - packets: exactly max_packets records in total; the writer stops (and
 *     finalizes its files) right after the last one, later records get
 *     DPC_PCAPFILE_DONE;
 *   - bytes: the sum of all file sizes (headers included) never exceeds
 *     max_bytes;
 *   - duration: records stamped at or after start + max_duration are refused;
 *   - file size: a file is rotated before a record would make it exceed
 *     file_bytes (a record larger than a whole file is truncated to fit);
 *   - file time: rotated when a record is stamped file_seconds after the
 *     file's first record;
 *   - file count: after max_files files, stop (DPC_PCAPFILE_DONE) or, in
 *     ring mode, delete this writer's oldest file and go on;
 *   - free disk: a record that would leave less than min_free_bytes free
 *     on the filesystem (checked at admission and again before every
 *     write, so other writers filling the disk are seen) stops the writer
 *     with DPC_PCAPFILE_STOP_DISK_LOW; buffered records that no longer fit
 *     are dropped (and uncounted) rather than written below the floor.
 *
 * A file being written is "<prefix>-<NNNNN>.pcap.part"; it is renamed to
 * "<prefix>-<NNNNN>.pcap" when closed. "manifest.json" in the directory lists
 * every file (name, packets, bytes, first/last timestamp in ns, sha256,
 * state) and is rewritten atomically (write temp + rename) at each file
 * open, rotation and stop. On any write error (ENOSPC, EIO, ...) the current
 * file is cut back to its last whole record, finalized and listed; the error
 * is returned and every later call fails with it. Nothing that reached the
 * file is lost; records still in the buffer are, and the counters drop
 * them (stats.packets can go down after an error).
 * docs/file-layout.md describes the files and the manifest.
 *
 * Not thread-safe: one writer is used by one thread at a time.
 * No DPDK dependency.
 */
#ifndef DPC_PCAPFILE_H
#define DPC_PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DPC_PCAP_MAGIC_NS     0xa1b23c4du
#define DPC_PCAP_MAGIC_US     0xa1b2c3d4u
#define DPC_PCAP_LINKTYPE_ETHERNET 1
#define DPC_PCAP_FILE_HDR_LEN 24
#define DPC_PCAP_REC_HDR_LEN  16
#define DPC_PCAP_SNAPLEN_MAX  262144

/** A pcap record header as written (host byte order, nanosecond stamps). */
struct dpc_pcap_rec_hdr {
	uint32_t ts_sec;
	uint32_t ts_nsec;
	uint32_t incl_len;
	uint32_t orig_len;
};

/** Why a writer stopped accepting records. */
enum dpc_pcapfile_stop {
	DPC_PCAPFILE_STOP_NONE = 0,
	DPC_PCAPFILE_STOP_PACKETS,   /**< max_packets written */
	DPC_PCAPFILE_STOP_BYTES,     /**< next record would pass max_bytes */
	DPC_PCAPFILE_STOP_DURATION,  /**< a record came after the duration */
	DPC_PCAPFILE_STOP_FILES,     /**< max_files filled, not in ring mode */
	DPC_PCAPFILE_STOP_DISK_LOW,  /**< would leave < min_free_bytes free */
	DPC_PCAPFILE_STOP_ERROR,     /**< write/rename error: see last_errno */
	DPC_PCAPFILE_STOP_CLOSED,    /**< dpc_pcapfile_close() */
};

/** Bounds; 0 means "no bound" for each. */
struct dpc_pcapfile_limits {
	uint64_t max_packets;
	uint64_t max_bytes;
	uint64_t max_duration_ns;
	uint64_t file_bytes;
	uint64_t file_seconds;
	uint32_t max_files;
	bool ring;                   /**< with max_files: delete oldest */
	uint32_t snaplen;            /**< 0 = DPC_PCAP_SNAPLEN_MAX */
};

struct dpc_pcapfile_opts {
	const char *dir;             /**< existing directory, owned by this writer */
	const char *prefix;          /**< file name prefix, e.g. the job name */
	struct dpc_pcapfile_limits limits;
	uint64_t start_ns;           /**< duration origin; 0 = first record */
	uint64_t min_free_bytes;     /**< 0 = no free-space check */
	size_t buf_size;             /**< write buffer; 0 = 4 MiB */
	bool sha256;                 /**< sha256 of each file in the manifest */
	bool no_sync;                /**< skip fsync at rotation/close (tests) */
};

/** Counters of one writer (totals over all its files). */
struct dpc_pcapfile_stats {
	uint64_t packets;            /**< records written */
	uint64_t bytes;              /**< file bytes written, headers included */
	uint64_t wire_bytes;         /**< sum of orig_len of written records */
	uint64_t refused;            /**< records refused after the stop */
	uint64_t truncated;          /**< records cut to snaplen or file size */
	uint32_t files;              /**< files opened (ring: including deleted) */
	uint32_t files_deleted;      /**< ring mode deletions */
	uint64_t first_ns, last_ns;  /**< timestamps of first/last record */
	enum dpc_pcapfile_stop stop;
	int last_errno;              /**< for DPC_PCAPFILE_STOP_ERROR / DISK_LOW */
};

struct dpc_pcapfile;             /* opaque */

/** dpc_pcapfile_write() return value when a bound is reached. */
#define DPC_PCAPFILE_DONE 1

/**
 * Open a writer: validates opts, keeps the entries of an existing manifest
 * and numbers new files after the highest existing index of the prefix,
 * and allocates a 64 KiB hidden reserve ".<prefix>.reserve" (freed before
 * the last manifest write, so a full disk still gets a manifest). The first
 * file is created on the first record; close() always leaves at least one
 * valid (possibly empty) file and a manifest.
 * @return the writer, or NULL with errno (EINVAL bad opts, ENOENT/EACCES
 *         directory, ENOMEM).
 */
struct dpc_pcapfile *dpc_pcapfile_open(const struct dpc_pcapfile_opts *opts);

/**
 * Append one record. data holds caplen bytes (already truncated by the
 * caller or not: the writer applies snaplen); wirelen is the original size.
 * @return 0 written (into the buffer); DPC_PCAPFILE_DONE when a bound stopped the writer
 *         (this record was not written, nor will any later one be);
 *         -errno on a write error (the writer is stopped, files valid).
 */
int dpc_pcapfile_write(struct dpc_pcapfile *w, uint64_t ts_ns,
		       const void *data, uint32_t caplen, uint32_t wirelen);

/**
 * Append pre-formatted records: buf holds len bytes of back-to-back
 * (struct dpc_pcap_rec_hdr, incl_len bytes of data) records, as the
 * datapath stages them. Same bounds and returns as dpc_pcapfile_write(),
 * each bound splitting the block at the record where it hits; runs of
 * records that need no change are copied verbatim (big blocks are written
 * straight from buf, which is not kept after the call).
 * *consumed (if not NULL) gets the number of this block's records written
 * (the rise of stats.packets: records lost to an error do not count).
 * A malformed block (a header running past len, ts_nsec >= 1e9) is
 * -EINVAL and nothing of it is written; the writer goes on.
 */
int dpc_pcapfile_write_block(struct dpc_pcapfile *w, const void *buf,
			     size_t len, uint32_t *consumed);

/**
 * Flush the buffer to the current file (for a periodic flush), so a slow
 * job's records reach the file (and survive a crash). 0 / -errno. Hitting
 * the free-space floor stops the writer (stats.stop) and returns 0.
 */
int dpc_pcapfile_flush(struct dpc_pcapfile *w);

/**
 * Apply the time bounds when no record arrives: now_ns at or after the
 * duration's end stops the writer (DPC_PCAPFILE_STOP_DURATION, files
 * finalized); a current file older than file_seconds is closed (the next
 * record opens a new one). Call it from a periodic timer.
 * @return 0, DPC_PCAPFILE_DONE when stopped, or -errno.
 */
int dpc_pcapfile_tick(struct dpc_pcapfile *w, uint64_t now_ns);

/** Copy the counters. Never fails. */
void dpc_pcapfile_get_stats(const struct dpc_pcapfile *w,
			    struct dpc_pcapfile_stats *st);

/**
 * Flush, finalize (rename .part), write the manifest, free the writer.
 * @return 0, or -errno of the first error seen during the writer's life.
 * NULL is a no-op returning 0. st (optional) gets the final counters.
 */
int dpc_pcapfile_close(struct dpc_pcapfile *w, struct dpc_pcapfile_stats *st);

/**
 * Crash recovery for one directory: every "*.pcap.part" is cut back to its
 * last whole record (a torn header or record is dropped), fsync'd,
 * renamed, and listed in the manifest with state "recovered" (the job's
 * state becomes "recovered" if it was "running"). A .part whose header is
 * not one this writer writes (pcap 2.4, Ethernet) is left alone. Stale
 * temp/reserve files are removed. Idempotent; safe on a clean directory;
 * not for a directory a live writer uses.
 * @return number of files recovered, or -errno (first error; the other
 *         files are still processed).
 */
int dpc_pcapfile_recover(const char *dir);

/** Static name of a stop reason ("packets", "bytes", ..., "disk low"). */
const char *dpc_pcapfile_stop_name(enum dpc_pcapfile_stop stop);

#ifdef __cplusplus
}
#endif

#endif /* DPC_PCAPFILE_H */
