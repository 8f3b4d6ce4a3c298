/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_main.c - datapath set-up, job life cycle, service loop, stats.
 * Everything here runs on the control thread (see dpc_dp.h).
 */
#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_eal.h>
#include <rte_version.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <pcap/pcap.h>

#include "dp_internal.h"
#include "dpc_screen_x8.h"
#include "dp_bpf.h"
#include "dpc_config.h"

RTE_LOG_REGISTER_DEFAULT(dpc_dp_logtype, INFO);

#define JOBS_HISTORY_MAX 1024

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void dpc_dp_config_init(struct dpc_dp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->writers = 1;
	c->mbufs = 16383;
	c->mbuf_cache = 256;
	c->mbuf_data_room = RTE_MBUF_DEFAULT_BUF_SIZE;
	c->burst = 32;
	c->screen_simd = true;
	c->block_size = 256 * 1024;
	c->blocks = 0;              /* auto: see dp_blocks_auto() */
	c->ring_size = 1024;
	c->flush_ms = 200;
	c->file_buf_size = 4 * 1024 * 1024;
	snprintf(c->capture_root, sizeof(c->capture_root), "/var/lib/dpcap");
	c->min_free_bytes = 1ull << 30;
	c->vxlan_ports[0] = DPC_VXLAN_PORT;
	c->n_vxlan_ports = 1;
	c->max_jobs = DPC_DP_JOBS_MAX;
	c->validate_ms = 1000;
	c->worker_idle_sleep_us = 0;
	dpc_job_spec_init(&c->job_defaults);
}

/* ------------------------------------------------------------------ ports */

static const uint8_t sym_rss_key[52] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};


/*
 * Poll a port's link (control thread; every telemetry refresh, ~500 ms).
 * A capture port that loses its link sees nothing: say so in the log the
 * moment it happens, and count it (stats.get ports[].link_changes).
 */
static void port_link_poll(struct dp_port *p)
{
	struct rte_eth_link l;
	int up;

	memset(&l, 0, sizeof(l));
	if (!p->started || rte_eth_link_get_nowait(p->port_id, &l) != 0)
		return;
	up = l.link_status == RTE_ETH_LINK_UP;
	p->link_speed = l.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : l.link_speed;
	if (up == p->link_up)
		return;
	if (p->link_up == -1) {
		if (!up)
			DP_LOG(WARNING, "port %s (%s): link down at start: nothing is "
			       "captured until it comes up", p->name, p->devname);
	} else if (up) {
		DP_LOG(NOTICE, "port %s (%s): link up (%u Mbit/s)", p->name, p->devname,
		       p->link_speed);
		p->link_changes++;
	} else {
		DP_LOG(WARNING, "port %s (%s): link down: nothing is captured until "
		       "it comes back", p->name, p->devname);
		p->link_changes++;
	}
	p->link_up = up;
}

static int port_open(struct dpc_dp *dp, unsigned idx, char *err, size_t errlen)
{
	const struct dpc_dp_port_cfg *pc = &dp->cfg.ports[idx];
	struct dp_port *p = &dp->ports[idx];
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint8_t key[52];
	size_t n;
	int rc;
	uint16_t q;

	n = strcspn(pc->device, ",");
	if (n >= sizeof(p->devname))
		n = sizeof(p->devname) - 1;
	memcpy(p->devname, pc->device, n);
	p->devname[n] = 0;
	memcpy(p->name, pc->name, sizeof(p->name));
	p->name[sizeof(p->name) - 1] = 0;
	if (rte_eth_dev_get_port_by_name(p->devname, &p->port_id) != 0) {
		rc = rte_dev_probe(pc->device);
		if (rc < 0 && rc != -EEXIST) {
			set_err(err, errlen, "ports[%u].device: cannot probe \"%s\": %s",
				idx, pc->device, strerror(-rc));
			return rc;
		}
		if (rte_eth_dev_get_port_by_name(p->devname, &p->port_id) != 0) {
			set_err(err, errlen,
				"ports[%u].device: \"%s\" probed but no ethdev named \"%s\"",
				idx, pc->device, p->devname);
			return -ENODEV;
		}
	}
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc) {
		set_err(err, errlen, "ports[%u]: dev_info: %s", idx, strerror(-rc));
		return rc;
	}
	snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name ? info.driver_name : "?");
	if (pc->rx_queues > info.max_rx_queues) {
		set_err(err, errlen, "ports[%u].rx_queues: %u, but device \"%s\" has at most %u",
			idx, pc->rx_queues, p->devname, info.max_rx_queues);
		return -EINVAL;
	}
	p->n_queues = pc->rx_queues;
	memset(&conf, 0, sizeof(conf));
	if (pc->timestamps != DPC_DP_TS_TSC &&
	    (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
		p->hwts = true;
	}
	if (pc->rx_queues > 1 && pc->rss && info.flow_type_rss_offloads) {
		size_t klen = info.hash_key_size ? info.hash_key_size : 40;

		if (klen > sizeof(key))
			klen = sizeof(key);
		memcpy(key, sym_rss_key, sizeof(key));
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)klen;
		conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP |
						    RTE_ETH_RSS_UDP) &
						   info.flow_type_rss_offloads;
		p->rss_on = true;
	}
	rc = rte_eth_dev_configure(p->port_id, pc->rx_queues, 0, &conf);
	if (rc) {
		/* some PMDs want a tx queue even when nothing is sent */
		rc = rte_eth_dev_configure(p->port_id, pc->rx_queues, 1, &conf);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->port_id, 0, 64,
						    rte_eth_dev_socket_id(p->port_id), NULL);
	}
	if (rc) {
		set_err(err, errlen, "ports[%u]: configure \"%s\" with %u rx queues: %s",
			idx, p->devname, pc->rx_queues, strerror(-rc));
		return rc;
	}
	for (q = 0; q < pc->rx_queues; q++) {
		int sock = rte_eth_dev_socket_id(p->port_id);

		rc = rte_eth_rx_queue_setup(p->port_id, q, pc->rx_desc,
					    sock < 0 ? 0 : (unsigned)sock, NULL, dp->mbuf_pool);
		if (rc) {
			set_err(err, errlen,
				"ports[%u]: rx queue %u setup on \"%s\": %s (see mbufs, mbuf_data_room: net_pcap infinite_rx needs mbufs >= packets in the file, net_af_packet frames must fit one mbuf)",
				idx, q, p->devname, strerror(-rc));
			return rc;
		}
	}
	if (pc->promisc)
		rte_eth_promiscuous_enable(p->port_id);
	rc = rte_eth_dev_start(p->port_id);
	if (rc) {
		set_err(err, errlen, "ports[%u]: start \"%s\": %s", idx, p->devname,
			strerror(-rc));
		return rc;
	}
	p->started = true;
	rte_eth_stats_reset(p->port_id);
	snprintf(p->ts_desc, sizeof(p->ts_desc), "tsc, converted once per burst");
	if (p->hwts) {
		uint64_t c0, c1;
		uint64_t t0, t1;
		struct timespec sl = { 0, 50000000 };

		if (dp->ts_off < 0 &&
		    rte_mbuf_dyn_rx_timestamp_register(&dp->ts_off, &dp->ts_flag) != 0) {
			dp->ts_off = -1;
			p->hwts = false;
		} else if (rte_eth_read_clock(p->port_id, &c0) == 0) {
			/* calibrate the NIC clock against CLOCK_REALTIME */
			t0 = dp_now_ns();
			nanosleep(&sl, NULL);
			rte_eth_read_clock(p->port_id, &c1);
			t1 = dp_now_ns();
			if (c1 > c0 && t1 > t0) {
				p->hw_base = c1;
				p->hw_base_ns = t1;
				p->hw_mult = (uint64_t)(((unsigned __int128)(t1 - t0) << 32) /
							(c1 - c0));
				snprintf(p->ts_desc, sizeof(p->ts_desc),
					 "nic clock, %.3f MHz, calibrated",
					 (double)(c1 - c0) * 1e3 / (double)(t1 - t0));
			} else {
				p->hwts = false;
			}
		} else if (pc->timestamps == DPC_DP_TS_HW) {
			p->hwts_epoch_ns = true;
			snprintf(p->ts_desc, sizeof(p->ts_desc), "pmd timestamp, ns since epoch");
		} else {
			p->hwts = false;  /* auto: an unreadable clock cannot be trusted */
		}
	}
	p->link_up = -1;
	port_link_poll(p);
	DP_LOG(INFO, "port %s (%s, %s): %u rx queue(s)%s, timestamps: %s%s", p->name,
	       p->devname, p->driver, p->n_queues, p->rss_on ? ", symmetric RSS" : "",
	       p->ts_desc,
	       pc->timestamps != DPC_DP_TS_TSC &&
	       !(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) ?
	       " (the port offers no rx timestamp)" : "");
	return 0;
}

