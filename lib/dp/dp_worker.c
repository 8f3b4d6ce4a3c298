/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_worker.c - the poll loop of one rx queue.
 *
 * rx_burst -> pass 1 over the burst: settle the packets no job wants
 * (the screen, inline for host-job sets), unparsed -> pass 2 over the
 * rest: parse -> classify against the current job-set snapshot -> copy
 * each wanted packet as a pcap record into the (worker, job) staging
 * block -> full or aged blocks to the job's writer ring. The mbufs are
 * freed at the end of every burst. No syscall, lock, allocation or log in
 * the loop (rte_mempool_get of a block is a per-lcore cache or lock-free stack
 * operation). The optional idle sleep (worker_idle_sleep_us, default off)
 * is the only exception and happens only when the queue is empty.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>

#include "dp_internal.h"
#include "dpc_screen.h"
#include "dpc_screen_x8.h"
#include "dp_bpf.h"

#define BURST_MAX 64

/*
 * Whether an mbuf is not plain: more than one segment, refcount other than
 * 1, indirect or external, or not of our pool. 0 for a plain one. The
 * refcount and segment count are adjacent 16-bit fields, read as one.
 */
_Static_assert(offsetof(struct rte_mbuf, nb_segs) ==
	       offsetof(struct rte_mbuf, refcnt) + 2, "rte_mbuf layout");
static inline uint64_t mbuf_odd(const struct rte_mbuf *m, const struct rte_mempool *mp)
{
	uint32_t rs;

	memcpy(&rs, (const uint8_t *)m + offsetof(struct rte_mbuf, refcnt), 4);
	return ((uintptr_t)m->pool ^ (uintptr_t)mp) | (uintptr_t)m->next |
	       (m->ol_flags & (RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL)) |
	       (rs ^ (1u | 1u << 16));
}

/* rx_burst's copies have just swept the L1: bring the 2 KiB Bloom filter
 * back in one go (32 lines, one prefetch a packet) rather than wait on an
 * L2 load at each probe. */
static inline void bloom_prefetch(const uint64_t *bloom)
{
	for (unsigned k = 0; k < DPC_SCREEN_BLOOM_BYTES; k += RTE_CACHE_LINE_SIZE)
		rte_prefetch0((const uint8_t *)bloom + k);
}

/* Whether the inline screen settles a plain mbuf's frame as unwanted. */
static inline __attribute__((always_inline)) bool
screen_one(const uint64_t *bloom, const struct dpc_parse_opts *popts,
	   const struct rte_mbuf *m)
{
	return dpc_screen_v4(bloom, popts, rte_pktmbuf_mtod(m, const uint8_t *),
			     m->data_len, m->pkt_len) == DPC_SCREEN_UNWANTED;
}

/*
 * Pass 1 of a burst, for a job set of innermost-IPv4 host jobs (bloom,
 * from dpc_classifier_screen_v4()), in a function of its own so that its
 * registers are its own: the frames the inline screen (dpc_screen.h) finds
 * unwanted are settled here and only counted (*bytes); the others are
 * listed in slow[] for pass 2. *odd is 0 when every mbuf is plain (see
 * free_burst). pkts[n] must be readable (the prefetch reads one ahead).
 * Returns the count of slow[].
 */
static __attribute__((noinline)) unsigned
screen_burst_v4(struct rte_mbuf *const *pkts, uint16_t n, const struct rte_mempool *mp,
		const uint64_t *bloom, const struct dpc_parse_opts *popts,
		uint8_t *slow, uint64_t *bytes, uint64_t *odd)
{
	uint64_t scr_bytes = 0, o = 0;
	unsigned ns = 0;

	bloom_prefetch(bloom);
	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = pkts[i];
		uint64_t mo = mbuf_odd(m, mp);

		rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		o |= mo;
		if (likely(mo == 0) && screen_one(bloom, popts, m)) {
			scr_bytes += m->pkt_len;
			continue;
		}
		slow[ns++] = (uint8_t)i;
	}
	*bytes = scr_bytes;
	*odd = o;
	return ns;
}

