/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcapfile.c - the bounded, rotating classic-pcap writer.
 *
 * Data flow: each admitted record is either copied into the write buffer
 * (dpc_pcapfile_write, or a block record that must be rewritten) or becomes
 * part of a "run": a span of a caller's block copied verbatim. A run is
 * committed (copied into the buffer, or written straight from the block when
 * large) before anything else is appended, and before any flush, so the file
 * order is the admission order. Every byte reaches the file through
 * pf_write_chunk(), which, on error, cuts the file back to the last whole
 * record it holds.
 *
 * Accounting: counters are charged when a record is admitted; a record lost
 * to a write error is uncharged, so the counters and the manifest always
 * describe what is on disk once the writer is stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <dirent.h>

#include <openssl/evp.h>

#include "dpc_pcapfile.h"
#include "pcapfile_internal.h"

#define PF_DEFAULT_BUF  (4u * 1024u * 1024u)
#define PF_MIN_BUF      (2u * (DPC_PCAP_REC_HDR_LEN + DPC_PCAP_SNAPLEN_MAX))
#define NS_PER_SEC      1000000000ull
#define PF_WRITEBACK_STEP (8u << 20)  /* sync: start writeback every 8 MiB */
#define PF_PREFETCH_AHEAD 4096u      /* write_block: bytes streamed ahead of the walk */

ssize_t (*dpc_pcapfile_write_hook)(int fd, const void *buf, size_t len) = write;

struct dpc_pcapfile {
	int dirfd;
	char *prefix;
	char reserve_name[PF_NAME_MAX];
	struct dpc_pcapfile_limits lim;
	uint64_t start_ns;
	uint64_t origin_ns;
	bool have_origin;
	uint64_t min_free;
	bool sync;
	bool want_sha;
	bool have_reserve;

	/* write buffer: whole records only */
	uint8_t *buf;
	size_t buf_size, buf_len;
	uint64_t buf_count;          /* records in buf */
	uint64_t buf_last_ts;        /* ts of the last record in buf */

	/* pending verbatim run of a caller's block */
	const uint8_t *run;
	size_t run_len;
	uint64_t run_count;
	uint64_t run_last_ts;

	/* current file: files[nfiles - 1] when fd >= 0 */
	int fd;
	uint64_t cur_size;           /* logical size: disk + buffered + run */
	uint64_t cur_disk;           /* bytes in the file */
	uint64_t disk_packets;       /* whole records in the file */
	uint64_t disk_last_ns;
	uint64_t wb_start;           /* writeback started up to here */
	bool torn;                   /* could not cut back: leave it to recovery */
	bool disk_low;               /* a flush met the free-space floor */
	EVP_MD_CTX *md;
	uint32_t next_index;

	struct pf_file *files;       /* this writer's files that still exist */
	size_t nfiles, cap;
	json_t *foreign;             /* manifest entries found at open */

	/* free-space budget: bytes that may still be admitted */
	uint64_t budget;
	uint64_t frsize;

	struct dpc_pcapfile_stats st;
	uint64_t manifest_refused;   /* st.refused when the manifest was written */
	int first_err;
};

static const char *const stop_names[] = {
	[DPC_PCAPFILE_STOP_NONE] = "none",
	[DPC_PCAPFILE_STOP_PACKETS] = "packets",
	[DPC_PCAPFILE_STOP_BYTES] = "bytes",
	[DPC_PCAPFILE_STOP_DURATION] = "duration",
	[DPC_PCAPFILE_STOP_FILES] = "files",
	[DPC_PCAPFILE_STOP_DISK_LOW] = "disk low",
	[DPC_PCAPFILE_STOP_ERROR] = "error",
	[DPC_PCAPFILE_STOP_CLOSED] = "closed",
};

const char *dpc_pcapfile_stop_name(enum dpc_pcapfile_stop stop)
{
	if ((unsigned)stop >= sizeof(stop_names) / sizeof(stop_names[0]))
		return "unknown";
	return stop_names[stop];
}

static inline struct pf_file *cur_file(struct dpc_pcapfile *w)
{
	return w->fd >= 0 ? &w->files[w->nfiles - 1] : NULL;
}

static inline void rd_hdr(const uint8_t *p, struct dpc_pcap_rec_hdr *h)
{
	memcpy(h, p, sizeof(*h));
}

static inline uint64_t hdr_ts(const struct dpc_pcap_rec_hdr *h)
{
	return (uint64_t)h->ts_sec * NS_PER_SEC + h->ts_nsec;
}

/* ---- manifest ---------------------------------------------------------- */