/* ---------------------------------------------------------- recovery, dirs */

static void recover_all(struct dpc_dp *dp)
{
	DIR *d = opendir(dp->cfg.capture_root);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX + 300];
		struct stat st;
		int n;

		if (de->d_name[0] == '.' && (!de->d_name[1] ||
					     (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dp->cfg.capture_root, de->d_name);
		if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		n = dpc_pcapfile_recover(path);
		if (n > 0)
			DP_LOG(NOTICE, "recovered %d interrupted file(s) in %s", n, path);
		else if (n < 0)
			DP_LOG(WARNING, "recovery of %s failed: %s", path, strerror(-n));
	}
	closedir(d);
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	char *s;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static uint64_t disk_free(const char *path)
{
	struct statvfs sv;

	if (statvfs(path, &sv) != 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Create <root>/<name> as a fresh (or empty) real directory. */
static int job_mkdir(struct dpc_dp *dp, const char *name, char *dir, size_t dirlen,
		     char *err, size_t errlen)
{
	int rootfd, fd, rc = 0;
	struct stat st;
	DIR *d;
	struct dirent *de;

	rootfd = open(dp->cfg.capture_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		rc = -errno;
		set_err(err, errlen, "capture_root: \"%s\": %s", dp->cfg.capture_root,
			strerror(errno));
		return rc;
	}
	if (mkdirat(rootfd, name, 0750) != 0 && errno != EEXIST) {
		rc = -errno;
		set_err(err, errlen, "name: cannot create %s/%s: %s", dp->cfg.capture_root,
			name, strerror(errno));
		goto out;
	}
	if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
		rc = -EEXIST;
		set_err(err, errlen, "name: %s/%s exists and is not a directory",
			dp->cfg.capture_root, name);
		goto out;
	}
	fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		set_err(err, errlen, "name: cannot open %s/%s: %s", dp->cfg.capture_root,
			name, strerror(-rc));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			rc = -EEXIST;
			set_err(err, errlen,
				"name: %s/%s already holds files; a job never overwrites a capture, pick another name",
				dp->cfg.capture_root, name);
			break;
		}
	}
	closedir(d);
	if ((size_t)snprintf(dir, dirlen, "%s/%s", dp->cfg.capture_root, name) >= dirlen) {
		rc = -ENAMETOOLONG;
		set_err(err, errlen, "name: path under capture_root too long");
	}
out:
	close(rootfd);
	return rc;
}

/* ------------------------------------------------------------ job set/RCU */

/* Whether workers may still change a job's counters: it is, or may still
 * be, in a set a worker holds. Once the first grace period after its
 * retirement has passed, every worker has flushed and published it. */
static bool job_live(const struct dp_job *job)
{
	return job->phase == DP_PHASE_RUNNING || job->phase == DP_PHASE_RETIRE1;
}

/*
 * Copy worker wk's published counters into c (when not NULL) and its
 * published counters of jobs[0..n) into jc, all as of one publication
 * ("Publishing counters" in dp_worker.c): retried while the worker is
 * publishing or published during the copy. Workers publish at most every
 * DP_PUBLISH_US while busy, so a copy of a few KiB gets through.
 */
static void worker_read(struct dpc_dp *dp, const struct dp_worker *wk, struct dp_wctr *c,
			struct dp_job *const *jobs, unsigned n, struct dp_job_wctr *jc)
{
	unsigned i, tries = 0;

	dp->snap_reads++;
	for (;;) {
		uint32_t s0 = atomic_load_explicit(&wk->seq, memory_order_acquire);

		if (!(s0 & 1)) {
			if (c)
				memcpy(c, &wk->pub, sizeof(*c));
			for (i = 0; i < n; i++)
				memcpy(&jc[i], &jobs[i]->wpub[wk->id], sizeof(jc[i]));
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&wk->seq, memory_order_relaxed) == s0)
				return;
		}
		if (tries == 0)
			dp->snap_retries++;     /* reads that had to retry */
		if (++tries % 64 == 0)
			sched_yield();     /* the worker may share our CPU */
		else
			rte_pause();
	}
}

static void add_wctr(struct dpc_job_counters *c, const struct dp_job_wctr *w)
{
	unsigned d;

	c->matched += w->matched;
	c->matched_bytes += w->matched_bytes;
	for (d = 0; d < DPC_DROP_COUNT; d++)
		c->dropped[d] += w->dropped[d];
}

/*
 * The writer-side part of a job's counters. pcapfile counts each record it
 * was offered under exactly one outcome: written (packets), lost to a
 * write error (dropped_disk_error), cut at the free-space floor
 * (dropped_disk_low), or refused after it stopped (refused, whose reason
 * is the stop reason) -- the same totals its manifest lists.
 */
static void add_wr(struct dpc_job_counters *c, const struct dp_wr_ctr *wr)
{
	const struct dpc_pcapfile_stats *st = &wr->pst;
	unsigned d;

	for (d = 0; d < DPC_DROP_COUNT; d++)
		c->dropped[d] += wr->dropped[d];
	c->dropped[DPC_DROP_DISK_ERROR] += st->dropped_disk_error;
	c->dropped[DPC_DROP_DISK_LOW] += st->dropped_disk_low;
	if (st->refused)
		c->dropped[dp_drop_of_stop(st->stop)] += st->refused;
	c->written = st->packets;
	c->written_bytes = st->bytes;
	c->wire_bytes = st->wire_bytes;
	c->snapped = st->truncated;
	c->files = st->files;
	c->files_deleted = st->files_deleted;
}

/*
 * One job's counters, consistent: the writer's counters first, then each
 * worker's published ones. A record the writer counts was published as
 * matched before its block reached the writer, so in_flight (matched -
 * written - dropped) is never negative, and 0 once the job is final.
 */
static void counters_of(struct dpc_dp *dp, struct dp_job *job, struct dpc_job_counters *c,
			struct dp_wr_ctr *wr_out)
{
	struct dp_wr_ctr wr;
	unsigned w;

	memset(c, 0, sizeof(*c));
	dp_job_wr_read(job, &wr);
	add_wr(c, &wr);
	for (w = 0; w < dp->n_workers; w++) {
		struct dp_job_wctr jc;

		if (job_live(job))
			worker_read(dp, dp->workers[w], NULL, &job, 1, &jc);
		else
			jc = job->wpub[w];
		add_wctr(c, &jc);
	}
	if (wr_out)
		*wr_out = wr;
}

/* Packets worker wk received, as last published. */
static uint64_t worker_rx(struct dpc_dp *dp, const struct dp_worker *wk)
{
	struct dp_wctr c;

	worker_read(dp, wk, &c, NULL, 0, NULL);
	return c.rx;
}

static void publish(struct dpc_dp *dp)
{
	struct dp_jobset *set = calloc(1, sizeof(*set));
	const struct dp_jobset *old;
	uint64_t token;
	unsigned i, p;

	if (!set) {
		DP_LOG(ERR, "job set: out of memory; keeping the previous set");
		return;
	}
	for (i = 0; i < dp->n_jobs && set->n < DPC_DP_JOBS_MAX; i++) {
		struct dp_job *job = dp->jobs[i];
		unsigned j;

		if (job->phase != DP_PHASE_RUNNING)
			continue;
		j = set->n++;
		set->jobs[j] = job;
		set->filters[j] = job->filter;
		if (job->hidden)
			set->count_only |= 1ull << j;
		if (job->spec.limits.packets && !job->hidden)
			set->limited |= 1ull << j;
		for (p = 0; p < dp->n_ports; p++)
			if (job->port_mask & (1u << p))
				set->port_jobs[p] |= 1ull << j;
	}
	if (set->n) {
		set->cls = dpc_classifier_build(set->filters, set->n);
		if (!set->cls) {
			DP_LOG(ERR, "classifier build failed (%s); keeping the previous set",
			       strerror(errno));
			free(set);
			return;
		}
	}
	old = atomic_exchange_explicit(&dp->set, set, memory_order_acq_rel);
	token = rte_rcu_qsbr_start(dp->qs);
	if (old) {
		struct dp_jobset *o = (struct dp_jobset *)(uintptr_t)old;

		o->rcu_token = token;
		if (dp->n_retired_sets < RTE_DIM(dp->retired_sets)) {
			dp->retired_sets[dp->n_retired_sets++] = o;
		} else {
			/* too many in flight: wait (rare: 64 changes in < 2 grace periods) */
			rte_rcu_qsbr_check(dp->qs, token, true);
			rte_rcu_qsbr_check(dp->qs, rte_rcu_qsbr_start(dp->qs), true);
			dpc_classifier_free(o->cls);
			free(o);
		}
	}
	for (i = 0; i < dp->n_jobs; i++)
		if (dp->jobs[i]->phase == DP_PHASE_RETIRE1 && dp->jobs[i]->rcu_token == 0)
			dp->jobs[i]->rcu_token = token;
	dp->need_publish = false;
	dp->sets_published++;
}

