/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_telemetry.c - /dpcap/stats and /dpcap/jobs for dpdk-telemetry.py.
 *
 * Telemetry callbacks run on DPDK's telemetry thread, so they never touch
 * the datapath: the control thread refreshes a flat snapshot (under a
 * mutex, from dpc_dp_service: twice a second, and at once when a callback
 * asks for a fresh one) and the callbacks copy it. A callback asks, then
 * waits up to TEL_WAIT_MS for the next refresh (the control loop runs
 * dpc_dp_service at least every 50 ms), so what it serves is at most that
 * old; if none comes (shutdown) it serves the last one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dp_internal.h"

#define TEL_MAX 96
#define TEL_WAIT_MS 200

struct tel_kv {
	char k[RTE_TEL_MAX_STRING_LEN < 64 ? RTE_TEL_MAX_STRING_LEN : 64];
	uint64_t v;
};
struct tel_job {
	char k[24];
	char v[RTE_TEL_MAX_STRING_LEN < 128 ? RTE_TEL_MAX_STRING_LEN : 128];
};

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tel_kv tel_stats[TEL_MAX];
static unsigned n_tel_stats;
static struct tel_job tel_jobs[TEL_MAX];
static unsigned n_tel_jobs;
static bool tel_live, tel_registered;
static pthread_cond_t tel_cond = PTHREAD_COND_INITIALIZER;
static uint64_t tel_gen;                /* refreshes so far */
static atomic_bool tel_want;            /* a callback waits for a refresh */

bool dp_telemetry_wanted(void)
{
	return atomic_load_explicit(&tel_want, memory_order_relaxed);
}

/* Ask for a refresh and wait for it (bounded); tel_lock held. */
static void wait_fresh(void)
{
	uint64_t g = tel_gen;
	struct timespec dl;

	if (!tel_live)
		return;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += TEL_WAIT_MS * 1000000L;
	dl.tv_sec += dl.tv_nsec / 1000000000L;
	dl.tv_nsec %= 1000000000L;
	atomic_store_explicit(&tel_want, true, memory_order_relaxed);
	while (tel_live && tel_gen == g)
		if (pthread_cond_timedwait(&tel_cond, &tel_lock, &dl) == ETIMEDOUT)
			break;
}

static void put(const char *k, uint64_t v)
{
	if (n_tel_stats >= TEL_MAX)
		return;
	snprintf(tel_stats[n_tel_stats].k, sizeof(tel_stats[0].k), "%s", k);
	tel_stats[n_tel_stats++].v = v;
}