static json_t *writer_manifest(const struct dpc_pcapfile *w)
{
	const struct dpc_pcapfile_stats *st = &w->st;
	const char *state;
	json_t *root, *files, *lim;
	size_t i;

	if (st->stop == DPC_PCAPFILE_STOP_NONE)
		state = "running";
	else if (st->stop == DPC_PCAPFILE_STOP_ERROR ||
		 st->stop == DPC_PCAPFILE_STOP_DISK_LOW)
		state = "failed";
	else
		state = "done";

	files = json_array();
	if (w->foreign)
		json_array_extend(files, w->foreign);
	for (i = 0; i < w->nfiles; i++)
		json_array_append_new(files, pf_file_to_json(&w->files[i]));

	lim = json_pack("{sI sI sI sI sI sI sb}",
			"max_packets", (json_int_t)w->lim.max_packets,
			"max_bytes", (json_int_t)w->lim.max_bytes,
			"max_duration_ns", (json_int_t)w->lim.max_duration_ns,
			"file_bytes", (json_int_t)w->lim.file_bytes,
			"file_seconds", (json_int_t)w->lim.file_seconds,
			"max_files", (json_int_t)w->lim.max_files,
			"ring", w->lim.ring);

	root = json_pack("{ss si ss ss ss? ss? si sI sI so"
			 " s{sI sI sI sI sI si si} sI sI so}",
			 "format", "dpcap-manifest",
			 "version", 1,
			 "prefix", w->prefix,
			 "state", state,
			 "stop_reason", st->stop == DPC_PCAPFILE_STOP_NONE ? NULL :
				 dpc_pcapfile_stop_name(st->stop),
			 "error", st->last_errno ? strerror(st->last_errno) : NULL,
			 "errno", st->last_errno,
			 "snaplen", (json_int_t)w->lim.snaplen,
			 "min_free_bytes", (json_int_t)w->min_free,
			 "limits", lim,
			 "totals",
			 "packets", (json_int_t)st->packets,
			 "bytes", (json_int_t)st->bytes,
			 "wire_bytes", (json_int_t)st->wire_bytes,
			 "refused", (json_int_t)st->refused,
			 "truncated", (json_int_t)st->truncated,
			 "files", (int)st->files,
			 "files_deleted", (int)st->files_deleted,
			 "first_ns", (json_int_t)st->first_ns,
			 "last_ns", (json_int_t)st->last_ns,
			 "files", files);
	if (root)
		json_object_set_new(root, "updated_ns", json_integer((json_int_t)pf_now_ns()));
	return root;
}

static int manifest_update(struct dpc_pcapfile *w)
{
	json_t *root = writer_manifest(w);
	int rc;

	if (!root)
		return -ENOMEM;
	w->manifest_refused = w->st.refused;
	rc = pf_manifest_store(w->dirfd, root, w->sync);
	json_decref(root);
	return rc;
}

/* ---- free space -------------------------------------------------------- */

static void budget_refresh(struct dpc_pcapfile *w)
{
	struct statvfs sv;
	uint64_t avail, pending, keep;

	if (!w->min_free)
		return;
	if (fstatvfs(w->dirfd, &sv) != 0) {
		w->budget = 0;
		return;
	}
	w->frsize = sv.f_frsize ? sv.f_frsize : 4096;
	avail = (uint64_t)sv.f_bavail * w->frsize;
	pending = w->buf_len + w->run_len;
	/* one block of slack: the file's last block is partly filled */
	keep = w->min_free + w->frsize + pending;
	w->budget = avail > keep ? avail - keep : 0;
}

/* Charge need bytes against the free-space budget; false: disk low. */
static bool budget_take(struct dpc_pcapfile *w, uint64_t need)
{
	if (!w->min_free)
		return true;
	if (need > w->budget) {
		budget_refresh(w);
		if (need > w->budget)
			return false;
	}
	w->budget -= need;
	return true;
}

/* ---- low-level writes -------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t len, size_t *done)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = dpc_pcapfile_write_hook(fd, p + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*done = off;
			return errno ? -errno : -EIO;
		}
		if (n == 0) {
			*done = off;
			return -ENOSPC;
		}
		off += (size_t)n;
	}
	*done = off;
	return 0;
}

/* Uncharge the records of p[0..len) (lost to a write error). */
static void uncharge(struct dpc_pcapfile *w, const uint8_t *p, size_t len)
{
	struct dpc_pcap_rec_hdr h;
	struct pf_file *f = cur_file(w);
	size_t off = 0;

	while (off + DPC_PCAP_REC_HDR_LEN <= len) {
		rd_hdr(p + off, &h);
		w->st.packets--;
		w->st.bytes -= DPC_PCAP_REC_HDR_LEN + (uint64_t)h.incl_len;
		w->st.wire_bytes -= h.orig_len;
		if (f) {
			f->packets--;
			f->bytes -= DPC_PCAP_REC_HDR_LEN + (uint64_t)h.incl_len;
		}
		off += DPC_PCAP_REC_HDR_LEN + (size_t)h.incl_len;
	}
}

/*
 * With syncing on, start the disk writeback of what was written every few
 * MiB (asynchronous), so the fsync at rotation does not stall the writer
 * thread for a whole file's worth of dirty pages.
 */