/*
 * A set retired at token T is freed only after a second grace period: a
 * worker that reported quiescent after T may still be holding the set as
 * w->cur, and when it next notices the new set it flushes and publishes
 * its counters through the old one (set->jobs[], set->count_only) before
 * its next quiescent report. Freeing after one grace period was a
 * use-after-free there (dpcapd SIGSEGV with 64 clients churning jobs).
 */
static void reap_sets(struct dpc_dp *dp)
{
	unsigned i = 0;

	while (i < dp->n_retired_sets) {
		struct dp_jobset *o = dp->retired_sets[i];

		if (rte_rcu_qsbr_check(dp->qs, o->rcu_token, false) == 1) {
			if (!o->second_gp) {
				o->second_gp = true;
				o->rcu_token = rte_rcu_qsbr_start(dp->qs);
				i++;
				continue;
			}
			dpc_classifier_free(o->cls);
			free(o);
			dp->retired_sets[i] = dp->retired_sets[--dp->n_retired_sets];
		} else {
			i++;
		}
	}
}

static json_t *job_json(struct dpc_dp *dp, struct dp_job *job, bool files);

static void emit_state(struct dpc_dp *dp, struct dp_job *job)
{
	json_t *p;
	struct dpc_job_counters c;

	if (!dp->ev_fn || job->hidden)
		return;
	counters_of(dp, job, &c, NULL);
	p = json_pack("{s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)job->id,
		      "name", job->spec.name,
		      "state", dpc_job_state_name(job->status.state),
		      "reason", dpc_job_reason_name(job->status.reason),
		      "counters", dpc_job_counters_to_json(&c));
	if (p) {
		dp->ev_fn(dp->ev_arg, "job.state", p);
		json_decref(p);
	}
}

static void job_end(struct dpc_dp *dp, struct dp_job *job, enum dpc_job_reason r)
{
	if (job->phase != DP_PHASE_RUNNING)
		return;
	if (!job->hidden)
		dpc_job_status_end(&job->status, r, dp_now_ns());
	job->phase = DP_PHASE_RETIRE1;
	job->rcu_token = 0;
	dp->need_publish = true;
	if (!job->hidden)
		DP_LOG(INFO, "job %" PRIu64 " (%s): %s, %s; finishing its files", job->id,
		       job->spec.name, dpc_job_state_name(job->status.state),
		       dpc_job_reason_name(job->status.reason));
}

static void validate_finish(struct dpc_dp *dp, struct dp_job *job)
{
	uint64_t now = dp_now_ns(), rx = 0, matched = 0;
	double secs = (double)(now - job->v_t0_ns) / 1e9;
	unsigned w;
	json_t *res;

	for (w = 0; w < dp->n_workers; w++) {
		matched += job->wpub[w].matched;     /* final: the job has retired */
		if (job->port_mask & (1u << dp->workers[w]->port_idx))
			rx += worker_rx(dp, dp->workers[w]);
	}
	rx -= job->v_rx0;
	if (secs <= 0)
		secs = 1e-9;
	if (job->v_cancelled || !job->vcb)
		return;
	res = json_pack("{s:b, s:s, s:s, s:I, s:I, s:I, s:f, s:f}", "valid", 1,
			"engine", dpc_filter_is_native(job->filter) ? "native" : "bpf",
			"bpf_engine", dp_bpf_job_engine(job),
			"sample_ms", (json_int_t)(secs * 1000),
			"received", (json_int_t)rx, "matched", (json_int_t)matched,
			"match_pps", (double)matched / secs, "rx_pps", (double)rx / secs);
	job->vcb(job->varg, res);
}

static void job_release(struct dp_job *job)
{
	dp_bpf_detach(job);
	dpc_filter_free(job->filter);
	job->filter = NULL;
}

static void advance_jobs(struct dpc_dp *dp)
{
	unsigned i;

	for (i = 0; i < dp->n_jobs; i++) {
		struct dp_job *job = dp->jobs[i];

		switch (job->phase) {
		case DP_PHASE_RETIRE1:
			if (job->rcu_token &&
			    rte_rcu_qsbr_check(dp->qs, job->rcu_token, false) == 1) {
				job->rcu_token = rte_rcu_qsbr_start(dp->qs);
				job->phase = DP_PHASE_RETIRE2;
			}
			break;
		case DP_PHASE_RETIRE2:
			if (rte_rcu_qsbr_check(dp->qs, job->rcu_token, false) != 1)
				break;
			if (job->hidden) {
				validate_finish(dp, job);
				job->phase = DP_PHASE_DONE;
				job_release(job);
				break;
			}
			if (rte_ring_sp_enqueue(dp->writers[job->writer].ctl,
						(void *)((uintptr_t)job | DP_MSG_CLOSE)) == 0)
				job->phase = DP_PHASE_CLOSING;
			break;
		case DP_PHASE_CLOSING:
			if (atomic_load_explicit(&job->closed, memory_order_acquire)) {
				job->phase = DP_PHASE_DONE;
				if (job->close_rc < 0 && job->status.state != DPC_JOB_FAILED)
					DP_LOG(WARNING, "job %s: finalizing files: %s",
					       job->spec.name, strerror(-job->close_rc));
				job_release(job);
				DP_LOG(INFO, "job %" PRIu64 " (%s) %s (%s): %" PRIu64 " packets in %u file(s)",
				       job->id, job->spec.name,
				       dpc_job_state_name(job->status.state),
				       dpc_job_reason_name(job->status.reason),
				       job->wr.pst.packets, job->wr.pst.files);
				emit_state(dp, job);
			}
			break;
		default:
			break;
		}
	}
}

/* Drop the oldest finished jobs when the history is full. */
static void trim_history(struct dpc_dp *dp)
{
	unsigned i, k = 0;

	if (dp->n_jobs < JOBS_HISTORY_MAX)
		return;
	for (i = 0; i < dp->n_jobs; i++) {
		struct dp_job *job = dp->jobs[i];

		if (k < JOBS_HISTORY_MAX / 4 && job->phase == DP_PHASE_DONE) {
			free(job);
			k++;
			continue;
		}
		dp->jobs[i - k] = job;
	}
	dp->n_jobs -= k;
}

int dpc_dp_service(struct dpc_dp *dp)
{
	uint64_t now = dp_now_ns();
	unsigned i;
	int active = 0;

	for (i = 0; i < dp->n_jobs; i++) {
		struct dp_job *job = dp->jobs[i];
		int r;

		if (job->phase != DP_PHASE_RUNNING)
			continue;
		if (job->hidden) {
			if (now >= job->v_deadline_ns || job->v_cancelled)
				job_end(dp, job, DPC_JOB_REASON_REQUEST);
			continue;
		}
		r = atomic_load_explicit(&job->end_reason, memory_order_acquire);
		if (r != DPC_JOB_REASON_NONE)
			job_end(dp, job, (enum dpc_job_reason)r);
		else if (job->spec.limits.duration_s &&
			 now >= job->status.started_ns + job->spec.limits.duration_s * 1000000000ull)
			job_end(dp, job, DPC_JOB_REASON_DURATION);
	}
	if (dp->need_publish)
		publish(dp);
	reap_sets(dp);
	advance_jobs(dp);
	trim_history(dp);
	for (i = 0; i < dp->n_jobs; i++)
		if (dp->jobs[i]->phase != DP_PHASE_DONE && !dp->jobs[i]->hidden)
			active++;
	if (now - dp->tel_last_ns >= 500000000ull || dp_telemetry_wanted()) {
		dp->tel_last_ns = now;
		for (i = 0; i < dp->n_ports; i++)
			port_link_poll(&dp->ports[i]);
		dp_telemetry_refresh(dp);
	}
	return active;
}

unsigned dpc_dp_jobs_active(const struct dpc_dp *dp)
{
	unsigned i, n = 0;

	for (i = 0; i < dp->n_jobs; i++)
		if (dp->jobs[i]->phase != DP_PHASE_DONE && !dp->jobs[i]->hidden)
			n++;
	return n;
}

unsigned dpc_dp_jobs_started(const struct dpc_dp *dp)
{
	unsigned i, n = 0;

	for (i = 0; i < dp->n_jobs; i++)
		if (!dp->jobs[i]->hidden)
			n++;
	return n;
}