void dp_telemetry_refresh(struct dpc_dp *dp)
{
	json_t *st = NULL, *v;
	struct timespec now;
	size_t i;
	const char *key;

	if (dpc_dp_stats(dp, &st) != 0)
		return;
	/* when the counters were read: a client computes rates from these,
	 * not from when its reply arrived */
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&tel_lock);
	n_tel_stats = 0;
	n_tel_jobs = 0;
	{
		uint64_t rx = 0, unwanted = 0, matched = 0, written = 0, calib = 0;
		/* calibrate's own sums, then (from CAL_PEER on) its peer's,
		 * published as cal_peer_* */
		enum { CAL_PEER = 4 };
		uint64_t cal[7] = { 0 };
		static const char *const cal_k[7] = {
			"loop_pkts", "loop_cycles", "bare_pkts", "bare_cycles",
			"pkts", "cycles", "matched"
		};
		json_t *w, *j, *cw;
		unsigned k;

		json_array_foreach(json_object_get(st, "workers"), i, w) {
			rx += (uint64_t)json_integer_value(json_object_get(w, "rx"));
			unwanted += (uint64_t)json_integer_value(json_object_get(w, "unwanted"));
			matched += (uint64_t)json_integer_value(json_object_get(w, "matched"));
			calib += (uint64_t)json_integer_value(json_object_get(w, "calibration"));
			cw = json_object_get(w, "calibrate");
			for (k = 0; cw && k < RTE_DIM(cal); k++)
				cal[k] += (uint64_t)json_integer_value(json_object_get(
					k < CAL_PEER ? cw : json_object_get(cw, "peer"), cal_k[k]));
		}
		json_array_foreach(json_object_get(st, "jobs"), i, j) {
			json_t *c = json_object_get(j, "counters");

			written += (uint64_t)json_integer_value(json_object_get(c, "written"));
			if (n_tel_jobs < TEL_MAX) {
				struct tel_job *t = &tel_jobs[n_tel_jobs++];

				snprintf(t->k, sizeof(t->k), "%" JSON_INTEGER_FORMAT,
					 json_integer_value(json_object_get(j, "id")));
				snprintf(t->v, sizeof(t->v),
					 "%s %s%s%s matched=%" JSON_INTEGER_FORMAT
					 " written=%" JSON_INTEGER_FORMAT
					 " dropped=%" JSON_INTEGER_FORMAT,
					 json_string_value(json_object_get(j, "name")),
					 json_string_value(json_object_get(j, "state")),
					 *json_string_value(json_object_get(j, "reason")) ? ": " : "",
					 json_string_value(json_object_get(j, "reason")),
					 json_integer_value(json_object_get(c, "matched")),
					 json_integer_value(json_object_get(c, "written")),
					 json_integer_value(json_object_get(c, "dropped_total")));
			}
		}
		put("snapshot_mono_ns", (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec);
		put("rx", rx);
		put("unwanted", unwanted);
		put("matched", matched);
		put("written", written);
		put("balanced", json_is_true(json_object_get(st, "balanced")));
		if (dp->cfg.calibrate_ms) {
			char name[32];

			put("calibration", calib);
			for (k = 0; k < RTE_DIM(cal); k++) {
				if (k >= CAL_PEER && !dp->cal_bpf)
					break;
				snprintf(name, sizeof(name), k < CAL_PEER ? "cal_%s" : "cal_peer_%s",
					 cal_k[k]);
				put(name, cal[k]);
			}
		}
		put("disk_free_bytes", (uint64_t)json_integer_value(
			json_object_get(json_object_get(st, "disk"), "free_bytes")));
	}
	json_object_foreach(json_object_get(st, "drops"), key, v) {
		char k[64];

		snprintf(k, sizeof(k), "drop_%s", key);
		put(k, (uint64_t)json_integer_value(v));
	}
	json_array_foreach(json_object_get(st, "ports"), i, v) {
		static const char *const f[] = { "ipackets", "imissed", "ierrors", "rx_nombuf" };
		unsigned k;

		for (k = 0; k < RTE_DIM(f); k++) {
			char name[64];

			snprintf(name, sizeof(name), "port%zu_%s", i, f[k]);
			put(name, (uint64_t)json_integer_value(json_object_get(v, f[k])));
		}
	}
	tel_gen++;
	atomic_store_explicit(&tel_want, false, memory_order_relaxed);
	pthread_cond_broadcast(&tel_cond);
	pthread_mutex_unlock(&tel_lock);
	json_decref(st);
}

static int tel_stats_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned i;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	wait_fresh();
	for (i = 0; tel_live && i < n_tel_stats; i++)
		rte_tel_data_add_dict_u64(d, tel_stats[i].k, tel_stats[i].v);
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

static int tel_jobs_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned i;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	wait_fresh();
	for (i = 0; tel_live && i < n_tel_jobs; i++)
		rte_tel_data_add_dict_string(d, tel_jobs[i].k, tel_jobs[i].v);
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

void dp_telemetry_register(struct dpc_dp *dp)
{
	pthread_mutex_lock(&tel_lock);
	tel_live = dp != NULL;
	n_tel_stats = n_tel_jobs = 0;
	pthread_cond_broadcast(&tel_cond);
	pthread_mutex_unlock(&tel_lock);
	if (dp && !tel_registered) {
		rte_telemetry_register_cmd("/dpcap/stats", tel_stats_cb,
			"dpcapd totals: rx, unwanted, matched, written, drops by reason, port loss");
		rte_telemetry_register_cmd("/dpcap/jobs", tel_jobs_cb,
			"dpcapd jobs: id -> name, state, counters");
		tel_registered = true;
	}
	if (dp)
		dp_telemetry_refresh(dp);
}