#ifdef DPC_SCREEN_X8
/* The mbuf fields pass 1 reads as 8-byte lanes */
_Static_assert(offsetof(struct rte_mbuf, refcnt) == offsetof(struct rte_mbuf, data_off) + 2 &&
	       offsetof(struct rte_mbuf, nb_segs) == offsetof(struct rte_mbuf, data_off) + 4,
	       "rte_mbuf: data_off, refcnt, nb_segs not adjacent");
_Static_assert(offsetof(struct rte_mbuf, data_len) == offsetof(struct rte_mbuf, pkt_len) + 4,
	       "rte_mbuf: pkt_len, data_len not adjacent");

/*
 * screen_burst_v4() eight mbufs at a time (dpc_screen_x8.h), for CPUs
 * with AVX-512: the plain-mbuf test of mbuf_odd(), the frame's address
 * and lengths, and the common case of the screen are lane operations;
 * the frames it does not settle go through dpc_screen_v4() one by one,
 * so the outcome (slow[], *bytes, *odd) is screen_burst_v4()'s.
 */
static __attribute__((noinline)) DPC_SCREEN_X8_TARGET unsigned
screen_burst_x8(struct rte_mbuf *const *pkts, uint16_t n, const struct rte_mempool *mp,
		const uint64_t *bloom, const struct dpc_parse_opts *popts,
		uint8_t *slow, uint64_t *bytes, uint64_t *odd)
{
	const __m512i lo32 = _mm512_set1_epi64(0xffffffff);
	__m512i acc = _mm512_setzero_si512();
	uint64_t scr_bytes = 0, o = 0;
	unsigned ns = 0;

	bloom_prefetch(bloom);
	for (unsigned i = 0; i < n; i += 8) {
		__mmask8 v = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
		__m512i mb = _mm512_maskz_loadu_epi64(v, pkts + i);
		__m512i addr = dpc_screen_x8_at(mb, offsetof(struct rte_mbuf, buf_addr), v);
		__m512i rearm = dpc_screen_x8_at(mb, offsetof(struct rte_mbuf, data_off), v);
		__m512i lens = dpc_screen_x8_at(mb, offsetof(struct rte_mbuf, pkt_len), v);
		__m512i wl = _mm512_and_si512(lens, lo32);
		__m512i cap = _mm512_and_si512(_mm512_srli_epi64(lens, 32),
					       _mm512_set1_epi64(0xffff));
		__mmask8 plain, un, rest;

		/* mbuf_odd() == 0: refcnt 1, one segment, direct, our pool,
		 * no next (four independent gathers, one mask at the end) */
		__m512i flags = dpc_screen_x8_at(mb, offsetof(struct rte_mbuf, ol_flags), v);
		__m512i pool = dpc_screen_x8_at(mb, offsetof(struct rte_mbuf, pool), v);
		__m512i next = dpc_screen_x8_at(mb, offsetof(struct rte_mbuf, next), v);

		plain = _mm512_mask_cmpeq_epi64_mask(
			v, _mm512_and_si512(_mm512_srli_epi64(rearm, 16), lo32),
			_mm512_set1_epi64(1 | 1 << 16));
		plain &= _mm512_testn_epi64_mask(
			flags, _mm512_set1_epi64((long long)(RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL)));
		plain &= _mm512_cmpeq_epi64_mask(pool, _mm512_set1_epi64((long long)(uintptr_t)mp));
		plain &= _mm512_testn_epi64_mask(next, next);
		o |= (uint8_t)(v & ~plain);
		/* every lane of v is read (cap bytes of any mbuf's data are
		 * readable), the answer kept for plain ones */
		un = plain & dpc_screen_v4_x8(bloom, popts,
					      _mm512_add_epi64(addr, _mm512_and_si512(rearm,
							      _mm512_set1_epi64(0xffff))),
					      cap, _mm512_max_epu64(wl, cap), v);
		acc = _mm512_mask_add_epi64(acc, un, acc, wl);
		for (rest = v & (__mmask8)~un; rest; rest &= (__mmask8)(rest - 1)) {
			unsigned l = (unsigned)__builtin_ctz(rest);
			const struct rte_mbuf *m = pkts[i + l];

			if (((plain >> l) & 1) && screen_one(bloom, popts, m)) {
				scr_bytes += m->pkt_len;
				continue;
			}
			slow[ns++] = (uint8_t)(i + l);
		}
	}
	*bytes = scr_bytes + (uint64_t)_mm512_reduce_add_epi64(acc);
	*odd = o;
	return ns;
}
#endif