uint64_t dpc_dp_rx_total(struct dpc_dp *dp)
{
	uint64_t s = 0;
	unsigned i;

	for (i = 0; i < dp->n_workers; i++)
		s += worker_rx(dp, dp->workers[i]);
	return s;
}

/* ----------------------------------------------------------------- jobs */

void dpc_dp_job_defaults(const struct dpc_dp *dp, struct dpc_job_spec *spec)
{
	*spec = dp->cfg.job_defaults;
}

const struct dpc_filter_error *dpc_dp_filter_error(const struct dpc_dp *dp)
{
	return &dp->ferr;
}

static unsigned running_slots(const struct dpc_dp *dp, bool hidden_too)
{
	unsigned i, n = 0;

	for (i = 0; i < dp->n_jobs; i++) {
		const struct dp_job *job = dp->jobs[i];

		if (job->phase == DP_PHASE_RUNNING && (hidden_too || !job->hidden))
			n++;
	}
	return n;
}

/* Staging blocks that n capture jobs need so that no (worker, job) pair
 * ever waits for the pool: one open block being filled plus one on its way
 * through the writer ring. */
static unsigned blocks_needed(const struct dpc_dp *dp, unsigned n)
{
	return 2 * (dp->n_workers ? dp->n_workers : 1) * n;
}

/* Shared by job.start and job.validate: check, compile, allocate. */
static struct dp_job *job_new(struct dpc_dp *dp, const struct dpc_job_spec *spec,
			      bool hidden, int *rcp, char *err, size_t errlen)
{
	struct dpc_job_spec tmp = *spec;
	struct dp_job *job;
	unsigned i;
	int rc;

	if (hidden && !tmp.name[0])
		snprintf(tmp.name, sizeof(tmp.name), "validate");
	rc = dpc_job_spec_validate(&tmp, err, errlen);
	if (rc)
		goto fail;
	for (i = 0; i < tmp.n_ports; i++)
		if (tmp.ports[i] >= dp->n_ports) {
			set_err(err, errlen, "ports[%u]: port %u does not exist (the daemon has %u)",
				i, tmp.ports[i], dp->n_ports);
			rc = -EINVAL;
			goto fail;
		}
	if (running_slots(dp, true) >= DPC_DP_JOBS_MAX ||
	    (!hidden && running_slots(dp, false) >= dp->cfg.max_jobs)) {
		set_err(err, errlen, "jobs: %u jobs are running, the most this daemon runs at once",
			running_slots(dp, false));
		rc = -ENOSPC;
		goto fail;
	}
	if (dp->n_jobs == dp->cap_jobs) {
		unsigned cap = dp->cap_jobs ? dp->cap_jobs * 2 : 64;
		struct dp_job **nj = realloc(dp->jobs, cap * sizeof(*nj));

		if (!nj) {
			rc = -ENOMEM;
			set_err(err, errlen, "out of memory");
			goto fail;
		}
		dp->jobs = nj;
		dp->cap_jobs = cap;
	}
	/* plain heap: job history must not eat the EAL memory (-m) */
	job = aligned_alloc(RTE_CACHE_LINE_SIZE,
			    RTE_ALIGN_CEIL(sizeof(*job), RTE_CACHE_LINE_SIZE));
	if (job)
		memset(job, 0, sizeof(*job));
	if (!job) {
		rc = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	job->spec = tmp;
	job->hidden = hidden;
	atomic_init(&job->stop_drop, -1);
	atomic_init(&job->end_reason, DPC_JOB_REASON_NONE);
	memset(&dp->ferr, 0, sizeof(dp->ferr));
	job->filter = dpc_filter_compile(tmp.filter, &dp->ferr);
	if (!job->filter) {
		rc = errno == ENOMEM ? -ENOMEM : -EBADMSG;
		set_err(err, errlen, "filter: %s", dp->ferr.msg);
		free(job);
		goto fail;
	}
	if (!dpc_filter_is_native(job->filter)) {
		rc = dp_bpf_attach(job);
		if (rc)
			DP_LOG(WARNING, "BPF JIT for \"%s\": %s; using libpcap's interpreter",
			       tmp.filter, strerror(-rc));
	}
	if (tmp.n_ports == 0)
		job->port_mask = (1u << dp->n_ports) - 1;
	for (i = 0; i < tmp.n_ports; i++)
		job->port_mask |= 1u << tmp.ports[i];
	*rcp = 0;
	return job;
fail:
	*rcp = rc;
	return NULL;
}

int dpc_dp_job_start(struct dpc_dp *dp, const struct dpc_job_spec *spec,
		     uint64_t *id, char *err, size_t errlen)
{
	struct dpc_pcapfile_opts po;
	struct dp_job *job;
	uint64_t freeb;
	unsigned i, need;
	int rc;

	for (i = 0; i < dp->n_jobs; i++)
		if (dp->jobs[i]->phase != DP_PHASE_DONE && !dp->jobs[i]->hidden &&
		    strcmp(dp->jobs[i]->spec.name, spec->name) == 0) {
			set_err(err, errlen, "name: job \"%s\" is active (id %" PRIu64 ")",
				spec->name, dp->jobs[i]->id);
			return -EEXIST;
		}
	need = blocks_needed(dp, running_slots(dp, false) + 1);
	if (need > dp->cfg.blocks) {
		set_err(err, errlen,
			"blocks: the pool of %u blocks cannot give %u worker(s) x %u job(s) one open block and one in flight each (%u needed); raise blocks, or leave it unset (0 = sized from workers x max_jobs)",
			dp->cfg.blocks, dp->n_workers, running_slots(dp, false) + 1, need);
		return -ENOBUFS;
	}
	job = job_new(dp, spec, false, &rc, err, errlen);
	if (!job)
		return rc;
	freeb = disk_free(dp->cfg.capture_root);
	if (dp->cfg.min_free_bytes && freeb < dp->cfg.min_free_bytes) {
		set_err(err, errlen,
			"disk: %" PRIu64 " bytes free under %s, below min_free_bytes %" PRIu64,
			freeb, dp->cfg.capture_root, dp->cfg.min_free_bytes);
		rc = -ENOSPC;
		goto fail;
	}
	rc = job_mkdir(dp, job->spec.name, job->dir, sizeof(job->dir), err, errlen);
	if (rc)
		goto fail;
	memset(&po, 0, sizeof(po));
	po.dir = job->dir;
	po.prefix = job->spec.name;
	po.limits.max_packets = job->spec.limits.packets;
	po.limits.max_bytes = job->spec.limits.bytes;
	po.limits.max_duration_ns = job->spec.limits.duration_s * 1000000000ull;
	po.limits.file_bytes = job->spec.rotate.file_bytes;
	po.limits.file_seconds = job->spec.rotate.file_seconds;
	po.limits.max_files = job->spec.rotate.max_files;
	po.limits.ring = job->spec.rotate.mode == DPC_JOB_ROTATE_RING;
	po.limits.snaplen = job->spec.snaplen;
	job->status.started_ns = dp_now_ns();
	po.start_ns = job->status.started_ns;
	po.min_free_bytes = dp->cfg.min_free_bytes;
	po.buf_size = dp->cfg.file_buf_size;
	po.sha256 = dp->cfg.sha256;
	job->pf = dpc_pcapfile_open(&po);
	if (!job->pf) {
		rc = -errno;
		set_err(err, errlen, "name: cannot open a writer in %s: %s", job->dir,
			strerror(errno));
		goto fail;
	}
	job->id = ++dp->next_id;
	job->writer = (unsigned)(job->id % dp->n_writers);
	job->status.state = DPC_JOB_RUNNING;
	/* the writer learns of it before any block can arrive */
	while (rte_ring_sp_enqueue(dp->writers[job->writer].ctl,
				   (void *)((uintptr_t)job | DP_MSG_OPEN)) != 0)
		rte_pause();
	dp->jobs[dp->n_jobs++] = job;
	/* Before the workers poll (config jobs), every job joins one set that
	 * dpc_dp_start() publishes, so no packet meets a partial set. */
	if (dp->workers_launched)
		publish(dp);
	else
		dp->need_publish = true;
	DP_LOG(INFO, "job %" PRIu64 " (%s) running: filter \"%s\" (%s), writing to %s",
	       job->id, job->spec.name, job->spec.filter,
	       dpc_filter_is_native(job->filter) ? "native" : "bpf", job->dir);
	if (dp->ev_fn) {
		json_t *p = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)job->id,
				      "name", job->spec.name, "state", "running",
				      "reason", "");
		if (p) {
			dp->ev_fn(dp->ev_arg, "job.state", p);
			json_decref(p);
		}
	}
	if (id)
		*id = job->id;
	return 0;
