/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_writer.c - writer threads: drain the worker rings, append blocks to
 * the job's pcapfile writer, flush periodically, close jobs on request.
 *
 * Each job belongs to one writer (job->writer), so its records are written
 * by one thread in ring order and dpc_pcapfile enforces the bounds exactly.
 * Control -> writer messages (ring dp_writer.ctl) carry a job pointer with
 * the message type in its low bit: OPEN (start flushing it periodically)
 * and CLOSE (sent after the job left the worker snapshot and every worker
 * flushed its blocks: drain every ring once more, then close the files).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "dp_internal.h"

uint64_t dp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static enum dpc_job_reason reason_of_stop(enum dpc_pcapfile_stop s)
{
	switch (s) {
	case DPC_PCAPFILE_STOP_PACKETS:  return DPC_JOB_REASON_PACKETS;
	case DPC_PCAPFILE_STOP_BYTES:    return DPC_JOB_REASON_BYTES;
	case DPC_PCAPFILE_STOP_DURATION: return DPC_JOB_REASON_DURATION;
	case DPC_PCAPFILE_STOP_FILES:    return DPC_JOB_REASON_FILES;
	case DPC_PCAPFILE_STOP_DISK_LOW: return DPC_JOB_REASON_DISK_LOW;
	default:                         return DPC_JOB_REASON_DISK_ERROR;
	}
}

/* The drop reason of records pcapfile refused after it stopped for s. */
enum dpc_drop dp_drop_of_stop(enum dpc_pcapfile_stop s)
{
	switch (s) {
	case DPC_PCAPFILE_STOP_PACKETS:
	case DPC_PCAPFILE_STOP_BYTES:
	case DPC_PCAPFILE_STOP_DURATION:
	case DPC_PCAPFILE_STOP_FILES:
		return DPC_DROP_LIMIT;
	case DPC_PCAPFILE_STOP_DISK_LOW:
		return DPC_DROP_DISK_LOW;
	case DPC_PCAPFILE_STOP_CLOSED:
		return DPC_DROP_JOB_ENDED;
	default:
		return DPC_DROP_DISK_ERROR;
	}
}

/*
 * job->wr is written by the job's writer thread only, inside wr_seq
 * odd/even (a few stores; the pcapfile calls happen outside), and read by
 * the control thread with dp_job_wr_read(), which retries while a write is
 * in progress: a reader never sees pcapfile's counters half updated.
 */
static void wr_begin(struct dp_job *job)
{
	uint32_t s = atomic_load_explicit(&job->wr_seq, memory_order_relaxed);

	atomic_store_explicit(&job->wr_seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void wr_end(struct dp_job *job)
{
	uint32_t s = atomic_load_explicit(&job->wr_seq, memory_order_relaxed);

	atomic_store_explicit(&job->wr_seq, s + 1, memory_order_release);
}

void dp_job_wr_read(const struct dp_job *job, struct dp_wr_ctr *out)
{
	unsigned tries = 0;

	for (;;) {
		uint32_t s0 = atomic_load_explicit(&job->wr_seq, memory_order_acquire);

		if (!(s0 & 1)) {
			memcpy(out, &job->wr, sizeof(*out));
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&job->wr_seq, memory_order_relaxed) == s0)
				return;
		}
		if (++tries % 64 == 0)
			sched_yield();
		else
			rte_pause();
	}
}

/* Records pcapfile was offered, whatever became of them. */
static uint64_t pst_offered(const struct dpc_pcapfile_stats *st)
{
	return st->packets + st->dropped_disk_error + st->dropped_disk_low + st->refused;
}

/* Take pcapfile's counters (the writer thread's own job->pf). */
static void wr_take_stats(struct dp_job *job, const struct dpc_pcapfile_stats *st)
{
	wr_begin(job);
	job->wr.pst = *st;
	wr_end(job);
}

/* The writer asks the control thread to end the job: pcapfile stopped. */
static void wr_stopped(struct dp_job *job)
{
	int expect = DPC_JOB_REASON_NONE;

	atomic_store_explicit(&job->stop_drop, (int)dp_drop_of_stop(job->wr.pst.stop),
			      memory_order_relaxed);
	atomic_compare_exchange_strong(&job->end_reason, &expect,
				       (int)reason_of_stop(job->wr.pst.stop));
}