/*
 * Free a received burst. Received mbufs are nearly always plain (odd ==
 * 0, from mbuf_odd): one segment, refcount 1, a direct buffer of our own
 * pool, nothing to reset; such a burst goes back with one
 * rte_mempool_put_bulk, skipping the per-mbuf prefree work of
 * rte_pktmbuf_free_bulk (~40 instructions per packet here, the PMDs'
 * "fast free" idea on the rx side). Anything else takes
 * rte_pktmbuf_free_bulk for the whole burst.
 */
static inline void free_burst(struct rte_mempool *mp, struct rte_mbuf **pkts,
			      uint16_t n, uint64_t odd)
{
	if (likely(odd == 0))
		rte_mempool_put_bulk(mp, (void **)pkts, n);
	else
		rte_pktmbuf_free_bulk(pkts, n);
}

/* Give a packet reservation back (its record never reached the ring). */
static inline void unreserve(const struct dp_jobset *set, unsigned j,
			     struct dp_job *job, uint64_t n)
{
	if (set->limited & (1ull << j))
		atomic_fetch_sub_explicit(&job->reserved, n, memory_order_relaxed);
}

/*
 * Publishing counters. The worker updates its live counters (w->c and
 * job->wc[w->id]) as it goes, so they are mid-way through a packet most
 * of the time. Other threads read only the published copies (w->pub,
 * job->wpub[w->id]), which the worker refreshes at points where
 * everything balances (between packets), inside a seqcount: w->seq is
 * odd while it copies, and a reader retries while the seq is odd or
 * changed during its copy (dp_main.c worker_read). That costs the loop two
 * plain stores and compiler barriers (x86: release/acquire fences emit no
 * instruction) plus the copy, no lock and no atomic read-modify-write.
 * Publishing happens at the end of a burst, at most every DP_PUBLISH_US
 * while packets keep coming (so a reader's copy fits between two), at
 * once when the queue is empty, at a job-set change, and always before a
 * block is handed to a writer: a record the writer has counted as written
 * is then always already counted as matched in what a reader sees, so a
 * job's in_flight (matched - written - dropped) is never negative when
 * the writer's counters are read first.
 */