fail:
	if (job->pf)
		dpc_pcapfile_close(job->pf, NULL);
	job_release(job);
	free(job);
	return rc;
}

static struct dp_job *job_find(struct dpc_dp *dp, uint64_t id)
{
	unsigned i;

	for (i = 0; i < dp->n_jobs; i++)
		if (dp->jobs[i]->id == id && !dp->jobs[i]->hidden)
			return dp->jobs[i];
	return NULL;
}

int dpc_dp_job_stop(struct dpc_dp *dp, uint64_t id)
{
	struct dp_job *job = job_find(dp, id);

	if (!job)
		return -ENOENT;
	if (job->phase != DP_PHASE_RUNNING)
		return -EALREADY;
	job_end(dp, job, DPC_JOB_REASON_REQUEST);
	publish(dp);
	return 0;
}

void dpc_dp_job_stop_all(struct dpc_dp *dp, enum dpc_job_reason reason)
{
	unsigned i;

	for (i = 0; i < dp->n_jobs; i++)
		if (dp->jobs[i]->phase == DP_PHASE_RUNNING)
			job_end(dp, dp->jobs[i], dp->jobs[i]->hidden ?
				DPC_JOB_REASON_REQUEST : reason);
	if (dp->need_publish)
		publish(dp);
}

static json_t *files_json(const char *dir)
{
	json_t *a = json_array();
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!a || !d) {
		if (d)
			closedir(d);
		return a;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char path[PATH_MAX + 300];
		struct stat st;
		bool part = n > 10 && strcmp(de->d_name + n - 10, ".pcap.part") == 0;

		if (!part && !(n > 5 && strcmp(de->d_name + n - 5, ".pcap") == 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:s}", "name", de->d_name,
						   "path", path, "bytes", (json_int_t)st.st_size,
						   "state", part ? "writing" : "closed"));
	}
	closedir(d);
	return a;
}

/* What pcapfile did with the records it was offered (the manifest's
 * totals: the disk-loss split there equals the counters'). */
static json_t *writer_json(const struct dp_wr_ctr *wr)
{
	const struct dpc_pcapfile_stats *st = &wr->pst;

	return json_pack("{s:I, s:I, s:I, s:I, s:s?}",
			 "packets", (json_int_t)st->packets,
			 "refused", (json_int_t)st->refused,
			 "dropped_disk_error", (json_int_t)st->dropped_disk_error,
			 "dropped_disk_low", (json_int_t)st->dropped_disk_low,
			 "stop_reason", st->stop == DPC_PCAPFILE_STOP_NONE ? NULL :
					dpc_pcapfile_stop_name(st->stop));
}

static json_t *job_json(struct dpc_dp *dp, struct dp_job *job, bool files)
{
	struct dpc_job_counters c;
	struct dp_wr_ctr wr;
	uint64_t now = dp_now_ns(), end = job->status.ended_ns ? job->status.ended_ns : now;
	json_t *o;

	counters_of(dp, job, &c, &wr);
	o = json_pack("{s:I, s:s, s:s, s:s, s:b, s:o, s:s, s:I, s:I, s:o, s:o}",
		      "id", (json_int_t)job->id, "name", job->spec.name,
		      "state", dpc_job_state_name(job->status.state),
		      "reason", dpc_job_reason_name(job->status.reason),
		      "finishing", job->phase != DP_PHASE_DONE && job->phase != DP_PHASE_RUNNING,
		      "spec", dpc_job_spec_to_json(&job->spec),
		      "dir", job->dir,
		      "started_ns", (json_int_t)job->status.started_ns,
		      "ended_ns", (json_int_t)job->status.ended_ns,
		      "counters", dpc_job_counters_to_json(&c),
		      "progress", dpc_job_progress_to_json(&job->spec, &c,
							   end - job->status.started_ns));
	if (o) {
		json_object_set_new(o, "writer", writer_json(&wr));
		json_object_set_new(o, "engine", json_string(job->filter ?
			(dpc_filter_is_native(job->filter) ? "native" : "bpf") : "released"));
		json_object_set_new(o, "bpf_engine", json_string(dp_bpf_job_engine(job)));
		if (files)
			json_object_set_new(o, "files", files_json(job->dir));
	}
	return o;
}

int dpc_dp_job_get(struct dpc_dp *dp, uint64_t id, json_t **out)
{
	struct dp_job *job = job_find(dp, id);

	if (!job)
		return -ENOENT;
	*out = job_json(dp, job, true);
	return *out ? 0 : -ENOMEM;
}

int dpc_dp_job_list(struct dpc_dp *dp, const char *state_filter, json_t **out)
{
	int want = -1;
	unsigned i;
	json_t *a;

	if (state_filter) {
		want = dpc_job_state_from_name(state_filter);
		if (want < 0)
			return -EINVAL;
	}
	a = json_array();
	if (!a)
		return -ENOMEM;
	for (i = 0; i < dp->n_jobs; i++) {
		struct dp_job *job = dp->jobs[i];

		if (job->hidden || (want >= 0 && (int)job->status.state != want))
			continue;
		json_array_append_new(a, job_json(dp, job, false));
	}
	*out = a;
	return 0;
}

/* ---------------------------------------------------------------- stats */

static json_t *drops_json(const uint64_t *d)
{
	json_t *o = json_object();
	int i;

	for (i = 0; o && i < DPC_DROP_COUNT; i++)
		json_object_set_new(o, dpc_drop_name(i), json_integer((json_int_t)d[i]));
	return o;
}

/*
 * Counters, as one consistent snapshot: first every job's writer-side
 * counters, then each worker's published counters together with its
 * counters of the jobs still live, as of one publication of that worker.
 * So every worker balances (rx = unwanted + matched), the workers'
 * deliveries equal the jobs' matched, and no job's in_flight is negative,
 * at any moment, not only once the workers are quiet.
 */
