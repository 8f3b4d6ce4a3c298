/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bare_rx - the datapath ceiling: the least any consumer of a port can do.
 *
 *   bare_rx [EAL args] -- [--seconds S] [--windows W] [--mbufs N] [--data-room B]
 *                         [--queues Q] [--pdump] [--start-delay S] [--hold]
 *
 * Configures port 0 with Q rx queues (one worker lcore per queue, the
 * worker lcores being the EAL lcores after the main one; with a single
 * lcore the main lcore polls queue 0), then for S seconds per worker:
 * rte_eth_rx_burst(32), add up packets and bytes, free the burst. Nothing
 * else; repeated for W back-to-back windows (--windows; the harness
 * discards the first as warm-up). Prints one JSON line per window
 *   {"window":k,"pkts":N,"bytes":N,"seconds":S,"mpps":X,"per_queue":[...]}
 * then {"imissed":N,"rx_nombuf":N}.
 * --data-room is the mempool's data room incl. headroom (1792: two mbufs
 * per 4 KiB page under --no-huge). --mbufs sizes the mempool: net_pcap's infinite_rx keeps the whole pcap in
 * mbufs, so it must exceed the file's packet count (queue setup otherwise
 * fails with "Invalid argument").
 * --pdump calls rte_pdump_init() so dpdk-dumpcap can attach (needs real
 * hugepages); --start-delay S waits S seconds after the port starts before
 * the measured window opens, so the harness can attach dumpcap first.
 * --hold: after the last line, keep the port and EAL up (no more polling)
 * until stdin reaches EOF, so an attached dpdk-dumpcap can be stopped
 * first: it reports its received/dropped counts only while the primary
 * is alive.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>

#define BURST 32
#define MAX_Q 8

#define MAX_WIN 32

struct worker {
	uint16_t queue;
	uint64_t pkts[MAX_WIN];
	uint64_t bytes[MAX_WIN];
	double seconds[MAX_WIN];
} __rte_cache_aligned;

static struct worker workers[MAX_Q];
static double run_seconds = 2.0;
static unsigned n_windows = 1;
static double start_delay;
static volatile int start_flag;