static void writeback_kick(struct dpc_pcapfile *w)
{
	if (!w->sync || w->cur_disk - w->wb_start < PF_WRITEBACK_STEP)
		return;
	(void)sync_file_range(w->fd, (off_t)w->wb_start, (off_t)(w->cur_disk - w->wb_start),
			      SYNC_FILE_RANGE_WRITE);
	w->wb_start = w->cur_disk;
}

/* Bytes that may still be written before the free-space floor. */
static uint64_t disk_room(struct dpc_pcapfile *w)
{
	struct statvfs sv;
	uint64_t avail, keep;

	if (fstatvfs(w->dirfd, &sv) != 0)
		return 0;
	w->frsize = sv.f_frsize ? sv.f_frsize : 4096;
	avail = (uint64_t)sv.f_bavail * w->frsize;
	keep = w->min_free + w->frsize;
	return avail > keep ? avail - keep : 0;
}

/* End of the last whole record of p[0..len) that ends at or before lim. */
static size_t whole_records(const uint8_t *p, size_t len, size_t lim,
			    uint64_t *n, uint64_t *last_ts)
{
	struct dpc_pcap_rec_hdr h;
	size_t off = 0, rl;

	while (off + DPC_PCAP_REC_HDR_LEN <= len) {
		rd_hdr(p + off, &h);
		rl = DPC_PCAP_REC_HDR_LEN + (size_t)h.incl_len;
		if (off + rl > lim)
			break;
		off += rl;
		(*n)++;
		*last_ts = hdr_ts(&h);
	}
	return off;
}

/*
 * Write len bytes of whole records (count records, the last stamped
 * last_ts) to the current file.
 * - Free-space floor: when another writer filled the disk since these
 *   records were admitted, only the whole records that fit are written,
 *   the rest is uncharged and disk_low is set (the caller stops).
 * - On error, the file is cut back to the last whole record written, the
 *   rest uncharged (with the pending run when the chunk is the buffer)
 *   and -errno returned.
 */
static int pf_write_chunk(struct dpc_pcapfile *w, const uint8_t *p, size_t len,
			  uint64_t count, uint64_t last_ts, bool is_buf)
{
	struct pf_file *f = cur_file(w);
	size_t done = 0, keep, lim = len;
	uint64_t kept = 0, kept_last = w->disk_last_ns;
	int rc;

	if (!len)
		return 0;
	if (w->min_free) {
		uint64_t room = disk_room(w);

		if (room < len) {
			lim = whole_records(p, len, (size_t)room, &kept, &kept_last);
			w->disk_low = true;
		}
	}
	rc = write_all(w->fd, p, lim, &done);
	if (rc == 0 && lim == len) {
		if (w->md)
			EVP_DigestUpdate(w->md, p, len);
		w->cur_disk += len;
		w->disk_packets += count;
		w->disk_last_ns = last_ts;
		writeback_kick(w);
		return 0;
	}
	if (rc == 0) {
		keep = lim;
	} else {
		/* the last whole record inside what reached the file */
		kept = 0;
		kept_last = w->disk_last_ns;
		keep = whole_records(p, len, done, &kept, &kept_last);
		if (keep != done && ftruncate(w->fd, (off_t)(w->cur_disk + keep)) != 0) {
			/* cannot cut back: the file ends torn; it stays
			 * .part so that recovery cuts it later */
			w->torn = true;
		}
	}
	if (w->md)
		EVP_DigestUpdate(w->md, p, keep);
	w->cur_disk += keep;
	w->disk_packets += kept;
	w->disk_last_ns = kept_last;
	uncharge(w, p + keep, len - keep);
	if (is_buf && w->run_len) {
		uncharge(w, w->run, w->run_len);
		w->run = NULL;
		w->run_len = 0;
		w->run_count = 0;
	}
	if (f) {
		f->bytes = w->cur_disk;
		f->packets = w->disk_packets;
		f->last_ns = w->disk_packets ? w->disk_last_ns : 0;
		if (!f->packets)
			f->first_ns = 0;
		w->st.last_ns = f->last_ns;
		if (w->st.packets == 0)
			w->st.first_ns = w->st.last_ns = 0;
	}
	w->cur_size = w->cur_disk;
	return rc;
}

static int flush_buf(struct dpc_pcapfile *w)
{
	int rc;

	if (!w->buf_len)
		return 0;
	rc = pf_write_chunk(w, w->buf, w->buf_len, w->buf_count, w->buf_last_ts, true);
	w->buf_len = 0;
	w->buf_count = 0;
	if (rc == 0)
		budget_refresh(w);
	return rc;
}