int dpc_dp_stats(struct dpc_dp *dp, json_t **out)
{
	json_t *o = NULL, *ports, *workers, *writers, *jobs;
	uint64_t drops[DPC_DROP_COUNT] = { 0 };
	bool balanced = true;
	unsigned i, w, d, k, n_live = 0;
	struct dp_wctr *wc = calloc(dp->n_workers ? dp->n_workers : 1, sizeof(*wc));
	struct dpc_job_counters *jcs = calloc(dp->n_jobs ? dp->n_jobs : 1, sizeof(*jcs));
	struct dp_wr_ctr *wrs = calloc(dp->n_jobs ? dp->n_jobs : 1, sizeof(*wrs));
	struct dp_job **live = calloc(dp->n_jobs ? dp->n_jobs : 1, sizeof(*live));
	unsigned *live_idx = calloc(dp->n_jobs ? dp->n_jobs : 1, sizeof(*live_idx));
	struct dp_job_wctr *tmp = calloc(dp->n_jobs ? dp->n_jobs : 1, sizeof(*tmp));

	*out = NULL;
	if (!wc || !jcs || !wrs || !live || !live_idx || !tmp)
		goto out;
	for (i = 0; i < dp->n_jobs; i++) {
		struct dp_job *job = dp->jobs[i];

		if (job->hidden)
			continue;
		dp_job_wr_read(job, &wrs[i]);
		add_wr(&jcs[i], &wrs[i]);
		if (job_live(job)) {
			live[n_live] = job;
			live_idx[n_live++] = i;
		} else {
			for (w = 0; w < dp->n_workers; w++)
				add_wctr(&jcs[i], &job->wpub[w]);
		}
	}
	for (w = 0; w < dp->n_workers; w++) {
		worker_read(dp, dp->workers[w], &wc[w], live, n_live, tmp);
		for (k = 0; k < n_live; k++)
			add_wctr(&jcs[live_idx[k]], &tmp[k]);
	}

	ports = json_array();
	workers = json_array();
	writers = json_array();
	jobs = json_array();
	for (i = 0; i < dp->n_ports; i++) {
		struct dp_port *p = &dp->ports[i];
		struct rte_eth_stats es;
		json_t *qs = json_array();
		uint64_t rx = 0;

		memset(&es, 0, sizeof(es));
		rte_eth_stats_get(p->port_id, &es);
		for (w = 0; w < dp->n_workers; w++) {
			struct dp_worker *wk = dp->workers[w];

			if (wk->port_idx != i)
				continue;
			rx += wc[w].rx;
			json_array_append_new(qs, json_pack("{s:i, s:i, s:I, s:I}",
				"queue", wk->queue, "worker", wk->id,
				"rx_packets", (json_int_t)wc[w].rx,
				"rx_bytes", (json_int_t)wc[w].rx_bytes));
		}
		json_array_append_new(ports, json_pack(
			"{s:i, s:s, s:s, s:s, s:b, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			"index", i, "name", p->name, "device", p->devname, "driver", p->driver,
			"rss", p->rss_on,
			"link", p->link_up == 1 ? "up" : p->link_up == 0 ? "down" : "unknown",
			"link_speed_mbps", (int)p->link_speed,
			"link_changes", (json_int_t)p->link_changes,
			"rx_packets", (json_int_t)rx,
			"ipackets", (json_int_t)es.ipackets, "ibytes", (json_int_t)es.ibytes,
			"imissed", (json_int_t)es.imissed, "ierrors", (json_int_t)es.ierrors,
			"rx_nombuf", (json_int_t)es.rx_nombuf, "queues", qs));
	}
	for (w = 0; w < dp->n_workers; w++) {
		struct dp_worker *wk = dp->workers[w];
		const struct dp_wctr *c = &wc[w];
		json_t *wj;

		if (c->rx != c->unwanted + c->matched + c->calibration)
			balanced = false;
		/* polls: live values (they change on every poll, published or not) */
		json_array_append_new(workers, json_pack(
			"{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			"id", wk->id, "lcore", wk->lcore, "port", wk->port_idx, "queue", wk->queue,
			"rx", (json_int_t)c->rx, "rx_bytes", (json_int_t)c->rx_bytes,
			"unwanted", (json_int_t)c->unwanted, "screened", (json_int_t)c->screened,
			"matched", (json_int_t)c->matched,
			"deliveries", (json_int_t)c->deliveries,
			"parse_truncated", (json_int_t)c->parse_truncated,
			"parse_invalid", (json_int_t)c->parse_invalid,
			"blocks_sent", (json_int_t)c->blocks_sent,
			"polls", (json_int_t)*(volatile const uint64_t *)&wk->c.polls,
			"idle_polls", (json_int_t)*(volatile const uint64_t *)&wk->c.idle_polls,
			"dropped", drops_json(c->dropped)));
		wj = json_array_get(workers, json_array_size(workers) - 1);
		json_object_set_new(wj, "screen", json_string(wk->screen_x8 ? "avx512x8" : "scalar"));
		if (dp->cfg.calibrate_ms) {
			double lr = c->cal_loop_cycles ?
				(double)c->cal_loop_pkts / (double)c->cal_loop_cycles : 0;
			double br = c->cal_bare_cycles ?
				(double)c->cal_bare_pkts / (double)c->cal_bare_cycles : 0;

			json_object_set_new(wj, "calibration", json_integer((json_int_t)c->calibration));
			json_object_set_new(wj, "calibrate", json_pack(
				"{s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:f}",
				"slot_ms", (int)dp->cfg.calibrate_ms,
				"loop_pkts", (json_int_t)c->cal_loop_pkts,
				"loop_cycles", (json_int_t)c->cal_loop_cycles,
				"bare_pkts", (json_int_t)c->cal_bare_pkts,
				"bare_cycles", (json_int_t)c->cal_bare_cycles,
				"loop_mpps", lr * (double)dp->tsc_hz / 1e6,
				"bare_mpps", br * (double)dp->tsc_hz / 1e6,
				"ratio", br > 0 ? lr / br : 0.0));
			if (dp->cal_bpf) {
				double pr = c->cal_peer_cycles ?
					(double)c->cal_peer_pkts / (double)c->cal_peer_cycles : 0;

				json_object_set_new(json_object_get(wj, "calibrate"), "peer", json_pack(
					"{s:s, s:s, s:I, s:I, s:I, s:f, s:f, s:f}",
					"filter", dp->cfg.calibrate_bpf,
					"engine", "rte_bpf jit",
					"pkts", (json_int_t)c->cal_peer_pkts,
					"cycles", (json_int_t)c->cal_peer_cycles,
					"matched", (json_int_t)c->cal_peer_matched,
					"mpps", pr * (double)dp->tsc_hz / 1e6,
					"ratio", br > 0 ? pr / br : 0.0,
					"loop_vs_peer", pr > 0 ? lr / pr : 0.0));
			}
		}
	}
	for (i = 0; i < dp->n_writers; i++)
		json_array_append_new(writers, json_pack("{s:i, s:I, s:I}", "id", i,
			"blocks", (json_int_t)dp->writers[i].blocks,
			"records", (json_int_t)dp->writers[i].records));
	for (i = 0; i < dp->n_jobs; i++) {
		struct dp_job *job = dp->jobs[i];
		const struct dpc_job_counters *c = &jcs[i];

		if (job->hidden)
			continue;
		for (d = 0; d < DPC_DROP_COUNT; d++)
			drops[d] += c->dropped[d];
		if (dpc_job_counters_in_flight(c) < 0 ||
		    (job->phase == DP_PHASE_DONE && dpc_job_counters_in_flight(c) != 0))
			balanced = false;
		json_array_append_new(jobs, json_pack("{s:I, s:s, s:s, s:s, s:b, s:o, s:o}",
			"id", (json_int_t)job->id, "name", job->spec.name,
			"state", dpc_job_state_name(job->status.state),
			"reason", dpc_job_reason_name(job->status.reason),
			"finishing", job->phase != DP_PHASE_DONE && job->phase != DP_PHASE_RUNNING,
			"counters", dpc_job_counters_to_json(c),
			"writer", writer_json(&wrs[i])));
	}
	o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:s}, s:{s:s, s:I, s:I}, s:b, s:I, s:I, s:I, s:{s:I, s:I}}",
		      "ports", ports, "workers", workers, "writers", writers, "jobs", jobs,
		      "drops", drops_json(drops),
		      "pools",
		      "mbufs", (json_int_t)dp->cfg.mbufs,
		      "mbufs_in_use", (json_int_t)rte_mempool_in_use_count(dp->mbuf_pool),
		      "blocks", (json_int_t)dp->cfg.blocks,
		      "blocks_in_use", (json_int_t)rte_mempool_in_use_count(dp->block_pool),
		      "blocks_ops", rte_mempool_get_ops(dp->block_pool->ops_index)->name,
		      "disk", "path", dp->cfg.capture_root,
		      "free_bytes", (json_int_t)disk_free(dp->cfg.capture_root),
		      "min_free_bytes", (json_int_t)dp->cfg.min_free_bytes,
		      "balanced", balanced,
		      "job_sets_published", (json_int_t)dp->sets_published,
		      "job_sets_before_polling", (json_int_t)dp->sets_at_launch,
		      "uptime_ns", (json_int_t)(dp_now_ns() - dp->start_ns),
		      "snapshots", "worker_reads", (json_int_t)dp->snap_reads,
		      "retries", (json_int_t)dp->snap_retries);
out:
	free(wc);
	free(jcs);
	free(wrs);
	free(live);
	free(live_idx);
	free(tmp);
	*out = o;
	return o ? 0 : -ENOMEM;
}