/* Poll one queue for n_windows back-to-back windows of run_seconds each. */
static int rx_loop(void *arg)
{
	struct worker *w = arg;
	struct rte_mbuf *b[BURST];
	uint64_t hz = rte_get_tsc_hz();
	uint64_t len = (uint64_t)(run_seconds * (double)hz);

	while (!start_flag)
		rte_pause();
	for (unsigned k = 0; k < n_windows; k++) {
		uint64_t pkts = 0, bytes = 0, t0 = rte_rdtsc(), end = t0 + len;
		unsigned iter = 0;

		for (;;) {
			uint16_t n = rte_eth_rx_burst(0, w->queue, b, BURST);

			for (uint16_t i = 0; i < n; i++)
				bytes += b[i]->pkt_len;
			pkts += n;
			if (n)
				rte_pktmbuf_free_bulk(b, n);
			if ((++iter & 63) == 0 && rte_rdtsc() >= end)
				break;
		}
		w->pkts[k] = pkts;
		w->bytes[k] = bytes;
		w->seconds[k] = (double)(rte_rdtsc() - t0) / (double)hz;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct rte_eth_conf conf;
	struct rte_mempool *mp;
	struct rte_eth_stats st;
	unsigned mbufs = 1100000, data_room = 1792, queues = 1;
	int pdump = 0, hold = 0, ret;
	uint16_t port = 0;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "bare_rx: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pdump")) {
			pdump = 1;
			continue;
		}
		if (!strcmp(argv[i], "--hold")) {
			hold = 1;
			continue;
		}
		if (i + 1 >= argc)
			goto usage;
		if (!strcmp(argv[i], "--seconds"))
			run_seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--windows"))
			n_windows = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--start-delay"))
			start_delay = atof(argv[++i]);
		else if (!strcmp(argv[i], "--mbufs"))
			mbufs = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--data-room"))
			data_room = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--queues"))
			queues = (unsigned)strtoul(argv[++i], NULL, 0);
		else
			goto usage;
	}
	if (queues < 1 || queues > MAX_Q || run_seconds <= 0 || n_windows < 1 ||
	    n_windows > MAX_WIN)
		goto usage;
	if (rte_eth_dev_count_avail() < 1) {
		fprintf(stderr, "bare_rx: no port (give a --vdev)\n");
		return 1;
	}
	if (pdump && rte_pdump_init() < 0) {
		fprintf(stderr, "bare_rx: rte_pdump_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	mp = rte_pktmbuf_pool_create("bare_rx", mbufs, 256, 0,
				     (uint16_t)data_room,
				     (int)rte_socket_id());
	if (!mp) {
		fprintf(stderr, "bare_rx: mempool of %u mbufs: %s\n", mbufs,
			rte_strerror(rte_errno));
		return 1;
	}
	memset(&conf, 0, sizeof(conf));
	/* pdump enables rx and tx callbacks: it needs a tx queue to hook. */
	ret = rte_eth_dev_configure(port, (uint16_t)queues, pdump ? 1 : 0, &conf);
	if (ret < 0) {
		fprintf(stderr, "bare_rx: configure: %s\n", rte_strerror(-ret));
		return 1;
	}
	for (unsigned q = 0; q < queues; q++) {
		ret = rte_eth_rx_queue_setup(port, (uint16_t)q, 1024,
					     rte_eth_dev_socket_id(port), NULL, mp);
		if (ret < 0) {
			fprintf(stderr, "bare_rx: rx queue %u setup: %s (mempool too small for infinite_rx?)\n",
				q, rte_strerror(-ret));
			return 1;
		}
	}
	if (pdump) {
		ret = rte_eth_tx_queue_setup(port, 0, 512, rte_eth_dev_socket_id(port), NULL);
		if (ret < 0) {
			fprintf(stderr, "bare_rx: tx queue setup: %s\n", rte_strerror(-ret));
			return 1;
		}
	}
	ret = rte_eth_dev_start(port);
	if (ret < 0) {
		fprintf(stderr, "bare_rx: start: %s\n", rte_strerror(-ret));
		return 1;
	}
	rte_eth_stats_reset(port);

	/* Queue q is polled by the q-th worker lcore, or by main when alone. */
	unsigned lc = rte_get_next_lcore(-1, 1, 0), used = 0;
	for (unsigned q = 0; q < queues; q++)
		workers[q].queue = (uint16_t)q;
	for (unsigned q = 0; q < queues && lc < RTE_MAX_LCORE; q++) {
		rte_eal_remote_launch(rx_loop, &workers[q], lc);
		used++;
		lc = rte_get_next_lcore(lc, 1, 0);
	}
	/* The harness waits for this line before attaching dpdk-dumpcap. */
	printf("{\"ready\":true}\n");
	fflush(stdout);
	if (start_delay > 0)
		usleep((useconds_t)(start_delay * 1e6));
	start_flag = 1;
	if (used < queues) {
		if (queues - used > 1) {
			fprintf(stderr, "bare_rx: %u queues need %u worker lcores\n",
				queues, queues);
			return 1;
		}
		rx_loop(&workers[used]);
	}
	rte_eal_mp_wait_lcore();
	rte_eth_stats_get(port, &st);

	for (unsigned k = 0; k < n_windows; k++) {
		uint64_t pkts = 0, bytes = 0;
		double secs = 0;

		for (unsigned q = 0; q < queues; q++) {
			pkts += workers[q].pkts[k];
			bytes += workers[q].bytes[k];
			if (workers[q].seconds[k] > secs)
				secs = workers[q].seconds[k];
		}
		printf("{\"window\":%u,\"pkts\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"seconds\":%.6f,\"mpps\":%.4f,\"per_queue\":[",
		       k, pkts, bytes, secs, secs > 0 ? (double)pkts / secs / 1e6 : 0.0);
		for (unsigned q = 0; q < queues; q++)
			printf("%s%" PRIu64, q ? "," : "", workers[q].pkts[k]);
		printf("]}\n");
	}
	printf("{\"imissed\":%" PRIu64 ",\"rx_nombuf\":%" PRIu64 "}\n",
	       st.imissed, st.rx_nombuf);
	fflush(stdout);
	if (hold) {
		char buf[256];

		while (fread(buf, 1, sizeof(buf), stdin) > 0)
			;
	}
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	return 0;
usage:
	fprintf(stderr, "usage: bare_rx [EAL] -- [--seconds S] [--mbufs N] "
			"[--data-room B] [--queues Q] [--windows W] [--pdump] [--start-delay S] [--hold]\n");
	return 2;
}