static void publish(struct dp_worker *w)
{
	const struct dp_jobset *set = w->cur;
	uint64_t m = w->dirty;
	uint32_t s = atomic_load_explicit(&w->seq, memory_order_relaxed);

	atomic_store_explicit(&w->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	w->pub = w->c;
	if (set) {
		m |= set->count_only;   /* job.validate samplings: counted in the loop */
		while (m) {
			unsigned j = (unsigned)__builtin_ctzll(m);
			struct dp_job *job = set->jobs[j];

			m &= m - 1;
			job->wpub[w->id] = job->wc[w->id];
		}
	}
	atomic_store_explicit(&w->seq, s + 2, memory_order_release);
	w->dirty = 0;
	w->unpub = false;
}

static inline void block_send(struct dp_worker *w, struct dp_block *b, unsigned j)
{
	struct dp_job *job = b->job;

	if (rte_ring_sp_enqueue(w->rings[job->writer], b) != 0) {
		job->wc[w->id].dropped[DPC_DROP_RING_FULL] += b->n_rec;
		w->c.dropped[DPC_DROP_RING_FULL] += b->n_rec;
		w->dirty |= 1ull << j;
		w->unpub = true;
		if (job->spec.limits.packets)
			atomic_fetch_sub_explicit(&job->reserved, b->n_rec,
						  memory_order_relaxed);
		rte_mempool_put(w->dp->block_pool, b);
		return;
	}
	w->c.blocks_sent++;
	w->unpub = true;
}

/* Publish, then hand the stashed blocks to their writers. */
static void send_stash(struct dp_worker *w)
{
	unsigned i, n = w->n_stash;

	publish(w);
	w->n_stash = 0;
	for (i = 0; i < n; i++)
		block_send(w, w->stash[i], w->stash_slot[i]);
	if (n)
		publish(w);     /* blocks_sent, ring_full drops */
}

/* A full or aged block (slot j of cur) goes out with the next publish. */
static inline void stash_add(struct dp_worker *w, struct dp_block *b, unsigned j)
{
	if (unlikely(w->n_stash == DP_STASH_MAX))
		send_stash(w);  /* counters balance here: between deliveries */
	w->stash[w->n_stash] = b;
	w->stash_slot[w->n_stash++] = (uint8_t)j;
}

/* Send every open block (the job set changed, or shutdown). */
static void flush_all(struct dp_worker *w)
{
	uint64_t m = w->open_mask;

	while (m) {
		unsigned j = (unsigned)__builtin_ctzll(m);

		m &= m - 1;
		stash_add(w, w->blk[j], j);
		w->blk[j] = NULL;
	}
	w->open_mask = 0;
	send_stash(w);
}

/* Stash blocks older than the flush interval. */
static void flush_aged(struct dp_worker *w, uint64_t now)
{
	uint64_t m = w->open_mask, oldest = UINT64_MAX;

	while (m) {
		unsigned j = (unsigned)__builtin_ctzll(m);
		struct dp_block *b = w->blk[j];

		m &= m - 1;
		if (now - b->born_tsc >= w->dp->flush_tsc) {
			stash_add(w, b, j);
			w->blk[j] = NULL;
			w->open_mask &= ~(1ull << j);
		} else if (b->born_tsc < oldest) {
			oldest = b->born_tsc;
		}
	}
	w->oldest_tsc = oldest;
}

/*
 * Take ownership of the block's next DP_BLOCK_PF_AHEAD bytes ahead of the
 * records that will land there. A block's lines were last written or read
 * on another core (the writer thread), and on a busy port the packet
 * stream evicts the worker's L1 between two records of a job, so without
 * this every line of a record costs a read-for-ownership miss at the
 * memcpy. Each line is prefetched once (b->pf).
 */
#define DP_BLOCK_PF_AHEAD 2048
static inline void block_prefetch(const struct dp_worker *w, struct dp_block *b)
{
	uint32_t end = b->len + DP_BLOCK_PF_AHEAD, o;

	if (end > w->dp->cfg.block_size)
		end = w->dp->cfg.block_size;
	o = b->pf > b->len ? b->pf : b->len;
	for (; o < end; o += RTE_CACHE_LINE_SIZE)
		rte_prefetch0_write(b->data + o);
	if (end > b->pf)
		b->pf = end;
}

static inline void deliver(struct dp_worker *w, const struct dp_jobset *set,
			   unsigned j, const struct dpc_key *key,
			   const uint8_t *frame, uint32_t caplen,
			   uint32_t wirelen, uint64_t ts_ns, uint64_t now_tsc)
{
	struct dp_job *job = set->jobs[j];
	struct dp_job_wctr *jc = &job->wc[w->id];
	uint32_t off = 0, incl, rec;
	struct dp_block *b;
	struct dpc_pcap_rec_hdr h;
	int sd;

	w->dirty |= 1ull << j;
	jc->matched++;
	jc->matched_bytes += wirelen;
	w->c.deliveries++;
	sd = atomic_load_explicit(&job->stop_drop, memory_order_relaxed);
	if (unlikely(sd >= 0)) {
		jc->dropped[sd]++;
		w->c.dropped[sd]++;
		return;
	}
	if (set->limited & (1ull << j)) {
		uint64_t r = atomic_fetch_add_explicit(&job->reserved, 1,
						       memory_order_relaxed);
		if (r >= job->spec.limits.packets) {
			jc->dropped[DPC_DROP_LIMIT]++;
			w->c.dropped[DPC_DROP_LIMIT]++;
			return;
		}
	}
	if (job->spec.write == DPC_JOB_WRITE_INNER &&
	    (key->flags & DPC_KEY_VXLAN) &&
	    key->inner.off.l2 != DPC_OFF_NONE && key->inner.off.l2 < caplen) {
		off = key->inner.off.l2;
		wirelen -= off;
	}
	incl = caplen - off;
	if (incl > job->spec.snaplen)
		incl = job->spec.snaplen;
	rec = (uint32_t)sizeof(h) + incl;
	if (unlikely(rec > w->dp->cfg.block_size || wirelen == 0)) {
		jc->dropped[DPC_DROP_INVALID]++;
		w->c.dropped[DPC_DROP_INVALID]++;
		unreserve(set, j, job, 1);
		return;
	}
	b = w->blk[j];
	if (b && b->len + rec > w->dp->cfg.block_size) {
		stash_add(w, b, j);
		b = NULL;
		w->open_mask &= ~(1ull << j);
	}
	if (!b) {
		void *p;

		if (unlikely(rte_mempool_get(w->dp->block_pool, &p) != 0)) {
			w->blk[j] = NULL;
			jc->dropped[DPC_DROP_NO_BLOCK]++;
			w->c.dropped[DPC_DROP_NO_BLOCK]++;
			unreserve(set, j, job, 1);
			return;
		}
		b = p;
		b->job = job;
		b->len = 0;
		b->n_rec = 0;
		b->pf = 0;
		b->born_tsc = now_tsc;
		if (!w->open_mask || now_tsc < w->oldest_tsc)
			w->oldest_tsc = now_tsc;
		w->open_mask |= 1ull << j;
	}
	w->blk[j] = b;
	/* records are packed: headers land on any byte boundary */
	h.ts_sec = (uint32_t)(ts_ns / 1000000000ull);
	h.ts_nsec = (uint32_t)(ts_ns % 1000000000ull);
	h.incl_len = incl;
	h.orig_len = wirelen;
	memcpy(b->data + b->len, &h, sizeof(h));
	memcpy(b->data + b->len + sizeof(h), frame + off, incl);
	b->len += rec;
	b->n_rec++;
	block_prefetch(w, b);
}

/*
 * One stretch of a calibrate_ms bare slot: what tests/perf/bare_rx does, the
 * least any consumer of the queue can do (receive a burst of 32, add up its
 * packets and bytes, free it), for 64 polls. Its packets are counted
 * received and "calibration": no job sees them.
 *
 * With jit (the peer slot, calibrate_bpf), the same loop also runs one
 * JIT-compiled BPF program on every received mbuf, as a dpdk-pdump rx
 * callback filters before it copies, and counts what it accepts.
 */
static inline __attribute__((always_inline)) void
calibrate_slot(struct dp_worker *w, dp_bpf_jit_fn jit)
{
	struct rte_mbuf *b[32];
	uint64_t got = 0, bytes = 0, hits = 0;
	unsigned it;

	for (it = 0; it < 64; it++) {
		uint16_t n = rte_eth_rx_burst(w->port_id, w->queue, b, RTE_DIM(b));

		for (uint16_t i = 0; i < n; i++)
			bytes += b[i]->pkt_len;
		if (jit)
			for (uint16_t i = 0; i < n; i++)
				hits += jit(b[i]) != 0;
		if (n) {
			got += n;
			rte_pktmbuf_free_bulk(b, n);
		}
	}
	w->c.rx += got;
	w->c.rx_bytes += bytes;
	w->c.calibration += got;
	if (jit) {
		w->c.cal_peer_pkts += got;
		w->c.cal_peer_matched += hits;
	} else {
		w->c.cal_bare_pkts += got;
	}
	w->unpub = true;
}

/* out of line: one call per 64 polls */
static __attribute__((noinline)) void calibrate_bare(struct dp_worker *w)
{
	calibrate_slot(w, NULL);
}

static __attribute__((noinline)) void calibrate_peer(struct dp_worker *w)
{
	calibrate_slot(w, dp_bpf_jit_of(w->dp->cal_bpf));
}

int dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dpc_dp *dp = w->dp;
	struct rte_mbuf *pkts[BURST_MAX + 1];
	struct dpc_key key;
	struct rte_mempool *mp = dp->mbuf_pool;
	const unsigned burst = dp->cfg.burst;
	const uint64_t idle_sleep_ns = (uint64_t)dp->cfg.worker_idle_sleep_us * 1000;
	uint64_t base_tsc, base_ns, tsc_mult, hz = rte_get_tsc_hz();
	struct timespec ts;
	unsigned idle = 0;
	/* calibrate_ms: slot length in TSC cycles (0: off), start, which slot
	 * (0 the loop, 1 the bare loop, 2 the peer: the bare loop running the
	 * calibrate_bpf program, looked up in the slot itself) */
	const uint64_t cal_len = hz / 1000 * dp->cfg.calibrate_ms;
	uint64_t cal_t0;
	unsigned cal_slot = 0;
#ifdef DPC_SCREEN_X8
	const bool x8 = w->screen_x8;
#endif

	clock_gettime(CLOCK_REALTIME, &ts);
	base_tsc = rte_rdtsc();
	base_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	/* TSC cycles to ns as a 48-bit fixed-point multiply, not a 128-bit
	 * division per burst (~50 cycles): 1e9 * 2^48 / hz has ~47 significant
	 * bits, an error below 1 ns per 10^5 s of uptime */
	tsc_mult = (uint64_t)(((unsigned __int128)1000000000ull << 48) / hz);
	w->pub_ival = hz / 1000000 * DP_PUBLISH_US;
	w->pub_tsc = base_tsc - w->pub_ival;    /* the first burst is published */
	rte_rcu_qsbr_thread_online(dp->qs, w->id);
	cal_t0 = rte_rdtsc();

	while (!atomic_load_explicit(&dp->stop_workers, memory_order_acquire)) {
		const struct dp_jobset *set =
			atomic_load_explicit(&dp->set, memory_order_acquire);
		uint64_t now, ts_ns;
		uint16_t n, i;

		if (set != w->cur) {
			flush_all(w);   /* and publish, with the slots of the old set */
			w->cur = set;
		}
		if (unlikely(cal_len)) {
			uint64_t t = rte_rdtsc();

			if (t - cal_t0 >= cal_len) {
				if (cal_slot == 0)
					w->c.cal_loop_cycles += t - cal_t0;
				else if (cal_slot == 1)
					w->c.cal_bare_cycles += t - cal_t0;
				else
					w->c.cal_peer_cycles += t - cal_t0;
				cal_t0 = t;
				cal_slot = cal_slot + 1 < (dp->cal_bpf ? 3u : 2u) ? cal_slot + 1 : 0;
			}
			if (cal_slot) {
				if (cal_slot == 1)
					calibrate_bare(w);
				else
					calibrate_peer(w);
				n = 0;
				now = rte_rdtsc();
				goto tail;
			}
		}
		n = rte_eth_rx_burst(w->port_id, w->queue, pkts, (uint16_t)burst);
		now = rte_rdtsc();
		w->c.polls++;
		if (n) {
			const uint64_t *bloom = NULL;
			uint8_t slow[BURST_MAX];
			uint64_t scr_bytes, odd;
			unsigned ns, k;
			bool nojobs = !set || !set->port_jobs[w->port_idx];

			idle = 0;
			ts_ns = base_ns + (uint64_t)(((unsigned __int128)(now - base_tsc) *
						      tsc_mult) >> 48);
			if (!nojobs)
				bloom = dpc_classifier_screen_v4(set->cls);
			/*
			 * Pass 1, over the whole burst: the frames no job
			 * wants are settled and counted here, unparsed: all of
			 * them when the port has no job, those the inline
			 * screen clears for a host-job set. The rest is listed
			 * in slow[] for pass 2.
			 */
			pkts[n] = pkts[n - 1];  /* screen_burst_v4 prefetches one ahead */
			if (bloom) {
#ifdef DPC_SCREEN_X8
				if (x8)
					ns = screen_burst_x8(pkts, n, mp, bloom, &dp->popts,
							     slow, &scr_bytes, &odd);
				else
#endif
				ns = screen_burst_v4(pkts, n, mp, bloom, &dp->popts, slow,
						     &scr_bytes, &odd);
			} else {
				scr_bytes = 0;
				odd = 0;
				ns = 0;
				for (i = 0; i < n; i++) {
					odd |= mbuf_odd(pkts[i], mp);
					if (nojobs)
						scr_bytes += pkts[i]->pkt_len;
					else
						slow[ns++] = (uint8_t)i;
				}
			}
			/* Counted as a whole (balanced: received and unwanted) */
			w->c.rx += n - ns;
			w->c.rx_bytes += scr_bytes;
			w->c.unwanted += n - ns;
			if (!nojobs)
				w->c.screened += n - ns;
			/* Pass 2: parse, classify and deliver the rest. */
			for (k = 0; k < ns; k++) {
				struct rte_mbuf *m = pkts[slow[k]];
				const uint8_t *frame;
				uint32_t caplen = m->data_len, wirelen = m->pkt_len;
				uint64_t mask, pts = ts_ns;

				w->c.rx++;
				w->c.rx_bytes += wirelen;
				if (m->nb_segs > 1) {
					caplen = wirelen < sizeof(w->linbuf) ?
						wirelen : (uint32_t)sizeof(w->linbuf);
					frame = rte_pktmbuf_read(m, 0, caplen, w->linbuf);
					if (!frame) {
						frame = rte_pktmbuf_mtod(m, const uint8_t *);
						caplen = m->data_len;
					}
				} else {
					frame = rte_pktmbuf_mtod(m, const uint8_t *);
				}
				/* Most frames are wanted by no job: a Bloom miss
				 * on the raw headers settles them unparsed. */
				if (dpc_classifier_screen(set->cls, &dp->popts, frame,
							  caplen, wirelen)) {
					w->c.unwanted++;
					w->c.screened++;
					continue;
				}
				dpc_parse(&dp->popts, frame, caplen, wirelen, &key);
				if (unlikely(key.status != DPC_PARSE_OK)) {
					if (key.status == DPC_PARSE_TRUNCATED)
						w->c.parse_truncated++;
					else
						w->c.parse_invalid++;
				}
				mask = dpc_classifier_match(set->cls, &key, frame, caplen) &
				       set->port_jobs[w->port_idx];
				if (unlikely(mask & set->count_only)) {
					uint64_t co = mask & set->count_only;

					while (co) {
						unsigned j = (unsigned)__builtin_ctzll(co);

						co &= co - 1;
						set->jobs[j]->wc[w->id].matched++;
					}
					mask &= ~set->count_only;
				}
				if (!mask) {
					w->c.unwanted++;
					continue;
				}
				w->c.matched++;
				if (w->hwts && (m->ol_flags & dp->ts_flag)) {
					uint64_t hw = *RTE_MBUF_DYNFIELD(m, dp->ts_off, uint64_t *);

					pts = w->hwts_epoch_ns ? hw :
						w->hw_base_ns + (uint64_t)(((__int128)(int64_t)(hw - w->hw_base) *
									    (__int128)w->hw_mult) >> 32);
				}
				while (mask) {
					unsigned j = (unsigned)__builtin_ctzll(mask);

					mask &= mask - 1;
					deliver(w, set, j, &key, frame, caplen, wirelen,
						pts, now);
				}
			}
			free_burst(mp, pkts, n, odd);
			w->c.cal_loop_pkts += n;
			w->unpub = true;
		} else {
			w->c.idle_polls++;
			if (idle_sleep_ns && ++idle > 64) {
				struct timespec sl = { 0, (long)idle_sleep_ns };

				nanosleep(&sl, NULL);
			} else {
				rte_pause();
			}
		}
tail:
		if (w->open_mask && now - w->oldest_tsc >= dp->flush_tsc)
			flush_aged(w, now);
		if (w->n_stash || (w->unpub && (!n || now - w->pub_tsc >= w->pub_ival))) {
			send_stash(w);
			w->pub_tsc = now;
		}
		rte_rcu_qsbr_quiescent(dp->qs, w->id);
	}
	flush_all(w);
	w->cur = NULL;
	rte_rcu_qsbr_thread_offline(dp->qs, w->id);
	return 0;
}