int dpc_dp_info(struct dpc_dp *dp, json_t **out)
{
	json_t *ports = json_array(), *wl = json_array(), *o;
	unsigned i;

	for (i = 0; i < dp->n_ports; i++)
		json_array_append_new(ports, json_pack("{s:i, s:s, s:s, s:s, s:i, s:b, s:s}",
			"index", i, "name", dp->ports[i].name, "device", dp->cfg.ports[i].device,
			"driver", dp->ports[i].driver, "rx_queues", dp->ports[i].n_queues,
			"rss", dp->ports[i].rss_on,
			"timestamps", dp->ports[i].ts_desc));
	for (i = 0; i < dp->n_workers; i++)
		json_array_append_new(wl, json_pack("{s:i, s:i, s:i}", "lcore",
			dp->workers[i]->lcore, "port", dp->workers[i]->port_idx,
			"queue", dp->workers[i]->queue));
	o = json_pack("{s:s, s:s, s:o, s:{s:i, s:o}, s:i, s:s, s:I, s:O*}",
		      "version", DPCAP_VERSION, "dpdk", rte_version(),
		      "ports", ports, "lcores", "main", (int)rte_get_main_lcore(),
		      "workers", wl, "writers", dp->n_writers,
		      "capture_root", dp->cfg.capture_root,
		      "pid", (json_int_t)getpid(), "config", dp->config_json);
	*out = o;
	return o ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------- validate */

int dpc_dp_validate(struct dpc_dp *dp, const struct dpc_job_spec *spec,
		    dpc_dp_validate_cb cb, void *arg, uint64_t *vid,
		    char *err, size_t errlen)
{
	struct dp_job *job;
	unsigned w;
	int rc;

	job = job_new(dp, spec, true, &rc, err, errlen);
	if (!job)
		return rc;
	job->id = ++dp->next_id;
	job->vcb = cb;
	job->varg = arg;
	job->v_t0_ns = dp_now_ns();
	job->v_deadline_ns = job->v_t0_ns + (uint64_t)dp->cfg.validate_ms * 1000000ull;
	for (w = 0; w < dp->n_workers; w++)
		if (job->port_mask & (1u << dp->workers[w]->port_idx))
			job->v_rx0 += worker_rx(dp, dp->workers[w]);
	dp->jobs[dp->n_jobs++] = job;
	publish(dp);
	if (vid)
		*vid = job->id;
	return 0;
}

int dpc_dp_validate_cancel(struct dpc_dp *dp, uint64_t vid)
{
	unsigned i;

	for (i = 0; i < dp->n_jobs; i++) {
		struct dp_job *job = dp->jobs[i];

		if (job->id == vid && job->hidden) {
			if (job->phase == DP_PHASE_DONE || job->v_cancelled)
				return -ENOENT;
			job->v_cancelled = true;
			return 0;
		}
	}
	return -ENOENT;
}

void dpc_dp_set_event_cb(struct dpc_dp *dp, dpc_dp_event_cb fn, void *arg)
{
	dp->ev_fn = fn;
	dp->ev_arg = arg;
}

/* --------------------------------------------------------- create/destroy */

static int setup_workers(struct dpc_dp *dp, char *err, size_t errlen)
{
	unsigned lcores[DPC_DP_WORKERS_MAX], n_lc = 0, nq = 0, p, q, i, lc;

	for (p = 0; p < dp->n_ports; p++)
		nq += dp->ports[p].n_queues;
	if (dp->cfg.n_worker_lcores) {
		for (i = 0; i < dp->cfg.n_worker_lcores; i++) {
			lc = dp->cfg.worker_lcores[i];
			if (lc >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lc) ||
			    lc == rte_get_main_lcore()) {
				set_err(err, errlen,
					"worker_lcores[%u]: %u is not an EAL worker lcore (see -l / --lcores)",
					i, lc);
				return -EINVAL;
			}
			lcores[n_lc++] = lc;
		}
	} else {
		RTE_LCORE_FOREACH_WORKER(lc) {
			if (n_lc < DPC_DP_WORKERS_MAX)
				lcores[n_lc++] = lc;
		}
	}
	if (nq > n_lc || nq > DPC_DP_WORKERS_MAX) {
		set_err(err, errlen,
			"worker_lcores: %u rx queues need %u worker lcores, %u available (EAL -l/--lcores, main lcore excluded)",
			nq, nq, n_lc);
		return -EINVAL;
	}
	i = 0;
	for (p = 0; p < dp->n_ports; p++)
		for (q = 0; q < dp->ports[p].n_queues; q++, i++) {
			struct dp_worker *w = rte_zmalloc("dpc_worker", sizeof(*w),
							  RTE_CACHE_LINE_SIZE);
			unsigned k;

			if (!w) {
				set_err(err, errlen, "out of memory for workers");
				return -ENOMEM;
			}
			w->id = i;
			w->lcore = lcores[i];
			w->port_idx = (uint16_t)p;
			w->port_id = dp->ports[p].port_id;
			w->queue = (uint16_t)q;
			w->dp = dp;
			w->hwts = dp->ports[p].hwts;
#ifdef DPC_SCREEN_X8
			w->screen_x8 = dp->cfg.screen_simd && dpc_screen_x8_usable();
#endif
			if (i == 0)
				DP_LOG(INFO, "screen: %s", w->screen_x8 ?
				       "eight frames at a time (AVX-512)" :
				       dp->cfg.screen_simd ? "one frame at a time (no AVX-512 on this CPU)" :
				       "one frame at a time (screen_simd: false)");
			w->hwts_epoch_ns = dp->ports[p].hwts_epoch_ns;
			w->hw_base = dp->ports[p].hw_base;
			w->hw_base_ns = dp->ports[p].hw_base_ns;
			w->hw_mult = dp->ports[p].hw_mult;
			for (k = 0; k < dp->n_writers; k++) {
				char name[RTE_RING_NAMESIZE];

				snprintf(name, sizeof(name), "dpc_w%u_%u", i, k);
				w->rings[k] = rte_ring_create(name, dp->cfg.ring_size,
							      (int)rte_socket_id(),
							      RING_F_SP_ENQ | RING_F_SC_DEQ);
				if (!w->rings[k]) {
					set_err(err, errlen, "ring_size: cannot create ring of %u: %s",
						dp->cfg.ring_size, rte_strerror(rte_errno));
					rte_free(w);
					return -ENOMEM;
				}
			}
			dp->workers[dp->n_workers++] = w;
		}
	return 0;
}

/*
 * The staging-block pool is a LIFO (DPDK's lock-free stack mempool,
 * "lf_stack"), not the default FIFO ring: the block a writer has just
 * returned is the next one a worker takes, still in the last-level cache
 * (or even the worker's own), instead of the one returned longest ago,
 * which on a pool of hundreds of 256 KiB blocks (64 MiB and more) is cold
 * in DRAM: every line of every record would then be a memory miss in the
 * poll loop. Falls back to the default ring when the stack driver is not
 * there (a DPDK built without it).
 */
static struct rte_mempool *block_pool_create(unsigned n, unsigned elt, unsigned cache,
					     int sock)
{
	struct rte_mempool *mp;

	mp = rte_mempool_create_empty("dpc_blocks", n, elt, cache, 0, sock, 0);
	if (!mp)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, "lf_stack", NULL) != 0) {
		RTE_LOG(NOTICE, USER1, "dpcapd: no lf_stack mempool driver; staging "
			"blocks are recycled in FIFO order\n");
		if (rte_mempool_set_ops_byname(mp, "ring_mp_mc", NULL) != 0) {
			rte_mempool_free(mp);
			return NULL;
		}
	}
	if (rte_mempool_populate_default(mp) < 0) {
		int e = rte_errno;

		rte_mempool_free(mp);
		rte_errno = e;
		return NULL;
	}
	return mp;
}

/* libpcap's program for the calibrate_bpf filter expr, for Ethernet as
 * tcpdump compiles it; on failure err says "\"expr\": reason". */
static int cal_bpf_compile(const char *expr, struct bpf_program *prog, char *err,
			   size_t errlen)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	int rc = 0;

	if (!p) {
		set_err(err, errlen, "\"%s\": out of memory", expr);
		return -ENOMEM;
	}
	if (pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		set_err(err, errlen, "\"%s\": %s", expr, pcap_geterr(p));
		rc = -EINVAL;
	}
	pcap_close(p);
	return rc;
}

int dpc_dp_calibrate_bpf_check(const char *expr, char *err, size_t errlen)
{
	struct bpf_program prog;
	int rc = cal_bpf_compile(expr, &prog, err, errlen);

	if (rc == 0)
		pcap_freecode(&prog);
	return rc;
}

/*
 * calibrate_bpf: compile the peer slot's filter with libpcap and
 * JIT-compile it with rte_bpf; no JIT is an error, not a silent fall back
 * to an interpreter the slot does not stand for.
 */
static int cal_bpf_load(struct dpc_dp *dp, char *err, size_t errlen)
{
	const char *expr = dp->cfg.calibrate_bpf;
	char why[256];
	int rc;

	if (!expr)
		return 0;
	if (!dp->cfg.calibrate_ms) {
		set_err(err, errlen, "calibrate_bpf: needs calibrate_ms (the peer is a calibrate slot)");
		return -EINVAL;
	}
	dp->cal_prog = calloc(1, sizeof(*dp->cal_prog));
	if (!dp->cal_prog) {
		set_err(err, errlen, "calibrate_bpf: out of memory");
		return -ENOMEM;
	}
	rc = cal_bpf_compile(expr, dp->cal_prog, why, sizeof(why));
	if (rc) {
		set_err(err, errlen, "calibrate_bpf: %s", why);
		free(dp->cal_prog);
		dp->cal_prog = NULL;
		return rc;
	}
	dp->cal_bpf = dp_bpf_load(dp->cal_prog->bf_insns, dp->cal_prog->bf_len, true);
	if (!dp->cal_bpf) {
		set_err(err, errlen, "calibrate_bpf: \"%s\": rte_bpf cannot JIT-compile it (%s)",
			expr, strerror(errno));
		return -ENOTSUP;
	}
	DP_LOG(INFO, "calibrate: peer slots run \"%s\" (libpcap, rte_bpf JIT) on every packet",
	       expr);
	return 0;
}