static void process_block(struct dp_writer *wr, struct dp_block *b)
{
	struct dp_job *job = b->job;
	struct dpc_pcapfile_stats st;
	uint64_t taken;
	int rc;

	if (!job->pf || atomic_load_explicit(&job->closed, memory_order_relaxed)) {
		wr_begin(job);
		job->wr.dropped[DPC_DROP_JOB_ENDED] += b->n_rec;
		wr_end(job);
		goto out;
	}
	rc = dpc_pcapfile_write_block(job->pf, b->data, b->len, NULL);
	dpc_pcapfile_get_stats(job->pf, &st);
	/* pcapfile counts every record it was offered under its outcome
	 * (written, dropped_disk_error, dropped_disk_low, refused); only a
	 * malformed block (-EINVAL, cannot happen unless staging is broken)
	 * is not offered at all */
	taken = pst_offered(&st) - pst_offered(&job->wr.pst);
	wr_begin(job);
	job->wr.pst = st;
	if (taken < b->n_rec)
		job->wr.dropped[DPC_DROP_INVALID] += b->n_rec - taken;
	wr_end(job);
	if (rc != 0 && st.stop != DPC_PCAPFILE_STOP_NONE) {
		wr_stopped(job);
	} else if (job->spec.limits.packets && st.packets >= job->spec.limits.packets) {
		/* the exact count is in: the job is complete without waiting
		 * for one more packet to be refused */
		int expect = DPC_JOB_REASON_NONE;

		atomic_store_explicit(&job->stop_drop, DPC_DROP_LIMIT, memory_order_relaxed);
		atomic_compare_exchange_strong(&job->end_reason, &expect,
					       DPC_JOB_REASON_PACKETS);
	}
out:
	wr->records += b->n_rec;
	wr->blocks++;
	rte_mempool_put(wr->dp->block_pool, b);
}

static unsigned drain(struct dp_writer *wr)
{
	struct dpc_dp *dp = wr->dp;
	void *objs[32];
	unsigned i, k, n, total = 0;

	for (i = 0; i < dp->n_workers; i++) {
		struct rte_ring *r = dp->workers[i]->rings[wr->id];

		do {
			n = rte_ring_sc_dequeue_burst(r, objs, 32, NULL);
			for (k = 0; k < n; k++)
				process_block(wr, objs[k]);
			total += n;
		} while (n == 32);
	}
	return total;
}

static void close_job(struct dp_writer *wr, struct dp_job *job)
{
	unsigned i;

	/* every block staged for this job is in the rings by now */
	while (drain(wr))
		;
	if (job->pf) {
		struct dpc_pcapfile_stats st;

		job->close_rc = dpc_pcapfile_close(job->pf, &st);
		job->pf = NULL;
		wr_take_stats(job, &st);
	}
	for (i = 0; i < wr->n_open; i++)
		if (wr->open[i] == job) {
			wr->open[i] = wr->open[--wr->n_open];
			break;
		}
	atomic_store_explicit(&job->closed, 1, memory_order_release);
}

static void flush_open(struct dp_writer *wr)
{
	unsigned i;

	for (i = 0; i < wr->n_open; i++) {
		struct dp_job *job = wr->open[i];
		int rc;

		if (!job->pf || job->wr.pst.stop != DPC_PCAPFILE_STOP_NONE)
			continue;
		struct dpc_pcapfile_stats st;

		rc = dpc_pcapfile_flush(job->pf);
		dpc_pcapfile_get_stats(job->pf, &st);
		wr_take_stats(job, &st);
		if (rc != 0 && st.stop != DPC_PCAPFILE_STOP_NONE)
			wr_stopped(job);
	}
}

void *dp_writer_main(void *arg)
{
	struct dp_writer *wr = arg;
	struct dpc_dp *dp = wr->dp;
	uint64_t last_flush = dp_now_ns();
	const uint64_t flush_ns = (uint64_t)dp->cfg.flush_ms * 1000000ull / 2;

	for (;;) {
		void *msg;
		unsigned did = drain(wr);

		while (rte_ring_sc_dequeue(wr->ctl, &msg) == 0) {
			uintptr_t v = (uintptr_t)msg;
			struct dp_job *job = (struct dp_job *)(v & ~(uintptr_t)1);

			if ((v & 1) == DP_MSG_CLOSE)
				close_job(wr, job);
			else if (wr->n_open < RTE_DIM(wr->open))
				wr->open[wr->n_open++] = job;
			did++;
		}
		if (dp_now_ns() - last_flush >= flush_ns) {
			flush_open(wr);
			last_flush = dp_now_ns();
		}
		if (!did) {
			struct timespec sl = { 0, 200000 };

			if (atomic_load_explicit(&dp->stop_writers, memory_order_acquire))
				break;
			nanosleep(&sl, NULL);
		} else {
			wr->busy_loops++;
		}
	}
	return NULL;
}