/* Move the pending run into the buffer (or straight to the file). */
static int commit_run(struct dpc_pcapfile *w)
{
	int rc;

	if (!w->run_len)
		return 0;
	if (w->run_len > w->buf_size - w->buf_len) {
		rc = flush_buf(w);
		if (rc)
			return rc;
	}
	if (w->run_len <= w->buf_size / 2 && w->run_len <= w->buf_size - w->buf_len) {
		memcpy(w->buf + w->buf_len, w->run, w->run_len);
		w->buf_len += w->run_len;
		w->buf_count += w->run_count;
		w->buf_last_ts = w->run_last_ts;
		rc = 0;
	} else {
		rc = pf_write_chunk(w, w->run, w->run_len, w->run_count,
				    w->run_last_ts, false);
	}
	w->run = NULL;
	w->run_len = 0;
	w->run_count = 0;
	return rc;
}

static int pf_flush(struct dpc_pcapfile *w)
{
	int rc = commit_run(w);

	if (rc)
		return rc;
	return flush_buf(w);
}

/* ---- files ------------------------------------------------------------- */

static int reserve_create(struct dpc_pcapfile *w)
{
	int fd, rc;

	fd = openat(w->dirfd, w->reserve_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = posix_fallocate(fd, 0, PF_RESERVE_SIZE);
	close(fd);
	if (rc) {
		unlinkat(w->dirfd, w->reserve_name, 0);
		return -rc;
	}
	w->have_reserve = true;
	return 0;
}

static void reserve_drop(struct dpc_pcapfile *w)
{
	if (w->have_reserve) {
		unlinkat(w->dirfd, w->reserve_name, 0);
		w->have_reserve = false;
	}
}

static void part_name(const struct pf_file *f, char *out, size_t n)
{
	snprintf(out, n, "%s%s", f->name, PF_PART_SUFFIX);
}

/* Flush, sync, close and rename the current file. */
static int file_finalize(struct dpc_pcapfile *w, const char *reason, const char *state)
{
	struct pf_file *f = cur_file(w);
	char part[PF_NAME_MAX + 8];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	int rc = 0;

	if (!f)
		return 0;
	f->bytes = w->cur_disk;
	if (w->sync && fsync(w->fd) != 0 && !rc)
		rc = -errno;
	if (close(w->fd) != 0 && !rc)
		rc = -errno;
	w->fd = -1;
	if (w->md) {
		EVP_DigestFinal_ex(w->md, md, &mdlen);
		for (i = 0; i < mdlen && i < 32; i++)
			snprintf(f->sha256 + 2 * i, 3, "%02x", md[i]);
	}
	part_name(f, part, sizeof(part));
	if (w->torn || renameat(w->dirfd, part, w->dirfd, f->name) != 0) {
		if (!rc)
			rc = w->torn ? -EIO : -errno;
		/* keep the .part listed as such: recovery will finish it */
		f->state = "writing";
		f->reason = reason;
		return rc;
	}
	if (w->sync)
		fsync(w->dirfd);
	f->state = state;
	f->reason = reason;
	return rc;
}

/* Ring mode: delete the oldest closed file of this writer. */
static int ring_delete_oldest(struct dpc_pcapfile *w)
{
	struct pf_file *f;

	if (!w->nfiles)
		return 0;
	f = &w->files[0];
	if (unlinkat(w->dirfd, f->name, 0) != 0 && errno != ENOENT)
		return -errno;
	memmove(&w->files[0], &w->files[1], (w->nfiles - 1) * sizeof(*f));
	w->nfiles--;
	w->st.files_deleted++;
	return 0;
}

static int file_open(struct dpc_pcapfile *w)
{
	uint32_t hdr[6];
	char part[PF_NAME_MAX + 8];
	struct pf_file *f;
	size_t done;
	int fd, rc;

	if (w->nfiles == w->cap) {
		size_t ncap = w->cap ? 2 * w->cap : 8;
		struct pf_file *nf = realloc(w->files, ncap * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		w->files = nf;
		w->cap = ncap;
	}
	f = &w->files[w->nfiles];
	memset(f, 0, sizeof(*f));
	f->index = w->next_index;
	if ((size_t)snprintf(f->name, sizeof(f->name), "%s-%05" PRIu32 ".pcap",
			     w->prefix, f->index) >= sizeof(f->name))
		return -ENAMETOOLONG;
	part_name(f, part, sizeof(part));
	fd = openat(w->dirfd, part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	hdr[0] = DPC_PCAP_MAGIC_NS;
	hdr[1] = 2u | (4u << 16);    /* version 2.4, host order like the magic */
	hdr[2] = 0;                  /* thiszone */
	hdr[3] = 0;                  /* sigfigs */
	hdr[4] = w->lim.snaplen;
	hdr[5] = DPC_PCAP_LINKTYPE_ETHERNET;
	rc = write_all(fd, (const uint8_t *)hdr, sizeof(hdr), &done);
	if (rc) {
		close(fd);
		unlinkat(w->dirfd, part, 0);
		return rc;
	}
	w->next_index++;
	w->nfiles++;
	w->fd = fd;
	w->cur_size = w->cur_disk = DPC_PCAP_FILE_HDR_LEN;
	w->wb_start = 0;
	w->disk_packets = 0;
	w->disk_last_ns = 0;
	f->bytes = DPC_PCAP_FILE_HDR_LEN;
	f->state = "writing";
	w->st.files++;
	w->st.bytes += DPC_PCAP_FILE_HDR_LEN;
	if (w->want_sha) {
		if (!w->md)
			w->md = EVP_MD_CTX_new();
		if (!w->md || !EVP_DigestInit_ex(w->md, EVP_sha256(), NULL))
			return -ENOMEM;
		EVP_DigestUpdate(w->md, hdr, sizeof(hdr));
	}
	return manifest_update(w);
}

/*
 * Stop the writer: finalize the current file, rewrite the manifest.
 * err != 0 for an error stop. Returns the first error met.
 */
static int pf_stop(struct dpc_pcapfile *w, enum dpc_pcapfile_stop why, int err)
{
	const char *state = "complete";
	int rc;

	if (w->st.stop != DPC_PCAPFILE_STOP_NONE)
		return 0;
	if (!err)
		err = pf_flush(w);
	if (err) {
		why = DPC_PCAPFILE_STOP_ERROR;
		/* make room for the manifest */
		reserve_drop(w);
		/* whatever is still pending will not reach the file */
		uncharge(w, w->buf, w->buf_len);
		uncharge(w, w->run, w->run_len);
		w->buf_len = 0;
		w->buf_count = 0;
		w->run = NULL;
		w->run_len = 0;
		w->run_count = 0;
		state = "truncated";
		w->first_err = err;
		w->st.last_errno = -err;
	} else if (why == DPC_PCAPFILE_STOP_DISK_LOW) {
		w->st.last_errno = ENOSPC;
	}
	w->st.stop = why;
	rc = file_finalize(w, dpc_pcapfile_stop_name(why), state);
	reserve_drop(w);
	if (rc && !w->first_err) {
		w->first_err = rc;
		w->st.last_errno = -rc;
		w->st.stop = DPC_PCAPFILE_STOP_ERROR;
	}
	rc = manifest_update(w);
	if (rc && !w->first_err) {
		w->first_err = rc;
		w->st.last_errno = -rc;
		w->st.stop = DPC_PCAPFILE_STOP_ERROR;
	}
	return w->first_err;
}

/* Return value for a refused record. */
static int refused(struct dpc_pcapfile *w)
{
	w->st.refused++;
	if (w->st.stop == DPC_PCAPFILE_STOP_ERROR)
		return w->first_err ? w->first_err : -EIO;
	return DPC_PCAPFILE_DONE;
}

static int stop_refuse(struct dpc_pcapfile *w, enum dpc_pcapfile_stop why)
{
	int rc = pf_stop(w, why, 0);

	if (rc < 0) {
		w->st.refused++;
		return rc;
	}
	return refused(w);
}

/* Rotate to a new file (reason: why the current one closes). */
static int rotate(struct dpc_pcapfile *w, const char *reason)
{
	int rc;

	if (w->fd >= 0) {
		rc = pf_flush(w);
		if (rc)
			return rc;
		rc = file_finalize(w, reason, "complete");
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Decide whether a record (ts, *incl) may be written; rotate/open files as
 * needed. On 0 the current file is open and the caller appends the record
 * (*incl possibly cut to the file size).
 */
static int admit(struct dpc_pcapfile *w, uint64_t ts, uint32_t *incl)
{
	uint64_t rec, need_new, fb = w->lim.file_bytes;
	bool new_file;
	int rc;

	if (w->st.stop != DPC_PCAPFILE_STOP_NONE)
		return refused(w);
	if (w->disk_low)
		return stop_refuse(w, DPC_PCAPFILE_STOP_DISK_LOW);
	if (!w->have_origin) {
		w->origin_ns = w->start_ns ? w->start_ns : ts;
		w->have_origin = true;
	}
	if (w->lim.max_duration_ns && ts >= w->origin_ns &&
	    ts - w->origin_ns >= w->lim.max_duration_ns)
		return stop_refuse(w, DPC_PCAPFILE_STOP_DURATION);
	if (w->lim.max_packets && w->st.packets >= w->lim.max_packets)
		return stop_refuse(w, DPC_PCAPFILE_STOP_PACKETS);

	if (*incl > w->lim.snaplen) {
		*incl = w->lim.snaplen;
		w->st.truncated++;
	}
	/* a record larger than a whole file is cut to fill one file */
	if (fb && DPC_PCAP_FILE_HDR_LEN + DPC_PCAP_REC_HDR_LEN + (uint64_t)*incl > fb) {
		*incl = (uint32_t)(fb - DPC_PCAP_FILE_HDR_LEN - DPC_PCAP_REC_HDR_LEN);
		w->st.truncated++;
	}
	rec = DPC_PCAP_REC_HDR_LEN + (uint64_t)*incl;

	new_file = w->fd < 0;
	if (!new_file) {
		struct pf_file *f = cur_file(w);
		const char *why = NULL;

		if (fb && w->cur_size + rec > fb)
			why = "file size";
		else if (w->lim.file_seconds && f->packets &&
			 ts >= f->first_ns &&
			 ts - f->first_ns >= w->lim.file_seconds * NS_PER_SEC)
			why = "file time";
		if (why) {
			/* the next file must be allowed before this one closes */
			if (w->lim.max_files && !w->lim.ring &&
			    w->st.files >= w->lim.max_files)
				return stop_refuse(w, DPC_PCAPFILE_STOP_FILES);
			rc = rotate(w, why);
			if (rc)
				goto fail;
			new_file = true;
		}
	} else if (w->lim.max_files && !w->lim.ring && w->st.files >= w->lim.max_files) {
		return stop_refuse(w, DPC_PCAPFILE_STOP_FILES);
	}
	need_new = new_file ? DPC_PCAP_FILE_HDR_LEN : 0;
	if (w->lim.max_bytes && w->st.bytes + need_new + rec > w->lim.max_bytes)
		return stop_refuse(w, DPC_PCAPFILE_STOP_BYTES);
	if (!budget_take(w, need_new + rec))
		return stop_refuse(w, DPC_PCAPFILE_STOP_DISK_LOW);
	if (new_file) {
		if (w->lim.max_files && w->lim.ring) {
			while (w->nfiles >= w->lim.max_files) {
				rc = ring_delete_oldest(w);
				if (rc)
					goto fail;
			}
		}
		rc = file_open(w);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	w->st.refused++;
	pf_stop(w, DPC_PCAPFILE_STOP_ERROR, rc);
	return rc;
}

/* Charge an admitted record to the counters. */
static inline void charge(struct dpc_pcapfile *w, uint64_t ts, uint32_t incl, uint32_t orig)
{
	struct pf_file *f = &w->files[w->nfiles - 1];
	uint64_t rec = DPC_PCAP_REC_HDR_LEN + (uint64_t)incl;

	w->cur_size += rec;
	if (!f->packets)
		f->first_ns = ts;
	f->packets++;
	f->bytes += rec;
	f->last_ns = ts;
	if (!w->st.packets)
		w->st.first_ns = ts;
	w->st.packets++;
	w->st.bytes += rec;
	w->st.wire_bytes += orig;
	w->st.last_ns = ts;
}

/* After a record: the packet bound stops the writer at once. */
static inline int after_record(struct dpc_pcapfile *w)
{
	if (w->lim.max_packets && w->st.packets >= w->lim.max_packets) {
		int rc = pf_stop(w, DPC_PCAPFILE_STOP_PACKETS, 0);

		return rc < 0 ? rc : 0;
	}
	return 0;
}

/* Append one (possibly rewritten) record to the buffer. */
static int append_rec(struct dpc_pcapfile *w, uint64_t ts, const void *data,
		      uint32_t incl, uint32_t orig)
{
	struct dpc_pcap_rec_hdr h;
	size_t rec = DPC_PCAP_REC_HDR_LEN + (size_t)incl;
	int rc;

	rc = commit_run(w);
	if (rc)
		return rc;
	if (rec > w->buf_size - w->buf_len) {
		rc = flush_buf(w);
		if (rc)
			return rc;
	}
	h.ts_sec = (uint32_t)(ts / NS_PER_SEC);
	h.ts_nsec = (uint32_t)(ts % NS_PER_SEC);
	h.incl_len = incl;
	h.orig_len = orig;
	memcpy(w->buf + w->buf_len, &h, sizeof(h));
	if (incl)
		memcpy(w->buf + w->buf_len + sizeof(h), data, incl);
	w->buf_len += rec;
	w->buf_count++;
	w->buf_last_ts = ts;
	charge(w, ts, incl, orig);
	return 0;
}

/* ---- public API -------------------------------------------------------- */

static uint32_t scan_next_index(int dirfd, const char *prefix)
{
	size_t plen = strlen(prefix);
	uint32_t max = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = dup(dirfd);
	if (fd < 0)
		return 1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		char *end;
		unsigned long v;

		if (strncmp(n, prefix, plen) != 0 || n[plen] != '-')
			continue;
		v = strtoul(n + plen + 1, &end, 10);
		if (end == n + plen + 1 || strncmp(end, ".pcap", 5) != 0)
			continue;
		if (v > max && v < UINT32_MAX)
			max = (uint32_t)v;
	}
	closedir(d);
	return max + 1;
}

static bool prefix_ok(const char *p)
{
	size_t n = strlen(p);

	if (!n || n > 200 || p[0] == '.')
		return false;
	for (; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			return false;
	return true;
}

struct dpc_pcapfile *dpc_pcapfile_open(const struct dpc_pcapfile_opts *opts)
{
	struct dpc_pcapfile *w = NULL;
	const struct dpc_pcapfile_limits *l;
	json_t *old;
	int err = EINVAL;

	if (!opts || !opts->dir || !opts->prefix || !prefix_ok(opts->prefix))
		goto fail;
	l = &opts->limits;
	if (l->snaplen > DPC_PCAP_SNAPLEN_MAX)
		goto fail;
	if (l->file_bytes && l->file_bytes < DPC_PCAP_FILE_HDR_LEN + DPC_PCAP_REC_HDR_LEN + 1)
		goto fail;
	if (l->ring && !l->max_files)
		goto fail;
	if (l->file_seconds > UINT64_MAX / NS_PER_SEC)
		goto fail;
	err = ENOMEM;
	w = calloc(1, sizeof(*w));
	if (!w)
		goto fail;
	w->fd = -1;
	w->dirfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0) {
		err = errno;
		goto fail;
	}
	w->prefix = strdup(opts->prefix);
	if (!w->prefix)
		goto fail;
	snprintf(w->reserve_name, sizeof(w->reserve_name), ".%s.reserve", w->prefix);
	w->lim = *l;
	if (!w->lim.snaplen)
		w->lim.snaplen = DPC_PCAP_SNAPLEN_MAX;
	w->start_ns = opts->start_ns;
	w->min_free = opts->min_free_bytes;
	w->sync = !opts->no_sync;
	w->want_sha = opts->sha256;
	w->buf_size = opts->buf_size ? opts->buf_size : PF_DEFAULT_BUF;
	if (w->buf_size < PF_MIN_BUF)
		w->buf_size = PF_MIN_BUF;
	w->buf = malloc(w->buf_size);
	if (!w->buf)
		goto fail;
	/* keep what an earlier writer listed in this directory */
	old = pf_manifest_load(w->dirfd);
	if (old) {
		json_t *files = json_object_get(old, "files");

		if (json_is_array(files))
			w->foreign = json_deep_copy(files);
		json_decref(old);
	}
	w->next_index = scan_next_index(w->dirfd, w->prefix);
	/* room for the final manifest even when the disk fills up */
	if (reserve_create(w) != 0)
		w->have_reserve = false;
	budget_refresh(w);
	return w;
fail:
	if (w) {
		if (w->dirfd >= 0)
			close(w->dirfd);
		json_decref(w->foreign);
		free(w->prefix);
		free(w->buf);
		free(w);
	}
	errno = err;
	return NULL;
}

int dpc_pcapfile_write(struct dpc_pcapfile *w, uint64_t ts_ns,
		       const void *data, uint32_t caplen, uint32_t wirelen)
{
	uint32_t incl = caplen;
	int rc;

	if (!w || (!data && caplen))
		return -EINVAL;
	rc = admit(w, ts_ns, &incl);
	if (rc)
		return rc;
	rc = append_rec(w, ts_ns, data, incl, wirelen < caplen ? caplen : wirelen);
	if (rc) {
		pf_stop(w, DPC_PCAPFILE_STOP_ERROR, rc);
		return rc;
	}
	return after_record(w);
}

int dpc_pcapfile_write_block(struct dpc_pcapfile *w, const void *buf,
			     size_t len, uint32_t *consumed)
{
	const uint8_t *p = buf;
	struct dpc_pcap_rec_hdr h;
	uint32_t n = 0;
	uint64_t before;
	size_t off, pf;
	int rc = 0;

	if (consumed)
		*consumed = 0;
	if (!w || (!buf && len))
		return -EINVAL;
	before = w->st.packets;
	/*
	 * Validate the whole block before writing any of it. Each header's
	 * place depends on the one before, so a cold block would cost one
	 * serial cache miss per record: stream the block in ahead of the walk
	 * (the copy that follows reads the same lines).
	 */
	for (off = 0, pf = 0; off < len; off += DPC_PCAP_REC_HDR_LEN + (size_t)h.incl_len) {
		for (; pf < len && pf < off + PF_PREFETCH_AHEAD; pf += 64)
			__builtin_prefetch(p + pf);
		if (len - off < DPC_PCAP_REC_HDR_LEN)
			return -EINVAL;
		rd_hdr(p + off, &h);
		if (h.incl_len > len - off - DPC_PCAP_REC_HDR_LEN || h.ts_nsec >= NS_PER_SEC)
			return -EINVAL;
	}
	for (off = 0; off < len;) {
		uint64_t ts;
		uint32_t incl, orig;
		size_t rl;

		rd_hdr(p + off, &h);
		ts = hdr_ts(&h);
		incl = h.incl_len;
		orig = h.orig_len < incl ? incl : h.orig_len;
		rl = DPC_PCAP_REC_HDR_LEN + (size_t)incl;
		rc = admit(w, ts, &incl);
		if (rc)
			break;
		if (incl == h.incl_len && orig == h.orig_len) {
			/* verbatim: extend (or start) the run */
			if (w->run_len && w->run + w->run_len != p + off) {
				rc = commit_run(w);
				if (rc)
					break;
			}
			if (!w->run_len)
				w->run = p + off;
			w->run_len += rl;
			w->run_count++;
			w->run_last_ts = ts;
			charge(w, ts, incl, orig);
		} else {
			rc = append_rec(w, ts, p + off + DPC_PCAP_REC_HDR_LEN, incl, orig);
			if (rc)
				break;
		}
		n++;
		off += rl;
		rc = after_record(w);
		if (rc || w->st.stop != DPC_PCAPFILE_STOP_NONE)
			break;
	}
	/* the run points into the caller's block: never keep it past return */
	if (rc >= 0 && w->run_len) {
		int rc2 = commit_run(w);

		if (rc2)
			rc = rc2;
	}
	if (rc < 0 && w->st.stop == DPC_PCAPFILE_STOP_NONE)
		pf_stop(w, DPC_PCAPFILE_STOP_ERROR, rc);
	if (rc == 0 && w->disk_low && w->st.stop == DPC_PCAPFILE_STOP_NONE) {
		rc = pf_stop(w, DPC_PCAPFILE_STOP_DISK_LOW, 0);
		if (rc == 0)
			rc = DPC_PCAPFILE_DONE;
	}
	if (consumed) {
		/* records lost to a write error or cut at the free-space
		 * floor are not "consumed" */
		if (w->st.packets < before + n)
			n = w->st.packets > before ? (uint32_t)(w->st.packets - before) : 0;
		*consumed = n;
	}
	if (rc == 0 && w->st.stop != DPC_PCAPFILE_STOP_NONE && off < len)
		rc = DPC_PCAPFILE_DONE;
	return rc;
}

int dpc_pcapfile_flush(struct dpc_pcapfile *w)
{
	int rc;

	if (!w)
		return -EINVAL;
	if (w->st.stop != DPC_PCAPFILE_STOP_NONE)
		return w->st.stop == DPC_PCAPFILE_STOP_ERROR ? w->first_err : 0;
	rc = pf_flush(w);
	if (rc)
		pf_stop(w, DPC_PCAPFILE_STOP_ERROR, rc);
	else if (w->disk_low)
		rc = pf_stop(w, DPC_PCAPFILE_STOP_DISK_LOW, 0);
	return rc;
}

int dpc_pcapfile_tick(struct dpc_pcapfile *w, uint64_t now_ns)
{
	struct pf_file *f;
	int rc;

	if (!w)
		return -EINVAL;
	if (w->st.stop != DPC_PCAPFILE_STOP_NONE)
		return w->st.stop == DPC_PCAPFILE_STOP_ERROR ? w->first_err : DPC_PCAPFILE_DONE;
	if (w->disk_low) {
		rc = pf_stop(w, DPC_PCAPFILE_STOP_DISK_LOW, 0);
		return rc < 0 ? rc : DPC_PCAPFILE_DONE;
	}
	if (!w->have_origin && w->start_ns) {
		w->origin_ns = w->start_ns;
		w->have_origin = true;
	}
	if (w->lim.max_duration_ns && w->have_origin && now_ns >= w->origin_ns &&
	    now_ns - w->origin_ns >= w->lim.max_duration_ns) {
		rc = pf_stop(w, DPC_PCAPFILE_STOP_DURATION, 0);
		return rc < 0 ? rc : DPC_PCAPFILE_DONE;
	}
	f = cur_file(w);
	if (f && w->lim.file_seconds && f->packets && now_ns >= f->first_ns &&
	    now_ns - f->first_ns >= w->lim.file_seconds * NS_PER_SEC) {
		rc = rotate(w, "file time");
		if (rc == 0)
			rc = manifest_update(w);
		if (rc) {
			pf_stop(w, DPC_PCAPFILE_STOP_ERROR, rc);
			return rc;
		}
	}
	return 0;
}

void dpc_pcapfile_get_stats(const struct dpc_pcapfile *w, struct dpc_pcapfile_stats *st)
{
	if (!st)
		return;
	if (!w) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = w->st;
}

int dpc_pcapfile_close(struct dpc_pcapfile *w, struct dpc_pcapfile_stats *st)
{
	int rc;

	if (!w)
		return 0;
	if (w->st.stop == DPC_PCAPFILE_STOP_NONE) {
		/* leave at least one valid (possibly empty) file */
		if (w->st.files == 0) {
			int orc = file_open(w);

			if (orc) {
				pf_stop(w, DPC_PCAPFILE_STOP_ERROR, orc);
				goto out;
			}
		}
		pf_stop(w, DPC_PCAPFILE_STOP_CLOSED, 0);
	} else if (w->st.refused != w->manifest_refused) {
		/* records refused after the stop: best effort, the manifest
		 * on disk is complete without them */
		manifest_update(w);
	}
out:
	reserve_drop(w);
	rc = w->first_err;
	if (st)
		*st = w->st;
	if (w->fd >= 0)
		close(w->fd);
	EVP_MD_CTX_free(w->md);
	json_decref(w->foreign);
	close(w->dirfd);
	free(w->files);
	free(w->prefix);
	free(w->buf);
	free(w);
	return rc;
}