struct dpc_dp *dpc_dp_create(const struct dpc_dp_config *cfg, char *err,
			     size_t errlen)
{
	struct dpc_dp *dp;
	size_t sz;
	unsigned i, cache;
	int rc, sock = (int)rte_socket_id();

	dp = calloc(1, sizeof(*dp));
	if (!dp) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	dp->cfg = *cfg;
	dp->start_ns = dp_now_ns();
	pthread_mutex_init(&dp->tel_lock, NULL);
	if (cfg->config_json)
		dp->config_json = json_deep_copy(cfg->config_json);
	dpc_parse_opts_init(&dp->popts);
	dp->popts.n_vxlan_ports = 0;
	for (i = 0; i < cfg->n_vxlan_ports; i++)
		dpc_parse_opts_add_vxlan_port(&dp->popts, cfg->vxlan_ports[i]);
	dp->tsc_hz = rte_get_tsc_hz();
	dp->flush_tsc = dp->tsc_hz / 1000 * cfg->flush_ms;
	dp->n_writers = cfg->writers;
	dp->ts_off = -1;

	rc = mkdir_p(cfg->capture_root);
	if (rc) {
		set_err(err, errlen, "capture_root: cannot create \"%s\": %s",
			cfg->capture_root, strerror(-rc));
		goto fail;
	}
	recover_all(dp);

	dp->mbuf_pool = rte_pktmbuf_pool_create("dpc_mbufs", cfg->mbufs, cfg->mbuf_cache,
						0, (uint16_t)cfg->mbuf_data_room, sock);
	if (!dp->mbuf_pool) {
		rc = -rte_errno;
		set_err(err, errlen, "mbufs: cannot create a pool of %u mbufs of %u bytes: %s (raise -m)",
			cfg->mbufs, cfg->mbuf_data_room, rte_strerror(rte_errno));
		goto fail;
	}
	for (i = 0; i < cfg->n_ports; i++) {
		rc = port_open(dp, i, err, errlen);
		if (rc)
			goto fail;
		dp->n_ports++;
	}
	rc = cal_bpf_load(dp, err, errlen);
	if (rc)
		goto fail;
	rc = setup_workers(dp, err, errlen);
	if (rc)
		goto fail;
	if (!dp->cfg.blocks) {
		/* auto: every (worker, job) pair of a full house gets its two
		 * blocks; never fewer than 256 (64 MiB of 256 KiB blocks) so one
		 * fast job still has room to ride out a slow disk */
		dp->cfg.blocks = blocks_needed(dp, dp->cfg.max_jobs);
		if (dp->cfg.blocks < 256)
			dp->cfg.blocks = 256;
	}
	cache = dp->cfg.blocks >= 64 * dp->n_workers ? 8 : 0;
	dp->block_pool = block_pool_create(dp->cfg.blocks,
					   sizeof(struct dp_block) + cfg->block_size,
					   cache, sock);
	if (!dp->block_pool) {
		rc = -rte_errno;
		set_err(err, errlen, "blocks: cannot create %u blocks of %u bytes: %s (raise -m)",
			dp->cfg.blocks, cfg->block_size, rte_strerror(rte_errno));
		goto fail;
	}
	sz = rte_rcu_qsbr_get_memsize(dp->n_workers ? dp->n_workers : 1);
	dp->qs = rte_zmalloc("dpc_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (!dp->qs || rte_rcu_qsbr_init(dp->qs, dp->n_workers ? dp->n_workers : 1)) {
		rc = -ENOMEM;
		set_err(err, errlen, "rcu: cannot allocate");
		goto fail;
	}
	for (i = 0; i < dp->n_workers; i++)
		rte_rcu_qsbr_thread_register(dp->qs, i);
	for (i = 0; i < dp->n_writers; i++) {
		struct dp_writer *wr = &dp->writers[i];
		char name[RTE_RING_NAMESIZE];

		wr->id = i;
		wr->dp = dp;
		snprintf(name, sizeof(name), "dpc_wctl%u", i);
		wr->ctl = rte_ring_create(name, 4096, sock, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!wr->ctl) {
			rc = -ENOMEM;
			set_err(err, errlen, "writers: cannot create control ring");
			goto fail;
		}
		snprintf(name, sizeof(name), "dpc-writer%u", i);
		rc = rte_ctrl_thread_create(&wr->thread, name, NULL, dp_writer_main, wr);
		if (rc) {
			set_err(err, errlen, "writers: cannot start thread: %s", strerror(rc));
			rc = -rc;
			goto fail;
		}
		wr->started = true;
	}
	dp_telemetry_register(dp);
	return dp;
fail:
	dpc_dp_destroy(dp);
	errno = rc < 0 ? -rc : EINVAL;
	return NULL;
}

int dpc_dp_start(struct dpc_dp *dp, char *err, size_t errlen)
{
	unsigned i;
	int rc;

	if (dp->workers_launched)
		return 0;
	if (dp->need_publish)
		publish(dp);
	dp->sets_at_launch = dp->sets_published;
	for (i = 0; i < dp->n_workers; i++) {
		rc = rte_eal_remote_launch(dp_worker_main, dp->workers[i],
					   dp->workers[i]->lcore);
		if (rc) {
			set_err(err, errlen, "worker_lcores: cannot launch on lcore %u: %s",
				dp->workers[i]->lcore, strerror(-rc));
			return rc;
		}
		dp->workers[i]->launched = true;
		DP_LOG(INFO, "worker %u on lcore %u polls port %s queue %u", i,
		       dp->workers[i]->lcore, dp->ports[dp->workers[i]->port_idx].name,
		       dp->workers[i]->queue);
	}
	dp->workers_launched = true;
	return 0;
}

void dpc_dp_stop_workers(struct dpc_dp *dp)
{
	unsigned i;

	atomic_store_explicit(&dp->stop_workers, 1, memory_order_release);
	for (i = 0; i < dp->n_workers; i++)
		if (dp->workers[i]->launched) {
			rte_eal_wait_lcore(dp->workers[i]->lcore);
			dp->workers[i]->launched = false;
		}
}

int dpc_dp_destroy(struct dpc_dp *dp)
{
	unsigned i, k;
	uint64_t t0;
	int rc = 0;

	if (!dp)
		return 0;
	dpc_dp_job_stop_all(dp, DPC_JOB_REASON_SHUTDOWN);
	t0 = dp_now_ns();
	while (dp->qs && dpc_dp_service(dp) > 0 && dp_now_ns() - t0 < 60000000000ull) {
		struct timespec sl = { 0, 1000000 };

		nanosleep(&sl, NULL);
	}
	dp_telemetry_register(NULL);
	dpc_dp_stop_workers(dp);
	atomic_store_explicit(&dp->stop_writers, 1, memory_order_release);
	for (i = 0; i < dp->n_writers; i++)
		if (dp->writers[i].started)
			pthread_join(dp->writers[i].thread, NULL);
	for (i = 0; i < dp->n_jobs; i++) {
		struct dp_job *job = dp->jobs[i];

		if (job->pf) {
			int r = dpc_pcapfile_close(job->pf, &job->wr.pst);

			if (r && !rc)
				rc = r;
		}
		if (job->close_rc && !rc)
			rc = job->close_rc;
		job_release(job);
		free(job);
	}
	free(dp->jobs);
	for (i = 0; i < dp->n_ports; i++)
		if (dp->ports[i].started) {
			rte_eth_dev_stop(dp->ports[i].port_id);
			rte_eth_dev_close(dp->ports[i].port_id);
		}
	for (i = 0; i < dp->n_workers; i++) {
		for (k = 0; k < dp->n_writers; k++)
			if (dp->workers[i]->rings[k])
				rte_ring_free(dp->workers[i]->rings[k]);
		rte_free(dp->workers[i]);
	}
	for (i = 0; i < dp->n_writers; i++)
		if (dp->writers[i].ctl)
			rte_ring_free(dp->writers[i].ctl);
	for (i = 0; i < dp->n_retired_sets; i++) {
		dpc_classifier_free(dp->retired_sets[i]->cls);
		free(dp->retired_sets[i]);
	}
	{
		struct dp_jobset *s = (struct dp_jobset *)(uintptr_t)atomic_load(&dp->set);

		if (s) {
			dpc_classifier_free(s->cls);
			free(s);
		}
	}
	rte_mempool_free(dp->block_pool);
	rte_mempool_free(dp->mbuf_pool);
	rte_free(dp->qs);
	dp_bpf_free(dp->cal_bpf);
	if (dp->cal_prog) {
		pcap_freecode(dp->cal_prog);
		free(dp->cal_prog);
	}
	json_decref(dp->config_json);
	free(dp->tel_stats);
	free(dp->tel_jobs);
	pthread_mutex_destroy(&dp->tel_lock);
	free(dp);
	return rc;
}
